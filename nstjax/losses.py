"""The paper's loss terms: pure functions of feature dicts, each returning a scalar.

Feature maps are H×W×C (one image); the paper's N_l is C and M_l is H·W.
"""

from __future__ import annotations

from typing import Mapping, NamedTuple

import jax
import jax.numpy as jnp

Features = Mapping[str, jax.Array]


def gram(f: jax.Array) -> jax.Array:
    """G = F Fᵀ of the N×M feature matrix (N channels, M positions); unnormalised, as in the paper."""
    flat = f.reshape(-1, f.shape[-1])
    return jnp.einsum("mi,mj->ij", flat, flat, precision=jax.lax.Precision.HIGHEST)


def content_loss(features: Features, targets: Features) -> jax.Array:
    """½ Σ (F − P)², summed over the content layers in ``targets``."""
    return sum(0.5 * jnp.sum(jnp.square(features[k] - p)) for k, p in targets.items())


def style_loss(features: Features, target_grams: Features, layer_weights: Mapping[str, float],
               masks: Features | None = None) -> jax.Array:
    """Σ_l w_l / (4 N_l² M_l²) Σ (G_l − A_l)².

    With ``masks`` (H_l×W_l weights in [0, 1] per layer), the Gram matrix is that of the masked features and
    M_l the mask's area: spatial control, where a region takes the statistics of its own style.
    """
    total = 0.0
    for name, a in target_grams.items():
        f = features[name]
        n, m = f.shape[-1], f.shape[0] * f.shape[1]
        if masks is not None:
            f = f * masks[name][..., None]
            m = jnp.maximum(jnp.sum(masks[name]), 1.0)
        total = total + layer_weights[name] * jnp.sum(jnp.square(gram(f) - a)) / (4.0 * n**2 * m**2)
    return total


def tv_loss(image: jax.Array) -> jax.Array:
    """Σ ((x[i,j] − x[i+1,j])² + (x[i,j] − x[i,j+1])²)^1.25 over pixels and channels.

    Not in the paper: the seed article's (Chollet's Keras example) smoothness prior, on 0..255 pixels.
    """
    dy = jnp.square(image[:-1, :-1] - image[1:, :-1])
    dx = jnp.square(image[:-1, :-1] - image[:-1, 1:])
    return jnp.sum(jnp.power(dy + dx + 1e-12, 1.25))  # the epsilon keeps the gradient finite on flat regions


class Weights(NamedTuple):
    """The objective's weights, as data (so sweeps over them reuse one compiled program)."""

    content: jax.Array | float  # α
    style: jax.Array | float  # β
    tv: jax.Array | float


def total_loss(features: Features, image: jax.Array, content_targets: Features, style_grams: Features,
               layer_weights: Mapping[str, float], weights: Weights,
               regions: tuple = ()) -> tuple[jax.Array, dict[str, jax.Array]]:
    """α·content + β·style + tv·TV, and each term (unweighted) for logging.

    ``regions``: (weight, grams, masks) per masked style image; used instead of ``style_grams`` when given.
    """
    style = (sum(w * style_loss(features, g, layer_weights, m) for w, g, m in regions) if regions
             else style_loss(features, style_grams, layer_weights))
    terms = {"content": content_loss(features, content_targets), "style": style, "tv": tv_loss(image)}
    total = weights.content * terms["content"] + weights.style * terms["style"] + weights.tv * terms["tv"]
    return total, terms
