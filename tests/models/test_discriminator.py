"""Tests of seqadv.models.discriminator: shapes, input checks, numerics, training."""

from __future__ import annotations

import inspect
import logging
import math

import pytest
import torch
import torch.nn.functional as F

from seqadv.algorithms.discriminator import (
    default_optimizer,
    evaluate_discriminator,
    train_discriminator,
)
from seqadv.errors import ConfigError, UnknownNameError
from seqadv.models.discriminator import (
    DISCRIMINATORS,
    CNNDiscriminator,
    Discriminator,
    Highway,
    LSTMDiscriminator,
    TokenDiscriminator,
    make_discriminator,
)

V, T = 12, 6
#: the registered discriminators that read plain sentences (B, T); those over other examples
#: (``examples`` meta, e.g. MaskGAN's [masked | sentence]) are tested with their models
SENTENCE_NAMES = [
    n for n in DISCRIMINATORS.names() if DISCRIMINATORS.entry(n).meta.get("examples", "sentences") == "sentences"
]
TINY_CNN = {"embedding_dim": 8, "filter_sizes": (1, 2, 3), "num_filters": (4, 6, 4)}


def accepts(name: str, argument: str) -> bool:
    return argument in inspect.signature(DISCRIMINATORS.get(name)).parameters


def tiny(name: str, **kwargs) -> Discriminator:
    """A small model of a registered name (registry defaults, CNN shrunk when it is one)."""
    torch.manual_seed(0)
    if name == "cnn":
        kwargs = {**TINY_CNN, **kwargs}
    kwargs = {k: v for k, v in kwargs.items() if accepts(name, k)}
    return make_discriminator(name, vocab_size=V, max_len=T, **kwargs)


def tokens(*shape: int, seed: int = 0, high: int = V) -> torch.Tensor:
    return torch.randint(0, high, shape, generator=torch.Generator().manual_seed(seed))


def reference_cnn_logits(d: CNNDiscriminator, x: torch.Tensor) -> torch.Tensor:
    """SeqGAN's CNN written plainly (conv1d per filter size), without dropout."""
    emb = d.embedding(x).transpose(1, 2)  # (B, E, T)
    pooled = [
        F.relu(F.conv1d(emb, w.permute(0, 2, 1), b)).amax(dim=2)
        for w, b in zip(d.conv_weights, d.conv_biases, strict=True)
    ]
    return d.output(d.highway(torch.cat(pooled, dim=1))).squeeze(-1)


# -- every registered name ----------------------------------------------------------------
@pytest.mark.parametrize("name", SENTENCE_NAMES)
def test_registered_defaults_construct_and_shapes(name):
    torch.manual_seed(0)
    d = make_discriminator(name, vocab_size=V, max_len=T)  # registry defaults, tiny T
    assert isinstance(d, Discriminator)
    assert (d.vocab_size, d.max_len) == (V, T)
    assert d.level == DISCRIMINATORS.entry(name).meta.get("level", d.level)
    assert d.level in ("sequence", "token")
    d.eval()
    x = tokens(5, T)
    logits = d(x)
    assert logits.shape == ((5,) if d.level == "sequence" else (5, T))
    assert logits.dtype == torch.float32 and torch.isfinite(logits).all()
    features = d.features(x)
    assert features.dim() == 2 and features.shape[0] == 5
    # shorter inputs are accepted; padding (id V) is accepted
    short = x[:, : T - 2]
    assert d(short).shape[0] == 5
    padded = x.clone()
    padded[:, -2:] = V
    assert torch.isfinite(d(padded)).all()


@pytest.mark.parametrize("name", SENTENCE_NAMES)
def test_rejects_bad_tokens_naming_the_argument(name):
    d = tiny(name)
    for bad in (-1, V + 1):
        x = tokens(3, T)
        x[1, 2] = bad
        with pytest.raises(ValueError, match=rf"sequences contains token id {bad}"):
            d(x)
        with pytest.raises(ValueError, match="real"):
            train_discriminator(
                d, x, tokens(3, T), epochs=1, batch_size=2,
                optimizer=default_optimizer(d), generator=torch.Generator(),
            )  # fmt: skip
    with pytest.raises(ValueError, match="sequences must be a 2-D int64"):
        d(tokens(3, T).int())
    with pytest.raises(ValueError, match="sequences must be a 2-D int64"):
        d(tokens(T))
    with pytest.raises(ValueError, match=r"fake has length T=7"):
        d.check_tokens(tokens(2, T + 1), "fake")
    d.check_tokens(torch.full((2, T), V))  # all padding is valid input


@pytest.mark.parametrize("name", SENTENCE_NAMES)
def test_dropout_off_in_eval_mode(name):
    if not accepts(name, "dropout"):
        pytest.skip(f"{name} has no dropout argument")
    d = tiny(name, dropout=0.5)
    x = tokens(16, T)
    d.eval()
    with torch.no_grad():
        assert torch.equal(d(x), d(x))
    d.train()
    with torch.no_grad():
        assert not torch.equal(d(x), d(x))


@pytest.mark.parametrize("name", SENTENCE_NAMES)
def test_train_separates_and_is_deterministic(name):
    real = torch.ones(64, T, dtype=torch.long)
    fake = tokens(64, T, seed=1)

    def run():
        d = tiny(name, dropout=0.25)
        opt = torch.optim.Adam(d.parameters(), lr=1e-2)
        stats = train_discriminator(
            d, real, fake, epochs=4, batch_size=16, optimizer=opt,
            generator=torch.Generator().manual_seed(3),
        )  # fmt: skip
        return d, stats

    d1, stats1 = run()
    d2, stats2 = run()
    assert not d1.training  # rewards are computed in eval mode
    assert stats1["dis/acc_real"] > 0.9 and stats1["dis/acc_fake"] > 0.9, stats1
    assert stats1["dis/epochs"] == 4.0
    assert stats1 == stats2
    for (k1, p1), (k2, p2) in zip(d1.state_dict().items(), d2.state_dict().items(), strict=True):
        assert k1 == k2 and torch.equal(p1, p2), k1
    evaluation = evaluate_discriminator(d1, real, fake, batch_size=50)
    assert evaluation["dis/acc_real"] == stats1["dis/acc_real"]
    assert evaluation["dis/acc_fake"] == stats1["dis/acc_fake"]


# -- CNN ----------------------------------------------------------------------------------
def test_cnn_matches_plain_implementation_values_and_gradients():
    torch.manual_seed(0)
    d = CNNDiscriminator(V, T, dropout=0.0, **TINY_CNN).double()
    # random ids, repeated windows (ties in the max), trailing padding
    runs = torch.tensor([[1, 1, 1, 1, 1, 1], [3, 4, 3, 4, 3, 4], [5, 6, V, V, V, V]])
    for x in (tokens(7, T), runs):
        ours, ref = d(x), reference_cnn_logits(d, x)
        torch.testing.assert_close(ours, ref, rtol=0, atol=1e-12)
        params = list(d.parameters())
        grads = torch.autograd.grad(ours.square().sum(), params)
        ref_grads = torch.autograd.grad(ref.square().sum(), params)
        for name, g, r in zip(dict(d.named_parameters()), grads, ref_grads, strict=True):
            torch.testing.assert_close(g, r, rtol=0, atol=1e-12, msg=name)


def test_cnn_chunked_batches_and_short_inputs_agree():
    d = tiny("cnn").eval()
    x = tokens(10, T)
    whole = d(x)
    d.chunk_size = 3
    torch.testing.assert_close(d(x), whole, rtol=0, atol=1e-6)
    short = x[:, :4]
    padded = torch.cat([short, torch.full((10, 2), V)], dim=1)
    torch.testing.assert_close(d(short), d(padded), rtol=0, atol=0)
    assert d(x[:0]).shape == (0,)


def test_cnn_l2_term_equals_hand_computation():
    d = tiny("cnn", l2_reg=0.2)
    with torch.no_grad():
        d.output.weight.copy_(torch.arange(d.feature_dim, dtype=torch.float32)[None] / 10)
        d.output.bias.fill_(3.0)
    w = [i / 10 for i in range(d.feature_dim)]
    expected = 0.2 * (sum(v * v for v in w) / 2 + 3.0 * 3.0 / 2)
    assert float(d.regularization().detach()) == pytest.approx(expected, rel=1e-6)
    logits, labels = torch.tensor([0.5, -1.0, 2.0]), torch.tensor([1, 0, 0])
    bce = -(math.log(1 / (1 + math.exp(-0.5))) + math.log(1 - 1 / (1 + math.exp(1.0))))
    bce = (bce - math.log(1 - 1 / (1 + math.exp(-2.0)))) / 3
    assert float(d.loss(logits, labels).detach()) == pytest.approx(bce + expected, rel=1e-6)
    # SeqGAN's two-class softmax over scores (0, logit) is the same cross-entropy
    scores = torch.stack([torch.zeros(3), logits], dim=1)
    assert float(F.cross_entropy(scores, labels)) == pytest.approx(bce, rel=1e-6)


def test_highway_matches_hand_computation():
    hw = Highway(2)
    with torch.no_grad():
        hw.proj.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, -1.0], [2.0, 1.0], [-1.0, 0.5]]))
        hw.proj.bias.copy_(torch.tensor([0.0, 1.0, -1.0, 0.0]))
    h = torch.tensor([[1.0, 2.0]])
    # gate pre-activation (W_T h + b_T) = (1, -1); transform (W_H h + b_H) = (3, 0)
    t1, t2 = 1 / (1 + math.exp(-1.0)), 1 / (1 + math.exp(1.0))
    expected = [t1 * 3.0 + (1 - t1) * 1.0, t2 * 0.0 + (1 - t2) * 2.0]
    torch.testing.assert_close(hw(h), torch.tensor([expected]))
    assert torch.equal(Highway(3, gate_bias=-2.0).proj.bias[:3], torch.full((3,), -2.0))


def test_cnn_drops_filters_wider_than_max_len(caplog):
    with caplog.at_level(logging.WARNING, logger="seqadv"):
        d = CNNDiscriminator(V, 4, embedding_dim=8, filter_sizes=(2, 4, 5, 9), num_filters=(3,) * 4)
    assert d.filter_sizes == (2, 4) and d.num_filters == (3, 3) and d.feature_dim == 6
    assert "dropping filter sizes [5, 9]" in caplog.text
    assert d(tokens(2, 4)).shape == (2,)
    with pytest.raises(ValueError, match="no filter size fits max_len=4"):
        CNNDiscriminator(V, 4, filter_sizes=(5,), num_filters=(3,))
    with pytest.raises(ValueError, match="same length"):
        CNNDiscriminator(V, 4, filter_sizes=(1, 2), num_filters=(3,))


def test_corpus_pad_id_and_reserved_id_are_both_padding():
    torch.manual_seed(0)
    for cls, kwargs in ((CNNDiscriminator, TINY_CNN), (LSTMDiscriminator, {})):
        d = cls(V, T, pad_id=0, **kwargs).eval()
        assert d.padding_idx == 0 and d.embedding.padding_idx == 0
        assert d.embedding.num_embeddings == V + 1
        x = tokens(4, T, high=V - 1) + 1
        x[:, -2:] = 0
        y = x.clone()
        y[:, -2:] = V
        torch.testing.assert_close(d(x), d(y), rtol=0, atol=0)


# -- recurrent ----------------------------------------------------------------------------
def test_lstm_reads_the_last_real_token():
    d = tiny("lstm").eval()
    x = tokens(3, 4)
    padded = torch.cat([x, torch.full((3, T - 4), V)], dim=1)
    torch.testing.assert_close(d(padded), d(x), rtol=0, atol=1e-6)
    torch.testing.assert_close(d.features(padded), d.features(x), rtol=0, atol=1e-6)
    assert d.features(x).shape == (3, d.hidden_size)


def test_token_discriminator_is_causal():
    d = tiny("token_lstm").eval()
    x = tokens(2, T)
    y = x.clone()
    y[:, 3] = (y[:, 3] + 1) % V
    a, b = d(x), d(y)
    assert torch.equal(a[:, :3], b[:, :3])  # position t sees tokens 0..t only
    assert not torch.equal(a[:, 3], b[:, 3])


def test_token_loss_respects_the_mask():
    d = TokenDiscriminator(V, T)
    logits = torch.tensor([[0.5, -1.0, 3.0], [2.0, 0.0, -4.0]])
    mask = torch.tensor([[True, True, False], [True, False, False]])
    labels = torch.tensor([1, 0])
    per = [
        -math.log(1 / (1 + math.exp(-0.5))),
        -math.log(1 / (1 + math.exp(1.0))),
        -math.log(1 - 1 / (1 + math.exp(-2.0))),
    ]
    assert float(d.loss(logits, labels, mask)) == pytest.approx(sum(per) / 3, rel=1e-6)
    changed = logits.masked_fill(~mask, 100.0)  # masked-out positions do not count
    assert float(d.loss(changed, labels, mask)) == float(d.loss(logits, labels, mask))
    full = labels[:, None].expand(2, 3)
    assert float(d.loss(logits, full, mask)) == float(d.loss(logits, labels, mask))
    assert float(d.loss(changed, labels)) != float(d.loss(logits, labels))
    with pytest.raises(ValueError, match="mask of shape"):
        d.loss(logits, labels, mask[:, :2])


# -- registry and training details ---------------------------------------------------------
def test_registry_names_and_kwargs_checks():
    assert {"cnn", "lstm", "token_lstm"} <= set(DISCRIMINATORS.names())
    with pytest.raises(ConfigError, match="'hidden'"):
        make_discriminator("lstm", V, T, hidden=8)
    with pytest.raises(UnknownNameError, match="Did you mean 'cnn'"):
        make_discriminator("cnnn", V, T)
    d = make_discriminator("lstm", V, T, pad_id=0, hidden_size=8)
    assert d.hidden_size == 8 and d.pad_id == 0


def test_train_discriminator_arguments_and_rng_hygiene():
    d = tiny("cnn")
    opt = default_optimizer(d)
    assert opt.param_groups[0]["lr"] == 1e-4
    real, fake = tokens(10, T), tokens(30, T, seed=1)  # unbalanced sizes are fine
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    stats = train_discriminator(
        d, real, fake, epochs=2, batch_size=8, optimizer=opt,
        generator=torch.Generator().manual_seed(0), eval_metrics=False,
    )  # fmt: skip
    assert torch.equal(torch.rand(3), before)  # the caller's global RNG is left alone
    assert sorted(stats) == ["dis/acc_fake", "dis/acc_real", "dis/epochs", "dis/loss"]
    assert all(0.0 <= stats[k] <= 1.0 for k in ("dis/acc_fake", "dis/acc_real"))
    with pytest.raises(ValueError, match="batch_size must be an even"):
        train_discriminator(
            d, real, fake, epochs=1, batch_size=7, optimizer=opt, generator=torch.Generator()
        )
    with pytest.raises(ValueError, match="epochs"):
        train_discriminator(
            d, real, fake, epochs=0, batch_size=8, optimizer=opt, generator=torch.Generator()
        )


def test_evaluate_restores_mode_and_needs_no_grad():
    d = tiny("token_lstm")
    d.train()
    stats = evaluate_discriminator(d, tokens(5, T), tokens(6, T, seed=1), batch_size=4)
    assert d.training
    assert set(stats) >= {"dis/loss", "dis/acc_real", "dis/acc_fake", "dis/acc"}
    assert all(math.isfinite(v) for v in stats.values())
