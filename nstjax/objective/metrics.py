"""One yardstick for every run: an output image scored against its content and style images.

Whatever a run optimised (its pooling, layers, weights, statistic or convention), it is measured here
under ONE fixed network, so that numbers compare across runs: the ImageNet VGG19 with **max** pooling
(the network as trained), the content and style images resized to the output's size (as a run does).

* ``content_distance`` = ‖F(x) − F(c)‖_F / ‖F(c)‖_F at relu4_2 (0 for the content image itself).
* ``style_gram`` = mean over relu1_1 … relu5_1 of ‖G(x) − G(s)‖_F / ‖G(s)‖_F, G = FᵀF / M
  (0 for the style image itself).
* ``style_swd`` = mean over the same layers of the sliced Wasserstein-2 distance between the two sets of
  feature vectors, √(mean over N_l unit directions of W₂² of the projections), the directions drawn from
  a fixed seed, W₂ by sorted projections (quantile-matched when the position counts differ); in
  activation units (Heitz et al., CVPR 2021). Unlike ``style_gram`` it sees every marginal along the
  directions, not only second moments.
* ``colour`` = W₂ between Gaussians fitted to the output's and the style's RGB pixels (0..255):
  √(‖μ − μ_s‖² + tr(Σ + Σ_s − 2 (Σ_s^½ Σ Σ_s^½)^½)), in grey levels.

None of these is a perceptual judgement; they measure distance to the content's deep features and to
the style's feature statistics, under one network.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from nstjax.model.layers import PAPER_STYLE
from nstjax.objective.compiled import feature_fn
from nstjax.objective.statistics import directions, second_moment, sliced_w2, sqrtm_psd

CONTENT_LAYER = "relu4_2"
STYLE_LAYERS = PAPER_STYLE
POOLING = "max"
SEED = 0  # the swd directions: fixed, so every score uses the same ones
METRICS = ("content_distance", "style_gram", "style_swd", "colour")


def gaussian_w2(a: np.ndarray, b: np.ndarray) -> float:
    """W₂ between Gaussians fitted to the rows of ``a`` and ``b`` (float64, closed form)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False, bias=True), np.cov(b, rowvar=False, bias=True)
    root_b = sqrtm_psd(cov_b)
    cross = sqrtm_psd(root_b @ cov_a @ root_b)
    w2 = np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(cross)
    return float(np.sqrt(max(w2, 0.0)))


@jax.jit
def _layer_scores(x: jax.Array, s: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(‖G(x) − G(s)‖/‖G(s)‖, sliced W₂) of two M×N feature matrices."""
    gx, gs = second_moment(x), second_moment(s)
    rel = jnp.linalg.norm(gx - gs) / jnp.linalg.norm(gs)
    return rel, jnp.sqrt(sliced_w2(x, s, None, directions(jax.random.PRNGKey(SEED), x.shape[1])))


def features(image: np.ndarray, params: dict) -> dict[str, jax.Array]:
    """The yardstick's features of a uint8 (or float 0..255) H×W×3 image."""
    return feature_fn(POOLING, (*STYLE_LAYERS, CONTENT_LAYER))(params, jnp.asarray(image, jnp.float32))


def score(
    image: np.ndarray, content: np.ndarray, style: np.ndarray, params: dict | None = None, tile: int = 0
) -> dict[str, float]:
    """The four metrics of ``image`` (uint8 H×W×3) against ``content`` and ``style``, resized to its size.

    ``params``: the ImageNet weights (loaded from the cache when None); never another network. ``tile``: the
    network metrics from windows of that interior (``nstjax.objective.tiled_metrics``: the same numbers to float32
    summation order, in a window's memory rather than the whole image's); 0, in one piece.
    """
    from nstjax.io import images

    if params is None:
        from nstjax.objective.normalize import params_for

        params = params_for("imagenet")
    image = np.asarray(image)
    hw = image.shape[:2]
    content, style = images.resize(np.asarray(content), hw), images.resize(np.asarray(style), hw)
    if tile:
        from nstjax.objective import tiled_metrics

        network = tiled_metrics.scores(image, content, style, params, tile)
    else:
        network = _network_scores(image, content, style, params)

    def pixels(a: np.ndarray) -> np.ndarray:
        return np.asarray(a, np.float64).reshape(-1, 3)

    return {**network, "colour": gaussian_w2(pixels(image), pixels(style))}


# A comparison scores every ratio and variant of a pair against the same content and style: their features are
# kept for the last few images (small ones only: at 512 × 384 px the six layers hold about 40 MB).
_REFERENCES: dict[tuple, tuple[dict, dict[str, jax.Array]]] = {}  # key → (the weights, held: id stays theirs)
_REFERENCES_KEPT = 4
_REFERENCE_PIXELS = 512 * 384


def _reference_features(image: np.ndarray, params: dict) -> dict[str, jax.Array]:
    """``features(image, params)``, reused while the same pixels (and weights) come back."""
    if image.shape[0] * image.shape[1] > _REFERENCE_PIXELS:
        return features(image, params)
    key = (image.shape, hashlib.blake2b(np.ascontiguousarray(image).tobytes(), digest_size=16).digest(), id(params))
    if key not in _REFERENCES or _REFERENCES[key][0] is not params:
        while len(_REFERENCES) >= _REFERENCES_KEPT:
            _REFERENCES.pop(next(iter(_REFERENCES)))
        _REFERENCES[key] = (params, features(image, params))
    return _REFERENCES[key][1]


def _network_scores(image: np.ndarray, content: np.ndarray, style: np.ndarray, params: dict) -> dict[str, float]:
    """content_distance, style_gram and style_swd from the network run on each whole image."""
    fx, fc, fs = features(image, params), _reference_features(content, params), _reference_features(style, params)
    c = fc[CONTENT_LAYER]
    content_distance = float(jnp.linalg.norm(fx[CONTENT_LAYER] - c) / jnp.linalg.norm(c))
    grams, swds = [], []
    for name in STYLE_LAYERS:
        n = fx[name].shape[-1]
        rel, swd = _layer_scores(fx[name].reshape(-1, n), fs[name].reshape(-1, n))
        grams.append(float(rel))
        swds.append(float(swd))
    return {
        "content_distance": content_distance,
        "style_gram": float(np.mean(grams)),
        "style_swd": float(np.mean(swds)),
    }


def score_files(
    image: str | Path | np.ndarray, content: str | Path | np.ndarray, style: str | Path | np.ndarray, tile: int = 0
) -> dict[str, Any]:
    """``score`` of images given as files (any format ``nstjax.io.images`` reads) or uint8 arrays; ``tile``: as
    ``score``'s, for an image whose whole network does not fit the memory."""
    from nstjax.io import images

    out = images.read(image)
    images.check_size(out, "the image to score")  # smaller, VGG19's deepest layers are empty and every score NaN
    # Decoded as a run decodes them (a JPEG at a reduced scale when much larger), so that the score of a
    # run's final.png reproduces its summary.json.
    fit = out.shape[:2]
    return score(out, images.read(content, fit), images.read(style, fit), tile=tile)
