"""The LSTM generator: embedding, one LSTM layer, output layer.

It is both a language model trained by maximum likelihood and the policy that RL learners
train: it implements :class:`~seqadv.models.policy.Policy` over the text environments'
observations (the padded prefix), carrying its LSTM state between steps (never re-reading a
prefix). Its incremental ``hidden_step`` is what rollouts call; ``sample`` draws whole
sequences fast (block-wise inverse-CDF sampling, see :mod:`seqadv.models.sampling`);
``actor_modules`` are the views the stable-baselines3 bridge drives.

Token conventions: a sequence is a row of a (B, T) int64 tensor. With an ``eos_id`` a
sequence ends with EOS and the positions after it hold ``pad_id``; without one (the
synthetic oracle) every sequence has exactly ``max_len`` tokens. The first input is
``start_id`` (BOS for a corpus vocabulary, token 0 for the oracle).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from seqadv.models import kernels
from seqadv.models.policy import masked_log_softmax
from seqadv.models.projected_ce import projected_cross_entropy, projected_nll
from seqadv.models.sampling import sample_logits, sample_projected

__all__ = ["LSTMGenerator", "GeneratorSpec", "LSTMState", "PolicyState", "lstm_policy"]

LSTMState = tuple[Tensor, Tensor]
"""(h, c), each (B, H)."""

PolicyState = tuple[Tensor, Tensor, Tensor]
"""(h, c, pending): the LSTM state and the (B,) tokens not yet fed to it (the start token at
the beginning of an episode, then the last action)."""


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
        return kernels.linear("gen/output", hidden, self.output.weight, self.output_bias())

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
    def zero_state(self, batch_size: int) -> LSTMState:
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
        block_rows: int | None = None,
        uniforms: Tensor | None = None,
    ) -> Tensor:
        """Draw the next token (B,) from hidden outputs (B, H), block by block (``uniforms``:
        the (B,) uniforms to invert, else drawn from ``generator``)."""
        return sample_projected(
            hidden,
            self.output.weight,
            self.output_bias(),
            generator,
            temperature,
            block_rows,
            uniforms=uniforms,
        )

    # -- the policy protocol (seqadv.models.policy) -----------------------------------------
    def _is_static_mask(self, action_mask: Tensor | None) -> bool:
        """Whether ``action_mask`` (..., V) forbids exactly this model's forbidden ids."""
        if action_mask is None:
            return True
        allowed = self.logit_mask == 0
        return bool(torch.equal(action_mask, allowed.expand_as(action_mask)))

    def initial_state(self, obs: Tensor) -> PolicyState:
        """The state before the first action of episodes whose observations are ``obs``.

        ``obs`` (B, T) holds the prefixes written so far (``pad_id`` after them); an empty
        prefix gives the zero state with the start token pending, a written one is read once.
        """
        if isinstance(obs, int):  # the first core's initial_state(batch_size)
            warnings.warn(
                "initial_state(batch_size) is deprecated: zero_state(batch_size) is the zero "
                "(h, c); initial_state(obs) is the policy protocol's",
                DeprecationWarning,
                stacklevel=2,
            )
            return self.zero_state(obs)  # type: ignore[return-value]
        obs = torch.as_tensor(obs)
        rows = obs.shape[0]
        h, c = self.zero_state(rows)
        pending = self.start_tokens(rows)
        written = (obs != self.pad_id) & (obs >= 0) & (obs < self.vocab_size)
        longest = int(written.long().sum(dim=1).max()) if rows else 0
        for t in range(longest):  # a non-empty prefix: read it once, here
            going = written[:, t]
            _, (h2, c2) = self.hidden_step(pending, (h, c))
            h = torch.where(going.unsqueeze(1), h2, h)
            c = torch.where(going.unsqueeze(1), c2, c)
            pending = torch.where(going, obs[:, t].long(), pending)
        return h, c, pending

    def act(
        self,
        obs: Tensor,
        state: PolicyState,
        *,
        generator: torch.Generator | None = None,
        action_mask: Tensor | None = None,
        temperature: float = 1.0,
    ) -> tuple[Tensor, Tensor, PolicyState]:
        """Feed the pending token, draw the next one: ``(tokens (B,), log_probs (B,), state)``.

        The observation is not re-read: the cached LSTM state already holds the prefix.
        ``action_mask`` (B, V) bool restricts the draw (a mask equal to this model's own
        forbidden ids takes the fast block-wise sampler).
        """
        h, c, pending = state
        hidden, (h, c) = self.hidden_step(pending, (h, c))
        if self._is_static_mask(action_mask):
            tokens = self.sample_next(hidden, generator, temperature)
            logits = self.project(hidden)
        else:
            logits = self.project(hidden).masked_fill(~action_mask, float("-inf"))
            tokens = sample_logits(logits, generator, temperature)
        if temperature != 1.0:
            logits = logits / temperature
        log_probs = torch.log_softmax(logits, dim=-1).gather(1, tokens.unsqueeze(1)).squeeze(1)
        return tokens, log_probs, (h, c, tokens)

    def evaluate(
        self,
        obs: Tensor | None,
        actions: Tensor,
        mask: Tensor,
        action_masks: Tensor | None = None,
        *,
        entropy: bool = True,
    ) -> tuple[Tensor, Tensor | None]:
        """Log-probabilities (B, S) (and entropies) of the episodes' actions, with gradient.

        An episode of the text environments starts from an empty prefix and the observation
        before action t is the first t actions, so the actions (B, S) are read under teacher
        forcing: ``obs`` is not needed. 0 where ``mask`` (B, S) is False.
        """
        if self._is_static_mask(action_masks) and not entropy:
            return torch.where(mask, self.token_log_probs(actions), 0.0), None
        logits = self(actions)
        log_p = masked_log_softmax(logits, None if self._is_static_mask(action_masks) else action_masks)
        picked = log_p.gather(-1, actions.clamp(0, self.vocab_size - 1).unsqueeze(-1)).squeeze(-1)
        log_probs = torch.where(mask, picked, 0.0)
        ent = None
        if entropy:
            ent = torch.where(mask, torch.special.entr(log_p.exp()).sum(-1), 0.0)
        return log_probs, ent

    def actor_modules(self) -> tuple[nn.Module, nn.Module]:
        """(encoder, head) views over this model's own modules, for the SB3 bridge.

        The encoder maps padded prefixes (N, T) (float or int ids) to the LSTM output after
        ``[start_id, x_1, ..., x_t]`` (N, H): the state from which this model writes token
        t + 1. The head is the output layer with the forbidden-token mask.
        """
        return PrefixEncoder(self), OutputHead(self)

    def recurrent_modules(self) -> tuple[nn.Module, nn.LSTM, nn.Module]:
        """(token encoder, LSTM, head) for sb3-contrib's RecurrentPPO: the encoder embeds the
        last written token (``start_id`` for an empty prefix), SB3 steps the LSTM."""
        return LastTokenEncoder(self), self.lstm, OutputHead(self)

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

    def _masked_token_nll(self, sequences: Tensor, grad: bool, temperature: float = 1.0) -> tuple[Tensor, Tensor]:
        """Per-token NLL (B, T), 0 outside the mask, and the (B, T) mask; ``temperature``
        divides the logits (the tempered model's NLL)."""
        mask = self.token_mask(sequences)
        hidden = self.hidden_states(sequences)
        flat_mask = mask.reshape(-1)
        all_rows = bool(flat_mask.all())
        rows = hidden.reshape(-1, hidden.shape[-1])
        targets = sequences.reshape(-1)
        if not all_rows:
            rows, targets = rows[flat_mask], targets[flat_mask]
        fn = projected_cross_entropy if grad else projected_nll
        weight, bias = self.output.weight, self.output_bias()
        if temperature != 1.0:
            weight = weight / temperature
            bias = None if bias is None else bias / temperature
        losses = fn(rows, weight, bias, targets)
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
    def nll(self, sequences: Tensor, batch_size: int = 1000, temperature: float = 1.0) -> float:
        """Mean per-token NLL of ``sequences`` (N, T) under this model (no gradient), or
        under the tempered model (logits / ``temperature``, as sampling at it draws)."""
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature!r}")
        total, count = 0.0, 0
        for start in range(0, sequences.shape[0], batch_size):
            nll, mask = self._masked_token_nll(sequences[start : start + batch_size], grad=False,
                                               temperature=temperature)  # fmt: skip
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
        block_rows: int | None = None,
        row_stable: bool = False,
    ) -> Tensor:
        """Sample ``n`` sequences (n, T) from the model.

        Args:
            n: how many sequences.
            generator: the explicit random source; the same generator state gives the same
                samples.
            temperature: 1.0 samples the model's own distribution.
            batch_size: sequences advanced together through the LSTM.
            block_rows: rows of the output layer and sampler processed together.
            row_stable: draw each row's uniforms as one row of an (n, T) block of the
                generator's stream, so a row does not depend on ``n``: for the same generator
                state, ``sample(5)`` is the head of ``sample(2000)`` (what ``seqadv sample``
                and ``seqadv eval`` use). Otherwise each step draws n uniforms (training's
                stream).
        """
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        w = self.output.weight
        block = (
            torch.rand(n, self.max_len, generator=generator, dtype=w.dtype, device=w.device)
            if row_stable
            else None
        )
        pieces = []
        for start in range(0, n, batch_size):
            rows = min(batch_size, n - start)
            pieces.append(
                self.continue_sequences(
                    self.start_tokens(rows),
                    self.zero_state(rows),
                    steps=self.max_len,
                    generator=generator,
                    temperature=temperature,
                    block_rows=block_rows,
                    uniforms=None if block is None else block[start : start + rows],
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
        block_rows: int | None = None,
        finished: Tensor | None = None,
        uniforms: Tensor | None = None,
    ) -> Tensor:
        """Sample ``steps`` more tokens (B, steps) after ``last_tokens`` (B,) from ``state``.

        This is the rollout primitive: the recurrent state is reused, the prefix is never
        re-read. With an EOS id, rows that end (or are already ``finished``, a (B,) bool) are
        padded with ``pad_id``. ``uniforms`` (B, steps): the uniforms of each step, instead
        of drawing them from ``generator``.
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
            u = None if uniforms is None else uniforms[:, t]
            tokens = self.sample_next(hidden, generator, temperature, block_rows, uniforms=u)
            if done is not None:
                tokens = tokens.masked_fill(done, self.pad_id)
                done = done | (tokens == self.eos_id)
            out[:, t] = tokens
            if done is not None and bool(done.all()):
                out[:, t + 1 :] = self.pad_id
                break
        return out


# -- views for the stable-baselines3 bridge ------------------------------------------------------
def _prefix_ids(observations: Tensor, spec: GeneratorSpec) -> tuple[Tensor, Tensor]:
    """Token ids (N, T) with padding mapped to ``start_id``, and the prefix lengths (N,)."""
    ids = observations.round().long() if observations.dtype.is_floating_point else observations.long()
    written = (ids != spec.pad_id) & (ids >= 0) & (ids < spec.vocab_size)
    lengths = written.long().sum(dim=1)
    return ids.masked_fill(~written, spec.start_id), lengths


class PrefixEncoder(nn.Module):
    """Reads a padded prefix through a generator's embedding and LSTM (the same modules).

    Input (N, T) ids (floats as SB3 hands them over); output (N, H), the LSTM output after
    ``[start_id, x_1, ..., x_t]`` where t is the prefix length.
    """

    def __init__(self, generator: LSTMGenerator) -> None:
        super().__init__()
        self.spec = generator.spec
        self.latent_dim = generator.spec.hidden_dim
        self.embedding = generator.embedding
        self.lstm = generator.lstm

    def forward(self, observations: Tensor) -> Tensor:
        ids, lengths = _prefix_ids(observations, self.spec)
        rows = ids.shape[0]
        longest = int(lengths.max()) if rows else 0
        start = torch.full((rows, 1), self.spec.start_id, dtype=torch.long, device=ids.device)
        inputs = torch.cat([start, ids[:, :longest]], dim=1)  # (N, longest + 1)
        out, _ = self.lstm(self.embedding(inputs))
        return out[torch.arange(rows, device=ids.device), lengths]


class LastTokenEncoder(nn.Module):
    """The embedding (N, E) of the last written token of each prefix (N, T); ``start_id``
    for an empty one."""

    def __init__(self, generator: LSTMGenerator) -> None:
        super().__init__()
        self.spec = generator.spec
        self.latent_dim = generator.spec.embed_dim
        self.embedding = generator.embedding

    def forward(self, observations: Tensor) -> Tensor:
        ids, lengths = _prefix_ids(observations, self.spec)
        rows = torch.arange(ids.shape[0], device=ids.device)
        last = ids[rows, (lengths - 1).clamp(min=0)]
        last = torch.where(lengths > 0, last, torch.full_like(last, self.spec.start_id))
        return self.embedding(last)


class OutputHead(nn.Module):
    """A generator's output layer (the same Linear) with its forbidden-token mask:
    ``head(h)`` equals ``generator.project(h)``, (..., H) -> (..., V)."""

    def __init__(self, generator: LSTMGenerator) -> None:
        super().__init__()
        self.output = generator.output
        mask = torch.zeros(generator.vocab_size, device=generator.output.weight.device)
        mask[list(generator.spec.forbidden_ids)] = float("-inf")
        self.register_buffer("logit_mask", mask, persistent=False)
        self.has_mask = bool(generator.spec.forbidden_ids)

    def forward(self, hidden: Tensor) -> Tensor:
        bias = self.output.bias + self.logit_mask if self.has_mask else self.output.bias
        return nn.functional.linear(hidden, self.output.weight, bias)


# -- the GENERATORS factory --------------------------------------------------------------------
def lstm_policy(
    data: Any,
    seed: int,
    embed_dim: int = 32,
    hidden_dim: int = 32,
    init_std: float | None = 0.1,
) -> LSTMGenerator:
    """SeqGAN's generator for ``data`` (its vocabulary, length and special ids).

    Args:
        data: the experiment's data (``vocab_size``, ``max_len``, ``start_id``, ``eos_id``,
            ``pad_id``, ``forbidden_ids``).
        seed: seeds the initialization.
        embed_dim, hidden_dim: embedding and LSTM sizes (SeqGAN: 32 and 32).
        init_std: every parameter from N(0, init_std^2) (SeqGAN: 0.1); None: torch's default
            initialization under ``seed``.
    """
    for key, value in (("embed_dim", embed_dim), ("hidden_dim", hidden_dim)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"kwargs.{key} must be an integer >= 1, got {value!r}")
    if init_std is not None and (isinstance(init_std, bool) or not init_std >= 0):
        raise ValueError(f"kwargs.init_std must be a number >= 0 or null, got {init_std!r}")
    spec = GeneratorSpec(
        vocab_size=data.vocab_size,
        embed_dim=embed_dim,
        hidden_dim=hidden_dim,
        max_len=data.max_len,
        start_id=data.start_id,
        eos_id=data.eos_id,
        pad_id=data.pad_id,
        forbidden_ids=tuple(data.forbidden_ids),
    )
    if init_std is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return LSTMGenerator.from_spec(spec)
    gen = LSTMGenerator.from_spec(spec)
    gen.init_normal_(init_std, generator=torch.Generator().manual_seed(seed))
    return gen
