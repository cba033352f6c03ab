"""The paper's loss terms: pure functions of feature dicts, each returning a scalar.

Feature maps are H×W×C (one image); the paper's N_l is C and M_l is H·W. How each term is normalised is
the convention's (``nstjax.objective.conventions``); which statistic the style term compares is the family in
``nstjax.objective.statistics``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple, cast

import jax
import jax.numpy as jnp

from nstjax.objective.content import CONTENT_LOSSES
from nstjax.objective.conventions import CONVENTIONS
from nstjax.objective.statistics import STYLE_LOSSES, Stats
from nstjax.objective.statistics.base import JOINT, Statistic, at_layer, layout

Features = Mapping[str, jax.Array]
CONTENT_STREAM = 0x636F6E74  # the content loss's random numbers: the iteration's key folded with "cont"


def gram(f: jax.Array) -> jax.Array:
    """G = F Fᵀ of the N×M feature matrix (N channels, M positions); unnormalised, as in the paper."""
    flat = f.reshape(-1, f.shape[-1])
    return jnp.einsum("mi,mj->ij", flat, flat, precision=jax.lax.Precision.HIGHEST)


def content_loss(features: Features, targets: Features, convention: str = "paper") -> jax.Array:
    """Σ over the content layers of the convention's content term (paper: ½ Σ (F − P)²)."""
    return CONTENT_LOSSES["mse"].term(features, targets, convention)


def style_summaries(stat: Statistic, features: Features, layers: tuple[str, ...]) -> dict[str, Stats]:
    """One style image's summaries: per style layer, or one under ``JOINT`` for a statistic over all of them."""
    if stat.joint is not None:
        return {JOINT: stat.describe(stat.joint({name: features[name] for name in layers}, None))}
    return {name: at_layer(stat, name).describe(layout(at_layer(stat, name), features[name])) for name in layers}


def style_loss(
    features: Features,
    targets: Mapping[str, Stats],
    layer_weights: Mapping[str, float | jax.Array],
    statistic: str = "gram",
    convention: str = "paper",
    masks: Features | None = None,
    key: jax.Array | None = None,
    pixels: int | None = None,
) -> jax.Array:
    """Σ_l w_l · c · D_l(X_l, style_l): D the statistic's mean squared difference (``nstjax.objective.statistics``),
    c the convention's factor. Paper + gram: Σ_l w_l / (4 N_l² M_l²) Σ (G_l − A_l)².

    ``pixels``: the image's H·W, which ``convention=keras`` divides by (the others ignore it).

    With ``masks`` (H_l×W_l weights in [0, 1] per layer), the statistic is that of the masked features
    over the mask's area: spatial control, where a region takes the statistics of its own style.
    """
    stat, factor = STYLE_LOSSES[statistic], CONVENTIONS[convention].style_factor
    px = cast(int, pixels)  # None only for the conventions whose factor ignores it (paper, reference)
    if stat.joint is not None:  # one term over all style layers (remd), weighed as the sum of their terms' weights
        maps = {name: features[name] for name in layer_weights}
        scale = sum(w * factor(name, maps[name].size // maps[name].shape[-1], px) for name, w in layer_weights.items())
        return scale * stat.distance(stat.joint(maps, key), targets[JOINT], None, key)
    total: jax.Array | float = 0.0
    for i, (name, target) in enumerate(targets.items()):
        f, at = features[name], at_layer(stat, name)
        x = layout(at, f)  # M × N, or the H×W×C map for a statistic of patches (mrf)
        mask = None if masks is None else masks[name].reshape(-1)
        layer_key = None if key is None else jax.random.fold_in(key, i)
        scale = factor(name, f.size // f.shape[-1], px)
        total = total + layer_weights[name] * scale * at.distance(x, target, mask, layer_key)
    return total  # type: ignore[return-value]  # a float only with no style layers


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


def total_loss(
    features: Features,
    image: jax.Array,
    content_targets: Features,
    style_targets: Mapping[str, Stats],
    layer_weights: Mapping[str, float | jax.Array],
    weights: Weights,
    regions: tuple = (),
    statistic: str = "gram",
    convention: str = "paper",
    key: jax.Array | None = None,
    content: str = "mse",
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """α·content + β·style + tv·TV, and each term (unweighted) for logging.

    ``regions``: (weight, style targets, masks) per masked style image; used instead of ``style_targets``.
    ``key``: random numbers for a stochastic statistic (``swd``) or content loss (``self_similarity``).
    ``content``: a name in ``nstjax.objective.content.CONTENT_LOSSES``.
    """

    def style_of(targets: Mapping[str, Stats], masks: Features | None = None) -> jax.Array:
        return style_loss(
            features, targets, layer_weights, statistic, convention, masks, key, image.shape[-3] * image.shape[-2]
        )

    style = sum(w * style_of(t, m) for w, t, m in regions) if regions else style_of(style_targets)
    content_key = None if key is None else jax.random.fold_in(key, CONTENT_STREAM)
    content_term = CONTENT_LOSSES[content].term(features, content_targets, convention, content_key)
    terms = {"content": content_term, "style": style, "tv": tv_loss(image)}
    total = weights.content * terms["content"] + weights.style * terms["style"] + weights.tv * terms["tv"]
    return total, terms
