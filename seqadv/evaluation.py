"""Evaluation as a list of registered metrics: the METRICS registry.

An evaluation draws ``eval.n_samples`` examples from the policy (``policy.sample``, with a
generator seeded by the run's seed and the step's name, so a resumed run scores the same
samples) and runs each metric of ``eval.metrics`` on them. A metric is a factory
``fn(ctx) -> dict`` that gets an :class:`EvalContext` (the samples, the policy, the data, the
eval config) and returns its ``eval/...`` values and its signature (``eval/<name>_signature``:
what was computed, on how many hypotheses and references, with which settings and version);
a metric whose inputs the data do not have (no oracle, no test split, no vocabulary) returns
nothing. Built-ins:

- ``nll_oracle``: mean per-token NLL of the samples under the data's oracle.
- ``nll_test``: mean per-token NLL of the test split under the policy (``policy.nll``).
- ``bleu``: BLEU-2..``bleu_max_n`` of the samples against every test sentence (Texygen).
- ``self_bleu``: Self-BLEU-2..``bleu_max_n`` of the samples (each against the others).

MaskGAN's ``unique_ngrams``, ``ngrams_in_train`` and ``lm_perplexity`` live in
:mod:`seqadv.ngram_eval`. Register another with ``@register_metric("name")``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from seqadv import __version__
from seqadv.config import EvalConfig
from seqadv.data.source import TextData
from seqadv.registry import Registry
from seqadv.runs import derive_seed

__all__ = [
    "METRICS",
    "DEFAULT_METRICS",
    "EvalContext",
    "cli_samples",
    "metric_signature",
    "evaluate_policy",
    "register_metric",
]

METRICS = Registry("metric")
DEFAULT_METRICS = ("nll_oracle", "nll_test", "bleu", "self_bleu")


def register_metric(name: str, **meta: Any):
    """Decorator: register a metric ``fn(ctx: EvalContext) -> dict`` as ``name``."""
    return METRICS.register(name, **meta)


@dataclass
class EvalContext:
    """What a metric gets: the samples (n, L), the policy, the data and the eval config."""

    samples: Tensor
    policy: Any
    data: TextData
    cfg: EvalConfig

    @functools.cached_property
    def hypotheses(self) -> list[list[str]]:
        """The samples as token lists (ids as strings for the oracle; stops at EOS)."""
        return [self.data.tokens(row) for row in self.samples]


def metric_signature(name: str, **fields: Any) -> str:
    """``name|key:value|...|version:V``: what a metric computed, for its ``*_signature`` key."""
    parts = [name] + [f"{k}:{v}" for k, v in fields.items()] + [f"version:{__version__}"]
    return "|".join(parts)


@register_metric("nll_oracle")
def nll_oracle(ctx: EvalContext) -> dict[str, Any]:
    """Mean per-token NLL of the samples under the oracle (synthetic data only)."""
    oracle = ctx.data.oracle
    if oracle is None:
        return {}
    return {
        "eval/nll_oracle": oracle.nll(ctx.samples),
        "eval/nll_oracle_signature": metric_signature(
            "nll-oracle",
            hyps=ctx.samples.shape[0],
            oracle=getattr(oracle, "source", "?"),
            temperature=ctx.cfg.temperature,
        ),
    }


@register_metric("nll_test")
def nll_test(ctx: EvalContext) -> dict[str, Any]:
    """Mean per-token NLL of the held-out split under the policy."""
    if ctx.data.test is None or not hasattr(ctx.policy, "nll"):
        return {}
    return {
        "eval/nll_test": ctx.policy.nll(ctx.data.test),
        "eval/nll_test_signature": metric_signature("nll-test", refs=ctx.data.test.shape[0]),
    }


def reference_stats(data: TextData, max_n: int) -> Any:
    """BLEU reference statistics of the data's test split, computed once and kept."""
    from seqadv.metrics.bleu import ReferenceStats

    cached = data.extra.get("bleu_refs")
    if cached is None or cached.max_n < max_n:
        cached = data.extra["bleu_refs"] = ReferenceStats(data.test_tokens, max_n=max_n)
    return cached


@register_metric("bleu")
def bleu(ctx: EvalContext) -> dict[str, Any]:
    """BLEU-2..max_n of the samples against every test sentence (Texygen protocol)."""
    from seqadv.metrics.bleu import results_to_log

    data, cfg = ctx.data, ctx.cfg
    if data.vocab is None or data.test_tokens is None:
        return {}
    stats = reference_stats(data, cfg.bleu_max_n)
    n_bleu = cfg.n_bleu_samples or len(ctx.hypotheses)
    results = stats.bleu_many(ctx.hypotheses[:n_bleu], ns=range(2, cfg.bleu_max_n + 1))
    out: dict[str, Any] = dict(results_to_log(results))
    first = next(iter(results.values()))
    lowercase = data.tokenizer == "nltk"  # the nltk tokenizer lower-cases; space and char keep case
    out["eval/bleu_signature"] = str(first.with_tokenizer(data.tokenizer, lowercase).signature)
    return out


@register_metric("self_bleu")
def self_bleu(ctx: EvalContext) -> dict[str, Any]:
    """Self-BLEU-2..max_n of the samples (oracle sequences scored as sequences of ids)."""
    from seqadv.metrics.bleu import results_to_log, self_bleu_many

    cfg = ctx.cfg
    if not cfg.self_bleu or len(ctx.hypotheses) < 2:
        return {}
    n_self = cfg.n_self_bleu or len(ctx.hypotheses)
    results = self_bleu_many(ctx.hypotheses[:n_self], ns=range(2, cfg.bleu_max_n + 1))
    out: dict[str, Any] = dict(results_to_log(results))
    out["eval/self_bleu_signature"] = str(next(iter(results.values())).signature)
    return out


for _name, _summary in (
    ("unique_ngrams", "% unique 2/3/4-grams of the samples (MaskGAN's mode-collapse measure)"),
    ("ngrams_in_train", "% of the samples' 2/3/4-grams found in the training split"),
    ("lm_perplexity", "perplexity of the samples under the LM run of eval.lm"),
):
    METRICS.add(_name, f"seqadv.ngram_eval:{_name}", summary=_summary)
METRICS.add("ranking", "seqadv.ranking_eval:ranking", summary="P@k, NDCG@k, MAP, MRR of the policy's item scores (IRGAN)")


def evaluate_policy(
    policy: Any,
    data: TextData,
    cfg: EvalConfig,
    seed: int,
    step_name: str,
    samples: Tensor | None = None,
) -> tuple[dict[str, Any], Tensor]:
    """The metrics of ``cfg.metrics`` (default :data:`DEFAULT_METRICS`) for ``policy``.

    Samples are drawn from a generator seeded by (seed, "eval", step_name), so an evaluation
    does not depend on what ran before it; or ``samples`` (n, L) are given (``seqadv eval``
    gives the stream ``seqadv sample`` prints, see :func:`cli_samples`).

    Returns:
        The metrics (keys ``eval/...``) and the (n_samples, L) samples.
    """
    was_training = getattr(policy, "training", False)
    policy.eval()
    try:
        if samples is None:
            g = torch.Generator().manual_seed(derive_seed(seed, "eval", step_name))
            samples = policy.sample(cfg.n_samples, generator=g, temperature=cfg.temperature)
        ctx = EvalContext(samples, policy, data, cfg)
        out: dict[str, Any] = {}
        names = DEFAULT_METRICS if cfg.metrics is None else cfg.metrics
        for name in names:
            out.update(METRICS.get(name)(ctx))
    finally:
        policy.train(was_training)
    return out, samples


def cli_samples(policy: Any, n: int, seed: int, temperature: float = 1.0) -> Tensor:
    """The samples ``seqadv sample`` prints and ``seqadv eval`` scores for a seed: one
    documented stream (a generator seeded by (seed, "samples"), each row drawn from its own
    part of it), so ``sample -n 5`` is the head of ``sample -n 2000`` and of what
    ``eval --n-samples 2000`` scores with the same seed and temperature."""
    g = torch.Generator().manual_seed(derive_seed(seed, "samples"))
    was_training = getattr(policy, "training", False)
    policy.eval()
    try:
        try:
            return policy.sample(n, generator=g, temperature=temperature, row_stable=True)
        except TypeError:  # a policy without row-stable sampling: its own stream
            return policy.sample(n, generator=g, temperature=temperature)
    finally:
        policy.train(was_training)


evaluate_generator = evaluate_policy  # the first core's name
