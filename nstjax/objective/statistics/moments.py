"""The moment statistics: gram (the paper), mean_std and w2. Each summary is a sum over positions."""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from nstjax.objective.statistics.base import Statistic, Stats, energy, linear_mix, second_moment, sqrtm_psd

# --- gram ----------------------------------------------------------------------------------------------


def _gram_describe(x: jax.Array) -> Stats:
    return {"second": second_moment(x)}


def _gram_distance(x: jax.Array, t: Stats, mask: jax.Array | None = None, key: jax.Array | None = None) -> jax.Array:
    """mean_ij (S_ij − S^s_ij)², S = G/M: with the paper's ¼ this is 1/(4N²M²) Σ (G − A)², A rescaled to
    the output's M (Gatys et al. 2016, eq. 4). With a mask, G of the masked features over its area."""
    return jnp.mean(jnp.square(second_moment(x, mask) - t["second"]))


def _gram_compare(s: Stats, t: Stats) -> jax.Array:
    """_gram_distance from the output's summary (``tile=N`` sums it over tiles)."""
    return jnp.mean(jnp.square(s["second"] - t["second"]))


# --- mean_std ------------------------------------------------------------------------------------------


def _moments_describe(x: jax.Array) -> Stats:
    return {"mean": jnp.mean(x, axis=0), "second_diag": jnp.mean(jnp.square(x), axis=0)}


def _std(mean: jax.Array, second_diag: jax.Array) -> jax.Array:
    return jnp.sqrt(jnp.maximum(second_diag - jnp.square(mean), 0.0) + 1e-8)


def _mean_std_distance(
    x: jax.Array, t: Stats, mask: jax.Array | None = None, key: jax.Array | None = None
) -> jax.Array:
    """e · mean_i [(μ_i − μ^s_i)² + (σ_i − σ^s_i)²]: per-channel mean and standard deviation, the
    batch-norm-statistics kernel of Li et al., "Demystifying Neural Style Transfer" (IJCAI 2017)."""
    mu, sd = jnp.mean(x, axis=0), jnp.std(x, axis=0)
    diff = jnp.mean(jnp.square(mu - t["mean"])) + jnp.mean(jnp.square(sd - _std(t["mean"], t["second_diag"])))
    return energy(t["second_diag"]) * diff


def _mean_std_compare(s: Stats, t: Stats) -> jax.Array:
    """_mean_std_distance from the output's mean and E[x²] (``tile=N``): σ as the style's, with its 1e-8."""
    diff = jnp.mean(jnp.square(s["mean"] - t["mean"])) + jnp.mean(
        jnp.square(_std(s["mean"], s["second_diag"]) - _std(t["mean"], t["second_diag"]))
    )
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


def _w2_distance(x: jax.Array, t: Stats, mask: jax.Array | None = None, key: jax.Array | None = None) -> jax.Array:
    """e/N · W₂² between Gaussians fitted to the features:
    ‖μ − μ_s‖² + tr(Σ + Σ_s − 2 (Σ_s^½ Σ Σ_s^½)^½) (Dowson & Landau 1982; the loss of crowsonkb's
    style-transfer-pytorch). The trace of the root is Σ √λ over eigenvalues: their gradient is stable."""
    return _w2_compare(_w2_describe(x), t)


def _w2_compare(s: Stats, t: Stats) -> jax.Array:
    """_w2_distance from the output's mean and second moment (``tile=N`` sums them over tiles)."""
    n = s["mean"].shape[0]
    mu = s["mean"]
    cov = s["second"] - jnp.outer(mu, mu)
    cov_s = t["second"] - jnp.outer(t["mean"], t["mean"])
    inner = t["cov_sqrt"] @ cov @ t["cov_sqrt"]
    eig = jnp.linalg.eigvalsh((inner + inner.T) / 2)
    floor = 1e-6 * jnp.trace(cov_s) / n + 1e-12  # √λ has an infinite slope at 0; clamp tiny eigenvalues
    w2 = (
        jnp.sum(jnp.square(mu - t["mean"]))
        + jnp.trace(cov)
        + jnp.trace(cov_s)
        - 2 * jnp.sum(jnp.sqrt(jnp.maximum(eig, floor)))
    )
    return energy(jnp.diagonal(t["second"])) * jnp.maximum(w2, 0.0) / n


GRAM = Statistic(
    _gram_describe,
    linear_mix,
    _gram_distance,
    from_moments=lambda mean, second: {"second": second},
    compare=_gram_compare,
)
MEAN_STD = Statistic(
    _moments_describe,
    linear_mix,
    _mean_std_distance,
    masks=False,
    from_moments=lambda mean, second: {"mean": mean, "second_diag": jnp.diagonal(second)},
    compare=_mean_std_compare,
)
W2 = Statistic(
    _w2_describe,
    _w2_mix,
    _w2_distance,
    masks=False,
    # On XLA:CPU (jax 0.10.2) the batched program with eigh at two or more layers never returns from its first
    # evaluation (each layer alone, and the unbatched program, run in seconds; cause not found): one by one.
    batches=False,
    from_moments=lambda mean, second: {"mean": mean, "second": second},
    compare=_w2_compare,
)
