"""Non-finite training stops, before the last good checkpoint (or the weights) are overwritten.

A reward of 1e38 is finite (the reward output check lets it through) but overflows float32
in the reward scheme or the loss. Every learner, the MLE step and discriminator training
raise NonFiniteError naming the phase or component, before the optimizer step; the trainer
checkpoints only finished rounds, epochs and phases, so ``checkpoints/last.pt`` stays the
last good state. Finite runs are untouched (tests/test_goldens.py).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch

from seqadv.adversarial import AdversarialTrainer
from seqadv.algorithms.mle import MLELearner
from seqadv.cli import main
from seqadv.config import load_config
from seqadv.errors import ConfigError, NonFiniteError, SeqadvError
from seqadv.rewards import REWARDS, register_reward
from seqadv.runs import RunDir, load_checkpoint

REPO = Path(__file__).resolve().parents[2]
PRESET = REPO / "experiments" / "seqgan_oracle_tiny.yaml"

REWARD = "nonfinite_test_constant"
NAN_REWARD = "nonfinite_test_nan"
#: what the test reward returns: D(x) while None, else this constant
LEVEL: dict[str, float | None] = {"value": 1e38}

FAST = ["pretrain.epochs=1", "adversarial.rounds=2", "eval.every_rounds=1"]
SHAPED = ["env.reward_scheme.name=mc_rollout_shaped"]
TERMINAL = ["env.reward_scheme={name: terminal}"]
PPO = ['algorithm={name: "sb3:PPO", kwargs: {n_epochs: 1}}']
ACTOR_CRITIC = ["algorithm={name: actor_critic}"]


@pytest.fixture(autouse=True)
def rewards():
    """The test rewards, registered for each test and removed afterwards."""

    @register_reward(REWARD, level="any", override=True)
    def constant(logits, **kwargs):
        if LEVEL["value"] is None:
            return torch.sigmoid(logits)
        return torch.full_like(logits, LEVEL["value"])

    @register_reward(NAN_REWARD, level="any", override=True)
    def nan(logits, **kwargs):
        return torch.full_like(logits, math.nan)

    LEVEL["value"] = 1e38
    yield
    REWARDS.remove(REWARD)
    REWARDS.remove(NAN_REWARD)


def make_trainer(tmp_path: Path, *overrides: str, reward: str = REWARD) -> AdversarialTrainer:
    cfg = load_config(PRESET, [f"env.reward={reward}", *FAST, *overrides])
    return AdversarialTrainer(cfg, run=RunDir(tmp_path / "run"))


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def assert_same(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert got.keys() == want.keys()
    for key, value in want.items():
        assert torch.equal(got[key], value), key


def tensors(obj: Any):
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from tensors(value)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            yield from tensors(value)


def assert_all_finite(ckpt: dict[str, Any]) -> None:
    found = [t for t in tensors(ckpt) if t.is_floating_point()]
    assert found
    assert all(bool(torch.isfinite(t).all()) for t in found)


def watch_rounds(monkeypatch, trainer: AdversarialTrainer) -> list[dict[str, Any]]:
    """The generator, discriminator and critic (if any) at the start of every round."""
    seen: list[dict[str, Any]] = []
    learn = trainer.learner.learn

    def watched(env, n_updates, callbacks=()):
        state = {"generator": snapshot(trainer.generator), "discriminator": snapshot(trainer.discriminator)}
        if hasattr(trainer.learner, "critic"):
            state["critic"] = snapshot(trainer.learner.critic)
        seen.append(state)
        return learn(env, n_updates, callbacks)

    monkeypatch.setattr(trainer.learner, "learn", watched)
    return seen


def last_checkpoint(trainer: AdversarialTrainer) -> dict[str, Any]:
    ckpt = load_checkpoint(trainer.run.path / "checkpoints" / "last.pt")
    assert_all_finite(ckpt)
    return ckpt


# -- a huge reward through the trainer ----------------------------------------------------------
def test_a_huge_reward_stops_the_first_round_and_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    trainer = make_trainer(tmp_path)
    seen = watch_rounds(monkeypatch, trainer)
    with pytest.raises(NonFiniteError) as info:
        trainer.fit()
    message = str(info.value)
    # the mc_rollout scheme's mean of 4 rollouts of 1e38 overflows: the rewards are inf
    assert message.startswith("Reinforce update 1: the collected batch has non-finite rewards")
    assert "env.reward" in message and "max 1e+38" in message and "scale the reward down" in message
    assert isinstance(info.value, SeqadvError) and isinstance(info.value, FloatingPointError)
    assert len(seen) == 1
    ckpt = last_checkpoint(trainer)
    assert ckpt["state"]["phase"] == "adversarial" and ckpt["state"]["round"] == 0
    assert_same(ckpt["generator"], seen[0]["generator"])
    assert_same(ckpt["adversarial"]["discriminator"], seen[0]["discriminator"])
    assert_same(snapshot(trainer.generator), seen[0]["generator"])  # not stepped in memory


def test_a_reward_that_grows_huge_in_round_two_keeps_round_one(tmp_path, monkeypatch):
    LEVEL["value"] = None  # round 1: D(x), finite
    trainer = make_trainer(tmp_path)
    seen = watch_rounds(monkeypatch, trainer)

    def grow(rnd):
        LEVEL["value"] = 1e37  # finite rewards, an infinite policy-gradient loss

    trainer.round_callbacks.append(grow)
    with pytest.raises(NonFiniteError) as info:
        trainer.fit()
    message = str(info.value)
    assert message.startswith("Reinforce update 2: the policy-gradient loss is inf, before backward")
    assert "rewards of the batch, from the environment's reward: min 1e+37, max 1e+37" in message
    assert message.endswith("the model was not updated")
    assert len(seen) == 2
    ckpt = last_checkpoint(trainer)
    assert ckpt["state"]["round"] == 1 and ckpt["adversarial"]["learner"]["num_updates"] == 1
    assert_same(ckpt["generator"], seen[1]["generator"])
    assert_same(ckpt["adversarial"]["discriminator"], seen[1]["discriminator"])
    assert_same(snapshot(trainer.generator), seen[1]["generator"])
    assert not torch.equal(seen[0]["generator"]["output.weight"], seen[1]["generator"]["output.weight"])
    assert trainer.learner.num_updates == 1


def test_the_cli_exits_2_naming_the_learner_without_a_traceback(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        ["train", str(PRESET), "--out", str(out), *(f"--set={s}" for s in [f"env.reward={REWARD}", *FAST])]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "seqadv: error: Reinforce update 1: the collected batch has non-finite rewards" in err
    assert "Traceback" not in err
    ckpt = load_checkpoint(out / "checkpoints" / "last.pt")
    assert_all_finite(ckpt)
    assert ckpt["state"]["phase"] == "adversarial" and ckpt["state"]["round"] == 0


def test_a_nan_reward_is_refused_by_the_reward_output_check(tmp_path):
    # the check before training plays one episode: the reward's output check refuses it there
    with pytest.raises(ConfigError, match=f"^env: .*reward '{NAN_REWARD}'.*NaN"):
        make_trainer(tmp_path, reward=NAN_REWARD)


# -- each learner -------------------------------------------------------------------------------
def test_reinforce_refuses_a_batch_with_nan_rewards(tmp_path, monkeypatch):
    trainer = make_trainer(tmp_path)
    LEVEL["value"] = None
    collect = trainer.learner.collect

    def poisoned(env):
        batch = collect(env)
        batch.rewards[0, 0] = math.nan
        return batch

    monkeypatch.setattr(trainer.learner, "collect", poisoned)
    seen = watch_rounds(monkeypatch, trainer)
    with pytest.raises(NonFiniteError, match=r"^Reinforce update 1: .*non-finite rewards.*1 NaN"):
        trainer.fit()
    assert_same(snapshot(trainer.generator), seen[0]["generator"])
    assert not trainer.learner.optimizer.state  # Adam never stepped


@pytest.mark.parametrize("grad_clip", ["5.0", "null"])
def test_reinforce_stops_on_a_nan_gradient_norm_before_the_step(tmp_path, monkeypatch, grad_clip):
    LEVEL["value"] = None
    trainer = make_trainer(tmp_path, f"adversarial.grad_clip={grad_clip}")
    loss = trainer.learner.loss
    weight = trainer.generator.output.weight

    def nan_gradient(batch):  # a finite loss whose gradient is NaN: d sqrt(x)/dx at 0
        return loss(batch) + torch.sqrt(0.0 * weight.sum())

    monkeypatch.setattr(trainer.learner, "loss", nan_gradient)
    seen = watch_rounds(monkeypatch, trainer)
    with pytest.raises(NonFiniteError) as info:
        trainer.fit()
    assert str(info.value).startswith("Reinforce update 1: the gradient norm is nan")
    assert "the policy-gradient loss is" in str(info.value)
    assert_same(snapshot(trainer.generator), seen[0]["generator"])
    assert not trainer.learner.optimizer.state
    assert last_checkpoint(trainer)["state"]["round"] == 0


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (1e38, "ActorCritic update 1: the collected batch has non-finite rewards"),  # inf - inf
        (1e37, "ActorCritic update 1: the actor-critic loss (policy-gradient loss"),
    ],
)
def test_actor_critic_stops_before_the_step(tmp_path, monkeypatch, value, fragment):
    LEVEL["value"] = value
    trainer = make_trainer(tmp_path, *ACTOR_CRITIC, *SHAPED)
    seen = watch_rounds(monkeypatch, trainer)
    with pytest.raises(NonFiniteError) as info:
        trainer.fit()
    assert str(info.value).startswith(fragment)
    assert_same(snapshot(trainer.generator), seen[0]["generator"])
    assert_same(snapshot(trainer.learner.critic), seen[0]["critic"])
    ckpt = last_checkpoint(trainer)
    assert_same(ckpt["generator"], seen[0]["generator"])
    assert_same(ckpt["adversarial"]["learner"]["critic"], seen[0]["critic"])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy's overflow inside SB3
@pytest.mark.parametrize(
    ("value", "scheme", "fragment", "stepped"),
    [
        # inf - inf in the shaped rewards: refused as SB3 collects them, before train()
        (1e38, SHAPED, "sb3:PPO update 1: non-finite rewards at rollout step 1", False),
        # finite rewards, a NaN gradient: the optimizer step pre-hook refuses it
        (1e38, TERMINAL, "sb3:PPO update 1: the gradient norm is nan in SB3's train()", False),
        # an infinite value loss with clipped, finite gradients: SB3 steps, the check after
        # train() refuses the iteration
        (1e37, SHAPED, "sb3:PPO update 1: after SB3's train(), the mean value_loss is inf", True),
    ],
)
def test_sb3_ppo_stops_naming_the_algorithm(tmp_path, monkeypatch, value, scheme, fragment, stepped):
    LEVEL["value"] = value
    trainer = make_trainer(tmp_path, *PPO, *scheme)
    seen = watch_rounds(monkeypatch, trainer)
    with pytest.raises(NonFiniteError) as info:
        trainer.fit()
    assert str(info.value).startswith(fragment), str(info.value)
    assert f"max {value:.4g}" in str(info.value) or "infinite" in str(info.value)
    assert trainer.learner.num_updates == 0
    ckpt = last_checkpoint(trainer)
    assert ckpt["state"]["phase"] == "adversarial" and ckpt["state"]["round"] == 0
    assert_same(ckpt["generator"], seen[0]["generator"])
    if not stepped:  # the weights in memory are those before the failing step
        assert_same(snapshot(trainer.generator), seen[0]["generator"])


def test_the_sb3_bridge_refuses_nan_rewards_at_once():
    from seqadv.algorithms.sb3.learner import SB3Learner, _LearnerCallback
    from seqadv.models.generator import LSTMGenerator

    policy = LSTMGenerator(vocab_size=8, embed_dim=4, hidden_dim=8, max_len=4)
    bridge = _LearnerCallback(SB3Learner("sb3:PPO", policy), [])
    bridge.locals = {"rewards": [0.5, 0.25]}
    assert bridge._on_step()
    bridge.locals = {"rewards": [0.5, math.nan]}
    with pytest.raises(NonFiniteError, match=r"^sb3:PPO update 1: non-finite rewards at rollout step 2.*1 NaN"):
        bridge._on_step()


# -- the MLE step and discriminator training ---------------------------------------------------
def poison_after(monkeypatch, module, name: str, calls: int, bad: float, record):
    """Make ``module.name`` return ``bad`` from call ``calls + 1`` on, recording the module's
    weights at that call (the state the failing step must leave alone)."""
    original = getattr(module, name)
    count = {"n": 0}

    def poisoned(*args, **kwargs):
        count["n"] += 1
        out = original(*args, **kwargs)
        if count["n"] <= calls:
            return out
        record.append(snapshot(module))
        return out * bad if math.isnan(bad) else out + bad

    monkeypatch.setattr(module, name, poisoned)


def test_mle_pretraining_stops_on_an_infinite_loss(tmp_path, monkeypatch):
    trainer = make_trainer(tmp_path)
    before: list[dict[str, torch.Tensor]] = []
    poison_after(monkeypatch, trainer.generator, "mle_loss", 2, math.inf, before)
    with pytest.raises(NonFiniteError) as info:
        trainer.fit()
    message = str(info.value)
    assert message.startswith("MLE step (MLE epoch 1, batch 3/8): the negative log-likelihood loss is inf")
    assert message.endswith("the generator was not updated")
    assert_same(snapshot(trainer.generator), before[0])
    ckpt = last_checkpoint(trainer)
    assert ckpt["state"]["phase"] == "mle" and ckpt["state"]["mle_epoch"] == 0


@pytest.mark.parametrize("grad_clip", [5.0, None])
def test_an_mle_step_stops_on_an_infinite_loss_or_gradient(grad_clip):
    from seqadv.models.generator import LSTMGenerator

    torch.manual_seed(0)
    gen = LSTMGenerator(vocab_size=8, embed_dim=4, hidden_dim=8, max_len=5)
    mle = MLELearner(gen, batch_size=4, grad_clip=grad_clip)
    batch = torch.randint(0, 8, (4, 5), generator=torch.Generator().manual_seed(0))
    assert math.isfinite(mle.step(batch))
    before, state = snapshot(gen), {k: dict(v) for k, v in mle.optimizer.state.items()}
    loss = gen.mle_loss
    gen.mle_loss = lambda b: loss(b) + math.inf
    with pytest.raises(NonFiniteError, match=r"^MLE step: the negative log-likelihood loss is inf"):
        mle.step(batch)
    gen.mle_loss = lambda b: loss(b) + torch.sqrt(0.0 * gen.output.weight.sum())
    with pytest.raises(NonFiniteError, match=r"^MLE step: the gradient norm is nan"):
        mle.step(batch)
    assert_same(snapshot(gen), before)
    assert all(int(mle.optimizer.state[p]["step"]) == int(s["step"]) for p, s in state.items())


def test_discriminator_training_stops_on_a_nan_loss(tmp_path, monkeypatch):
    trainer = make_trainer(tmp_path)
    before: list[dict[str, torch.Tensor]] = []
    poison_after(monkeypatch, trainer.discriminator, "loss", 3, math.nan, before)
    with pytest.raises(NonFiniteError) as info:
        trainer.fit()
    message = str(info.value)
    assert message.startswith("discriminator training, epoch 1/1, batch 4/")
    assert ": loss is nan, before backward" in message
    assert message.endswith("the discriminator was not updated")
    assert_same(snapshot(trainer.discriminator), before[0])
    assert not trainer.discriminator.training  # left in eval mode
    ckpt = last_checkpoint(trainer)
    assert ckpt["state"]["phase"] == "dis_pretrain" and ckpt["state"]["dis_round"] == 0
