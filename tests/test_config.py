"""seqadv.config: typed YAML configs, unknown keys, overrides, presets, round trips."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from seqadv.config import (
    ExperimentConfig,
    PretrainConfig,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    dump_config,
    load_config,
    read_yaml,
)
from seqadv.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
PRESETS = {
    "mle_oracle": REPO / "experiments" / "mle_oracle.yaml",
    "mle_oracle_tiny": REPO / "experiments" / "mle_oracle_tiny.yaml",
    "quickstart": REPO / "seqadv" / "presets" / "quickstart.yaml",
}


def write(tmp_path: Path, text: str, name: str = "c.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- defaults and presets --------------------------------------------------------------------------
def test_defaults_are_seqgan_settings():
    cfg = config_from_dict({})
    assert cfg.seed is None and cfg.threads == 1
    assert (cfg.data.source, cfg.data.vocab_size, cfg.data.max_len) == ("oracle", 5000, 20)
    assert (cfg.data.n_train, cfg.data.oracle_path) == (10_000, None)
    assert (cfg.pretrain.epochs, cfg.pretrain.batch_size, cfg.pretrain.lr) == (120, 64, 0.01)
    assert (cfg.generator.name, cfg.generator.kwargs) == ("lstm", {})  # lstm's defaults: 32, 32
    assert (cfg.env.name, cfg.env.reward_scheme, cfg.env.num_envs) == (
        "seqadv/TextGenerationMC-v0",
        None,
        64,
    )
    assert cfg.eval.n_samples == 10_000
    assert config_from_dict(None) == cfg


def shared_overrides(path: Path, request) -> list[str]:
    """--set items pointing a preset's ../shared/data files at the shared data found here."""
    items = []
    for section, values in (read_yaml(path) or {}).items():
        for key, value in (values or {}).items() if isinstance(values, dict) else ():
            if isinstance(value, str) and value.startswith("../shared/data/"):
                shared = request.getfixturevalue("shared_data")  # skips when absent
                items.append(f"{section}.{key}={shared / value.removeprefix('../shared/data/')}")
    return items


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_load_and_round_trip(name, request):
    cfg = load_config(PRESETS[name], shared_overrides(PRESETS[name], request))
    assert cfg.name == name
    again = config_from_dict(yaml.safe_load(dump_config(cfg)))
    assert again == cfg


def test_mle_oracle_preset_has_the_seqgan_protocol(request):
    cfg = load_config(PRESETS["mle_oracle"])
    assert cfg.data.oracle_path is None
    assert cfg.data.source == "oracle" and cfg.data.oracle_path is None
    assert (cfg.data.vocab_size, cfg.data.max_len, cfg.data.n_train) == (5000, 20, 10_000)
    assert (cfg.pretrain.batch_size, cfg.pretrain.epochs, cfg.pretrain.lr) == (64, 120, 0.01)
    assert cfg.eval.n_samples == 10_000
    assert cfg.adversarial.rounds == 0
    oracle = request.getfixturevalue("shared_data") / "seqgan_oracle.npz"  # skips if absent
    with_path = load_config(PRESETS["mle_oracle"], [f"data.oracle_path={oracle}"])
    assert with_path.data.oracle_path == str(oracle)


def test_tiny_preset_is_tiny():
    cfg = load_config(PRESETS["mle_oracle_tiny"])
    assert cfg.seed is not None
    assert 8 <= cfg.data.vocab_size <= 16 and 4 <= cfg.data.max_len <= 8
    assert cfg.generator.kwargs["hidden_dim"] <= 16 and cfg.pretrain.epochs <= 10


def test_an_empty_file_is_refused_not_read_as_the_full_default(tmp_path):
    with pytest.raises(ConfigError, match="the config file is empty"):
        load_config(write(tmp_path, ""))


# -- unknown keys and types ------------------------------------------------------------------------
def test_unknown_top_level_key_names_key_and_valid_keys(tmp_path):
    path = write(tmp_path, "name: x\nepochs: 3\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    msg = str(info.value)
    assert str(path) in msg and "unknown key 'epochs'" in msg
    for valid in ("name", "seed", "data", "pretrain", "eval"):
        assert valid in msg


def test_unknown_nested_key_suggests_close_match(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "pretrain:\n  epoch: 3\n"))
    msg = str(info.value)
    assert "unknown key 'pretrain.epoch'" in msg
    assert "did you mean 'epochs'?" in msg
    valid = ", ".join(f.name for f in dataclasses.fields(PretrainConfig))
    assert f"valid keys of pretrain: {valid}" in msg


def test_unknown_key_in_component_section():
    with pytest.raises(ConfigError, match="unknown key 'algorithm.nmae'"):
        config_from_dict({"algorithm": {"nmae": "reinforce"}})
    # kwargs of a component are free-form (checked by the registry, not here)
    cfg = config_from_dict({"algorithm": {"name": "reinforce", "kwargs": {"anything": 1}}})
    assert cfg.algorithm.kwargs == {"anything": 1}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"pretrain": {"epochs": "many"}}, "pretrain.epochs must be an integer, got 'many'"),
        ({"pretrain": {"epochs": True}}, "pretrain.epochs must be an integer"),
        ({"pretrain": {"epochs": 2.5}}, "pretrain.epochs must be an integer"),
        ({"pretrain": {"lr": "fast"}}, "pretrain.lr must be a number"),
        ({"pretrain": {"lr": None}}, "pretrain.lr must be a number, got None"),
        ({"data": {"n_train": None}}, "data.n_train must be an integer, got None"),
        ({"pretrain": 3}, "pretrain must be a mapping"),
        ({"eval": {"self_bleu": "yes"}}, "eval.self_bleu must be true or false"),
        ({"name": ["a"]}, "name must be a string"),
        ({"algorithm": {"kwargs": [1]}}, "algorithm.kwargs must be a mapping"),
        ({"data": {"source": "corpus"}}, "data.train_path is required"),
        ({"eval": {"temperature": 0}}, "eval.temperature must be > 0"),
        ({"pretrain": {"batch_size": 0}}, "pretrain.batch_size must be >= 1"),
        ({"env": {"num_envs": 0}}, "env.num_envs must be >= 1"),
        ({"env": {"reward_scheme": 3}}, "env.reward_scheme must be a mapping"),
    ],
)
def test_bad_values_name_the_key(data, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        config_from_dict(data, where="my.yaml")
    with pytest.raises(ConfigError, match="^my.yaml: "):
        config_from_dict(data, where="my.yaml")


def test_value_conversions():
    cfg = config_from_dict(
        {
            "pretrain": {"epochs": 3.0, "lr": "1e-4", "grad_clip": None},
            "name": 12,
            "seed": 5,
            "discriminator": {"lr": 1},
        }
    )
    assert cfg.pretrain.epochs == 3 and isinstance(cfg.pretrain.epochs, int)
    assert cfg.pretrain.lr == 1e-4  # YAML 1.1 reads 1e-4 as a string
    assert cfg.pretrain.grad_clip is None
    assert cfg.name == "12"
    assert cfg.discriminator.lr == 1.0 and isinstance(cfg.discriminator.lr, float)


def test_top_level_must_be_a_mapping(tmp_path):
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(write(tmp_path, "- a\n- b\n"))
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        config_from_dict([1, 2])  # type: ignore[arg-type]


# -- files -----------------------------------------------------------------------------------------
def test_missing_file_names_it(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=f"{path}: config file not found"):
        load_config(path)


def test_malformed_yaml_names_file_and_line(tmp_path):
    path = write(tmp_path, "name: x\npretrain:\n  epochs: 3\n  lr: [0.1, 0.2\n  batch_size: 4\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}:5: invalid YAML"), msg


def test_malformed_yaml_bad_indentation(tmp_path):
    path = write(tmp_path, "name: x\n  seed: 1\n")
    with pytest.raises(ConfigError, match=f"^{path}:2: invalid YAML"):
        load_config(path)


def test_non_utf8_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)


# -- overrides -------------------------------------------------------------------------------------
def test_overrides_apply_over_the_file(tmp_path):
    path = write(tmp_path, "name: x\npretrain:\n  epochs: 3\n")
    (tmp_path / "some").mkdir()
    (tmp_path / "some" / "oracle.npz").write_bytes(b"")  # it must exist (next to the config)
    cfg = load_config(
        path,
        [
            "pretrain.epochs=7",
            "pretrain.lr=0.5",
            "data.oracle_path=some/oracle.npz",
            "seed=11",
            "eval.n_bleu_samples=null",
            "algorithm.kwargs={discount: 0.9}",
            "name=with=equals",
        ],
    )
    assert cfg.pretrain.epochs == 7 and cfg.pretrain.lr == 0.5
    assert cfg.data.oracle_path == "some/oracle.npz"
    assert cfg.seed == 11 and cfg.eval.n_bleu_samples is None
    assert cfg.algorithm.kwargs == {"discount": 0.9}
    assert cfg.name == "with=equals"
    # the later override wins
    assert load_config(path, ["pretrain.epochs=1", "pretrain.epochs=2"]).pretrain.epochs == 2


def test_override_unknown_key_names_it():
    with pytest.raises(ConfigError) as info:
        load_config(None, ["pretrain.epoch=3"])
    assert "unknown key 'pretrain.epoch'" in str(info.value)
    assert "epochs" in str(info.value)
    with pytest.raises(ConfigError, match="unknown key 'nosuch'"):
        load_config(None, ["nosuch.key=1"])


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("pretrain.epochs", "expected KEY=VALUE"),
        ("=3", "empty key"),
        ("pretrain.epochs=[1", "not valid YAML"),
        ("name.first=3", "'name' is not a section"),
        ("pretrain.epochs=abc", "pretrain.epochs must be an integer, got 'abc'"),
        ("pretrain=3", "pretrain must be a mapping"),
    ],
)
def test_bad_overrides_fail_clearly(override, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(None, ["name=x", override])


def test_apply_overrides_in_place_on_nested_mapping():
    data = {"pretrain": {"epochs": 1, "lr": 0.1}}
    out = apply_overrides(data, ["pretrain.epochs=5", "eval.n_samples=3"])
    assert out is data
    assert data == {"pretrain": {"epochs": 5, "lr": 0.1}, "eval": {"n_samples": 3}}


# -- round trip ------------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(
    epochs=st.integers(0, 10_000),
    lr=st.floats(1e-6, 10.0, allow_nan=False),
    seed=st.none() | st.integers(0, 2**31 - 1),
    name=st.text(min_size=1, max_size=20).filter(
        lambda s: s.strip() == s and s.isprintable() and not ({"/", "\\"} & set(s)) and s[0] != "."
    ),
    clip=st.none() | st.floats(0.1, 100.0),
)
def test_dump_and_reload_round_trip(epochs, lr, seed, name, clip):
    cfg = config_from_dict(
        {
            "name": name,
            "seed": seed,
            "pretrain": {"epochs": epochs, "lr": lr, "grad_clip": clip},
            "algorithm": {"name": "pkg.mod:fn", "kwargs": {"a": [1, 2], "b": None}},
        }
    )
    assert config_from_dict(yaml.safe_load(dump_config(cfg))) == cfg
    assert config_from_dict(config_to_dict(cfg)) == cfg


def test_dump_lists_every_field():
    dumped = yaml.safe_load(dump_config(ExperimentConfig()))
    assert set(dumped) == {f.name for f in dataclasses.fields(ExperimentConfig)}
    assert set(dumped["pretrain"]) == {f.name for f in dataclasses.fields(PretrainConfig)}
    assert {"epochs", "batch_size", "lr", "grad_clip"} <= set(dumped["pretrain"])


@pytest.mark.parametrize(
    ("old", "new_key", "read"),
    [
        ({"adversarial": {"epochs": 3}}, "adversarial.rounds", lambda c: c.adversarial.rounds == 3),
        ({"env": {"batch_size": 8}}, "env.num_envs", lambda c: c.env.num_envs == 8),
        (
            {"env": {"mode": "mc_rollout_shaped", "n_rollouts": 4}},
            "env.reward_scheme",
            lambda c: (c.env.reward_scheme.name, c.env.reward_scheme.kwargs)
            == ("mc_rollout_shaped", {"n_rollouts": 4}),
        ),
        (
            {"env": {"mode": "terminal", "n_rollouts": 4}},  # n_rollouts never applied to it
            "env.reward_scheme",
            lambda c: (c.env.reward_scheme.name, c.env.reward_scheme.kwargs) == ("terminal", {}),
        ),
        (
            {"generator": {"embed_dim": 8, "init_std": None}},
            "generator.kwargs.embed_dim",
            lambda c: c.generator.kwargs == {"embed_dim": 8, "init_std": None},
        ),
    ],
)
def test_old_keys_work_for_one_version_with_a_warning_naming_the_new_key(old, new_key, read):
    with pytest.warns(DeprecationWarning, match=re.escape(new_key)):
        cfg = config_from_dict(old, where="old.yaml")
    assert read(cfg)


def test_old_and_new_key_together_is_an_error():
    with pytest.raises(ConfigError, match="adversarial.rounds or the deprecated adversarial.epochs"):
        config_from_dict({"adversarial": {"epochs": 3, "rounds": 2}})


def test_old_override_keys_set_the_new_ones():
    data = {"env": {"reward_scheme": {"name": "mc_rollout", "kwargs": {"n_rollouts": 4}}}}
    with pytest.warns(DeprecationWarning, match="env.reward_scheme.name"):
        apply_overrides(data, ["env.mode=mc_rollout_shaped", "adversarial.epochs=2"])
    cfg = config_from_dict(data)
    assert (cfg.env.reward_scheme.name, cfg.env.reward_scheme.kwargs) == (
        "mc_rollout_shaped",
        {"n_rollouts": 4},
    )
    assert cfg.adversarial.rounds == 2


def test_a_component_may_be_given_by_name_alone():
    cfg = config_from_dict({"env": {"reward_scheme": "per_token", "reward": "log_prob"}})
    assert (cfg.env.reward_scheme.name, cfg.env.reward.name) == ("per_token", "log_prob")
    data = {"env": {"reward_scheme": "mc_rollout"}}
    apply_overrides(data, ["env.reward_scheme.kwargs.n_rollouts=2"])
    assert config_from_dict(data).env.reward_scheme.kwargs == {"n_rollouts": 2}



@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"data": {"vocab_size": 1}}, "data.vocab_size must be >= 2, got 1"),
        ({"data": {"n_test": -1}}, "data.n_test must be >= 0, got -1"),
        ({"data": {"tokenizer": "bpe"}}, "data.tokenizer must be one of nltk, space, char"),
        ({"pretrain": {"lr": -1}}, "pretrain.lr must be > 0, got -1.0"),
        ({"pretrain": {"budget_minutes": -5}}, "pretrain.budget_minutes must be > 0"),
        ({"discriminator": {"batch_size": 0}}, "discriminator.batch_size must be an even number"),
        ({"discriminator": {"batch_size": 7}}, "discriminator.batch_size must be an even number"),
        ({"adversarial": {"budget_minutes": 0}}, "adversarial.budget_minutes must be > 0"),
        ({"adversarial": {"generator_steps": 0}}, "adversarial.generator_steps must be >= 1"),
        ({"eval": {"bleu_max_n": 100000000}}, "eval.bleu_max_n must be in 2..10"),
        ({"eval": {"bleu_max_n": 1}}, "eval.bleu_max_n must be in 2..10"),
        ({"threads": 999999999999}, "threads must be in 1.."),
        ({"data": {"oracle_seed": -1}}, "data.oracle_seed must be >= 0"),
        ({"seed": -4}, "seed must be in 0..2**63-1"),
        ({"eval": {"temperature": float("nan")}}, "eval.temperature must be > 0"),
        ({"keep_samples": -1}, "keep_samples must be >= 0, got -1"),
        ({"name": "../escape"}, "name must be a plain name"),
    ],
)
def test_every_range_is_checked_at_load_time(data, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        config_from_dict(data, where="my.yaml")


def test_a_key_given_twice_names_both_lines(tmp_path):
    path = write(tmp_path, "name: a\npretrain:\n  epochs: 1\n  epochs: 2\n")
    with pytest.raises(ConfigError, match=r"key 'epochs' is given twice \(lines 3 and 4\)") as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_bad_set_values_are_blamed_on_set_not_on_the_file(tmp_path):
    path = write(tmp_path, "name: a\npretrain: {epochs: 1}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, ["pretrain.lr=-3"])
    assert str(info.value).startswith("--set pretrain.lr=-3: pretrain.lr must be > 0")
    with pytest.raises(ConfigError) as info:
        load_config(path, ["pretrain.epochz=3"])
    assert str(info.value).startswith("--set pretrain.epochz=3: unknown key 'pretrain.epochz'")
    bad_file = write(tmp_path, "name: a\npretrain: {lr: -1}\n")
    with pytest.raises(ConfigError) as info:
        load_config(bad_file, ["pretrain.epochs=3"])
    assert str(info.value).startswith(str(bad_file))



def test_input_files_must_exist_where_the_config_says(tmp_path):
    path = write(tmp_path, "name: a\ndata: {source: corpus, train_path: missing.txt}\n")
    with pytest.raises(ConfigError, match=r"data.train_path: missing.txt not found \(nor .*missing.txt\)"):
        load_config(path)
    (tmp_path / "here.txt").write_text("a b\n")
    beside = write(tmp_path, "name: a\ndata: {source: corpus, train_path: here.txt}\n", "b.yaml")
    assert load_config(beside).data.train_path == "here.txt"  # next to the config is fine
    with pytest.raises(ConfigError, match="^--set pretrain.init_checkpoint=nope.pt: "):
        load_config(beside, ["pretrain.init_checkpoint=nope.pt"])


def test_setting_another_algorithm_drops_the_old_ones_kwargs():
    data = {"algorithm": {"name": "reinforce", "kwargs": {"discount": 0.0, "reduction": "sum"}}}
    apply_overrides(data, ["algorithm.name=sb3:PPO"])
    assert data["algorithm"] == {"name": "sb3:PPO"}
    data = {"algorithm": {"name": "reinforce", "kwargs": {"discount": 0.0}}}
    apply_overrides(data, ["algorithm.name=reinforce", "algorithm.kwargs.baseline=ema"])
    assert data["algorithm"]["kwargs"] == {"discount": 0.0, "baseline": "ema"}
    data = {"algorithm": {"name": "reinforce", "kwargs": {"discount": 0.0}}}
    apply_overrides(data, ["algorithm.name=sb3:A2C", "algorithm.kwargs.gamma=1.0"])
    assert data["algorithm"] == {"name": "sb3:A2C", "kwargs": {"gamma": 1.0}}
