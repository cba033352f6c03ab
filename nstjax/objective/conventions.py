"""How the loss terms are normalised and what ``ratio`` means: ``convention=paper|reference|keras``.

The paper's printed ratios (α/β = 1e-3 … 1e-5) produced its figures only under the conventions the
figures were made with. Three are offered, so that a ratio always says which one it is in:

* ``paper`` — the printed formulas (Gatys et al., CVPR 2016, eqs. 1, 4, 5, 7):
  content ½ Σ (F − P)², style Σ_l w_l · 1/(4 N_l² M_l²) Σ (G_l − A_l)², w_l = 1/L, β = α / ratio.
* ``reference`` — the authors' released code (github.com/leongatys/PytorchNeuralStyleTransfer,
  NeuralStyleTransfer.ipynb): Gram matrices divided by M_l, both terms mean squared errors:
  content mean((F − P)²), style Σ_l w_l · mean((G_l/M_l − A_l/M_l)²), w_l = 1e3 / N_l².
  That code weights content by 1 and style by 1; here β = α · 1e-3 / ratio, so ``ratio=1e-3`` (the
  default) is exactly the released code and ``ratio`` keeps its meaning of "more content as it grows".

  In the paper's units the reference code's weights are α_paper = 2/(N_c M_c) and β_paper·w_l = 4e3/N_l²
  (i.e. α/β ≈ 1e-7 … 1e-5 at 512 px, weighted towards the shallow layers).

* ``keras`` — the seed article's code (Chollet's Keras example, ``examples/neural_style_transfer.py``):
  content Σ (F − P)², style Σ_l (1/L) · Σ (G_l − A_l)² / (4 · 3² · (H·W)²) — its ``channels = 3`` and
  ``size = H·W`` are the *image's*, for every layer (a quirk of that code, kept: it weights the shallow
  layers up to ~450× more than the paper does), β = α / ratio (its content_weight / style_weight = 0.025).

At any image size: ``paper`` and ``keras`` sum the content term over positions while their style terms
are normalised by them, so a ratio's balance depends on the size. ``ratio_size`` (default 512, the
paper's size) multiplies α by (pixels at ``ratio_size``)/(the image's pixels), so the printed ratios
weigh the terms as at 512 px whatever the size (``size_factor``). ``reference`` is size-free already
(both terms are means), so ``ratio_size`` leaves it alone.

Each style statistic (``nstjax.objective.statistics``) returns a mean squared difference of its statistic; the
convention multiplies it by ``style_factor(layer, M_l, H·W)`` (¼ in the paper, whose Gram term is ¼ of
the mean squared difference of G/M; 1 in the reference code; N_l² M_l² / (36 (H·W)²) in the Keras code).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from nstjax.model.layers import channels

REFERENCE_RATIO = 1e-3  # the ratio label at which ``reference`` equals the released code's weights


class Convention(NamedTuple):
    content: Callable[[jax.Array, jax.Array], jax.Array]  # (F, P) -> the content term at one layer
    style_factor: Callable[[str, int, int], float]  # (layer, M_l, image pixels) -> multiplies each statistic's term
    layer_weights: Callable[[tuple[str, ...]], dict[str, float]]  # default w_l
    beta: Callable[[float, float], float]  # (α, ratio) -> β
    content_sums_positions: bool = True  # the content term grows with the image's area (``ratio_size`` applies)


def size_factor(convention: str, pixels: int, reference_pixels: int | None) -> float:
    """What ``ratio_size`` multiplies α by: reference pixels / the image's pixels where the content term is
    a sum over positions (paper, keras), so that a ratio weighs the two terms as it does at the reference
    size; 1 where it is already a mean (reference) or ``ratio_size`` is null.

    Why: the content term ½ Σ (F − P)² grows with the positions M while every style term is normalised by
    M (G/M), so the same α/β weighs style (512/s)² times more at s px than at the paper's 512 px.
    """
    if reference_pixels is None or not CONVENTIONS[convention].content_sums_positions:
        return 1.0
    return reference_pixels / pixels


def _half_sum_sq(f: jax.Array, p: jax.Array) -> jax.Array:
    """½ Σ (F − P)² (paper, eq. 1)."""
    return 0.5 * jnp.sum(jnp.square(f - p))


def _mean_sq(f: jax.Array, p: jax.Array) -> jax.Array:
    """mean((F − P)²) (the released code's nn.MSELoss)."""
    return jnp.mean(jnp.square(f - p))


def _sum_sq(f: jax.Array, p: jax.Array) -> jax.Array:
    """Σ (F − P)² (the Keras example's content_loss)."""
    return jnp.sum(jnp.square(f - p))


def _keras_style_factor(layer: str, positions: int, pixels: int) -> float:
    """Σ (G − A)² / (4·3²·(H·W)²) = N_l² M_l² / (36 (H·W)²) · mean((G/M − A/M)²)."""
    return channels(layer) ** 2 * positions**2 / (36.0 * pixels**2)


def _equal(layers: tuple[str, ...]) -> dict[str, float]:
    return {k: 1.0 / len(layers) for k in layers}


CONVENTIONS: dict[str, Convention] = {
    "paper": Convention(_half_sum_sq, lambda layer, m, pixels: 0.25, _equal, lambda alpha, ratio: alpha / ratio),
    "reference": Convention(
        _mean_sq,
        lambda layer, m, pixels: 1.0,
        lambda layers: {k: 1e3 / channels(k) ** 2 for k in layers},
        lambda alpha, ratio: alpha * REFERENCE_RATIO / ratio,
        content_sums_positions=False,
    ),
    "keras": Convention(_sum_sq, _keras_style_factor, _equal, lambda alpha, ratio: alpha / ratio),
}
