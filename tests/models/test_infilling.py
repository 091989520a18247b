"""MaskGAN's models: the seq2seq infilling generator and the token-level discriminator."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from seqadv.algorithms.discriminator import default_optimizer, train_discriminator
from seqadv.data.infilling import MaskSpec, infilling_data, split_examples
from seqadv.envs.text_generation import default_components
from seqadv.errors import ConfigError
from seqadv.models.discriminator import DISCRIMINATORS, make_discriminator
from seqadv.models.infilling_discriminator import InfillingDiscriminator
from seqadv.models.infilling_generator import infilling_policy
from seqadv.models.policy import GENERATORS

V, T = 16, 8


def data(strategy: str = "random"):
    base, _, _ = default_components("token", V, T)
    return infilling_data(base, MaskSpec(strategy, 0.5), seed=0)


def test_registered_names():
    assert GENERATORS.entry("maskgan") and DISCRIMINATORS.entry("maskgan").meta["level"] == "token"
    d = make_discriminator("maskgan", vocab_size=V, max_len=T)
    assert isinstance(d, InfillingDiscriminator) and d.sentence_len == T and d.max_len == 2 * T


def test_generator_needs_infilling_data():
    base, _, _ = default_components("token", V, T)
    with pytest.raises(ConfigError, match="infilling data"):
        infilling_policy(base, seed=0)


def test_mask_mle_is_the_cross_entropy_of_the_missing_tokens_only():
    d = data()
    gen = infilling_policy(d, seed=0, embed_dim=8, hidden_dim=8)
    examples = d.train[:32]
    masked, sentences, present = split_examples(examples)
    states, encoded = gen._teacher_states(masked, sentences)
    logits = gen.logits(states, encoded)
    ce = F.cross_entropy(logits.transpose(1, 2), sentences, reduction="none")
    want = ce[~present].mean()
    torch.testing.assert_close(gen.mle_loss(examples), want)
    assert gen.nll(examples, batch_size=7) == pytest.approx(float(want), rel=1e-5)
    loss = gen.mle_loss(examples)
    loss.backward()
    assert gen.output.weight.grad is not None and gen.body.encoder.weight_ih_l0.grad.abs().sum() > 0


def test_infill_copies_the_present_tokens_and_is_seeded():
    d = data("contiguous")
    gen = infilling_policy(d, seed=1, embed_dim=8, hidden_dim=8)
    examples = d.train[:20]
    a = gen.infill(examples, torch.Generator().manual_seed(0))
    b = gen.infill(examples, torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and a.shape == examples.shape
    masked, sentences, present = split_examples(examples)
    _, out, _ = split_examples(a)
    assert torch.equal(out[present], sentences[present])
    assert torch.equal(a[:, :T], masked)
    assert gen.sample(5, generator=torch.Generator().manual_seed(1)).shape == (5, 2 * T)


def test_discriminator_judges_the_missing_positions_given_their_prefix():
    d = data()
    disc = InfillingDiscriminator(V, T, embedding_dim=8, hidden_size=8).eval()
    examples = d.train[:10]
    logits = disc(examples)
    assert logits.shape == (10, 2 * T) and torch.equal(logits[:, :T], torch.zeros(10, T))
    _, _, present = split_examples(examples)
    assert torch.equal(disc.padding_mask(examples), torch.cat([torch.zeros_like(present), ~present], 1))
    # position t's logit reads tokens 0..t only: changing the last token moves only the last logit
    changed = examples.clone()
    changed[:, -1] = (changed[:, -1] + 1) % V
    diff = (disc(changed) - logits).abs()
    assert float(diff[:, :-1].max()) == 0.0 and float(diff[:, -1].max()) > 0
    with pytest.raises(ValueError, match="examples contains token id 99"):
        bad = examples.clone()
        bad[0, 3] = 99
        disc(bad)
    with pytest.raises(ValueError, match=r"2 x 8 tokens"):
        disc(examples[:, :T])


def test_critic_features_do_not_see_the_token_being_written():
    d = data()
    disc = InfillingDiscriminator(V, T, embedding_dim=8, hidden_size=8).eval()
    masked, sentences, _ = split_examples(d.train[:6])
    position = torch.full((6, 1), 4)
    obs = {"masked": masked, "written": sentences, "position": position}
    changed = sentences.clone()
    changed[:, 4:] = (changed[:, 4:] + 3) % V
    a = disc.critic_features(obs)
    b = disc.critic_features({**obs, "written": changed})
    assert a.shape == (6, 8) and torch.equal(a, b)
    earlier = sentences.clone()
    earlier[:, 3] = (earlier[:, 3] + 3) % V
    assert not torch.equal(a, disc.critic_features({**obs, "written": earlier}))


def test_bce_on_missing_positions_separates_real_from_infilled():
    d = data("contiguous")
    real = d.train[:128]
    masked, sentences, present = split_examples(real)
    fake_sentences = torch.where(present, sentences, torch.zeros_like(sentences))  # always token 0
    fake = torch.cat([masked, fake_sentences], 1)

    def run():
        torch.manual_seed(0)
        disc = InfillingDiscriminator(V, T, embedding_dim=8, hidden_size=16)
        stats = train_discriminator(
            disc, real, fake, epochs=8, batch_size=32, optimizer=default_optimizer(disc, lr=1e-2),
            generator=torch.Generator().manual_seed(3),
        )  # fmt: skip
        return disc, stats

    d1, s1 = run()
    d2, s2 = run()
    assert s1 == s2
    assert s1["dis/acc_real"] > 0.9 and s1["dis/acc_fake"] > 0.9, s1
    # the present positions are never trained: their logits do not enter the loss
    logits = d1(fake)
    mask = d1.padding_mask(fake)
    assert float(torch.sigmoid(logits[mask]).mean()) < 0.2
