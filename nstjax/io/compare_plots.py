"""A comparison's figures: every pair's trade-off frontiers (``frontiers_png``) and each variant's delta with its
interval (``forest_png``). Figures are built without pyplot's global state, so they are safe beside other work."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FormatStrFormatter, LogLocator, NullLocator

from nstjax.io.atomic import write_atomic
from nstjax.stats.frontier import curve, pareto, placed


def _name(variant: str) -> str:
    return variant if variant else "(defaults)"


def _first_seen(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _save(fig: Figure, path: str | Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return write_atomic(path, lambda f: f.write(buf.getvalue()))


def frontiers_figure(rows: list[dict], metric: str) -> Figure:
    """Small multiples, one panel per (content, style) pair (contents down, styles across), each variant in its
    colour: its Pareto points (filled), the runs off the frontier (hollow) and the PCHIP curve the delta is
    computed on. Content distance on a log axis (the interpolation's axis), ``metric`` on a linear one (the
    delta's units), so the vertical gap drawn is the gap averaged."""
    contents = _first_seen([str(r["content"]) for r in rows])
    styles = _first_seen([str(r["style"]) for r in rows])
    variants = _first_seen([str(r["variant"]) for r in rows])
    colours = {v: f"C{i % 10}" for i, v in enumerate(variants)}
    width, height = 2.8 * len(styles) + 0.5, 2.4 * len(contents) + 0.8
    fig = Figure(figsize=(width, height))
    # Fixed margins in inches: a constrained layout measured every tick label and doubled the drawing time.
    fig.subplots_adjust(
        left=0.6 / width, right=1 - 0.15 / width, bottom=0.95 / height, top=1 - 0.3 / height, wspace=0.3, hspace=0.45
    )
    axes = fig.subplots(len(contents), len(styles), squeeze=False)
    for (i, c), (j, s) in itertools.product(enumerate(contents), enumerate(styles)):
        ax = axes[i, j]
        pair = [r for r in rows if str(r["content"]) == c and str(r["style"]) == s]
        if not pair:
            ax.set_visible(False)
            continue
        set_aside = []
        for v in variants:
            runs = [r for r in pair if str(r["variant"]) == v]
            # As the statistics do: a run at a distance ≤ 0 (the content image itself) has no place on the log
            # axis; it is set aside and said in the panel.
            x, y, off_axis = placed(
                [r["content_distance"] for r in runs], [np.nan if r.get(metric) is None else r[metric] for r in runs]
            )
            if off_axis:
                set_aside.append((v, off_axis))
            px, py = pareto(x, y)
            ax.plot(px, py, "o", color=colours[v], markersize=3.5)
            on = set(zip(px.tolist(), py.tolist(), strict=True))
            off = np.array(
                [np.isfinite(a) and np.isfinite(b) and (a, b) not in on for a, b in zip(x, y, strict=True)], dtype=bool
            )
            if off.any():
                ax.scatter(x[off], y[off], s=12, facecolors="none", edgecolors=colours[v], linewidths=0.8)
            f = curve(x, y)
            if f is not None:
                t = np.linspace(f.x[0], f.x[-1], 100)
                ax.plot(np.exp(t), f(t), "-", color=colours[v], linewidth=1.2)
            else:
                ax.plot([], [], "-", color=colours[v])  # one curve artist per variant in every panel
        if set_aside:
            note = ", ".join(f"{n} at 0" for _, n in set_aside)
            ax.text(
                0.98,
                0.97,
                note,
                transform=ax.transAxes,
                ha="right",
                va="top",
                fontsize=6,
                color=colours[set_aside[0][0]] if len(set_aside) == 1 else "0.3",
            )
        ax.set_xscale("log")
        # A sweep spans about a decade of content distance: a few labelled ticks, no minor ones (those, with
        # their labels, were most of the drawing time).
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_title(f"{c} × {s}", fontsize=8)
        ax.tick_params(labelsize=7)
        if i == len(contents) - 1:
            ax.set_xlabel("content distance", fontsize=8)
        if j == 0:
            ax.set_ylabel(metric, fontsize=8)
    handles = [Line2D([], [], marker="o", color=colours[v]) for v in variants]
    fig.legend(
        handles,
        [_name(v) for v in variants],
        loc="lower center",
        ncols=min(len(variants), 5),
        fontsize=8,
        frameon=False,
    )
    return fig


def frontiers_png(rows: list[dict], path: str | Path, metric: str) -> Path:
    """Writes ``frontiers_figure(rows, metric)`` to ``path`` (PNG, atomically)."""
    return _save(frontiers_figure(rows, metric), path)


def forest_figure(summary: dict) -> Figure:
    """One panel per metric: each variant's primary delta (log style distance) against the baseline at matched
    content with its 95% interval, a zero line and the equivalence margin (dotted); filled where the verdict is
    ``better`` or ``worse``, a square where it is ``equivalent``, hollow where ``undetermined``; variants without
    a delta are named, not drawn."""
    metrics = list(summary["metrics"])
    variants = [v for v in summary["variants"] if v != summary["baseline"]]
    fig = Figure(figsize=(3.6 * len(metrics) + 1.2, 0.45 * len(variants) + 1.3), layout="constrained")
    axes = fig.subplots(1, len(metrics), squeeze=False, sharey=True)[0]
    for ax, metric in zip(axes, metrics, strict=True):
        by_variant = {c["variant"]: c for c in summary["comparisons"] if c["metric"] == metric}
        for k, v in enumerate(variants):
            c = by_variant.get(v)
            if c is None or c["delta"] is None:
                continue
            lo, hi = c["ci95"] or (None, None)
            verdict = c.get("verdict")
            err = None if lo is None else [[c["delta"] - lo], [hi - c["delta"]]]
            ax.errorbar(
                [c["delta"]],
                [k],
                xerr=err,
                fmt="s" if verdict == "equivalent" else "o",
                color="C0",
                capsize=3,
                markerfacecolor="C0" if verdict in ("better", "worse", "equivalent") else "white",
            )
            if c.get("margin"):
                for edge in (-c["margin"], c["margin"]):
                    ax.axvline(edge, color="0.6", linewidth=0.7, linestyle=":")
        ax.axvline(0.0, color="0.4", linewidth=0.8, linestyle="--")
        ax.set_yticks(range(len(variants)), [_name(v) for v in variants], fontsize=8)
        ax.set_ylim(len(variants) - 0.5, -0.5)
        ax.set_title(metric, fontsize=9)
        ax.set_xlabel(f"Δ log {metric} at matched content", fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
    fig.suptitle(
        f"against {_name(summary['baseline'])} over {summary['pairs']} pairs, 95% intervals\n"
        "filled: better/worse; square: equivalent within the dotted margin; hollow: undetermined (compare.md)",
        fontsize=9,
    )
    return fig


def forest_png(summary: dict, path: str | Path) -> Path:
    """Writes ``forest_figure(summary)`` to ``path`` (PNG, atomically)."""
    return _save(forest_figure(summary), path)
