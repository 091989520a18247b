"""The MaskGAN comparison table: every run scored the same way, one markdown row each.

Each run's final checkpoint is evaluated with ``seqadv eval`` (the same seed and sample
count for all, the same LM scoring the samples' perplexity), and the rows are printed as a
markdown table with the machine and thread count:

    python experiments/maskgan_table.py --lm runs/lm --runs runs/lm runs/maskmle runs/maskgan_s1 ...
        [--n-samples 2000] [--seed 0] [--threads 1]
    python experiments/maskgan_table.py --runs runs/maskmle_coco runs/maskgan_coco \
        --metrics nll_test bleu self_bleu unique_ngrams ngrams_in_train

Columns are printed for the metrics some run reports.

A run's label is its directory name. The NLL column is each run's ``nll_test`` (PTB: the validation split): per
token of the real held-out windows for an LM, per *missing* token given the masked window for MaskMLE
and MaskGAN (so the two kinds of row are not the same quantity; say so beside the table).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "benchmarks"))

from common import machine_line, setup_threads  # noqa: E402

COLUMNS = [
    ("eval/bleu2", "BLEU-2", "{:.4f}"),
    ("eval/bleu3", "BLEU-3", "{:.4f}"),
    ("eval/bleu4", "BLEU-4", "{:.4f}"),
    ("eval/bleu5", "BLEU-5", "{:.4f}"),
    ("eval/self_bleu2", "Self-BLEU-2", "{:.4f}"),
    ("eval/self_bleu3", "Self-BLEU-3", "{:.4f}"),
    ("eval/self_bleu4", "Self-BLEU-4", "{:.4f}"),
    ("eval/self_bleu5", "Self-BLEU-5", "{:.4f}"),
    ("eval/lm_perplexity", "LM perplexity of samples", "{:.1f}"),
    ("eval/unique_2gram_pct", "unique 2-grams %", "{:.2f}"),
    ("eval/unique_3gram_pct", "unique 3-grams %", "{:.2f}"),
    ("eval/unique_4gram_pct", "unique 4-grams %", "{:.2f}"),
    ("eval/2gram_in_train_pct", "2-grams in train %", "{:.2f}"),
    ("eval/3gram_in_train_pct", "3-grams in train %", "{:.2f}"),
    ("eval/4gram_in_train_pct", "4-grams in train %", "{:.2f}"),
    ("eval/nll_test", "NLL (held-out)", "{:.4f}"),
]
PTB_METRICS = ["nll_test", "unique_ngrams", "ngrams_in_train", "lm_perplexity"]


def evaluate(run: str, lm: str | None, metrics: list[str], n: int, seed: int, threads: int) -> dict:
    cmd = [
        sys.executable, "-m", "seqadv", "eval", run, "--json", "--n-samples", str(n),
        "--seed", str(seed), "--threads", str(threads),
        "--set", f"eval.metrics=[{', '.join(metrics)}]", "--set", "eval.n_self_bleu=null",
    ]  # fmt: skip
    if lm:
        cmd += ["--set", f"eval.lm={lm}"]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"seqadv eval {run} failed (exit {out.returncode}):\n{out.stderr}")
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lm", help="the LM run that scores every run's samples (lm_perplexity)")
    parser.add_argument("--metrics", nargs="+", default=PTB_METRICS, help="METRICS names")
    parser.add_argument("--runs", nargs="+", required=True)
    parser.add_argument("--n-samples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    setup_threads(args.threads)  # as the evaluations below run
    print(machine_line())
    lm = f", LM {args.lm}" if args.lm else ""
    print(f"{args.n_samples} samples per run, eval seed {args.seed}, {args.threads} torch thread(s){lm}\n")
    results = [evaluate(run, args.lm, args.metrics, args.n_samples, args.seed, args.threads) for run in args.runs]
    columns = [c for c in COLUMNS if any(c[0] in r for r in results)]
    print("| run | " + " | ".join(title for _, title, _ in columns) + " |")
    print("|---|" + "---|" * len(columns))
    for run, result in zip(args.runs, results, strict=True):
        cells = [fmt.format(result[k]) if k in result else "—" for k, _, fmt in columns]
        print(f"| {Path(run).name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
