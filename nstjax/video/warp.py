"""The warp ω and the temporal terms, in JAX: pure functions, usable inside the compiled objective.

Ruder, Dosovitskiy & Brox, "Artistic style transfer for videos" (GCPR 2016): the short-term loss
(1/D) Σ c (x − ω(x_{t−1}))², D = H·W·C, and the long-term loss over the frames ``long_term`` back.
The temporal yardstick: Lai et al., "Learning Blind Video Temporal Consistency" (ECCV 2018).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np


def warp(image: jax.Array, flow: jax.Array) -> jax.Array:
    """ω: ``image`` (H×W×C) read bilinearly at p + flow(p) for every pixel p of the flow's grid (H×W×2, x y);
    positions outside are clamped to the edge (the weights c give them 0). Differentiable in both."""
    h, w = flow.shape[:2]
    x = jnp.clip(jnp.arange(w, dtype=flow.dtype)[None, :] + flow[..., 0], 0, w - 1)
    y = jnp.clip(jnp.arange(h, dtype=flow.dtype)[:, None] + flow[..., 1], 0, h - 1)
    x0 = jnp.clip(jnp.floor(x), 0, max(w - 2, 0)).astype(jnp.int32)
    y0 = jnp.clip(jnp.floor(y), 0, max(h - 2, 0)).astype(jnp.int32)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    x1, y1 = jnp.minimum(x0 + 1, w - 1), jnp.minimum(y0 + 1, h - 1)
    top = image[y0, x0] * (1 - fx) + image[y0, x1] * fx
    bottom = image[y1, x0] * (1 - fx) + image[y1, x1] * fx
    return top * (1 - fy) + bottom * fy


def temporal_loss(x: jax.Array, previous: jax.Array, flows: jax.Array, weights: jax.Array) -> jax.Array:
    """Σ_k (1/D) Σ c_k (x − ω_k(previous_k))² over K earlier results: ``previous`` K×H×W×C, ``flows`` K×H×W×2 (from
    this frame into each), ``weights`` K×H×W (Ruder's c, or c_long; all 0 for a slot with no frame)."""
    warped = jax.vmap(warp)(previous, flows)
    return jnp.sum(weights[..., None] * jnp.square(x[None] - warped)) / x.size


def long_term_weights(masks: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Ruder et al.'s c_long: the frames nearest first, each pixel counted at the nearest frame that sees it,
    c_long_j = max(c_j − Σ_{k nearer} c_k, 0)."""
    out, seen = [], np.zeros_like(masks[0]) if masks else None
    for c in masks:
        out.append(np.maximum(c - seen, 0.0).astype(np.float32))
        seen = seen + c
    return out


@jax.jit
def _masked_error(now: jax.Array, before: jax.Array, flow: jax.Array, mask: jax.Array) -> jax.Array:
    diff = jnp.sum(jnp.square(now - warp(before, flow)), -1)
    return jnp.sum(mask * diff) / jnp.maximum(jnp.sum(mask), 1.0)


def warping_error(now: np.ndarray, before: np.ndarray, flow: np.ndarray, mask: np.ndarray) -> float:
    """Lai et al.'s warping error of a frame pair: the mean over the reliable pixels (``mask``) of
    ‖O_t − ω(O_{t−1})‖² (squared over RGB, pixels in [0, 1]). ``flow``: from frame t into t−1."""
    scale = 1.0 / 255.0
    args = (np.asarray(now, np.float32) * scale, np.asarray(before, np.float32) * scale, flow, mask)
    return float(_masked_error(*(jnp.asarray(a, jnp.float32) for a in args)))
