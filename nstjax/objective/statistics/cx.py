"""The contextual loss (cx): each style feature's best contextual match among the output's features.

Mechrez, Talmi & Zelnik-Manor, "The Contextual Loss for Image Transformation with Non-Aligned Data",
ECCV 2018; the authors' code github.com/roimehrez/contextualLoss (``CX/CSFlow.py``: ``create_using_dotP``,
``calc_relative_distances``, ``CX_loss``; ``CX_helper.py``: ``random_pooling``; ``config.py``: the defaults).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

from nstjax.objective.statistics.base import HIGHEST, Statistic, Stats, energy
from nstjax.objective.statistics.remd import unit_rows

H = 0.5  # the bandwidth h (the code's ``nn_stretch_sigma``)
EPSILON = 1e-5  # in d̃ = d / (min d + ε)
MAX_POSITIONS = 65**2  # a layer with more positions is sampled (``max_sampling_1d_size = 65``)
# Unitless (−log of a similarity) -> the Gram term's units: × SCALE · e² (e the style's mean channel energy),
# SCALE so that at the content image the term equals Gram's (at their own default layers): Gram's/cx's with
# SCALE 1 was 0.018-0.031 over the paintings benchmark, median 0.026 (scripts/scale_remd_cx.py).
SCALE = 0.025


def _describe(y: jax.Array) -> Stats:
    # μ_y over all the style's positions (the code centres on its sampled ones: the same below 65²).
    return {"features": y, "mean": jnp.mean(y, axis=0), "second_diag": jnp.mean(jnp.square(y), axis=0)}


def _mix(stats: Sequence[Stats], blend: Sequence[float]) -> Stats:
    """The union of the styles' features, each weighted by its style's blend (``weights`` sum to 1)."""
    if len(stats) == 1:
        return stats[0]
    total = sum(blend)
    shares = [w / total for w in blend]
    counts = [s["features"].shape[0] for s in stats]
    weights = [jnp.full((m,), p / m) for m, p in zip(counts, shares, strict=True)]
    return {
        "features": jnp.concatenate([s["features"] for s in stats]),
        "weights": jnp.concatenate(weights),
        "mean": sum(p * s["mean"] for s, p in zip(stats, shares, strict=True)),
        "second_diag": sum(p * s["second_diag"] for s, p in zip(stats, shares, strict=True)),
    }


def _sample(
    key: jax.Array | None, x: jax.Array, weights: jax.Array | None = None
) -> tuple[jax.Array, jax.Array | None]:
    """At most ``MAX_POSITIONS`` rows of ``x``, drawn from ``key``: without replacement, or in proportion
    to ``weights`` (a mixture of styles); the rows and their weights (None: uniform)."""
    if x.shape[0] <= MAX_POSITIONS:
        return x, weights
    if key is None:  # no random numbers (a direct call): an even stride through the rows
        rows = jnp.linspace(0, x.shape[0] - 1, MAX_POSITIONS).astype(jnp.int32)
        return x[rows], None if weights is None else weights[rows] / jnp.sum(weights[rows])
    rows = jax.random.choice(key, x.shape[0], (MAX_POSITIONS,), replace=weights is not None, p=weights)
    return x[rows], None


def contextual_similarity(x: jax.Array, y: jax.Array, mean: jax.Array, weights: jax.Array | None = None) -> jax.Array:
    """CX(X, Y) = Σ_j b_j max_i CX_ij (b uniform, or ``weights``), with d_ij = 1 − cos(x_i − μ_y, y_j − μ_y),
    d̃_ij = d_ij / (min_k d_ik + ε), w_ij = exp((1 − d̃_ij)/h), CX_ij = w_ij / Σ_k w_ik (Mechrez et al.
    2018; rows i are output features, the max runs over them for each style feature j).
    With ``weights`` the normalisation counts each style feature m·b_k times (a blend of styles)."""
    # The code's distance is (1 − cos)/2; the paper's 1 − cos is used: the same d̃ but for ε's share.
    d = jnp.maximum(1.0 - jnp.dot(unit_rows(x - mean), unit_rows(y - mean).T, precision=HIGHEST), 0.0)
    relative = d / (jnp.min(d, axis=1, keepdims=True) + EPSILON)
    w = jnp.exp((1.0 - relative) / H)
    m = y.shape[0]
    b = jnp.full((m,), 1.0 / m) if weights is None else weights
    cx = w / jnp.sum(w * (m * b), axis=1, keepdims=True)
    return jnp.sum(b * jnp.max(cx, axis=0))


def _distance(x: jax.Array, t: Stats, mask: jax.Array | None = None, key: jax.Array | None = None) -> jax.Array:
    """SCALE · e² · (−log CX(X, Y)) at one layer (Mechrez et al. 2018): 0 when the output's features
    are the style's, whatever their order. Layers with more than 65² positions: 65² sampled from ``key`` for
    the output and for the style, each iteration."""
    # Departure: the code samples the same indices in both (its images have one size); here the output and
    # the style are sampled independently, since ``style_scale`` gives them different sizes.
    kx, ky = (None, None) if key is None else jax.random.split(key)
    xs, _ = _sample(kx, x)
    ys, weights = _sample(ky, t["features"], t.get("weights"))
    loss = -jnp.log(contextual_similarity(xs, ys, t["mean"], weights))
    return SCALE * jnp.square(energy(t["second_diag"])) * loss


# The paper's layers conv3_2 and conv4_2 (the code's ``feat_layers``), read after their ReLU as its VGG does.
CX = Statistic(_describe, _mix, _distance, masks=False, stochastic=True, layers=("relu3_2", "relu4_2"))
