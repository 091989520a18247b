"""seqadv.runs and seqadv.plots: seeds, atomic files, checkpoints, run directories, progress."""

from __future__ import annotations

import json
import logging
import os
import pickle
import subprocess
import sys
import zipfile

import pytest
import torch

import seqadv
from seqadv import runs
from seqadv.errors import CheckpointError, SeqadvError
from seqadv.plots import metric_label, plot_learning_curve, plot_series
from seqadv.runs import (
    RunDir,
    atomic_write_bytes,
    atomic_write_text,
    derive_seed,
    draw_seed,
    load_checkpoint,
    progress,
    save_checkpoint,
    versions,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class MarkerPayload:
    """Unpickling this runs a shell command that creates ``path``."""

    def __init__(self, path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (os.system, (f"touch '{self.path}'",))


# -- seeds -----------------------------------------------------------------------------------------
def test_derive_seed_is_deterministic_and_separates_purposes():
    a = derive_seed(7, "eval", "mle-2")
    assert a == derive_seed(7, "eval", "mle-2")
    others = {derive_seed(7, "eval", "mle-4"), derive_seed(8, "eval", "mle-2"), derive_seed(7, "x")}
    assert a not in others and len(others) == 3
    assert 0 <= a < 2**62
    torch.Generator().manual_seed(a)  # usable as a torch seed


def test_derive_seed_is_stable_across_processes():
    """Not Python's salted hash(): another interpreter with another hash seed agrees."""
    code = "from seqadv.runs import derive_seed; print(derive_seed(123, 'mle-order', 4))"
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": str(h)},
        ).stdout.strip()
        for h in (1, 2)
    }
    assert outs == {str(derive_seed(123, "mle-order", 4))}


def test_draw_seed_range():
    seeds = {draw_seed() for _ in range(50)}
    assert all(0 <= s < 2**31 for s in seeds)
    assert len(seeds) > 45


# -- atomic writes ---------------------------------------------------------------------------------
def test_atomic_write_creates_parents_and_overwrites(tmp_path):
    path = tmp_path / "a" / "b" / "file.txt"
    atomic_write_text(path, "first ü")
    assert path.read_text(encoding="utf-8") == "first ü"
    atomic_write_bytes(path, b"second")
    assert path.read_bytes() == b"second"
    assert sorted(p.name for p in path.parent.iterdir()) == ["file.txt"]


def test_atomic_write_failure_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "file.txt"
    path.write_text("old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(runs.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(path, "new")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"], "temp file left behind"


# -- checkpoints -----------------------------------------------------------------------------------
def test_checkpoint_round_trip(tmp_path):
    state = {
        "weights": {"w": torch.randn(3, 4), "b": torch.arange(5)},
        "rng": torch.Generator().manual_seed(3).get_state(),
        "config": {"name": "x", "seed": None, "lr": 0.5, "ids": [1, 2], "flag": True},
    }
    path = tmp_path / "checkpoints" / "last.pt"
    save_checkpoint(path, state)
    loaded = load_checkpoint(path)
    assert loaded["format"] == runs.CHECKPOINT_FORMAT
    assert loaded["path"] == str(path)
    assert torch.equal(loaded["weights"]["w"], state["weights"]["w"])
    assert torch.equal(loaded["weights"]["b"], state["weights"]["b"])
    assert torch.equal(loaded["rng"], state["rng"])
    assert loaded["config"] == state["config"]
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.pt"]


def test_load_checkpoint_from_run_directory(tmp_path):
    run = RunDir(tmp_path / "run")
    save_checkpoint(run.last_checkpoint, {"x": 1})
    assert load_checkpoint(run.path)["x"] == 1
    assert load_checkpoint(run.path)["path"] == str(run.last_checkpoint)


def test_missing_checkpoints(tmp_path):
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "nope.pt")
    with pytest.raises(CheckpointError, match="no checkpoints/last.pt"):
        load_checkpoint(tmp_path)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_malicious_checkpoint_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    # the payload is live: plain unpickling would run it
    pickle.loads(pickle.dumps(MarkerPayload(tmp_path / "control")))
    assert (tmp_path / "control").exists()

    torch_file = tmp_path / "evil_zip.pt"
    torch.save({"format": runs.CHECKPOINT_FORMAT, "x": MarkerPayload(marker)}, torch_file)
    raw_file = tmp_path / "evil_raw.pt"
    raw_file.write_bytes(
        pickle.dumps({"format": runs.CHECKPOINT_FORMAT, "x": MarkerPayload(marker)})
    )
    for path in (torch_file, raw_file):
        with pytest.raises(CheckpointError, match="weights_only"):
            load_checkpoint(path)
    assert not marker.exists()


@pytest.mark.parametrize("kind", ["garbage", "truncated", "empty", "not_seqadv", "not_a_dict"])
def test_unreadable_or_foreign_checkpoints(tmp_path, kind):
    path = tmp_path / "c.pt"
    good = tmp_path / "good.pt"
    save_checkpoint(good, {"w": torch.randn(50, 50)})
    if kind == "garbage":
        path.write_bytes(b"this is not a checkpoint at all")
    elif kind == "truncated":
        path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "not_seqadv":
        torch.save({"w": torch.zeros(2)}, path)
    else:
        torch.save([torch.zeros(2)], path)
    with pytest.raises(CheckpointError, match=str(path)):
        load_checkpoint(path)


def test_checkpoint_is_a_plain_torch_zip(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"w": torch.ones(2)})
    assert zipfile.is_zipfile(path)
    assert torch.load(path, weights_only=True)["format"] == runs.CHECKPOINT_FORMAT


# -- run directories -------------------------------------------------------------------------------
def test_run_dir_layout_and_metrics(tmp_path):
    run = RunDir(tmp_path / "r")
    assert {p.name for p in run.path.iterdir()} == {"samples", "checkpoints", "plots"}
    assert run.read_metrics() == []
    records = [{"step": i, "eval/nll": 1.0 / (i + 1), "phase": "mle"} for i in range(4)]
    for r in records:
        run.log_metrics(r)
    assert run.read_metrics() == records
    assert len(run.metrics_path.read_text().splitlines()) == 4
    run.truncate_metrics(2)
    assert run.read_metrics() == records[:2]
    run.log_metrics(records[3])
    assert run.read_metrics() == [*records[:2], records[3]]
    RunDir(run.path)  # reopening keeps the files
    assert run.read_metrics() == [*records[:2], records[3]]


def test_truncate_drops_a_record_cut_short_by_a_crash(tmp_path):
    run = RunDir(tmp_path / "r")
    records = [{"step": i, "eval/nll": float(i)} for i in range(3)]
    for r in records:
        run.log_metrics(r)
    with open(run.metrics_path, "a") as fh:
        fh.write('{"step": 3, "eval/n')  # killed while writing
    run.truncate_metrics(3)
    assert run.read_metrics() == records
    run.metrics_path.write_text('{"a": 1}\nbroken\n{"a": 3}\n')
    with pytest.raises(CheckpointError, match="metrics.jsonl:2: not JSON"):
        run.truncate_metrics(3)  # a bad record the checkpoint counts is an error


def test_read_metrics_names_the_bad_line(tmp_path):
    run = RunDir(tmp_path / "r")
    run.metrics_path.write_text('{"a": 1}\n\n{"a": 2\n')
    with pytest.raises(CheckpointError, match=r"metrics.jsonl:3: not JSON"):
        run.read_metrics()


def test_a_file_in_the_way_of_a_run_directory(tmp_path):
    (tmp_path / "taken").write_text("x")
    with pytest.raises(SeqadvError, match="taken: cannot be a run directory"):
        RunDir(tmp_path / "taken")
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "samples").write_text("x")
    with pytest.raises(SeqadvError, match="samples: cannot be a run directory"):
        RunDir(tmp_path / "r")


def test_run_dir_new_never_reuses_a_directory(tmp_path):
    made = [RunDir.new("exp", root=tmp_path) for _ in range(3)]
    paths = {r.path for r in made}
    assert len(paths) == 3
    assert all(p.parent == tmp_path and p.name.startswith("exp-") for p in paths)


def test_write_text_and_command(tmp_path):
    run = RunDir(tmp_path / "r")
    assert run.write_text("config.yaml", "a: 1\n") == run.config_path
    assert run.config_path.read_text() == "a: 1\n"
    run.append_command(["seqadv", "train", "my config.yaml", "--set", "a=b c"])
    run.append_command(["seqadv", "train", "--resume", "r"])
    lines = (run.path / "command.txt").read_text().splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("seqadv train 'my config.yaml' --set 'a=b c'")
    assert lines[1].endswith("seqadv train --resume r")


def test_versions_records_what_results_depend_on():
    v = versions(threads=3)
    assert v["seqadv"] == seqadv.__version__
    assert v["torch"].split("+")[0] == torch.__version__.split("+")[0]
    assert v["torch_threads"] == 3
    for key in ("python", "platform", "numpy", "cpu"):
        assert v[key]
    json.dumps(v)


@pytest.fixture(autouse=True)
def seqadv_logs_reach_caplog(monkeypatch):
    """The command line turns propagation off; caplog listens at the root."""
    monkeypatch.setattr(logging.getLogger("seqadv"), "propagate", True)


# -- progress --------------------------------------------------------------------------------------
def test_progress_off_a_terminal_logs_plain_lines(caplog, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    with caplog.at_level(logging.INFO, logger="seqadv"):
        assert list(progress(range(20), desc="work")) == list(range(20))
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("work")]
    assert len(lines) == 10  # about every 10%
    assert lines[-1].startswith("work 20/20")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="seqadv"):
        assert list(progress(iter(range(5)), desc="gen", every=2)) == list(range(5))
        assert list(progress(range(5), desc="quiet", log_lines=False)) == list(range(5))
    msgs = [r.getMessage() for r in caplog.records]
    assert [m.split(" (")[0] for m in msgs] == ["gen 2", "gen 4"]


def test_progress_on_a_terminal_uses_a_bar(monkeypatch, caplog):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    monkeypatch.delenv("SEQADV_NO_PROGRESS", raising=False)
    with caplog.at_level(logging.INFO, logger="seqadv"):
        assert list(progress(range(7), desc="bar")) == list(range(7))
    assert not caplog.records


# -- plots -----------------------------------------------------------------------------------------
def _records():
    rows = [
        {
            "phase": "mle",
            "x": float(e),
            "epoch": e,
            "eval/nll_oracle": 10 - e,
            "eval/nll_test": 9 - e,
        }
        for e in range(0, 6, 2)
    ]
    rows.append({"phase": "adversarial", "x": 7.0, "round": 1, "eval/nll_oracle": 3.5})
    return rows


def test_learning_curve_png(tmp_path):
    path = tmp_path / "plots" / "curve.png"
    out = plot_learning_curve(
        _records(),
        path,
        title="t",
        controls={"mle only": _records()[:2]},
        reference_lines={"paper": 9.0},
    )
    assert out == path
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 1000
    assert sorted(p.name for p in path.parent.iterdir()) == ["curve.png"]


@pytest.mark.parametrize(
    "key, label",
    [
        ("eval/nll_oracle", "NLL-oracle"),
        ("eval/nll_test", "NLL-test"),
        ("eval/bleu2", "BLEU-2"),
        ("eval/self_bleu5", "Self-BLEU-5"),
        ("reward/mean", "mean"),
        ("eval/bleu_signature", "bleu signature"),
    ],
)
def test_metric_labels(key, label):
    assert metric_label(key) == label


def test_plots_without_data_write_nothing(tmp_path):
    assert plot_learning_curve([{"x": 1.0, "gen/loss": 2.0}], tmp_path / "a.png") is None
    assert plot_series([], ["reward/mean"], tmp_path / "b.png") is None
    assert not list(tmp_path.iterdir())


def test_plot_series_png(tmp_path):
    rows = [{"x": float(i), "reward/mean": i * 0.1, "dis/acc": 0.5} for i in range(4)]
    out = plot_series(rows, ["reward/mean", "dis/acc", "absent"], tmp_path / "s.png")
    assert out is not None and out.read_bytes().startswith(PNG_MAGIC)


def test_eta_is_the_mean_so_far_times_what_is_left_capped_by_the_budget():
    from seqadv.runs import eta

    assert eta(10.0, 2, 10) == "ETA 40s"
    assert eta(120.0, 1, 100, budget_minutes=3) == "ETA 1m00s (budget)"
    assert eta(7200.0, 1, 3) == "ETA 4h00m"
    assert eta(5.0, 5, 5) == "ETA 0s"
    assert eta(10.0, 2, 10, later_s=80.0) == "ETA 40s; run 2m00s"  # the whole run too
