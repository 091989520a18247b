"""The sb3 bridge as a package: its layout, any policy with actor_modules(), public env access."""

from __future__ import annotations

import ast
import copy
import importlib
import pickle
from pathlib import Path

import pytest
import torch
from stable_baselines3.common.callbacks import BaseCallback
from torch import nn

import seqadv.algorithms.sb3 as sb3
from seqadv.algorithms import ALGORITHMS
from seqadv.algorithms.base import blend_parameters_
from seqadv.algorithms.discriminator import default_optimizer, train_discriminator
from seqadv.algorithms.sb3 import (
    AdversarialCallback,
    GlobalRNG,
    SB3Learner,
    export_generator,
    generator_policy_class,
    generator_spaces,
    make_model,
)
from seqadv.algorithms.sb3.model import as_vec_env
from seqadv.envs.text_generation import TextGenerationVectorEnv
from seqadv.errors import ConfigError
from seqadv.models.generator import LSTMGenerator

PACKAGE = Path(sb3.__file__).resolve().parent


# -- layout ------------------------------------------------------------------------------------
def _imported_names(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            names.add(node.module or "")
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_the_package_has_small_modules_that_know_no_lstm_and_no_env_internals():
    assert not (PACKAGE.parent / "sb3.py").exists()
    files = sorted(PACKAGE.glob("*.py"))
    names = {f.name for f in files}
    assert {"__init__.py", "policy.py", "classes.py", "learner.py", "callback.py"} <= names
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert len(text.splitlines()) < 500, path.name
        assert ".core" not in text, path.name  # environments are read through public attributes
        imported = _imported_names(ast.parse(text))
        # no LSTM-specific default was unavoidable: nothing imports the LSTM generator
        assert "LSTMGenerator" not in imported, path.name
        assert "seqadv.models.generator" not in imported, path.name


def test_every_former_public_name_is_importable_from_the_package():
    former = [
        "SB3Learner", "AdversarialCallback", "GeneratorFeaturesExtractor",
        "GeneratorTokenExtractor", "GeneratorActionHead", "GeneratorActorCriticPolicy",
        "generator_policy_class", "generator_spaces", "make_model", "export_generator",
        "resolve_algorithm_class", "sb3_entry", "ppo", "a2c", "recurrent_ppo", "maskable_ppo",
    ]  # fmt: skip
    for name in former:
        assert name in sb3.__all__ and getattr(sb3, name) is not None, name
    factories = {"sb3:PPO": sb3.ppo, "sb3:A2C": sb3.a2c, "sb3_contrib:RecurrentPPO":
                 sb3.recurrent_ppo, "sb3_contrib:MaskablePPO": sb3.maskable_ppo}  # fmt: skip
    for name, factory in factories.items():
        assert ALGORITHMS.get(name) is factory


@pytest.mark.parametrize(
    "name", ["GeneratorMaskableActorCriticPolicy", "GeneratorRecurrentActorCriticPolicy"]
)
def test_dynamic_policy_classes_are_found_by_module_and_name(name):
    from seqadv.algorithms.sb3 import policy

    cls = getattr(sb3, name)  # built on demand
    assert cls.__qualname__ == name
    assert getattr(importlib.import_module(cls.__module__), name) is cls
    assert getattr(policy, name) is cls
    assert pickle.loads(pickle.dumps(cls)) is cls  # what SB3's save/load relies on
    with pytest.raises(AttributeError):
        sb3.GeneratorNoSuchPolicy  # noqa: B018


# -- a policy that is not an LSTM --------------------------------------------------------------
class BagEncoder(nn.Module):
    """The mean embedding of the written tokens of a padded prefix (N, T) -> (N, D)."""

    def __init__(self, embedding: nn.Embedding, pad_id: int) -> None:
        super().__init__()
        self.embedding = embedding
        self.pad_id = pad_id
        self.latent_dim = embedding.embedding_dim

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        ids = observations.round().long().clamp(0, self.pad_id)
        written = (ids != self.pad_id).unsqueeze(-1).float()
        total = (self.embedding(ids) * written).sum(dim=1)
        return total / written.sum(dim=1).clamp(min=1.0)


class BagOfTokens(nn.Module):
    """A toy policy offering only actor_modules(): a bag-of-embeddings encoder, a Linear head."""

    def __init__(self, vocab_size: int = 16, pad_id: int = 16, dim: int = 8) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        self.embedding = nn.Embedding(pad_id + 1, dim)
        self.output = nn.Linear(dim, vocab_size)
        with torch.no_grad():
            for p in self.parameters():
                p.normal_(0.0, 0.3, generator=gen)
        self.pad_id = pad_id

    def actor_modules(self) -> tuple[nn.Module, nn.Module]:
        return BagEncoder(self.embedding, self.pad_id), self.output


def toy_env() -> TextGenerationVectorEnv:
    return TextGenerationVectorEnv(4, reward_scheme="terminal", autoreset_mode="disabled")


def test_a_non_lstm_policy_trains_with_ppo():
    env, toy = toy_env(), BagOfTokens()
    before = copy.deepcopy(toy.state_dict())
    learner = ALGORITHMS.make("sb3:PPO", policy=toy, lr=1e-2, n_epochs=1)
    assert isinstance(learner, SB3Learner)
    stats = learner.learn(env, 1)
    assert learner.num_updates == 1 and "gen/pg_loss" in stats
    model = learner.model
    assert model.n_steps == env.max_episode_steps  # the episode length, from the env
    assert model.num_timesteps == env.max_episode_steps * env.num_envs
    policy = model.policy
    assert policy.action_net is toy.output
    assert policy.pi_features_extractor.encoder.embedding is toy.embedding
    assert policy.vf_features_extractor.encoder.embedding is not toy.embedding  # a copy
    owned = {id(p) for p in toy.parameters()}
    assert owned <= {id(p) for p in policy.parameters()}
    moved = [k for k, v in before.items() if not torch.equal(v, toy.state_dict()[k])]
    assert set(moved) == {"embedding.weight", "output.weight", "output.bias"}
    exported = export_generator(learner)
    assert type(exported) is BagOfTokens and exported is not toy
    assert all(torch.equal(v, toy.state_dict()[k]) for k, v in exported.state_dict().items())
    exported.output.bias.data.add_(1.0)  # an independent copy
    assert not torch.equal(exported.output.bias, toy.output.bias)


def test_building_keeps_the_policys_weights_and_its_action_size_is_checked():
    toy = BagOfTokens()
    before = copy.deepcopy(toy.state_dict())
    make_model("sb3:PPO", toy_env(), toy, n_epochs=1)  # ortho_init ran over the head
    assert all(torch.equal(v, toy.state_dict()[k]) for k, v in before.items())
    with pytest.raises(ConfigError, match=r"writes 10 logits.*Discrete\(10\)"):
        make_model("sb3:PPO", toy_env(), BagOfTokens(vocab_size=10), n_epochs=1)


def test_policies_without_the_modules_are_config_errors():
    with pytest.raises(ConfigError, match="actor_modules"):
        ALGORITHMS.make("sb3:PPO", policy=nn.Linear(2, 2))
    with pytest.raises(ConfigError, match="recurrent_modules"):
        ALGORITHMS.make("sb3_contrib:RecurrentPPO", policy=BagOfTokens())

    class NotAnEnv:
        pass

    with pytest.raises(ConfigError, match="got NotAnEnv"):
        as_vec_env(NotAnEnv())


# -- names and checkpoints --------------------------------------------------------------------
def small_generator() -> LSTMGenerator:
    gen = LSTMGenerator(16, embed_dim=8, hidden_dim=8, max_len=8)
    gen.init_normal_(0.1, generator=torch.Generator().manual_seed(3))
    return gen


def test_learner_random_streams_and_their_checkpoint_keys():
    learner = ALGORITHMS.make("sb3:PPO", policy=small_generator(), n_epochs=1, seed=3)
    assert isinstance(learner.rng, torch.Generator)
    assert isinstance(learner.global_rng, GlobalRNG)
    learner.learn(toy_env(), 1)
    state = learner.state_dict()
    assert torch.equal(state["env_seeds"], learner.rng.get_state())
    assert torch.equal(state["rng"]["torch"], learner.global_rng.state_dict()["torch"])
    # the saved optimizer state is a copy, not the live moments
    moments = state["model"]["optimizer"]["state"][0]["exp_avg"]
    learner.learn(toy_env(), 1)
    assert not torch.equal(moments, learner.model.policy.optimizer.state_dict()["state"][0]["exp_avg"])


def test_state_dicts_of_the_former_extractor_layout_still_load():
    """Extractors used to hold the encoder's modules directly (no ``encoder.`` level)."""
    from stable_baselines3.common.policies import ActorCriticPolicy

    cls = generator_policy_class(ActorCriticPolicy)
    gen = small_generator()
    obs, act = generator_spaces(gen)
    source = cls(obs, act, lambda _: 1e-3, generator=gen)
    with torch.no_grad():
        for p in source.vf_features_extractor.parameters():
            p.add_(1.0)
    old = {k.replace("extractor.encoder.", "extractor."): v for k, v in source.state_dict().items()}
    assert "vf_features_extractor.lstm.weight_hh_l0" in old
    target = cls(obs, act, lambda _: 1e-3, generator=LSTMGenerator(16, 8, 8, max_len=8))
    target.load_state_dict(old)  # strict
    for key, value in source.state_dict().items():
        assert torch.equal(value, target.state_dict()[key]), key


# -- the adversarial callback ---------------------------------------------------------------------
def shaped_env() -> TextGenerationVectorEnv:
    return TextGenerationVectorEnv(
        4, reward_scheme="mc_rollout_shaped", n_rollouts=2, autoreset_mode="disabled"
    )


class FormerAdversarialStep(BaseCallback):
    """The callback's former own loop (blend, then sample and train per round), for reference."""

    def __init__(self, rounds: int, epochs: int, n_negatives: int, batch_size: int, seed: int):
        super().__init__()
        self.rounds, self.epochs, self.n, self.batch_size = rounds, epochs, n_negatives, batch_size
        self.rng = torch.Generator().manual_seed(seed)
        self.pending, self.stats = False, {}

    def _on_training_start(self) -> None:
        env = self.training_env
        self.disc, self.rollout, self.real = (
            env.get_attr(name, indices=[0])[0] for name in ("discriminator", "rollout_policy", "data")
        )
        self.real = self.real.train
        self.gen = self.model.policy.generator
        self.optimizer = default_optimizer(self.disc, lr=1e-4)

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        self.pending = True

    def _on_rollout_start(self) -> None:
        self._step()

    def _on_training_end(self) -> None:
        self._step()

    def _step(self) -> None:
        if not self.pending:
            return
        self.pending = False
        blend_parameters_(self.rollout, self.gen, 0.8)
        for _ in range(self.rounds):
            self.gen.eval()
            fake = self.gen.sample(self.n, generator=self.rng)
            self.stats = train_discriminator(
                self.disc, self.real, fake, epochs=self.epochs, batch_size=self.batch_size,
                optimizer=self.optimizer, generator=self.rng, pad_id=None,
            )  # fmt: skip
        self.gen.train()


def test_adversarial_callback_gives_the_numbers_of_its_former_loop():
    runs = []
    for make in (
        lambda: AdversarialCallback(
            discriminator_rounds=2, discriminator_epochs=2, n_negatives=24, batch_size=16, seed=5
        ),
        lambda: FormerAdversarialStep(rounds=2, epochs=2, n_negatives=24, batch_size=16, seed=5),
    ):
        env, gen = shaped_env(), small_generator()
        model = make_model("sb3:PPO", env, gen, n_epochs=1)
        callback = make()
        model.learn(2 * gen.max_len * env.num_envs, callback=callback)
        stats = callback.last_stats if isinstance(callback, AdversarialCallback) else callback.stats
        runs.append((env.discriminator, env.rollout_policy, gen, stats))
    new, former = runs
    for a, b in zip(new[:3], former[:3]):
        for key, value in a.state_dict().items():
            assert torch.equal(value, b.state_dict()[key]), key
    assert {k: v for k, v in new[3].items() if not k.startswith("time/")} == former[3]


def test_adversarial_callback_generator_argument_is_deprecated():
    gen = small_generator()
    with pytest.warns(DeprecationWarning, match="policy"):
        callback = AdversarialCallback(generator=gen)
    assert callback.policy is gen
    with pytest.warns(DeprecationWarning, match="policy"):
        assert callback.generator is gen
    assert AdversarialCallback(policy=gen).policy is gen
