"""Each f-divergence reward makes the exact policy gradient equal −∇ D_f(p_data ‖ p_gen).

On a discrete distribution over K outcomes, with p_gen = softmax(θ) and the exact log density
ratio log(p_data / p_gen) as the discriminator's logit (what a BCE discriminator converges
to), the expected REINFORCE gradient, computed by enumeration with the reward held constant,

    Σ_x p_gen(x) ∇_θ log p_gen(x) r(x) = ∇_θ Σ_x p_gen(x) · stop_grad(r(x)),

must equal −∇_θ D_f(p_data ‖ p_gen_θ), taken by autograd of the divergence's closed form.
"""

from __future__ import annotations

import math

import pytest
import torch

from seqadv.rewards import REWARDS, resolve_reward

K = 6


# Closed forms written directly as divergences, independent of the rewards' f.
def _kl(p, q):
    return (p * (p / q).log()).sum()


CLOSED_FORMS = {
    "kl": _kl,  # KL(p_data ‖ p_gen)
    "reverse_kl": lambda p, q: _kl(q, p),  # KL(p_gen ‖ p_data)
    "js": lambda p, q: 0.5 * _kl(p, (p + q) / 2) + 0.5 * _kl(q, (p + q) / 2),
    "squared_hellinger": lambda p, q: ((p.sqrt() - q.sqrt()) ** 2).sum(),
    "pearson_chi2": lambda p, q: ((p - q) ** 2 / q).sum(),
}
F_DIVERGENCES = sorted(e.name for e in REWARDS.entries() if e.meta.get("family") == "f-divergence")


def test_every_f_divergence_has_a_closed_form_here():
    missing = set(F_DIVERGENCES) - set(CLOSED_FORMS)
    assert not missing, f"add the closed form of {sorted(missing)} to CLOSED_FORMS"
    assert {"kl", "reverse_kl", "js", "squared_hellinger", "pearson_chi2"} <= set(F_DIVERGENCES)


def _problem(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    p_data = torch.softmax(torch.randn(K, generator=g, dtype=torch.float64), 0)
    theta = torch.randn(K, generator=g, dtype=torch.float64)
    return p_data, theta


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("name", F_DIVERGENCES)
def test_policy_gradient_equals_minus_divergence_gradient(name, seed):
    p_data, theta = _problem(seed)
    reward = resolve_reward(name)

    # exact expected policy gradient, by enumeration, reward held constant
    theta_pg = theta.clone().requires_grad_(True)
    p_gen = torch.softmax(theta_pg, 0)
    logit = (p_data.log() - p_gen.log()).detach()  # the optimal BCE discriminator's logit
    r = reward(logit)
    (policy_gradient,) = torch.autograd.grad((p_gen * r.detach()).sum(), theta_pg)
    # the same sum in REINFORCE form: Σ p(x) ∇log p(x) r(x)
    log_p = torch.log_softmax(theta_pg, 0)
    jac = torch.stack(
        [torch.autograd.grad(log_p[x], theta_pg, retain_graph=True)[0] for x in range(K)]
    )
    torch.testing.assert_close((p_gen.detach()[:, None] * jac * r[:, None]).sum(0), policy_gradient)

    # −∇_θ D_f(p_data ‖ softmax(θ)) from the closed form
    theta_d = theta.clone().requires_grad_(True)
    divergence = CLOSED_FORMS[name](p_data, torch.softmax(theta_d, 0))
    (divergence_gradient,) = torch.autograd.grad(divergence, theta_d)

    assert divergence.item() > 0
    torch.testing.assert_close(policy_gradient, -divergence_gradient, rtol=0, atol=1e-6)
    assert policy_gradient.norm() > 1e-3  # not trivially zero


@pytest.mark.parametrize("name", F_DIVERGENCES)
def test_f_divergence_vanishes_at_equilibrium(name):
    """p_gen = p_data: logit 0 everywhere, a constant reward, a zero expected gradient."""
    p_data, _ = _problem(0)
    theta = p_data.log().clone().requires_grad_(True)
    p_gen = torch.softmax(theta, 0)
    r = resolve_reward(name)((p_data.log() - p_gen.log()).detach())
    assert torch.allclose(r, r[0].expand_as(r))
    (grad,) = torch.autograd.grad((p_gen * r).sum(), theta)
    assert grad.abs().max() < 1e-12
    assert CLOSED_FORMS[name](p_data, p_data).abs() < 1e-12


def test_js_is_bounded_by_log_2():
    p = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64) + 1e-300
    q = torch.tensor([0.0, 0.5, 0.5], dtype=torch.float64) + 1e-300
    assert CLOSED_FORMS["js"](p, q).item() == pytest.approx(math.log(2))
