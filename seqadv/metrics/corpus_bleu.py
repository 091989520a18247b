"""Corpus BLEU: sacrebleu's, for paired references (translation, dialogue).

sacrebleu is imported only when :func:`corpus_bleu` is called; the result carries sacrebleu's
own signature in ``signature.backend``.
"""

from __future__ import annotations

from collections.abc import Sequence

from seqadv.errors import DataError
from seqadv.metrics.bleu_signature import BleuResult, BleuSignature

__all__ = ["corpus_bleu"]


def corpus_bleu(
    hypotheses: Sequence[str],
    references: Sequence[str] | Sequence[Sequence[str]],
    *,
    tokenize: str = "13a",
    lowercase: bool = False,
    max_ngram_order: int = 4,
    smooth_method: str = "exp",
) -> BleuResult:
    """sacrebleu's corpus BLEU for paired references (translation, dialogue).

    Args:
        hypotheses: Detokenized hypothesis strings.
        references: Paired with the hypotheses: ``references[i]`` is the reference string of
            hypothesis i, or a sequence of its reference strings (the number may vary).
        tokenize: sacrebleu tokenizer (``13a``, ``intl``, ``zh``, ``char``, ``none``, ...).
        lowercase: Lower-case before scoring.
        max_ngram_order: BLEU-n order.
        smooth_method: sacrebleu smoothing (``exp``, ``floor``, ``add-k``, ``none``).

    Returns:
        A :class:`BleuResult` whose score is sacrebleu's, on its 0-100 scale
        (``signature.scale == 100``), with sacrebleu's signature in ``signature.backend``.

    Raises:
        DataError: Counts differ, no hypotheses, or non-string entries.
    """
    from sacrebleu.metrics import BLEU

    if isinstance(hypotheses, str) or isinstance(references, str):
        raise DataError("corpus_bleu takes sequences of sentences, not a single str")
    hyps = list(hypotheses)
    refs = list(references)
    if not hyps:
        raise DataError("no hypotheses: corpus BLEU of an empty set is undefined")
    if len(refs) != len(hyps):
        raise DataError(
            f"corpus_bleu needs one reference entry per hypothesis: "
            f"{len(hyps)} hypotheses, {len(refs)} references"
        )
    per_hyp = [[r] if isinstance(r, str) else list(r) for r in refs]
    for i, h in enumerate(hyps):
        if not isinstance(h, str):
            raise DataError(f"hypotheses[{i}] is a {type(h).__name__}, not a str")
        if not per_hyp[i] or not all(isinstance(r, str) for r in per_hyp[i]):
            raise DataError(f"references[{i}] must be a str or a non-empty sequence of str")
    width = max(len(r) for r in per_hyp)
    streams = [[r[k] if k < len(r) else None for r in per_hyp] for k in range(width)]
    metric = BLEU(
        tokenize=tokenize,
        lowercase=lowercase,
        max_ngram_order=max_ngram_order,
        smooth_method=smooth_method,
    )
    result = metric.corpus_score(hyps, streams)
    counts = {len(r) for r in per_hyp}
    sig = BleuSignature(
        metric="corpus_bleu",
        n=max_ngram_order,
        weights="uniform",
        smoothing=f"sacrebleu-{smooth_method}",
        averaging="corpus (matches and lengths summed over hypotheses)",
        references="paired",
        tokenizer=tokenize,
        lowercase=lowercase,
        n_hypotheses=len(hyps),
        n_references=counts.pop() if len(counts) == 1 else -1,
        backend=str(metric.get_signature()),
        scale=100.0,
    )
    return BleuResult(float(result.score), sig)
