"""Run noise from replicate seeds: how far two runs of the same variant, pair and ratio land apart.

With r_g runs (different ``seed``) in a group g = (variant, content, style, ratio), the pooled within-group SD
of the log distance is

    s = √( Σ_g Σ_k (y_gk − ȳ_g)² / Σ_g (r_g − 1) ),   y = log distance,

the one-way ANOVA's root residual mean square (its df Σ_g (r_g − 1)): a relative SD (0.02 ≈ 2% of the distance),
comparable across pairs and metrics. At one ratio replicates also move along the frontier, so this is the noise
of a run, not of the frontier; it is what the Pareto filter would select on, and what the crossed model's
residual variance absorbs in the primary Δ.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def run_noise(
    rows: list[dict], metrics: Sequence[str] = ("style_gram", "style_swd"), seed_key: str = "seed"
) -> list[dict[str, Any]]:
    """Per variant and distance (``content_distance`` and each of ``metrics``): {"variant", "metric", "sd" (the
    pooled SD of the log distance between replicates), "df", "groups" (variant, pair, ratio with ≥ 2 placed
    replicates), "runs" (in those groups)}; "sd" None where no group has two. Rows without ``seed_key`` or with a
    distance that is missing or ≤ 0 are left out. Pure: no I/O."""
    groups: dict[tuple[str, str, str, str, float], list[float]] = {}
    variants: list[str] = []
    names = ("content_distance", *[m for m in metrics if m != "content_distance"])
    for row in rows:
        if row.get(seed_key) is None:
            continue
        variant = str(row["variant"])
        if variant not in variants:
            variants.append(variant)
        for name in names:
            v = row.get(name)
            if v is None or not np.isfinite(float(v)) or float(v) <= 0:
                continue
            key = (variant, name, str(row["content"]), str(row["style"]), float(row["ratio"]))
            groups.setdefault(key, []).append(float(np.log(float(v))))
    out = []
    for variant in variants:
        for name in names:
            ss, df, n_groups, runs = 0.0, 0, 0, 0
            for key, values in groups.items():
                if key[:2] == (variant, name) and len(values) >= 2:
                    y = np.asarray(values)
                    ss += float(((y - y.mean()) ** 2).sum())
                    df += y.size - 1
                    n_groups += 1
                    runs += y.size
            out.append(
                {
                    "variant": variant,
                    "metric": name,
                    "sd": float(np.sqrt(ss / df)) if df else None,
                    "df": df,
                    "groups": n_groups,
                    "runs": runs,
                }
            )
    return out
