"""The small public API for notebooks and other code."""

from __future__ import annotations

import functools
from typing import Sequence

import jax.numpy as jnp
import numpy as np

from nstjax import weights
from nstjax.layers import ORDER, resolve_layers
from nstjax.objective import feature_fn
from nstjax.pooling import POOLING


@functools.cache
def default_params() -> dict:
    """The verified ImageNet weights from the cache (fetched on first use), as a params pytree."""
    return weights.load_params()


def extract_features(image: np.ndarray, layers: Sequence[str], pooling: str = "max",
                     params: dict | None = None) -> dict[str, np.ndarray]:
    """VGG19 activations of a uint8 H×W×3 RGB image, as float32 H'×W'×C arrays keyed by layer name."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"image must be uint8 H×W×3 RGB, got {image.dtype} {image.shape}")
    if pooling not in POOLING:
        raise ValueError(f"pooling must be one of {', '.join(POOLING)}; got {pooling!r}")
    names = tuple(sorted(set(resolve_layers(list(layers), {}, "layers")), key=ORDER.index))
    fn = feature_fn(pooling, names)
    out = fn(params if params is not None else default_params(), jnp.asarray(image, jnp.float32))
    return {k: np.asarray(v, np.float32) for k, v in out.items()}
