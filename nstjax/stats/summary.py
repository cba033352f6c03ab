"""A comparison's numbers from its table of runs: per variant and yardstick metric, the primary analysis' verdict
against the baseline (Δ in log style distance at matched content, contents and styles as crossed random effects,
Holm over variants × metrics), the earlier protocol's figures as sensitivity analyses, and breakdowns
(``summarize``); the ranked table is ``markdown.to_markdown`` (re-exported here).

The values ``summarize`` returns are JSON-ready: a number that is undefined (no pair compared) is None, not NaN.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from nstjax.stats.fit import pair_log_delta
from nstjax.stats.frontier import curve, delta_matched_style, gap, placed
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
from nstjax.stats.markdown import to_markdown
from nstjax.stats.mixed import crossed_fit, t_interval, t_p, tost_p
from nstjax.stats.noise import run_noise
from nstjax.stats.verdict import DEFAULT_MARGIN, family_holm, margins_for, verdicts

__all__ = ["ROW_KEYS", "SMALL_OVERLAP", "summarize", "to_markdown"]

ROW_KEYS = ("content", "style", "variant", "ratio", "content_distance")
SMALL_OVERLAP = 0.75  # FAU-LMS/bjontegaard warns below this share of overlap: such pairs are kept and counted


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


Run = tuple[float, Any]  # (ratio, seed): replicate seeds at one ratio are distinct runs


def _frontiers(rows: list[dict], metrics: Sequence[str]) -> dict[tuple[str, str, str], dict[Run, dict]]:
    """(variant, content, style) → (ratio, seed) → the row's distances (seed None for rows without one)."""
    out: dict[tuple[str, str, str], dict[Run, dict]] = {}
    for row in rows:
        missing = [k for k in (*ROW_KEYS, *metrics) if k not in row]
        if missing:
            raise ValueError(f"summarize: a row lacks {', '.join(missing)}: {row}")
        key = (str(row["variant"]), str(row["content"]), str(row["style"]))
        run = (float(row["ratio"]), row.get("seed"))
        runs = out.setdefault(key, {})
        if run in runs:
            seed = "" if run[1] is None else f", seed {run[1]}"
            raise ValueError(
                f"summarize: two rows for variant {key[0]!r}, pair {key[1]} × {key[2]}, ratio {run[0]:g}{seed}"
            )
        runs[run] = {k: _value(row, k) for k in ("content_distance", *metrics)}
    return out


def _placed(runs: dict[Run, dict], metric: str) -> tuple[np.ndarray, np.ndarray, int]:
    """A frontier's content and style distances that log axes can place, and how many runs were set aside for a
    distance ≤ 0 (a run that returned the content image itself, as an L1 content loss's kink can make it)."""
    return placed([r["content_distance"] for r in runs.values()], [r[metric] for r in runs.values()])


def _pair_deltas(base: dict[Run, dict], var: dict[Run, dict], metric: str) -> dict[str, Any]:
    """One pair's deltas: the primary one (``fit.pair_log_delta``: log style distance at matched log content
    distance, every run) with its overlap share; and the earlier protocol's, in the metric's units (matched content
    and matched style through the Pareto points, ``frontier``; equal ratio: the mean over the runs both have, same
    ratio and seed); and how many of its runs a distance ≤ 0 kept off the log axes (set aside from the frontiers;
    equal ratio uses every run)."""
    cb, sb, off_base = _placed(base, metric)
    cv, sv, off_var = _placed(var, metric)
    gaps = [var[q][metric] - base[q][metric] for q in base if q in var]
    gaps = [g for g in gaps if np.isfinite(g)]
    equal_ratio = float(np.mean(gaps)) if gaps else float("nan")
    f_base, f_var = curve(cb, sb), curve(cv, sv)
    delta, share, _ = pair_log_delta(cb, sb, cv, sv)
    return {
        "delta": float(delta),
        "overlap": float(share),
        "pareto": gap(f_base, f_var),
        "matched_style": delta_matched_style(cb, sb, cv, sv),
        "equal_ratio": equal_ratio,
        "set_aside": off_base + off_var,
    }


def _grouper(group: Callable[[str], str] | Mapping[str, str] | None) -> Callable[[str], str] | None:
    if group is None or callable(group):
        return group
    mapping = dict(group)
    return lambda style: str(mapping.get(style, style))  # a style the mapping lacks is its own group


def _primary(table: np.ndarray, margin: float) -> dict[str, Any]:
    """The crossed model's numbers for one contents × styles table of primary deltas (floats, NaN undefined)."""
    fit = crossed_fit(table)
    lo, hi = t_interval(fit.estimate, fit.se, fit.df)
    return {
        "estimate": float(fit.estimate),
        "ci95": [float(lo), float(hi)],
        "se": float(fit.se),
        "df": float(fit.df),
        "p": float(t_p(fit.estimate, fit.se, fit.df)),
        "p_equivalence": float(tost_p(fit.estimate, fit.se, fit.df, margin)),
        "variance": {
            "content": float(fit.var_content),
            "style": float(fit.var_style),
            "residual": float(fit.var_residual),
            "n_contents": int(fit.n_contents),
            "n_styles": int(fit.n_styles),
            "pairs_filled": int(fit.n_missing),
        },
    }


def _json(x: Any) -> Any:
    """NaN → None, recursively (JSON-ready)."""
    if isinstance(x, dict):
        return {k: _json(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_json(v) for v in x]
    if isinstance(x, float):
        return _num(x)
    return x


def _by_group(table: np.ndarray, styles: list[str], grouper: Callable[[str], str], margin: float) -> dict[str, Any]:
    """The primary analysis with the style's group (its artist) as the random unit: each content × group cell the
    mean of its styles' deltas, then the crossed model over contents × groups (artists weigh alike)."""
    names = _first_seen([grouper(s) for s in styles])
    cells = np.full((table.shape[0], len(names)), np.nan)
    for g, name in enumerate(names):
        cols = table[:, [j for j, s in enumerate(styles) if grouper(s) == name]]
        n = np.isfinite(cols).sum(axis=1)
        cells[:, g] = np.where(n > 0, np.where(np.isfinite(cols), cols, 0.0).sum(axis=1) / np.maximum(n, 1), np.nan)
    out = _primary(cells, margin)
    out["groups"] = len(names)
    return out


def summarize(
    rows: list[dict],
    baseline: str,
    metrics: Sequence[str] = ("style_gram", "style_swd"),
    seed: int = 0,
    n_boot: int = 2000,
    n_perm: int = 10000,
    margin: float | Mapping[str, float] = DEFAULT_MARGIN,
    group: Callable[[str], str] | Mapping[str, str] | None = None,
    alpha: float = ALPHA,
) -> dict:
    """Every variant against ``baseline``, per yardstick style metric, over the (content, style) pairs.

    ``rows``: one per run, {"content", "style", "variant", "ratio", "content_distance", <each metric>} and
    optionally "seed" (replicates at one ratio; a missing metric value may be None). Each (variant, pair) is a
    frontier over its runs.

    **The primary analysis** (declared before the runs; docs/comparing.md). Per pair, Δ = the mean over the
    overlap of log style distance, variant minus baseline, at matched log content distance, each frontier the
    broken line through all its runs (``fit``); contents and styles crossed random effects, the mean Δ's
    variance by the ANOVA estimates with Satterthwaite df (``mixed``); Holm over every variant × metric. Per
    variant and metric:

    - ``verdict``: ``better`` (Δ < 0: closer to the style at matched content), ``worse``, ``equivalent`` (two
      one-sided tests within ±``margin``, the metric's declared margin in log distance) or ``undetermined``
      (``verdict.verdicts``); ``significant``: the verdict is better or worse;
    - ``estimate`` (= ``delta``, kept for the readers of earlier summaries), ``ci95`` (t interval), ``se``,
      ``df``, ``p``, ``p_holm``, ``margin``, ``p_equivalence``, ``p_equivalence_holm``; ``variance``: the
      components {content, style, residual, n_contents, n_styles, pairs_filled} (a pilot's, for ``power.plan``);
    - ``wins``: pairs with Δ < 0; ``pairs_compared``: pairs with a Δ; ``pairs_without_overlap``: the baseline's
      pairs without one (the frontiers do not overlap in content distance, one has fewer than two runs, or the
      variant has no runs on the pair: ``pairs_missing`` of them), counted, never silently dropped; a run at a
      distance ≤ 0 (the content image) has no place on the log axes and is set aside, the pair compared on the
      others: ``runs_nonpositive`` such runs on ``pairs_nonpositive`` pairs, each pair's ``runs_set_aside`` in
      ``per_pair``; ``pairs_small_overlap``: pairs compared whose overlap share is below ``SMALL_OVERLAP`` (0.75);
    - ``per_style``: mean Δ per style; ``per_pair``: every pair's Δ, ``overlap`` and the descriptive deltas below.

    **Descriptive, in the metric's units** (the earlier protocol's): ``delta_matched_style`` (content distance
    at matched style, ``pairs_matched_style`` pairs), ``delta_equal_ratio`` (the plain difference at the same
    ratio, over the ``pairs_equal_ratio`` pairs that share one) and ``delta_equal_ratio_compared`` (the same over
    the pairs compared).

    **Sensitivity** (``sensitivity``, not the verdict): ``delta_pareto`` and ``ci95_pareto`` (the earlier
    headline: PCHIP through the Pareto points, metric units, two-way bootstrap), and on the primary deltas
    ``ci95_bootstrap`` (two-way bootstrap over contents and styles), ``p_pairs`` (sign flip per pair),
    ``p_style`` (style-clustered sign flip, at least 2/2^S), ``p_crossed`` (Clark's min F′), each with
    ``*_holm`` across the variants within the metric, and ``significant_rule`` (all four, the earlier claim);
    with ``group`` (a function or mapping style → group, e.g. its artist) ``by_group``: the primary analysis with
    the group as the random unit instead of the style ({estimate, ci95, df, p, p_holm, p_equivalence,
    p_equivalence_holm, verdict, groups, ...}), else None.

    Also ``run_noise`` (``noise.run_noise``, from rows with replicate seeds; [] without). Seeds for the
    resampling derive from ``seed`` and the metric and variant names. Undefined numbers are None."""
    if not rows:
        raise ValueError("summarize: no rows")
    margins = margins_for(metrics, margin)
    grouper = _grouper(group)
    frontiers = _frontiers(rows, metrics)
    variants = _first_seen([str(r["variant"]) for r in rows])
    if baseline not in variants:
        raise ValueError(f"summarize: baseline {baseline!r} has no rows; variants: {variants}")
    contents = _first_seen([str(r["content"]) for r in rows])
    styles = _first_seen([str(r["style"]) for r in rows])
    pairs = [(c, s) for c in contents for s in styles if (baseline, c, s) in frontiers]
    others = [v for v in variants if v != baseline]
    nan = float("nan")
    absent = {"delta": nan, "overlap": nan, "pareto": nan, "matched_style": nan, "equal_ratio": nan, "set_aside": 0}

    comparisons: list[dict[str, Any]] = []
    for metric in metrics:
        block: list[dict[str, Any]] = []
        for variant in others:
            table = np.full((len(contents), len(styles)), np.nan)
            pareto = np.full((len(contents), len(styles)), np.nan)
            per_pair, found = [], []
            for c, s in pairs:
                var = frontiers.get((variant, c, s))
                pair = absent if var is None else _pair_deltas(frontiers[(baseline, c, s)], var, metric)
                found.append(var is not None)
                table[contents.index(c), styles.index(s)] = pair["delta"]
                pareto[contents.index(c), styles.index(s)] = pair["pareto"]
                per_pair.append(
                    {
                        "content": c,
                        "style": s,
                        "delta": _num(pair["delta"]),
                        "overlap": _num(pair["overlap"]),
                        "delta_pareto": _num(pair["pareto"]),
                        "delta_matched_style": _num(pair["matched_style"]),
                        "delta_equal_ratio": _num(pair["equal_ratio"]),
                        "runs_set_aside": pair["set_aside"],
                    }
                )
            deltas = table[np.isfinite(table)]  # row-major: contents × styles order, as per_pair
            compared = np.array([p["delta"] is not None for p in per_pair], dtype=bool)
            shares = np.array([nan if p["overlap"] is None else p["overlap"] for p in per_pair], dtype=float)
            equal = np.array([nan if p["delta_equal_ratio"] is None else p["delta_equal_ratio"] for p in per_pair])
            matched = np.array(
                [nan if p["delta_matched_style"] is None else p["delta_matched_style"] for p in per_pair]
            )
            set_aside = np.array([p["runs_set_aside"] for p in per_pair], dtype=int)
            primary = _primary(table, margins[metric])
            lo, hi = bootstrap_ci(table, n_boot=n_boot, seed=_seed(seed, "bootstrap", metric, variant))
            lo_p, hi_p = bootstrap_ci(pareto, n_boot=n_boot, seed=_seed(seed, "bootstrap pareto", metric, variant))
            sensitivity = {
                "delta_pareto": crossed_mean(pareto),
                "ci95_pareto": [float(lo_p), float(hi_p)],
                "ci95_bootstrap": [float(lo), float(hi)],
                "p_pairs": float(sign_flip_p(deltas, n_perm=n_perm, seed=_seed(seed, "permutation", metric, variant))),
                "p_pairs_holm": None,
                "p_style": float(style_flip_p(table, n_perm, _seed(seed, "style permutation", metric, variant))),
                "p_style_holm": None,
                "p_crossed": float(min_f_p(table)),
                "p_crossed_holm": None,
                "significant_rule": False,
                "by_group": None if grouper is None else _by_group(table, styles, grouper, margins[metric]),
            }
            per_style = {s: crossed_mean(table[:, j]) for j, s in enumerate(styles) if any(p[1] == s for p in pairs)}
            block.append(
                {
                    "variant": variant,
                    "metric": metric,
                    "verdict": "undetermined",
                    "significant": False,
                    "estimate": primary["estimate"],
                    "delta": primary["estimate"],
                    "ci95": primary["ci95"],
                    "se": primary["se"],
                    "df": primary["df"],
                    "p": primary["p"],
                    "p_holm": None,
                    "margin": margins[metric],
                    "p_equivalence": primary["p_equivalence"],
                    "p_equivalence_holm": None,
                    "variance": primary["variance"],
                    "wins": int((deltas < 0).sum()),
                    "pairs_compared": int(deltas.size),
                    "pairs_without_overlap": len(pairs) - int(deltas.size),
                    "pairs_missing": int(len(found) - sum(found)),
                    "pairs_nonpositive": int((set_aside > 0).sum()),
                    "runs_nonpositive": int(set_aside.sum()),
                    "pairs_small_overlap": int((compared & (shares < SMALL_OVERLAP)).sum()),
                    "delta_matched_style": crossed_mean(matched),
                    "pairs_matched_style": int(np.isfinite(matched).sum()),
                    "delta_equal_ratio": crossed_mean(equal),
                    "pairs_equal_ratio": int(np.isfinite(equal).sum()),
                    "delta_equal_ratio_compared": crossed_mean(equal[compared]),
                    "per_style": per_style,
                    "per_pair": per_pair,
                    "sensitivity": sensitivity,
                }
            )
        # The sensitivity figures keep the earlier protocol's family: the variants within a metric.
        for key in ("p_pairs", "p_style", "p_crossed"):
            adjusted = holm([comp["sensitivity"][key] for comp in block])
            for comp, q in zip(block, adjusted, strict=True):
                comp["sensitivity"][f"{key}_holm"] = float(q)
        for comp in block:
            sens = comp["sensitivity"]
            sens["significant_rule"] = bool(
                significant(sens["p_pairs_holm"], sens["p_style_holm"], sens["p_crossed_holm"], *sens["ci95_bootstrap"])
            )
        comparisons.extend(block)

    # The primary family: every variant × metric, one Holm for the differences and one for the equivalences.
    p_holm, q_holm = family_holm([c["p"] for c in comparisons], [c["p_equivalence"] for c in comparisons])
    for comp, p, q, verdict in zip(
        comparisons, p_holm, q_holm, verdicts([c["estimate"] for c in comparisons], p_holm, q_holm, alpha), strict=True
    ):
        comp.update(p_holm=float(p), p_equivalence_holm=float(q), verdict=verdict)
        comp["significant"] = verdict in ("better", "worse")
    if grouper is not None:
        by = [c["sensitivity"]["by_group"] for c in comparisons]
        p_holm, q_holm = family_holm([b["p"] for b in by], [b["p_equivalence"] for b in by])
        for b, p, q, verdict in zip(
            by, p_holm, q_holm, verdicts([b["estimate"] for b in by], p_holm, q_holm, alpha), strict=True
        ):
            b.update(p_holm=float(p), p_equivalence_holm=float(q), verdict=verdict)
    return _json(
        {
            "baseline": baseline,
            "pairs": len(pairs),
            "variants": variants,
            "metrics": list(metrics),
            "contents": contents,
            "styles": styles,
            "margins": margins,
            "grouped": grouper is not None,
            "seed": seed,
            "n_boot": n_boot,
            "n_perm": n_perm,
            "alpha": alpha,
            "comparisons": comparisons,
            "run_noise": run_noise(rows, metrics),
        }
    )
