"""Building an experiment's parts from its config: the DATA_SOURCES registry and the policy.

This module composes ``data`` and ``models``; the trainer and the command line use it so that
a checkpoint, ``seqadv eval`` and a training run agree on what "the data" are. A data source
is a factory ``source(cfg: DataConfig, base_dir, **cfg.kwargs) -> TextData``: ``oracle`` (the
synthetic oracle's samples) and ``corpus`` (a text file per split) are built in; a recipe
registers its own (``@register_data_source("name")``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from seqadv.config import DataConfig, ExperimentConfig
from seqadv.data.corpus import Corpus
from seqadv.data.fingerprint import file_fingerprint
from seqadv.data.source import TextData
from seqadv.errors import ConfigError
from seqadv.models.oracle import load_oracle
from seqadv.models.policy import GENERATORS
from seqadv.registry import Registry
from seqadv.runs import derive_seed

__all__ = [
    "DATA_SOURCES",
    "TextData",
    "build_data",
    "build_generator",
    "register_data_source",
    "resolve_path",
]

DATA_SOURCES = Registry("data source")


def register_data_source(name: str, **meta: Any):
    """Decorator: register ``source(cfg, base_dir, **kwargs) -> TextData`` as ``name``."""
    return DATA_SOURCES.register(name, **meta)

log = logging.getLogger("seqadv")


def resolve_path(path: str | None, base: Path | None = None) -> str | None:
    """Expand ``~`` and make a relative path relative to ``base`` when it exists there."""
    if not path:
        return None
    p = Path(path).expanduser()
    if not p.is_absolute() and base is not None and not p.exists() and (base / p).exists():
        p = base / p
    return str(p)


def build_data(cfg: DataConfig, base: Path | None = None, vocab: Any = None) -> TextData:
    """Load or sample the real data that ``cfg`` describes (through DATA_SOURCES).

    ``vocab``: a vocabulary to encode with (a resumed run's own), for sources that take one.
    Data are made with the plain kernels, so that an oracle's samples are the same on every
    machine whatever a run's kernel plan.
    """
    from seqadv.models import kernels

    kwargs = dict(cfg.kwargs)
    if vocab is not None:
        kwargs["vocab"] = vocab
    with kernels.use_plan(kernels.KernelPlan.plain()):
        return DATA_SOURCES.make(cfg.source, cfg=cfg, base_dir=base, **kwargs)


@register_data_source("oracle", summary="samples of the synthetic oracle LSTM (seeded or .npz)")
def oracle_source(cfg: DataConfig, base_dir: Path | None = None) -> TextData:
    """Training and test samples of SeqGAN's synthetic oracle (``data.oracle_*`` keys)."""
    base = base_dir
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
        extra={"files": [file_fingerprint(p)] if (p := resolve_path(cfg.oracle_path, base)) else []},
    )


@register_data_source("corpus", summary="a text corpus: one sentence per line, train and test files")
def corpus_source(cfg: DataConfig, base_dir: Path | None = None, vocab: Any = None) -> TextData:
    """A tokenized corpus (``data.train_path``, ``data.test_path``, ``data.tokenizer``...).

    ``vocab``: encode with this vocabulary (a resumed run's own) instead of building one.
    """
    base = base_dir
    fixed_vocab = vocab
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
        vocab=fixed_vocab,
    )
    vocab = train_corpus.vocab
    files = [file_fingerprint(train_path)]
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
        files.append(file_fingerprint(test_path))
    # one line: the readers have logged each file's details (lengths, truncations, <unk>)
    desc = f"corpus {Path(train_path).name}: {train_corpus.stats.sentences} train"
    if test_corpus is not None:
        desc += f" / {test_corpus.stats.sentences} test ({Path(test_path).name})"
    desc += f" sentences, {cfg.tokenizer} tokens, vocabulary {len(vocab)}, max_len {cfg.max_len}"
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
        extra={"files": files},
    )


@register_data_source("ptb", summary="Penn Treebank: the three files as token streams, 20-token windows")
def ptb_source(
    cfg: DataConfig,
    base_dir: Path | None = None,
    path: str = "../shared/data/ptb",
    test_split: str = "valid",
    max_windows: int | None = None,
    vocab: Any = None,
) -> TextData:
    """PTB as MaskGAN's code reads it (:mod:`seqadv.data.ptb`): windows of ``data.max_len``
    consecutive tokens of the training stream, and of the ``test_split`` stream (``valid``,
    as MaskGAN's code evaluates, or ``test``) as the held-out set.

    ``<eos>`` is a word here (windows cross sentence ends): the vocabulary holds seqadv's four
    specials first (PTB's ``<eos>`` and ``<unk>`` are its EOS and UNK ids), then the other
    9,998 words by decreasing count; the data have no EOS (``eos_id`` None, fixed length) and
    PAD and BOS are never written. ``max_windows`` keeps the first windows of each split (tiny
    runs). BLEU is not computed (no sentence references).
    """
    from seqadv.data.ptb import PTB_EOS, PTB_UNK, load_ptb, windows
    from seqadv.data.vocab import SPECIALS, Vocab

    found = resolve_path(path, base_dir)
    streams = load_ptb(found)
    words = [w for w in streams.id_to_word if w not in (PTB_EOS, PTB_UNK)]
    built = Vocab(list(SPECIALS) + words)
    if vocab is not None and vocab != built:
        raise ConfigError(f"data.kwargs.path: the vocabulary of {found} is not the run's own")
    table = torch.tensor([built.stoi[w] for w in streams.id_to_word])  # PTB's <eos>, <unk>: the specials
    length = cfg.max_len

    def split(name: str) -> torch.Tensor:
        rows = windows(table[streams.split(name)], length).clone()
        return rows[:max_windows] if max_windows is not None else rows

    train, test = split("train"), split(test_split)
    return TextData(
        train=train,
        test=test,
        max_len=length,
        vocab_size=len(built),
        start_id=built.bos_id,
        eos_id=None,
        pad_id=built.pad_id,
        forbidden_ids=(built.pad_id, built.bos_id),
        vocab=built,
        tokenizer="space",
        description=(
            f"PTB {found}: {train.shape[0]} train / {test.shape[0]} {test_split} windows of "
            f"{length} tokens, vocabulary {len(built)} ({streams.vocab_size:,} words + PAD, BOS)"
        ),
        extra={"files": [file_fingerprint(streams.paths[s]) for s in ("train", "valid", "test")]},
    )


@register_data_source("ratings", summary="IRGAN: ratings files (.inter, u.data, IRGAN's) or a synthetic set")
def ratings_source(
    cfg: DataConfig,
    base_dir: Path | None = None,
    path: str | None = None,
    format: str = "inter",
    split: str = "u1",
    test_path: str | None = None,
    test_fraction: float = 0.2,
    validation: float = 0.0,
    threshold: float = 4.0,
    n_items: int | None = None,
    vocab: Any = None,
) -> TextData:
    """Ratings for IRGAN (:mod:`seqadv.data.ratings`); ``path`` None: a seeded synthetic set.

    ``split``: ``u1`` (the first 20,000 rows are the test split, as in ``ml-100k.inter``),
    ``random`` (``test_fraction`` of the rows, seeded by ``data.data_seed``) or ``files``
    (``path`` is the training file, ``test_path`` the test one). ``validation`` > 0 carves a
    seeded share of the training rows out as a validation split: the ``ranking`` metric then
    scores it too (``eval/validation/...``), to select a model on it and read the test split's
    figures of the selected evaluation only; the test split's candidates still exclude every
    original training positive (the validation ones included), as IRGAN's protocol. ``n_items``: the item table size (IRGAN's models: 1,683).
    """
    from seqadv.data import ratings

    readers = {"inter": ratings.read_inter, "udata": ratings.read_udata, "irgan": ratings.read_irgan}
    if format not in readers:
        raise ConfigError(f"data.kwargs.format must be one of {sorted(readers)}, got {format!r}")
    if split not in ("u1", "random", "files"):
        raise ConfigError(f"data.kwargs.split must be u1, random or files, got {split!r}")
    if not 0.0 <= validation < 1.0:
        raise ConfigError(f"data.kwargs.validation must be in [0, 1), got {validation!r}")
    files = []
    if path is None:
        data = ratings.synthetic_ratings(seed=cfg.data_seed)
        train, test = ratings.holdout_split(data, test_fraction, seed=cfg.data_seed)
    else:
        found = resolve_path(path, base_dir)
        files.append(found)
        data = readers[format](found)
        if split == "files":
            if not test_path:
                raise ConfigError("data.kwargs.test_path is required with split 'files'")
            train, test = data, readers[format](resolve_path(test_path, base_dir))
            files.append(resolve_path(test_path, base_dir))
        elif split == "u1":
            train, test = ratings.u1_split(data)
        else:
            train, test = ratings.holdout_split(data, test_fraction, seed=cfg.data_seed)
    whole, held = train, None
    if validation:
        train, held = ratings.holdout_split(train, validation, seed=derive_seed(cfg.data_seed, "validation"))
    n_users = max(whole.n_users, test.n_users)
    out = ratings.ratings_data(train, test, threshold, n_users=n_users, n_items=n_items)
    out.extra["files"] = [file_fingerprint(f) for f in files]
    if held is not None:
        out.extra["ratings"].update(validation=held, train_all=whole)
        out.description += f"; validation: {int((held.ratings >= threshold).sum())} positives carved from training"
    return out


@register_data_source("letor", summary="IRGAN's learning to rank: LETOR train/test files, or a synthetic set")
def letor_source(
    cfg: DataConfig,
    base_dir: Path | None = None,
    path: str | None = None,
    test_path: str | None = None,
    threshold: float = 1.0,
    n_features: int | None = None,
    vocab: Any = None,
) -> TextData:
    """LETOR rows for IRGAN's learning to rank (:mod:`seqadv.data.letor`): ``path`` the
    training file, ``test_path`` the test one (``rel qid:Q 1:v ...``); relevant = label >=
    ``threshold``. ``path`` None: a seeded synthetic set (``data.data_seed``)."""
    import numpy as np

    from seqadv.data import letor, ratings

    if path is None:
        rows = letor.synthetic_letor(seed=cfg.data_seed)
        queries = np.unique(rows.qids)
        test_q = np.isin(rows.qids, queries[: max(1, len(queries) // 4)])
        pick = lambda m: ratings.LetorData(rows.labels[m], rows.qids[m], rows.features[m])  # noqa: E731
        out = letor.letor_data(pick(~test_q), pick(test_q), threshold)
        out.extra["files"] = []
        return out
    if not test_path:
        raise ConfigError("data.kwargs.test_path is required with a LETOR path")
    found = [resolve_path(p, base_dir) for p in (path, test_path)]
    train = ratings.read_letor(found[0], n_features)
    test = ratings.read_letor(found[1], n_features or train.features.shape[1])
    out = letor.letor_data(train, test, threshold)
    out.extra["files"] = [file_fingerprint(f) for f in found]
    return out


@register_data_source(
    "infilling", summary="MaskGAN: another source's sentences as [masked | sentence] examples"
)
def infilling_source(
    cfg: DataConfig,
    base_dir: Path | None = None,
    base: str = "corpus",
    strategy: str = "contiguous",
    present_rate: float = 0.5,
    vocab: Any = None,
    **base_kwargs: Any,
) -> TextData:
    """The sentences of the ``base`` source (``corpus``, ``ptb``...) with one mask each.

    ``strategy`` and ``present_rate`` as in :mod:`seqadv.data.infilling`; the masks are
    drawn from ``data.data_seed``. Other kwargs go to the base source.
    """
    from seqadv.data.infilling import MaskSpec, infilling_data

    if base == "infilling":
        raise ConfigError("data.kwargs.base: the infilling source cannot wrap itself")
    spec = MaskSpec(strategy, present_rate)
    extra = {"vocab": vocab} if vocab is not None else {}
    data = DATA_SOURCES.make(base, cfg=cfg, base_dir=base_dir, **extra, **base_kwargs)
    return infilling_data(data, spec, seed=derive_seed(cfg.data_seed, "infilling-masks"))


def build_generator(cfg: ExperimentConfig, data: TextData, seed: int) -> Any:
    """A fresh policy for ``data`` from the GENERATORS registry, initialized from ``seed``."""
    return GENERATORS.make(
        cfg.generator.name,
        data=data,
        seed=derive_seed(seed, "generator-init"),
        **cfg.generator.kwargs,
    )
