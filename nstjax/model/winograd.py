"""Winograd F(4×4, 3×3) convolution (Lavin & Gray 2016) with a custom VJP, for VGG19's deep layers.

Direct convolution already runs near the matmul peak, so going faster needs fewer operations: F(4×4,3×3)
does a 3×3 convolution with 36 multiplications per 16 outputs instead of 144 (4× fewer in the matmul).
Its gradient with respect to the input is itself a Winograd convolution of the 180°-rotated kernel
(autodiff through the transforms was 1.5-6× slower). The transforms are sums of strided slices that
XLA fuses; on the largest maps they are memory-bound and gain nothing, hence ``plan``'s size rule.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

BT = np.array(
    [
        [4, 0, -5, 0, 1, 0],
        [0, -4, -4, 1, 1, 0],
        [0, 4, -4, -1, 1, 0],
        [0, -2, -1, 2, 1, 0],
        [0, 2, -1, -2, 1, 0],
        [0, 4, 0, -5, 0, 1],
    ],
    np.float32,
)
G = np.array(
    [
        [1 / 4, 0, 0],
        [-1 / 6, -1 / 6, -1 / 6],
        [-1 / 6, 1 / 6, -1 / 6],
        [1 / 24, 1 / 12, 1 / 6],
        [1 / 24, -1 / 12, 1 / 6],
        [0, 0, 1],
    ],
    np.float32,
)
AT = np.array(
    [
        [1, 1, 1, 1, 1, 0],
        [0, 1, -1, 2, -2, 0],
        [0, 1, 1, 4, 4, 0],
        [0, 1, -1, 8, -8, 1],
    ],
    np.float32,
)

MIN_CHANNELS = 64  # input channels from which Winograd pays off (conv1_1, with 3, stays direct)
MIN_IMAGE = 192  # below this, Winograd's extra compile time (~13 s) exceeds what it saves in a typical run
MAX_SPATIAL = 256  # largest map side where it still pays off (512 px: 1.54 s vs 1.73 s with ≤128; 256 px: 0.43 vs 0.47)


def _combine(coefficients: np.ndarray, parts: list[jax.Array]) -> list[jax.Array]:
    """Rows of ``coefficients`` applied to ``parts`` as explicit sums (the matrices are sparse small integers
    or fractions: elementwise adds that XLA fuses, instead of tiny matmuls with awkward layouts)."""
    out = []
    for row in coefficients:
        terms = [
            float(c) * p if c not in (1, -1) else (p if c == 1 else -p)
            for c, p in zip(row, parts, strict=True)
            if c != 0
        ]
        out.append(sum(terms[1:], terms[0]))
    return out


@jax.jit
def transform_kernel(kernel: jax.Array) -> jax.Array:
    """G g Gᵀ: (3, 3, C, K) -> (6, 6, C, K)."""
    return jnp.stack([jnp.stack(_combine(G, list(r))) for r in _combine(G, list(kernel))])


def transform_kernels(kernel: np.ndarray) -> dict[str, np.ndarray]:
    """The transformed kernel and the one of its 180°-rotated transpose (for the input gradient).

    Computed once per run, outside the compiled objective: the kernels are constants of the optimisation
    and transforming them on every evaluation cost as much as the convolution saved.
    """
    rotated = jnp.flip(jnp.asarray(kernel), (0, 1)).transpose(0, 1, 3, 2)
    return {
        "winograd": np.asarray(transform_kernel(jnp.asarray(kernel))),
        "winograd_t": np.asarray(transform_kernel(rotated)),
    }


def _winograd(x: jax.Array, u: jax.Array) -> jax.Array:
    """A SAME 3×3 correlation of x (N, H, W, C) with the kernel whose transform is u (6, 6, C, K)."""
    n, h, w, c = x.shape
    k = u.shape[-1]
    th, tw = -(-h // 4), -(-w // 4)
    xp = jnp.pad(x, ((0, 0), (1, 4 * th - h + 1), (1, 4 * tw - w + 1), (0, 0)))
    # Input transform Bᵀ d B over all 6×6 tiles at stride 4, as sums of strided slices.
    rows = _combine(BT, [xp[:, i : i + 4 * th : 4] for i in range(6)])  # 6 × (N, Th, Wp, C)
    v = jnp.stack([t for r in rows for t in _combine(BT, [r[:, :, j : j + 4 * tw : 4] for j in range(6)])])
    # 36 independent (N·Th·Tw × C) @ (C × K) products: the bulk of the work, 4× fewer flops than direct.
    m = jnp.matmul(v.reshape(36, n * th * tw, c), u.reshape(36, c, k)).reshape(6, 6, n, th, tw, k)
    # Output transform Aᵀ M A, then the 4×4 output tiles interleaved back into the image.
    cols = _combine(AT, list(m))  # 4 × (6, N, Th, Tw, K)
    y = jnp.stack([jnp.stack(_combine(AT, list(col)), axis=3) for col in cols], axis=2)  # N, Th, 4, Tw, 4, K
    return y.reshape(n, 4 * th, 4 * tw, k)[:, :h, :w]


@jax.custom_vjp
def conv_winograd(x: jax.Array, u: jax.Array, u_t: jax.Array) -> jax.Array:
    """Same result as ``conv_direct`` with the kernel that ``transform_kernels`` turned into (u, u_t).

    Differentiable in x only: style transfer optimises the image, never the weights (the weights'
    cotangents are returned as zeros).
    """
    return _winograd(x, u)


def _fwd(x: jax.Array, u: jax.Array, u_t: jax.Array) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    return _winograd(x, u), (u, u_t)


def _bwd(res: tuple[jax.Array, jax.Array], dy: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    u, u_t = res
    # d/dx of a SAME 3×3 correlation is the correlation of dy with the kernel rotated 180°, channels swapped.
    return _winograd(dy, u_t), jnp.zeros_like(u), jnp.zeros_like(u_t)


conv_winograd.defvjp(_fwd, _bwd)


def plan(image_shape: tuple[int, ...], every_layer: bool = False) -> frozenset[str]:
    """The layers that use Winograd for an input of this (…, H, W, 3) shape: ≥64 input channels and maps
    ≤256 px (on larger maps the transforms are memory-bound and gain nothing), in images of at least
    ``MIN_IMAGE`` px; or all of them."""
    from nstjax.model.layers import BLOCKS

    h, w = image_shape[-3], image_shape[-2]
    if not every_layer and max(h, w) < MIN_IMAGE:
        return frozenset()
    chosen, channels = set(), 3
    for b, (out_channels, count) in enumerate(BLOCKS, 1):
        for i in range(1, count + 1):
            if every_layer or (channels >= MIN_CHANNELS and max(h, w) <= MAX_SPATIAL):
                chosen.add(f"conv{b}_{i}")
            channels = out_channels
        h, w = h // 2, w // 2
    return frozenset(chosen)


def with_transforms(params: dict, layers: frozenset[str]) -> dict:
    """A params pytree with the transformed kernels added for ``layers`` (the original kernels stay)."""
    return {name: {**p, **(transform_kernels(p["kernel"]) if name in layers else {})} for name, p in params.items()}
