"""The style-transfer objective as a compiled function, and its targets.

The jit boundary: structural choices (layers, pooling, convolution algorithm) are bound by closure and
select the compiled program; everything numeric (weights, targets, the loss weights α, β, TV) is data, so
jobs that differ only in ratio or TV weight reuse one compilation in one process.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from nstjax.model import vgg
from nstjax.model.layers import ORDER, deepest
from nstjax.objective import losses
from nstjax.objective.content import CONTENT_LOSSES
from nstjax.objective.conventions import CONVENTIONS
from nstjax.objective.statistics import STYLE_LOSSES
from nstjax.objective.statistics.base import Statistic, Stats, at_layer, configured


def enable_compilation_cache(folder: str | None = None) -> None:
    """Keeps compiled programs on disk (beside the weights cache), so a later run or another job of a
    sweep with the same shapes and layers skips XLA's compilation (seconds to tens of seconds).
    ``NSTJAX_COMPILATION_CACHE=0`` turns it off."""
    import os

    from nstjax.machine import cache_dir

    if os.environ.get("NSTJAX_COMPILATION_CACHE", "1") == "0":
        return
    jax.config.update("jax_compilation_cache_dir", folder or str(cache_dir() / "xla"))
    # Every program, not only those over JAX's default 1 s: a run builds ~40 small ones (the yardstick's per
    # layer, L-BFGS's steps) that together cost seconds; a 64 px CLI run with a warm cache took 10.2 s with the
    # default and 3.9 s with all kept (2-core AMD EPYC Zen 3).
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


@dataclass(frozen=True)
class Spec:
    """What fixes the compiled program (besides array shapes)."""

    content_layers: tuple[str, ...] = ("relu4_2",)
    style_layers: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    pooling: str = "avg"  # a name in nstjax.model.pooling.POOLING
    conv: str = "auto"  # "auto" (Winograd on the deep layers) | "direct" | "winograd" (see nstjax.model.winograd)
    style_loss: str = "gram"  # a name in nstjax.objective.statistics.STYLE_LOSSES
    convention: str = "paper"  # a name in nstjax.objective.conventions.CONVENTIONS
    style_options: tuple = ()  # (key, value) pairs of the statistic's config block (mrf: stride, rotations, scales)
    content_loss: str = "mse"  # a name in nstjax.objective.content.CONTENT_LOSSES

    @property
    def layers(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.content_layers) | set(self.style_layers), key=ORDER.index))


class Targets(NamedTuple):
    content: dict[str, jax.Array]  # P_l at the content layers
    style: dict[str, dict]  # the style statistic's summary per style layer (blended over style images)
    layer_weights: dict[str, jax.Array]  # w_l
    regions: tuple = ()  # with masks: (blend weight, summaries, mask_l) per style image, instead of ``style``


class Data(NamedTuple):
    """Everything the compiled objective reads: one pytree, passed as an argument."""

    params: dict
    targets: Targets
    weights: losses.Weights
    key: jax.Array | None = (
        None  # PRNG key data for a stochastic statistic (swd): new each iteration, fixed in a line search
    )


def winograd_layers(spec: Spec, image_shape: tuple[int, ...]) -> frozenset[str]:
    """Which convolutions run as Winograd for this spec and image size (a static, trace-time choice)."""
    if spec.conv == "direct" or (spec.conv == "auto" and jax.default_backend() != "cpu"):
        return frozenset()  # on GPUs, cuDNN's direct convolutions are already the fast path
    from nstjax.model import winograd
    from nstjax.objective import tune

    if spec.conv == "auto" and tune.enabled():
        chosen = tune.conv_plan(image_shape)  # measured on this machine, per layer shape
    else:
        chosen = winograd.plan(image_shape, every_layer=spec.conv == "winograd")
    # Only the convolutions the network runs (it stops at the deepest requested layer): transforming
    # conv5_2..conv5_4 for the paper's layers held ~0.2 GB of kernels that were never read.
    last = ORDER.index(deepest(spec.layers))
    return frozenset(n for n in chosen if ORDER.index(n) <= last)


_prepared: dict[tuple[int, frozenset], tuple[dict, dict]] = {}


def prepare_params(spec: Spec, params: dict, image_shape: tuple[int, ...]) -> dict:
    """The params the compiled objective needs for this image size: Winograd-transformed kernels added.

    Memoised per params object and layer set, so the jobs of a sweep transform the kernels once.
    """
    layers = winograd_layers(spec, image_shape)
    if not layers:
        return params
    key = (id(params), layers)
    if key not in _prepared or _prepared[key][0] is not params:
        from nstjax.model import winograd

        _prepared[key] = (params, winograd.with_transforms(params, layers))
    return _prepared[key][1]


@functools.cache
def feature_fn(pooling: str, layers: tuple[str, ...]) -> Callable:
    """jit(params, image) -> features at ``layers`` (image HW3 or NHW3, RGB 0..255), direct convolution:
    targets are computed once, so the Winograd kernels' preparation would not pay off."""
    return jax.jit(lambda params, image: vgg.features(params, image, layers, pooling))


@functools.cache
def loss_fn(spec: Spec) -> Callable[[Data, jax.Array], tuple[jax.Array, dict]]:
    """The pure objective ``(data, image) -> (total, terms)``; trace it, jit it, vmap it."""

    def loss(data: Data, image: jax.Array) -> tuple[jax.Array, dict]:
        feats = vgg.features(data.params, image, spec.layers, spec.pooling, winograd_layers(spec, image.shape))
        t = data.targets
        key = None if data.key is None else jax.random.wrap_key_data(data.key)
        return losses.total_loss(
            feats,
            image,
            t.content,
            t.style,
            t.layer_weights,
            data.weights,
            t.regions,
            spec.style_loss,
            spec.convention,
            key,
            spec.content_loss,
        )

    return loss


def stochastic(spec: Spec) -> bool:
    """Whether the objective draws new random numbers each iteration (``Data.key``): swd's directions,
    remd's and cx's sampled positions, the self-similarity content loss's."""
    return STYLE_LOSSES[spec.style_loss].stochastic or CONTENT_LOSSES[spec.content_loss].stochastic


def batches(spec: Spec) -> bool:
    """Whether runs of ``spec`` can share one batched program: not when the objective draws per-iteration
    random numbers (each run's own), nor for a statistic that says it does not batch (w2)."""
    return not stochastic(spec) and STYLE_LOSSES[spec.style_loss].batches


def jit_value_and_grad(loss: Callable[[Any, jax.Array], tuple[jax.Array, dict]]) -> Callable:
    """jit((data, image) -> (total, terms, gradient)) of a ``loss(data, image) -> (total, terms)``."""
    vg = jax.value_and_grad(loss, argnums=1, has_aux=True)

    @jax.jit
    def fg(data: Any, image: jax.Array) -> tuple[jax.Array, dict[str, jax.Array], jax.Array]:
        (total, terms), grad = vg(data, image)
        return total, terms, grad

    return fg


@functools.cache
def value_and_grad_fn(spec: Spec) -> Callable[[Data, jax.Array], tuple[jax.Array, dict, jax.Array]]:
    """jit((data, image) -> (total, terms, gradient)): one full forward+backward pass."""
    return jit_value_and_grad(loss_fn(spec))


def make_targets(
    params: dict,
    spec: Spec,
    content: np.ndarray,
    styles: list[np.ndarray],
    blend: list[float] | None = None,
    layer_weights: dict[str, float] | None = None,
    masks: list[np.ndarray] | None = None,
) -> Targets:
    """P at the content layers, and the style statistic's summary at the style layers: once per run.

    Several styles mix their summaries with ``blend`` weights (``Statistic.mix``: the mixture's moments).
    Summaries are per position (G/M), so a style image of another size than the output (``style_scale``)
    compares like with like, as the paper's 1/M² normalisation intends.
    """
    stat = configured(STYLE_LOSSES[spec.style_loss], dict(spec.style_options))
    content_feats = feature_fn(spec.pooling, spec.content_layers)(params, jnp.asarray(content, jnp.float32))
    blend = blend or [1.0 / len(styles)] * len(styles)
    lw = style_layer_weights(spec, layer_weights)
    described = [describe_style(params, spec, stat, style) for style in styles]
    if masks is not None:
        regions = tuple(
            (jnp.float32(w), d, layer_masks_of(m, spec.style_layers))
            for w, d, m in zip(blend, described, masks, strict=True)
        )
        return Targets(dict(content_feats), {}, lw, regions)
    mixed = {name: at_layer(stat, name).mix([d[name] for d in described], blend) for name in described[0]}
    return Targets(dict(content_feats), mixed, lw)


def describe_style(params: dict, spec: Spec, stat: Statistic, style: np.ndarray) -> dict[str, Stats]:
    """One style image's summary at each style layer. A statistic with ``copies`` (mrf: the style rotated
    and scaled) describes the copies together, as one style; each copy's features are freed before the next."""
    summaries = []
    for image in [style] if stat.copies is None else stat.copies(style):
        feats = feature_fn(spec.pooling, spec.style_layers)(params, jnp.asarray(image, jnp.float32))
        summaries.append(losses.style_summaries(stat, feats, spec.style_layers))
    if len(summaries) == 1:
        return summaries[0]
    equal = [1.0] * len(summaries)
    return {name: at_layer(stat, name).mix([s[name] for s in summaries], equal) for name in summaries[0]}


def check_shapes(spec: Spec, shape: tuple[int, int], style_shape: tuple[int, int]) -> None:
    """Refuses (ImageError, one line) an output or style size at which the statistic has too few positions at
    one of its layers (mrf's 3×3 patches), from the shapes alone: what a run finds only when it traces."""
    from nstjax.io.images import ImageError

    stat = configured(STYLE_LOSSES[spec.style_loss], dict(spec.style_options))
    for layer in spec.style_layers:
        need = at_layer(stat, layer).min_positions
        pools = sum(1 for name in ORDER[: ORDER.index(layer) + 1] if name.startswith("pool"))
        for what, (h, w) in (("the output", shape), ("the style image", style_shape)):
            if min(h >> pools, w >> pools) < need:
                raise ImageError(
                    f"style_loss={spec.style_loss} needs {need}×{need} positions at {layer}, but {what} at "
                    f"{w}×{h} px has {w >> pools}×{h >> pools}; use a larger image_size (or style_scale) or "
                    "shallower style_layers"
                )


def style_layer_weights(spec: Spec, layer_weights: dict[str, float] | None) -> dict[str, jax.Array]:
    """w_l per style layer: the given weights, else the convention's (paper: 1/L each)."""
    chosen = layer_weights or CONVENTIONS[spec.convention].layer_weights(spec.style_layers)
    return {k: jnp.float32(v) for k, v in chosen.items()}


def layer_masks_of(mask: np.ndarray, layers: tuple[str, ...]) -> dict[str, jax.Array]:
    """A H×W mask in [0, 1] at each layer's resolution (2×2 averages at each pooling, floor sizes)."""
    out, m = {}, jnp.asarray(mask, jnp.float32)
    for name in ORDER[: max(ORDER.index(n) for n in layers) + 1]:
        if name.startswith("pool"):
            h, w = m.shape[0] // 2, m.shape[1] // 2
            m = m[: 2 * h, : 2 * w].reshape(h, 2, w, 2).mean(axis=(1, 3))
        if name in layers:
            out[name] = m
    return out
