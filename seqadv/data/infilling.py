"""Masked infilling (MaskGAN): which tokens of a sentence are missing, and the example layout.

A *present mask* (B, T) bool says which tokens of each sentence are kept (True) and which are
missing (False) and must be written by the generator. Strategies, by ``present_rate`` p (the
share of tokens kept, not the share masked), as in MaskGAN's code:

- ``contiguous``: one block of ``int((1 - p) * T) - 1`` missing tokens (9 of 20 at p = 0.5),
  starting at a position drawn uniformly from ``1 .. T - length``: the block never covers
  position 0.
- ``random``: each position is missing independently with probability ``1 - p``.
- ``unconditional``: every position is missing: the generator reads nothing of the sentence
  but its start token, so it is scored as a language model without leaking real tokens.

Only real positions may be missing: padding after a sentence's end stays present (it is
copied, never written). A sentence must have at least one missing token (an episode writes
at least one): a ``random`` draw with none is drawn again, and a ``contiguous`` block that
would be empty (``int((1 - p) * T) - 1 < 1``) is an error.

The *infilling layout* of an example, (2T,) int64, is ``[masked | sentence]``: the sentence
with its missing tokens replaced by :data:`missing_id` (the vocabulary size V, an id no
action can write), then the complete sentence. Real examples and generated ones (the
sentence infilled by the generator) share it, so a discriminator reads the context it
judges from the example itself. :func:`infilling_data` turns a :class:`TextData` of
sentences into one of such examples (one mask per sentence, drawn from a seed).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from seqadv.data.source import TextData
from seqadv.errors import ConfigError

__all__ = [
    "MASK_STRATEGIES",
    "MaskSpec",
    "contiguous_length",
    "draw_present",
    "infilling_data",
    "masked_sentences",
    "missing_id",
    "real_positions",
    "split_examples",
]

MASK_STRATEGIES = ("contiguous", "random", "unconditional")


def missing_id(vocab_size: int) -> int:
    """The id of a missing token in a masked sentence: V, outside the vocabulary."""
    return int(vocab_size)


def contiguous_length(present_rate: float, length: int) -> int:
    """Missing tokens of a ``contiguous`` mask: ``int((1 - p) * T) - 1`` (MaskGAN's code)."""
    return int((1.0 - present_rate) * length) - 1


@dataclass(frozen=True)
class MaskSpec:
    """How sentences are masked: ``strategy`` and ``present_rate`` (see the module docstring)."""

    strategy: str = "contiguous"
    present_rate: float = 0.5

    def __post_init__(self) -> None:
        if self.strategy not in MASK_STRATEGIES:
            raise ConfigError(
                f"mask strategy must be one of {', '.join(MASK_STRATEGIES)}, got {self.strategy!r}"
            )
        rate = self.present_rate
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0.0 <= rate < 1.0:
            raise ConfigError(f"present_rate must be a number in [0, 1), got {rate!r}")

    def check_length(self, length: int) -> None:
        """ConfigError unless a ``contiguous`` block of sentences of ``length`` tokens is
        non-empty and fits after position 0."""
        if self.strategy != "contiguous":
            return
        n = contiguous_length(self.present_rate, length)
        if n < 1 or n > length - 1:
            raise ConfigError(
                f"a contiguous mask of present_rate {self.present_rate} over {length} tokens "
                f"has int((1 - p) * T) - 1 = {n} missing tokens; it needs 1 .. {length - 1} "
                "(lower present_rate, or use the random strategy)"
            )

    def as_dict(self) -> dict[str, Any]:
        return {"strategy": self.strategy, "present_rate": float(self.present_rate)}


def draw_present(
    spec: MaskSpec, real: Tensor, generator: torch.Generator, max_redraws: int = 1000
) -> Tensor:
    """(B, T) bool present masks for the (B, T) bool real (non-padding) positions ``real``.

    Draws come from ``generator`` only. Padding stays present; every row gets at least one
    missing token (``random`` draws are repeated for rows without one; a row with no real
    position is an error).
    """
    rows, length = real.shape
    if rows == 0:
        return torch.ones(0, length, dtype=torch.bool)
    if not bool(real.any(dim=1).all()):
        raise ConfigError("a sentence with no real token cannot be masked")
    if spec.strategy == "unconditional":
        return ~real
    if spec.strategy == "contiguous":
        spec.check_length(length)
        n = contiguous_length(spec.present_rate, length)
        starts = torch.randint(1, length - n + 1, (rows,), generator=generator)
        pos = torch.arange(length)
        missing = (pos >= starts[:, None]) & (pos < (starts + n)[:, None])
        missing &= real
        empty = ~missing.any(dim=1)
        if bool(empty.any()):  # a short sentence whose block fell on its padding
            last = real.long().cumsum(1).argmax(1)  # its last real position
            missing[empty, last[empty]] = True
        return ~missing
    missing = torch.rand(rows, length, generator=generator) >= spec.present_rate
    missing &= real
    for _ in range(max_redraws):
        empty = ~missing.any(dim=1)
        if not bool(empty.any()):
            return ~missing
        redraw = torch.rand(int(empty.sum()), length, generator=generator) >= spec.present_rate
        missing[empty] = redraw & real[empty]
    raise ConfigError(
        f"present_rate {spec.present_rate}: {max_redraws} random draws left a sentence with no "
        "missing token"
    )


def masked_sentences(sentences: Tensor, present: Tensor, vocab_size: int) -> Tensor:
    """The sentences with their missing tokens replaced by :func:`missing_id`."""
    return torch.where(present, sentences, torch.full_like(sentences, missing_id(vocab_size)))


def split_examples(examples: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(masked, sentences, present) of (B, 2T) examples in the infilling layout."""
    if examples.dim() != 2 or examples.shape[1] % 2:
        raise ValueError(
            f"infilling examples are (B, 2T) [masked | sentence], got shape {tuple(examples.shape)}"
        )
    length = examples.shape[1] // 2
    masked, sentences = examples[:, :length], examples[:, length:]
    return masked, sentences, masked == sentences


def real_positions(sentences: Tensor, data: TextData) -> Tensor:
    """(B, T) bool: the positions that are not padding (all of them for fixed-length data)."""
    if data.eos_id is None:
        return torch.ones_like(sentences, dtype=torch.bool)
    return sentences != data.pad_id


def _examples(sentences: Tensor | None, data: TextData, spec: MaskSpec, g: torch.Generator):
    if sentences is None:
        return None
    present = draw_present(spec, real_positions(sentences, data), g)
    return torch.cat([masked_sentences(sentences, present, data.vocab_size), sentences], dim=1)


def infilling_data(data: TextData, spec: MaskSpec, seed: int) -> TextData:
    """``data``'s sentences as infilling examples ``[masked | sentence]`` (N, 2T).

    Each sentence gets one mask, drawn from ``seed`` (train first, then test), so the data
    are a function of the config alone. The result records its mask in
    ``extra["infilling"]`` and starts its text at column T (``text_start``).
    """
    if data.text_start:
        raise ConfigError("the data are already infilling examples")
    spec.check_length(data.max_len)
    g = torch.Generator().manual_seed(int(seed))
    extra = dict(data.extra)
    extra["infilling"] = {**spec.as_dict(), "seed": int(seed), "missing_id": missing_id(data.vocab_size)}
    return dataclasses.replace(
        data,
        train=_examples(data.train, data, spec, g),
        test=_examples(data.test, data, spec, g),
        text_start=data.max_len,
        extra=extra,
        description=(
            f"{data.description}; infilling examples [masked | sentence], "
            f"{spec.strategy} masks at present_rate {spec.present_rate:g} (seed {seed})"
        ),
    )
