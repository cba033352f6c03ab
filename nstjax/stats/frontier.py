"""Trade-off frontiers and the Bjøntegaard delta between two of them.

A frontier is one variant's runs on one (content, style) pair over a ratio sweep: the points (content distance,
style distance) by the yardstick, both lower is better. Only its Pareto points count (a run another run beats on
both distances is not on the trade-off), and between them the frontier is the monotone PCHIP interpolant
(Fritsch & Carlson 1980), so the curve never invents a wiggle the runs did not show.

Two frontiers are compared as video codecs' rate–distortion curves are (Bjøntegaard, VCEG-M33, 2001): the mean
vertical gap over the overlapping horizontal range, the integral of the difference divided by the range's width.
At matched content the horizontal axis is the content distance and the gap is in style distance; at matched style
the roles swap.

The horizontal axis is the **logarithm** of the distance (the gap stays in linear units of the other distance,
so a delta reads in the yardstick's own units). Why log, as BD-rate takes log rate: the ratio is swept in log
steps and both distances fall roughly as powers of it, so the runs sit about evenly in log distance; on a linear
axis the average would be dominated by the stretch of the curve where the distance is largest (the most stylised
runs) and would hang on the one or two runs there, whereas per unit of log distance each factor of two in
content kept weighs the same wherever it lies. ``log_x=False`` gives the linear construction. A distance ≤ 0 on
the log axis (a run that returned the content image itself) has no place on it: ``curve`` gives no curve for
points that hold one, and callers set such runs aside with ``placed`` and count them, never silently.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.interpolate import PchipInterpolator


def pareto(x: ArrayLike, y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """The non-dominated points of (x, y), both lower is better, sorted by x ascending (so y strictly descending).

    A point is kept when no other point has x' ≤ x and y' ≤ y with one of them strict; of equal points one is
    kept. Points with a non-finite coordinate (a run that failed) are dropped first."""
    xs = np.asarray(x, dtype=float).ravel()
    ys = np.asarray(y, dtype=float).ravel()
    if xs.shape != ys.shape:
        raise ValueError(f"pareto: x and y differ in length ({xs.size} vs {ys.size})")
    finite = np.isfinite(xs) & np.isfinite(ys)
    xs, ys = xs[finite], ys[finite]
    order = np.lexsort((ys, xs))  # by x, ties by y
    xs, ys = xs[order], ys[order]
    # Sorted so, a point survives iff its y is below every y before it (those have x' ≤ x).
    best_before = np.concatenate([[np.inf], np.minimum.accumulate(ys)[:-1]])
    keep = ys < best_before
    return xs[keep], ys[keep]


def placed(x: ArrayLike, y: ArrayLike) -> tuple[np.ndarray, np.ndarray, int]:
    """The points log axes can place (both distances > 0; a non-finite one is kept, ``pareto`` skips it) and how
    many were set aside for a distance ≤ 0."""
    xs = np.asarray(x, dtype=float).ravel()
    ys = np.asarray(y, dtype=float).ravel()
    off = (np.isfinite(xs) & (xs <= 0)) | (np.isfinite(ys) & (ys <= 0))
    return xs[~off], ys[~off], int(off.sum())


def curve(x: ArrayLike, y: ArrayLike, log_x: bool = True) -> PchipInterpolator | None:
    """y as a monotone function of t = log x (or x when ``log_x`` is false): PCHIP through the Pareto points
    of (x, y); None when the frontier has fewer than two Pareto points, or, on the log axis, when a Pareto point
    has x ≤ 0 (log x is −∞ or undefined: no curve, not an error)."""
    px, py = pareto(x, y)
    if px.size < 2:
        return None
    if log_x:
        if np.any(px <= 0):
            return None
        px = np.log(px)
    return PchipInterpolator(px, py, extrapolate=False)


def gap(f_base: PchipInterpolator | None, f_var: PchipInterpolator | None) -> float:
    """The mean of f_var − f_base over the overlap of the two curves' ranges (each from ``curve``): the integral
    of the difference divided by the overlap's width, exact for the piecewise cubics. NaN when either curve is
    None or the ranges do not overlap (touching at one point is no overlap). Antisymmetric: swapping the curves
    negates it exactly, so two variants that are the same in distribution give a delta symmetric about 0."""
    if f_base is None or f_var is None:
        return float("nan")
    lo = max(f_base.x[0], f_var.x[0])
    hi = min(f_base.x[-1], f_var.x[-1])
    if not hi > lo:
        return float("nan")
    return float((f_var.integrate(lo, hi) - f_base.integrate(lo, hi)) / (hi - lo))


def overlap_share(f_base: PchipInterpolator | None, f_var: PchipInterpolator | None) -> float:
    """The width of the overlap of the two curves' ranges over the width of their union, on the axis the gap is
    averaged over (log x for ``curve``'s default): max(0, min(hi) − max(lo)) / (max(hi) − min(lo)), as the
    ``min_overlap`` check of FAU-LMS/bjontegaard. 1: the frontiers span the same range; near 0: the gap rests on
    a sliver of either. NaN when either curve is None."""
    if f_base is None or f_var is None:
        return float("nan")
    lo, hi = max(f_base.x[0], f_var.x[0]), min(f_base.x[-1], f_var.x[-1])
    union = max(f_base.x[-1], f_var.x[-1]) - min(f_base.x[0], f_var.x[0])
    return float(max(0.0, hi - lo) / union)


def bd_delta(x_base: ArrayLike, y_base: ArrayLike, x_var: ArrayLike, y_var: ArrayLike, log_x: bool = True) -> float:
    """The Bjøntegaard delta of the variant's frontier against the baseline's, in units of y:

        Δ = 1/(t_hi − t_lo) ∫_{t_lo}^{t_hi} (f_var(t) − f_base(t)) dt,   t = log x (x when ``log_x`` is false),

    f the PCHIP through each frontier's Pareto points (``curve``), [t_lo, t_hi] the overlap of the two frontiers'
    ranges of t (no extrapolation). Negative: the variant reaches a lower y at the same x. NaN when either frontier
    has no curve (fewer than two Pareto points, or an x ≤ 0 on the log axis) or the ranges do not overlap;
    callers count those."""
    return gap(curve(x_base, y_base, log_x), curve(x_var, y_var, log_x))


def delta_matched_content(
    content_base: ArrayLike, style_base: ArrayLike, content_var: ArrayLike, style_var: ArrayLike, log_x: bool = True
) -> float:
    """The variant's style distance minus the baseline's at matched content distance, averaged over the
    overlapping range of log content distance (``bd_delta`` with x = content, y = style). Negative: closer to the
    style for the same content kept."""
    return bd_delta(content_base, style_base, content_var, style_var, log_x)


def delta_matched_style(
    content_base: ArrayLike, style_base: ArrayLike, content_var: ArrayLike, style_var: ArrayLike, log_x: bool = True
) -> float:
    """The variant's content distance minus the baseline's at matched style distance, averaged over the
    overlapping range of log style distance (``bd_delta`` with x = style, y = content; the Pareto points are the
    same, the inverse of a decreasing frontier being decreasing). Negative: more content kept for the same style."""
    return bd_delta(style_base, content_base, style_var, content_var, log_x)
