"""What every style statistic shares: the registry entry's shape, second moments, blending, units."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

Stats = dict  # a pytree of arrays summarising one style image's features at one layer

HIGHEST = jax.lax.Precision.HIGHEST
JOINT = "all_style_layers"  # the targets' key of a statistic over all style layers at once (``Statistic.joint``)


class Statistic(NamedTuple):
    describe: Callable[[jax.Array], Stats]  # style features (M × N) -> summary
    mix: Callable[[Sequence[Stats], Sequence[float]], Stats]  # several styles' summaries, blend weights
    distance: Callable[..., jax.Array]  # (X, stats, mask (M,) | None, key) -> mean squared difference
    masks: bool = True  # supports ``style_masks``
    stochastic: bool = False  # needs fresh random numbers each iteration (``key``)
    batches: bool = True  # runs of a sweep may share one batched program (``nstjax.run.batch``)
    spatial: bool = False  # describe and distance take H×W×C maps, not M × N (mrf: 3×3 patches)
    layers: tuple[str, ...] | None = None  # its paper's style layers, used while ``style_layers`` is ``paper``
    at: Callable[[str], Statistic] | None = None  # the statistic at a named layer, where it differs (hist)
    options: Callable[..., Statistic] | None = None  # it, with the keys of its config block (``mrf.stride``)
    copies: Callable[[np.ndarray], list[np.ndarray]] | None = None  # style images described together (mrf)
    blend: bool = True  # honours ``style_blend`` weights (mrf matches in the union of the styles' patches)
    # One term over all style layers at once: their H×W×C maps -> one M × D matrix that describe and
    # distance then read (remd: hypercolumns at the key's positions; key None: the style's grid).
    joint: Callable[[Mapping[str, jax.Array], jax.Array | None], jax.Array] | None = None
    # A summary made of the features' first two moments (gram, mean_std, w2), sums over positions that
    # ``tile=N`` adds up tile by tile (nstjax.objective.tiled): the summary from the mean (N,) and second
    # moment (N×N), and ``distance`` as a function of the output's summary: distance(X, t) = compare(describe(X), t).
    from_moments: Callable[[jax.Array, jax.Array], Stats] | None = None
    compare: Callable[[Stats, Stats], jax.Array] | None = None
    # Positions each side of a style layer's map needs (mrf: its 3×3 patches), in the output and the style image,
    # so that a comparison can refuse a doomed size before its first run (``compiled.check_shapes``).
    min_positions: int = 1

    @property
    def tileable(self) -> bool:
        """Whether ``tile=N`` evaluates it exactly: its summary is a function of sums over positions."""
        return self.from_moments is not None and self.compare is not None


def at_layer(stat: Statistic, layer: str) -> Statistic:
    """The statistic used at ``layer``: the same at every layer, unless it says otherwise (``at``)."""
    return stat if stat.at is None else stat.at(layer)


def layout(stat: Statistic, f: jax.Array) -> jax.Array:
    """One layer's H×W×C features as the statistic reads them: the map (``spatial``), else M × N."""
    return f if stat.spatial else f.reshape(-1, f.shape[-1])


def configured(stat: Statistic, options: Mapping[str, Any] | None = None) -> Statistic:
    """The statistic with its config block's keys (``mrf: {stride: 1}``); ValueError (one line) on a bad one."""
    return stat if stat.options is None or not options else stat.options(**options)


def second_moment(x: jax.Array, weight: jax.Array | None = None) -> jax.Array:
    """S = Xᵀ X / M (N×N): the Gram matrix G = F Fᵀ divided by the positions (or a mask's area)."""
    if weight is not None:
        x = x * weight[:, None]
        return jnp.einsum("mi,mj->ij", x, x, precision=HIGHEST) / jnp.maximum(jnp.sum(weight), 1.0)
    return jnp.einsum("mi,mj->ij", x, x, precision=HIGHEST) / x.shape[0]


def linear_mix(stats: Sequence[Stats], blend: Sequence[float]) -> Stats:
    """Blends summaries that are expectations (means, second moments): the statistics of the mixture."""
    return jax.tree.map(lambda *xs: sum(w * x for w, x in zip(blend, xs, strict=True)), *stats)


def energy(second_diag: jax.Array) -> jax.Array:
    """e = mean_i E[x_i²]: the style's mean channel energy, the unit that puts first and second-order
    statistics in the Gram term's units (activation⁴)."""
    return jnp.mean(second_diag)


def sqrtm_psd(m: np.ndarray) -> np.ndarray:
    """The symmetric square root of a positive semi-definite matrix (eigenvalues clamped at 0), host-side."""
    vals, vecs = np.linalg.eigh((m + m.T) / 2)
    return (vecs * np.sqrt(np.maximum(vals, 0.0))) @ vecs.T
