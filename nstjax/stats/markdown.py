"""compare.md: ``summary.summarize``'s output as ranked tables, the primary analysis first and the sensitivity
figures after it."""

from __future__ import annotations

from nstjax.stats.inference import ALPHA


def _fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:.3g}"


def _name(variant: str) -> str:
    return "`" + variant.replace("|", "\\|") + "`" if variant else "(defaults)"


def _interval(ci: list | None) -> str:
    lo, hi = ci if ci else (None, None)
    return f"[{_fmt(lo)}, {_fmt(hi)}]"


def to_markdown(summary: dict) -> str:
    """compare.md: per metric, the variants ranked by Δ (best, most negative, first; undefined last) with the
    primary analysis' verdict, interval, df and Holm-adjusted p-values, the pairs behind it, then the sensitivity
    figures (the earlier protocol's Pareto Δ in the metric's units, its by-style and min F′ p and bootstrap
    interval) and the descriptive deltas; under a legend of what Δ and the verdicts mean."""
    base = _name(summary["baseline"])
    alpha = summary.get("alpha", ALPHA)
    margins = summary.get("margins") or {}
    lines = [
        f"# Variants against {base} over {summary['pairs']} pairs",
        "",
        (
            f"Δ = the variant's log style distance minus {base}'s at matched log content distance (mean gap over the "
            "overlap of the two frontiers, each the broken line through all its runs), −0.05 ≈ 5% closer to the "
            "style for the same content kept. The interval treats contents and styles as crossed random effects "
            "(ANOVA variance components, Satterthwaite df)."
        ),
        "",
        (
            f"Verdict: better / worse = p (Holm over every variant × metric) < {alpha:g}; equivalent = the two "
            f"one-sided tests put Δ within ±margin (Holm) < {alpha:g}; undetermined = neither (not evidence of no "
            "difference). Margins (log distance): " + (", ".join(f"{m} {v:g}" for m, v in margins.items()) or "–") + "."
        ),
    ]
    if summary.get("grouped"):
        lines += ["", "By group: the same analysis with each style's group (its artist) as the random unit."]
    header = (
        "| rank | variant | verdict | Δ log at matched content | 95% interval | df | p (Holm) | p equivalence (Holm) "
        "| wins | pairs compared | pairs without overlap | overlap < 0.75 "
        + ("| by group: verdict, Δ, interval " if summary.get("grouped") else "")
        + "| sensitivity: Δ Pareto (units) | bootstrap interval | p by style (Holm) | p min F′ (Holm) "
        "| Δ content at matched style | Δ at equal ratio (pairs compared) | Δ at equal ratio (all) |"
    )
    for metric in summary["metrics"]:
        block = [c for c in summary["comparisons"] if c["metric"] == metric]
        block.sort(key=lambda c: (c["delta"] is None, c["delta"] if c["delta"] is not None else 0.0))
        lines += ["", f"## {metric}", "", header, "|" + "---|" * header.count(" | ") + "---|"]
        for rank, c in enumerate(block, 1):
            sens = c.get("sensitivity") or {}
            group = sens.get("by_group")
            by = (
                f"| {group['verdict']}, {_fmt(group['estimate'])}, {_interval(group['ci95'])} "
                if summary.get("grouped") and group
                else ("| – " if summary.get("grouped") else "")
            )
            lines.append(
                f"| {rank} | {_name(c['variant'])} | {c.get('verdict', '–')} | {_fmt(c['delta'])} "
                f"| {_interval(c['ci95'])} | {_fmt(c.get('df'))} | {_fmt(c.get('p_holm'))} "
                f"| {_fmt(c.get('p_equivalence_holm'))} "
                f"| {c['wins']}/{c['pairs_compared']} | {c['pairs_compared']} | {c['pairs_without_overlap']} "
                f"| {c.get('pairs_small_overlap', 0)} {by}| {_fmt(sens.get('delta_pareto'))} "
                f"| {_interval(sens.get('ci95_bootstrap'))} | {_fmt(sens.get('p_style_holm'))} "
                f"| {_fmt(sens.get('p_crossed_holm'))} | {_fmt(c['delta_matched_style'])} "
                f"| {_fmt(c.get('delta_equal_ratio_compared'))} | {_fmt(c['delta_equal_ratio'])} |"
            )
    n_styles = len(summary.get("styles", []))
    lines += [
        "",
        (
            "Sensitivity (not the verdict): Δ Pareto is the earlier headline (PCHIP through each frontier's Pareto "
            "points, in the metric's units; it favours the noisier variant); the two-way bootstrap interval, the "
            "style-clustered sign-flip p and Clark's min F′ are on the primary Δ, Holm across the variants within "
            f"the metric; the by-style p is at least 2/2^{n_styles} = {2.0 / 2.0 ** max(n_styles, 1):.3g} with "
            f"{n_styles} styles. Two-way bootstrap ({summary['n_boot']} resamples), sign flips ({summary['n_perm']} "
            f"draws or exact); seed {summary['seed']}."
        ),
        "",
    ]
    return "\n".join(lines)
