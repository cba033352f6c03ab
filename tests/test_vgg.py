"""VGG19 activations against an independent float64 numpy implementation with the same real weights."""

from __future__ import annotations

import numpy as np
import pytest

import nstjax
from nstjax.model.layers import BLOCKS

MEAN_BGR = np.array([103.939, 116.779, 123.68])


def numpy_vgg19(image: np.ndarray, params: dict, pooling: str) -> dict[str, np.ndarray]:
    """Direct convolution as nine shifted matrix products, in float64; Caffe's layout of the network."""
    x = image[..., ::-1].astype(np.float64) - MEAN_BGR
    out = {}
    for b, (_, count) in enumerate(BLOCKS, 1):
        for i in range(1, count + 1):
            name = f"conv{b}_{i}"
            k = params[name]["kernel"].astype(np.float64)
            h, w, _ = x.shape
            xp = np.pad(x, ((1, 1), (1, 1), (0, 0)))
            y = sum(xp[dy : dy + h, dx : dx + w] @ k[dy, dx] for dy in range(3) for dx in range(3))
            x = y + params[name]["bias"]
            out[name] = x
            x = np.maximum(x, 0)
            out[f"relu{b}_{i}"] = x
        h, w, c = x.shape
        x = x[: h // 2 * 2, : w // 2 * 2].reshape(h // 2, 2, w // 2, 2, c)
        x = x.max(axis=(1, 3)) if pooling == "max" else x.mean(axis=(1, 3))
        out[f"pool{b}"] = x
    return out


@pytest.mark.parametrize("pooling", ["max", "avg"])
def test_activations_match_numpy_reference(params, pair_128, pooling):
    crop = pair_128[0][20:68, 30:86]  # 48×56: odd sizes after pooling exercise the floor rule
    layers = ["conv1_1", "relu1_2", "relu2_1", "relu3_1", "conv4_2", "relu4_2", "relu5_1", "pool2"]
    ours = nstjax.extract_features(crop, layers, pooling=pooling, params=params)
    ref = numpy_vgg19(crop, params, pooling)
    assert set(ours) == set(layers)
    for name in layers:
        assert ours[name].dtype == np.float32 and ours[name].shape == ref[name].shape, name
        rel = np.abs(ours[name] - ref[name]).max() / np.abs(ref[name]).max()
        assert rel < 1e-4, (name, rel)
    # Activations are not trivially small or constant: the weights are the real ones.
    assert ours["relu4_2"].std() > 1.0 and (ours["relu1_2"] > 0).mean() > 0.2


def test_extract_features_rejects_bad_input(params):
    with pytest.raises(ValueError, match="uint8"):
        nstjax.extract_features(np.zeros((32, 32, 3), np.float32), ["relu1_1"], params=params)
    with pytest.raises(ValueError, match="relu9_9"):
        nstjax.extract_features(np.zeros((32, 32, 3), np.uint8), ["relu9_9"], params=params)


def test_weights_are_the_imagenet_ones(params):
    # Known properties of the Oxford VGG19 file (not of random init): shapes, and the first bias values.
    assert params["conv1_1"]["kernel"].shape == (3, 3, 3, 64)
    assert params["conv5_4"]["kernel"].shape == (3, 3, 512, 512)
    assert len(params) == 16
    np.testing.assert_allclose(params["conv1_1"]["bias"][:3], [0.7301776, 0.0649363, 0.0342885], rtol=1e-6)
