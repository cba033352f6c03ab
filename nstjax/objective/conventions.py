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

Each style statistic (``nstjax.objective.statistics``) returns a mean squared difference of its statistic; the
convention multiplies it by ``style_factor(layer, M_l, H·W)`` (¼ in the paper, whose Gram term is ¼ of
the mean squared difference of G/M; 1 in the reference code; N_l² M_l² / (36 (H·W)²) in the Keras code).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from nstjax.model.layers import channels

REFERENCE_RATIO = 1e-3  # the ratio label at which ``reference`` equals the released code's weights


class Convention(NamedTuple):
    content: Callable[[jax.Array, jax.Array], jax.Array]  # (F, P) -> the content term at one layer
    style_factor: Callable[[str, int, int], float]  # (layer, M_l, image pixels) -> multiplies each statistic's term
    layer_weights: Callable[[tuple[str, ...]], dict[str, float]]  # default w_l
    beta: Callable[[float, float], float]  # (α, ratio) -> β


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
    "reference": Convention(_mean_sq, lambda layer, m, pixels: 1.0,
                            lambda layers: {k: 1e3 / channels(k) ** 2 for k in layers},
                            lambda alpha, ratio: alpha * REFERENCE_RATIO / ratio),
    "keras": Convention(_sum_sq, _keras_style_factor, _equal, lambda alpha, ratio: alpha / ratio),
}
