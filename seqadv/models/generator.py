"""The LSTM generator: embedding, one LSTM layer, output layer.

It is both a language model trained by maximum likelihood and the policy that RL learners
train. Its incremental ``step`` is what environments, rollouts and the stable-baselines3
adapter call; ``sample`` draws whole sequences fast (block-wise inverse-CDF sampling, see
:mod:`seqadv.models.sampling`).

Token conventions: a sequence is a row of a (B, T) int64 tensor. With an ``eos_id`` a
sequence ends with EOS and the positions after it hold ``pad_id``; without one (the
synthetic oracle) every sequence has exactly ``max_len`` tokens. The first input is
``start_id`` (BOS for a corpus vocabulary, token 0 for the oracle).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from seqadv.models.projected_ce import projected_cross_entropy, projected_nll
from seqadv.models.sampling import DEFAULT_BLOCK_ROWS, sample_projected

__all__ = ["LSTMGenerator", "GeneratorSpec", "LSTMState"]

LSTMState = tuple[Tensor, Tensor]
"""(h, c), each (B, H)."""


@dataclass(frozen=True)
class GeneratorSpec:
    """Everything needed to rebuild a generator from a checkpoint."""

    vocab_size: int
    embed_dim: int = 32
    hidden_dim: int = 32
    max_len: int = 20
    start_id: int = 0
    eos_id: int | None = None
    pad_id: int | None = None
    forbidden_ids: tuple[int, ...] = ()


class LSTMGenerator(nn.Module):
    """An LSTM language model and policy over a vocabulary of ``vocab_size`` tokens.

    Args:
        vocab_size: V, the number of tokens (the action space).
        embed_dim: embedding size (SeqGAN: 32).
        hidden_dim: LSTM state size (SeqGAN: 32).
        max_len: T, the longest sequence (SeqGAN: 20).
        start_id: the token fed at step 0.
        eos_id: the end-of-sequence token, or None for fixed-length sequences.
        pad_id: the id written after EOS (and used to pad prefixes); defaults to
            ``vocab_size`` (outside the vocabulary) when the vocabulary has no PAD token.
        forbidden_ids: tokens the model never emits (PAD and BOS of a corpus vocabulary):
            their logits are -inf in sampling and in every log-probability.

    Example:
        >>> import torch
        >>> g = LSTMGenerator(vocab_size=10, embed_dim=8, hidden_dim=8, max_len=5)
        >>> x = g.sample(4, generator=torch.Generator().manual_seed(0))
        >>> x.shape, g.log_prob(x).shape
        (torch.Size([4, 5]), torch.Size([4]))
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int = 32,
        hidden_dim: int = 32,
        max_len: int = 20,
        start_id: int = 0,
        eos_id: int | None = None,
        pad_id: int | None = None,
        forbidden_ids: tuple[int, ...] | list[int] = (),
    ) -> None:
        super().__init__()
        if vocab_size < 2:
            raise ValueError(f"vocab_size must be >= 2, got {vocab_size}")
        if max_len < 1:
            raise ValueError(f"max_len must be >= 1, got {max_len}")
        for name, value in (("start_id", start_id), ("eos_id", eos_id)):
            if value is not None and not 0 <= value < vocab_size:
                raise ValueError(f"{name}={value} is outside the vocabulary 0..{vocab_size - 1}")
        self.spec = GeneratorSpec(
            vocab_size=vocab_size,
            embed_dim=embed_dim,
            hidden_dim=hidden_dim,
            max_len=max_len,
            start_id=start_id,
            eos_id=eos_id,
            pad_id=vocab_size if pad_id is None else pad_id,
            forbidden_ids=tuple(int(i) for i in forbidden_ids),
        )
        for i in self.spec.forbidden_ids:
            if not 0 <= i < vocab_size or i == eos_id:
                raise ValueError(f"forbidden id {i} is outside the vocabulary or is the EOS id")
        pad = self.spec.pad_id
        if pad < 0 or (pad < vocab_size and pad not in self.spec.forbidden_ids):
            # positions holding pad_id are masked out of every loss: a model that could write
            # it would silently drop its own tokens from log_prob
            raise ValueError(
                f"pad_id={pad} must be a forbidden id of the vocabulary or lie outside it "
                f"(>= {vocab_size}); leave it None for fixed-length sequences"
            )
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden_dim, batch_first=True)
        self.output = nn.Linear(hidden_dim, vocab_size)
        mask = torch.zeros(vocab_size)
        mask[list(self.spec.forbidden_ids)] = float("-inf")
        self.register_buffer("logit_mask", mask, persistent=False)
        self._has_mask = bool(self.spec.forbidden_ids)

    def output_bias(self) -> Tensor:
        """The output layer's bias plus -inf at forbidden tokens (V,)."""
        if self._has_mask:
            return self.output.bias + self.logit_mask
        return self.output.bias

    def project(self, hidden: Tensor) -> Tensor:
        """Logits (..., V) of hidden outputs (..., H), forbidden tokens at -inf."""
        return torch.nn.functional.linear(hidden, self.output.weight, self.output_bias())

    # -- conveniences -----------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return self.spec.vocab_size

    @property
    def max_len(self) -> int:
        return self.spec.max_len

    @property
    def start_id(self) -> int:
        return self.spec.start_id

    @property
    def eos_id(self) -> int | None:
        return self.spec.eos_id

    @property
    def pad_id(self) -> int:
        assert self.spec.pad_id is not None
        return self.spec.pad_id

    @classmethod
    def from_spec(cls, spec: GeneratorSpec | dict) -> LSTMGenerator:
        fields = spec if isinstance(spec, dict) else spec.__dict__
        return cls(**fields)

    def init_normal_(self, std: float = 0.1, generator: torch.Generator | None = None) -> None:
        """Initialize every parameter from N(0, std^2) (SeqGAN's generator uses std 0.1)."""
        with torch.no_grad():
            for p in self.parameters():
                p.normal_(0.0, std, generator=generator)

    # -- incremental interface ----------------------------------------------------------
    def initial_state(self, batch_size: int) -> LSTMState:
        """Zero state for ``batch_size`` sequences: (h, c), each (B, H)."""
        w = self.output.weight
        zeros = torch.zeros(batch_size, self.spec.hidden_dim, dtype=w.dtype, device=w.device)
        return zeros, zeros.clone()

    def start_tokens(self, batch_size: int) -> Tensor:
        """(B,) tensor of the start input."""
        return torch.full(
            (batch_size,), self.start_id, dtype=torch.long, device=self.output.weight.device
        )

    def hidden_step(self, tokens: Tensor, state: LSTMState) -> tuple[Tensor, LSTMState]:
        """Feed ``tokens`` (B,) and return the new hidden output (B, H) and state."""
        x = self.embedding(tokens)
        h, c = torch.lstm_cell(
            x,
            state,
            self.lstm.weight_ih_l0,
            self.lstm.weight_hh_l0,
            self.lstm.bias_ih_l0,
            self.lstm.bias_hh_l0,
        )
        return h, (h, c)

    def step(self, tokens: Tensor, state: LSTMState) -> tuple[Tensor, LSTMState]:
        """Feed ``tokens`` (B,); return next-token logits (B, V) and the new state."""
        h, state = self.hidden_step(tokens, state)
        return self.project(h), state

    def sample_next(
        self,
        hidden: Tensor,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
        block_rows: int = DEFAULT_BLOCK_ROWS,
    ) -> Tensor:
        """Draw the next token (B,) from hidden outputs (B, H), block by block."""
        return sample_projected(
            hidden, self.output.weight, self.output_bias(), generator, temperature, block_rows
        )

    # -- whole sequences ----------------------------------------------------------------
    def inputs_for(self, sequences: Tensor) -> Tensor:
        """Teacher-forcing inputs (B, T): the start token, then the sequence shifted right.

        Padding ids (which may lie outside the vocabulary) are mapped to the start id; the
        positions they feed are masked out of every loss.
        """
        start = torch.full_like(sequences[:, :1], self.start_id)
        inputs = torch.cat([start, sequences[:, :-1]], dim=1)
        return inputs.masked_fill(inputs >= self.vocab_size, self.start_id)

    def hidden_states(self, sequences: Tensor) -> Tensor:
        """LSTM outputs (B, T, H) under teacher forcing."""
        out, _ = self.lstm(self.embedding(self.inputs_for(sequences)))
        return out

    def forward(self, sequences: Tensor) -> Tensor:
        """Next-token logits (B, T, V) under teacher forcing."""
        return self.project(self.hidden_states(sequences))

    def token_mask(self, sequences: Tensor) -> Tensor:
        """(B, T) bool: the positions that are part of each sequence (up to EOS inclusive)."""
        if self.eos_id is None:
            return sequences != self.pad_id
        is_eos = sequences == self.eos_id
        after_eos = (is_eos.long().cumsum(dim=1) - is_eos.long()) > 0
        return ~after_eos & (sequences != self.pad_id)

    def _masked_token_nll(self, sequences: Tensor, grad: bool) -> tuple[Tensor, Tensor]:
        """Per-token NLL (B, T), 0 outside the mask, and the (B, T) mask."""
        mask = self.token_mask(sequences)
        hidden = self.hidden_states(sequences)
        flat_mask = mask.reshape(-1)
        all_rows = bool(flat_mask.all())
        rows = hidden.reshape(-1, hidden.shape[-1])
        targets = sequences.reshape(-1)
        if not all_rows:
            rows, targets = rows[flat_mask], targets[flat_mask]
        fn = projected_cross_entropy if grad else projected_nll
        losses = fn(rows, self.output.weight, self.output_bias(), targets)
        if all_rows:
            return losses.view(sequences.shape), mask
        out = losses.new_zeros(flat_mask.shape[0])
        out = out.masked_scatter(flat_mask, losses)
        return out.view(sequences.shape), mask

    def token_log_probs(self, sequences: Tensor) -> Tensor:
        """log pi(x_t | x_<t) at every position (B, T), with gradient; 0 outside the mask."""
        nll, _ = self._masked_token_nll(sequences, grad=True)
        return -nll

    def log_prob(self, sequences: Tensor) -> Tensor:
        """Log-probability of each whole sequence (B,), with gradient."""
        return self.token_log_probs(sequences).sum(dim=1)

    def mle_loss(self, sequences: Tensor) -> Tensor:
        """Mean per-token negative log-likelihood of a batch (a scalar, with gradient)."""
        nll, mask = self._masked_token_nll(sequences, grad=True)
        return nll.sum() / mask.sum().clamp(min=1)

    @torch.no_grad()
    def nll(self, sequences: Tensor, batch_size: int = 1000) -> float:
        """Mean per-token NLL of ``sequences`` (N, T) under this model (no gradient)."""
        total, count = 0.0, 0
        for start in range(0, sequences.shape[0], batch_size):
            nll, mask = self._masked_token_nll(sequences[start : start + batch_size], grad=False)
            total += float(nll.sum(dtype=torch.float64))
            count += int(mask.sum())
        return total / max(count, 1)

    @torch.no_grad()
    def sequence_nll(self, sequences: Tensor, batch_size: int = 1000) -> Tensor:
        """Per-sequence mean per-token NLL (N,) (no gradient)."""
        pieces = []
        for start in range(0, sequences.shape[0], batch_size):
            nll, mask = self._masked_token_nll(sequences[start : start + batch_size], grad=False)
            pieces.append(nll.sum(1) / mask.sum(1).clamp(min=1))
        return torch.cat(pieces) if pieces else torch.empty(0)

    @torch.no_grad()
    def sample(
        self,
        n: int,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
        batch_size: int = 10_000,
        block_rows: int = DEFAULT_BLOCK_ROWS,
    ) -> Tensor:
        """Sample ``n`` sequences (n, T) from the model.

        Args:
            n: how many sequences.
            generator: the explicit random source; the same generator state gives the same
                samples.
            temperature: 1.0 samples the model's own distribution.
            batch_size: sequences advanced together through the LSTM.
            block_rows: rows of the output layer and sampler processed together.
        """
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        pieces = []
        for start in range(0, n, batch_size):
            rows = min(batch_size, n - start)
            pieces.append(
                self.continue_sequences(
                    self.start_tokens(rows),
                    self.initial_state(rows),
                    steps=self.max_len,
                    generator=generator,
                    temperature=temperature,
                    block_rows=block_rows,
                )
            )
        if not pieces:
            return torch.empty(0, self.max_len, dtype=torch.long)
        return torch.cat(pieces)

    @torch.no_grad()
    def continue_sequences(
        self,
        last_tokens: Tensor,
        state: LSTMState,
        steps: int,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
        block_rows: int = DEFAULT_BLOCK_ROWS,
        finished: Tensor | None = None,
    ) -> Tensor:
        """Sample ``steps`` more tokens (B, steps) after ``last_tokens`` (B,) from ``state``.

        This is the rollout primitive: the recurrent state is reused, the prefix is never
        re-read. With an EOS id, rows that end (or are already ``finished``, a (B,) bool) are
        padded with ``pad_id``.
        """
        rows = last_tokens.shape[0]
        out = torch.empty(rows, steps, dtype=torch.long, device=last_tokens.device)
        tokens = last_tokens
        done = finished.clone() if finished is not None else None
        if self.eos_id is not None and done is None:
            done = torch.zeros(rows, dtype=torch.bool, device=last_tokens.device)
        for t in range(steps):
            feed = tokens if done is None else tokens.masked_fill(done, self.start_id)
            hidden, state = self.hidden_step(feed, state)
            tokens = self.sample_next(hidden, generator, temperature, block_rows)
            if done is not None:
                tokens = tokens.masked_fill(done, self.pad_id)
                done = done | (tokens == self.eos_id)
            out[:, t] = tokens
            if done is not None and bool(done.all()):
                out[:, t + 1 :] = self.pad_id
                break
        return out
