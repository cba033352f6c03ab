"""The moment statistics: gram (the paper), mean_std and w2. Each summary is a sum over positions."""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from nstjax.objective.statistics.base import Statistic, Stats, energy, linear_mix, second_moment, sqrtm_psd


# --- gram ----------------------------------------------------------------------------------------------

def _gram_describe(x: jax.Array) -> Stats:
    return {"second": second_moment(x)}


def _gram_distance(x: jax.Array, t: Stats, mask: jax.Array | None = None, key=None) -> jax.Array:
    """mean_ij (S_ij − S^s_ij)², S = G/M: with the paper's ¼ this is 1/(4N²M²) Σ (G − A)², A rescaled to
    the output's M (Gatys et al. 2016, eq. 4). With a mask, G of the masked features over its area."""
    return jnp.mean(jnp.square(second_moment(x, mask) - t["second"]))


# --- mean_std ------------------------------------------------------------------------------------------

def _moments_describe(x: jax.Array) -> Stats:
    return {"mean": jnp.mean(x, axis=0), "second_diag": jnp.mean(jnp.square(x), axis=0)}


def _std(mean: jax.Array, second_diag: jax.Array) -> jax.Array:
    return jnp.sqrt(jnp.maximum(second_diag - jnp.square(mean), 0.0) + 1e-8)


def _mean_std_distance(x: jax.Array, t: Stats, mask=None, key=None) -> jax.Array:
    """e · mean_i [(μ_i − μ^s_i)² + (σ_i − σ^s_i)²]: per-channel mean and standard deviation, the
    batch-norm-statistics kernel of Li et al., "Demystifying Neural Style Transfer" (IJCAI 2017)."""
    mu, sd = jnp.mean(x, axis=0), jnp.std(x, axis=0)
    diff = jnp.mean(jnp.square(mu - t["mean"])) + jnp.mean(jnp.square(sd - _std(t["mean"], t["second_diag"])))
    return energy(t["second_diag"]) * diff


# --- w2 ------------------------------------------------------------------------------------------------

def _w2_describe(x: jax.Array) -> Stats:
    return {"mean": jnp.mean(x, axis=0), "second": second_moment(x)}


def _w2_mix(stats: Sequence[Stats], blend: Sequence[float]) -> Stats:
    """Mixes means and second moments (the mixture's), then fixes Σ_s^½ once for the objective."""
    mixed = linear_mix(stats, blend)
    mean = np.asarray(mixed["mean"], np.float64)
    cov = np.asarray(mixed["second"], np.float64) - np.outer(mean, mean)
    return {**mixed, "cov_sqrt": jnp.asarray(sqrtm_psd(cov), jnp.float32)}


def _w2_distance(x: jax.Array, t: Stats, mask=None, key=None) -> jax.Array:
    """e/N · W₂² between Gaussians fitted to the features:
    ‖μ − μ_s‖² + tr(Σ + Σ_s − 2 (Σ_s^½ Σ Σ_s^½)^½) (Dowson & Landau 1982; the loss of crowsonkb's
    style-transfer-pytorch). The trace of the root is Σ √λ over eigenvalues: their gradient is stable."""
    n = x.shape[1]
    mu = jnp.mean(x, axis=0)
    cov = second_moment(x) - jnp.outer(mu, mu)
    cov_s = t["second"] - jnp.outer(t["mean"], t["mean"])
    inner = t["cov_sqrt"] @ cov @ t["cov_sqrt"]
    eig = jnp.linalg.eigvalsh((inner + inner.T) / 2)
    floor = 1e-6 * jnp.trace(cov_s) / n + 1e-12  # √λ has an infinite slope at 0; clamp tiny eigenvalues
    w2 = jnp.sum(jnp.square(mu - t["mean"])) + jnp.trace(cov) + jnp.trace(cov_s) - 2 * jnp.sum(jnp.sqrt(jnp.maximum(eig, floor)))
    return energy(jnp.diagonal(t["second"])) * jnp.maximum(w2, 0.0) / n


GRAM = Statistic(_gram_describe, linear_mix, _gram_distance)
MEAN_STD = Statistic(_moments_describe, linear_mix, _mean_std_distance, masks=False)
W2 = Statistic(_w2_describe, _w2_mix, _w2_distance, masks=False)
