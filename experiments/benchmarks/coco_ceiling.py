"""BLEU-2..5 and Self-BLEU-2..5 of real COCO captions: the figures generators are compared with.

The Texygen split of MS-COCO captions: the 10,000 training captions are scored as if they were
generated text, against all 10,000 test captions as references (Texygen-protocol BLEU: the mean
of nltk's sentence_bleu, method1, uniform weights), and against each other (Self-BLEU). Text is
tokenized with nltk's word tokenizer and lower-cased. Every sentence is used; nothing is sampled.

Usage::

    python experiments/benchmarks/coco_ceiling.py [--data ../shared/data/coco] [--check 3]

The same figures come from the command line::

    seqadv bleu --hyp ../shared/data/coco/train.txt --ref ../shared/data/coco/test.txt --self
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from seqadv.data.tokenize import get_tokenizer
from seqadv.metrics.bleu import ReferenceStats, self_bleu_many

ORDERS = (2, 3, 4, 5)
REPO = Path(__file__).resolve().parents[2]


def default_data() -> Path:
    env = os.environ.get("SEQADV_SHARED_DATA")
    return Path(env) / "coco" if env else REPO.parent / "shared" / "data" / "coco"


def read(path: Path, tokenizer: str) -> list[list[str]]:
    tokenize = get_tokenizer(tokenizer)
    sentences = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        tokens = tokenize(line)
        if not tokens:
            print(f"{path}:{lineno}: empty line skipped", file=sys.stderr)
            continue
        sentences.append(tokens)
    return sentences


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=default_data(), help="folder with the split")
    parser.add_argument("--hyp", default="train.txt", help="file scored as generated text")
    parser.add_argument("--ref", default="test.txt", help="reference file")
    parser.add_argument("--tokenizer", default="nltk", choices=("nltk", "space", "char"))
    parser.add_argument(
        "--check",
        type=int,
        default=3,
        help="also score this many hypotheses with nltk itself and compare (0: skip)",
    )
    args = parser.parse_args(argv)
    hyp_path, ref_path = args.data / args.hyp, args.data / args.ref
    for path in (hyp_path, ref_path):
        if not path.is_file():
            print(f"error: {path} not found (give --data)", file=sys.stderr)
            return 2

    start = time.perf_counter()
    hyps, refs = read(hyp_path, args.tokenizer), read(ref_path, args.tokenizer)
    t_tok = time.perf_counter() - start
    start = time.perf_counter()
    stats = ReferenceStats(refs, max_n=max(ORDERS))
    bleu = stats.bleu_many(hyps, ORDERS)
    t_bleu = time.perf_counter() - start
    start = time.perf_counter()
    self_bleu = self_bleu_many(hyps, ORDERS)
    t_self = time.perf_counter() - start
    lowercase = args.tokenizer == "nltk"  # tokenized above: record it in the signatures
    bleu = {n: r.with_tokenizer(args.tokenizer, lowercase) for n, r in bleu.items()}
    self_bleu = {n: r.with_tokenizer(args.tokenizer, lowercase) for n, r in self_bleu.items()}

    print(f"hypotheses: {hyp_path} ({len(hyps)} sentences)")
    print(f"references: {ref_path} ({len(refs)} sentences)")
    print(f"tokenizer: {args.tokenizer} ({'lower-cased' if args.tokenizer == 'nltk' else 'as is'})")
    print()
    print("| n | BLEU-n (train vs test) | Self-BLEU-n (train) |")
    print("|---|---|---|")
    for n in ORDERS:
        print(f"| {n} | {bleu[n].score:.4f} | {self_bleu[n].score:.4f} |")
    print()
    print(f"BLEU signature:      {bleu[max(ORDERS)].signature}")
    print(f"Self-BLEU signature: {self_bleu[max(ORDERS)].signature}")
    print(
        f"time: tokenizing {t_tok:.1f} s, BLEU-2..5 {t_bleu:.2f} s "
        f"(reference statistics included), Self-BLEU-2..5 {t_self:.2f} s"
    )

    if args.check > 0:
        from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

        method1 = SmoothingFunction().method1
        k = min(args.check, len(hyps))
        worst = 0.0
        for n in ORDERS:
            weights = tuple(1.0 / n for _ in range(n))
            expected = [
                sentence_bleu(refs, h, weights, smoothing_function=method1) for h in hyps[:k]
            ]
            got = bleu[n].sentence_scores[:k]
            worst = max(worst, float(np.max(np.abs(got - expected))))
        print(f"check: first {k} hypotheses rescored by nltk itself, max |difference| {worst:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
