"""A run directory is data: loading one runs no code it names, one writer at a time.

One test per way a run directory used to be trusted: a config (in the checkpoint or
config.yaml) naming a plugin or an installed module to import, a checkpoint whose config is
not the config.yaml shown, two writers of one run, a reused directory that is not a run,
temporary files left by a killed writer, SIGTERM, and a run name that escapes --runs-root.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from seqadv.adversarial import AdversarialTrainer, registered_component
from seqadv.cli import main
from seqadv.config import load_config
from seqadv.errors import ConfigError, SeqadvError
from seqadv.rundir import (
    LOCK_NAME,
    ConfigMismatchError,
    ForeignCodeError,
    NotARunError,
    RunDir,
    RunInUseError,
    RunLock,
    check_imports,
    component_names,
    read_run,
)
from seqadv.runs import load_checkpoint

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "experiments" / "mle_oracle_tiny.yaml"
PLUGIN = "seqadv_plugin"


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A finished tiny run (2 epochs), trained once through the command line; copied per test."""
    logger = logging.getLogger("seqadv")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    out = tmp_path_factory.mktemp("template") / "run"
    try:
        assert (
            main(["-q", "train", str(TINY), "--out", str(out), "--set", "pretrain.epochs=2"]) == 0
        )
    finally:
        logger.handlers[:], logger.level, logger.propagate = saved
    return out


@pytest.fixture
def run(template, tmp_path) -> Path:
    path = tmp_path / "run"
    shutil.copytree(template, path)
    return path


@pytest.fixture
def plugin(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """``seqadv_plugin.py`` dropped where Python imports from; importing it writes a marker."""
    folder = tmp_path / "dropped"
    folder.mkdir()
    marker = tmp_path / "plugin-was-imported"
    (folder / f"{PLUGIN}.py").write_text(
        f"from pathlib import Path\n"
        f"Path({str(marker)!r}).write_text('imported')\n"
        "def f(logits, **kwargs):\n"
        "    return logits.sigmoid()\n"
        "def source(cfg, base_dir=None):\n"
        "    from seqadv.experiment import DATA_SOURCES\n"
        "    return DATA_SOURCES.make('oracle', cfg=cfg, base_dir=base_dir)\n"
    )
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, PLUGIN, raising=False)
    yield folder, marker
    sys.modules.pop(PLUGIN, None)


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_refused(code: int, err: str, *fragments: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    assert "seqadv: error: " in err
    for fragment in fragments:
        assert fragment in err, err


def snapshot(path: Path) -> dict[str, tuple]:
    """Every file and folder under ``path``: bytes' digest and mtime (folders: mtime)."""
    out: dict[str, tuple] = {".": ("dir", path.stat().st_mtime_ns)} if path.exists() else {}
    for p in sorted(path.rglob("*")) if path.exists() else []:
        rel = str(p.relative_to(path))
        if p.is_dir():
            out[rel] = ("dir", p.stat().st_mtime_ns)
        else:
            out[rel] = (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
    return out


def edit_config(run: Path, key: str, value, where=("config.yaml", "checkpoint")) -> None:
    """Set ``key`` (dotted) in the run's config.yaml and/or its checkpoint's config."""

    def put(data: dict) -> None:
        *parents, last = key.split(".")
        for part in parents:
            data = data[part]
        data[last] = value

    if "config.yaml" in where:
        data = yaml.safe_load((run / "config.yaml").read_text())
        put(data)
        (run / "config.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    if "checkpoint" in where:
        ckpt_path = run / "checkpoints" / "last.pt"
        ckpt = torch.load(ckpt_path, weights_only=True)
        put(ckpt["config"])
        torch.save(ckpt, ckpt_path)


# -- 1. code named by a run ----------------------------------------------------------------------
def test_a_checkpoint_edited_to_name_a_plugin_is_refused_as_not_the_config_shown(
    run, plugin, capsys
):
    """The reproduction: only last.pt names the plugin; config.yaml (the config shown) does not."""
    _, marker = plugin
    edit_config(run, "env.reward.name", f"{PLUGIN}:f", where=("checkpoint",))
    before = snapshot(run)
    code, _, err = run_cli(capsys, "train", "--resume", str(run))
    assert_refused(code, err, "config.yaml", "disagree on env.reward.name", f"{PLUGIN}:f")
    assert not marker.exists() and PLUGIN not in sys.modules
    assert snapshot(run) == before
    for command in ("eval", "sample"):  # they read config.yaml too
        code, _, err = run_cli(capsys, command, str(run))
        assert_refused(code, err, "disagree on env.reward.name")
    assert not marker.exists()


def test_a_plugin_the_run_names_is_not_imported_without_allow_import(run, plugin, capsys):
    _, marker = plugin
    for key, name in (("env.reward.name", f"{PLUGIN}:f"), ("data.source", f"{PLUGIN}:source")):
        edit_config(run, key, name)
    before = snapshot(run)
    for argv in (
        ["train", "--resume", str(run)],
        ["train", "--resume", str(run), "--allow-import", "seqadv_plug"],  # not the module
        ["eval", str(run)],
        ["sample", str(run)],
        ["sample", str(run / "checkpoints" / "last.pt")],
    ):
        code, _, err = run_cli(capsys, *argv)
        assert_refused(
            code,
            err,
            f"env.reward.name: '{PLUGIN}:f' would import module '{PLUGIN}'",
            f"data.source: '{PLUGIN}:source' would import module '{PLUGIN}'",
            f"--allow-import {PLUGIN}",
            "Nothing was imported",
        )
        assert not marker.exists(), argv
        assert PLUGIN not in sys.modules
        assert snapshot(run) == before, argv
    with pytest.raises(ForeignCodeError, match="allow_imports"):
        AdversarialTrainer.resume(run)
    assert not marker.exists() and snapshot(run) == before


def test_allow_import_names_the_module_and_the_resume_proceeds(run, plugin, capsys):
    _, marker = plugin
    edit_config(run, "data.source", f"{PLUGIN}:source")
    code, stdout, err = run_cli(
        capsys, "-q", "train", "--resume", str(run), "--allow-import", PLUGIN
    )
    assert code == 0, err
    assert marker.read_text() == "imported"
    assert f"run: {run}" in stdout
    assert len((run / "command.txt").read_text().splitlines()) == 2  # started, then resumed
    code, stdout, err = run_cli(capsys, "eval", str(run), "--json", "--allow-import", PLUGIN)
    assert code == 0, err
    code, _, err = run_cli(capsys, "train", str(TINY), "--allow-import", PLUGIN)
    assert_refused(code, err, "--allow-import and --allow-changed-data are for --resume")


def test_an_installed_module_named_by_a_run_is_not_imported(run, tmp_path, capsys):
    """``this`` prints the Zen of Python when imported: any module's import-time code counts."""
    imported_before = "this" in sys.modules
    edit_config(run, "env.reward.name", "this:s")
    bare = tmp_path / "elsewhere" / "model.pt"  # a bare .pt: its own config is the only one
    bare.parent.mkdir()
    shutil.copy(run / "checkpoints" / "last.pt", bare)
    before = snapshot(run)
    for argv in (
        ["train", "--resume", str(run)],
        ["eval", str(run)],
        ["sample", str(run)],
        ["eval", str(bare)],
        ["sample", str(bare)],
    ):
        code, out, err = run_cli(capsys, *argv)
        assert_refused(code, err, "env.reward.name: 'this:s' would import module 'this'")
        assert "Zen of Python" not in out + err
    assert ("this" in sys.modules) == imported_before
    assert snapshot(run) == before
    cfg, _, where = read_run(bare)
    with pytest.raises(ForeignCodeError, match=re.escape(str(bare))):  # names the file
        check_imports(cfg, registered_component, where=where)


def test_registered_names_and_seqadv_modules_are_not_foreign():
    names = {
        "algorithm.name": ["sb3:PPO", "sb3_contrib:MaskablePPO", "stable_baselines3:PPO"],
        "env.reward.name": ["prob", "seqadv.rewards.builtin:prob"],
        "discriminator.name": ["cnn"],
    }
    for key, values in names.items():
        for value in values:
            cfg = load_config(TINY, [f"{key}={value}"])
            assert check_imports(cfg, registered_component) == []
    # a name registered at run time (or an installed package's entry point) is a registry name
    from seqadv.rewards import REWARDS

    REWARDS.add("myplugin:bonus", lambda logits, **kw: logits, override=True)
    try:
        cfg = load_config(TINY, ["env.reward.name=myplugin:bonus"])
        assert check_imports(cfg, registered_component) == []
    finally:
        REWARDS.remove("myplugin:bonus")
    # sb3's prefix is an algorithm's only: as a reward it is a module to import
    cfg = load_config(TINY, ["env.reward.name=sb3:PPO"])
    with pytest.raises(
        ForeignCodeError, match="env.reward.name: 'sb3:PPO' would import module 'sb3'"
    ):
        check_imports(cfg, registered_component)


def test_every_component_key_is_scanned_and_nested_names_too():
    cfg = load_config(
        TINY,
        [
            "generator.name=a:g",
            "discriminator.name=b:d",
            "env.name=c:e",
            "env.reward.name=d:r",
            "env.reward_scheme.name=e:s",
            "algorithm.name=f:a",
            "data.source=g:src",
            "eval.metrics=[nll_test, 'h.sub:m']",
            "algorithm.kwargs.advantage={name: 'i:adv'}",
            "env.kwargs.reward_scheme=j:sch",
            "discriminator.kwargs.head={name: 'k:head', kwargs: {}}",
        ],
    )
    with pytest.raises(ForeignCodeError) as info:
        check_imports(cfg, registered_component, allow_imports=["a"], where="c.yaml")
    message = str(info.value)
    assert "generator.name" not in message  # allowed by name
    for key, module in [
        ("discriminator.name", "b"),
        ("env.name", "c"),
        ("env.reward.name", "d"),
        ("env.reward_scheme.name", "e"),
        ("algorithm.name", "f"),
        ("data.source", "g"),
        ("eval.metrics[1]", "h.sub"),
        ("algorithm.kwargs.advantage.name", "i"),
        ("env.kwargs.reward_scheme", "j"),
        ("discriminator.kwargs.head.name", "k"),
    ]:
        assert f"{key}: " in message and f"would import module '{module}'" in message, key
    assert "--allow-import h.sub" in message and "--allow-import h " not in message
    assert {k for k, _, _ in component_names(cfg)} >= {"data.source", "eval.metrics[0]"}


def test_built_in_registry_names_never_need_an_import():
    """The scan trusts ``name in registry``; only SB3's package:Class names hold a ':'."""
    from seqadv.cli import REGISTRIES
    from seqadv.registry import import_dotted
    from seqadv.rewards import REWARDS

    for kind, where in REGISTRIES.items():
        for name in import_dotted(where).names():
            assert ":" not in name or kind == "algorithms", (kind, name)
            assert registered_component(kind, name), (kind, name)
    assert all(":" not in n for n in REWARDS.names())


def test_plot_builds_nothing_from_the_config(run, plugin, tmp_path, capsys):
    _, marker = plugin
    edit_config(run, "env.reward.name", f"{PLUGIN}:f")
    code, _, err = run_cli(capsys, "plot", str(run), "--out", str(tmp_path / "p.png"))
    assert code == 0, err
    assert not marker.exists()


# -- the config used is the config shown ----------------------------------------------------------
def test_config_yaml_and_the_checkpoint_must_agree(run, tmp_path, capsys):
    edit_config(run, "seed", 99, where=("config.yaml",))
    edit_config(run, "pretrain.lr", 0.5, where=("config.yaml",))
    before = snapshot(run)
    for argv in (["train", "--resume", str(run)], ["eval", str(run)], ["sample", str(run)]):
        code, _, err = run_cli(capsys, *argv)
        assert_refused(code, err, "disagree on", "seed (99 in config.yaml, 7 in the checkpoint)")
        assert "pretrain.lr (0.5 in config.yaml, 0.01 in the checkpoint)" in err
    assert snapshot(run) == before
    with pytest.raises(ConfigMismatchError):
        AdversarialTrainer.resume(run)
    bare = tmp_path / "model.pt"  # outside a run: the checkpoint's own config
    shutil.copy(run / "checkpoints" / "last.pt", bare)
    assert run_cli(capsys, "sample", str(bare), "-n", "3")[0] == 0


def test_eval_uses_config_yaml_of_a_run(run, capsys):
    """eval reads the run's config.yaml: a --set on top of it is the person's own choice."""
    code, out, err = run_cli(capsys, "eval", str(run), "--json", "--set", "eval.n_samples=40")
    assert code == 0, err
    assert '"n_samples": 40' in out


# -- 2. two writers, one run -------------------------------------------------------------------
def start_writer(out: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "SEQADV_NO_PROGRESS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "seqadv.cli", "-q", "train", str(TINY), "--out", str(out), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def wait_for(condition, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(
                f"the writer ended early ({proc.returncode}): {proc.stderr.read()}"
            )
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("timed out waiting for the writer")
        time.sleep(0.05)


LONG = ("--set", "pretrain.epochs=100000", "--set", "eval.every_epochs=50")


def test_a_second_writer_is_refused_at_once(tmp_path, capsys):
    out = tmp_path / "D"
    proc = start_writer(out, *LONG)
    try:
        lock = out / LOCK_NAME
        wait_for(lambda: lock.is_file() and lock.read_text().strip(), proc)
        wait_for(lambda: (out / "checkpoints" / "last.pt").is_file(), proc)
        pid = proc.pid
        for argv in (
            ["train", str(TINY), "--out", str(out)],
            ["train", "--resume", str(out)],
        ):
            start = time.monotonic()
            code, _, err = run_cli(capsys, *argv)
            assert time.monotonic() - start < 5, "the second writer waited"
            assert_refused(code, err, str(out), "in use by another seqadv process", f"pid {pid}")
        with pytest.raises(RunInUseError):
            AdversarialTrainer.resume(out)
        assert len((out / "command.txt").read_text().splitlines()) == 1  # only the first's
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    records = RunDir(out).read_metrics()
    epochs = [r["epoch"] for r in records]
    assert epochs == sorted(set(epochs)) and epochs[0] == 0  # one writer's records, in order
    assert yaml.safe_load((out / "config.yaml").read_text())["pretrain"]["epochs"] == 100000


def test_the_lock_in_one_process_and_after_its_writer_ends(tmp_path):
    first = RunDir.open(tmp_path / "r", mode="new")
    with pytest.raises(RunInUseError, match="this process"):
        RunDir.open(tmp_path / "r", mode="new")
    first.close()
    second = RunDir.open(tmp_path / "r", mode="new")
    del second  # dropped without close(): the lock goes with it
    RunLock(tmp_path / "r").acquire().release()
    assert (tmp_path / "r" / LOCK_NAME).read_text().split()[0] == str(os.getpid())


def test_a_directory_that_is_not_a_run_is_never_written_into(tmp_path, capsys):
    old = tmp_path / "old"  # metrics and a config, but no checkpoint: not resumable
    old.mkdir()
    (old / "metrics.jsonl").write_text('{"epoch": 0, "eval/nll_oracle": 9.0}\n')
    (old / "config.yaml").write_text("name: other\n")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("my notes")
    for folder, listed in ((old, "config.yaml, metrics.jsonl"), (mine, "notes.txt")):
        before = snapshot(folder)
        code, _, err = run_cli(capsys, "train", str(TINY), "--out", str(folder))
        assert_refused(code, err, str(folder), "not empty and not a resumable run", listed)
        assert snapshot(folder) == before
        with pytest.raises(NotARunError):
            RunDir.open(folder, mode="new")
        code, _, err = run_cli(capsys, "train", "--resume", str(folder))
        assert code == 2 and snapshot(folder) == before
    assert not (old / LOCK_NAME).exists() and not (mine / LOCK_NAME).exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    for ok in (empty, tmp_path / "new" / "deep"):
        args = ["-q", "train", str(TINY), "--out", str(ok), "--set", "pretrain.epochs=1"]
        assert run_cli(capsys, *args)[0] == 0
        assert (ok / "checkpoints" / "last.pt").is_file()


# -- 3. stale temporary files, SIGTERM ---------------------------------------------------------
def test_files_left_by_a_killed_writer_are_removed_when_the_next_writer_opens(run, capsys):
    stale = [
        run / "checkpoints" / ".last.pt.tmp-99999",
        run / ".metrics.jsonl.tmp-4242",
        run / "samples" / ".mle-0002.txt.tmp-7",
    ]
    for path in stale:
        path.write_bytes(b"\0" * 1000)
    keep = run / "checkpoints" / ".keep"
    keep.write_text("not ours")
    code, _, err = run_cli(capsys, "-q", "train", "--resume", str(run))
    assert code == 0, err
    assert not any(p.exists() for p in stale)
    assert keep.exists()
    load_checkpoint(run)  # the real checkpoint is untouched


def test_sigterm_is_handled_like_ctrl_c(tmp_path):
    out = tmp_path / "D"
    proc = start_writer(out, *LONG)
    metrics = out / "metrics.jsonl"
    wait_for(lambda: metrics.is_file() and metrics.read_text().count("\n") >= 2, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert f"Continue with: seqadv train --resume {out}" in err
    assert "Traceback" not in err
    state = load_checkpoint(out)["state"]
    # the signal may come between the epoch-50 record and that epoch's checkpoint
    assert state["phase"] == "mle" and state["mle_epoch"] >= 49
    assert not [p for p in (out / "checkpoints").iterdir() if p.name != "last.pt"]
    RunLock(out).acquire().release()  # the lock went with the process


# -- 4. a run name is a name --------------------------------------------------------------------
@pytest.mark.parametrize("name", ["../escape", "a/b", "..", "/tmp/abs"])
def test_a_run_name_cannot_escape_the_runs_root(tmp_path, capsys, name):
    root = tmp_path / "runs"
    before = snapshot(tmp_path)
    code, _, err = run_cli(
        capsys, "train", str(TINY), "--runs-root", str(root), "--set", f"name={name}"
    )
    assert_refused(code, err, "name", repr(name))  # the config check or RunDir.new's
    assert snapshot(tmp_path) == before
    with pytest.raises(ConfigError, match="^name: "):
        RunDir.new(name, root=root)


def test_run_errors_are_seqadv_errors():
    for cls in (RunInUseError, NotARunError, ForeignCodeError, ConfigMismatchError):
        assert issubclass(cls, SeqadvError)
    assert issubclass(ForeignCodeError, ConfigError)
