"""A Flax VGG19 feature extractor returning activations by canonical layer name.

No file I/O here: the weights come in as a params pytree (see ``nstjax.io.weights``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import flax.linen as nn
import jax
import jax.numpy as jnp

from nstjax.model.layers import BLOCKS, ORDER, deepest
from nstjax.model.pooling import POOLING

# The Caffe/Keras weights expect BGR, 0..255, minus the ImageNet channel means (in BGR order).
BGR_MEAN = (103.939, 116.779, 123.68)


def preprocess(rgb: jax.Array) -> jax.Array:
    """RGB in 0..255 (float, ...HW3) to the network's input: BGR, mean-subtracted. The one place this happens."""
    return rgb[..., ::-1] - jnp.asarray(BGR_MEAN, rgb.dtype)


def conv_direct(x: jax.Array, kernel: jax.Array) -> jax.Array:
    # Zero padding 1, as Caffe's VGG19 prototxt.
    return jax.lax.conv_general_dilated(x, kernel, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))


class Conv3x3(nn.Module):
    features: int
    winograd: bool = False  # use the pre-transformed kernels (see nstjax.model.winograd) instead of "kernel"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        if self.winograd:
            from nstjax.model.winograd import conv_winograd

            shape = (6, 6, x.shape[-1], self.features)
            u = self.param("winograd", nn.initializers.zeros, shape)
            u_t = self.param("winograd_t", nn.initializers.zeros, shape[:2] + shape[2:][::-1])
            return conv_winograd(x, u, u_t) + bias
        kernel = self.param("kernel", nn.initializers.lecun_normal(), (3, 3, x.shape[-1], self.features))
        return conv_direct(x, kernel) + bias


class VGG19(nn.Module):
    """VGG19's 16 convolutions; computes only up to the deepest requested layer.

    ``pooling``: a name in ``nstjax.model.pooling.POOLING`` ("avg" is the paper's choice for synthesis, "max"
    the network as trained). Input: preprocessed NHWC (see ``preprocess``).
    """

    layers: Sequence[str]
    pooling: str = "max"
    winograd_layers: frozenset[str] = frozenset()

    @nn.compact
    def __call__(self, x: jax.Array) -> dict[str, jax.Array]:
        wanted, last = set(self.layers), deepest(self.layers)
        out: dict[str, jax.Array] = {}

        def keep(name: str, value: jax.Array) -> bool:
            if name in wanted:
                out[name] = value
            return name == last

        for b, (channels, count) in enumerate(BLOCKS, 1):
            for i in range(1, count + 1):
                name = f"conv{b}_{i}"
                x = Conv3x3(channels, name in self.winograd_layers, name=name)(x)
                if keep(name, x):
                    return out
                x = nn.relu(x)
                if keep(f"relu{b}_{i}", x):
                    return out
            x = POOLING[self.pooling](x)
            if keep(f"pool{b}", x):
                return out
        return out


def features(
    params: dict,
    image: jax.Array,
    layers: Sequence[str],
    pooling: str = "max",
    winograd_layers: frozenset[str] = frozenset(),
) -> dict[str, jax.Array]:
    """Activations of an RGB 0..255 image (HW3 or NHW3) at ``layers``; pure, jit it at the call site.

    ``winograd_layers`` need their transformed kernels in ``params`` (``nstjax.model.winograd.with_transforms``).
    """
    batched = image.ndim == 4
    x = preprocess(image if batched else image[None])
    net = VGG19(tuple(sorted(set(layers), key=ORDER.index)), pooling, winograd_layers)
    out = cast(dict[str, jax.Array], net.apply({"params": params}, x))  # apply's type covers mutable collections
    return out if batched else {k: v[0] for k, v in out.items()}
