"""A comparison's numbers from its table of runs: per variant and yardstick metric, the delta against the baseline
at matched content with its interval, p-values and breakdowns (``summarize``), and the ranked table (``to_markdown``).

The values ``summarize`` returns are JSON-ready: a number that is undefined (no pair compared) is None, not NaN.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from nstjax.stats.frontier import curve, delta_matched_style, gap, overlap_share, placed
from nstjax.stats.inference import (
    ALPHA,
    bootstrap_ci,
    crossed_mean,
    holm,
    min_f_p,
    sign_flip_p,
    significant,
    style_flip_p,
)

ROW_KEYS = ("content", "style", "variant", "ratio", "content_distance")
SMALL_OVERLAP = 0.5  # FAU-LMS/bjontegaard warns below this share of overlap by default


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


def _placed(runs: dict[float, dict], metric: str) -> tuple[np.ndarray, np.ndarray, int]:
    """A frontier's content and style distances that log axes can place, and how many runs were set aside for a
    distance ≤ 0 (a run that returned the content image itself, as an L1 content loss's kink can make it)."""
    return placed([r["content_distance"] for r in runs.values()], [r[metric] for r in runs.values()])


def _pair_deltas(base: dict[float, dict], var: dict[float, dict], metric: str) -> dict[str, Any]:
    """One pair's deltas (matched content, matched style, equal ratio), the overlap share of its frontiers in log
    content distance, and how many of its runs a distance ≤ 0 kept off the log axes (set aside: the frontiers
    are the other runs'; equal ratio uses every run)."""
    cb, sb, off_base = _placed(base, metric)
    cv, sv, off_var = _placed(var, metric)
    gaps = [var[q][metric] - base[q][metric] for q in base if q in var]
    gaps = [g for g in gaps if np.isfinite(g)]
    equal_ratio = float(np.mean(gaps)) if gaps else float("nan")
    f_base, f_var = curve(cb, sb), curve(cv, sv)
    return {
        "delta": gap(f_base, f_var),
        "matched_style": delta_matched_style(cb, sb, cv, sv),
        "equal_ratio": equal_ratio,
        "overlap": overlap_share(f_base, f_var),
        "set_aside": off_base + off_var,
    }


def summarize(
    rows: list[dict],
    baseline: str,
    metrics: Sequence[str] = ("style_gram", "style_swd"),
    seed: int = 0,
    n_boot: int = 2000,
    n_perm: int = 10000,
) -> dict:
    """Every variant against ``baseline``, per yardstick style metric, over the (content, style) pairs.

    ``rows``: one per run, {"content", "style", "variant", "ratio", "content_distance", <each metric>} (a missing
    metric value may be None). Each (variant, pair) is a frontier over its ratios. Per variant and metric:

    - ``delta``: mean over pairs of the variant's style distance minus the baseline's at matched content
      (``frontier.delta_matched_content``); ``ci95``: its two-way bootstrap interval over contents and styles
      (``inference.bootstrap_ci``); ``wins``: pairs with delta < 0;
    - ``p``: sign-flip permutation p-value of the per-pair deltas (null: the pairs compared, independent);
      ``p_style``: the style-clustered sign-flip p (``inference.style_flip_p``: styles random, contents fixed;
      exact, at least 2/2^S with S styles); ``p_crossed``: Clark's min F' p (``inference.min_f_p``: contents and
      styles random); each ``*_holm``: Holm-adjusted across the variants within the metric;
    - ``significant``: the claim that the variant differs, made only where p_holm, p_style_holm and
      p_crossed_holm are all < 0.05 and ``ci95`` excludes 0 (``inference.significant``); the per-pair ``p`` alone
      is not a claim about styles (it rejects far more often than 5% when the effect varies by style with mean 0);
    - ``pairs_compared``: pairs with a delta; ``pairs_without_overlap``: the baseline's pairs without one (the
      frontiers do not overlap in content distance, one has fewer than two Pareto points, or the variant has no
      runs on the pair: ``pairs_missing`` of them), counted, never silently dropped; a run at a distance ≤ 0 (the
      content image itself) has no place on the log axes and is set aside from its frontier, the pair compared
      on the others: ``runs_nonpositive`` such runs on ``pairs_nonpositive`` pairs (compared or not), each pair's
      ``runs_set_aside`` in ``per_pair``; ``pairs_small_overlap``: pairs compared whose
      frontiers' overlap share (``frontier.overlap_share`` in log content distance) is below 0.5;
    - ``delta_matched_style``: mean over pairs of the content distance difference at matched style
      (``pairs_matched_style`` pairs); ``delta_equal_ratio``: mean over pairs of the mean over shared ratios of the
      plain difference at equal ratio (what a single-ratio comparison reports), over the ``pairs_equal_ratio``
      pairs that share a ratio, with or without a delta; ``delta_equal_ratio_compared``: the same over the pairs
      compared only, so that it and ``delta`` are means over the same pairs (beside ``delta`` it shows how much of
      a single-ratio difference was strength rather than quality);
    - ``per_style``: mean delta per style image; ``per_pair``: every pair's three deltas and its ``overlap``.

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
            per_pair, matched_style, equal_ratio, overlap, missing, nonpos, runs_off = [], [], [], [], 0, 0, 0
            for c, s in pairs:
                var = frontiers.get((variant, c, s))
                if var is None:
                    missing += 1
                    nan = float("nan")
                    pair: dict[str, Any] = {
                        "delta": nan,
                        "matched_style": nan,
                        "equal_ratio": nan,
                        "overlap": nan,
                        "set_aside": 0,
                    }
                else:
                    pair = _pair_deltas(frontiers[(baseline, c, s)], var, metric)
                nonpos += pair["set_aside"] > 0
                runs_off += pair["set_aside"]
                table[contents.index(c), styles.index(s)] = pair["delta"]
                matched_style.append(pair["matched_style"])
                equal_ratio.append(pair["equal_ratio"])
                overlap.append(pair["overlap"])
                per_pair.append(
                    {
                        "content": c,
                        "style": s,
                        "delta": _num(pair["delta"]),
                        "delta_matched_style": _num(pair["matched_style"]),
                        "delta_equal_ratio": _num(pair["equal_ratio"]),
                        "overlap": _num(pair["overlap"]),
                        "runs_set_aside": pair["set_aside"],
                    }
                )
            deltas = table[np.isfinite(table)]  # row-major: contents × styles order, as per_pair
            compared = np.array([p["delta"] is not None for p in per_pair], dtype=bool)
            equal = np.asarray(equal_ratio, dtype=float)
            shares = np.asarray(overlap, dtype=float)
            lo, hi = bootstrap_ci(table, n_boot=n_boot, seed=_seed(seed, "bootstrap", metric, variant))
            p = sign_flip_p(deltas, n_perm=n_perm, seed=_seed(seed, "permutation", metric, variant))
            p_style = style_flip_p(table, n_perm=n_perm, seed=_seed(seed, "style permutation", metric, variant))
            per_style = {
                s: crossed_mean(table[:, j]) for j, s in enumerate(styles) if any(pair[1] == s for pair in pairs)
            }
            block.append(
                {
                    "variant": variant,
                    "metric": metric,
                    "delta": _num(crossed_mean(table)),
                    "ci95": [_num(float(lo)), _num(float(hi))],
                    "p": _num(float(p)),
                    "p_holm": None,
                    "p_style": _num(float(p_style)),
                    "p_style_holm": None,
                    "p_crossed": _num(float(min_f_p(table))),
                    "p_crossed_holm": None,
                    "significant": False,
                    "wins": int((deltas < 0).sum()),
                    "pairs_compared": int(deltas.size),
                    "pairs_without_overlap": len(pairs) - int(deltas.size),
                    "pairs_missing": missing,
                    "pairs_nonpositive": nonpos,
                    "runs_nonpositive": runs_off,
                    "pairs_small_overlap": int((compared & (shares < SMALL_OVERLAP)).sum()),
                    "delta_matched_style": _num(crossed_mean(np.asarray(matched_style))),
                    "pairs_matched_style": int(np.isfinite(matched_style).sum()),
                    "delta_equal_ratio": _num(crossed_mean(equal)),
                    "pairs_equal_ratio": int(np.isfinite(equal).sum()),
                    "delta_equal_ratio_compared": _num(crossed_mean(equal[compared])),
                    "per_style": {s: _num(v) for s, v in per_style.items()},
                    "per_pair": per_pair,
                }
            )
        for key in ("p", "p_style", "p_crossed"):
            adjusted = holm([np.nan if comp[key] is None else comp[key] for comp in block])
            for comp, q in zip(block, adjusted, strict=True):
                comp[f"{key}_holm"] = _num(q)
        for comp in block:
            comp["significant"] = bool(
                significant(comp["p_holm"], comp["p_style_holm"], comp["p_crossed_holm"], *comp["ci95"])
            )
        comparisons.extend(block)
    return {
        "baseline": baseline,
        "pairs": len(pairs),
        "variants": variants,
        "metrics": list(metrics),
        "contents": contents,
        "styles": styles,
        "seed": seed,
        "n_boot": n_boot,
        "n_perm": n_perm,
        "alpha": ALPHA,
        "comparisons": comparisons,
    }


def _fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:.3g}"


def _name(variant: str) -> str:
    return "`" + variant.replace("|", "\\|") + "`" if variant else "(defaults)"


def to_markdown(summary: dict) -> str:
    """compare.md: per metric, the variants ranked by delta (best, most negative, first; undefined last), with
    the interval, the outcome of the significance rule and its p-values, wins, the pairs without overlap and with
    a small overlap, and the equal-ratio difference over the same pairs as Δ, under a legend of what Δ means and
    the rule (saying so when the styles are too few for any claim)."""
    base = _name(summary["baseline"])
    alpha = summary.get("alpha", ALPHA)
    lines = [
        f"# Variants against {base} over {summary['pairs']} pairs",
        "",
        (
            f"Δ = the variant's yardstick style distance minus {base}'s at matched content distance (mean gap over the "
            "overlapping range of log content distance, then mean over pairs): negative = closer to the style for the "
            "same content kept."
        ),
        "",
        (
            f"Significant = p (Holm) < {alpha:g}, p by style (Holm) < {alpha:g}, p min F′ (Holm) < {alpha:g} and the "
            "95% interval excludes 0: the difference holds over styles like these, with the style effect allowed to "
            "vary (style-clustered sign flip, exact) and with contents and styles both random (Clark's min F′), not "
            "only on the pairs compared (the plain p)."
        ),
    ]
    n_styles = len(summary.get("styles", []))
    n_tested = len({c["variant"] for c in summary["comparisons"] if c.get("p_style") is not None})
    if n_styles and n_tested and n_tested * 2.0 / 2.0**n_styles >= alpha:
        lines += [
            "",
            (
                f"With {n_styles} styles the by-style p is at least 2/2^{n_styles} = {2.0 / 2.0**n_styles:.3g}"
                f"{f' (×{n_tested} by Holm)' if n_tested > 1 else ''}, so no variant can be significant: "
                "a claim needs more styles."
            ),
        ]
    header = (
        "| rank | variant | Δ at matched content | 95% interval | significant | p | p (Holm) | p by style (Holm) "
        "| p min F′ (Holm) | wins | pairs compared | pairs without overlap | overlap < 0.5 "
        "| Δ content at matched style | Δ at equal ratio (pairs compared) | Δ at equal ratio (all) |"
    )
    for metric in summary["metrics"]:
        block = [c for c in summary["comparisons"] if c["metric"] == metric]
        block.sort(key=lambda c: (c["delta"] is None, c["delta"] if c["delta"] is not None else 0.0))
        lines += ["", f"## {metric}", "", header, "|" + "---|" * header.count(" | ") + "---|"]
        for rank, c in enumerate(block, 1):
            lo, hi = c["ci95"]
            lines.append(
                f"| {rank} | {_name(c['variant'])} | {_fmt(c['delta'])} | [{_fmt(lo)}, {_fmt(hi)}] "
                f"| {'yes' if c.get('significant') else 'no'} | {_fmt(c['p'])} | {_fmt(c['p_holm'])} "
                f"| {_fmt(c.get('p_style_holm'))} | {_fmt(c.get('p_crossed_holm'))} "
                f"| {c['wins']}/{c['pairs_compared']} | {c['pairs_compared']} | {c['pairs_without_overlap']} "
                f"| {c.get('pairs_small_overlap', 0)} | {_fmt(c['delta_matched_style'])} "
                f"| {_fmt(c.get('delta_equal_ratio_compared'))} | {_fmt(c['delta_equal_ratio'])} |"
            )
    lines += [
        "",
        (
            f"Two-way bootstrap over contents and styles ({summary['n_boot']} resamples), sign-flip "
            f"permutation p per pair and per style ({summary['n_perm']} draws or exact), Clark's min F′, "
            f"Holm across variants per metric; seed {summary['seed']}."
        ),
        "",
    ]
    return "\n".join(lines)
