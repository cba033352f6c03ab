"""The still objective plus Ruder et al.'s temporal term, compiled once per clip.

The jit boundary as in ``nstjax.objective.compiled``: the spec is bound by closure, everything numeric is data.
The temporal part is data of a fixed shape (K earlier results for the K frames of ``long_term``, a slot with no
frame weighted 0), so every frame of a clip, the first and frame-by-frame runs included, reuses one program.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from nstjax.objective import compiled, losses
from nstjax.objective.conventions import CONVENTIONS
from nstjax.video.warp import temporal_loss


class Temporal(NamedTuple):
    previous: jax.Array  # K×H×W×3: earlier results, in the optimised image's space
    flows: jax.Array  # K×H×W×2: from this frame into each
    masks: jax.Array  # K×H×W: Ruder's c (c_long for the long-term frames)
    weight: jax.Array  # λ, the term's weight in the objective's units (``weight_of``)


class Data(NamedTuple):
    """``compiled.Data``'s fields, in its order (so a run's ``_replace(key=...)`` works), and the temporal part."""

    params: dict
    targets: compiled.Targets
    weights: losses.Weights
    key: jax.Array | None
    temporal: Temporal


def weight_of(temporal_weight: float, content_weight: float, convention: str, targets: compiled.Targets) -> float:
    """λ for ``temporal_weight`` given as Ruder et al.'s λ/α: their terms are both means (content: of the squared
    feature difference; temporal: of the squared pixel difference), so λ = temporal_weight · α · (the convention's
    content term at a difference of 1 everywhere), whatever the convention and image size."""
    term = CONVENTIONS[convention].content
    unit = sum(float(term(jnp.ones_like(p), jnp.zeros_like(p))) for p in targets.content.values())
    return temporal_weight * content_weight * unit


@functools.cache
def loss_fn(spec: compiled.Spec) -> Callable[[Data, jax.Array], tuple[jax.Array, dict]]:
    """``(data, image) -> (total, terms)``: the still objective's, plus λ · temporal (its term in ``terms``)."""
    still = compiled.loss_fn(spec)

    def loss(data: Data, image: jax.Array) -> tuple[jax.Array, dict]:
        total, terms = still(compiled.Data(data.params, data.targets, data.weights, data.key), image)
        t = data.temporal
        temporal = temporal_loss(image, t.previous, t.flows, t.masks)
        return total + t.weight * temporal, {**terms, "temporal": temporal}

    return loss


@functools.cache
def value_and_grad_fn(spec: compiled.Spec) -> Callable[[Data, jax.Array], tuple[jax.Array, dict, jax.Array]]:
    """jit((data, image) -> (total, terms, gradient))."""
    return compiled.jit_value_and_grad(loss_fn(spec))
