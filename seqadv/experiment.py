"""Building an experiment's parts from its config: data, oracle, generator, evaluation.

This module composes ``data``, ``models`` and ``metrics``; the trainer and the command line
use it so that a checkpoint, ``seqadv eval`` and a training run agree on what "the data" and
"the evaluation" are.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from seqadv.config import DataConfig, EvalConfig, ExperimentConfig
from seqadv.data.corpus import Corpus
from seqadv.data.source import TextData
from seqadv.errors import ConfigError
from seqadv.models.generator import LSTMGenerator
from seqadv.models.oracle import load_oracle
from seqadv.runs import derive_seed

__all__ = ["TextData", "build_data", "build_generator", "evaluate_generator", "resolve_path"]

log = logging.getLogger("seqadv")


def resolve_path(path: str | None, base: Path | None = None) -> str | None:
    """Expand ``~`` and make a relative path relative to ``base`` when it exists there."""
    if not path:
        return None
    p = Path(path).expanduser()
    if not p.is_absolute() and base is not None and not p.exists() and (base / p).exists():
        p = base / p
    return str(p)


def build_data(cfg: DataConfig, base: Path | None = None) -> TextData:
    """Load or sample the real data that ``cfg`` describes."""
    if cfg.source == "oracle":
        oracle = load_oracle(
            resolve_path(cfg.oracle_path, base),
            seed=cfg.oracle_seed,
            vocab_size=cfg.vocab_size,
            embed_dim=cfg.oracle_embed_dim,
            hidden_dim=cfg.oracle_hidden_dim,
            max_len=cfg.max_len,
        )
        g = torch.Generator().manual_seed(cfg.data_seed)
        train = oracle.sample(cfg.n_train, generator=g)
        test = oracle.sample(cfg.n_test, generator=g) if cfg.n_test > 0 else None
        return TextData(
            train=train,
            test=test,
            max_len=cfg.max_len,
            vocab_size=oracle.vocab_size,
            start_id=0,
            eos_id=None,
            pad_id=oracle.vocab_size,
            oracle=oracle,
            description=(
                f"oracle {oracle.source}: V={oracle.vocab_size}, T={cfg.max_len}, "
                f"{cfg.n_train} train / {cfg.n_test} test samples (data_seed={cfg.data_seed})"
            ),
        )
    train_path = resolve_path(cfg.train_path, base)
    if not train_path:
        raise ConfigError("data.train_path is required when data.source is 'corpus'")
    train_corpus = Corpus.from_file(
        train_path,
        tokenizer=cfg.tokenizer,
        max_len=cfg.max_len,
        long_lines=cfg.long_lines,
        encoding_errors=cfg.encoding_errors,
        min_freq=cfg.min_freq,
        max_vocab=cfg.max_vocab,
        max_sentences=cfg.max_sentences,
    )
    vocab = train_corpus.vocab
    test_corpus = None
    test_path = resolve_path(cfg.test_path, base)
    if test_path:
        test_corpus = Corpus.from_file(
            test_path,
            tokenizer=cfg.tokenizer,
            vocab=vocab,
            max_len=cfg.max_len,
            long_lines=cfg.long_lines,
            encoding_errors=cfg.encoding_errors,
            max_sentences=cfg.max_sentences,
        )
    desc = f"corpus {train_corpus.stats.summary()}; vocabulary {len(vocab)}"
    if test_corpus is not None:
        desc += f"; test {test_corpus.stats.summary()}"
    return TextData(
        train=train_corpus.to_tensor(),
        test=test_corpus.to_tensor() if test_corpus is not None else None,
        max_len=cfg.max_len,
        vocab_size=len(vocab),
        start_id=vocab.bos_id,
        eos_id=vocab.eos_id,
        pad_id=vocab.pad_id,
        forbidden_ids=(vocab.pad_id, vocab.bos_id),
        vocab=vocab,
        tokenizer=cfg.tokenizer,
        test_tokens=test_corpus.full_sentences if test_corpus is not None else None,
        description=desc,
    )


def build_generator(cfg: ExperimentConfig, data: TextData, seed: int) -> LSTMGenerator:
    """A fresh generator for ``data``, initialized from ``seed``."""
    gen = LSTMGenerator(
        vocab_size=data.vocab_size,
        embed_dim=cfg.generator.embed_dim,
        hidden_dim=cfg.generator.hidden_dim,
        max_len=data.max_len,
        start_id=data.start_id,
        eos_id=data.eos_id,
        pad_id=data.pad_id,
        forbidden_ids=data.forbidden_ids,
    )
    g = torch.Generator().manual_seed(derive_seed(seed, "generator-init"))
    if cfg.generator.init_std is not None:
        gen.init_normal_(cfg.generator.init_std, generator=g)
    else:
        with torch.random.fork_rng():
            torch.manual_seed(derive_seed(seed, "generator-init"))
            gen = type(gen).from_spec(gen.spec)
    return gen


def evaluate_generator(
    generator: LSTMGenerator,
    data: TextData,
    cfg: EvalConfig,
    seed: int,
    step_name: str,
) -> tuple[dict[str, Any], Tensor]:
    """NLL-oracle and NLL-test (and, for corpora, BLEU and Self-BLEU) of ``generator``.

    Samples are drawn from a generator seeded by (seed, "eval", step_name), so an evaluation
    does not depend on what ran before it (a resumed run evaluates the same samples).

    Returns:
        The metrics (keys ``eval/...``) and the (n_samples, T) samples.
    """
    g = torch.Generator().manual_seed(derive_seed(seed, "eval", step_name))
    was_training = generator.training
    generator.eval()
    samples = generator.sample(cfg.n_samples, generator=g, temperature=cfg.temperature)
    out: dict[str, Any] = {}
    if data.oracle is not None:
        out["eval/nll_oracle"] = data.oracle.nll(samples)
    if data.test is not None:
        out["eval/nll_test"] = generator.nll(data.test)
    out.update(_bleu_metrics(samples, data, cfg))
    generator.train(was_training)
    return out, samples


def _bleu_metrics(samples: Tensor, data: TextData, cfg: EvalConfig) -> dict[str, Any]:
    """BLEU-2..max_n against every test sentence (corpora) and Self-BLEU-2..max_n (Texygen
    protocol; oracle sequences are scored as sequences of token ids)."""
    from seqadv.metrics.bleu import results_to_log, self_bleu_many

    hyps = [data.tokens(row) for row in samples]
    ns = range(2, cfg.bleu_max_n + 1)
    out: dict[str, Any] = {}
    if data.vocab is not None and data.test_tokens is not None:
        stats = data.reference_stats(cfg.bleu_max_n)
        n_bleu = cfg.n_bleu_samples or len(hyps)
        results = stats.bleu_many(hyps[:n_bleu], ns=ns)
        out.update(results_to_log(results))
        first = next(iter(results.values()))
        out["eval/bleu_signature"] = str(first.with_tokenizer(data.tokenizer, True).signature)
    if cfg.self_bleu and len(hyps) >= 2:
        n_self = cfg.n_self_bleu or len(hyps)
        self_results = self_bleu_many(hyps[:n_self], ns=ns)
        out.update(results_to_log(self_results))
    return out
