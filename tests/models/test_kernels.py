"""seqadv.models.kernels: every kernel computes F.linear in fp32; choices are measured,
verified, cached per machine and pinned by a plan."""

from __future__ import annotations

import copy
import json
import logging
import os
import time

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from seqadv.models import kernels, onednn
from seqadv.models.kernels import (
    LINEAR_CANDIDATES,
    KernelLinear,
    KernelPlan,
    fast_linear,
    linear_shape_key,
    measure,
    select,
)

needs_onednn = pytest.mark.skipif(not kernels.onednn_available(), reason="torch without oneDNN")
ONEDNN = [pytest.param(c, marks=needs_onednn) for c in LINEAR_CANDIDATES if c != "plain"]
TOL = {"rtol": 1e-5, "atol": 1e-5}


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQADV_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(kernels, "_busy", lambda: False)  # whatever else runs beside the tests
    monkeypatch.setattr(logging.getLogger("seqadv"), "propagate", True)
    return tmp_path / "cache"


def inputs(shape, k=16, n=12, bias=True, seed=0, grad=False, layout="contiguous"):
    g = torch.Generator().manual_seed(seed)
    if layout == "transposed":  # (k, rows) storage read as (rows, k)
        x = torch.randn(*shape[::-1], k, generator=g).transpose(0, -2)
    elif layout == "sliced":  # every other column of a wider matrix
        x = torch.randn(*shape, 2 * k, generator=g)[..., ::2]
    else:
        x = torch.randn(*shape, k, generator=g)
    w = torch.randn(n, k, generator=g) / k**0.5
    b = torch.randn(n, generator=g) if bias else None
    if grad:
        x, w = x.detach().requires_grad_(), w.requires_grad_()
        b = b.requires_grad_() if b is not None else None
    return x, w, b


CASES = [
    ((1,), "contiguous", True),
    ((7,), "contiguous", False),
    ((5, 3), "contiguous", True),
    ((6,), "transposed", True),
    ((4,), "sliced", True),
    ((2, 3), "sliced", False),
]


@pytest.mark.parametrize("choice", ONEDNN)
@pytest.mark.parametrize("shape, layout, bias", CASES)
def test_every_kernel_computes_linear(choice, shape, layout, bias, monkeypatch):
    x, w, b = inputs(shape, bias=bias, layout=layout)
    calls = []
    real = onednn._lp
    monkeypatch.setattr(onednn, "_lp", lambda *a: calls.append(1) or real(*a))
    with torch.no_grad():
        got = fast_linear(x, w, b, choice)
    assert calls, "the oneDNN path was not taken"
    assert got.shape == (*shape, 12)
    torch.testing.assert_close(got, F.linear(x, w, b), **TOL)


@pytest.mark.parametrize("choice", ONEDNN)
@pytest.mark.parametrize("shape, layout, bias", CASES)
def test_gradients_equal_linear(choice, shape, layout, bias):
    x, w, b = inputs(shape, bias=bias, layout=layout, grad=True)
    params = [t for t in (x, w, b) if t is not None]
    upstream = torch.randn(*shape, 12, generator=torch.Generator().manual_seed(3))
    ours = fast_linear(x, w, b, choice)
    assert "OneDNN" in type(ours.grad_fn).__name__
    ref = F.linear(x, w, b)
    torch.testing.assert_close(ours, ref, **TOL)
    for a, r in zip(
        torch.autograd.grad(ours, params, upstream), torch.autograd.grad(ref, params, upstream)
    ):
        torch.testing.assert_close(a, r, **TOL)


@needs_onednn
def test_packed_weight_is_reused_until_the_weight_changes():
    layer = nn.Linear(16, 12)
    x = torch.randn(3, 16)
    first = kernels._packed_weight(layer.weight)
    assert kernels._packed_weight(layer.weight) is first
    assert kernels._packed_weight(layer.weight.view(12, 16)) is first  # a view of the same data
    with torch.no_grad():
        layer.weight.mul_(-2.0)  # in place: same data_ptr, new _version
        got = fast_linear(x, layer.weight, layer.bias, "onednn_packed")
    assert kernels._packed_weight(layer.weight) is not first
    torch.testing.assert_close(got, F.linear(x, layer.weight, layer.bias), **TOL)


@needs_onednn
def test_packed_weight_follows_optimizer_steps_in_training():
    torch.manual_seed(0)
    layer = nn.Linear(16, 12)
    opt = torch.optim.Adam(layer.parameters(), lr=0.1)
    x = torch.randn(8, 16)
    for _ in range(3):
        loss = fast_linear(x, layer.weight, layer.bias, "onednn_packed").square().sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            torch.testing.assert_close(
                fast_linear(x, layer.weight, layer.bias, "onednn_packed"), layer(x), **TOL
            )


@pytest.mark.parametrize("choice", LINEAR_CANDIDATES)
def test_non_fp32_and_autocast_run_the_plain_path(choice):
    x, w, b = (t.double() for t in inputs((5,)))
    assert torch.equal(fast_linear(x, w, b, choice), F.linear(x, w, b))
    x, w, b = inputs((5,))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got, want = fast_linear(x, w, b, choice), F.linear(x, w, b)
    assert got.dtype == want.dtype == torch.bfloat16


def test_unknown_kernel_names_fail_listing_the_known_ones():
    x, w, b = inputs((2,))
    with pytest.raises(ValueError, match="onednn_packed"):
        fast_linear(x, w, b, "mkl")
    with pytest.raises(ValueError, match="unknown kernel 'mkl'"):
        select("op", "k", ("plain", "mkl"), lambda: inputs((2,)))
    with pytest.raises(ValueError, match="must include 'plain'"):
        select("op", "k", {"fast": F.linear}, lambda: inputs((2,)))


# -- select ---------------------------------------------------------------------------------
def slow_plain(x, w, b=None):
    time.sleep(0.002)
    return F.linear(x, w, b)


def make_small():
    return inputs((8,))


def test_select_rejects_a_fast_candidate_that_disagrees():
    x, w, b = make_small()
    right = F.linear(x, w, b)
    wrong = right + 1e-3
    candidates = {"plain": slow_plain, "wrong": lambda *a: wrong, "right": lambda *a: right}
    timings = measure(candidates, make_small, budget_s=0.01)
    assert timings["wrong"].seconds is None and "disagrees" in timings["wrong"].reason
    assert (
        timings["right"].seconds is not None and timings["right"].seconds < timings["plain"].seconds
    )
    assert select("op", "8x16x12", candidates, make_small, budget_s=0.01) == "right"
    del candidates["right"]
    assert select("op2", "8x16x12", candidates, make_small, budget_s=0.01) == "plain"


def test_select_rejects_wrong_gradients_and_failing_candidates():
    def scaled_grad(x, w, b=None):  # right values, gradients 1% too large
        y = F.linear(x, w, b)
        return y + (y - y.detach()) * 1e-2

    def broken(*args):
        raise RuntimeError("no kernel")

    make = lambda: inputs((8,), grad=True)
    timings = measure(
        {"plain": slow_plain, "scaled": scaled_grad, "broken": broken},
        make,
        backward=True,
        budget_s=0.01,
    )
    assert "disagrees" in timings["scaled"].reason
    assert timings["broken"].reason.startswith("failed: RuntimeError")
    assert timings["plain"].seconds is not None


def test_a_reduced_precision_reference_is_not_measured(cache_dir):
    def bf16_plain(x, w, b=None):
        if x.dtype == torch.float32:
            return F.linear(x.bfloat16(), w.bfloat16(), b.bfloat16()).float()
        return F.linear(x, w, b)

    fast = lambda x, w, b=None: bf16_plain(x, w, b)
    assert select("op", "k", {"plain": bf16_plain, "fast": fast}, make_small) == "plain"
    assert not (cache_dir / "kernels.json").exists()


@needs_onednn
def test_select_over_the_builtin_kernels_with_backward():
    make = lambda: inputs((8,), grad=True)
    timings = measure(kernels.default_candidates(backward=True), make, backward=True, budget_s=0.01)
    assert set(timings) == {"plain", "onednn"}
    assert all(t.seconds is not None and t.max_error < 1e-5 for t in timings.values())


# -- the cache ------------------------------------------------------------------------------
def test_the_choice_is_cached_per_machine_and_reused(cache_dir, monkeypatch):
    choice = select("op", "8x16x12", {"plain": F.linear}, make_small, budget_s=0.01)
    data = json.loads((cache_dir / "kernels.json").read_text())
    assert data["format"] == kernels.CACHE_FORMAT
    ((key, entry),) = data["entries"].items()
    assert key.startswith(kernels.machine_key()) and "|op|8x16x12|infer" in key
    assert entry["choice"] == choice == "plain"
    monkeypatch.setattr(kernels, "measure", lambda *a, **k: pytest.fail("measured again"))
    assert select("op", "8x16x12", {"plain": F.linear}, make_small) == "plain"
    monkeypatch.setattr(torch, "get_num_threads", lambda: 99)  # another machine key
    with pytest.raises(pytest.fail.Exception, match="measured again"):
        select("op", "8x16x12", {"plain": F.linear}, make_small)


def test_the_cache_is_written_atomically(cache_dir, monkeypatch):
    select("a", "k", {"plain": F.linear}, make_small, budget_s=0.01)
    path = cache_dir / "kernels.json"
    before = path.read_text()
    replaced = []
    real_replace = os.replace
    monkeypatch.setattr(
        os, "replace", lambda src, dst: replaced.append((src, dst)) or real_replace(src, dst)
    )
    select("b", "k", {"plain": F.linear}, make_small, budget_s=0.01)
    ((src, dst),) = replaced
    assert os.fspath(dst) == os.fspath(path) and os.path.dirname(src) == os.fspath(cache_dir)
    assert os.fspath(src) != os.fspath(path)

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    select("c", "k", {"plain": F.linear}, make_small, budget_s=0.01)  # warns, no crash
    entries = json.loads(path.read_text())["entries"]
    assert len(entries) == 2 and path.read_text() != before
    assert sorted(p.name for p in cache_dir.iterdir()) == ["kernels.json"]  # no temp left


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"\x80\x04\x95 a pickle",
        b'["a", "list"]',
        b'{"format": "other", "entries": {}}',
        b'{"format": "seqadv-kernel-cache/1", "entries": {"x": "not a dict"}}',
    ],
)
def test_a_corrupt_or_foreign_cache_is_ignored_with_a_warning(cache_dir, caplog, content):
    cache_dir.mkdir()
    (cache_dir / "kernels.json").write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="seqadv"):
        assert select("op", "k", {"plain": F.linear}, make_small, budget_s=0.01) == "plain"
    if b"not a dict" not in content:
        assert "kernels.json" in caplog.text
    data = json.loads((cache_dir / "kernels.json").read_text())
    assert any("|op|k|" in key for key in data["entries"])


# -- plans ----------------------------------------------------------------------------------
def test_a_plan_round_trips_through_json_and_answers_without_measuring(monkeypatch):
    plan = KernelPlan(
        choices={"dis/highway/64x16x12/frozen": "onednn", "gen/out/1x16x12/train": "plain"}
    )
    again = KernelPlan.from_dict(json.loads(json.dumps(plan.to_dict())))
    assert again == plan and again.mode == "auto"
    monkeypatch.setattr(kernels, "select", lambda *a, **k: pytest.fail("measured"))
    x, w, b = inputs((50,))
    with torch.no_grad():
        assert again.choose("dis/highway", x, w, b) == "onednn"  # 50 rows -> bucket 64


def test_plain_mode_never_measures(monkeypatch):
    monkeypatch.setattr(kernels, "measure", lambda *a, **k: pytest.fail("measured"))
    monkeypatch.setattr(kernels, "select", lambda *a, **k: pytest.fail("selected"))
    plan = KernelPlan.plain()
    x, w, b = inputs((9,), grad=True)
    assert plan.choose("op", x, w, b) == "plain" and plan.choices == {}
    layer = KernelLinear(16, 12, op_name="op")
    assert layer.plan.mode == "plain"
    torch.testing.assert_close(layer(x), F.linear(x, layer.weight, layer.bias), rtol=0, atol=0)
    assert KernelPlan.from_dict(plan.to_dict()).mode == "plain"


@needs_onednn
def test_auto_mode_measures_each_op_shape_and_mode_once(monkeypatch):
    monkeypatch.setattr(kernels, "MIN_MACS", 0)
    asked = []
    monkeypatch.setattr(
        kernels,
        "select",
        lambda op, shape, *a, backward, **k: asked.append((op, shape, backward)) or "onednn",
    )
    plan = KernelPlan.auto()
    x, w, b = inputs((50,), grad=True)
    for rows in (50, 60, 64):  # one bucket
        with torch.no_grad():
            assert plan.choose("op", x[:rows], w, b) == "onednn"
    plan.choose("op", x, w, b)  # with grad: the training key
    plan.choose("op", inputs((100,))[0], w, b)  # bucket 128
    assert asked == [("op", "64x16x12", False), ("op", "64x16x12", True), ("op", "128x16x12", True)]
    assert set(plan.choices) == {"op/64x16x12/infer", "op/64x16x12/train", "op/128x16x12/train"}


@pytest.mark.parametrize(
    "data, match",
    [
        ({"mode": "fast"}, "unknown kernel plan mode 'fast'"),
        ({"choices": {"op/1x2x3/infer": "bf16"}}, "'op/1x2x3/infer': unknown kernel 'bf16'"),
        ({"choices": ["plain"]}, "'choices' must map"),
        ({"format": "seqadv-kernel-plan/9"}, "format"),
        ("plain", "must be a mapping"),
    ],
)
def test_bad_plans_fail_with_the_key_at_fault(data, match):
    with pytest.raises(ValueError, match=match):
        KernelPlan.from_dict(data)


def test_kernel_linear_is_a_drop_in_linear():
    plan = KernelPlan(choices={"out/8x16x12/infer": "onednn_packed", "out/8x16x12/train": "onednn"})
    layer = KernelLinear(16, 12, op_name="out", plan=plan)
    ref = nn.Linear(16, 12)
    ref.load_state_dict(layer.state_dict())
    assert list(layer.state_dict()) == ["weight", "bias"]
    x = torch.randn(8, 16)
    with torch.no_grad():
        torch.testing.assert_close(layer(x), ref(x), **TOL)
    torch.testing.assert_close(layer(x), ref(x), **TOL)
    clone = copy.deepcopy(layer)
    assert clone.plan is plan and clone.weight is not layer.weight
    shared = KernelLinear.from_linear(ref, "out", plan)
    assert shared.weight is ref.weight and shared.bias is ref.bias


def test_shape_keys_bucket_rows_to_powers_of_two():
    assert [linear_shape_key(r, 3, 5) for r in (1, 2, 3, 50, 64, 65)] == [
        "1x3x5",
        "2x3x5",
        "4x3x5",
        "64x3x5",
        "64x3x5",
        "128x3x5",
    ]


@needs_onednn
def test_gemms_too_small_to_matter_are_not_measured(monkeypatch):
    monkeypatch.setattr(kernels, "select", lambda *a, **k: pytest.fail("measured"))
    plan = KernelPlan.auto()
    x, w, b = inputs((50,))  # 50 x 16 x 12 multiply-adds, far below MIN_MACS
    with torch.no_grad():
        assert plan.choose("op", x, w, b) == "plain"
    assert plan.choices == {}


def test_the_active_plan_is_plain_unless_a_run_sets_one(monkeypatch):
    monkeypatch.setattr(kernels, "MIN_MACS", 0)
    assert kernels.active_plan().mode == "plain"
    x, w, b = inputs((8,))
    seen = []
    plan = KernelPlan(choices={"op/8x16x12/frozen": "onednn"})
    monkeypatch.setattr(kernels, "fast_linear", lambda *a: seen.append(a[3]) or F.linear(*a[:3]))
    with torch.no_grad():
        assert torch.equal(kernels.linear("op", x, w, b), F.linear(x, w, b))
        assert seen == []  # plain: straight to F.linear
        with kernels.use_plan(plan) as active:
            assert active is kernels.active_plan() is plan
            kernels.linear("op", x, w, b)
        kernels.linear("op", x, w, b)
    assert seen == ["onednn"] and kernels.active_plan().mode == "plain"


def test_block_rows_are_measured_once_cached_and_pinned_by_plain(cache_dir, monkeypatch):
    calls = []

    def run(block):
        calls.append(block)
        time.sleep(0.004 if block != 32 else 0.0005)

    assert KernelPlan.plain().block_rows("sample", "5000x32", run, 64) == 64 and calls == []
    plan = KernelPlan.auto()
    plan.budget_s = 0.02
    assert plan.block_rows("sample", "5000x32", run, 64) == 32
    assert set(calls) == set(kernels.BLOCK_CANDIDATES)
    calls.clear()
    assert plan.block_rows("sample", "5000x32", run, 64) == 32 and calls == []
    again = KernelPlan.from_dict(json.loads(json.dumps(plan.to_dict())))
    assert again.blocks == {"sample/5000x32": 32}
    fresh = KernelPlan.auto()  # a new plan on this machine reads the cache
    assert fresh.block_rows("sample", "5000x32", run, 64) == 32 and calls == []
    with pytest.raises(ValueError, match="'sample/5000x32': 0 is not a positive int"):
        KernelPlan.from_dict({"blocks": {"sample/5000x32": 0}})


def test_measurements_on_a_busy_machine_are_used_but_not_cached(cache_dir, monkeypatch, caplog):
    monkeypatch.setattr(kernels, "_busy", lambda: True)
    monkeypatch.setattr(kernels, "_warned_busy", False)  # once per process: a busy machine may have warned
    with caplog.at_level(logging.WARNING, logger="seqadv"):
        assert select("op", "k", {"plain": F.linear}, make_small, budget_s=0.01) == "plain"
        plan = KernelPlan.auto()
        plan.budget_s = 0.01
        assert plan.block_rows("blk", "k", lambda b: None, 64) in kernels.BLOCK_CANDIDATES
    assert not (cache_dir / "kernels.json").exists()
    assert "not cached" in caplog.text and plan.blocks  # the run still records its choice


@needs_onednn
def test_packed_weights_are_candidates_only_for_frozen_weights(monkeypatch):
    monkeypatch.setattr(kernels, "MIN_MACS", 0)
    asked = {}
    monkeypatch.setattr(
        kernels,
        "select",
        lambda op, shape, cands, *a, kind, **k: asked.setdefault(kind, cands) and "plain",
    )
    plan = KernelPlan.auto()
    x, w, b = inputs((8,))
    with torch.no_grad():
        plan.choose("op", x, w, b)  # a frozen weight: packed once, reused
        plan.choose("op", x, w.requires_grad_(), b)  # a trained one, scored without grad
    plan.choose("op", x, w, b)  # training
    assert asked == {
        "frozen": LINEAR_CANDIDATES,
        "infer": ("plain", "onednn"),
        "train": ("plain", "onednn"),
    }
