"""The sliced Wasserstein statistic (swd): every marginal along random directions."""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

from nstjax.objective.statistics.base import HIGHEST, Statistic, Stats, energy

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
    weights = [s.get("weights", _uniform(s["features"])) * (w / total) for s, w in zip(stats, blend, strict=True)]
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


def _swd_distance(x: jax.Array, t: Stats, mask: jax.Array | None = None, key: jax.Array | None = None) -> jax.Array:
    """e · SW₂²(X, X_s) with N fresh random directions per iteration (Heitz et al., "A Sliced Wasserstein
    Loss for Neural Texture Synthesis", CVPR 2021): matches every marginal along them, not two moments."""
    y, w = t["features"], t.get("weights")
    e = energy(jnp.sum((_uniform(y) if w is None else w)[:, None] * jnp.square(y), axis=0))
    return e * sliced_w2(x, y, w, directions(key, x.shape[1]))  # type: ignore[arg-type]  # stochastic: always keyed


SWD = Statistic(_swd_describe, _swd_mix, _swd_distance, masks=False, stochastic=True)
