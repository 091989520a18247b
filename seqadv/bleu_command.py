"""``seqadv bleu``: Texygen-protocol BLEU-2..n (and Self-BLEU) of one text file against another.

Usage::

    seqadv bleu --hyp FILE --ref FILE [--max-n 5] [--self] [--tokenizer nltk|space|char] [--json]
    python -m seqadv.bleu_command ...   # the same, without the seqadv front end

One sentence per line, UTF-8. BLEU-n is the mean over the hypothesis lines of nltk's
``sentence_bleu`` with every reference line as a reference, uniform weights 1/n and smoothing
method1 (see :mod:`seqadv.metrics.bleu`); Self-BLEU-n scores each hypothesis line against all
the other hypothesis lines. Lines without tokens are skipped and reported on stderr with file
and line; a missing, empty or non-UTF-8 file is an error (exit code 2), reported the same way,
never with a traceback.

This is command-line layer, not a metric: it resolves the ``--tokenizer`` name with
:func:`seqadv.data.tokenize.get_tokenizer`, tokenizes the lines itself and gives the metrics of
:mod:`seqadv.metrics.bleu` token sequences (the metrics import nothing from ``seqadv.data``).
It imports only the standard library (and :mod:`seqadv.cli_args`, which checks ``--max-n``) at
start-up; numpy and the BLEU code load when ``run`` is called, and torch never does.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from seqadv.cli_args import MAX_BLEU_N, bleu_max_n

__all__ = ["add_arguments", "run", "main"]

PROG = "seqadv bleu"
DESCRIPTION = (
    "Texygen-protocol BLEU-2..n of a file of hypotheses (one sentence per line) against a file "
    "of references: the mean over hypotheses of nltk's sentence_bleu with ALL references, "
    "uniform weights and smoothing method1 (exactly nltk's numbers, computed from reference "
    "statistics built once). With --self, also Self-BLEU: each hypothesis against all the others."
)
_MAX_REPORTED = 5  # problem lines listed per file before summarising


class _InputError(Exception):
    """Unusable input; the message is already formatted for stderr."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``seqadv bleu`` options to ``parser`` (the lead's sub-parser or a fresh one)."""
    if parser.description is None:
        parser.description = DESCRIPTION
    parser.add_argument(
        "--hyp",
        required=True,
        metavar="FILE",
        help="hypotheses (generated text), one sentence per line, UTF-8; '-' reads stdin",
    )
    parser.add_argument(
        "--ref",
        metavar="FILE",
        help="references (test set), one sentence per line, UTF-8; every line is a reference "
        "of every hypothesis (required unless --self)",
    )
    parser.add_argument(
        "--max-n",
        type=bleu_max_n,
        default=5,
        metavar="N",
        help=f"report BLEU-2 .. BLEU-N, N in 2..{MAX_BLEU_N} (default: 5)",
    )
    parser.add_argument(
        "--self",
        dest="self_bleu",
        action="store_true",
        help="also report Self-BLEU-2..N of the hypotheses (each against all the others)",
    )
    parser.add_argument(
        "--tokenizer",
        choices=("nltk", "space", "char"),
        default="nltk",
        help="nltk: nltk word tokens, lower-cased (Texygen); space: whitespace, case kept; "
        "char: every non-space character (default: nltk)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object (keys bleu2.., self_bleu2.., signature) instead of a table",
    )


def _err(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr)


def _read_lines(path: str, arg: str) -> list[bytes]:
    if path != "-" and os.path.isdir(path):
        raise _InputError(
            f"error: cannot read {arg} {path}: is a directory; give a file, one sentence per line"
        )
    try:
        if path == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as f:
                data = f.read()
    except OSError as e:
        raise _InputError(f"error: cannot read {arg} {path}: {e.strerror or e}") from None
    if not data:
        raise _InputError(f"error: {path}: empty file, no sentences")
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()  # the newline that ends the last line
    if lines and lines[0].startswith(b"\xef\xbb\xbf"):
        lines[0] = lines[0][3:]  # UTF-8 byte-order mark
    return [line[:-1] if line.endswith(b"\r") else line for line in lines]


def _read_sentences(
    path: str, tokenize: Callable[[str], list[str]], arg: str, keep_empty: bool = False
) -> list[list[str]]:
    """Tokenized lines of ``path``; problems reported on stderr.

    Empty lines are skipped for references; for hypotheses (``keep_empty``) they are kept as
    empty sentences (a generated sequence that ends at once scores 0 and still counts), and
    their number is reported.

    Raises:
        _InputError: Unreadable, empty, not UTF-8, or no line with a token.
    """
    lines = _read_lines(path, arg)
    sentences: list[list[str]] = []
    bad: list[tuple[int, UnicodeDecodeError]] = []
    empty: list[int] = []
    for lineno, raw in enumerate(lines, start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            bad.append((lineno, e))
            continue
        tokens = tokenize(text)
        if tokens or keep_empty:
            sentences.append(tokens)
        if not tokens:
            empty.append(lineno)
    if bad:
        for lineno, e in bad[:_MAX_REPORTED]:
            byte = e.object[e.start]
            _err(f"{path}:{lineno}: error: not valid UTF-8 (byte 0x{byte:02x} at offset {e.start})")
        more = f" ({len(bad) - _MAX_REPORTED} more not shown)" if len(bad) > _MAX_REPORTED else ""
        raise _InputError(
            f"error: {path}: {len(bad)} line(s) with undecodable bytes{more}; "
            "convert the file to UTF-8 (e.g. iconv -f latin1 -t utf-8)"
        )
    if empty and keep_empty:
        _err(
            f"{path}: {len(empty)} empty hypothesis line(s) (no tokens; the first at line "
            f"{empty[0]}): kept, each scores 0 and counts among the {len(sentences)} hypotheses"
        )
    elif empty:
        for lineno in empty[:_MAX_REPORTED]:
            _err(f"{path}:{lineno}: warning: empty line (no tokens) skipped")
        if len(empty) > _MAX_REPORTED:
            _err(f"{path}: warning: {len(empty)} empty lines skipped in all")
    if not any(sentences):
        raise _InputError(f"error: {path}: no sentences ({len(lines)} line(s), none with a token)")
    return sentences


def _signature(results: dict[str, Any], args: argparse.Namespace, n_ref: int | None) -> dict:
    """One signature for the whole report (the per-metric signatures agree but for the refs)."""
    first = next(iter(results.values())).signature
    metrics = list(dict.fromkeys(r.signature.metric for r in results.values()))
    ns = list(dict.fromkeys(r.signature.n for r in results.values()))
    sig: dict[str, Any] = {
        "metrics": metrics,
        "n": ns,
        "weights": first.weights,
        "smoothing": first.smoothing,
        "averaging": first.averaging,
        "references": "; ".join(
            {"bleu": "bleu: every reference line", "self_bleu": "self_bleu: all other hypotheses"}[
                m
            ]
            for m in metrics
        ),
        "tokenizer": first.tokenizer,
        "lowercase": first.lowercase,
        "n_hypotheses": first.n_hypotheses,
        "n_references": n_ref,
        "hyp_file": args.hyp,
        "ref_file": args.ref,
        "version": first.version,
    }
    strings = {}
    for metric in metrics:
        last = [r for r in results.values() if r.signature.metric == metric][-1]
        strings[metric] = str(last.signature).replace(
            f"{metric}{last.signature.n}|", f"{metric}{ns[0]}..{ns[-1]}|", 1
        )
    sig["strings"] = strings
    return sig


def _table(results: dict[str, Any], signature: dict) -> str:
    labels = {"bleu": "BLEU", "self_bleu": "Self-BLEU"}
    rows = [("metric", "score")]
    for r in results.values():
        rows.append((f"{labels[r.signature.metric]}-{r.signature.n}", f"{r.score:.6f}"))
    width = max(len(a) for a, _ in rows)
    lines = [f"{a:<{width}}  {b:>8}" for a, b in rows]
    case = {True: "lower-cased", False: "case kept", None: "as given"}[signature["lowercase"]]
    refs = (
        f"{signature['n_references']} references ({signature['ref_file']})"
        if signature["n_references"] is not None
        else "no reference file"
    )
    lines.append(
        f"{signature['n_hypotheses']} hypotheses ({signature['hyp_file']}), {refs}; "
        f"tokenizer {signature['tokenizer']}, {case}"
    )
    for metric, s in signature["strings"].items():
        lines.append(f"signature ({metric}): {s}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Run ``seqadv bleu`` with parsed ``args``; returns the exit code (0 ok, 2 bad input)."""
    if args.ref is None and not args.self_bleu:
        _err("error: give --ref FILE (BLEU against references) and/or --self (Self-BLEU)")
        return 2
    if args.hyp == "-" and args.ref == "-":
        _err("error: only one of --hyp and --ref can read stdin ('-')")
        return 2
    from seqadv.data.tokenize import get_tokenizer
    from seqadv.errors import SeqadvError
    from seqadv.metrics.bleu import ReferenceStats, self_bleu_many

    ns = range(2, args.max_n + 1)
    base_tokenize = get_tokenizer(args.tokenizer)
    cache: dict[str, list[str]] = {}  # repeated lines (mode collapse) are tokenized once

    def tokenize(text: str) -> list[str]:
        tokens = cache.get(text)
        if tokens is None:
            tokens = cache[text] = base_tokenize(text)
        return tokens

    results: dict[str, Any] = {}
    n_ref = None
    try:
        hyps = _read_sentences(args.hyp, tokenize, "--hyp", keep_empty=True)
        if args.self_bleu and len(hyps) < 2:
            raise _InputError(f"error: {args.hyp}: Self-BLEU needs at least 2 sentences, got 1")
        if args.ref is not None:
            refs = _read_sentences(args.ref, tokenize, "--ref")
            n_ref = len(refs)
            stats = ReferenceStats(refs, max_n=args.max_n)
            for n, r in stats.bleu_many(hyps, ns).items():
                results[f"bleu{n}"] = r
        if args.self_bleu:
            for n, r in self_bleu_many(hyps, ns).items():
                results[f"self_bleu{n}"] = r
    except _InputError as e:
        _err(str(e))
        return 2
    except SeqadvError as e:
        _err(f"error: {e}")
        return 2
    # The sentences were tokenized here, so the signature names the tokenizer.
    lowercase = args.tokenizer == "nltk"
    results = {k: r.with_tokenizer(args.tokenizer, lowercase) for k, r in results.items()}
    signature = _signature(results, args, n_ref)
    try:
        if args.json:
            out = {k: r.score for k, r in results.items()}
            out["signature"] = signature
            print(json.dumps(out, indent=2))
        else:
            print(_table(results, signature))
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. piped into `head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m seqadv.bleu_command``."""
    parser = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
