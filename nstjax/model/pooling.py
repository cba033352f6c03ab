"""VGG19's five 2×2 poolings, as a family: ``pooling=max|avg|l2|blur``.

Each is a pure function of an NHWC array that halves H and W (floor: odd sizes drop the last row/column,
as Keras and torch; Caffe rounded up). All are written as reshapes, reductions and small fixed
convolutions: XLA's ``reduce_window`` gradient was ~7× slower than the reshape-and-reduce here.
The network's weights were trained with max pooling; the others are applied without fine-tuning.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

Pool = Callable[[jax.Array], jax.Array]


def _windows(x: jax.Array) -> jax.Array:
    """N×H×W×C to N×H/2×2×W/2×2×C: every 2×2 window on its own axes."""
    n, h, w, c = x.shape
    return x[:, : h // 2 * 2, : w // 2 * 2].reshape(n, h // 2, 2, w // 2, 2, c)


def max_pool(x: jax.Array) -> jax.Array:
    """y = max over each 2×2 window, stride 2: VGG19 as trained (Simonyan & Zisserman 2015)."""
    return _windows(x).max(axis=(2, 4))


def avg_pool(x: jax.Array) -> jax.Array:
    """y = ¼ Σ over each 2×2 window, stride 2: the paper's choice for synthesis (Gatys et al. 2016:
    "improves the gradient flow and one obtains slightly more appealing results")."""
    return _windows(x).mean(axis=(2, 4))


def l2_pool(x: jax.Array) -> jax.Array:
    """y = sqrt(¼ Σ x²) over each 2×2 window, stride 2: the root mean square, between avg (≤) and
    max (≥) on the non-negative ReLU maps (Sermanet et al. 2012; Bruna et al. 2014's L2 pooling).
    Not rescaled: on a constant window it equals avg and max."""
    ms = jnp.square(_windows(x)).mean(axis=(2, 4))
    # The epsilon keeps the gradient finite where a whole window is zero (dead ReLUs are common).
    return jnp.sqrt(ms + 1e-12)


# [1,2,1]⊗[1,2,1]/16, applied as two 1-D passes; Python floats, so importing the model starts no device work
_BLUR = (0.25, 0.5, 0.25)


def blur_pool(x: jax.Array) -> jax.Array:
    """Anti-aliased max pooling (Zhang, "Making Convolutional Networks Shift-Invariant Again", ICML 2019):
    m = max over 2×2 windows at stride 1, then y = ([1,2,1]⊗[1,2,1]/16 ∗ m) at stride 2.

    As Zhang, m is padded by reflection before the blur. Departure: m keeps H×W (the last row/column's
    window is edge-padded) so that the output is floor(H/2)×floor(W/2) like the other poolings.
    """
    n, h, w, c = x.shape
    # Max at stride 1 over 2×2 windows; the last row/column repeats (edge padding) to keep H×W.
    xp = jnp.pad(x, ((0, 0), (0, 1), (0, 1), (0, 0)), mode="edge")
    m = jnp.maximum(jnp.maximum(xp[:, :-1, :-1], xp[:, 1:, :-1]), jnp.maximum(xp[:, :-1, 1:], xp[:, 1:, 1:]))
    # Separable blur at stride 2, each output centred on an even position, as a strided sum of 3 taps.
    mp = jnp.pad(m, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")
    ho, wo = h // 2, w // 2
    return _taps(_taps(mp, 1, ho), 2, wo)


def _taps(a: jax.Array, axis: int, n: int) -> jax.Array:
    """[1,2,1]/4 along ``axis`` at stride 2: ``n`` outputs, the k-th centred on position 2k + 1 of ``a``."""

    def tap(k: int) -> jax.Array:
        return jax.lax.slice_in_dim(a, k, k + 2 * n, 2, axis)

    return _BLUR[0] * tap(0) + _BLUR[1] * tap(1) + _BLUR[2] * tap(2)


POOLING: dict[str, Pool] = {"max": max_pool, "avg": avg_pool, "l2": l2_pool, "blur": blur_pool}
