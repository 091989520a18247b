"""The ``seqadv`` command: train, sample, eval, list presets, oracle import-seqgan / info.

Errors exit with code 2 and a one-line message, never a traceback.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

import seqadv
from seqadv.algorithms.mle import MLELearner
from seqadv.cli import main
from seqadv.data.oracle import SEQGAN_PICKLE_ORDER, load_oracle_npz, seeded_oracle_arrays
from seqadv.runs import RunDir

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "experiments" / "mle_oracle_tiny.yaml"


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_clean_error(code: int, err: str, *fragments: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    assert "seqadv: error: " in err
    for fragment in fragments:
        assert fragment in err, err


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """The tiny preset trained through the command line, once."""
    logger = logging.getLogger("seqadv")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    out = tmp_path_factory.mktemp("cli") / "run"
    try:
        assert main(["-q", "train", str(TINY), "--out", str(out)]) == 0
    finally:
        logger.handlers[:], logger.level, logger.propagate = saved
    return out


# -- train -----------------------------------------------------------------------------------------
def test_train_writes_a_run_and_prints_what_it_achieved(tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, err = run_cli(
        capsys, "-q", "train", str(TINY), "--out", str(out), "--set", "pretrain.epochs=2",
        "--set", "eval.every_epochs=1",
    )  # fmt: skip
    assert code == 0, err
    assert f"run: {out}" in stdout and "(seed 7, 1 torch thread(s))" in stdout
    assert "eval/nll_oracle" in stdout and "eval/nll_test" in stdout
    assert f"learning curve: {out / 'plots' / 'learning_curve.png'}" in stdout
    assert (out / "plots" / "learning_curve.png").read_bytes().startswith(b"\x89PNG")
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["pretrain"]["epochs"] == 2 and saved["eval"]["every_epochs"] == 1
    assert [r["epoch"] for r in RunDir(out).read_metrics()] == [0, 1, 2]


def test_command_txt_records_the_command_given_to_main(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["-q", "train", str(TINY), "--out", str(out), "--set", "pretrain.epochs=1"]
    assert run_cli(capsys, *args)[0] == 0
    assert "train" in (out / "command.txt").read_text()
    assert "pretrain.epochs=1" in (out / "command.txt").read_text()


def test_train_without_out_makes_a_new_directory(tmp_path, capsys):
    args = ["-q", "train", str(TINY), "--runs-root", str(tmp_path), "--set", "pretrain.epochs=1"]
    assert run_cli(capsys, *args)[0] == 0
    (run,) = tmp_path.iterdir()
    assert run.name.startswith("mle_oracle_tiny-")
    assert (run / "checkpoints" / "last.pt").is_file()


def test_train_refuses_to_overwrite_a_run(trained, capsys):
    code, _, err = run_cli(capsys, "train", str(TINY), "--out", str(trained))
    assert_clean_error(code, err, "already holds a run", f"--resume {trained}")


def test_interrupted_train_resumes_to_the_same_result(tmp_path, capsys, monkeypatch, trained):
    original = MLELearner.train_epoch
    calls = {"n": 0}

    def stop_on_third(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(MLELearner, "train_epoch", stop_on_third)
    out = tmp_path / "run"
    code, _, err = run_cli(capsys, "-q", "train", str(TINY), "--out", str(out))
    assert code == 130
    assert f"seqadv train --resume {out}" in err and "Traceback" not in err
    monkeypatch.undo()
    code, stdout, err = run_cli(capsys, "-q", "train", "--resume", str(out))
    assert code == 0, err
    assert f"run: {out}" in stdout

    def evals(run):
        return [
            {k: v for k, v in r.items() if k.startswith("eval/")}
            for r in RunDir(run).read_metrics()
        ]

    assert evals(out) == evals(trained)
    assert len((out / "command.txt").read_text().splitlines()) == 2  # started, then resumed


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["train", "no/such/config.yaml"], ["no/such/config.yaml: no such config file or preset"]),
        (["train", "no_such_preset"], ["no such config file or preset", "quickstart"]),
        (
            ["train", str(TINY), "--set", "pretrain.epoch=3"],
            ["unknown key 'pretrain.epoch'", "epochs, batch_size"],
        ),
        (["train", str(TINY), "--set", "pretrain.epochs"], ["expected KEY=VALUE"]),
        (
            ["train", str(TINY), "--set", "pretrain.epochs=lots"],
            ["pretrain.epochs must be an integer"],
        ),
        (
            ["train", str(TINY), "--set", "data.source=web"],
            ["data.source: unknown data source 'web'", "corpus, infilling, letor, oracle"],
        ),
    ],
)
def test_train_errors_exit_2_with_a_message(tmp_path, capsys, args, fragments):
    code, _, err = run_cli(capsys, *args, "--out", str(tmp_path / "run"))
    assert_clean_error(code, err, *fragments)
    assert not (tmp_path / "run" / "checkpoints" / "last.pt").exists()


def test_out_is_a_file(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    code, _, err = run_cli(capsys, "train", str(TINY), "--out", str(tmp_path / "file"))
    assert_clean_error(code, err, "cannot be a run directory")


def test_unknown_key_in_the_file(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text(TINY.read_text() + "\nlearning_rate: 3\n")
    code, _, err = run_cli(capsys, "train", str(config), "--out", str(tmp_path / "run"))
    assert_clean_error(code, err, str(config), "unknown key 'learning_rate'", "valid keys")


def test_malformed_yaml_names_file_and_line(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("name: x\npretrain:\n  epochs: [3\n  lr: 0.1\n")
    code, _, err = run_cli(capsys, "train", str(config), "--out", str(tmp_path / "run"))
    assert_clean_error(code, err, f"{config}:4: invalid YAML")


def test_resume_errors(tmp_path, capsys, trained):
    code, _, err = run_cli(capsys, "train", "--resume", str(tmp_path))
    assert_clean_error(code, err, "no config.yaml")
    code, _, err = run_cli(capsys, "train", str(TINY), "--resume", str(trained))
    assert_clean_error(code, err, "drop CONFIG")


def test_errors_exit_2_from_a_fresh_interpreter(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "seqadv.cli", "oracle", "import-seqgan", "missing.pkl", "o.npz"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == "seqadv: error: missing.pkl: file not found"
    assert not (tmp_path / "o.npz").exists()


# -- sample ----------------------------------------------------------------------------------------
def test_sample_is_reproducible(trained, capsys):
    code, first, _ = run_cli(capsys, "sample", str(trained), "-n", "20", "--seed", "3")
    assert code == 0
    assert run_cli(capsys, "sample", str(trained), "-n", "20", "--seed", "3")[1] == first
    assert (
        run_cli(
            capsys, "sample", str(trained / "checkpoints" / "last.pt"), "-n", "20", "--seed", "3"
        )[1]
        == first
    )
    assert run_cli(capsys, "sample", str(trained), "-n", "20", "--seed", "4")[1] != first
    lines = first.splitlines()
    assert len(lines) == 20
    for line in lines:
        ids = [int(t) for t in line.split()]
        assert len(ids) == 6 and all(0 <= i < 16 for i in ids)


def test_sample_temperature_and_out_file(trained, capsys, tmp_path):
    out = tmp_path / "s.txt"
    code, stdout, err = run_cli(
        capsys, "sample", str(trained), "-n", "2000", "--temperature", "0.2", "--out", str(out)
    )
    assert code == 0 and stdout == "" and "wrote 2000 samples" in err
    cold = out.read_text().splitlines()
    warm = run_cli(capsys, "sample", str(trained), "-n", "2000", "--temperature", "5")[
        1
    ].splitlines()
    assert len(cold) == len(warm) == 2000
    assert len(set(cold)) < len(set(warm))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_sample_errors(tmp_path, capsys):
    code, _, err = run_cli(capsys, "sample", str(tmp_path / "missing.pt"))
    assert_clean_error(code, err, "checkpoint not found")
    code, _, err = run_cli(capsys, "sample", str(tmp_path))
    assert_clean_error(code, err, "no checkpoints/last.pt")

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch '{tmp_path / 'pwned'}'",))

    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"format": "seqadv.checkpoint/1", "x": Payload()}))
    code, _, err = run_cli(capsys, "sample", str(evil))
    assert_clean_error(code, err, "weights_only")
    assert not (tmp_path / "pwned").exists()


# -- eval ------------------------------------------------------------------------------------------
def test_eval_json(trained, capsys):
    code, stdout, err = run_cli(capsys, "eval", str(trained), "--json", "--n-samples", "300")
    assert code == 0, err
    result = json.loads(stdout)
    assert result["checkpoint"] == str(trained / "checkpoints" / "last.pt")
    assert (result["seed"], result["n_samples"], result["temperature"]) == (0, 300, 1.0)
    last = RunDir(trained).read_metrics()[-1]
    # NLL-test does not depend on sampling: it must equal the run's own final evaluation
    assert result["eval/nll_test"] == pytest.approx(last["eval/nll_test"], rel=1e-9)
    assert 0 < result["eval/nll_oracle"] < 10
    assert abs(result["eval/nll_oracle"] - last["eval/nll_oracle"]) < 0.3
    again = json.loads(run_cli(capsys, "eval", str(trained), "--json", "--n-samples", "300")[1])
    assert again == result
    other = json.loads(
        run_cli(capsys, "eval", str(trained), "--json", "--n-samples", "300", "--seed", "1")[1]
    )
    assert other["eval/nll_oracle"] != result["eval/nll_oracle"]


def test_eval_with_an_oracle_path_relative_to_the_config(tmp_path, capsys, monkeypatch):
    from seqadv.models.oracle import OracleLSTM

    configs = tmp_path / "configs"
    configs.mkdir()
    OracleLSTM.from_seed(1, vocab_size=10, embed_dim=8, hidden_dim=8, max_len=6).save_npz(
        configs / "oracle.npz"
    )
    config = configs / "c.yaml"
    config.write_text(
        TINY.read_text().replace("source: oracle", "source: oracle\n  oracle_path: oracle.npz")
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    args = ["-q", "train", str(config), "--out", "run", "--set", "pretrain.epochs=1"]
    assert run_cli(capsys, *args)[0] == 0
    code, stdout, err = run_cli(capsys, "eval", "run", "--json", "--n-samples", "50")
    assert code == 0, err
    assert "eval/nll_oracle" in json.loads(stdout)


def test_eval_text_and_errors(trained, capsys, tmp_path):
    code, stdout, _ = run_cli(capsys, "eval", str(trained), "--n-samples", "50")
    assert code == 0
    assert any(line.startswith("eval/nll_oracle") for line in stdout.splitlines())
    code, _, err = run_cli(capsys, "eval", str(trained), "--set", "data.nosuch=1")
    assert_clean_error(code, err, "unknown key 'data.nosuch'")
    code, _, err = run_cli(capsys, "eval", str(tmp_path))
    assert_clean_error(code, err, "no checkpoints/last.pt")


# -- oracle ----------------------------------------------------------------------------------------
def test_oracle_import_seqgan_equals_the_shared_npz(shared_data, tmp_path, capsys):
    out = tmp_path / "oracle.npz"
    code, stdout, err = run_cli(
        capsys,
        "oracle",
        "import-seqgan",
        str(shared_data / "seqgan_target_params_py3.pkl"),
        str(out),
    )
    assert code == 0, err
    assert f"wrote {out}: V=5000, embedding 32, hidden 32" in stdout
    converted, expected = load_oracle_npz(out), load_oracle_npz(shared_data / "seqgan_oracle.npz")
    assert sorted(converted) == sorted(expected)
    for k in expected:
        assert converted[k].dtype == expected[k].dtype
        assert np.array_equal(converted[k], expected[k]), k


def test_oracle_import_of_a_small_pickle(tmp_path, capsys):
    arrays = seeded_oracle_arrays(0, 10, 4, 6)
    pkl = tmp_path / "p.pkl"
    pkl.write_bytes(pickle.dumps([arrays[k] for k in SEQGAN_PICKLE_ORDER]))
    code, stdout, _ = run_cli(capsys, "oracle", "import-seqgan", str(pkl), str(tmp_path / "o.npz"))
    assert code == 0 and "V=10, embedding 4, hidden 6" in stdout
    code, stdout, _ = run_cli(
        capsys, "oracle", "info", str(tmp_path / "o.npz"), "--max-len", "5", "-n", "200"
    )
    assert code == 0
    assert "V=10, T=5, hidden 6" in stdout
    nll = float(stdout.split("NLL of its own 200 samples: ")[1].split()[0])
    assert 0 < nll < np.log(10) + 1


def test_oracle_import_refuses_a_malicious_pickle(tmp_path, capsys):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch '{marker}'",))

    pkl = tmp_path / "evil.pkl"
    pkl.write_bytes(pickle.dumps([Payload()]))
    out = tmp_path / "o.npz"
    code, _, err = run_cli(capsys, "oracle", "import-seqgan", str(pkl), str(out))
    assert_clean_error(
        code, err, "refused to load", "posix.system" if os.name == "posix" else "system"
    )
    assert not marker.exists() and not out.exists()
    code, _, err = run_cli(capsys, "oracle", "import-seqgan", str(tmp_path / "none.pkl"), str(out))
    assert_clean_error(code, err, "file not found")


def test_oracle_info_of_the_seeded_oracle(capsys):
    code, stdout, _ = run_cli(capsys, "oracle", "info", "--seed", "1", "--max-len", "4", "-n", "50")
    assert code == 0
    assert "seeded oracle (seed=1)" in stdout and "V=5000, T=4, hidden 32" in stdout


# -- list, version, help ---------------------------------------------------------------------------
def test_list_presets(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    code, stdout, _ = run_cli(capsys, "list", "presets")
    assert code == 0
    lines = stdout.splitlines()
    assert any(line.startswith("quickstart") and "built-in" in line for line in lines)
    for name in ("mle_oracle", "mle_oracle_tiny"):
        assert any(line.split()[0] == name and "experiments" in line for line in lines)
    assert run_cli(capsys, "list")[1] == stdout  # presets is the default


def test_list_runs(trained, capsys):
    code, stdout, _ = run_cli(capsys, "list", "runs", "--runs-root", str(trained.parent))
    assert code == 0 and f"{trained}" in stdout and "checkpointed" in stdout


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"seqadv {seqadv.__version__}"
    code, stdout, _ = run_cli(capsys)
    assert code == 0 and "train" in stdout and "sample" in stdout
    with pytest.raises(SystemExit) as info:
        main(["train", "--no-such-flag"])
    assert info.value.code == 2


@pytest.mark.parametrize("what", sorted(__import__("seqadv.cli").cli.REGISTRIES))
def test_list_shows_every_registry(capsys, what):
    from seqadv.cli import _registry

    code, stdout, _ = run_cli(capsys, "list", what)
    assert code == 0
    names = _registry(what).names()
    assert names and all(name in stdout for name in names)


def test_presets_resolve_by_name_from_any_directory_and_list_only_trainable_ones(tmp_path, capsys, monkeypatch):
    from seqadv.cli import find_preset

    monkeypatch.chdir(tmp_path)
    assert find_preset("seqgan_oracle_tiny").name == "seqgan_oracle_tiny.yaml"
    code, stdout, _ = run_cli(capsys, "list", "presets")
    assert code == 0 and "seqgan_oracle_tiny" in stdout and "compare_algorithms" not in stdout
    line = next(row for row in stdout.splitlines() if row.startswith("seqgan_oracle "))
    assert line.rstrip().endswith(")") or line.rstrip().endswith(".")  # a whole sentence


def test_a_failed_start_leaves_no_run_directory(tmp_path, capsys):
    root = tmp_path / "runs"
    code, _, err = run_cli(
        capsys, "train", "seqgan_oracle_tiny", "--runs-root", str(root),
        "--set", "discriminator.kwargs.embedding_dim=0",
    )
    assert code == 2 and "embedding_dim" in err
    assert not root.exists() or not any(root.iterdir())
    out = tmp_path / "given"
    out.mkdir()
    code, _, _ = run_cli(capsys, "train", "seqgan_oracle_tiny", "--out", str(out), "--set", "discriminator.kwargs.embedding_dim=0")
    assert code == 2 and out.is_dir() and not any(out.iterdir())  # the given folder stays, empty


def test_sample_and_eval_share_one_stream_and_a_short_sample_is_the_head_of_a_long_one(
    capsys, trained, tmp_path
):
    def sample(n, seed=3):
        code, out, _ = run_cli(capsys, "sample", str(trained), "-n", str(n), "--seed", str(seed), "--ids")
        assert code == 0
        return out.splitlines()

    long = sample(50)
    assert sample(5) == long[:5] and len(long) == 50
    assert sample(5, seed=4) != long[:5]
    code, first, _ = run_cli(capsys, "eval", str(trained), "--json", "--n-samples", "50", "--seed", "3")
    code2, again, _ = run_cli(capsys, "eval", str(trained), "--json", "--n-samples", "50", "--seed", "3")
    assert code == code2 == 0 and first == again
    import torch

    from seqadv.cli import _load_generator, _load_run
    from seqadv.evaluation import cli_samples

    gen, _, _ = _load_generator(_load_run(str(trained), [])[1])
    assert torch.equal(cli_samples(gen, 5, 3), cli_samples(gen, 50, 3)[:5])  # eval's stream too
