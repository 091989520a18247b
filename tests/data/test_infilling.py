"""seqadv.data.infilling: MaskGAN's masks by present rate, the [masked | sentence] layout."""

from __future__ import annotations

import pytest
import torch

from seqadv.data.infilling import (
    MaskSpec,
    contiguous_length,
    draw_present,
    infilling_data,
    masked_sentences,
    split_examples,
)
from seqadv.data.source import TextData
from seqadv.errors import ConfigError


def g(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_contiguous_length_is_the_codes_formula():
    assert contiguous_length(0.5, 20) == 9  # int((1 - 0.5) * 20) - 1, the example
    assert contiguous_length(0.0, 20) == 19
    assert contiguous_length(0.75, 20) == 4
    assert contiguous_length(0.5, 8) == 3


def test_contiguous_masks_one_block_that_never_covers_position_0():
    real = torch.ones(2000, 20, dtype=torch.bool)
    present = draw_present(MaskSpec("contiguous", 0.5), real, g())
    missing = ~present
    assert torch.equal(missing.sum(1), torch.full((2000,), 9))
    assert not bool(missing[:, 0].any())
    # one block: exactly one 0 -> 1 edge per row
    edges = (missing[:, 1:] & ~missing[:, :-1]).sum(1)
    assert torch.equal(edges, torch.ones(2000, dtype=torch.long))
    starts = missing.long().argmax(1)
    assert int(starts.min()) == 1 and int(starts.max()) == 20 - 9  # every start 1..T-L drawn


def test_random_masks_keep_the_present_rate_and_at_least_one_missing():
    real = torch.ones(4000, 10, dtype=torch.bool)
    present = draw_present(MaskSpec("random", 0.7), real, g(1))
    assert bool((~present).any(1).all())
    assert abs(float(present.float().mean()) - 0.7) < 0.02
    # position 0 can be missing under random masks
    assert bool((~present[:, 0]).any())


def test_padding_stays_present_and_unconditional_masks_every_real_token():
    real = torch.ones(3, 6, dtype=torch.bool)
    real[0, 3:] = False
    real[1, 1:] = False
    for strategy in ("contiguous", "random", "unconditional"):
        present = draw_present(MaskSpec(strategy, 0.3), real, g(2))
        assert bool(present[~real].all()), strategy
        assert bool((~present).any(1).all()), strategy
    assert torch.equal(draw_present(MaskSpec("unconditional", 0.3), real, g()), ~real)


def test_draws_depend_on_the_generator_only():
    real = torch.ones(50, 12, dtype=torch.bool)
    for strategy in ("contiguous", "random"):
        a = draw_present(MaskSpec(strategy, 0.5), real, g(5))
        b = draw_present(MaskSpec(strategy, 0.5), real, g(5))
        c = draw_present(MaskSpec(strategy, 0.5), real, g(6))
        assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"strategy": "block"}, "mask strategy"),
        ({"present_rate": 1.0}, "present_rate"),
        ({"present_rate": -0.1}, "present_rate"),
        ({"present_rate": True}, "present_rate"),
    ],
)
def test_bad_specs_are_config_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        MaskSpec(**kwargs)


def test_a_contiguous_block_that_cannot_fit_is_refused():
    with pytest.raises(ConfigError, match="int\\(\\(1 - p\\) \\* T\\) - 1 = 0"):
        MaskSpec("contiguous", 0.5).check_length(2)
    with pytest.raises(ConfigError, match="no real token"):
        draw_present(MaskSpec("random", 0.5), torch.zeros(1, 4, dtype=torch.bool), g())


def test_layout_round_trips():
    sentences = torch.tensor([[3, 4, 5, 6], [7, 8, 9, 2]])
    present = torch.tensor([[True, False, False, True], [True, True, False, True]])
    masked = masked_sentences(sentences, present, vocab_size=10)
    assert masked.tolist() == [[3, 10, 10, 6], [7, 8, 10, 2]]
    examples = torch.cat([masked, sentences], 1)
    m, s, p = split_examples(examples)
    assert torch.equal(m, masked) and torch.equal(s, sentences) and torch.equal(p, present)
    with pytest.raises(ValueError, match="2T"):
        split_examples(torch.zeros(2, 5, dtype=torch.long))


def test_infilling_data_is_seeded_and_keeps_the_sentences():
    train = torch.randint(0, 9, (30, 8), generator=g(3))
    data = TextData(train=train, test=train[:5], max_len=8, vocab_size=9, start_id=0, eos_id=None, pad_id=9)
    a = infilling_data(data, MaskSpec("contiguous", 0.5), seed=4)
    b = infilling_data(data, MaskSpec("contiguous", 0.5), seed=4)
    assert torch.equal(a.train, b.train) and a.train.shape == (30, 16)
    assert torch.equal(a.train[:, 8:], train) and a.text_start == 8
    masked, sentences, present = split_examples(a.train)
    assert torch.equal((~present).sum(1), torch.full((30,), 3))
    assert bool((masked[~present] == 9).all())
    assert a.extra["infilling"]["strategy"] == "contiguous"
    assert a.tokens(a.train[0]) == [str(int(i)) for i in train[0]]  # text starts at column T
    with pytest.raises(ConfigError, match="already infilling"):
        infilling_data(a, MaskSpec(), seed=0)
