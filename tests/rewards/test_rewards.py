"""The REWARDS registry and the built-in rewards: known values, stability, errors, plumbing."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
import textwrap
import uuid

import pytest
import torch

from seqadv.errors import ConfigError, RewardError, UnknownNameError
from seqadv.rewards import (
    REWARD_INPUTS,
    REWARD_LEVELS,
    REWARDS,
    BoundReward,
    check_reward_output,
    list_rewards,
    register_reward,
    resolve_reward,
)

B, T, F_DIM = 5, 6, 4
LOG3 = math.log(3.0)

# logits 0, log 3, -log 3: D(x) = 1/2, 3/4, 1/4 and u = exp(logit) = 1, 3, 1/3.
KNOWN_LOGITS = [0.0, LOG3, -LOG3]
KNOWN_VALUES: dict[str, list[float]] = {
    "prob": [0.5, 0.75, 0.25],
    "log_prob": [-math.log(2), math.log(0.75), math.log(0.25)],
    "minimax": [math.log(2), math.log(4), math.log(4 / 3)],
    "logit": KNOWN_LOGITS,
    "critic": KNOWN_LOGITS,
    "constant": [1.0, 1.0, 1.0],
    "kl": [1.0, 3.0, 1 / 3],
    "reverse_kl": [-1.0, LOG3 - 1, -LOG3 - 1],
    "js": [0.0, 0.5 * math.log(2), 0.5 * math.log(2 / 3)],
    "squared_hellinger": [0.0, math.sqrt(3) - 1, 1 / math.sqrt(3) - 1],
    "pearson_chi2": [0.0, 8.0, 1 / 9 - 1],
    "maskgan": [math.log(0.5 + 1e-7), math.log(0.75 + 1e-7), math.log(0.25 + 1e-7)],
    "scratchgan": [0.0, 0.5, -0.5],
    "irgan": [math.tanh(0.0), math.tanh(LOG3 / 2), math.tanh(-LOG3 / 2)],  # = 2 D - 1
    "irgan_paper": [math.log(2), math.log(1 + 3), math.log(1 + 1 / 3)],  # log(1 + e^f)
}
BUILTIN_ELEMENTWISE = sorted(
    e.name for e in REWARDS.entries() if e.meta.get("source") == "builtin" and e.name != "rank"
)


def _inputs(seed: int = 0) -> dict[str, torch.Tensor]:
    """Every input a reward may declare in ``needs``, for a batch of B."""
    g = torch.Generator().manual_seed(seed)
    return {
        "sequences": torch.randint(0, 8, (B, T), generator=g),
        "features": torch.randn(B, F_DIM, generator=g),
        "reference_features": torch.randn(3, F_DIM, generator=g),
        "comparison_features": torch.randn(7, F_DIM, generator=g),
    }


@pytest.fixture
def registered():
    """Names registered during a test; removed afterwards so the registry stays clean."""
    names: list[str] = []
    yield names
    for name in names:
        REWARDS.remove(name)


@pytest.fixture
def tmp_module(tmp_path, monkeypatch):
    """Write an importable module into tmp_path and return its (unique) name."""
    created: list[str] = []
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(source: str) -> str:
        name = f"seqadv_test_rewards_{uuid.uuid4().hex[:10]}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        created.append(name)
        return name

    yield write
    for name in created:
        sys.modules.pop(name, None)


# -- every registered reward ------------------------------------------------------------------
@pytest.mark.parametrize("name", REWARDS.names())
def test_every_registered_reward(name):
    """Finite output of the right shape on random logits, at every level it supports."""
    entry = REWARDS.entry(name)
    reward = resolve_reward(name)
    assert reward.level in REWARD_LEVELS
    assert set(reward.needs) <= set(REWARD_INPUTS)
    assert entry.summary, f"reward {name!r} has no docstring summary"
    g = torch.Generator().manual_seed(1)
    shapes = {"sequence": [(B,)], "token": [(B, T)], "any": [(B,), (B, T)]}[reward.level]
    for shape in shapes:
        logits = 3 * torch.randn(shape, generator=g)
        out = reward(logits, **_inputs())  # TRL style: extra inputs are accepted and ignored
        assert isinstance(out, torch.Tensor) and out.shape == shape
        assert out.is_floating_point() and torch.isfinite(out).all()


def test_known_values_cover_every_elementwise_builtin():
    assert sorted(KNOWN_VALUES) == BUILTIN_ELEMENTWISE


@pytest.mark.parametrize("name", sorted(KNOWN_VALUES))
def test_builtin_known_values(name):
    reward = resolve_reward(name)
    out = reward(torch.tensor(KNOWN_LOGITS, dtype=torch.float64))
    assert out.dtype == torch.float64
    torch.testing.assert_close(out, torch.tensor(KNOWN_VALUES[name], dtype=torch.float64))
    # elementwise: a (B, T) token-level batch gives the same values position by position
    grid = torch.tensor(KNOWN_LOGITS, dtype=torch.float64).repeat(2, 1)
    torch.testing.assert_close(reward(grid), torch.tensor(KNOWN_VALUES[name]).double().repeat(2, 1))


@pytest.mark.parametrize("name", BUILTIN_ELEMENTWISE)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_builtin_stable_at_extreme_logits(name, dtype):
    logits = torch.tensor([-50.0, 50.0, -1e4, 1e4, 0.0], dtype=dtype)
    out = resolve_reward(name)(logits)  # BoundReward checks finiteness too
    assert out.dtype == dtype and torch.isfinite(out).all()


def test_stable_forms_keep_precision():
    x = torch.tensor([-50.0, 50.0])
    torch.testing.assert_close(resolve_reward("log_prob")(x)[0], torch.tensor(-50.0))
    torch.testing.assert_close(resolve_reward("minimax")(x)[1], torch.tensor(50.0))
    assert resolve_reward("prob")(x)[0] > 0
    # the exponential f-divergences clamp the logit at max_logit (default 30)
    torch.testing.assert_close(resolve_reward("kl")(x)[1], torch.tensor(math.exp(30.0)))
    bound = resolve_reward({"name": "kl", "kwargs": {"max_logit": 5.0}})
    torch.testing.assert_close(bound(x)[1], torch.tensor(math.exp(5.0)))


@pytest.mark.parametrize("name", [n for n in BUILTIN_ELEMENTWISE if n != "constant"])
def test_builtin_rewards_increase_with_the_logit(name):
    reward = resolve_reward(name)
    assert (reward(torch.linspace(-50, 50, 201, dtype=torch.float64)).diff() >= 0).all()
    assert (reward(torch.linspace(-5, 5, 41, dtype=torch.float64)).diff() > 0).all()


def test_builtin_identities():
    x = torch.linspace(-8, 8, 33, dtype=torch.float64)
    d = torch.sigmoid(x)
    r = {n: resolve_reward(n)(x) for n in BUILTIN_ELEMENTWISE}
    torch.testing.assert_close(r["log_prob"], torch.log(d))
    torch.testing.assert_close(r["minimax"], -torch.log1p(-d))
    torch.testing.assert_close(r["kl"], d / (1 - d))  # MaliGAN's D/(1-D)
    torch.testing.assert_close(r["js"], 0.5 * (r["minimax"] - math.log(2)))
    torch.testing.assert_close(r["squared_hellinger"], torch.sqrt(r["kl"]) - 1)
    torch.testing.assert_close(r["pearson_chi2"], r["kl"] ** 2 - 1)


def test_integer_and_half_logits_give_float32():
    assert resolve_reward("prob")(torch.tensor([0, 1])).dtype == torch.float32
    out = resolve_reward("pearson_chi2")(torch.tensor([40.0], dtype=torch.float16))
    assert out.dtype == torch.float32 and torch.isfinite(out).all()


def test_constant_value():
    reward = resolve_reward({"name": "constant", "kwargs": {"value": -2.5}})
    out = reward(torch.randn(B, T))
    assert out.shape == (B, T) and (out == -2.5).all()


# -- rank -------------------------------------------------------------------------------------
def _rank_by_definition(features, references, comparison, gamma):
    """RankGAN's rank score by loops, straight from the paper's formulas."""

    def cos(a, b):
        return float(a @ b / (a.norm() * b.norm()))

    scores = []
    for s in features:
        per_reference = []
        for u in references:
            numerator = math.exp(gamma * cos(s, u))
            denominator = numerator + sum(math.exp(gamma * cos(c, u)) for c in comparison)
            per_reference.append(numerator / denominator)
        scores.append(sum(per_reference) / len(per_reference))
    return torch.tensor(scores, dtype=torch.float64)


def _rank(features, references, comparison, gamma=1.0):
    reward = resolve_reward({"name": "rank", "kwargs": {"gamma": gamma}})
    return reward(
        torch.zeros(len(features)),
        features=features,
        reference_features=references,
        comparison_features=comparison,
    )


def test_rank_hand_made():
    e1, e2 = torch.eye(2, dtype=torch.float64)
    gamma = 2.0
    # one reference e1, comparison set {e2}: cos(e1, e1) = 1, cos(e2, e1) = 0, cos(-e1, e1) = -1
    out = _rank(torch.stack([e1, e2, -e1]), e1[None], e2[None], gamma)
    expected = [
        math.exp(gamma) / (math.exp(gamma) + 1),
        1 / 2,
        math.exp(-gamma) / (math.exp(-gamma) + 1),
    ]
    torch.testing.assert_close(out, torch.tensor(expected, dtype=torch.float64))
    # two references e1, e2: e^γ/(e^γ+1) and 1/(1+e^γ) average to exactly 1/2
    out = _rank(e1[None], torch.stack([e1, e2]), e2[None], gamma)
    torch.testing.assert_close(out, torch.tensor([0.5], dtype=torch.float64))


def test_rank_special_cases():
    g = torch.Generator().manual_seed(0)
    s = torch.randn(1, 3, generator=g, dtype=torch.float64)
    refs = torch.randn(4, 3, generator=g, dtype=torch.float64)
    # C' = C ∪ {s}: s competes with itself only when C is empty -> 1
    torch.testing.assert_close(
        _rank(s, refs, torch.empty(0, 3, dtype=torch.float64)), s.new_ones(1)
    )
    # s alike every member of C (same direction, any length) -> 1/(|C| + 1)
    comparison = torch.cat([2 * s, 0.5 * s, s])
    torch.testing.assert_close(_rank(s, refs, comparison, gamma=3.0), s.new_full((1,), 0.25))


@pytest.mark.parametrize("gamma", [0.5, 1.0, 7.0])
def test_rank_matches_definition(gamma):
    g = torch.Generator().manual_seed(3)
    feats = torch.randn(B, F_DIM, generator=g, dtype=torch.float64)
    refs = torch.randn(3, F_DIM, generator=g, dtype=torch.float64)
    comp = torch.randn(6, F_DIM, generator=g, dtype=torch.float64)
    out = _rank(feats, refs, comp, gamma)
    torch.testing.assert_close(out, _rank_by_definition(feats, refs, comp, gamma))
    # cosine: the scale of the features does not matter
    torch.testing.assert_close(_rank(1e3 * feats, 1e-3 * refs, 5 * comp, gamma), out)


def test_rank_bad_inputs():
    reward = resolve_reward("rank")
    x = _inputs()
    with pytest.raises(RewardError, match="'rank'.*feature sizes differ"):
        reward(torch.zeros(B), **{**x, "reference_features": torch.randn(3, F_DIM + 1)})
    with pytest.raises(RewardError, match="'rank'.*features has 5 rows but the batch has 2"):
        reward(torch.zeros(2), **x)
    with pytest.raises(RewardError, match="needs input.*'comparison_features'"):
        reward(torch.zeros(B), features=x["features"], reference_features=x["features"])


# -- resolve_reward ---------------------------------------------------------------------------
def test_resolve_spec_forms():
    @dataclasses.dataclass
    class Component:
        name: str
        kwargs: dict

    x = torch.tensor([0.0, 1.0])
    a = resolve_reward({"name": "constant", "kwargs": {"value": 3.0}})
    b = resolve_reward(Component("constant", {"value": 3.0}))
    c = resolve_reward("constant", {"value": 3.0})
    d = resolve_reward(a)
    e = resolve_reward(a, {"value": 4.0})
    for r in (a, b, c, d):
        assert isinstance(r, BoundReward) and r.name == "constant" and r.kwargs == {"value": 3.0}
        torch.testing.assert_close(r(x), torch.full((2,), 3.0))
    torch.testing.assert_close(e(x), torch.full((2,), 4.0))
    assert resolve_reward({"name": "prob"}).kwargs == {}
    # a built-in passed as a function keeps its registered metadata
    from seqadv.rewards import builtin

    f = resolve_reward(builtin.rank)
    assert (f.name, f.level) == ("rank", "sequence") and "features" in f.needs


def test_call_time_keyword_wins_over_bound():
    reward = resolve_reward({"name": "constant", "kwargs": {"value": 3.0}})
    assert (reward(torch.zeros(2), value=5.0) == 5.0).all()


def test_levels():
    assert resolve_reward("prob").supports("token") and resolve_reward("prob").supports("sequence")
    rank = resolve_reward("rank")
    assert rank.supports("sequence") and not rank.supports("token")
    rank.check_level("sequence")
    with pytest.raises(ConfigError, match="reward 'rank' is sequence-level"):
        rank.check_level("token")


def test_unknown_name_lists_close_matches():
    with pytest.raises(UnknownNameError) as info:
        resolve_reward("reverse_k")
    message = str(info.value)
    assert "'reverse_k'" in message and "Did you mean" in message and "'reverse_kl'" in message
    assert "prob" in message  # lists the known ones
    with pytest.raises(UnknownNameError, match="'pearson_chi2'"):
        resolve_reward({"name": "pearson_chi", "kwargs": {}})


def test_wrong_kwargs_name_the_culprit_and_the_accepted():
    with pytest.raises(ConfigError, match=r"reward 'rank'.*'gama'.*accepts: gamma"):
        resolve_reward({"name": "rank", "kwargs": {"gama": 2.0}})
    with pytest.raises(ConfigError, match=r"reward 'prob'.*'temperature'.*accepts: \(none\)"):
        resolve_reward({"name": "prob", "kwargs": {"temperature": 2.0}})
    with pytest.raises(ConfigError, match=r"'features' is an input.*configurable: gamma"):
        resolve_reward({"name": "rank", "kwargs": {"features": torch.zeros(1, 1)}})
    with pytest.raises(ConfigError, match="unknown key.*'kwarg'"):
        resolve_reward({"name": "prob", "kwarg": {}})
    with pytest.raises(ConfigError, match="missing the key 'name'"):
        resolve_reward({"kwargs": {}})
    with pytest.raises(ConfigError, match="kwargs must be a mapping"):
        resolve_reward({"name": "prob", "kwargs": [1]})
    with pytest.raises(ConfigError, match="a reward is a name"):
        resolve_reward(3)


def test_required_kwarg_and_logits_first(registered):
    @register_reward("needs_scale_test")
    def needs_scale(logits, *, scale, **kwargs):
        """Scaled logits."""
        return scale * logits

    registered.append("needs_scale_test")
    with pytest.raises(ConfigError, match="'needs_scale_test'.*required.*'scale'"):
        resolve_reward("needs_scale_test")
    assert resolve_reward("needs_scale_test", {"scale": 2.0})(torch.ones(2)).tolist() == [2.0, 2.0]

    def no_logits(*, value=1.0):
        return value

    with pytest.raises(ConfigError, match="logits as its first positional argument"):
        resolve_reward(no_logits)


# -- check_reward_output ----------------------------------------------------------------------
def test_check_reward_output_errors():
    ok = torch.zeros(B)
    assert check_reward_output("mine", ok, (B,)) is ok
    with pytest.raises(RewardError, match=r"reward 'mine' returned list.*torch.Tensor"):
        check_reward_output("mine", [0.0] * B, (B,))
    with pytest.raises(RewardError, match=r"reward 'mine'.*dtype torch.int64.*floating"):
        check_reward_output("mine", torch.zeros(B, dtype=torch.long), (B,))
    with pytest.raises(
        RewardError, match=r"reward 'mine' returned shape \(5, 1\), expected \(5,\)"
    ):
        check_reward_output("mine", torch.zeros(B, 1), (B,))
    with pytest.raises(RewardError, match=r"shape \(5,\), expected \(5, 6\)"):
        check_reward_output("mine", torch.zeros(B), torch.Size([B, T]))
    bad = torch.zeros(B, T)
    bad[1, 2] = float("nan")
    bad[3, 0] = float("nan")
    with pytest.raises(RewardError, match=r"'mine' returned 2 NaN value\(s\) out of 30.*\(1, 2\)"):
        check_reward_output("mine", bad, (B, T))
    bad = torch.zeros(B)
    bad[4] = -float("inf")
    with pytest.raises(RewardError, match=r"'mine' returned 1 infinite value.*\(4\) is -inf"):
        check_reward_output("mine", bad, (B,))


def test_bound_reward_checks_its_output(registered):
    @register_reward("bad_shape_test", level="any")
    def bad_shape(logits, **kwargs):
        """Returns one value too many."""
        return torch.zeros(logits.shape[0] + 1)

    @register_reward("nan_test", level="any")
    def nan_reward(logits, **kwargs):
        """Returns NaN."""
        return logits * float("nan")

    registered += ["bad_shape_test", "nan_test"]
    with pytest.raises(
        RewardError, match=r"'bad_shape_test' returned shape \(6,\), expected \(5,\)"
    ):
        resolve_reward("bad_shape_test")(torch.zeros(B))
    with pytest.raises(RewardError, match=r"'nan_test' returned 5 NaN"):
        resolve_reward("nan_test")(torch.zeros(B))
    unchecked = BoundReward("nan_test", nan_reward, level="any", check_output=False)
    assert torch.isnan(unchecked(torch.zeros(B))).all()


# -- registration -----------------------------------------------------------------------------
def test_decorator_registers_with_metadata(registered):
    @register_reward("tempered_prob_test", level="any")
    def tempered_prob(logits, temperature: float = 2.0, **kwargs):
        """D(x) at a temperature."""
        return torch.sigmoid(logits / temperature)

    registered.append("tempered_prob_test")
    assert "tempered_prob_test" in REWARDS.names()
    entry = REWARDS.entry("tempered_prob_test")
    assert entry.meta["level"] == "any" and entry.meta["needs"] == ()
    assert REWARDS.get("tempered_prob_test") is tempered_prob  # returned unchanged
    reward = resolve_reward({"name": "tempered_prob_test", "kwargs": {"temperature": 4.0}})
    torch.testing.assert_close(reward(torch.tensor([8.0])), torch.sigmoid(torch.tensor([2.0])))
    assert ("tempered_prob_test", "any", "D(x) at a temperature.") in list_rewards()
    with pytest.raises(ConfigError, match="already registered"):
        register_reward("tempered_prob_test")(lambda logits, **kw: logits)
    register_reward("tempered_prob_test", override=True)(lambda logits, **kw: logits)


def test_decorator_default_name_and_bad_metadata(registered):
    @register_reward(level="token", needs=("sequences",))
    def seqadv_token_test(logits, sequences, **kwargs):
        """Token reward that reads the sequences."""
        return logits + (sequences > 0).to(logits.dtype)

    registered.append("seqadv_token_test")
    reward = resolve_reward("seqadv_token_test")
    assert (reward.level, reward.needs) == ("token", ("sequences",))
    out = reward(torch.zeros(2, 3), sequences=torch.tensor([[0, 1, 2], [3, 0, 0]]))
    assert out.tolist() == [[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]]
    with pytest.raises(ConfigError, match="level must be one of sequence, token, any"):
        register_reward("x_test", level="tokens")
    with pytest.raises(ConfigError, match="unknown input.*'context'.*sequences"):
        register_reward("x_test", needs=("context",))
    assert "x_test" not in REWARDS


def test_function_without_var_kwargs_gets_only_its_inputs():
    def plain(logits, features):
        return features.sum(-1) + logits

    reward = resolve_reward(plain)
    assert reward.name.endswith("plain") and reward.level == "sequence"
    x = _inputs()
    torch.testing.assert_close(reward(torch.zeros(B), **x), x["features"].sum(-1))
    # a C function (no readable signature) gets no extra inputs either
    torch.testing.assert_close(
        resolve_reward(torch.sigmoid)(torch.zeros(B), **x), torch.full((B,), 0.5)
    )


def test_dotted_path(tmp_module):
    module = tmp_module(
        '''
        import torch

        def double_logit(logits, factor: float = 2.0, **kwargs):
            """Twice the logit."""
            return factor * logits
        '''
    )
    reward = resolve_reward({"name": f"{module}:double_logit", "kwargs": {"factor": 3.0}})
    assert reward.name == f"{module}:double_logit" and reward.level == "sequence"
    assert reward(torch.tensor([1.0, -1.0])).tolist() == [3.0, -3.0]
    with pytest.raises(ConfigError, match="'facter'.*accepts: factor"):
        resolve_reward({"name": f"{module}:double_logit", "kwargs": {"facter": 3.0}})
    with pytest.raises(ConfigError, match="has no attribute"):
        resolve_reward(f"{module}:missing")
    with pytest.raises(ConfigError, match="cannot import module"):
        resolve_reward("seqadv_no_such_module_xyz:reward")


def test_dotted_path_to_a_decorated_function_keeps_its_metadata(tmp_module, registered):
    module = tmp_module(
        '''
        from seqadv.rewards import register_reward

        @register_reward("decorated_dotted_test", level="token")
        def reward(logits, **kwargs):
            """Token-level identity."""
            return logits
        '''
    )
    reward = resolve_reward(f"{module}:reward")
    registered.append("decorated_dotted_test")
    assert reward.level == "token"
    assert resolve_reward("decorated_dotted_test").level == "token"


def test_decorator_fills_in_a_lazy_entry(tmp_module, registered):
    """An entry point (or REWARDS.add) naming a decorated function takes its metadata."""
    module = tmp_module(
        '''
        from seqadv.rewards import register_reward

        @register_reward("lazy_filled_test", level="any", needs=("sequences",))
        def lazy_filled(logits, **kwargs):
            """Lazy, then filled in."""
            return logits
        '''
    )
    REWARDS.add("lazy_filled_test", f"{module}:lazy_filled", source="test")
    registered.append("lazy_filled_test")
    reward = resolve_reward("lazy_filled_test")  # imports the module, runs the decorator
    assert (reward.level, reward.needs) == ("any", ("sequences",))
    assert REWARDS.entry("lazy_filled_test").meta["source"] == "test"


def test_failing_plugin_is_reported(tmp_module, registered):
    module = tmp_module("raise RuntimeError('broken plugin')\n")
    REWARDS.add("broken_test", f"{module}:reward")
    registered.append("broken_test")
    with pytest.raises(ConfigError, match="'broken_test' failed to load.*broken plugin"):
        resolve_reward("broken_test")
    row = next(r for r in list_rewards() if r[0] == "broken_test")
    assert "failed to load" in row[2]


def test_list_rewards():
    rows = list_rewards()
    names = [r[0] for r in rows]
    assert names == sorted(names) and set(KNOWN_VALUES) | {"rank"} <= set(names)
    table = {name: (level, summary) for name, level, summary in rows}
    assert table["rank"][0] == "sequence" and table["prob"][0] == "any"
    assert table["kl"][1].startswith("Forward KL(p_data ‖ p_gen)")
    assert all(summary and "\n" not in summary for _, _, summary in rows)


def test_import_does_not_import_torch():
    code = (
        "import sys, seqadv.rewards as r\n"
        "assert 'prob' in r.REWARDS.names()\n"
        "heavy = [m for m in ('torch', 'stable_baselines3', 'matplotlib', 'sacrebleu')"
        " if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
