"""Benchmark: Texygen-protocol BLEU and Self-BLEU, seqadv vs nltk vs fast-bleu, in one run.

The workload of BENCHMARKS.md: 1,000 hypotheses against 10,000 references, ~20 tokens each
(uniform 15..25), words drawn from a Zipfian distribution (p(k) ~ 1/k) over 5,000 words, fixed
seed. Timed, each with the values it produced compared:

1. BLEU-2..5 of the hypotheses against all references. seqadv's time *includes* building the
   reference statistics; fast-bleu's includes building its reference object. nltk
   (``sentence_bleu`` per hypothesis and per n, the Texygen protocol) is run on a subset of
   the hypotheses and its time **extrapolated** linearly to all of them (it is linear in the
   number of hypotheses: every hypothesis is scored independently against all references).
2. Self-BLEU-4 of the 1,000 hypotheses (nltk again on a subset, extrapolated).
3. Self-BLEU-2..5 of 10,000 sentences (the reference set), nltk extrapolated from a few.
4. ``python -m seqadv.bleu_command`` end to end on the same data written to text files
   (process start-up, reading, nltk tokenization and scoring included).

Usage::

    python experiments/benchmarks/bleu.py [--hyps 1000] [--refs 10000] [--seed 0]

seqadv's BLEU is single-threaded numpy (no BLAS); the CPU/wall column shows how many cores
each implementation kept busy.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from seqadv.metrics.bleu import ReferenceStats, self_bleu_many
from seqadv.runs import cpu_model

ORDERS = (2, 3, 4, 5)


def version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def zipf_corpus(rng: np.random.Generator, m: int, vocab: int, lo: int, hi: int) -> list[list[str]]:
    """``m`` sentences of ``lo..hi`` tokens, words ``w<k>`` with p(k) proportional to 1/k."""
    p = 1.0 / np.arange(1, vocab + 1)
    p /= p.sum()
    lengths = rng.integers(lo, hi + 1, size=m)
    ids = rng.choice(vocab, size=int(lengths.sum()), p=p)
    words = np.array([f"w{k}" for k in range(vocab)], dtype=object)[ids].tolist()
    out, start = [], 0
    for length in lengths.tolist():
        out.append(words[start : start + length])
        start += length
    return out


def timed(fn: Callable[[], Any], repeats: int = 1) -> tuple[float, float, Any]:
    """Median wall seconds, CPU seconds of that run, and the last result."""
    runs = []
    result = None
    for _ in range(repeats):
        wall0, cpu0 = time.perf_counter(), time.process_time()
        result = fn()
        runs.append((time.perf_counter() - wall0, time.process_time() - cpu0))
    runs.sort()
    wall, cpu = runs[len(runs) // 2]
    return wall, cpu, result


def nltk_sentence(refs: list, hyp: list, n: int) -> float:
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    weights = tuple(1.0 / n for _ in range(n))
    return sentence_bleu(refs, hyp, weights, smoothing_function=SmoothingFunction().method1)


def fmt_s(seconds: float | None, extrapolated: bool = False) -> str:
    if seconds is None:
        return "-"
    text = f"{seconds:,.3f} s" if seconds < 100 else f"{seconds:,.0f} s"
    return ("~" + text) if extrapolated else text


class Report:
    def __init__(self) -> None:
        self.rows: list[tuple[str, ...]] = []

    def add(self, *cells: str) -> None:
        self.rows.append(cells)

    def print(self, header: tuple[str, ...]) -> None:
        rows = [header, *self.rows]
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        for k, r in enumerate(rows):
            print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
            if k == 0:
                print("  ".join("-" * w for w in widths))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hyps", type=int, default=1000, help="hypotheses (default 1000)")
    parser.add_argument("--refs", type=int, default=10000, help="references (default 10000)")
    parser.add_argument("--vocab", type=int, default=5000, help="Zipfian vocabulary size")
    parser.add_argument("--min-len", type=int, default=15, help="shortest sentence")
    parser.add_argument("--max-len", type=int, default=25, help="longest sentence")
    parser.add_argument("--seed", type=int, default=0, help="data seed (default 0)")
    parser.add_argument("--repeats", type=int, default=3, help="median of this many runs")
    parser.add_argument(
        "--nltk-hyps", type=int, default=8, help="hypotheses nltk scores for BLEU-2..5"
    )
    parser.add_argument(
        "--nltk-self",
        type=int,
        default=20,
        help="sentences nltk scores for Self-BLEU-4 of the hyps",
    )
    parser.add_argument(
        "--nltk-self-large",
        type=int,
        default=2,
        help="sentences nltk scores for Self-BLEU-2..5 of the large set",
    )
    parser.add_argument(
        "--no-fast-bleu-self-large",
        action="store_true",
        help="skip fast-bleu's Self-BLEU of the large set (about 15 s)",
    )
    parser.add_argument("--no-cli", action="store_true", help="skip the end-to-end CLI run")
    args = parser.parse_args(argv)

    print("# BLEU benchmark (Texygen protocol: mean nltk sentence_bleu, method1, uniform weights)")
    print(f"machine: {platform.platform()}; CPU: {cpu_model()}")
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    print(
        f"cores: {os.cpu_count()} (usable by this process: {affinity}); "
        f"python {sys.version.split()[0]}"
    )
    threads = {k: os.environ.get(k, "unset") for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    print(
        "threads: seqadv BLEU runs on 1 thread (numpy sort/search, no BLAS); "
        f"fast-bleu and nltk as shipped; env {threads}"
    )
    print(
        f"versions: seqadv {version('seqadv')}, numpy {np.__version__}, nltk {version('nltk')}, "
        f"fast-bleu {version('fast-bleu')}"
    )

    rng = np.random.default_rng(args.seed)
    refs = zipf_corpus(rng, args.refs, args.vocab, args.min_len, args.max_len)
    hyps = zipf_corpus(rng, args.hyps, args.vocab, args.min_len, args.max_len)
    mean_len = np.mean([len(s) for s in refs + hyps])
    print(
        f"data: {args.hyps} hypotheses, {args.refs} references, {mean_len:.1f} tokens on average, "
        f"Zipf(1) over {args.vocab} words, seed {args.seed}; medians of {args.repeats} runs\n"
    )

    try:
        import fast_bleu
    except ImportError:
        fast_bleu = None
        print("fast-bleu is not importable: its columns are empty\n")

    report = Report()
    summary: dict[str, Any] = {}

    # 1. BLEU-2..5 ------------------------------------------------------------------------
    def seqadv_bleu() -> dict:
        return ReferenceStats(refs, max_n=max(ORDERS)).bleu_many(hyps, ORDERS)

    t_seq, c_seq, ours = timed(seqadv_bleu, args.repeats)
    t_build, _, stats = timed(lambda: ReferenceStats(refs, max_n=max(ORDERS)), args.repeats)
    t_score, _, _ = timed(lambda: stats.bleu_many(hyps, ORDERS), args.repeats)
    k = min(args.nltk_hyps, args.hyps)
    t_nltk, _, nltk_scores = timed(
        lambda: {n: [nltk_sentence(refs, h, n) for h in hyps[:k]] for n in ORDERS}
    )
    t_nltk_all = t_nltk * args.hyps / k
    diff_nltk = max(
        float(np.max(np.abs(ours[n].sentence_scores[:k] - nltk_scores[n]))) for n in ORDERS
    )
    t_fb = c_fb = None
    diff_fb = diff_fb_nltk = None
    if fast_bleu is not None:
        weights = {n: tuple(1.0 / n for _ in range(n)) for n in ORDERS}
        t_fb, c_fb, fb = timed(lambda: fast_bleu.BLEU(refs, weights).get_score(hyps), args.repeats)
        diff_fb = max(abs(ours[n].score - float(np.mean(fb[n]))) for n in ORDERS)
        diff_fb_nltk = max(
            float(np.max(np.abs(np.array(fb[n][:k]) - nltk_scores[n]))) for n in ORDERS
        )
    report.add(
        f"BLEU-2..5, {args.hyps} x {args.refs}",
        fmt_s(t_seq),
        fmt_s(t_fb),
        fmt_s(t_nltk_all, extrapolated=True),
        f"{t_nltk_all / t_seq:,.0f}x",
        f"{t_fb / t_seq:.1f}x" if t_fb else "-",
        f"{c_seq / t_seq:.2f} / " + (f"{c_fb / t_fb:.2f}" if t_fb else "-"),
    )
    summary["bleu"] = {f"bleu{n}": ours[n].score for n in ORDERS}

    # 2. Self-BLEU-4 over the hypotheses --------------------------------------------------
    t_s4, c_s4, self4 = timed(lambda: self_bleu_many(hyps, (4,))[4], args.repeats)
    ks = min(args.nltk_self, args.hyps)
    t_nltk_s4, _, nltk_s4 = timed(
        lambda: [nltk_sentence(hyps[:j] + hyps[j + 1 :], hyps[j], 4) for j in range(ks)]
    )
    t_nltk_s4_all = t_nltk_s4 * args.hyps / ks
    diff_s4_nltk = float(np.max(np.abs(self4.sentence_scores[:ks] - nltk_s4)))
    t_fb_s4 = c_fb_s4 = diff_fb_s4 = None
    if fast_bleu is not None:
        t_fb_s4, c_fb_s4, fb_s4 = timed(
            lambda: fast_bleu.SelfBLEU(hyps, {4: (0.25,) * 4}).get_score()[4], args.repeats
        )
        diff_fb_s4 = abs(self4.score - float(np.mean(fb_s4)))
    report.add(
        f"Self-BLEU-4, {args.hyps}",
        fmt_s(t_s4),
        fmt_s(t_fb_s4),
        fmt_s(t_nltk_s4_all, extrapolated=True),
        f"{t_nltk_s4_all / t_s4:,.0f}x",
        f"{t_fb_s4 / t_s4:.1f}x" if t_fb_s4 else "-",
        f"{c_s4 / t_s4:.2f} / " + (f"{c_fb_s4 / t_fb_s4:.2f}" if t_fb_s4 else "-"),
    )
    summary["self_bleu4_hyps"] = self4.score

    # 3. Self-BLEU-2..5 over the large set ------------------------------------------------
    big = refs
    t_sl, c_sl, self_large = timed(lambda: self_bleu_many(big, ORDERS), args.repeats)
    kl = min(args.nltk_self_large, len(big))
    t_nltk_sl, _, nltk_sl = timed(
        lambda: {
            n: [nltk_sentence(big[:j] + big[j + 1 :], big[j], n) for j in range(kl)] for n in ORDERS
        }
    )
    t_nltk_sl_all = t_nltk_sl * len(big) / kl
    diff_sl_nltk = max(
        float(np.max(np.abs(self_large[n].sentence_scores[:kl] - nltk_sl[n]))) for n in ORDERS
    )
    t_fb_sl = c_fb_sl = diff_fb_sl = None
    if fast_bleu is not None and not args.no_fast_bleu_self_large:
        weights = {n: tuple(1.0 / n for _ in range(n)) for n in ORDERS}
        t_fb_sl, c_fb_sl, fb_sl = timed(lambda: fast_bleu.SelfBLEU(big, weights).get_score())
        diff_fb_sl = max(abs(self_large[n].score - float(np.mean(fb_sl[n]))) for n in ORDERS)
    report.add(
        f"Self-BLEU-2..5, {len(big)}",
        fmt_s(t_sl),
        fmt_s(t_fb_sl),
        fmt_s(t_nltk_sl_all, extrapolated=True),
        f"{t_nltk_sl_all / t_sl:,.0f}x",
        f"{t_fb_sl / t_sl:.1f}x" if t_fb_sl else "-",
        f"{c_sl / t_sl:.2f} / " + (f"{c_fb_sl / t_fb_sl:.2f}" if t_fb_sl else "-"),
    )
    summary["self_bleu_large"] = {f"self_bleu{n}": self_large[n].score for n in ORDERS}

    report.print(
        (
            "unit of work",
            "seqadv",
            "fast-bleu",
            "nltk (extrapolated)",
            "vs nltk",
            "vs fast-bleu",
            "CPU/wall seqadv / fast-bleu",
        )
    )
    print(
        f"\nnltk extrapolated linearly: BLEU from {k} hypotheses x {len(ORDERS)} orders "
        f"({t_nltk:.1f} s), Self-BLEU-4 from {ks} sentences ({t_nltk_s4:.1f} s), "
        f"large Self-BLEU from {kl} sentences x {len(ORDERS)} orders ({t_nltk_sl:.1f} s)."
    )
    print(
        f"seqadv BLEU split: reference statistics {t_build:.3f} s, "
        f"scoring {args.hyps} hypotheses at BLEU-2..5 {t_score:.3f} s."
    )
    print("\nvalues (max absolute difference):")
    print(f"  seqadv vs nltk, BLEU-2..5 sentence scores on the subset: {diff_nltk:.1e}")
    print(f"  seqadv vs nltk, Self-BLEU-4 sentence scores on the subset: {diff_s4_nltk:.1e}")
    print(f"  seqadv vs nltk, large Self-BLEU-2..5 sentence scores: {diff_sl_nltk:.1e}")
    if fast_bleu is not None:
        print(f"  seqadv vs fast-bleu, BLEU-2..5 means: {diff_fb:.1e}")
        print(f"  fast-bleu vs nltk, BLEU-2..5 sentence scores on the subset: {diff_fb_nltk:.1e}")
        print(f"  seqadv vs fast-bleu, Self-BLEU-4 mean: {diff_fb_s4:.1e}")
        if diff_fb_sl is not None:
            print(f"  seqadv vs fast-bleu, large Self-BLEU-2..5 means: {diff_fb_sl:.1e}")
    print(
        "\nseqadv values: "
        + ", ".join(f"{key} {val:.6f}" for key, val in summary["bleu"].items())
        + f"; self_bleu4 (hyps) {summary['self_bleu4_hyps']:.6f}; "
        + ", ".join(f"{key} {val:.6f}" for key, val in summary["self_bleu_large"].items())
        + " (large set)"
    )

    # 4. The CLI end to end ---------------------------------------------------------------
    if not args.no_cli:
        with tempfile.TemporaryDirectory() as tmp:
            hyp_file, ref_file = Path(tmp, "hyp.txt"), Path(tmp, "ref.txt")
            hyp_file.write_text("".join(" ".join(s) + "\n" for s in hyps), encoding="utf-8")
            ref_file.write_text("".join(" ".join(s) + "\n" for s in refs), encoding="utf-8")
            for tokenizer in ("nltk", "space"):
                cmd = [
                    sys.executable,
                    "-m",
                    "seqadv.bleu_command",
                    "--hyp",
                    str(hyp_file),
                    "--ref",
                    str(ref_file),
                    "--tokenizer",
                    tokenizer,
                    "--json",
                ]
                walls = []
                for _ in range(args.repeats):
                    start = time.perf_counter()
                    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
                    walls.append(time.perf_counter() - start)
                out = json.loads(done.stdout)
                same = all(out[f"bleu{n}"] == ours[n].score for n in ORDERS)
                print(
                    f"CLI end to end (python -m seqadv.bleu_command --tokenizer {tokenizer}, "
                    f"start-up, reading, tokenizing, BLEU-2..5): {statistics.median(walls):.2f} s; "
                    f"values identical to the library: {same}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
