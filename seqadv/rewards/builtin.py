r"""Built-in rewards: the discriminator-to-reward maps the text-GAN literature uses.

Every function here is a plain batch-first reward ``fn(logits, **kwargs) -> Tensor``:
``logits`` is the discriminator's raw output, (B,) for a sequence-level discriminator or
(B, T) for a token-level one, with ``sigmoid(logits)`` = D(x), the probability that x is
real. All but ``rank`` are elementwise, return the shape of ``logits`` and are registered
with ``level="any"``. Integer and half-precision logits are computed in float32 (the default
dtype); float32 and float64 logits keep their dtype. Nothing is detached: the environment
calls rewards under ``torch.no_grad()``.

**The f-divergence family.** A discriminator trained with binary cross-entropy on real
(label 1) and generated (label 0) data in equal proportion converges to
D*(x) = p_data / (p_data + p_gen), so its logit estimates log(p_data / p_gen) and
u = exp(logit) estimates the density ratio p_data / p_gen. For a convex f with f(1) = 0,
D_f(p_data ‖ p_gen) = Σ_x p_gen(x) f(p_data(x) / p_gen(x)), whose derivative with respect to
p_gen(x) is f(u) − u f′(u). So with the reward

    r(x) = u f′(u) − f(u),

the policy gradient E_{p_gen}[∇ log p_gen(x) · r(x)] equals −∇ D_f(p_data ‖ p_gen): REINFORCE
on r descends the divergence. Adding a constant to r leaves the expected gradient unchanged
(Σ_x ∇p_gen(x) = 0), so each reward below is one member of its family; the generators f are
those of Nowozin et al., "f-GAN" (NeurIPS 2016), table 1, except that ``js`` is halved so
that its divergence is exactly JS. The exponential ones clamp the logit at ``max_logit``
(default 30: e^60 < 1.2e26 stays finite in float32) — past it, the discriminator is
saturated and the estimate of u meaningless anyway.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

__all__ = [
    "prob",
    "log_prob",
    "minimax",
    "logit",
    "constant",
    "rank",
    "kl",
    "reverse_kl",
    "js",
    "squared_hellinger",
    "pearson_chi2",
    "maskgan",
    "scratchgan",
]

_LOG2 = math.log(2.0)


def _as_float(x: torch.Tensor) -> torch.Tensor:
    """``x`` as a float32/float64 tensor (integer and half precision go to the default dtype)."""
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(x)
    if not x.is_floating_point() or x.dtype in (torch.float16, torch.bfloat16):
        return x.to(torch.get_default_dtype())
    return x


def _clamp(x: torch.Tensor, max_logit: float | None) -> torch.Tensor:
    return x if max_logit is None else x.clamp(max=max_logit)


# -- the GAN objectives -----------------------------------------------------------------------
def prob(logits: torch.Tensor, **kwargs: Any) -> torch.Tensor:
    """D(x) = sigmoid(logit), the probability of being real (SeqGAN's reward).

    Args:
        logits: (B,) or (B, T) discriminator logits.

    Returns:
        Rewards in (0, 1), the shape of ``logits``.

    Example:
        >>> prob(torch.tensor([0.0, 2.0]))
        tensor([0.5000, 0.8808])
    """
    return torch.sigmoid(_as_float(logits))


def log_prob(logits: torch.Tensor, **kwargs: Any) -> torch.Tensor:
    """log D(x), the non-saturating GAN objective (computed stably as logsigmoid(logit)).

    Args:
        logits: (B,) or (B, T) discriminator logits.

    Returns:
        Rewards in (−inf, 0), the shape of ``logits``; ≈ logit for very negative logits.

    Example:
        >>> log_prob(torch.tensor([0.0]))
        tensor([-0.6931])
    """
    return F.logsigmoid(_as_float(logits))


def minimax(logits: torch.Tensor, **kwargs: Any) -> torch.Tensor:
    """−log(1 − D(x)), the original minimax objective (computed stably as softplus(logit)).

    This is also IRGAN's generator reward log(1 + exp(f(q, d))) with f the discriminator's
    score.

    Args:
        logits: (B,) or (B, T) discriminator logits.

    Returns:
        Rewards in (0, inf), the shape of ``logits``; ≈ logit for very positive logits.

    Example:
        >>> minimax(torch.tensor([0.0]))
        tensor([0.6931])
    """
    return F.softplus(_as_float(logits))


def logit(logits: torch.Tensor, **kwargs: Any) -> torch.Tensor:
    """The raw critic score, the discriminator's logit itself (WGAN-style); alias ``critic``.

    Args:
        logits: (B,) or (B, T) critic scores.

    Returns:
        The scores, the shape of ``logits``.

    Example:
        >>> logit(torch.tensor([-1.5, 2.0]))
        tensor([-1.5000,  2.0000])
    """
    return _as_float(logits)


def constant(logits: torch.Tensor, value: float = 1.0, **kwargs: Any) -> torch.Tensor:
    """A constant ``value`` whatever the discriminator says (a control, not a GAN objective).

    Under this reward the policy gradient is pure noise around zero: the generator only
    drifts. A metric that still "improves" under it (NLL-oracle after mode collapse, say)
    measures something other than learning from the discriminator.

    Args:
        logits: (B,) or (B, T); only the shape, dtype and device are used.
        value: the reward.

    Returns:
        ``value`` everywhere, the shape of ``logits``.

    Example:
        >>> constant(torch.tensor([-3.0, 3.0]), value=0.5)
        tensor([0.5000, 0.5000])
    """
    return torch.full_like(_as_float(logits), float(value))


# -- RankGAN ----------------------------------------------------------------------------------
def rank(
    logits: torch.Tensor,
    *,
    features: torch.Tensor,
    reference_features: torch.Tensor,
    comparison_features: torch.Tensor,
    gamma: float = 1.0,
    **kwargs: Any,
) -> torch.Tensor:
    r"""RankGAN's rank score of each sentence against a reference set and a comparison set.

    The definition of Lin et al., "Adversarial Ranking for Language Generation" (NeurIPS
    2017, section 3). With y the ranker's feature vector of a sentence and
    α(s|u) = cos(y_s, y_u), a sentence s is scored against each reference u ∈ U by a softmax
    of scale γ over the comparison set C plus s itself, C′ = C ∪ {s}:

        P(s | u, C′) = exp(γ α(s|u)) / Σ_{s′ ∈ C′} exp(γ α(s′|u)),

    and its rank score is the mean over the references, R(s | U, C) = (1/|U|) Σ_u P(s | u, C′).
    Each scored sentence is compared with C only, never with the other sentences of its
    batch. Public implementations disagree (some softmax over the batch, some take logs,
    some drop s from the denominator); this is the paper's. The value lies in (0, 1]; it is
    1 when C is empty, 1/(|C|+1) when s and every member of C look alike. Computed in log
    space (logsumexp over C once per reference). A zero feature vector has cosine 0 with
    everything.

    Args:
        logits: (B,) the discriminator's output; only its batch size is used.
        features: (B, F) features y_s of the scored sentences.
        reference_features: (U, F) features of the reference set U (human-written).
        comparison_features: (C, F) features of the comparison set C (RankGAN: human-written
            sentences when ranking generated ones); C may be 0.
        gamma: the softmax scale γ (the paper's temperature-like hyperparameter).

    Returns:
        (B,) rank scores.

    Raises:
        RewardError: inputs of the wrong rank or inconsistent sizes.

    Example:
        >>> e1, e2 = torch.eye(2)
        >>> rank(torch.zeros(2), features=torch.stack([e1, e2]),
        ...      reference_features=e1[None], comparison_features=e2[None], gamma=1.0)
        tensor([0.7311, 0.5000])
    """
    from seqadv.errors import RewardError

    ys, yu, yc = (_as_float(t) for t in (features, reference_features, comparison_features))
    dtype = torch.promote_types(torch.promote_types(ys.dtype, yu.dtype), yc.dtype)
    ys, yu, yc = ys.to(dtype), yu.to(dtype), yc.to(dtype)
    for arg, t in (
        ("features", ys),
        ("reference_features", yu),
        ("comparison_features", yc),
    ):
        if t.dim() != 2:
            raise RewardError(
                f"reward 'rank': {arg} must be 2-D (N, F), got shape {tuple(t.shape)}"
            )
    batch = logits.shape[0] if logits.dim() > 0 else None
    if batch is not None and ys.shape[0] != batch:
        raise RewardError(
            f"reward 'rank': features has {ys.shape[0]} rows but the batch has {batch} logits"
        )
    if yu.shape[0] == 0:
        raise RewardError("reward 'rank': reference_features is empty (U must be non-empty)")
    dims = {ys.shape[1], yu.shape[1], yc.shape[1]} if yc.shape[0] else {ys.shape[1], yu.shape[1]}
    if len(dims) != 1:
        raise RewardError(
            f"reward 'rank': feature sizes differ: features {tuple(ys.shape)}, "
            f"reference_features {tuple(yu.shape)}, comparison_features {tuple(yc.shape)}"
        )
    ys, yu = F.normalize(ys, dim=-1), F.normalize(yu, dim=-1)
    s_u = gamma * (ys @ yu.T)  # (B, U): γ α(s|u)
    if yc.shape[0]:
        c_u = gamma * (F.normalize(yc, dim=-1) @ yu.T)  # (C, U)
        log_denominator = torch.logaddexp(torch.logsumexp(c_u, dim=0), s_u)  # over C ∪ {s}
    else:
        log_denominator = s_u
    return (s_u - log_denominator).exp().mean(dim=1)


# -- f-divergences ----------------------------------------------------------------------------
def kl(logits: torch.Tensor, max_logit: float | None = 30.0, **kwargs: Any) -> torch.Tensor:
    """Forward KL(p_data ‖ p_gen): reward u = exp(logit) = D/(1 − D), MaliGAN's.

    f(u) = u log u, so u f′(u) − f(u) = u. This is the mass-covering direction: the
    generator is pushed to put mass wherever the data has it. Computed as
    exp(min(logit, max_logit)).

    Args:
        logits: (B,) or (B, T) logits of a BCE-trained discriminator (≈ log p_data/p_gen).
        max_logit: clamp of the logit before exp (None: no clamp).

    Returns:
        Rewards in (0, e^max_logit], the shape of ``logits``.

    Example:
        >>> kl(torch.tensor([0.0, math.log(3.0)]))
        tensor([1., 3.])
    """
    return torch.exp(_clamp(_as_float(logits), max_logit))


def reverse_kl(logits: torch.Tensor, **kwargs: Any) -> torch.Tensor:
    """Reverse KL(p_gen ‖ p_data): reward logit − 1 = log u − 1.

    f(u) = −log u, so u f′(u) − f(u) = log u − 1. The mode-seeking direction: it punishes
    generated samples the data would not produce and ignores data modes the generator
    misses. Linear in the logit, so no clamp is needed.

    Args:
        logits: (B,) or (B, T) logits of a BCE-trained discriminator (≈ log p_data/p_gen).

    Returns:
        Rewards, the shape of ``logits``.

    Example:
        >>> reverse_kl(torch.tensor([0.0, 1.0]))
        tensor([-1.,  0.])
    """
    return _as_float(logits) - 1.0


def js(logits: torch.Tensor, **kwargs: Any) -> torch.Tensor:
    """Jensen–Shannon JS(p_data ‖ p_gen) (symmetric): reward ½·log((1 + u)/2).

    f(u) = ½[u log u − (1 + u) log((1 + u)/2)], so D_f is exactly the JS divergence (in
    nats, at most log 2) and u f′(u) − f(u) = ½ log((1 + u)/2) = ½(softplus(logit) − log 2):
    half the minimax reward, shifted. Computed with softplus, stable for any logit.

    Args:
        logits: (B,) or (B, T) logits of a BCE-trained discriminator (≈ log p_data/p_gen).

    Returns:
        Rewards in (−½ log 2, inf), the shape of ``logits``.

    Example:
        >>> js(torch.tensor([0.0]))
        tensor([0.])
    """
    return 0.5 * (F.softplus(_as_float(logits)) - _LOG2)


def squared_hellinger(
    logits: torch.Tensor, max_logit: float | None = 30.0, **kwargs: Any
) -> torch.Tensor:
    """Squared Hellinger H²(p_data ‖ p_gen) = Σ (√p_data − √p_gen)² (symmetric): reward √u − 1.

    f(u) = (√u − 1)² (no ½ factor), so u f′(u) − f(u) = √u − 1. Computed as
    expm1(min(logit, max_logit)/2).

    Args:
        logits: (B,) or (B, T) logits of a BCE-trained discriminator (≈ log p_data/p_gen).
        max_logit: clamp of the logit before exp (None: no clamp).

    Returns:
        Rewards in (−1, e^(max_logit/2) − 1], the shape of ``logits``.

    Example:
        >>> squared_hellinger(torch.tensor([0.0, math.log(4.0)]))
        tensor([0., 1.])
    """
    return torch.expm1(0.5 * _clamp(_as_float(logits), max_logit))


def pearson_chi2(
    logits: torch.Tensor, max_logit: float | None = 30.0, **kwargs: Any
) -> torch.Tensor:
    """Pearson χ²(p_data ‖ p_gen) = Σ (p_data − p_gen)²/p_gen: reward u² − 1.

    f(u) = (u − 1)², so u f′(u) − f(u) = u² − 1. Computed as expm1(2·min(logit, max_logit)).

    Args:
        logits: (B,) or (B, T) logits of a BCE-trained discriminator (≈ log p_data/p_gen).
        max_logit: clamp of the logit before exp (None: no clamp).

    Returns:
        Rewards in (−1, e^(2·max_logit) − 1], the shape of ``logits``.

    Example:
        >>> pearson_chi2(torch.tensor([0.0, math.log(3.0)]))
        tensor([0., 8.])
    """
    return torch.expm1(2.0 * _clamp(_as_float(logits), max_logit))


# -- token-level rewards of the infilling recipes ---------------------------------------------
def maskgan(logits: torch.Tensor, eps: float = 1e-7, **kwargs: Any) -> torch.Tensor:
    """log(D(x_t | context) + eps), MaskGAN's per-token reward (its code's eps: 1e-7).

    Unlike ``log_prob`` it is bounded below by log(eps) (about -16.1), as in MaskGAN.

    Args:
        logits: (B,) or (B, T) discriminator logits.
        eps: added to D before the log.

    Returns:
        Rewards in [log(eps), log(1 + eps)), the shape of ``logits``.

    Example:
        >>> maskgan(torch.tensor([0.0]))
        tensor([-0.6931])
    """
    return torch.log(torch.sigmoid(_as_float(logits)) + eps)


def scratchgan(logits: torch.Tensor, **kwargs: Any) -> torch.Tensor:
    """2 D(x) - 1, ScratchGAN's per-token reward (de Masson d'Autume et al., 2019).

    Args:
        logits: (B,) or (B, T) discriminator logits.

    Returns:
        Rewards in (-1, 1), the shape of ``logits`` (equal to tanh(logit / 2)).

    Example:
        >>> scratchgan(torch.tensor([0.0]))
        tensor([0.])
    """
    return 2.0 * torch.sigmoid(_as_float(logits)) - 1.0
