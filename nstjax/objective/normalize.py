"""The paper's "normalised network": every filter's mean activation over images and positions is 1.

Scaling filter k of layer l by 1/m_k (kernel and bias) and the next layer's input channel k by m_k leaves
the network's function unchanged up to per-channel scale, because ReLU and pooling commute with positive
scaling. The means come from one forward pass over images that always ship with scikit-image.
"""

from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np

from nstjax.io import weights
from nstjax.model.layers import CONV_LAYERS
from nstjax.objective.compiled import feature_fn

# Natural photographs bundled with scikit-image (no download): the statistics the scales come from.
IMAGE_SET = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "hubble_deep_field")
SIZE = 224  # ImageNet's training resolution


def calibration_images() -> list[np.ndarray]:
    import skimage.data

    from nstjax.io.images import resize

    return [resize(getattr(skimage.data, name)(), (SIZE, SIZE)) for name in IMAGE_SET]


def mean_activations(params: weights.Params, batch: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Mean post-ReLU activation of every filter, over all images and positions (max pooling)."""
    relus = tuple(name.replace("conv", "relu") for name in CONV_LAYERS)
    feats = feature_fn("max", relus)(params, jnp.asarray(np.stack(batch), jnp.float32))
    return {name.replace("relu", "conv"): np.asarray(f, np.float64).mean(axis=(0, 1, 2)) for name, f in feats.items()}


def normalize(params: weights.Params, means: dict[str, np.ndarray]) -> weights.Params:
    out: weights.Params = {}
    previous = np.ones(3)
    for name in CONV_LAYERS:
        m = means[name]
        scale = np.where(m > 1e-8, 1.0 / np.maximum(m, 1e-8), 1.0)  # a dead filter keeps its weights
        kernel = params[name]["kernel"] * previous[None, None, :, None] * scale[None, None, None, :]
        out[name] = {"kernel": kernel.astype(np.float32), "bias": (params[name]["bias"] * scale).astype(np.float32)}
        previous = np.where(m > 1e-8, np.maximum(m, 1e-8), 1.0)
    return out


def fetch_normalized(files: weights.CacheFiles | None = None) -> weights.CacheFiles:
    """Computes the normalised weights once and caches them like the originals (checksummed, locked)."""
    from filelock import FileLock

    files = files or weights.CacheFiles.of("vgg19_normalized")
    with FileLock(str(files.lock)):
        if not weights.cache_is_valid(files):
            params = weights.load_params()
            scaled = normalize(params, mean_activations(params, calibration_images()))
            arrays = {f"{k}/{kind}": v[kind] for k, v in scaled.items() for kind in ("kernel", "bias")}
            meta = {"source": "nstjax.objective.normalize", "images": list(IMAGE_SET), "size": SIZE}
            weights.write_cache(files, arrays, meta)
    return files


@functools.cache
def params_for(kind: str) -> weights.Params:
    """The params pytree for ``weights=imagenet|normalized``; loaded once per process."""
    if kind == "imagenet":
        return weights.load_params()
    if kind == "normalized":
        return weights.load_params(fetch_normalized(), fetch_missing=False)
    raise ValueError(f"weights must be imagenet or normalized, got {kind!r}")
