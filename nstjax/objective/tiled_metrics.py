"""The yardstick (``nstjax.objective.metrics``) tile by tile: a tiled run's score in a window's memory.

Why. ``metrics.score`` runs VGG19 on the whole output, content and style: about 2,400 bytes a pixel, so a
print that fits while it is optimised tile by tile (``tile=N``) could die at its last step, scoring. Here
the same three network metrics are computed from windows (``nstjax.objective.tiled``'s ``plan``: an
interior, a halo that no cut edge spoils, origins on the pooling grid, here the yardstick's max pooling and
its layers), and equal the untiled ones up to float32 summation order:

* ``content_distance`` and ``style_gram`` are sums over positions (Σ (F(x) − F(c))², Σ F(c)², Σ FᵀF per
  layer): each window adds its interior's share, as ``tiled.py``'s objective does.
* ``style_swd`` sorts every direction's projections (features × the fixed directions) of the whole image,
  which does not split: the projections are gathered window by window into host arrays, then sorted and
  compared as ``statistics.sliced_w2`` does. Those arrays are the one image-sized cost (8 bytes a pixel per
  channel of each layer: ~980 bytes a pixel in all), so they are gathered in chunks of directions within
  ``budget`` bytes; a chunk past the first reruns the network only up to its layers (the largest arrays
  belong to the shallowest, cheapest layers, which are chunked first).

``colour`` is pixel-level and cheap; ``metrics.score`` computes it on the whole image.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from nstjax.model import vgg
from nstjax.model.layers import channels
from nstjax.objective import tiled
from nstjax.objective.metrics import CONTENT_LAYER, POOLING, SEED, STYLE_LAYERS
from nstjax.objective.statistics import directions
from nstjax.objective.statistics.base import HIGHEST

LAYERS = (*STYLE_LAYERS, CONTENT_LAYER)
# What the swd projections of the output and the style may hold at once: about a window's own activations,
# so that the yardstick's peak stays the tiles' (1536×1152: 1.7 GB of projections in 4 chunks, 8 passes of
# relu1_1, 4 of relu2_1, 2 of relu3_1, one of the rest).
BUDGET = 512 * 2**20


def yardstick_tile(tile: int) -> int:
    """``tile`` rounded up to the yardstick's pooling grid (16 px up to relu5_1): a run's tile follows its own,
    shallower layers' grid (8 px up to relu4_x), and a window off the yardstick's grid would not be exact."""
    step = tiled.grid(LAYERS)
    return max(step, -(-tile // step) * step)


def chunks(shape: tuple[int, ...], budget: int = BUDGET) -> dict[str, int]:
    """Into how many chunks of directions each style layer's projections are split (a power of two dividing its
    channels), so that one pass's projections of the output and the style fit ``budget`` bytes: the layer with
    the largest share is halved first, the shallowest on a tie (rerunning the network up to it is cheapest)."""
    size = {n: 2 * 4 * channels(n) * tiled.positions(n, shape) for n in STYLE_LAYERS}
    split = dict.fromkeys(STYLE_LAYERS, 1)
    while sum(size[n] / split[n] for n in STYLE_LAYERS) > budget:
        open_ = [n for n in STYLE_LAYERS if split[n] < channels(n)]
        if not open_:
            break
        largest = max(open_, key=lambda n: (size[n] / split[n], -STYLE_LAYERS.index(n)))
        split[largest] *= 2
    return split


@functools.cache
def _directions(n: int) -> np.ndarray:
    """The N_l unit directions ``metrics`` draws for a layer of ``n`` channels (the same key, also jitted)."""
    return np.asarray(jax.jit(directions, static_argnums=1)(jax.random.PRNGKey(SEED), n))


@functools.cache
def _content_program() -> Callable:
    """jit(params, image, where, size) -> the content image's relu4_2 in a window, zero outside its interior."""

    def run(params: dict, image: jax.Array, where: jax.Array, size: tuple[int, int]) -> jax.Array:
        f = vgg.features(params, tiled.crop(image, where, size), (CONTENT_LAYER,), POOLING)[CONTENT_LAYER]
        return f * tiled.interior(f, CONTENT_LAYER, where)

    return jax.jit(run, static_argnames="size")


@functools.cache
def _window_program(layers: tuple[str, ...], moments: bool) -> Callable:
    """jit(params, image, where, dirs, target, size) -> one window's shares: the projections onto ``dirs`` (per
    layer, D×h×w over the whole window: the host keeps the interior), with ``moments`` the interior's Σ FᵀF per
    style layer, and with a content ``target`` (the content's masked relu4_2) Σ (F − P)² and Σ P²."""

    def run(
        params: dict,
        image: jax.Array,
        where: jax.Array,
        dirs: dict[str, jax.Array],
        target: jax.Array | None,
        size: tuple[int, int],
    ) -> dict:
        feats = vgg.features(params, tiled.crop(image, where, size), layers, POOLING)
        out: dict = {
            "projections": {n: jnp.einsum("hwc,cd->dhw", feats[n], d, precision=HIGHEST) for n, d in dirs.items()}
        }
        if moments:
            out["outer"] = {}
            for n in STYLE_LAYERS:
                f = (feats[n] * tiled.interior(feats[n], n, where)).reshape(-1, feats[n].shape[-1])
                out["outer"][n] = jnp.einsum("mi,mj->ij", f, f, precision=HIGHEST)
        if target is not None:
            f = feats[CONTENT_LAYER]
            diff = f * tiled.interior(f, CONTENT_LAYER, where) - target
            out["content"] = (jnp.sum(jnp.square(diff)), jnp.sum(jnp.square(target)))
        return out

    return jax.jit(run, static_argnames="size")


def _span(window: tiled.Window, k: int) -> tuple[slice, slice]:
    """A window's interior at a map 1/2^k the image's: (in the window's map, in the image's). The positions
    ``tiled.interior`` keeps: p with start ≤ p·2^k < stop, within the window's map (every pooling floors)."""
    lo = -(-(window.start - window.origin) >> k)
    hi = min(window.size >> k, -(-(window.stop - window.origin) >> k))
    at = window.origin >> k  # a multiple of the grid: exact
    return slice(lo, hi), slice(at + lo, at + hi)


def _sorted_distance(x: np.ndarray, s: np.ndarray) -> float:
    """Σ over directions of Σ (sorted x_d − sorted s_d)² (D×M float32 each, sorted in place: no copy of them)."""
    x.sort(axis=1)
    s.sort(axis=1)
    total = 0.0
    for a, b in zip(x, s, strict=True):  # a row at a time: one M-sized temporary, not D×M
        d = (a - b).astype(np.float64)
        total += float(np.dot(d, d))
    return total


def scores(
    image: np.ndarray, content: np.ndarray, style: np.ndarray, params: dict, tile: int, budget: int = BUDGET
) -> dict[str, float]:
    """``content_distance``, ``style_gram`` and ``style_swd`` of ``image`` against ``content`` and ``style``
    (all H×W×3, already at its size), as ``metrics.score`` gives them, from windows of ``tile`` px interiors."""
    tile = yardstick_tile(tile)
    shape = tuple(np.shape(image))
    x, c, s = (jnp.asarray(a, jnp.float32) for a in (image, content, style))
    split = chunks(shape, budget)
    outer = {who: {n: np.zeros((channels(n),) * 2) for n in STYLE_LAYERS} for who in ("x", "s")}
    content_sums = np.zeros(2)
    squares = dict.fromkeys(STYLE_LAYERS, 0.0)
    for j in range(max(split.values())):
        first = j == 0
        projected = tuple(n for n in STYLE_LAYERS if split[n] > j)
        # The first pass runs every layer (moments, content and its chunks); a later one only up to its chunks'.
        layers = LAYERS if first else projected
        program = _window_program(layers, first)
        dirs, held = {}, {}
        for n in projected:
            width = channels(n) // split[n]
            dirs[n] = jnp.asarray(_directions(channels(n))[:, j * width : (j + 1) * width])
            k = tiled.level(n)
            held[n] = {who: np.empty((width, shape[0] >> k, shape[1] >> k), np.float32) for who in ("x", "s")}
        for rows, cols in tiled.plan(shape, tile, layers, POOLING):
            where, size = tiled.placement(rows, cols), (rows.size, cols.size)
            target = _content_program()(params, c, where, size=size) if first else None
            for who, img, t in (("x", x, target), ("s", s, None)):
                out = program(params, img, where, dirs, t, size=size)
                for n, p in out["projections"].items():
                    (wr, ir), (wc, ic) = _span(rows, tiled.level(n)), _span(cols, tiled.level(n))
                    held[n][who][:, ir, ic] = np.asarray(p)[:, wr, wc]
                if first:
                    for n, o in out["outer"].items():
                        outer[who][n] += np.asarray(o, np.float64)
                    if t is not None:
                        content_sums += np.asarray(out["content"], np.float64)
                del out
        for n in projected:
            a, b = (held[n][who].reshape(held[n][who].shape[0], -1) for who in ("x", "s"))
            squares[n] += _sorted_distance(a, b)
        del held
    grams, swds = [], []
    for n in STYLE_LAYERS:
        m = tiled.positions(n, shape)
        gx, gs = outer["x"][n] / m, outer["s"][n] / m
        grams.append(float(np.linalg.norm(gx - gs) / np.linalg.norm(gs)))
        swds.append(math.sqrt(squares[n] / (channels(n) * m)))
    return {
        "content_distance": float(math.sqrt(content_sums[0]) / math.sqrt(content_sums[1])),
        "style_gram": float(np.mean(grams)),
        "style_swd": float(np.mean(swds)),
    }
