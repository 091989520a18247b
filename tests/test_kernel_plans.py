"""A run's kernel plan: measured once, recorded in the run, reused on resume and by eval;
``kernels: plain`` never measures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from seqadv.adversarial import AdversarialTrainer
from seqadv.cli import main
from seqadv.config import load_config
from seqadv.models import kernels
from seqadv.runs import RunDir, load_checkpoint, save_checkpoint

PRESET = Path(__file__).resolve().parents[1] / "experiments" / "seqgan_oracle_tiny.yaml"
SHORT = ["pretrain.epochs=2", "adversarial.rounds=2", "discriminator.pretrain_rounds=1"]


@pytest.fixture
def measured(monkeypatch):
    """Every GEMM is worth measuring, and 'measuring' picks oneDNN at once (no timing)."""
    asked = []
    monkeypatch.setattr(kernels, "MIN_MACS", 0)
    monkeypatch.setattr(kernels, "onednn_available", lambda: True)
    monkeypatch.setattr(kernels, "_onednn_usable", lambda *a: True)

    def select(op, shape, *args, backward=False, **kwargs):
        asked.append((op, shape, backward))
        return "onednn"

    monkeypatch.setattr(kernels, "select", select)
    return asked


def no_measuring(monkeypatch):
    monkeypatch.setattr(kernels, "select", lambda *a, **k: pytest.fail("measured"))
    monkeypatch.setattr(kernels, "select_value", lambda *a, **k: pytest.fail("measured"))


def test_the_plan_is_recorded_and_reused_on_resume_and_by_eval(
    tmp_path, measured, monkeypatch, capsys
):
    run = tmp_path / "run"
    trainer = AdversarialTrainer(load_config(PRESET, SHORT), run=RunDir(run))
    assert kernels.active_plan() is trainer.kernel_plan and trainer.kernel_plan.mode == "auto"
    trainer.fit()
    trainer.run.close()
    recorded = json.loads((run / "kernels.json").read_text())
    assert recorded["mode"] == "auto" and recorded["format"] == kernels.PLAN_FORMAT
    assert {"gen/output", "dis/highway", "dis/conv1"} <= {
        k.split("/")[0] + "/" + k.split("/")[1] for k in recorded["choices"]
    }
    assert set(recorded["choices"].values()) == {"onednn"}
    assert len(measured) == len(recorded["choices"])  # each (op, shape, mode) measured once
    assert load_checkpoint(run / "checkpoints" / "last.pt")["kernel_plan"] == recorded

    kernels.set_plan(kernels.KernelPlan.plain())
    no_measuring(monkeypatch)
    again = AdversarialTrainer.resume(run, extend=["adversarial.rounds=3"])
    assert kernels.active_plan() is again.kernel_plan
    assert again.kernel_plan.choices == recorded["choices"]
    again.fit()
    again.run.close()

    kernels.set_plan(kernels.KernelPlan.plain())
    assert main(["eval", str(run), "--json", "--n-samples", "64"]) == 0, capsys.readouterr().err
    assert (
        kernels.active_plan().choices == json.loads((run / "kernels.json").read_text())["choices"]
    )


def test_kernels_plain_never_measures(tmp_path, monkeypatch):
    monkeypatch.setattr(kernels, "MIN_MACS", 0)
    no_measuring(monkeypatch)
    trainer = AdversarialTrainer(
        load_config(PRESET, [*SHORT, "kernels=plain"]), run=RunDir(tmp_path / "r")
    )
    trainer.fit()
    trainer.run.close()
    recorded = json.loads((tmp_path / "r" / "kernels.json").read_text())
    assert recorded["mode"] == "plain" and recorded["choices"] == {} and recorded["blocks"] == {}


def test_a_checkpoint_without_a_plan_evaluates_with_plain_kernels(tmp_path, monkeypatch, capsys):
    trainer = AdversarialTrainer(load_config(PRESET, SHORT), run=RunDir(tmp_path / "r"))
    trainer.fit()
    trainer.run.close()
    path = tmp_path / "r" / "checkpoints" / "last.pt"
    ckpt = load_checkpoint(path)
    del ckpt["kernel_plan"]  # written before plans existed
    save_checkpoint(path, ckpt)
    kernels.set_plan(kernels.KernelPlan.auto())
    assert main(["eval", str(tmp_path / "r"), "--json", "--n-samples", "32"]) == 0
    assert kernels.active_plan().mode == "plain"


def test_a_bad_recorded_plan_is_an_error_naming_the_checkpoint(tmp_path, capsys):
    trainer = AdversarialTrainer(load_config(PRESET, SHORT), run=RunDir(tmp_path / "r"))
    trainer.fit()
    trainer.run.close()
    path = tmp_path / "r" / "checkpoints" / "last.pt"
    ckpt = load_checkpoint(path)
    ckpt["kernel_plan"] = {"choices": {"gen/output/64x16x16/infer": "turbo"}}
    save_checkpoint(path, ckpt)
    assert main(["eval", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "last.pt" in err and "kernel_plan" in err and "unknown kernel 'turbo'" in err
    assert "Traceback" not in err
    assert main(["train", "--resume", str(tmp_path / "r")]) == 2
    assert "unknown kernel 'turbo'" in capsys.readouterr().err


def test_measuring_draws_nothing_from_the_run_streams(monkeypatch):
    monkeypatch.setattr(kernels, "MIN_MACS", 0)
    if not kernels.onednn_available():
        pytest.skip("torch without oneDNN")
    plan = kernels.KernelPlan.auto()
    plan.budget_s = 0.005
    x, w = torch.randn(8, 16), torch.randn(12, 16)
    torch.manual_seed(5)
    before = torch.random.get_rng_state()
    with torch.no_grad():
        plan.choose("op", x, w)
    assert torch.equal(torch.random.get_rng_state(), before)
