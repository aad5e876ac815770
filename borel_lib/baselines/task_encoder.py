"""The permutation-invariant probabilistic task encoder of PEARL and MBML (PEARL paper §4.1; MBML §4).

Both Thompson-sampling baselines infer the task from an *unordered set* of transitions c = {c_n}:
an MLP maps every transition separately to a Gaussian factor Ψ(z | c_n) = N(μ_n, σ²_n) (mean and a
softplus variance, clamped ≥ 1e-7), and the posterior is their product, itself Gaussian:

    1/σ² = Σ_n 1/σ²_n,        μ = σ² · Σ_n μ_n/σ²_n.

As in both official implementations, the product is of the factors only (the prior N(0, I) is not a
factor); an empty context gives the prior. A mask lets variable-size sets share one padded tensor
(MBML): masked-out transitions contribute nothing. :func:`kl_to_prior` and :func:`kl_diag` are the
closed-form KL divergences PEARL's information bottleneck and MBML's triplet distance use.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from borel_lib.agents import EnsembleMLP, make_generators

MIN_VAR = 1e-7
"""Lower clamp of every factor's variance (the official implementations' value)."""


def product_of_gaussians(mu: torch.Tensor, var: torch.Tensor, mask: torch.Tensor | None = None
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """Combine factors ``mu``, ``var`` ``(..., C, L)`` over the context axis ``C`` into the posterior
    mean and variance ``(..., L)``. ``mask`` ``(..., C)`` (1 keep, 0 drop) removes padded entries; a
    set with no kept entry gives the prior N(0, I)."""
    precision = 1.0 / var.clamp_min(MIN_VAR)
    if mask is not None:
        precision = precision * mask[..., None].to(precision.dtype)
    total = precision.sum(-2)
    empty = total <= 0
    post_var = torch.where(empty, torch.ones_like(total), 1.0 / torch.where(empty, torch.ones_like(total), total))
    post_mu = torch.where(empty, torch.zeros_like(total), post_var * (precision * mu).sum(-2))
    return post_mu, post_var


def kl_to_prior(mu: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, var) ‖ N(0, I)) summed over the last dimension."""
    return 0.5 * (var + mu.pow(2) - 1.0 - var.log()).sum(-1)


def kl_diag(mu_p: torch.Tensor, var_p: torch.Tensor, mu_q: torch.Tensor, var_q: torch.Tensor) -> torch.Tensor:
    """KL(N(mu_p, var_p) ‖ N(mu_q, var_q)) for diagonal Gaussians, summed over the last dimension."""
    return 0.5 * (var_q.log() - var_p.log() + (var_p + (mu_p - mu_q).pow(2)) / var_q - 1.0).sum(-1)


class ContextEncoder(nn.Module):
    """Per-transition MLP → Gaussian factors → product (module docstring). Inputs ``(..., C, in)``."""

    def __init__(self, in_features: int, latent_dim: int, hidden: Sequence[int], seed: int,
                 device: torch.device | str = "cpu"):
        super().__init__()
        self.latent_dim = latent_dim
        self.net = EnsembleMLP(1, in_features, hidden, 2 * latent_dim, last_init=3e-3)
        self.net.reset_parameters(make_generators([seed], torch.device("cpu")))
        self.to(device)

    def factors(self, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-transition means and variances, ``(..., C, L)`` each."""
        lead = context.shape[:-1]
        out = self.net(context.reshape(1, -1, context.shape[-1]))[0].reshape(*lead, 2 * self.latent_dim)
        return out[..., : self.latent_dim], nn.functional.softplus(out[..., self.latent_dim :])

    def forward(self, context: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and variance ``(..., L)`` of the set ``context`` ``(..., C, in)``."""
        if context.shape[-2] == 0:
            shape = (*context.shape[:-2], self.latent_dim)
            return torch.zeros(shape, device=context.device), torch.ones(shape, device=context.device)
        mu, var = self.factors(context)
        return product_of_gaussians(mu, var, mask)


def sample_gaussian(mu: torch.Tensor, var: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A reparameterised draw ``mu + sqrt(var) * ε`` with ε from ``generator``."""
    eps = torch.randn(mu.shape, generator=generator, device=generator.device)
    return mu + var.sqrt() * eps
