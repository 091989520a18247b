"""Property-based fuzzing of the user-error path: every bad input is a seqadv error that names
its culprit, never a raw exception from deep inside.

Classes fed here: ``--set`` values, whole configs, corpora, checkpoints and env actions (the
command-line arguments are fuzzed in tests/test_cli_errors.py).
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqadv.config import ExperimentConfig, config_from_dict, load_config
from seqadv.errors import SeqadvError
from seqadv.runs import load_checkpoint, save_checkpoint

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "experiments" / "mle_oracle_tiny.yaml"
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def leaf_keys(cls=ExperimentConfig, prefix=""):
    keys = []
    for f in dataclasses.fields(cls):
        full = f"{prefix}{f.name}"
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if dataclasses.is_dataclass(default):
            keys += leaf_keys(type(default), full + ".")
        else:
            keys.append(full)
    return keys


KEYS = leaf_keys()
yaml_scalars = st.one_of(
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.text(max_size=12),
    st.sampled_from(["[1, 2]", "{a: 1}", "-1", "0", "1e-4", "nan", ".inf", "'x'", "[", "{"]),
)


@FAST
@given(key=st.sampled_from(KEYS + ["pretrain.epochz", "nope", "data.source.x"]), value=yaml_scalars)
def test_set_values_either_load_or_are_blamed_on_set(key, value):
    item = f"{key}={value}"
    try:
        load_config(TINY, [item])
    except SeqadvError as exc:
        assert str(exc).startswith(f"--set {item}") or str(exc).startswith("--set "), str(exc)


@FAST
@given(
    data=st.dictionaries(
        st.sampled_from(["name", "seed", "threads", "data", "pretrain", "eval", "keep_samples", "x"]),
        st.one_of(yaml_scalars, st.dictionaries(st.sampled_from(["epochs", "lr", "n_train", "source"]), yaml_scalars, max_size=3)),
        max_size=4,
    )
)
def test_any_mapping_is_a_config_or_a_config_error(data):
    try:
        config_from_dict(data, where="fuzz.yaml")
    except SeqadvError as exc:
        assert str(exc).startswith("fuzz.yaml: "), str(exc)


@FAST
@given(
    lines=st.lists(
        st.one_of(st.text(max_size=40), st.just(""), st.just("word " * 40), st.binary(max_size=20).map(lambda b: b.decode("latin-1"))),
        max_size=12,
    ),
    long_lines=st.sampled_from(["truncate", "skip", "error"]),
)
def test_any_corpus_gives_data_or_an_error_naming_the_file(tmp_path, lines, long_lines):
    from seqadv.config import DataConfig
    from seqadv.experiment import build_data

    path = tmp_path / "fuzz.txt"
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8", "surrogatepass"))
    cfg = DataConfig(source="corpus", train_path=str(path), tokenizer="space", max_len=8, long_lines=long_lines)
    try:
        data = build_data(cfg)
    except SeqadvError as exc:
        assert "fuzz.txt" in str(exc), str(exc)
    else:
        assert data.train.shape[1] == 8 and data.train.shape[0] >= 1


@FAST
@given(cut=st.floats(0.0, 0.99), garbage=st.binary(max_size=64))
def test_any_damaged_checkpoint_is_a_checkpoint_error(tmp_path, cut, garbage):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"config": {}, "weights": torch.arange(50.0)})
    blob = path.read_bytes()
    path.write_bytes(blob[: int(len(blob) * cut)] + garbage)
    try:
        load_checkpoint(path)
    except SeqadvError as exc:
        assert str(path) in str(exc)


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    import pickle

    class Evil:
        def __reduce__(self):
            return (Path(tmp_path / "pwned").touch, ())

    path = tmp_path / "evil.pt"
    buffer = io.BytesIO()
    pickle.dump({"format": "seqadv.checkpoint/1", "x": Evil()}, buffer, protocol=2)
    path.write_bytes(buffer.getvalue())
    with pytest.raises(SeqadvError, match="refused or unreadable"):
        load_checkpoint(path)
    assert not (tmp_path / "pwned").exists()


actions = st.one_of(
    st.integers(-5, 40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=3),
    st.none(),
    st.lists(st.integers(0, 20), max_size=3),
)


@FAST
@given(action=actions)
def test_any_action_is_taken_or_refused_naming_the_action_space(action):
    from seqadv.envs.text_generation import TextGenerationEnv

    env = TextGenerationEnv()
    env.reset(seed=0)
    try:
        env.step(action)
    except ValueError as exc:
        assert "Discrete(16)" in str(exc) or "vocabulary" in str(exc), str(exc)


JUNK = ["wrong_shape", "ints", "list", "nan", "inf", "scalar", "none", "string", "raise"]


@pytest.mark.parametrize("kind", JUNK)
def test_a_user_reward_returning_junk_fails_before_training_naming_it(kind):
    from seqadv.adversarial import AdversarialTrainer
    from seqadv.rewards import REWARDS, register_reward

    def junk(logits, **kwargs):
        """A broken user reward."""
        return {
            "wrong_shape": lambda: torch.zeros(logits.shape[0] + 1),
            "ints": lambda: torch.ones_like(logits, dtype=torch.long) * 10**6,
            "list": lambda: [0.5] * logits.shape[0],
            "nan": lambda: torch.full_like(logits, float("nan")),
            "inf": lambda: torch.full_like(logits, float("inf")),
            "scalar": lambda: torch.tensor(0.5),
            "none": lambda: None,
            "string": lambda: "0.5",
            "raise": lambda: 1 / 0,
        }[kind]()

    register_reward("fuzz_junk_reward", level="any", override=True)(junk)
    try:
        cfg = load_config(REPO / "experiments" / "seqgan_oracle_tiny.yaml", ["env.reward=fuzz_junk_reward"])
        try:
            AdversarialTrainer(cfg)
        except SeqadvError as exc:
            assert "fuzz_junk_reward" in str(exc), str(exc)
        else:  # accepted: then it must have been a valid reward (ints of the right shape)
            assert kind == "ints"
    finally:
        REWARDS.remove("fuzz_junk_reward")
