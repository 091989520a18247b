"""seqadv.models.generator: incremental steps, exact sequence probabilities, sampling."""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from seqadv.models.generator import GeneratorSpec, LSTMGenerator


def chi2_bound(df: int, z: float = 5.0) -> float:
    """Wilson-Hilferty upper quantile of chi-square(df) at about 3e-7 (z = 5)."""
    return df * (1 - 2 / (9 * df) + z * math.sqrt(2 / (9 * df))) ** 3


def make(vocab=3, max_len=3, seed=0, std=1.0, **kwargs) -> LSTMGenerator:
    g = LSTMGenerator(vocab, embed_dim=8, hidden_dim=8, max_len=max_len, **kwargs)
    g.init_normal_(std, generator=torch.Generator().manual_seed(seed))
    return g


def all_sequences(gen: LSTMGenerator) -> torch.Tensor:
    """Every sequence the generator can write (EOS ends a sequence early; PAD after it)."""
    vocab, T, eos = gen.vocab_size, gen.max_len, gen.eos_id
    allowed = [t for t in range(vocab) if t not in gen.spec.forbidden_ids]
    words = [t for t in allowed if t != eos]
    rows = []
    if eos is None:
        rows = [list(p) for p in itertools.product(allowed, repeat=T)]
    else:
        for n in range(T):  # n words, then EOS
            rows += [
                [*p, eos] + [gen.pad_id] * (T - n - 1) for p in itertools.product(words, repeat=n)
            ]
        rows += [list(p) for p in itertools.product(words, repeat=T)]  # no room for EOS
    return torch.tensor(rows)


@torch.no_grad()
def reference_log_probs(gen: LSTMGenerator, seqs: torch.Tensor, temperature: float = 1.0):
    """Sum of log softmax(step logits / temperature), one step at a time, up to EOS."""
    out = torch.zeros(len(seqs), dtype=torch.float64)
    for n, seq in enumerate(seqs.tolist()):
        state, tok = gen.zero_state(1), gen.start_tokens(1)
        for x in seq:
            logits, state = gen.step(tok, state)
            out[n] += torch.log_softmax(logits.double() / temperature, -1)[0, x]
            if x == gen.eos_id:
                break
            tok = torch.tensor([x])
    return out


def empirical(samples: torch.Tensor, seqs: torch.Tensor) -> np.ndarray:
    index = {tuple(r): i for i, r in enumerate(seqs.tolist())}
    counts = np.zeros(len(seqs))
    for row in samples.tolist():
        counts[index[tuple(row)]] += 1  # KeyError: a sequence the model cannot write
    return counts


def chi2(counts: np.ndarray, probs: np.ndarray) -> float:
    expected = probs * counts.sum()
    return float(((counts - expected) ** 2 / expected).sum())


CASES = {
    "fixed_length": {},
    "eos": {"eos_id": 2, "start_id": 1},
    "corpus_like": {"vocab": 5, "eos_id": 2, "start_id": 1, "pad_id": 0, "forbidden_ids": (0, 1)},
    "forbidden": {"vocab": 5, "forbidden_ids": (1, 4)},
}


def build(case: str, **extra) -> LSTMGenerator:
    kwargs = {"vocab": 3, **CASES[case], **extra}
    return make(**kwargs)


# -- steps and teacher forcing -----------------------------------------------------------------
@pytest.mark.parametrize("case", sorted(CASES))
def test_step_equals_teacher_forced_forward(case):
    gen = build(case, max_len=6)
    x = gen.sample(9, generator=torch.Generator().manual_seed(0))
    full = gen(x)
    state, tok = gen.zero_state(9), gen.start_tokens(9)
    for t in range(gen.max_len):
        logits, state = gen.step(tok, state)
        finite = torch.isfinite(full[:, t])
        assert torch.equal(finite, torch.isfinite(logits))
        torch.testing.assert_close(logits[finite], full[:, t][finite], rtol=1e-5, atol=1e-5)
        tok = x[:, t]
        if gen.eos_id is not None:  # after EOS the inputs are ignored; forward feeds start_id
            tok = torch.where(tok >= gen.vocab_size, gen.start_id, tok)
    assert full.shape == (9, gen.max_len, gen.vocab_size)


def test_forward_and_step_agree_after_training_updates():
    gen = make(vocab=7, max_len=5)
    opt = torch.optim.Adam(gen.parameters(), lr=0.1)
    x = torch.randint(0, 7, (16, 5), generator=torch.Generator().manual_seed(0))
    for _ in range(3):
        opt.zero_grad()
        gen.mle_loss(x).backward()
        opt.step()
    state, tok = gen.zero_state(16), gen.start_tokens(16)
    for t in range(5):
        logits, state = gen.step(tok, state)
        torch.testing.assert_close(logits, gen(x)[:, t], rtol=1e-5, atol=1e-5)
        tok = x[:, t]


def test_inputs_for_shifts_and_maps_padding_to_start():
    gen = make(vocab=5, eos_id=2, start_id=1)  # pad_id defaults to 5, outside the vocabulary
    x = torch.tensor([[3, 2, 5], [4, 4, 4]])
    assert gen.inputs_for(x).tolist() == [[1, 3, 2], [1, 4, 4]]
    assert gen.inputs_for(torch.tensor([[3, 5, 5]])).tolist() == [[1, 3, 1]]


def test_token_mask_ends_at_eos_inclusive():
    gen = make(vocab=5, eos_id=2, start_id=1, max_len=4)
    x = torch.tensor([[3, 2, 5, 5], [3, 4, 3, 4], [2, 3, 3, 3], [2, 2, 2, 2]])
    assert gen.token_mask(x).int().tolist() == [
        [1, 1, 0, 0],
        [1, 1, 1, 1],
        [1, 0, 0, 0],
        [1, 0, 0, 0],
    ]
    fixed = make(vocab=5, max_len=4)
    assert fixed.token_mask(torch.tensor([[0, 1, 5, 5]])).int().tolist() == [[1, 1, 0, 0]]


# -- exact probabilities ---------------------------------------------------------------------------
@pytest.mark.parametrize("case", sorted(CASES))
def test_log_prob_over_all_sequences_sums_to_one(case):
    gen = build(case)
    seqs = all_sequences(gen)
    total = gen.log_prob(seqs).double().exp().sum()
    assert total.item() == pytest.approx(1.0, abs=1e-5)
    if gen.eos_id is not None:
        assert (seqs == gen.eos_id).any(1).sum() < len(seqs)  # some end early, some do not


@pytest.mark.parametrize("case", sorted(CASES))
def test_log_prob_equals_step_by_step_reference(case):
    gen = build(case)
    seqs = all_sequences(gen)
    torch.testing.assert_close(
        gen.log_prob(seqs).double(), reference_log_probs(gen, seqs), rtol=1e-5, atol=1e-5
    )


def test_log_prob_gradient_equals_autograd_reference():
    gen = make(vocab=6, max_len=4, eos_id=2, start_id=1, pad_id=0, forbidden_ids=(0, 1))
    x = gen.sample(12, generator=torch.Generator().manual_seed(0))
    weights = torch.randn(12, generator=torch.Generator().manual_seed(1))
    params = list(gen.parameters())
    ours = torch.autograd.grad((gen.log_prob(x) * weights).sum(), params)
    logp = torch.log_softmax(gen(x), -1)
    mask = gen.token_mask(x)
    picked = logp.gather(2, x.clamp(max=5).unsqueeze(2)).squeeze(2) * mask
    ref = torch.autograd.grad((picked.sum(1) * weights).sum(), params)
    for a, r in zip(ours, ref):
        torch.testing.assert_close(a, r, rtol=1e-4, atol=1e-6)


def test_mle_loss_and_nll_equal_masked_cross_entropy():
    gen = make(vocab=6, max_len=5, eos_id=2, start_id=1, pad_id=0, forbidden_ids=(0, 1))
    x = gen.sample(40, generator=torch.Generator().manual_seed(0))
    mask = gen.token_mask(x)
    assert not mask.all(), "some sequences should end early"
    ce = F.cross_entropy(gen(x)[mask], x[mask])
    torch.testing.assert_close(gen.mle_loss(x), ce, rtol=1e-5, atol=1e-6)
    assert gen.nll(x) == pytest.approx(ce.item(), rel=1e-5)
    assert gen.nll(x, batch_size=7) == pytest.approx(ce.item(), rel=1e-5)
    per_seq = -gen.log_prob(x).detach() / mask.sum(1)
    torch.testing.assert_close(gen.sequence_nll(x, batch_size=9), per_seq, rtol=1e-5, atol=1e-6)
    ref = torch.autograd.grad(ce, list(gen.parameters()))
    ours = torch.autograd.grad(gen.mle_loss(x), list(gen.parameters()))
    for a, r in zip(ours, ref):
        torch.testing.assert_close(a, r, rtol=1e-4, atol=1e-6)


def test_forbidden_ids_have_zero_probability():
    gen = build("forbidden", max_len=4)
    state, tok = gen.zero_state(3), gen.start_tokens(3)
    logits, _ = gen.step(tok, state)
    assert torch.isneginf(logits[:, [1, 4]]).all() and torch.isfinite(logits[:, [0, 2, 3]]).all()
    x = torch.tensor([[0, 2, 3, 0], [0, 1, 3, 0], [4, 4, 4, 4]])
    lp = gen.log_prob(x)
    assert torch.isfinite(lp[0]) and torch.isneginf(lp[1:]).all()
    assert torch.softmax(gen(x), -1)[..., [1, 4]].max() == 0


# -- sampling --------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", sorted(CASES))
def test_samples_follow_the_model_distribution(case):
    gen = build(case)
    seqs = all_sequences(gen)
    probs = gen.log_prob(seqs).double().exp().detach().numpy()
    samples = gen.sample(30_000, generator=torch.Generator().manual_seed(7), block_rows=1024)
    counts = empirical(samples, seqs)  # every sample is a valid sequence
    assert chi2(counts, probs) < chi2_bound(len(seqs) - 1)
    # the statistic has power: a slightly different model is rejected
    other = build(case, seed=1)
    other_probs = other.log_prob(seqs).double().exp().detach().numpy()
    assert chi2(counts, other_probs) > chi2_bound(len(seqs) - 1)


@pytest.mark.parametrize("temperature", [0.5, 2.0])
def test_temperature_samples_the_tempered_steps(temperature):
    gen = build("eos")
    seqs = all_sequences(gen)
    probs = reference_log_probs(gen, seqs, temperature).exp().numpy()
    assert probs.sum() == pytest.approx(1.0, abs=1e-9)
    samples = gen.sample(
        30_000, generator=torch.Generator().manual_seed(3), temperature=temperature
    )
    counts = empirical(samples, seqs)
    assert chi2(counts, probs) < chi2_bound(len(seqs) - 1)
    untempered = gen.log_prob(seqs).double().exp().detach().numpy()
    assert chi2(counts, untempered) > chi2_bound(len(seqs) - 1)


def test_lower_temperature_is_sharper():
    gen = make(vocab=8, max_len=4, seed=2)
    seqs = torch.tensor(list(itertools.product(range(8), repeat=4)))
    mode = seqs[gen.log_prob(seqs).argmax()]
    share, distinct = [], []
    for t in (0.3, 1.0, 3.0):
        x = gen.sample(4000, generator=torch.Generator().manual_seed(0), temperature=t)
        share.append(float((x == mode).all(1).float().mean()))
        distinct.append(len(x.unique(dim=0)))
    assert share[0] > share[1] > share[2]
    assert distinct[0] < distinct[1] < distinct[2]


def test_forbidden_ids_are_never_sampled():
    gen = make(vocab=16, max_len=6, forbidden_ids=(3, 7, 11, 15), std=2.0)  # chunk ends
    x = gen.sample(5000, generator=torch.Generator().manual_seed(0))
    assert not torch.isin(x, torch.tensor([3, 7, 11, 15])).any()
    corpus_like = build("corpus_like", max_len=6)
    y = corpus_like.sample(5000, generator=torch.Generator().manual_seed(0))
    mask = corpus_like.token_mask(y)
    assert not torch.isin(y[mask], torch.tensor([0, 1])).any()
    assert (y[~mask] == 0).all(), "after EOS comes PAD"


def test_samples_with_eos_are_padded_after_eos():
    gen = build("eos", max_len=6)
    x = gen.sample(2000, generator=torch.Generator().manual_seed(0))
    assert x.shape == (2000, 6)
    is_eos = x == 2
    after = (is_eos.long().cumsum(1) - is_eos.long()) > 0
    assert (x[after] == gen.pad_id).all()
    assert (x[~after] < gen.vocab_size).all()
    assert is_eos.any(1).float().mean() > 0.3
    assert torch.isfinite(gen.log_prob(x)).all()


def test_all_sequences_ending_at_step_one_stop_early():
    gen = make(vocab=3, max_len=5, eos_id=2)
    with torch.no_grad():
        gen.output.bias.copy_(torch.tensor([-1e4, -1e4, 1e4]))  # always EOS
    x = gen.sample(10, generator=torch.Generator().manual_seed(0))
    assert x.tolist() == [[2, 3, 3, 3, 3]] * 10


def test_same_seed_same_samples_and_blocks_do_not_matter():
    gen = make(vocab=11, max_len=6)
    a = gen.sample(300, generator=torch.Generator().manual_seed(4))
    b = gen.sample(300, generator=torch.Generator().manual_seed(4), block_rows=5)
    c = gen.sample(300, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and not torch.equal(a, c)
    first, second = (
        gen.sample(300, generator=(g := torch.Generator().manual_seed(4))),
        gen.sample(300, generator=g),
    )
    assert torch.equal(first, a) and not torch.equal(second, a)


def test_sample_in_batches_gives_valid_sequences():
    gen = make(vocab=11, max_len=6)
    x = gen.sample(25, generator=torch.Generator().manual_seed(0), batch_size=10)
    assert x.shape == (25, 6) and x.dtype == torch.long
    assert gen.sample(0).shape == (0, 6)
    with pytest.raises(ValueError, match="n must be >= 0"):
        gen.sample(-1)


def test_continue_sequences_from_a_prefix_state():
    """Continuing from the cached state equals sampling the rest of the sequence."""
    gen = make(vocab=5, max_len=4, eos_id=2, start_id=1)
    prefix = torch.tensor([[3], [2]])
    _, state = gen.step(gen.start_tokens(2), gen.zero_state(2))  # state after feeding start
    cont = gen.continue_sequences(
        prefix[:, 0], state, steps=3, generator=torch.Generator().manual_seed(0),
        finished=prefix[:, 0] == 2,
    )  # fmt: skip
    assert cont.shape == (2, 3)
    assert (cont[1] == gen.pad_id).all(), "a finished row stays padded"
    full = torch.cat([prefix, cont], 1)
    assert torch.isfinite(gen.log_prob(full)).all()


# -- construction and checkpoints ------------------------------------------------------------------
def test_spec_rebuilds_an_identical_model():
    gen = make(vocab=6, max_len=4, eos_id=2, start_id=1, pad_id=0, forbidden_ids=[0, 1])
    assert gen.spec == GeneratorSpec(
        6, 8, 8, 4, start_id=1, eos_id=2, pad_id=0, forbidden_ids=(0, 1)
    )
    again = LSTMGenerator.from_spec({**gen.spec.__dict__, "forbidden_ids": [0, 1]})
    again.load_state_dict(gen.state_dict())
    x = gen.sample(20, generator=torch.Generator().manual_seed(0))
    assert torch.equal(again.log_prob(x), gen.log_prob(x))
    assert "logit_mask" not in gen.state_dict()
    copy = LSTMGenerator.from_spec(gen.spec)
    assert torch.isneginf(copy.output_bias()[[0, 1]]).all()


def test_init_normal_is_seeded():
    a, b, c = make(seed=3, std=0.1), make(seed=3, std=0.1), make(seed=4, std=0.1)
    for (k, pa), pb, pc in zip(a.named_parameters(), b.parameters(), c.parameters()):
        assert torch.equal(pa, pb) and not torch.equal(pa, pc), k
    flat = torch.cat([p.detach().ravel() for p in make(vocab=200, std=0.1).parameters()])
    assert abs(flat.std().item() - 0.1) < 0.01


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"vocab_size": 1}, "vocab_size"),
        ({"max_len": 0}, "max_len"),
        ({"start_id": 5}, "start_id=5"),
        ({"eos_id": -1}, "eos_id=-1"),
        ({"eos_id": 2, "forbidden_ids": (2,)}, "forbidden id 2"),
        ({"forbidden_ids": (9,)}, "forbidden id 9"),
        ({"pad_id": 3}, "pad_id=3 must be a forbidden id"),  # it could write its own padding
        ({"pad_id": -1}, "pad_id=-1"),
    ],
)
def test_constructor_checks(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        LSTMGenerator(**{"vocab_size": 5, **kwargs})


def test_valid_padding_choices():
    assert LSTMGenerator(5).pad_id == 5
    assert LSTMGenerator(5, pad_id=9).pad_id == 9
    assert LSTMGenerator(5, eos_id=2, pad_id=0, forbidden_ids=(0,)).pad_id == 0
