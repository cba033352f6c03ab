"""The MRF (patch) statistic, ``style_loss=mrf``: Li & Wand, "Combining Markov Random Fields and
Convolutional Neural Networks for Image Synthesis", CVPR 2016 (authors' code: chuanli11/CNNMRF,
``mylib/mrf.lua``, ``transfer_CNNMRF_wrapper.lua``).

    E_l = Σ_i ‖Ψ_i(Φ_l(x)) − Ψ_NN(i)(Φ_l(x_s))‖²,   NN(i) = argmax_j ⟨Ψ_i(x), Ψ_j(x_s)⟩ / (‖Ψ_i(x)‖ ‖Ψ_j(x_s)‖)

Ψ_i the 3×3×C patch at output position i (every position, stride 1), Ψ_j the style's patches (stride
``mrf.stride``), NN(i) by normalised cross-correlation (the cosine, no mean subtracted), held fixed in
the gradient. Its paper's layers are relu3_1 and relu4_1.

Units: the distance is e · E_l / (P · 9C), P the output's patches, e the style's mean channel energy
(``base.energy``): a mean squared patch difference (activation²) times e, so activation⁴ like the Gram
term, and the paper's ratio range stays a sensible start.

Departures from the authors' code, each for a reason:

* every output patch enters E (the paper's Σ_i); the code keeps output patches at stride 2 only
  (``source_sample_stride``), a saving the paper does not describe.
* the gradient is E's own (2 Σ over the patches covering a position of (x − target)); the code divides
  each position's sum by the number of patches covering it, which is not the gradient of any energy, and
  nstjax's L-BFGS line search needs the gradient of the value it reports.
* style copies: none by default (as the code: ``target_num_rotation = target_num_scale = 0``); the
  paper's rotated (7.5° steps) and scaled (×1.05 steps) copies with ``mrf.rotations`` and ``mrf.scales``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from nstjax.io.images import ImageError
from nstjax.objective.statistics.base import HIGHEST, Statistic, Stats

LAYERS = ("relu3_1", "relu4_1")  # the paper's and the code's (its layers 12 and 21 of VGG19)
PATCH = 3  # 3×3 patches (paper and code)
ROTATION_STEP = 7.5  # degrees (the code's target_step_rotation = π/24)
SCALE_STEP = 1.05  # the code's target_step_scale
CHUNK_BYTES = 64 * 2**20  # the nearest-neighbour search's score matrix per chunk of output rows
EPS = 1e-8  # a style patch of zeros matches nothing better than any other (pystiche's eps)


def patches(f: jax.Array) -> jax.Array:
    """The (H−2)×(W−2) 3×3 patches of an H×W×C map, each a 9C vector ordered (row, column, channel)."""
    h, w = f.shape[0] - PATCH + 1, f.shape[1] - PATCH + 1
    return jnp.concatenate([f[dy : dy + h, dx : dx + w] for dy in range(PATCH) for dx in range(PATCH)], axis=-1)


def nearest(f: jax.Array, bank: jax.Array, inv_norm: jax.Array, chunk_bytes: int = CHUNK_BYTES) -> jax.Array:
    """NN(i) for every 3×3 patch of ``f`` (H×W×C): the index of the bank's patch (K × 9C, with 1/‖·‖)
    of largest cosine; (H−2)×(W−2) int32. Dividing by the output patch's norm does not change the
    arg-max, so only the style patches are normalised (as the code's convolution with normalised patches).

    Memory: output rows go in chunks whose K-column score matrix stays under ``chunk_bytes`` (one row at
    least), so the search never holds all P × K scores.
    """
    h, w = f.shape[0] - PATCH + 1, f.shape[1] - PATCH + 1
    rows = max(1, min(h, chunk_bytes // (4 * w * bank.shape[0])))
    count = -(-h // rows)
    padded = jnp.pad(f, ((0, count * rows - h), (0, 0), (0, 0)))

    def chunk(i: jax.Array) -> jax.Array:
        part = jax.lax.dynamic_slice_in_dim(padded, i * rows, rows + PATCH - 1, axis=0)
        scores = jnp.dot(patches(part).reshape(rows * w, -1), bank.T, precision=HIGHEST) * inv_norm
        return jnp.argmax(scores, axis=1).astype(jnp.int32).reshape(rows, w)

    return jax.lax.map(chunk, jnp.arange(count)).reshape(count * rows, w)[:h]


def _too_small(what: str) -> ImageError:
    return ImageError(
        f"style_loss=mrf needs 3×3 patches, but {what} at one of its layers; "
        "use a larger image_size (or style_scale) or shallower style_layers"
    )


def _describe(f: jax.Array, stride: int) -> Stats:
    if min(f.shape[:2]) < PATCH:  # a style copy too small for a patch adds none (the union may have others)
        bank = jnp.zeros((0, PATCH * PATCH * f.shape[-1]), f.dtype)
    else:
        bank = patches(f)[::stride, ::stride].reshape(-1, PATCH * PATCH * f.shape[-1])
    return {"patches": bank, "inv_norm": 1.0 / (jnp.linalg.norm(bank, axis=1) + EPS), "energy": jnp.mean(jnp.square(f))}


def _mix(stats: Sequence[Stats], blend: Sequence[float]) -> Stats:
    """Several styles (or copies of one): the union of their patches; the energy their blend's mean."""
    if len(stats) == 1:
        return stats[0]
    total = sum(blend)
    return {
        "patches": jnp.concatenate([s["patches"] for s in stats]),
        "inv_norm": jnp.concatenate([s["inv_norm"] for s in stats]),
        "energy": sum(w * s["energy"] for s, w in zip(stats, blend, strict=True)) / total,
    }


def _distance(f: jax.Array, t: Stats, mask: jax.Array | None = None, key: jax.Array | None = None) -> jax.Array:
    """e · mean over output patches and their 9C entries of (Ψ_i(x) − Ψ_NN(i)(x_s))², NN frozen."""
    if t["patches"].shape[0] == 0:
        raise _too_small("the style image has none")
    if min(f.shape[:2]) < PATCH:
        raise _too_small(f"the output has {f.shape[1]}×{f.shape[0]} positions")
    nn = nearest(jax.lax.stop_gradient(f), t["patches"], t["inv_norm"])
    h, w, c = nn.shape[0], nn.shape[1], f.shape[-1]
    total = jnp.float32(0.0)
    # One offset of the 3×3 window at a time: P × C at once instead of the P × 9C matched patches.
    for o, (dy, dx) in enumerate((dy, dx) for dy in range(PATCH) for dx in range(PATCH)):
        target = t["patches"][:, o * c : (o + 1) * c][nn]
        total = total + jnp.sum(jnp.square(f[dy : dy + h, dx : dx + w] - target))
    return t["energy"] * total / (h * w * PATCH * PATCH * c)


def _inside(w: int, h: int, degrees: float) -> tuple[int, int]:
    """The largest axis-aligned w×h rectangle, centred, inside a w×h image rotated by ``degrees``."""
    a = math.radians(abs(degrees))
    if a == 0:
        return w, h
    s, c = math.sin(a), math.cos(a)
    long, short = max(w, h), min(w, h)
    if short <= 2 * s * c * long or abs(s - c) < 1e-10:  # the corners touch the long sides only
        x = short / 2
        cw, ch = (x / s, x / c) if w >= h else (x / c, x / s)
    else:
        c2 = c * c - s * s
        cw, ch = (w * c - h * s) / c2, (h * c - w * s) / c2
    return max(1, int(cw)), max(1, int(ch))


def copies(style: np.ndarray, rotations: int = 0, scales: int = 0) -> list[np.ndarray]:
    """The style image rotated by k·7.5° (k = −rotations … rotations), cropped to its valid centre, and
    scaled by 1.05^j (j = −scales … scales; the code's steps, where pystiche scales by 1 + 0.05 j):
    (2·rotations + 1)(2·scales + 1) images, in the code's order."""
    from skimage.transform import rotate

    from nstjax.io.images import resize

    out = []
    for k in range(-rotations, rotations + 1):
        turned = style
        if k:
            h, w = style.shape[:2]
            turned = np.rint(rotate(style, k * ROTATION_STEP, order=1, preserve_range=True)).astype(np.uint8)
            cw, ch = _inside(w, h, k * ROTATION_STEP)
            top, left = (h - ch) // 2, (w - cw) // 2
            turned = turned[top : top + ch, left : left + cw]
        for j in range(-scales, scales + 1):
            size = (max(1, round(turned.shape[0] * SCALE_STEP**j)), max(1, round(turned.shape[1] * SCALE_STEP**j)))
            out.append(resize(np.ascontiguousarray(turned), size))
    return out


def _integer(key: str, value: object, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        raise ValueError(f"mrf.{key} must be an integer >= {least}, got {value!r}")
    return int(value)


def mrf(stride: int = 2, rotations: int = 0, scales: int = 0) -> Statistic:
    """The MRF statistic with style patches at ``stride`` (2: the authors' code; 1: the paper's every
    patch) and the style's rotated (``rotations`` steps of 7.5° each way) and scaled (``scales`` steps of
    ×1.05 each way) copies. ValueError (one line) on a bad value."""
    stride, rotations, scales = (
        _integer("stride", stride, 1),
        _integer("rotations", rotations, 0),
        _integer("scales", scales, 0),
    )
    copied = partial(copies, rotations=rotations, scales=scales) if rotations or scales else None
    return Statistic(
        partial(_describe, stride=stride),
        _mix,
        _distance,
        masks=False,
        spatial=True,
        layers=LAYERS,
        options=mrf,
        copies=copied,
        blend=False,
        min_positions=PATCH,
    )


MRF = mrf()
