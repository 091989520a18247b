"""``seqadv train --data TRAIN.txt``: a config derived from your own text and a time budget.

:func:`plan_own_text` reads the training file once with the chosen tokenizer and derives
what the COCO preset fixes by hand: ``data.max_len`` (the 95th percentile of sentence
lengths + EOS, clamped to 8..64), a vocabulary cap for large corpora (words seen once go to
``<unk>`` when there are more than 5,000 distinct words), discriminator sample sizes and
``eval.n_samples`` capped by the number of sentences, and a run name from the file's stem.
A quick calibration (:mod:`seqadv.estimate`, on sequences of the corpus's lengths, well
under 2 s) prices one MLE epoch and one adversarial round on this machine, and the number
of epochs (and rounds) is chosen to fit ``minutes``; ``pretrain.budget_minutes`` and
``adversarial.budget_minutes`` are set as a safety net. ``--set`` overrides apply last and
win. This is a composition module: it builds a config, it trains nothing.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqadv.config import ExperimentConfig, apply_overrides, config_from_dict, config_to_dict
from seqadv.data.corpus import read_lines
from seqadv.data.tokenize import get_tokenizer
from seqadv.errors import ConfigError, DataError
from seqadv.estimate import calibrate, estimate_seconds, phase_costs, synthetic_data

__all__ = ["OwnTextPlan", "plan_own_text", "sanitize_name", "RECIPES", "DEFAULT_MINUTES"]

RECIPES = ("mle", "seqgan")
DEFAULT_MINUTES = 5.0
MIN_LEN, MAX_LEN = 8, 64
#: more distinct words than this: words seen once become <unk>
LARGE_VOCAB = 5000
#: the seqgan recipe's share of the budget spent on MLE (the rest: the adversarial phase)
MLE_SHARE = 0.6


@dataclass
class OwnTextPlan:
    """What :func:`plan_own_text` chose: the config, a printable summary, the estimate."""

    config: ExperimentConfig
    summary: str
    estimate_s: float
    info: dict[str, Any]


def sanitize_name(stem: str) -> str:
    """A plain run name from a file's stem: letters, digits, ``_`` and ``-`` only."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_-")
    return name or "own_text"


def _percentile(sorted_values: list[int], q: float) -> int:
    index = max(0, math.ceil(q * len(sorted_values)) - 1)
    return sorted_values[min(index, len(sorted_values) - 1)]


def _read_sentences(path: str, tokenizer: str) -> list[list[str]]:
    tok = get_tokenizer(tokenizer)
    sentences = [tokens for _, text in read_lines(path, encoding_errors="replace") if (tokens := tok(text))]
    if not sentences:
        raise DataError(f"{path}: no usable sentences")
    return sentences


def _word_counts(sentences: list[list[str]], max_len: int) -> Counter:
    """Word counts of the sentences as the corpus reader keeps them (truncated to
    ``max_len - 1`` tokens, EOS making ``max_len``), so the vocabulary predicted is the one
    built."""
    counts: Counter = Counter()
    for tokens in sentences:
        counts.update(tokens[: max_len - 1])
    return counts


def _recipe_dict(recipe: str) -> dict[str, Any]:
    gen = {"name": "lstm", "kwargs": {"embed_dim": 32, "hidden_dim": 32, "init_std": 0.1}}
    data: dict[str, Any] = {
        "threads": 1,
        "generator": gen,
        "pretrain": {"batch_size": 64, "lr": 0.01, "grad_clip": 5.0},
        "eval": {"bleu_max_n": 5, "self_bleu": True, "n_print": 2},
        "keep_samples": 100,
    }
    if recipe == "mle":
        data["adversarial"] = {"rounds": 0}
        return data
    data.update(
        discriminator={
            "name": "cnn",
            "kwargs": {
                "embedding_dim": 32,
                "filter_sizes": [2, 3, 4, 5],
                "num_filters": [16, 16, 16, 16],
            },
            "lr": 1.0e-3,
            "batch_size": 64,
            "pretrain_epochs": 1,
        },
        env={
            "reward": {"name": "prob"},
            "reward_scheme": {"name": "mc_rollout", "kwargs": {"n_rollouts": 4}},
            "num_envs": 64,
        },
        algorithm={"name": "reinforce", "kwargs": {"discount": 0.0}},
        adversarial={"generator_steps": 1, "discriminator_rounds": 1, "discriminator_epochs": 1},
    )
    return data


def _fit(budget_s: float, unit_s: float, eval_s: float) -> int:
    """How many units (epochs, rounds) fit ``budget_s`` with about five evaluations."""
    unit_s = max(unit_s, 1e-4)
    n = (budget_s - 5 * eval_s) / unit_s
    if n < 5:  # evaluated after every unit
        n = budget_s / (unit_s + eval_s)
    return max(1, min(500, int(n)))


def _user_keys(overrides: list[str]) -> set[str]:
    return {item.partition("=")[0].strip() for item in overrides}


def plan_own_text(
    train_path: str,
    test_path: str | None = None,
    tokenizer: str = "nltk",
    recipe: str = "seqgan",
    minutes: float = DEFAULT_MINUTES,
    overrides: list[str] | None = None,
) -> OwnTextPlan:
    """Derive a config for training on ``train_path`` in about ``minutes`` minutes.

    Raises:
        DataError: a file is missing, empty or without usable sentences.
        ConfigError: a bad tokenizer, recipe, budget or ``--set`` override.
    """
    overrides = list(overrides or [])
    if recipe not in RECIPES:
        raise ConfigError(f"--recipe must be one of {', '.join(RECIPES)}, got {recipe!r}")
    if not (isinstance(minutes, (int, float)) and math.isfinite(minutes) and minutes > 0):
        raise ConfigError(f"--minutes must be a number > 0, got {minutes!r}")
    for label, path in (("--data", train_path), ("--test", test_path)):
        if path is not None and not Path(path).expanduser().is_file():
            what = "is a directory" if Path(path).expanduser().is_dir() else "file not found"
            raise DataError(f"{label} {path}: {what}")
    started = time.perf_counter()
    train = str(Path(train_path).expanduser().resolve())
    test = str(Path(test_path).expanduser().resolve()) if test_path else None
    sentences = _read_sentences(train, tokenizer)
    lengths = [len(tokens) for tokens in sentences]
    n_train = len(lengths)
    n_test = len(read_lines(test)) if test else 0
    ordered = sorted(lengths)
    max_len = min(MAX_LEN, max(MIN_LEN, _percentile(ordered, 0.95) + 1))
    counts = _word_counts(sentences, max_len)
    min_freq = 2 if len(counts) > LARGE_VOCAB else 1
    vocab_size = 4 + sum(1 for c in counts.values() if c >= min_freq)
    load_s = 2 * (time.perf_counter() - started)  # the trainer reads the files again

    data = _recipe_dict(recipe)
    data["name"] = sanitize_name(Path(train_path).stem)
    data["data"] = {
        "source": "corpus",
        "train_path": train,
        "test_path": test,
        "tokenizer": tokenizer,
        "max_len": max_len,
        "long_lines": "truncate",
        "min_freq": min_freq,
    }
    n_eval = min(1000, n_train)
    data["eval"].update(n_samples=n_eval, n_self_bleu=max(2, min(500, n_eval)))
    if recipe == "seqgan":
        data["discriminator"].update(n_negatives=min(2000, n_train), n_real=min(2000, n_train))
    data = apply_overrides(data, list(overrides))
    cfg = config_from_dict(data, where="--data")
    vocab_size = min(vocab_size, cfg.data.max_vocab or vocab_size)
    covered = sum(1 for n in lengths if n + 1 <= cfg.data.max_len) / n_train

    unit = calibrate(
        cfg,
        synthetic_data(lengths, vocab_size, cfg.data.max_len),
        discriminator=recipe != "mle" or cfg.adversarial.rounds > 0,
    )
    costs = phase_costs(cfg, n_train, n_test, unit)
    epoch_s, eval_s, round_s = costs.epoch_s, costs.eval_s, costs.round_s
    # one pretraining round (the config so far has the default count of them)
    dis_round_s = costs.dis_pretrain_s / max(cfg.discriminator.pretrain_rounds, 1)
    budget = 60.0 * minutes
    fixed = load_s + 0.5 + 2 * eval_s  # loading, the first and the last evaluation
    user = _user_keys(overrides)
    if cfg.adversarial.rounds == 0 and recipe == "mle":
        mle_budget, adv_budget = max(budget - fixed, 0.0), 0.0
    else:
        rest = max(budget - fixed - 2 * eval_s, 0.0)  # two more evaluations around the rounds
        mle_budget, adv_budget = MLE_SHARE * rest, (1 - MLE_SHARE) * rest
    # about five evaluations a phase: their cost comes out of the phase's share
    epochs = _fit(mle_budget, epoch_s, eval_s)
    chosen: dict[str, Any] = {"pretrain": {"epochs": epochs}, "eval": {}}
    chosen["eval"]["every_epochs"] = max(1, epochs // 5)
    chosen["pretrain"]["budget_minutes"] = round(max(mle_budget, epoch_s) * 1.5 / 60 + 0.05, 3)
    if recipe == "seqgan":
        dis_rounds = max(1, min(10, int(0.15 * adv_budget / max(dis_round_s, 1e-3))))
        adv_left = max(adv_budget - dis_rounds * dis_round_s, 0.0)
        rounds = _fit(adv_left, round_s, eval_s)
        chosen["discriminator"] = {"pretrain_rounds": dis_rounds}
        chosen["adversarial"] = {
            "rounds": rounds,
            "budget_minutes": round(max(adv_left, round_s) * 1.5 / 60 + 0.05, 3),
        }
        chosen["eval"]["every_rounds"] = max(1, rounds // 5)
    final = config_to_dict(cfg)
    for section, values in chosen.items():
        for key, value in values.items():
            if f"{section}.{key}" not in user:
                final[section][key] = value
    cfg = config_from_dict(apply_overrides(final, list(overrides)), where="--data with --set")
    costs = phase_costs(cfg, n_train, n_test, unit)  # --set may change them
    estimate = estimate_seconds(cfg, costs, load_s) + (time.perf_counter() - started)
    info = {
        "sentences": n_train,
        "test_sentences": n_test,
        "vocab_size": vocab_size,
        "distinct_words": len(counts),
        "max_len": cfg.data.max_len,
        "coverage": covered,
        "epochs": cfg.pretrain.epochs,
        "rounds": cfg.adversarial.rounds,
        "n_negatives": cfg.discriminator.n_negatives,
        "n_real": cfg.discriminator.n_real,
        "epoch_s": epoch_s,
        "round_s": costs.round_s,
        "estimate_s": estimate,
    }
    return OwnTextPlan(cfg, _summary(cfg, info, recipe, minutes), estimate, info)


def _summary(cfg: ExperimentConfig, info: dict[str, Any], recipe: str, minutes: float) -> str:
    d = cfg.data
    vocab = f"vocabulary: {info['vocab_size']} ids ({info['distinct_words']} distinct words"
    vocab += ", words seen once -> <unk>)" if d.min_freq > 1 else ")"
    lines = [
        f"own text: {info['sentences']} training sentences ({d.tokenizer} tokens)"
        + (f", {info['test_sentences']} test sentences" if d.test_path else ", no test file"),
        f"  {vocab}",
        f"  max_len: {d.max_len} (EOS included; covers {100 * info['coverage']:.1f}% of sentences)",
        f"  recipe: {recipe}; MLE epochs: {cfg.pretrain.epochs} (~{info['epoch_s']:.2f}s each)",
    ]
    if cfg.adversarial.rounds > 0:
        lines.append(
            f"  adversarial rounds: {cfg.adversarial.rounds} (~{info['round_s']:.2f}s each); "
            f"discriminator: {cfg.discriminator.n_negatives} negatives, "
            f"{cfg.discriminator.n_real or info['sentences']} real per round, "
            f"{cfg.discriminator.pretrain_rounds} pretraining round(s)"
        )
    lines.append(
        f"  estimated duration: {info['estimate_s']:.1f}s (budget {minutes:g} min; "
        f"calibrated on this machine)"
    )
    return "\n".join(lines)
