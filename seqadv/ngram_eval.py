"""MaskGAN's sample metrics, registered in METRICS: n-gram diversity, novelty and LM perplexity.

- ``unique_ngrams``: ``eval/unique_{n}gram_pct``, n = 2, 3, 4: the percentage of distinct
  n-grams among all n-gram occurrences of the samples (the MaskGAN paper's mode-collapse
  measure; :func:`seqadv.metrics.ngram_stats.unique_ngram_percent`).
- ``ngrams_in_train``: ``eval/{n}gram_in_train_pct``: the percentage of the samples' n-grams
  found in the training split, counted as MaskGAN's code does ("percent captured":
  distinct found / occurrences; :meth:`NgramIndex.in_train_percent`). The training index is
  built once per data and kept in ``data.extra``.
- ``lm_perplexity``: ``eval/lm_perplexity``, exp of the mean per-token NLL of the samples'
  text under a language model: the ``lstm`` generator of another run on the same data and
  vocabulary (``eval.lm``: its directory or checkpoint, loaded weights-only; train it once
  with an MLE preset such as ``experiments/lm_ptb.yaml``).

Samples are scored as text: ``data.tokens`` of each row (for infilling examples the whole
infilled sentence, present tokens included; for corpora up to EOS). Metrics whose inputs are
missing return nothing, as the built-ins do.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from seqadv.errors import CheckpointError, ConfigError
from seqadv.evaluation import metric_signature

__all__ = ["unique_ngrams", "ngrams_in_train", "lm_perplexity", "NGRAM_ORDERS"]

NGRAM_ORDERS = (2, 3, 4)


def unique_ngrams(ctx: Any) -> dict[str, Any]:
    """% unique 2-, 3- and 4-grams of the samples (see the module docstring)."""
    from seqadv.metrics.ngram_stats import NgramIndex

    index = NgramIndex(ctx.hypotheses, max_n=max(NGRAM_ORDERS))
    out: dict[str, Any] = {f"eval/unique_{n}gram_pct": index.unique_percent(n) for n in NGRAM_ORDERS}
    out["eval/unique_ngrams_signature"] = metric_signature(
        "unique-ngrams", hyps=len(ctx.hypotheses), counting="distinct/occurrences",
        text="data.tokens",
    )  # fmt: skip
    return out


def _train_index(data: Any) -> Any:
    from seqadv.metrics.ngram_stats import NgramIndex

    cached = data.extra.get("ngram_index")
    if cached is None:
        cached = data.extra["ngram_index"] = NgramIndex(
            [data.tokens(row) for row in data.train], max_n=max(NGRAM_ORDERS)
        )
    return cached


def ngrams_in_train(ctx: Any) -> dict[str, Any]:
    """% of the samples' n-grams found in the training split, as MaskGAN's code counts."""
    index = _train_index(ctx.data)
    found = index.in_train_percents(ctx.hypotheses, NGRAM_ORDERS, counting="maskgan")
    out: dict[str, Any] = {f"eval/{n}gram_in_train_pct": v for n, v in found.items()}
    out["eval/ngrams_in_train_signature"] = metric_signature(
        "ngrams-in-train", hyps=len(ctx.hypotheses), train=index.num_sentences,
        counting="maskgan(distinct-found/occurrences)",
    )  # fmt: skip
    return out


def load_lm(path: str | Path, data: Any) -> Any:
    """The ``lstm`` generator of a run (directory or checkpoint), checked against ``data``."""
    from seqadv.models.generator import LSTMGenerator
    from seqadv.runs import load_checkpoint

    ckpt = load_checkpoint(path)
    if ckpt.get("generator_name", "lstm") != "lstm" or not ckpt.get("generator_spec"):
        raise ConfigError(
            f"eval.lm: {ckpt['path']} holds a {ckpt.get('generator_name')!r} policy; the LM must "
            "be a run of the 'lstm' generator (e.g. experiments/lm_ptb.yaml)"
        )
    vocab = ckpt.get("vocab")
    if data.vocab is not None and vocab != data.vocab.itos:
        raise ConfigError(f"eval.lm: {ckpt['path']} was trained on another vocabulary than the data's")
    lm = LSTMGenerator.from_spec(ckpt["generator_spec"])
    try:
        lm.load_state_dict(ckpt["generator"])
    except RuntimeError as exc:
        raise CheckpointError(f"eval.lm: {ckpt['path']}: {exc}") from None
    return lm.eval()


def lm_perplexity(ctx: Any) -> dict[str, Any]:
    """Perplexity of the samples' text under the LM of ``eval.lm`` (nothing without one)."""
    if not ctx.cfg.lm:
        return {}
    data = ctx.data
    cached = data.extra.get("lm")
    if cached is None or cached[0] != ctx.cfg.lm:
        cached = data.extra["lm"] = (ctx.cfg.lm, load_lm(ctx.cfg.lm, data))
    lm = cached[1]
    text = ctx.samples[:, data.text_start :]
    if text.shape[1] > lm.max_len:
        raise ConfigError(f"eval.lm: the LM reads {lm.max_len} tokens, the samples have {text.shape[1]}")
    with torch.no_grad():
        nll = float(lm.nll(text))
    return {
        "eval/lm_perplexity": math.exp(nll),
        "eval/lm_perplexity_signature": metric_signature(
            "lm-perplexity", hyps=text.shape[0], lm=Path(ctx.cfg.lm).name, per="token"
        ),
    }
