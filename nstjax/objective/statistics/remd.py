"""STROTSS's relaxed optimal transport (remd): the style layers' hypercolumns compared as point sets.

Kolkin, Salavon & Shakhnarovich, "Style Transfer by Relaxed Optimal Transport and Self-Similarity",
CVPR 2019; the authors' code github.com/nkolkin13/STROTSS (``contextual_loss.py``: ``remd_loss``,
``moment_loss``; ``stylize_objectives.py``: sampling; ``st_helper.py``: the schedule).

A hypercolumn is one image position's features at every style layer, each layer read at that position
(bilinearly, coarse layers upsampled) and concatenated: D = Σ_l N_l channels (1472 for the paper's five
VGG19 layers). ``columns`` makes them: for the output at ``N_OUTPUT`` random positions drawn from the
iteration's key (seeded: runs and resumes reproduce), for the style on a fixed regular grid of at most
``N_STYLE`` positions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp

from nstjax.objective.statistics.base import HIGHEST, Statistic, Stats, energy, linear_mix, second_moment

# The code's 32² output positions (``get_feature_inds``); it reshuffles them every iteration (from a grid
# re-jittered every 10): here a fresh uniform draw every iteration, from the iteration's key.
N_OUTPUT = 1024
# The code draws 5 × 1000 style positions at random once per scale (``load_style_folder``); a fixed regular
# grid of at most 4096 covers the style as evenly, and the same set every iteration keeps the objective steady.
N_STYLE = 4096
# Unitless (cosines) -> the Gram term's units: × SCALE · e² (e the style's mean channel energy, as in
# nstjax.objective.statistics), SCALE so that at the content image (a run's start) the term equals Gram's:
# Gram's/remd's with SCALE 1 was 0.33-0.41 over the paintings benchmark, median 0.39 (scripts/scale_remd_cx.py).
SCALE = 0.4


def grid_positions(shape: tuple[int, int], count: int) -> jax.Array:
    """At most ``count`` positions (K × 2, row and column) on a regular grid over an H×W map, centred."""
    h, w = shape
    stride = max(1, math.ceil(math.sqrt(h * w / count)))
    rows, cols = jnp.arange(stride // 2, h, stride), jnp.arange(stride // 2, w, stride)
    return jnp.stack(jnp.meshgrid(rows, cols, indexing="ij"), -1).reshape(-1, 2).astype(jnp.float32)


def random_positions(key: jax.Array | None, shape: tuple[int, int], count: int) -> jax.Array:
    """``count`` distinct positions of an H×W map drawn uniformly from ``key`` (every position when the
    map has no more; the regular grid when ``key`` is None)."""
    h, w = shape
    if h * w <= count:
        return grid_positions(shape, h * w)
    if key is None:
        return grid_positions(shape, count)
    flat = jax.random.choice(key, h * w, (count,), replace=False)
    return jnp.stack([flat // w, flat % w], -1).astype(jnp.float32)


def bilinear(f: jax.Array, positions: jax.Array, shape: tuple[int, int]) -> jax.Array:
    """An H_l×W_l×C map read at ``positions`` given on a finer H×W grid (pixel centres aligned), K × C."""
    (h, w), (hl, wl) = shape, f.shape[:2]
    if (hl, wl) == (h, w):  # the grid's own layer: positions fall on its pixels (one gather, not four)
        return f[positions[:, 0].astype(jnp.int32), positions[:, 1].astype(jnp.int32)]
    y = jnp.clip((positions[:, 0] + 0.5) * hl / h - 0.5, 0.0, hl - 1.0)
    x = jnp.clip((positions[:, 1] + 0.5) * wl / w - 0.5, 0.0, wl - 1.0)
    y0, x0 = jnp.floor(y).astype(jnp.int32), jnp.floor(x).astype(jnp.int32)
    y1, x1 = jnp.minimum(y0 + 1, hl - 1), jnp.minimum(x0 + 1, wl - 1)
    dy, dx = (y - y0)[:, None], (x - x0)[:, None]
    top = f[y0, x0] * (1 - dx) + f[y0, x1] * dx
    bottom = f[y1, x0] * (1 - dx) + f[y1, x1] * dx
    return top * (1 - dy) + bottom * dy


def hypercolumns(maps: Mapping[str, jax.Array], positions: jax.Array, shape: tuple[int, int]) -> jax.Array:
    """The layers' features at ``positions`` of the H×W grid ``shape``, concatenated: K × Σ_l N_l."""
    return jnp.concatenate([bilinear(f, positions, shape) for f in maps.values()], axis=1)


def finest(maps: Mapping[str, jax.Array]) -> tuple[int, int]:
    """The largest H×W among the maps: the grid hypercolumns are sampled on."""
    return max((f.shape[0], f.shape[1]) for f in maps.values())


def columns(maps: Mapping[str, jax.Array], key: jax.Array | None = None) -> jax.Array:
    """The style layers' hypercolumns (``Statistic.joint``): at ``N_OUTPUT`` positions drawn from ``key``
    (the output, each iteration), or on the regular grid of at most ``N_STYLE`` when ``key`` is None (the style)."""
    shape = finest(maps)
    positions = grid_positions(shape, N_STYLE) if key is None else random_positions(key, shape, N_OUTPUT)
    return hypercolumns(maps, positions, shape)


def unit_rows(x: jax.Array) -> jax.Array:
    """Each row divided by its norm (a zero row stays zero)."""
    return x * jax.lax.rsqrt(jnp.sum(jnp.square(x), axis=1, keepdims=True) + 1e-30)


def cosine_cost(x: jax.Array, y: jax.Array) -> jax.Array:
    """C_ij = 1 − cos(X_i, Y_j), K × L."""
    return 1.0 - jnp.dot(unit_rows(x), unit_rows(y).T, precision=HIGHEST)


def relaxed_emd(cost: jax.Array, weights: jax.Array | None = None) -> jax.Array:
    """ℓ_r = max(Σ_i a_i min_j C_ij, Σ_j b_j min_i C_ij), a uniform, b ``weights`` (uniform if None): each
    one-sided relaxation keeps one marginal constraint of the transport problem, so each is a lower bound
    of the EMD and so is their max (Kolkin et al. 2019; ``remd_loss``)."""
    b = jnp.full((cost.shape[1],), 1.0 / cost.shape[1]) if weights is None else weights
    return jnp.maximum(jnp.mean(jnp.min(cost, axis=1)), jnp.sum(b * jnp.min(cost, axis=0)))


def _describe(y: jax.Array) -> Stats:
    return {"columns": y, "mean": jnp.mean(y, axis=0), "second": second_moment(y)}


def _mix(stats: Sequence[Stats], blend: Sequence[float]) -> Stats:
    """The union of the styles' hypercolumns, each weighted by its style's blend; the mixture's moments."""
    if len(stats) == 1:
        return stats[0]
    total = sum(blend)
    counts = [s["columns"].shape[0] for s in stats]
    weights = [jnp.full((m,), w / total / m) for m, w in zip(counts, blend, strict=True)]
    moments = linear_mix([{"mean": s["mean"], "second": s["second"]} for s in stats], [w / total for w in blend])
    return {"columns": jnp.concatenate([s["columns"] for s in stats]), "weights": jnp.concatenate(weights), **moments}


def moment_term(x: jax.Array, t: Stats) -> jax.Array:
    """ℓ_m = mean_d |μ_d − μ^s_d| / √e + mean_dd' |Σ_dd' − Σ^s_dd'| / e (Kolkin et al. 2019;
    ``moment_loss``), divided by the style's energy e so that it is unitless like ℓ_r."""
    # Departure: the code adds raw activations, whose size depends on the network's input scaling (its
    # VGG16 reads [-0.5, 0.5]; nstjax's VGG19 reads 0..255 or the normalised weights); e makes it scale-free.
    e = energy(jnp.diagonal(t["second"]))
    mu = jnp.mean(x, axis=0)
    cov = second_moment(x) - jnp.outer(mu, mu)
    cov_s = t["second"] - jnp.outer(t["mean"], t["mean"])
    return jnp.mean(jnp.abs(mu - t["mean"])) / jnp.sqrt(e) + jnp.mean(jnp.abs(cov - cov_s)) / e


def _distance(x: jax.Array, t: Stats, mask: jax.Array | None = None, key: jax.Array | None = None) -> jax.Array:
    """SCALE · e² · (ℓ_r + ℓ_m): the relaxed EMD with cosine cost between the output's hypercolumns X and
    the style's, plus the moment term (Kolkin et al., CVPR 2019; weights 1 and 1, the code's ``moment_weight=1``).
    Zero when the two sets are equal; unchanged by the order of positions."""
    e = energy(jnp.diagonal(t["second"]))
    ell = relaxed_emd(cosine_cost(x, t["columns"]), t.get("weights")) + moment_term(x, t)
    return SCALE * jnp.square(e) * ell


REMD = Statistic(_describe, _mix, _distance, masks=False, stochastic=True, joint=columns)
