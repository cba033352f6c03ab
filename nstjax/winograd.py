"""Winograd F(4×4, 3×3) convolution (Lavin & Gray 2016) with a custom VJP, for VGG19's deep layers.

Direct convolution already runs near the matmul peak, so going faster needs fewer operations: F(4×4,3×3)
does a 3×3 convolution with 36 multiplications per 16 outputs instead of 144 (4× fewer in the matmul).
Its gradient with respect to the input is itself a Winograd convolution of the 180°-rotated kernel
(autodiff through the transforms was 1.5-6× slower); the kernel gradient stays XLA's direct one. On the
large early layers the transforms are memory-bound and lose, hence ``conv_for``'s size rule.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from nstjax.vgg import ConvFn, conv_direct

BT = np.array([
    [4, 0, -5, 0, 1, 0],
    [0, -4, -4, 1, 1, 0],
    [0, 4, -4, -1, 1, 0],
    [0, -2, -1, 2, 1, 0],
    [0, 2, -1, -2, 1, 0],
    [0, 4, 0, -5, 0, 1],
], np.float32)
G = np.array([
    [1 / 4, 0, 0],
    [-1 / 6, -1 / 6, -1 / 6],
    [-1 / 6, 1 / 6, -1 / 6],
    [1 / 24, 1 / 12, 1 / 6],
    [1 / 24, -1 / 12, 1 / 6],
    [0, 0, 1],
], np.float32)
AT = np.array([
    [1, 1, 1, 1, 1, 0],
    [0, 1, -1, 2, -2, 0],
    [0, 1, 1, 4, 4, 0],
    [0, 1, -1, 8, -8, 1],
], np.float32)

MIN_CHANNELS = 128  # input channels from which Winograd pays off on this CPU
MAX_SPATIAL = 64  # largest feature map side where it still does


def _tiles(x: jax.Array) -> tuple[jax.Array, int, int]:
    """Overlapping 6×6 input tiles at stride 4 of the zero-padded input: (N, Th, Tw, 6, 6, C)."""
    n, h, w, c = x.shape
    th, tw = -(-h // 4), -(-w // 4)
    xp = jnp.pad(x, ((0, 0), (1, 4 * th - h + 1), (1, 4 * tw - w + 1), (0, 0)))
    rows = jnp.stack([xp[:, i : i + 4 * th : 4] for i in range(6)], axis=2)  # N, Th, 6, Wp, C
    return jnp.stack([rows[:, :, :, j : j + 4 * tw : 4] for j in range(6)], axis=4), th, tw  # N,Th,6,Tw,6,C


def _winograd(x: jax.Array, kernel: jax.Array) -> jax.Array:
    n, h, w, _ = x.shape
    tiles, th, tw = _tiles(x)
    hp = jax.lax.Precision.HIGHEST
    v = jnp.einsum("ai,bj,nhiwjc->abnhwc", BT, BT, tiles, precision=hp)  # Bᵀ d B
    u = jnp.einsum("ai,bj,ijck->abck", G, G, kernel, precision=hp)  # G g Gᵀ
    m = jnp.einsum("abnhwc,abck->abnhwk", v, u)  # 36 matmuls: the bulk of the work
    y = jnp.einsum("pa,qb,abnhwk->nhpwqk", AT, AT, m, precision=hp)  # Aᵀ M A
    return y.reshape(n, 4 * th, 4 * tw, -1)[:, :h, :w]


@jax.custom_vjp
def conv_winograd(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """Same result as ``conv_direct`` (SAME, zero padding), to float32 rounding."""
    return _winograd(x, kernel)


def _fwd(x, kernel):
    return _winograd(x, kernel), (x, kernel)


def _bwd(res, dy):
    x, kernel = res
    # d/dx of a SAME 3×3 correlation is the correlation of dy with the kernel rotated 180°, channels swapped.
    dx = _winograd(dy, jnp.flip(kernel, (0, 1)).transpose(0, 1, 3, 2))
    _, kernel_vjp = jax.vjp(lambda k: conv_direct(x, k), kernel)
    return dx, kernel_vjp(dy)[0]


conv_winograd.defvjp(_fwd, _bwd)


def conv_for(layer: str, channels_in: int, spatial: int) -> ConvFn:
    """Winograd on the deep layers only (≥128 input channels, maps ≤64 px); direct elsewhere."""
    return conv_winograd if channels_in >= MIN_CHANNELS and spatial <= MAX_SPATIAL else conv_direct
