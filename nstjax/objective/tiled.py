"""``tile=N``: the objective evaluated tile by tile, with the loss and gradient of the whole image.

Why it is exact. The moment statistics (gram, mean_std, w2) compare each style layer's first and second
moments, Σ x / M and Σ x xᵀ / M: sums over positions. The content term is a sum over positions too. So

1. a first pass runs VGG19 on each tile's window (its interior and a halo) and sums those moments, and the
   content term, over the interior's positions only: S = Σ_tiles s_t;
2. the loss is a small function L(S) of the sums, and ∂L/∂S a few N×N matrices;
3. a second pass runs each window again and adds the vjp of its s_t with the cotangent ∂L/∂S into the
   image's gradient, halo included (an interior feature's gradient reaches every pixel of its receptive
   field, which the halo holds): Σ_t (∂s_t/∂x)ᵀ ∂L/∂S = ∂L/∂x.

An interior feature is the whole image's feature when no window edge that cuts the image (zero padding
where the image goes on) reaches it: ``halo`` walks the network and counts how far that spoiled band
grows (each 3×3 convolution adds a row, each pooling halves it, as measured on the pooling itself).
Windows start on the pooling grid (``grid``), so every pooling sees the 2×2 cells it sees in the whole
image. The total variation term is pixel-level and cheap: it is evaluated on the whole image.

Cost: one forward pass more than the untiled objective, plus the halos' area. Memory: one window's
activations and gradients, plus image-sized arrays (``nstjax.run.resources``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import replace
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from nstjax.model import vgg
from nstjax.model.layers import ORDER, channels, deepest
from nstjax.model.pooling import POOLING
from nstjax.objective import compiled, losses
from nstjax.objective.conventions import CONVENTIONS
from nstjax.objective.statistics import STYLE_LOSSES
from nstjax.objective.statistics.base import HIGHEST, at_layer

Sums = dict  # {"style": {layer: {"sum": (N,), "outer": (N, N)}}, "content": scalar}: one window's share


def level(layer: str) -> int:
    """How many 2×2 poolings the network has run when it reaches ``layer`` (its map is 1/2^level the image)."""
    return sum(1 for name in ORDER[: ORDER.index(layer) + 1] if name.startswith("pool"))


def grid(layers: tuple[str, ...]) -> int:
    """The pooling grid up to the deepest of ``layers``: windows and tiles start on multiples of it."""
    return 1 << level(deepest(layers))


@functools.cache
def _pooled_band(pooling: str, band: int) -> int:
    """Rows of a pooling's output spoiled at a window's cut edge when ``band`` rows of its input are:
    measured by pooling a random column whole and cut, the cut's edge rows replaced by large values
    (so that max-like poolings pick them), and counting the rows that differ from either end."""
    rng = np.random.default_rng(0)
    full = rng.uniform(0.0, 1.0, (1, 64, 2, 1)).astype(np.float32)  # N H W C: pooled to one column
    cut = full[:, 16:48].copy()
    if band:
        cut[:, :band] = cut[:, -band:] = 1e3 + rng.uniform(0.0, 1.0, (1, band, 2, 1))
    pool = POOLING[pooling]
    differs = np.asarray(pool(jnp.asarray(cut)) != pool(jnp.asarray(full))[:, 8:24])[0, :, 0, 0]
    top = int(np.argmin(differs)) if not differs.all() else differs.size
    bottom = int(np.argmin(differs[::-1])) if not differs.all() else differs.size
    return max(top, bottom)


def halo(layers: tuple[str, ...], pooling: str) -> int:
    """Pixels around a tile whose features ``layers`` need: the band, at the deepest layer, that a window's
    cut edge spoils, in image pixels (a multiple of ``grid``). paper's layers (relu5_1): 80 px, where the
    receptive field's half-width is 78 px; the band counts whole 16 px cells."""
    band, cell = 0, 0
    for name in ORDER[: ORDER.index(deepest(layers)) + 1]:
        if name.startswith("conv"):
            band += 1  # a 3×3 convolution, zero-padded by one
        elif name.startswith("pool"):
            band, cell = _pooled_band(pooling, band), cell + 1
    return band << cell


class Window(NamedTuple):
    """One tile along one axis: the window [origin, origin + size) that the network sees, and the interior
    [start, stop) whose features it contributes."""

    origin: int
    size: int
    start: int
    stop: int


def windows(length: int, tile: int, margin: int, step: int) -> tuple[Window, ...]:
    """The tiles along an axis of ``length`` pixels: interiors of ``tile`` pixels, each seen through a window
    reaching ``margin`` beyond it (or to the image's edge), whose origin is a multiple of ``step``. Windows
    near an edge shift inwards rather than shrink, so that (almost) all have one size: one compilation. Tiles that
    would share a window (an image not much larger than the window) are one tile."""
    span = min(length, tile + 2 * margin)
    out: list[Window] = []
    for start in range(0, length, tile):
        stop = min(start + tile, length)
        origin = max(0, min(start - margin, (length - span) // step * step))
        end = min(length, max(origin + span, stop + margin))
        if out and out[-1].origin == origin and out[-1].size == end - origin:  # one window, two tiles: one pass
            out[-1] = out[-1]._replace(stop=stop)
        else:
            out.append(Window(origin, end - origin, start, stop))
    return tuple(out)


def plan(shape: tuple[int, ...], tile: int, layers: tuple[str, ...], pooling: str) -> list[tuple[Window, Window]]:
    """Every tile of an H×W(×3) image, row windows by column windows."""
    margin, step = halo(layers, pooling), grid(layers)
    return [(r, c) for r in windows(shape[0], tile, margin, step) for c in windows(shape[1], tile, margin, step)]


def window_shape(shape: tuple[int, ...], tile: int, layers: tuple[str, ...], pooling: str) -> tuple[int, int, int]:
    """The largest window the network sees (what its memory and its Winograd plan follow)."""
    tiles = plan(shape, tile, layers, pooling)
    return max(r.size for r, _ in tiles), max(c.size for _, c in tiles), 3


def placement(rows: Window, cols: Window) -> jax.Array:
    """A window's origin and interior (in window coordinates) as data: one compiled program per window size."""
    return jnp.asarray(
        [
            rows.origin,
            cols.origin,
            rows.start - rows.origin,
            rows.stop - rows.origin,
            cols.start - cols.origin,
            cols.stop - cols.origin,
        ],
        jnp.int32,
    )


def _origin(where: jax.Array, k: int = 0) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The window's corner in a map 1/2^k the image's (the channel index typed as the others, also under x64)."""
    return where[0] >> k, where[1] >> k, jnp.zeros_like(where[0])


def crop(image: jax.Array, where: jax.Array, size: tuple[int, int]) -> jax.Array:
    """The window of ``size`` pixels at ``where``'s origin (a static shape: one program per window size)."""
    return jax.lax.dynamic_slice(image, _origin(where), (*size, image.shape[-1]))


def interior(feature: jax.Array, layer: str, where: jax.Array) -> jax.Array:
    """1 at a feature map's positions inside the window's interior, else 0 (H_l×W_l×1)."""
    k = level(layer)
    rows = jnp.arange(feature.shape[0]) << k
    cols = jnp.arange(feature.shape[1]) << k
    inside_rows = (rows >= where[2]) & (rows < where[3])
    inside_cols = (cols >= where[4]) & (cols < where[5])
    return (inside_rows[:, None] & inside_cols[None, :]).astype(feature.dtype)[..., None]


def _moment_sums(features: dict[str, jax.Array], layers: tuple[str, ...], where: jax.Array) -> dict:
    """Σ x and Σ x xᵀ over the interior's positions, per layer."""
    out = {}
    for name in layers:
        x = (features[name] * interior(features[name], name, where)).reshape(-1, features[name].shape[-1])
        out[name] = {"sum": jnp.sum(x, axis=0), "outer": jnp.einsum("mi,mj->ij", x, x, precision=HIGHEST)}
    return out


def _window_sums(
    spec: compiled.Spec, params: dict, content: dict[str, jax.Array], window: jax.Array, where: jax.Array
) -> Sums:
    """One window's share of the style moments and of the content term."""
    transformed = frozenset(n for n in compiled.winograd_layers(spec, window.shape) if "winograd" in params[n])
    feats = vgg.features(params, window, spec.layers, spec.pooling, transformed)
    convention = CONVENTIONS[spec.convention]
    total = jnp.float32(0.0)
    for name, p in content.items():
        f = feats[name]
        k = level(name)
        p = jax.lax.dynamic_slice(p, _origin(where, k), f.shape)
        mask = interior(f, name, where)
        term = convention.content(f * mask, p * mask)
        # A convention whose content term is a mean (reference) divides by the window's size: make it the image's.
        total = total + (term if convention.content_sums_positions else term * (f.size / content[name].size))
    return {"style": _moment_sums(feats, spec.style_layers, where), "content": total}


def positions(layer: str, shape: tuple[int, ...]) -> int:
    """M_l of an H×W image at ``layer`` (every pooling floors)."""
    k = level(layer)
    return (shape[0] >> k) * (shape[1] >> k)


@functools.cache
def _passes(spec: compiled.Spec) -> tuple[Callable, Callable]:
    """The two jitted per-window programs: the window's sums, and the window's gradient added into the image's."""

    def sums(
        params: dict, content: dict[str, jax.Array], image: jax.Array, where: jax.Array, size: tuple[int, int]
    ) -> Sums:
        return _window_sums(spec, params, content, crop(image, where, size), where)

    def add_gradient(
        grad: jax.Array,
        params: dict,
        content: dict[str, jax.Array],
        image: jax.Array,
        where: jax.Array,
        cotangent: Sums,
        size: tuple[int, int],
    ) -> jax.Array:
        window = crop(image, where, size)
        _, vjp = jax.vjp(lambda w: _window_sums(spec, params, content, w, where), window)
        (g,) = vjp(cotangent)
        origin = _origin(where)
        return jax.lax.dynamic_update_slice(grad, jax.lax.dynamic_slice(grad, origin, g.shape) + g, origin)

    return (jax.jit(sums, static_argnames="size"), jax.jit(add_gradient, static_argnames="size", donate_argnums=0))


@functools.cache
def _objective(spec: compiled.Spec, shape: tuple[int, ...]) -> Callable:
    """jit((sums, targets, weights) -> ((α·content + β·style, terms), ∂/∂sums)): L(S) and its cotangent."""
    stat, convention = STYLE_LOSSES[spec.style_loss], CONVENTIONS[spec.convention]
    pixels = shape[0] * shape[1]

    def objective(
        sums: Sums, targets: compiled.Targets, weights: losses.Weights
    ) -> tuple[jax.Array, dict[str, jax.Array]]:
        style = jnp.float32(0.0)
        for name, target in targets.style.items():
            m, at, s = positions(name, shape), at_layer(stat, name), sums["style"][name]
            assert at.from_moments is not None and at.compare is not None  # refusal() admits only tileable ones
            summary = at.from_moments(s["sum"] / m, s["outer"] / m)
            style = style + targets.layer_weights[name] * convention.style_factor(name, m, pixels) * at.compare(
                summary, target
            )
        terms = {"content": sums["content"], "style": style}
        return weights.content * terms["content"] + weights.style * style, terms

    return jax.jit(jax.value_and_grad(objective, has_aux=True))


_tv = jax.jit(jax.value_and_grad(losses.tv_loss))


def _add(a: Sums | None, b: Sums) -> Sums:
    return b if a is None else jax.tree.map(jnp.add, a, b)


@functools.cache
def value_and_grad_fn(
    spec: compiled.Spec, tile: int
) -> Callable[[compiled.Data, jax.Array], tuple[jax.Array, dict, jax.Array]]:
    """(data, image) -> (total, terms, gradient), as ``compiled.value_and_grad_fn(spec)`` returns them, evaluated
    over tiles of ``tile`` pixels (a multiple of ``grid``): two passes over the windows, one program per window size."""
    # The windows' programs read moments, not the statistic: one compilation serves gram, mean_std and w2.
    sums_of, add_gradient = _passes(replace(spec, style_loss="gram", style_options=()))

    def fg(data: compiled.Data, image: jax.Array) -> tuple[jax.Array, dict, jax.Array]:
        tiles = plan(image.shape, tile, spec.layers, spec.pooling)
        content = data.targets.content
        sums = None
        for rows, cols in tiles:
            sums = _add(sums, sums_of(data.params, content, image, placement(rows, cols), size=(rows.size, cols.size)))
        (partial, terms), cotangent = _objective(spec, tuple(image.shape))(sums, data.targets, data.weights)
        tv, grad = _tv(image)
        grad = grad * data.weights.tv
        for rows, cols in tiles:
            grad = add_gradient(
                grad, data.params, content, image, placement(rows, cols), cotangent, size=(rows.size, cols.size)
            )
        return partial + data.weights.tv * tv, {**terms, "tv": tv}, grad

    return fg


# --- targets, also tile by tile (the style image at the output's size needs the network's whole pass) --------


@functools.cache
def _content_pass(pooling: str, layers: tuple[str, ...]) -> Callable:
    def add(
        acc: dict[str, jax.Array], params: dict, image: jax.Array, where: jax.Array, size: tuple[int, int]
    ) -> dict[str, jax.Array]:
        feats = vgg.features(params, crop(image, where, size), layers, pooling)
        for name in layers:
            f, k = feats[name], level(name)
            origin = _origin(where, k)
            acc[name] = jax.lax.dynamic_update_slice(
                acc[name], jax.lax.dynamic_slice(acc[name], origin, f.shape) + f * interior(f, name, where), origin
            )
        return acc

    return jax.jit(add, static_argnames="size", donate_argnums=0)


@functools.cache
def _style_pass(pooling: str, layers: tuple[str, ...]) -> Callable:
    def sums(params: dict, image: jax.Array, where: jax.Array, size: tuple[int, int]) -> Sums:
        return _moment_sums(vgg.features(params, crop(image, where, size), layers, pooling), layers, where)

    return jax.jit(sums, static_argnames="size")


def content_features(params: dict, spec: compiled.Spec, image: np.ndarray, tile: int) -> dict[str, jax.Array]:
    """P at the content layers, assembled from the tiles' interiors."""
    x = jnp.asarray(image, jnp.float32)
    layers = spec.content_layers
    acc = {
        name: jnp.zeros((x.shape[0] >> level(name), x.shape[1] >> level(name), channels(name)), jnp.float32)
        for name in layers
    }
    add = _content_pass(spec.pooling, layers)
    for rows, cols in plan(x.shape, tile, layers, spec.pooling):
        acc = add(acc, params, x, placement(rows, cols), size=(rows.size, cols.size))
    return acc


def style_summaries(params: dict, spec: compiled.Spec, image: np.ndarray, tile: int) -> dict:
    """One style image's summary per style layer (the statistic's ``from_moments`` of the tiles' summed moments)."""
    x = jnp.asarray(image, jnp.float32)
    layers, stat = spec.style_layers, STYLE_LOSSES[spec.style_loss]
    sums_of = _style_pass(spec.pooling, layers)
    sums = None
    for rows, cols in plan(x.shape, tile, layers, spec.pooling):
        sums = _add(sums, sums_of(params, x, placement(rows, cols), size=(rows.size, cols.size)))
    assert sums is not None  # plan() gives at least one tile
    out = {}
    for name in layers:
        m, at = positions(name, x.shape), at_layer(stat, name)
        assert at.from_moments is not None  # refusal() admits only tileable statistics
        out[name] = at.from_moments(sums[name]["sum"] / m, sums[name]["outer"] / m)
    return out


def make_targets(
    params: dict,
    spec: compiled.Spec,
    content: np.ndarray,
    styles: list[np.ndarray],
    tile: int,
    blend: list[float] | None = None,
    layer_weights: dict[str, float] | None = None,
) -> compiled.Targets:
    """``compiled.make_targets`` tile by tile: the same targets, in a window's memory."""
    stat = STYLE_LOSSES[spec.style_loss]
    blend = blend or [1.0 / len(styles)] * len(styles)
    described = [style_summaries(params, spec, s, tile) for s in styles]
    mixed = {name: at_layer(stat, name).mix([d[name] for d in described], blend) for name in spec.style_layers}
    return compiled.Targets(
        content_features(params, spec, content, tile), mixed, compiled.style_layer_weights(spec, layer_weights)
    )


def refusal(spec: compiled.Spec) -> str | None:
    """Why ``tile=N`` cannot evaluate this objective exactly, or None."""
    if not STYLE_LOSSES[spec.style_loss].tileable:
        exact = ", ".join(n for n, s in STYLE_LOSSES.items() if s.tileable)
        return (
            f"tile=N is exact only for statistics that are sums over positions ({exact}); "
            f"style_loss={spec.style_loss} does not split into tiles"
        )
    if spec.content_loss != "mse":
        return (
            f"tile=N needs content_loss=mse (a sum over positions); content_loss={spec.content_loss} compares "
            "positions across the image"
        )
    return None


def describe(shape: tuple[int, ...], tile: int, spec: compiled.Spec) -> dict:
    """What a run's summary records of its tiling."""
    tiles = plan(shape, tile, spec.layers, spec.pooling)
    return {
        "tile": tile,
        "tiles": len(tiles),
        "halo": halo(spec.layers, spec.pooling),
        "window": list(window_shape(shape, tile, spec.layers, spec.pooling)[:2]),
        "window_area": round(sum(r.size * c.size for r, c in tiles) / math.prod(shape[:2]), 3),
    }
