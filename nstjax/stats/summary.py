"""A comparison's numbers from its table of runs: per variant and yardstick metric, the delta against the baseline
at matched content with its interval, p-values and breakdowns (``summarize``), and the ranked table (``to_markdown``).

The values ``summarize`` returns are JSON-ready: a number that is undefined (no pair compared) is None, not NaN.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from nstjax.stats.frontier import delta_matched_content, delta_matched_style
from nstjax.stats.inference import bootstrap_ci, crossed_mean, holm, sign_flip_p

ROW_KEYS = ("content", "style", "variant", "ratio", "content_distance")


def _num(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _value(row: dict, key: str) -> float:
    v = row.get(key)
    return float("nan") if v is None else float(v)


def _seed(seed: int, *names: str) -> int:
    """A seed for one comparison, from the names rather than their positions, so that adding a variant to a
    comparison leaves the other variants' intervals and p-values as they were."""
    tags = [zlib.crc32(name.encode()) for name in names]
    return int(np.random.SeedSequence([seed, *tags]).generate_state(1)[0])


def _first_seen(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _frontiers(rows: list[dict], metrics: Sequence[str]) -> dict[tuple[str, str, str], dict[float, dict]]:
    """(variant, content, style) → ratio → the row's distances."""
    out: dict[tuple[str, str, str], dict[float, dict]] = {}
    for row in rows:
        missing = [k for k in (*ROW_KEYS, *metrics) if k not in row]
        if missing:
            raise ValueError(f"summarize: a row lacks {', '.join(missing)}: {row}")
        key = (str(row["variant"]), str(row["content"]), str(row["style"]))
        ratio = float(row["ratio"])
        runs = out.setdefault(key, {})
        if ratio in runs:
            raise ValueError(f"summarize: two rows for variant {key[0]!r}, pair {key[1]} × {key[2]}, ratio {ratio:g}")
        runs[ratio] = {k: _value(row, k) for k in ("content_distance", *metrics)}
    return out


def _pair_deltas(base: dict[float, dict], var: dict[float, dict], metric: str) -> tuple[float, float, float]:
    """(matched content, matched style, equal ratio) for one pair."""
    cb = [r["content_distance"] for r in base.values()]
    sb = [r[metric] for r in base.values()]
    cv = [r["content_distance"] for r in var.values()]
    sv = [r[metric] for r in var.values()]
    gaps = [var[q][metric] - base[q][metric] for q in base if q in var]
    gaps = [g for g in gaps if np.isfinite(g)]
    equal_ratio = float(np.mean(gaps)) if gaps else float("nan")
    return delta_matched_content(cb, sb, cv, sv), delta_matched_style(cb, sb, cv, sv), equal_ratio


def summarize(rows: list[dict], baseline: str, metrics: Sequence[str] = ("style_gram", "style_swd"), seed: int = 0,
              n_boot: int = 2000, n_perm: int = 10000) -> dict:
    """Every variant against ``baseline``, per yardstick style metric, over the (content, style) pairs.

    ``rows``: one per run, {"content", "style", "variant", "ratio", "content_distance", <each metric>} (a missing
    metric value may be None). Each (variant, pair) is a frontier over its ratios. Per variant and metric:

    - ``delta``: mean over pairs of the variant's style distance minus the baseline's at matched content
      (``frontier.delta_matched_content``); ``ci95``: its two-way bootstrap interval over contents and styles
      (``inference.bootstrap_ci``); ``p``: sign-flip permutation p-value of the per-pair deltas; ``p_holm``:
      Holm-adjusted across the variants within the metric; ``wins``: pairs with delta < 0;
    - ``pairs_compared``: pairs with a delta; ``pairs_without_overlap``: the baseline's pairs without one (the
      frontiers do not overlap in content distance, one has fewer than two Pareto points, or the variant has no
      runs on the pair: ``pairs_missing`` of them), counted, never silently dropped;
    - ``delta_matched_style``: mean over pairs of the content distance difference at matched style
      (``pairs_matched_style`` pairs); ``delta_equal_ratio``: mean over pairs of the mean over shared ratios of the
      plain difference at equal ratio (what a single-ratio comparison reports; beside ``delta`` it shows how much
      of that was strength rather than quality);
    - ``per_style``: mean delta per style image; ``per_pair``: every pair's three deltas.

    Seeds per comparison derive from ``seed`` and the metric and variant names. Undefined numbers are None."""
    if not rows:
        raise ValueError("summarize: no rows")
    frontiers = _frontiers(rows, metrics)
    variants = _first_seen([str(r["variant"]) for r in rows])
    if baseline not in variants:
        raise ValueError(f"summarize: baseline {baseline!r} has no rows; variants: {variants}")
    contents = _first_seen([str(r["content"]) for r in rows])
    styles = _first_seen([str(r["style"]) for r in rows])
    pairs = [(c, s) for c in contents for s in styles if (baseline, c, s) in frontiers]
    others = [v for v in variants if v != baseline]

    comparisons = []
    for metric in metrics:
        block: list[dict[str, Any]] = []
        for variant in others:
            table = np.full((len(contents), len(styles)), np.nan)
            per_pair, matched_style, equal_ratio, missing = [], [], [], 0
            for c, s in pairs:
                var = frontiers.get((variant, c, s))
                if var is None:
                    missing += 1
                    d = dms = der = float("nan")
                else:
                    d, dms, der = _pair_deltas(frontiers[(baseline, c, s)], var, metric)
                table[contents.index(c), styles.index(s)] = d
                matched_style.append(dms)
                equal_ratio.append(der)
                per_pair.append({"content": c, "style": s, "delta": _num(d), "delta_matched_style": _num(dms),
                                 "delta_equal_ratio": _num(der)})
            deltas = table[np.isfinite(table)]  # row-major: contents × styles order, as per_pair
            lo, hi = bootstrap_ci(table, n_boot=n_boot, seed=_seed(seed, "bootstrap", metric, variant))
            p = sign_flip_p(deltas, n_perm=n_perm, seed=_seed(seed, "permutation", metric, variant))
            per_style = {s: crossed_mean(table[:, j]) for j, s in enumerate(styles)
                         if any(pair[1] == s for pair in pairs)}
            block.append({
                "variant": variant,
                "metric": metric,
                "delta": _num(crossed_mean(table)),
                "ci95": [_num(lo), _num(hi)],
                "p": _num(float(p)),
                "p_holm": None,
                "wins": int((deltas < 0).sum()),
                "pairs_compared": int(deltas.size),
                "pairs_without_overlap": len(pairs) - int(deltas.size),
                "pairs_missing": missing,
                "delta_matched_style": _num(crossed_mean(np.asarray(matched_style))),
                "pairs_matched_style": int(np.isfinite(matched_style).sum()),
                "delta_equal_ratio": _num(crossed_mean(np.asarray(equal_ratio))),
                "per_style": {s: _num(v) for s, v in per_style.items()},
                "per_pair": per_pair,
            })
        adjusted = holm([np.nan if comp["p"] is None else comp["p"] for comp in block])
        for comp, q in zip(block, adjusted, strict=True):
            comp["p_holm"] = _num(q)
        comparisons.extend(block)
    return {"baseline": baseline, "pairs": len(pairs), "variants": variants, "metrics": list(metrics),
            "contents": contents, "styles": styles, "seed": seed, "n_boot": n_boot, "n_perm": n_perm,
            "comparisons": comparisons}


def _fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:.3g}"


def _name(variant: str) -> str:
    return "`" + variant.replace("|", "\\|") + "`" if variant else "(defaults)"


def to_markdown(summary: dict) -> str:
    """compare.md: per metric, the variants ranked by delta (best, most negative, first; undefined last), with
    the interval, p-values, wins and the pairs without overlap, under a one-line legend of what delta means."""
    base = _name(summary["baseline"])
    lines = [
        f"# Variants against {base} over {summary['pairs']} pairs",
        "",
        (f"Δ = the variant's yardstick style distance minus {base}'s at matched content distance (mean gap over the "
         "overlapping range of log content distance, then mean over pairs): negative = closer to the style for the "
         "same content kept."),
    ]
    header = ("| rank | variant | Δ at matched content | 95% interval | p | p (Holm) | wins | pairs compared "
              "| pairs without overlap | Δ content at matched style | Δ at equal ratio |")
    for metric in summary["metrics"]:
        block = [c for c in summary["comparisons"] if c["metric"] == metric]
        block.sort(key=lambda c: (c["delta"] is None, c["delta"] if c["delta"] is not None else 0.0))
        lines += ["", f"## {metric}", "", header, "|" + "---|" * header.count(" | ") + "---|"]
        for rank, c in enumerate(block, 1):
            lo, hi = c["ci95"]
            lines.append(
                f"| {rank} | {_name(c['variant'])} | {_fmt(c['delta'])} | [{_fmt(lo)}, {_fmt(hi)}] | {_fmt(c['p'])} "
                f"| {_fmt(c['p_holm'])} | {c['wins']}/{c['pairs_compared']} | {c['pairs_compared']} "
                f"| {c['pairs_without_overlap']} | {_fmt(c['delta_matched_style'])} | {_fmt(c['delta_equal_ratio'])} |")
    lines += ["", (f"Two-way bootstrap over contents and styles ({summary['n_boot']} resamples), sign-flip "
                   f"permutation p ({summary['n_perm']} draws or exact), Holm across variants per metric; seed "
                   f"{summary['seed']}."), ""]
    return "\n".join(lines)
