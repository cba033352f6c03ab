"""Content losses, as a family: ``content_loss=mse|self_similarity``.

Each compares the output's features with the content image's at the content layers (H×W×C maps per
layer) and returns the content term in the convention's units (``nstjax.objective.conventions``): ``mse``
is the convention's own term; the others are scaled into its units (see ``self_similarity``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

import jax
import jax.numpy as jnp

from nstjax.objective.conventions import CONVENTIONS
from nstjax.objective.statistics.remd import cosine_cost, finest, hypercolumns, random_positions

Features = Mapping[str, jax.Array]

# STROTSS's sample: the code's 32² positions (``get_feature_inds``), shared with its style term there; here
# drawn for the content term alone (from its own stream of the iteration's key).
N_POSITIONS = 1024
# ℓ_C (unitless, in [0, 2]) -> the content term's units: × SCALE · T(P, 0), T the convention's term; SCALE
# so that it equals mse's at a stylised image (a 30-step Gram run): mse's/ℓ_C's with SCALE 1 was 2.5-4.6
# over the paintings benchmark, median 4.3 (scripts/scale_remd_cx.py).
SCALE = 4.0


class ContentLoss(NamedTuple):
    term: Callable[..., jax.Array]  # (features, targets, convention, key) -> the content term
    stochastic: bool = False  # needs fresh random numbers each iteration (``key``)


def mse(features: Features, targets: Features, convention: str = "paper", key: jax.Array | None = None) -> jax.Array:
    """Σ over the content layers of the convention's term (paper: ½ Σ (F − P)², Gatys et al. 2016, eq. 1)."""
    term = CONVENTIONS[convention].content
    return sum(term(features[k], p) for k, p in targets.items())  # type: ignore[return-value]  # 0 only with no layers


def column_normalised(d: jax.Array) -> jax.Array:
    """D_ij / Σ_i D_ij: each column a distribution over the positions."""
    return d / (jnp.sum(d, axis=0, keepdims=True) + 1e-30)


def self_similarity_distance(x: jax.Array, c: jax.Array) -> jax.Array:
    """ℓ_C = (1/n) Σ_ij |D^X_ij / Σ_i D^X_ij − D^C_ij / Σ_i D^C_ij|, D_ij = 1 − cos between positions i, j of
    one image (X the output's, C the content's n feature vectors at the same positions); in [0, 2]."""
    dx, dc = column_normalised(cosine_cost(x, x)), column_normalised(cosine_cost(c, c))
    return jnp.sum(jnp.abs(dx - dc)) / x.shape[0]


def self_similarity(
    features: Features, targets: Features, convention: str = "paper", key: jax.Array | None = None
) -> jax.Array:
    """SCALE · T(P, 0) · ℓ_C over the content layers' hypercolumns at ``N_POSITIONS`` positions drawn
    from ``key`` (every position when there are fewer; a regular grid when ``key`` is None): STROTSS's
    content loss (Kolkin, Salavon & Shakhnarovich, CVPR 2019; ``dp_loss`` in github.com/nkolkin13/STROTSS).
    It keeps the content's pattern of which positions look alike, not its features' values.
    T(P, 0), the convention's term of the content features against zero (paper ½ Σ P²), carries ℓ_C into
    the content term's units and its growth with the image's area, so ``ratio`` and ``ratio_size`` keep their
    meaning."""
    # Normalised by n as the code (its mean × n): each normalised column sums to 1. STROTSS's hypercolumn spans all its
    # layers and RGB: here the content layers (set content_layers to the style layers for STROTSS's).
    shape = finest(targets)
    positions = random_positions(key, shape, N_POSITIONS)
    x = hypercolumns({k: features[k] for k in targets}, positions, shape)
    c = hypercolumns(targets, positions, shape)
    unit = mse({k: jnp.zeros_like(p) for k, p in targets.items()}, targets, convention)
    return SCALE * unit * self_similarity_distance(x, c)


CONTENT_LOSSES: dict[str, ContentLoss] = {
    "mse": ContentLoss(mse),
    "self_similarity": ContentLoss(self_similarity, stochastic=True),
}
