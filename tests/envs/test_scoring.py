"""The env's scoring options: 'fast' equals 'plain'; bf16 is close; settings reach the env."""

from __future__ import annotations

import pytest
import torch

from seqadv.config import load_config
from seqadv.envs.text_generation import TextGenerationVectorEnv
from seqadv.errors import ConfigError
from seqadv.models.discriminator import make_discriminator
from seqadv.models.generator import LSTMGenerator
from seqadv.models.oracle import OracleLSTM

from ..test_adversarial import PRESET


def episode_rewards(scoring: str, precision: str) -> torch.Tensor:
    torch.manual_seed(0)
    oracle = OracleLSTM.from_seed(0, vocab_size=40, max_len=9)
    disc = make_discriminator("cnn", vocab_size=40, max_len=9, filter_sizes=(1, 2, 3, 5),
                              num_filters=(8, 8, 8, 8)).eval()
    gen = LSTMGenerator(40, 8, 8, 9)
    env = TextGenerationVectorEnv(
        6, data=oracle, discriminator=disc, reward="prob", reward_scheme="mc_rollout",
        rollout_policy=gen, n_rollouts=3, autoreset_mode="disabled",
        scoring=scoring, score_precision=precision,
    )
    env.reset(seed=0)
    g = torch.Generator().manual_seed(1)
    out = []
    for _ in range(9):
        _, reward, *_ = env.step(torch.randint(0, 40, (6,), generator=g).numpy())
        out.append(torch.as_tensor(reward))
    return torch.stack(out, 1)


def test_fast_scoring_gives_the_plain_rewards():
    torch.testing.assert_close(episode_rewards("fast", "fp32"), episode_rewards("plain", "fp32"),
                               atol=1e-5, rtol=0)


def test_bf16_scoring_is_close_but_not_the_same():
    plain, bf16 = episode_rewards("plain", "fp32"), episode_rewards("fast", "bf16")
    error = (bf16 - plain).abs()
    assert float(error.max()) < 0.02
    assert float(error.max()) > 0  # bf16 really ran


def test_unknown_scoring_options_are_config_errors():
    with pytest.raises(ConfigError, match="scoring must be one of fast, plain"):
        TextGenerationVectorEnv(2, scoring="quick")
    with pytest.raises(ConfigError, match="score_precision must be one of fp32, bf16"):
        TextGenerationVectorEnv(2, score_precision="fp16")


def test_config_settings_reach_the_env():
    from seqadv.adversarial import AdversarialTrainer

    cfg = load_config(PRESET, ["kernels=plain", "discriminator.score_precision=bf16"])
    trainer = AdversarialTrainer(cfg)
    core = trainer.env.unwrapped if hasattr(trainer.env, "unwrapped") else trainer.env
    core = getattr(core, "core", core)
    assert (core.scoring, core.score_precision) == ("plain", "bf16")
    with pytest.raises(ConfigError, match="kernels"):
        load_config(PRESET, ["kernels=fastest"])
