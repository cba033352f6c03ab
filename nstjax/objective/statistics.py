"""Style statistics, as a family: ``style_loss=gram|mean_std|w2|swd``.

Each compares the output's features X (M positions × N channels, at one layer) with the style's through
one statistic and returns a *mean squared difference* of it; the convention (``nstjax.objective.conventions``)
then scales it (¼ in the paper). ``describe`` summarises a style image's features once, outside the
jit boundary; ``mix`` blends several styles' summaries (``style_blend``); ``distance`` runs inside the
compiled objective.

Units: the Gram term is a squared second moment (activation⁴). The other statistics are squared first
or second-order quantities in activation², so they are multiplied by the style's mean channel energy
e = mean_i E[x_i²] (activation²): the same units, so that the paper's ratio range stays a sensible
starting point under every statistic and both weight sets (ImageNet, normalised).
"""

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


def _linear_mix(stats: Sequence[Stats], blend: Sequence[float]) -> Stats:
    """Blends summaries that are expectations (means, second moments): the statistics of the mixture."""
    return jax.tree.map(lambda *xs: sum(w * x for w, x in zip(blend, xs)), *stats)


def _energy(second_diag: jax.Array) -> jax.Array:
    return jnp.mean(second_diag)


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
    return _energy(t["second_diag"]) * diff


# --- w2 ------------------------------------------------------------------------------------------------

def _w2_describe(x: jax.Array) -> Stats:
    return {"mean": jnp.mean(x, axis=0), "second": second_moment(x)}


def sqrtm_psd(m: np.ndarray) -> np.ndarray:
    """The symmetric square root of a positive semi-definite matrix (eigenvalues clamped at 0), host-side."""
    vals, vecs = np.linalg.eigh((m + m.T) / 2)
    return (vecs * np.sqrt(np.maximum(vals, 0.0))) @ vecs.T


def _w2_mix(stats: Sequence[Stats], blend: Sequence[float]) -> Stats:
    """Mixes means and second moments (the mixture's), then fixes Σ_s^½ once for the objective."""
    mixed = _linear_mix(stats, blend)
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
    return _energy(jnp.diagonal(t["second"])) * jnp.maximum(w2, 0.0) / n


# --- swd -----------------------------------------------------------------------------------------------

def _swd_describe(x: jax.Array) -> Stats:
    return {"features": x}  # positions equally weighted; a mixture of styles adds "weights"


def _uniform(x: jax.Array) -> jax.Array:
    return jnp.full((x.shape[0],), 1.0 / x.shape[0], x.dtype)


def _swd_mix(stats: Sequence[Stats], blend: Sequence[float]) -> Stats:
    """The mixture of the styles' feature sets: all positions, each weighted by its style's blend."""
    if len(stats) == 1:
        return stats[0]
    total = sum(blend)
    weights = [s.get("weights", _uniform(s["features"])) * (w / total) for s, w in zip(stats, blend)]
    return {"features": jnp.concatenate([s["features"] for s in stats]), "weights": jnp.concatenate(weights)}


def directions(key: jax.Array, n: int) -> jax.Array:
    """N random unit vectors (columns of an N×N matrix), from ``key``."""
    d = jax.random.normal(key, (n, n))
    return d / jnp.linalg.norm(d, axis=0, keepdims=True)


def quantiles(values: jax.Array, weights: jax.Array, count: int) -> jax.Array:
    """The weighted distribution of ``values`` (K×D, per column) at ``count`` evenly spaced quantile
    levels (j + ½)/count: the sorted projections, quantile-matched when the position counts differ."""
    order = jnp.argsort(values, axis=0)
    v = jnp.take_along_axis(values, order, axis=0)
    w = weights[order]
    cdf = jnp.cumsum(w, axis=0) - 0.5 * w
    levels = (jnp.arange(count) + 0.5) / count
    return jax.vmap(lambda c, col: jnp.interp(levels, c, col), in_axes=1, out_axes=1)(cdf, v)


def sliced_w2(x: jax.Array, y: jax.Array, y_weights: jax.Array | None, dirs: jax.Array) -> jax.Array:
    """mean over directions and quantiles of (sorted Xd − quantiles of Yd)²: the sliced Wasserstein-2
    distance squared between the two feature sets (Heitz et al., CVPR 2021). ``y_weights`` None: equal."""
    # Directions × positions: each direction's values in one contiguous row (XLA:CPU sorts rows ~1.5×
    # faster than columns).
    px = jnp.sort(jnp.dot(dirs.T, x.T, precision=HIGHEST), axis=1)
    if y_weights is None and y.shape[0] == x.shape[0]:
        # Equal counts and weights: the quantiles are the sorted values; one sort instead of an argsort,
        # two gathers and an interpolation.
        py = jnp.sort(jnp.dot(dirs.T, y.T, precision=HIGHEST), axis=1)
    else:
        weights = _uniform(y) if y_weights is None else y_weights
        py = quantiles(jnp.dot(y, dirs, precision=HIGHEST), weights, x.shape[0]).T
    return jnp.mean(jnp.square(px - py))


def _swd_distance(x: jax.Array, t: Stats, mask=None, key=None) -> jax.Array:
    """e · SW₂²(X, X_s) with N fresh random directions per iteration (Heitz et al., "A Sliced Wasserstein
    Loss for Neural Texture Synthesis", CVPR 2021): matches every marginal along them, not two moments."""
    y, w = t["features"], t.get("weights")
    energy = _energy(jnp.sum((_uniform(y) if w is None else w)[:, None] * jnp.square(y), axis=0))
    return energy * sliced_w2(x, y, w, directions(key, x.shape[1]))


STYLE_LOSSES: dict[str, Statistic] = {
    "gram": Statistic(_gram_describe, _linear_mix, _gram_distance),
    "mean_std": Statistic(_moments_describe, _linear_mix, _mean_std_distance, masks=False),
    "w2": Statistic(_w2_describe, _w2_mix, _w2_distance, masks=False),
    "swd": Statistic(_swd_describe, _swd_mix, _swd_distance, masks=False, stochastic=True),
}
