"""The primary per-pair Δ: the gap between two frontiers in the log–log plane, each frontier the broken line through
ALL its runs (no Pareto filter), averaged over the overlap of their ranges of log content distance.

Axis. Both distances are taken as logarithms: t = log content distance, y = log style distance, so

    Δ = 1/(t_hi − t_lo) ∫_{t_lo}^{t_hi} (y_var(t) − y_base(t)) dt

is a mean log ratio of style distances at matched content (Δ = −0.05: about 5% closer to the style for the same
content kept). A pair whose frontier spans 0.4–2.1 and one spanning 0.2–0.75 then weigh alike: multiplying every
distance of a pair by a constant (a style whose Gram matrices are simply larger) shifts both curves by the same
log and leaves Δ as it was, where the metric's own units (``frontier.bd_delta``) weigh pairs by their scale. It
is BD-rate's construction (Bjøntegaard, VCEG-M33, 2001: log rate against quality) with both axes logged, as
rate–distortion comparisons on log–log axes do, and the metrics become unitless, so one margin serves them all.

Fit. Each frontier is the piecewise-linear interpolant of y against t through every run, ordered by t. Why not
the Pareto points (``frontier.pareto``): keeping only the runs that no other run beats selects the low draws of
the run noise, so the noisier variant's frontier sits lower and Δ favours it (no true difference, the variant's
runs 3× noisier: a negative Δ, see tests/test_verdicts.py). The broken line is linear in the y's for given t's,
so E[Δ] is the noise-free Δ whatever each variant's noise: the noise adds variance (which the crossed model
counts), never bias. Why not a smoother: an isotonic fit is nonlinear in y (pooled violators bias its ends by an
amount that grows with the noise), and a least-squares line or quadratic misfits the S-shaped frontiers of a
ratio sweep by an amount that differs between two variants covering other ranges of the same curve (a quadratic:
−0.015 for the same curve reached at twice the content distance, 5 ratios; the broken line: −3·10⁻⁵). No curve
is extended beyond its runs.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def log_points(content: ArrayLike, style: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(log content distance, log style distance) with NaN for a run that log axes cannot place (a distance ≤ 0:
    the content image itself; or not finite: a failed run), and how many runs were set aside for a distance ≤ 0
    (per frontier: summed over the last axis)."""
    c = np.asarray(content, dtype=float)
    s = np.asarray(style, dtype=float)
    off = (np.isfinite(c) & (c <= 0)) | (np.isfinite(s) & (s <= 0))
    ok = np.isfinite(c) & np.isfinite(s) & ~off
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(ok, np.log(np.where(ok, c, 1.0)), np.nan)
        y = np.where(ok, np.log(np.where(ok, s, 1.0)), np.nan)
    return t, y, off.sum(axis=-1)


def _integral_to(ts: np.ndarray, ys: np.ndarray, count: np.ndarray, x: np.ndarray) -> np.ndarray:
    """∫_{t_0}^{x} of the broken line through the sorted points (ts, ys) (NaN-padded at the end, ``count``
    defined), for x in [t_0, t_{count−1}]; batched over the leading axes."""
    dt = np.diff(ts, axis=-1)
    dy = np.diff(ys, axis=-1)
    # A tie in t (two runs at the same content distance) is a segment of no width: it adds nothing.
    slope = np.where(dt > 0, dy / np.where(dt > 0, dt, 1.0), 0.0)
    area = np.where(np.isfinite(dt), 0.5 * (ys[..., 1:] + ys[..., :-1]) * np.where(np.isfinite(dt), dt, 0.0), 0.0)
    cum = np.concatenate([np.zeros(ts.shape[:-1] + (1,)), np.cumsum(area, axis=-1)], axis=-1)
    # The segment holding x: the last knot ≤ x, at most the second-to-last defined one (NaN compares false).
    k = (ts <= x[..., None]).sum(axis=-1) - 1
    k = np.clip(k, 0, np.maximum(count - 2, 0))[..., None]
    t_k = np.take_along_axis(ts, k, axis=-1)[..., 0]
    y_k = np.take_along_axis(ys, k, axis=-1)[..., 0]
    m_k = np.take_along_axis(slope, np.minimum(k, slope.shape[-1] - 1), axis=-1)[..., 0]
    c_k = np.take_along_axis(cum, k, axis=-1)[..., 0]
    u = x - t_k
    return c_k + y_k * u + 0.5 * m_k * u**2


def _sorted(t: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if t.shape[-1] < 2:  # one run or none: padded, so the segment arithmetic has a segment to index
        pad = [(0, 0)] * (t.ndim - 1) + [(0, 2 - t.shape[-1])]
        t, y = np.pad(t, pad, constant_values=np.nan), np.pad(y, pad, constant_values=np.nan)
    defined = np.isfinite(t) & np.isfinite(y)
    t = np.where(defined, t, np.nan)
    order = np.argsort(t, axis=-1, kind="stable")  # NaN last
    return np.take_along_axis(t, order, axis=-1), np.take_along_axis(y, order, axis=-1), defined.sum(axis=-1)


def log_delta(
    t_base: ArrayLike, y_base: ArrayLike, t_var: ArrayLike, y_var: ArrayLike
) -> tuple[np.ndarray | float, np.ndarray | float]:
    """Δ (module docstring) and the overlap share of the two frontiers, from their runs' log distances.

    ``t_*``, ``y_*``: (..., runs) log content and log style distances, NaN where a run has none (padding, a
    failed run, one set aside); the leading axes broadcast, one Δ per frontier pair. The overlap share is the
    overlap's width over the union's, on the t axis (as ``frontier.overlap_share``). Δ is NaN when either
    frontier has fewer than two runs at distinct t or the ranges do not overlap (touching is no overlap); the
    share is NaN when either frontier has no range. Exactly antisymmetric: swapping the frontiers negates Δ."""
    arrays = [np.asarray(a, dtype=float) for a in (t_base, y_base, t_var, y_var)]
    lead = np.broadcast_shapes(*(a.shape[:-1] for a in arrays))
    t_b, y_b, t_v, y_v = (np.broadcast_to(a, lead + a.shape[-1:]) for a in arrays)
    tb, yb, nb = _sorted(t_b, y_b)
    tv, yv, nv = _sorted(t_v, y_v)
    with np.errstate(invalid="ignore"):
        lo_b, hi_b = tb[..., 0], np.where(np.isfinite(tb), tb, -np.inf).max(axis=-1)
        lo_v, hi_v = tv[..., 0], np.where(np.isfinite(tv), tv, -np.inf).max(axis=-1)
    has_b = (nb >= 2) & (hi_b > lo_b)
    has_v = (nv >= 2) & (hi_v > lo_v)
    lo, hi = np.maximum(lo_b, lo_v), np.minimum(hi_b, hi_v)
    ok = has_b & has_v & (hi > lo)
    # Outside ``ok`` the arithmetic runs on placeholders and is masked: every frontier pair in one pass.
    a, b = np.where(ok, lo, 0.0), np.where(ok, hi, 0.0)
    width = np.where(ok, hi - lo, 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_v = (_integral_to(tv, yv, nv, b) - _integral_to(tv, yv, nv, a)) / width
        mean_b = (_integral_to(tb, yb, nb, b) - _integral_to(tb, yb, nb, a)) / width
        delta = np.where(ok, mean_v - mean_b, np.nan)
        union = np.maximum(hi_b, hi_v) - np.minimum(lo_b, lo_v)
        share = np.where(has_b & has_v, np.maximum(0.0, hi - lo) / np.where(union > 0, union, 1.0), np.nan)
    if np.ndim(delta) == 0:
        return float(delta), float(share)
    return delta, share


def pair_log_delta(
    content_base: ArrayLike, style_base: ArrayLike, content_var: ArrayLike, style_var: ArrayLike
) -> tuple[np.ndarray | float, np.ndarray | float, np.ndarray | int]:
    """``log_delta`` from the runs' raw distances (both > 0 to be placed), with the runs set aside for a
    distance ≤ 0, both frontiers together: (Δ, overlap share, set aside)."""
    tb, yb, off_b = log_points(content_base, style_base)
    tv, yv, off_v = log_points(content_var, style_var)
    delta, share = log_delta(tb, yb, tv, yv)
    off = off_b + off_v
    return delta, share, (int(off) if np.ndim(off) == 0 else off)
