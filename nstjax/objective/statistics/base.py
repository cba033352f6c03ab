"""What every style statistic shares: the registry entry's shape, second moments, blending, units."""

from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

Stats = dict  # a pytree of arrays summarising one style image's features at one layer

HIGHEST = jax.lax.Precision.HIGHEST


class Statistic(NamedTuple):
    describe: Callable[[jax.Array], Stats]  # style features (M × N) -> summary
    mix: Callable[[Sequence[Stats], Sequence[float]], Stats]  # several styles' summaries, blend weights
    distance: Callable[..., jax.Array]  # (X, stats, mask (M,) | None, key) -> mean squared difference
    masks: bool = True  # supports ``style_masks``
    stochastic: bool = False  # needs fresh random numbers each iteration (``key``)


def second_moment(x: jax.Array, weight: jax.Array | None = None) -> jax.Array:
    """S = Xᵀ X / M (N×N): the Gram matrix G = F Fᵀ divided by the positions (or a mask's area)."""
    if weight is not None:
        x = x * weight[:, None]
        return jnp.einsum("mi,mj->ij", x, x, precision=HIGHEST) / jnp.maximum(jnp.sum(weight), 1.0)
    return jnp.einsum("mi,mj->ij", x, x, precision=HIGHEST) / x.shape[0]


def linear_mix(stats: Sequence[Stats], blend: Sequence[float]) -> Stats:
    """Blends summaries that are expectations (means, second moments): the statistics of the mixture."""
    return jax.tree.map(lambda *xs: sum(w * x for w, x in zip(blend, xs)), *stats)


def energy(second_diag: jax.Array) -> jax.Array:
    """e = mean_i E[x_i²]: the style's mean channel energy, the unit that puts first and second-order
    statistics in the Gram term's units (activation⁴)."""
    return jnp.mean(second_diag)


def sqrtm_psd(m: np.ndarray) -> np.ndarray:
    """The symmetric square root of a positive semi-definite matrix (eigenvalues clamped at 0), host-side."""
    vals, vecs = np.linalg.eigh((m + m.T) / 2)
    return (vecs * np.sqrt(np.maximum(vals, 0.0))) @ vecs.T
