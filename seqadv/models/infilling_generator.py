"""MaskGAN's generator: a seq2seq policy that fills in the missing tokens of a sentence.

The encoder reads the masked sentence; the decoder writes the sentence left to right. At a
present position the real token is copied (no action; the decoder still reads it), at a
missing one the policy draws the token. As a policy (:mod:`seqadv.models.policy`) it reads
the ``MaskedInfilling`` observation ``{masked, written, position}`` and carries its decoder
state between steps: ``act`` feeds the decoder the tokens copied since its last action (the
present ones) and draws the token at ``position``; nothing re-reads the sentence.

Examples (``sample``, the data, the discriminator's input) are in the infilling layout
``[masked | sentence]`` (:mod:`seqadv.data.infilling`). ``sample(n)`` infills ``n`` masked
sentences drawn from the real training examples the policy was built with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqadv.data.infilling import split_examples
from seqadv.models.policy import masked_log_softmax, sample_masked
from seqadv.models.seq2seq import Seq2SeqBody

__all__ = ["InfillingGenerator", "InfillingSpec", "InfillState", "infilling_policy"]


@dataclass(frozen=True)
class InfillingSpec:
    """Everything needed to rebuild an infilling generator (its real pool aside)."""

    vocab_size: int
    max_len: int
    embed_dim: int = 32
    hidden_dim: int = 32
    attention: bool = True
    pad_id: int | None = None
    forbidden_ids: tuple[int, ...] = ()


@dataclass
class InfillState:
    """The decoder's state: (h, c) after reading the inputs of positions 0 .. ``ready``
    (``ready`` -1: nothing read yet, (h, c) is the encoder's final state), and the encoder's
    states (for attention)."""

    h: Tensor
    c: Tensor
    ready: Tensor
    encoded: Tensor


def _obs_parts(obs: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
    """(masked, written, position) of an observation as int64 ((..., T), (..., T), (...,))."""
    return obs["masked"].long(), obs["written"].long(), obs["position"].long()[..., 0]


class InfillingGenerator(nn.Module):
    """A seq2seq infilling policy (see the module docstring).

    Args:
        spec: sizes and special ids.
        pool: (N, 2T) real examples ``[masked | sentence]`` that ``sample`` infills (not
            saved with the weights).
    """

    def __init__(self, spec: InfillingSpec, pool: Tensor | None = None) -> None:
        super().__init__()
        self.spec = spec
        self.body = Seq2SeqBody(spec.vocab_size, spec.embed_dim, spec.hidden_dim, spec.attention)
        self.output = nn.Linear(spec.hidden_dim, spec.vocab_size)
        mask = torch.zeros(spec.vocab_size)
        mask[list(spec.forbidden_ids)] = float("-inf")
        self.register_buffer("logit_mask", mask, persistent=False)
        self.register_buffer(
            "pool", pool if pool is not None else torch.zeros(0, 2 * spec.max_len, dtype=torch.long),
            persistent=False,
        )

    # -- sizes --------------------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return self.spec.vocab_size

    @property
    def max_len(self) -> int:
        return self.spec.max_len

    @property
    def pad_id(self) -> int:
        return self.spec.pad_id if self.spec.pad_id is not None else self.spec.vocab_size

    # -- the pieces ---------------------------------------------------------------------------
    def logits(self, states: Tensor, encoded: Tensor) -> Tensor:
        """Output logits of decoder states (B, H) or (B, L, H), forbidden tokens at -inf."""
        return self.output(self.body.attend(states, encoded)) + self.logit_mask

    def _teacher_states(self, masked: Tensor, sentences: Tensor) -> tuple[Tensor, Tensor]:
        """Decoder states (B, T, H) at every position under teacher forcing, and the encoder's."""
        encoded, state = self.body.encode(masked)
        return self.body.decode(self.body.shifted(sentences), state), encoded

    # -- policy -------------------------------------------------------------------------------
    def initial_state(self, obs: dict[str, Tensor]) -> InfillState:
        masked, _, _ = _obs_parts(obs)
        encoded, (h, c) = self.body.encode(masked)
        ready = torch.full((masked.shape[0],), -1, dtype=torch.long, device=masked.device)
        return InfillState(h, c, ready, encoded)

    def _advance(self, state: InfillState, written: Tensor, target: Tensor) -> InfillState:
        """Read inputs until each row's decoder output is at ``target`` (B,): GO at position
        0, then the written tokens (copied or drawn) before it."""
        h, c, ready = state.h, state.c, state.ready.clone()
        rows = torch.arange(written.shape[0], device=written.device)
        while bool((ready < target).any()):
            lagging = ready < target
            nxt = ready + 1
            tokens = torch.where(
                nxt == 0,
                self.body.go_id,
                written[rows, (nxt - 1).clamp(min=0)],
            )
            h_new, c_new = self.body.step(tokens, (h, c))
            h = torch.where(lagging[:, None], h_new, h)
            c = torch.where(lagging[:, None], c_new, c)
            ready = torch.where(lagging, nxt, ready)
        return InfillState(h, c, ready, state.encoded)

    def act(
        self,
        obs: dict[str, Tensor],
        state: InfillState,
        *,
        generator: torch.Generator | None = None,
        action_mask: Tensor | None = None,
        temperature: float = 1.0,
    ) -> tuple[Tensor, Tensor, InfillState]:
        _, written, position = _obs_parts(obs)
        target = position.clamp(max=self.max_len - 1)
        state = self._advance(state, written, target)
        logits = self.logits(state.h, state.encoded)
        actions, log_probs = sample_masked(logits, generator, action_mask, temperature)
        return actions, log_probs, state

    def evaluate(
        self,
        obs: dict[str, Tensor],
        actions: Tensor,
        mask: Tensor,
        action_masks: Tensor | None = None,
        *,
        entropy: bool = True,
    ) -> tuple[Tensor, Tensor | None]:
        """Log-probs (B, S) of the stored actions, from one teacher-forced pass per episode."""
        masked, written, position = _obs_parts(obs)
        # each episode's last observation holds every token before its last action (later
        # observations may belong to the next episode, when the env resets rows itself)
        rows = torch.arange(written.shape[0], device=written.device)
        last = mask.long().sum(1).clamp(min=1) - 1
        full = written[rows, last].clone()
        b, s = mask.nonzero(as_tuple=True)
        full[b, position[b, s]] = actions[b, s]
        states, encoded = self._teacher_states(masked[:, 0], full)
        at = position.clamp(max=self.max_len - 1)
        picked = states.gather(1, at[..., None].expand(-1, -1, states.shape[-1]))
        log_p = masked_log_softmax(self.logits(picked, encoded), action_masks)
        safe = torch.where(mask, actions, torch.zeros_like(actions))
        log_probs = torch.where(mask, log_p.gather(-1, safe[..., None]).squeeze(-1), 0.0)
        ent = None
        if entropy:
            ent = torch.where(mask, torch.special.entr(log_p.exp()).sum(-1), 0.0)
        return log_probs, ent

    @torch.no_grad()
    def infill(
        self, examples: Tensor, generator: torch.Generator | None = None, temperature: float = 1.0
    ) -> Tensor:
        """(B, 2T) examples with their missing tokens drawn by the policy (present copied)."""
        masked, sentences, present = split_examples(examples)
        encoded, (h, c) = self.body.encode(masked)
        out = sentences.clone()
        token = self.body.go(masked.shape[0], masked.device)
        for t in range(self.max_len):
            h, c = self.body.step(token, (h, c))
            drawn, _ = sample_masked(self.logits(h, encoded), generator, None, temperature)
            out[:, t] = torch.where(present[:, t], sentences[:, t], drawn)
            token = out[:, t]
        return torch.cat([masked, out], dim=1)

    @torch.no_grad()
    def sample(
        self, n: int, *, generator: torch.Generator | None = None, temperature: float = 1.0
    ) -> Tensor:
        """``n`` real examples of the pool, drawn with ``generator``, infilled: (n, 2T)."""
        if self.pool.shape[0] == 0:
            raise ValueError(
                "this infilling generator has no real examples to infill (build it with a pool)"
            )
        idx = torch.randint(0, self.pool.shape[0], (n,), generator=generator)
        return self.infill(self.pool[idx], generator, temperature)

    # -- maximum likelihood -------------------------------------------------------------------
    def _missing_nll(self, examples: Tensor) -> tuple[Tensor, Tensor]:
        """(M,) NLL of each missing token (output layer run at those positions only) and
        the (B, T) missing mask."""
        masked, sentences, present = split_examples(examples)
        states, encoded = self._teacher_states(masked, sentences)
        missing = ~present
        rows, cols = missing.nonzero(as_tuple=True)
        logits = self.output(self.body.attend(states, encoded)[rows, cols]) + self.logit_mask
        return F.cross_entropy(logits, sentences[rows, cols], reduction="none"), missing

    def mle_loss(self, examples: Tensor) -> Tensor:
        """MaskMLE: mean cross-entropy of the missing tokens given the masked sentence."""
        nll, missing = self._missing_nll(examples)
        return nll.sum() / missing.sum().clamp(min=1)

    @torch.no_grad()
    def nll(self, examples: Tensor, batch_size: int = 1000) -> float:
        """Mean NLL per missing token of (N, 2T) examples (no gradient)."""
        total, count = 0.0, 0
        for start in range(0, examples.shape[0], batch_size):
            nll, missing = self._missing_nll(examples[start : start + batch_size])
            total += float(nll.sum(dtype=torch.float64))
            count += int(missing.sum())
        return total / max(count, 1)

    # -- stable-baselines3 --------------------------------------------------------------------
    def actor_modules(self) -> tuple[nn.Module, nn.Module]:
        """(encoder, head) for the SB3 bridge: the observation to the decoder's (attended)
        state at ``position`` by one teacher-forced pass, and the output layer."""
        return _ObservationEncoder(self), _Head(self)


class _ObservationEncoder(nn.Module):
    def __init__(self, policy: InfillingGenerator) -> None:
        super().__init__()
        self.policy = policy
        self.latent_dim = policy.spec.hidden_dim

    def forward(self, obs: dict[str, Tensor]) -> Tensor:
        masked, written, position = _obs_parts({k: v.round() for k, v in obs.items()})
        written = written.clamp(0, self.policy.vocab_size)  # unwritten positions: any id
        states, encoded = self.policy._teacher_states(masked, written)
        at = position.clamp(0, self.policy.max_len - 1)
        picked = states[torch.arange(states.shape[0]), at]
        return self.policy.body.attend(picked, encoded)


class _Head(nn.Module):
    def __init__(self, policy: InfillingGenerator) -> None:
        super().__init__()
        self.output = policy.output
        self.register_buffer("logit_mask", policy.logit_mask.clone(), persistent=False)

    def forward(self, latent: Tensor) -> Tensor:
        return self.output(latent) + self.logit_mask


def infilling_policy(
    data: Any,
    seed: int,
    embed_dim: int = 32,
    hidden_dim: int = 32,
    attention: bool = True,
    init_scale: float | None = 0.1,
) -> InfillingGenerator:
    """The GENERATORS factory of ``maskgan``: an infilling generator for infilling data.

    Args:
        data: infilling examples (``seqadv.data.infilling``: ``text_start`` = T).
        seed: seeds the initialization.
        embed_dim, hidden_dim: sizes of the embedding and of both LSTMs.
        attention: dot-product attention over the encoder's states.
        init_scale: every parameter from U(-s, s) (MaskGAN's TensorFlow initializer);
            None: torch's defaults under ``seed``.
    """
    from seqadv.errors import ConfigError

    if getattr(data, "text_start", 0) != data.max_len:
        raise ConfigError(
            "generator 'maskgan' needs infilling data ([masked | sentence] examples): "
            "set data.source to 'infilling'"
        )
    spec = InfillingSpec(
        vocab_size=data.vocab_size,
        max_len=data.max_len,
        embed_dim=int(embed_dim),
        hidden_dim=int(hidden_dim),
        attention=bool(attention),
        pad_id=data.pad_id,
        forbidden_ids=tuple(data.forbidden_ids),
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        gen = InfillingGenerator(spec, pool=data.train)
    if init_scale is not None:
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for p in gen.parameters():
                p.copy_(torch.rand(p.shape, generator=g) * (2 * init_scale) - init_scale)
    return gen
