"""The stable-baselines3 adapter: the actor is the generator; registry; trainer rounds; resume."""

from __future__ import annotations

import copy
import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from stable_baselines3 import DQN, PPO

from seqadv.adversarial import AdversarialTrainer
from seqadv.algorithms import ALGORITHMS
from seqadv.algorithms.callbacks import DiscriminatorStep
from seqadv.algorithms.sb3 import (
    AdversarialCallback,
    SB3Learner,
    export_generator,
    generator_policy_class,
    generator_spaces,
    make_model,
)
from seqadv.config import load_config
from seqadv.envs.text_generation import TextGenerationVectorEnv
from seqadv.errors import ConfigError
from seqadv.models.generator import LSTMGenerator
from seqadv.runs import RunDir

REPO = Path(__file__).resolve().parents[2]
PRESET = REPO / "experiments" / "seqgan_oracle_tiny.yaml"


class MyPPO(PPO):
    """A user's own algorithm class, named by dotted path in a config."""

    def __init__(self, *args, my_flag: bool = True, **kwargs):
        self.my_flag = my_flag
        super().__init__(*args, **kwargs)


class MyDQN(DQN):
    """A user's off-policy class: must be refused."""


def tiny(overrides=()):
    return load_config(PRESET, list(overrides))


def algorithm(name: str) -> str:
    """The override that switches the tiny preset's algorithm (the only change needed)."""
    return f"algorithm={{name: {json.dumps(name)}}}"


def eval_values(run_dir: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k.startswith(("eval/", "phase", "step"))} for r in rows]


def oracle_generator(seed: int = 0) -> LSTMGenerator:
    """Fixed-length sequences, padding outside the vocabulary (V = 16, T = 6)."""
    gen = LSTMGenerator(16, embed_dim=8, hidden_dim=8, max_len=6)
    gen.init_normal_(0.5, generator=torch.Generator().manual_seed(seed))
    return gen


def vocab_generator(seed: int = 0) -> LSTMGenerator:
    """A corpus-style vocabulary: PAD 0 and BOS 1 forbidden, EOS 2, start = BOS."""
    gen = LSTMGenerator(
        12, embed_dim=8, hidden_dim=8, max_len=6, start_id=1, eos_id=2, pad_id=0,
        forbidden_ids=(0, 1),
    )  # fmt: skip
    gen.init_normal_(0.5, generator=torch.Generator().manual_seed(seed))
    return gen


def policy_bases():
    from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy
    from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy
    from stable_baselines3.common.policies import ActorCriticPolicy

    return {
        "ActorCritic": ActorCriticPolicy,
        "Maskable": MaskableActorCriticPolicy,
        "Recurrent": RecurrentActorCriticPolicy,
    }


def build_policy(base_name: str, gen: LSTMGenerator, **kwargs):
    cls = generator_policy_class(policy_bases()[base_name])
    obs_space, action_space = generator_spaces(gen)
    return cls(obs_space, action_space, lambda _: 1e-3, generator=gen, **kwargs)


def prefix(sequences: torch.Tensor, t: int, pad_id: int) -> torch.Tensor:
    """Observations (B, T) float: the first t tokens, then padding."""
    obs = torch.full_like(sequences, pad_id)
    obs[:, :t] = sequences[:, :t]
    return obs.float()


def policy_log_probs(policy, sequences: torch.Tensor, pad_id: int) -> torch.Tensor:
    """(B, T) log pi(x_t | x_<t) read from the SB3 policy, position by position."""
    rows, steps = sequences.shape
    out = torch.zeros(rows, steps)
    recurrent = hasattr(policy, "lstm_actor")
    state = None
    if recurrent:
        zeros = torch.zeros(1, rows, policy.lstm_actor.hidden_size)
        state = (zeros, zeros.clone())
    for t in range(steps):
        obs = prefix(sequences, t, pad_id)
        if recurrent:
            starts = torch.full((rows,), 1.0 if t == 0 else 0.0)
            dist, state = policy.get_distribution(obs, state, starts)
            out[:, t] = dist.log_prob(sequences[:, t])
        else:
            _, log_prob, _ = policy.evaluate_actions(obs, sequences[:, t])
            out[:, t] = log_prob
    return out


def random_sequences(gen: LSTMGenerator, n: int = 64) -> torch.Tensor:
    return gen.sample(n, generator=torch.Generator().manual_seed(5), temperature=2.0)


# -- the policy adapter ------------------------------------------------------------------------
@pytest.mark.parametrize("make_gen", [oracle_generator, vocab_generator])
@pytest.mark.parametrize("base_name", ["ActorCritic", "Maskable", "Recurrent"])
def test_policy_log_probs_equal_the_generators(base_name, make_gen):
    gen = make_gen()
    pretrained = copy.deepcopy(gen.state_dict())
    policy = build_policy(base_name, gen)
    for key, value in gen.state_dict().items():  # building did not re-initialize the actor
        assert torch.equal(value, pretrained[key]), key
    # weights loaded after the policy is built reach it (the modules are the generator's)
    new = make_gen(seed=1)
    gen.load_state_dict(new.state_dict())
    x = random_sequences(gen)
    mask = gen.token_mask(x)
    if gen.eos_id is not None:
        assert 0 < int(mask.sum(1).min()) < gen.max_len  # prefixes of several lengths
    with torch.no_grad():
        expected = gen.token_log_probs(x)
        got = policy_log_probs(policy, x, gen.pad_id)
    torch.testing.assert_close(got[mask], expected[mask], atol=1e-5, rtol=0)
    assert torch.isfinite(got[mask]).all()


def test_action_logits_are_the_generators_projection():
    gen = vocab_generator()
    policy = build_policy("ActorCritic", gen)
    x = random_sequences(gen)
    hidden, live = gen.hidden_states(x), gen.token_mask(x)
    for t in range(gen.max_len):
        obs = prefix(x, t, gen.pad_id)[live[:, t]]  # rows still writing at step t
        logits = policy.action_net(policy.pi_features_extractor(obs))
        expected = gen.project(hidden[live[:, t], t])
        assert torch.equal(torch.isinf(logits), torch.isinf(expected))  # forbidden: -inf
        finite = torch.isfinite(expected)
        torch.testing.assert_close(logits[finite], expected[finite], atol=1e-6, rtol=0)


def test_actor_modules_are_the_generators_and_the_critic_is_separate():
    gen = oracle_generator()
    policy = build_policy("ActorCritic", gen)
    actor = policy.pi_features_extractor.encoder  # the generator's PrefixEncoder
    assert actor.embedding is gen.embedding and actor.lstm is gen.lstm
    assert policy.action_net.output is gen.output
    critic = policy.vf_features_extractor.encoder  # a copy of it
    assert critic.lstm is not gen.lstm and critic.embedding is not gen.embedding
    x = random_sequences(gen)
    values, _, _ = policy.evaluate_actions(prefix(x, 3, gen.pad_id), x[:, 3])
    values.sum().backward()
    assert all(p.grad is None for p in gen.parameters())  # value loss never moves the actor
    assert critic.lstm.weight_hh_l0.grad is not None

    shared = build_policy("ActorCritic", oracle_generator(), share_features_extractor=True)
    values, _, _ = shared.evaluate_actions(prefix(x, 3, gen.pad_id), x[:, 3])
    values.sum().backward()
    assert shared.generator.lstm.weight_hh_l0.grad is not None  # the documented trade-off


def test_actor_with_hidden_layers_is_refused():
    with pytest.raises(ConfigError, match="net_arch"):
        build_policy("ActorCritic", oracle_generator(), net_arch={"pi": [8], "vf": [8]})


# -- learners on an environment ----------------------------------------------------------------
def small_env(mode: str = "terminal", num_envs: int = 4) -> TextGenerationVectorEnv:
    """The default components (V = 16, T = 8), built from fixed seeds: identical every time."""
    return TextGenerationVectorEnv(
        num_envs, reward_scheme=mode, n_rollouts=2, autoreset_mode="disabled"
    )


def small_generator() -> LSTMGenerator:
    gen = LSTMGenerator(16, embed_dim=8, hidden_dim=8, max_len=8)
    gen.init_normal_(0.1, generator=torch.Generator().manual_seed(3))
    return gen


def test_learn_runs_n_sb3_iterations_calls_callbacks_and_keeps_global_rng():
    env, gen = small_env(), small_generator()
    learner = ALGORITHMS.make("sb3:PPO", policy=gen, lr=1e-3, n_epochs=2, seed=1)
    assert isinstance(learner, SB3Learner)
    seen = []
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    stats = learner.learn(env, 3, callbacks=[lambda lrn, s: seen.append((lrn, dict(s)))])
    assert torch.equal(torch.rand(1), expected_next)  # the caller's RNG is left alone
    assert len(seen) == 3 and all(lrn is learner for lrn, _ in seen)
    for key in ("gen/pg_loss", "gen/value_loss", "reward/mean", "time/collect_s"):
        assert key in stats, key
    assert learner.num_updates == 3
    per_update = gen.max_len * env.num_envs  # n_steps defaults to T: one episode per row
    assert learner.model.num_timesteps == 3 * per_update
    assert stats["gen/num_timesteps"] == 3 * per_update
    learner.learn(env, 1)  # timesteps continue across calls
    assert learner.model.num_timesteps == 4 * per_update
    assert learner.model.gamma == 1.0


def test_without_a_critic_ppo_advantages_are_seqgans_q_estimates():
    # critic: false, gamma 0 on mc_rollout rewards: V = 0 and the advantage of every token
    # is the reward the env gave it (SeqGAN's Monte-Carlo estimate of Q), unnormalized.
    env, gen = small_env("mc_rollout"), small_generator()
    learner = ALGORITHMS.make(
        "sb3:PPO", policy=gen, lr=1e-2, n_epochs=1, gamma=0.0, normalize_advantage=False,
        policy_kwargs={"critic": False}, seed=2,
    )  # fmt: skip
    before = copy.deepcopy(gen.state_dict())
    seen = {}

    def grab(lrn, stats):
        buf = lrn.model.rollout_buffer
        seen.update(adv=buf.advantages.copy(), rew=buf.rewards.copy(), val=buf.values.copy())

    learner.learn(env, 1, callbacks=[grab])
    assert (seen["val"] == 0).all()
    steps, envs = seen["rew"].shape  # train() flattened the advantages env by env
    advantages = torch.as_tensor(seen["adv"]).reshape(envs, steps).T
    assert torch.equal(advantages, torch.as_tensor(seen["rew"]))
    assert float(abs(seen["rew"]).sum()) > 0
    policy = learner.model.policy
    assert {id(p) for p in policy.parameters()} == {id(p) for p in gen.parameters()}
    assert any(not torch.equal(v, gen.state_dict()[k]) for k, v in before.items())
    obs = torch.zeros(3, gen.max_len)
    assert torch.equal(policy.predict_values(obs), torch.zeros(3, 1))
    with pytest.raises(ConfigError, match="critic"):
        build_policy("ActorCritic", small_generator(), critic="no")


def test_mc_rollout_mode_logs_a_warning(caplog):
    # the warning follows the env's public reward_scheme.estimates_final_score
    caplog.set_level(logging.WARNING, logger="seqadv")
    shaped = small_env("mc_rollout_shaped")
    assert not shaped.reward_scheme.estimates_final_score
    learner = ALGORITHMS.make("sb3:A2C", policy=small_generator(), lr=1e-3)
    learner.learn(shaped, 1)
    assert not [r for r in caplog.records if "mc_rollout" in r.getMessage()]
    raw = small_env("mc_rollout")
    assert raw.reward_scheme.estimates_final_score
    learner = ALGORITHMS.make("sb3:A2C", policy=small_generator(), lr=1e-3)
    learner.learn(raw, 1)
    learner.learn(raw, 1)  # once per learner
    messages = [r.getMessage() for r in caplog.records if "mc_rollout_shaped" in r.getMessage()]
    assert len(messages) == 1
    assert "'mc_rollout'" in messages[0] and "env.reward_scheme: mc_rollout_shaped" in messages[0]


def test_learner_state_round_trips_through_a_weights_only_checkpoint(tmp_path):
    runs = []
    for _ in range(2):
        learner = ALGORITHMS.make("sb3:PPO", policy=small_generator(), lr=1e-2, n_epochs=2, seed=4)
        env = small_env()
        learner.learn(env, 1)
        runs.append((learner, env))
    (a, env_a), (b, env_b) = runs
    torch.save(a.state_dict(), tmp_path / "learner.pt")
    state = torch.load(tmp_path / "learner.pt", weights_only=True)

    c = ALGORITHMS.make(
        "sb3:PPO", policy=LSTMGenerator(16, 8, 8, max_len=8), lr=1e-2, n_epochs=2, seed=99
    )
    c.load_state_dict(state)  # before its model exists: applied when it is built
    for key, value in a.policy.state_dict().items():
        assert torch.equal(value, c.policy.state_dict()[key]), key
    a.learn(env_a, 2)
    c.learn(small_env(), 2)
    for key, value in a.policy.state_dict().items():
        assert torch.equal(value, c.policy.state_dict()[key]), key
    critic_a = {k: v for k, v in a.model.policy.state_dict().items() if k.startswith("vf_")}
    critic_c = c.model.policy.state_dict()
    assert critic_a and all(torch.equal(v, critic_c[k]) for k, v in critic_a.items())
    assert c.model.num_timesteps == a.model.num_timesteps

    b.load_state_dict(a.state_dict())  # into a built model
    assert b.model.num_timesteps == a.model.num_timesteps
    with pytest.raises(Exception, match="ran"):
        ALGORITHMS.make("sb3:A2C", policy=small_generator()).load_state_dict(state)


def test_sb3_save_and_load_round_trip_and_export(tmp_path):
    gen = small_generator()
    model = make_model("sb3:PPO", small_env(), gen, n_epochs=1, learning_rate=1e-2)
    model.learn(gen.max_len * 4)
    model.save(tmp_path / "ppo.zip")
    loaded = PPO.load(tmp_path / "ppo.zip", device="cpu")
    x = random_sequences(gen, 16)
    with torch.no_grad():
        torch.testing.assert_close(
            policy_log_probs(loaded.policy, x, gen.pad_id),
            policy_log_probs(model.policy, x, gen.pad_id),
            atol=0, rtol=0,
        )  # fmt: skip
    exported = export_generator(loaded)
    assert type(exported) is LSTMGenerator and exported.spec == gen.spec
    for key, value in gen.state_dict().items():
        assert torch.equal(exported.state_dict()[key], value), key
    exported.output.bias.data.add_(1.0)  # an independent copy
    assert not torch.equal(exported.output.bias, gen.output.bias)


def test_adversarial_callback_trains_the_discriminator_between_rollouts():
    env, gen = small_env("mc_rollout_shaped"), small_generator()
    disc, rollout = env.discriminator, env.rollout_policy
    d_before = copy.deepcopy(disc.state_dict())
    r_before = copy.deepcopy(rollout.state_dict())
    model = make_model("sb3:PPO", env, gen, n_epochs=1)
    callback = AdversarialCallback(n_negatives=32, batch_size=16, seed=0)
    model.learn(2 * gen.max_len * env.num_envs, callback=callback)
    assert callback.rounds == 2
    assert {"dis/loss", "dis/acc_real", "dis/acc_fake"} <= set(callback.last_stats)
    assert any(not torch.equal(v, disc.state_dict()[k]) for k, v in d_before.items())
    assert any(not torch.equal(v, rollout.state_dict()[k]) for k, v in r_before.items())

    every_other = AdversarialCallback(every_updates=2, n_negatives=32, batch_size=16)
    model.learn(2 * gen.max_len * env.num_envs, callback=every_other)
    assert every_other.rounds == 1


# -- the registry ------------------------------------------------------------------------------
def test_sb3_names_are_registered():
    names = ALGORITHMS.names()
    for name in (
        "reinforce",
        "sb3:PPO",
        "sb3:A2C",
        "sb3_contrib:RecurrentPPO",
        "sb3_contrib:MaskablePPO",
    ):
        assert name in names


@pytest.mark.parametrize("name", ALGORITHMS.names())
def test_every_registered_algorithm_trains_the_tiny_preset(name):
    trainer = AdversarialTrainer(
        tiny(["pretrain.epochs=1", "adversarial.rounds=2", algorithm(name)])
    )
    trainer._pretrain_generator()
    gen_before = copy.deepcopy(trainer.generator.state_dict())
    dis_before = copy.deepcopy(trainer.discriminator.state_dict())
    trainer.state["phase"] = "dis_pretrain"
    record = trainer.fit()
    gen_after, dis_after = trainer.generator.state_dict(), trainer.discriminator.state_dict()
    moved_gen = [k for k in gen_before if not torch.equal(gen_before[k], gen_after[k])]
    moved_dis = [k for k in dis_before if not torch.equal(dis_before[k], dis_after[k])]
    assert "output.weight" in moved_gen and "lstm.weight_hh_l0" in moved_gen
    assert len(moved_dis) >= len(dis_before) // 2
    assert trainer.learner.num_updates == 2
    assert record["round"] == 2 and "dis/acc_real" in record


def test_other_on_policy_classes_resolve_by_package_and_dotted_path():
    gen = small_generator()
    learner = ALGORITHMS.make("stable_baselines3:PPO", policy=gen, n_epochs=1)
    assert learner.algorithm is PPO
    name = f"{MyPPO.__module__}:MyPPO"
    learner = ALGORITHMS.make(name, policy=gen, n_epochs=1, my_flag=False)
    learner.learn(small_env(), 1)
    assert type(learner.model) is MyPPO and learner.model.my_flag is False
    assert learner.model.n_steps == gen.max_len  # seqadv's defaults reach it through **kwargs
    before = copy.deepcopy(gen.state_dict())
    learner = ALGORITHMS.make("sb3_contrib:TRPO", policy=gen, lr=1e-2)  # not registered
    learner.learn(small_env("mc_rollout_shaped"), 1)
    assert not torch.equal(before["output.weight"], gen.output.weight)


def test_a_users_class_by_dotted_path_trains_in_the_trainer():
    name = f"{MyPPO.__module__}:MyPPO"
    trainer = AdversarialTrainer(
        tiny(
            [
                "pretrain.epochs=1",
                "adversarial.rounds=1",
                "env.reward_scheme.name=mc_rollout_shaped",
                algorithm(name),
            ]
        )
    )
    before = copy.deepcopy(trainer.generator.state_dict())
    trainer.fit()
    assert type(trainer.learner.model) is MyPPO
    assert not torch.equal(before["output.weight"], trainer.generator.state_dict()["output.weight"])


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("sb3:SAC", "SAC is an off-policy algorithm"),
        ("sb3:DQN", "DQN is an off-policy algorithm"),
        ("sb3_contrib:QRDQN", "off-policy"),
        ("sb3_contrib:ARS", "ARS is not an on-policy algorithm"),
        (f"{MyDQN.__module__}:MyDQN", "MyDQN is an off-policy algorithm"),
        ("sb3:PPOO", "Did you mean sb3:PPO"),
    ],
)
def test_incompatible_classes_fail_saying_why(name, match):
    with pytest.raises(ConfigError, match=match) as info:
        ALGORITHMS.make(name, policy=small_generator())
    if "off-policy" in match:
        assert "on-policy algorithm" in str(info.value)  # says what is needed, and why


def test_incompatible_class_fails_when_the_trainer_is_built():
    with pytest.raises(ConfigError, match="off-policy"):
        AdversarialTrainer(tiny(["pretrain.epochs=0", algorithm("sb3:SAC")]))


def test_unknown_and_reserved_arguments_are_config_errors():
    with pytest.raises(ConfigError, match="'n_stepz'.*n_steps"):
        ALGORITHMS.make("sb3:PPO", policy=small_generator(), n_stepz=4)
    with pytest.raises(ConfigError, match="'env'"):
        ALGORITHMS.make("sb3:PPO", policy=small_generator(), env=None)


# -- checkpoints and resume --------------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    [
        "sb3:PPO",
        pytest.param("sb3:A2C", marks=pytest.mark.slow),
        pytest.param("sb3_contrib:RecurrentPPO", marks=pytest.mark.slow),
        pytest.param("sb3_contrib:MaskablePPO", marks=pytest.mark.slow),
    ],
)
def test_stop_and_resume_gives_the_same_result(tmp_path, monkeypatch, name):
    overrides = ["pretrain.epochs=1", "env.reward_scheme.name=mc_rollout_shaped", algorithm(name)]
    straight = tmp_path / "straight"
    t1 = AdversarialTrainer(tiny(overrides), run=RunDir(straight))
    t1.fit()

    resumed = tmp_path / "resumed"
    t2 = AdversarialTrainer(tiny(overrides), run=RunDir(resumed))
    calls = {"n": 0}
    original = DiscriminatorStep.train_round

    def interrupt(self, epochs=None):
        calls["n"] += 1
        if calls["n"] == 4:  # 2 pretraining rounds, round 1, then inside round 2
            raise KeyboardInterrupt
        return original(self, epochs)

    monkeypatch.setattr(DiscriminatorStep, "train_round", interrupt)
    with pytest.raises(KeyboardInterrupt):
        t2.fit()
    monkeypatch.setattr(DiscriminatorStep, "train_round", original)
    ckpt = torch.load(resumed / "checkpoints" / "last.pt", weights_only=True)
    assert ckpt["state"]["round"] == 1 and ckpt["adversarial"]["learner"]["model"] is not None
    t3 = AdversarialTrainer.resume(resumed)
    t3.fit()
    assert eval_values(straight) == eval_values(resumed)
    for key, value in t1.generator.state_dict().items():
        assert torch.equal(value, t3.generator.state_dict()[key]), key
    for key, value in t1.discriminator.state_dict().items():
        assert torch.equal(value, t3.discriminator.state_dict()[key]), key
    assert t1.learner.model.num_timesteps == t3.learner.model.num_timesteps


def test_checkpoint_holds_only_tensors_and_plain_data():
    trainer = AdversarialTrainer(
        tiny(["pretrain.epochs=0", "adversarial.rounds=1", algorithm("sb3:PPO")])
    )
    trainer.state["phase"] = "adversarial"
    trainer.fit()
    buffer = io.BytesIO()
    torch.save(trainer.checkpoint_state(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    assert state["adversarial"]["learner"]["model"]["num_timesteps"] == 16 * 6


# -- laziness ---------------------------------------------------------------------------------
def test_importing_seqadv_does_not_import_stable_baselines3(tmp_path):
    code = (
        "import sys\n"
        "import seqadv, seqadv.algorithms\n"
        "from seqadv.algorithms import ALGORITHMS\n"
        "ALGORITHMS.names(); [e.summary for e in ALGORITHMS.entries() if e.name != 'reinforce']\n"
        "ALGORITHMS.get('reinforce')\n"
        "print(sorted(m for m in ('stable_baselines3', 'sb3_contrib') if m in sys.modules))\n"
        "ALGORITHMS.get('sb3:PPO')\n"
        "print('stable_baselines3' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["[]", "True"]
