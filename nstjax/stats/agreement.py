"""Whether a comparison's answer holds at another size: the same pairs' Δ at two image sizes, compared by sign and
by rank. Pure functions over ``summarize``'s per-pair tables; no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats


def per_pair_deltas(comparison: dict[str, Any]) -> dict[tuple[str, str], float]:
    """(content, style) → Δ of one comparison of ``summarize``'s output (pairs without a Δ left out)."""
    return {(p["content"], p["style"]): float(p["delta"]) for p in comparison["per_pair"] if p.get("delta") is not None}


def agreement(a: dict[tuple[str, str], float], b: dict[tuple[str, str], float]) -> dict[str, Any]:
    """How far two sizes' per-pair Δ agree, over the pairs both have: ``pairs``; ``sign`` (the share whose Δ has
    the same sign at both); ``spearman`` (Spearman's rank correlation ρ, with its two-sided ``spearman_p``: do
    the pairs that gain most at one size gain most at the other); ``mean_a``, ``mean_b`` (the mean Δ of each)."""
    shared = sorted(set(a) & set(b))
    x, y = np.array([a[k] for k in shared]), np.array([b[k] for k in shared])
    out: dict[str, Any] = {"pairs": len(shared), "sign": None, "spearman": None, "spearman_p": None}
    out["mean_a"], out["mean_b"] = (float(v.mean()) if v.size else None for v in (x, y))
    if len(shared) >= 1:
        out["sign"] = float(np.mean(np.sign(x) == np.sign(y)))
    if len(shared) >= 3 and np.ptp(x) > 0 and np.ptp(y) > 0:
        rho, p = stats.spearmanr(x, y)
        out["spearman"], out["spearman_p"] = float(rho), float(p)
    return out


def across_sizes(summaries: dict[int, dict[str, Any]], metrics: Sequence[str]) -> dict[str, Any]:
    """Per metric and variant, every pair of sizes' ``agreement`` (``summaries``: size → ``summarize`` output of
    the same variants on the same pairs), keyed ``"64-128"``."""
    sizes = sorted(summaries)
    out: dict[str, Any] = {}
    for metric in metrics:
        for c in summaries[sizes[0]]["comparisons"]:
            if c["metric"] != metric:
                continue
            by_size = {
                s: next(
                    d for d in summaries[s]["comparisons"] if d["metric"] == metric and d["variant"] == c["variant"]
                )
                for s in sizes
            }
            out.setdefault(metric, {})[c["variant"]] = {
                f"{s}-{t}": agreement(per_pair_deltas(by_size[s]), per_pair_deltas(by_size[t]))
                for i, s in enumerate(sizes)
                for t in sizes[i + 1 :]
            }
    return out
