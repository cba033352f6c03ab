"""The histogram statistic, ``style_loss=hist``: Risser, Wilmot & Barnes, "Stable and Controllable Neural
Texture Synthesis and Style Transfer Using Histogram Losses", arXiv:1701.08893, 2017 (code by a co-author:
pierre-wilmot/NeuralTextureSynthesis, ``main.py``).

    L = L_gram + Σ_{l ∈ {relu1_1, relu4_1}} γ_l ‖O_l − R(O_l)‖²

R the per-channel exact histogram remap of the output's activations O_l onto the style's: the k-th
smallest of M output values takes the style's quantile at level (k + ½)/M (its k-th smallest value when
the counts are equal; interpolated between sorted values when they differ), recomputed at each
evaluation and held constant (no gradient through R). The Gram term is ``gram``'s at every style layer.

Units: the histogram term is e · mean over positions and channels of (O − R(O))², e the style's mean
channel energy (``base.energy``): activation⁴ like the Gram term, with γ_l = 1 in these units, so the
paper's ratio range stays a sensible start and neither term dwarfs the other (measured in
docs/statistics.md).

Departures, each for a reason:

* R is exact sorted matching, not the code's 256-bin histograms (``cpp.matchHistogram``): the same
  remap without the binning error, and a sort costs little next to the network.
* histogram terms at relu1_1 and relu4_1 (the paper); the co-author's code adds them at all five layers
  with hand-set weights (2e9 … 3.5e7 on unnormalised Gram MSE) instead of the paper's gradient clipping.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

from nstjax.objective.statistics.base import Statistic, Stats, energy
from nstjax.objective.statistics.moments import GRAM
from nstjax.objective.statistics.swd import quantiles

LAYERS = ("relu1_1", "relu4_1")  # where the histogram term joins the Gram term (the paper's)


def target_values(sorted_target: jax.Array, count: int) -> jax.Array:
    """The target's quantiles at ``count`` levels (k + ½)/count, per channel (``sorted_target``: N × M_t,
    each channel's sorted values as a row): its sorted values themselves when the counts are equal, else
    linearly interpolated between them. N × count."""
    if sorted_target.shape[1] == count:
        return sorted_target
    grid = (jnp.arange(sorted_target.shape[1]) + 0.5) / sorted_target.shape[1]
    levels = (jnp.arange(count) + 0.5) / count
    return jax.vmap(lambda row: jnp.interp(levels, grid, row))(sorted_target)


def remap(x: jax.Array, sorted_target: jax.Array) -> jax.Array:
    """R(X): each channel (column) of X (M × N) with its values replaced, rank for rank, by the target's
    quantiles (``target_values``); no gradient flows through it."""
    x = jax.lax.stop_gradient(x)
    ranks = jnp.argsort(jnp.argsort(x, axis=0), axis=0)
    return jnp.take_along_axis(target_values(sorted_target, x.shape[0]).T, ranks, axis=0)


def _sorted_rows(x: jax.Array) -> jax.Array:
    # Each channel as a contiguous row: XLA:CPU sorts rows ~1.5× faster than columns (as swd does).
    return jnp.sort(x.T, axis=1)


def _describe(x: jax.Array) -> Stats:
    return {**GRAM.describe(x), "sorted": _sorted_rows(x)}


def _mix(stats: Sequence[Stats], blend: Sequence[float]) -> Stats:
    """Several styles: the mixture's second moments and the mixture's quantiles (each style's values
    weighted by its blend), at as many levels as the styles have positions together."""
    if len(stats) == 1:
        return stats[0]
    total = sum(blend)
    values = jnp.concatenate([s["sorted"] for s in stats], axis=1).T
    counts = [s["sorted"].shape[1] for s in stats]
    weights = jnp.concatenate([jnp.full((m,), w / total / m) for m, w in zip(counts, blend, strict=True)])
    second = sum(w * s["second"] for s, w in zip(stats, blend, strict=True)) / total
    return {"second": second, "sorted": quantiles(values, weights, sum(counts)).T}


def _distance(x: jax.Array, t: Stats, mask: jax.Array | None = None, key: jax.Array | None = None) -> jax.Array:
    """gram's mean (S − S_s)² + e · mean (O − R(O))². ‖O − R(O)‖² is computed as ‖sort(O) − quantiles‖²
    (the same sum, position for position), whose gradient is 2 (O − R(O)): R held constant."""
    hist = jnp.mean(jnp.square(_sorted_rows(x) - target_values(t["sorted"], x.shape[0])))
    return GRAM.distance(x, t) + energy(jnp.diagonal(t["second"])) * hist


GRAM_HIST = Statistic(_describe, _mix, _distance, masks=False)


def _at(layer: str) -> Statistic:
    return GRAM_HIST if layer in LAYERS else GRAM


HIST = Statistic(GRAM.describe, GRAM.mix, GRAM.distance, masks=False, at=_at)
