"""The primary analysis (nstjax.stats.fit, mixed, verdict, power, noise) against synthetic truths at the
benchmark's size: 12 styles × 8 contents, 5 ratios, frontiers with crossed style and content effects and run noise.

Every simulation is one batch of arrays (draws × contents × styles × runs), so the file runs in seconds."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from nstjax.stats import frontier, power, summary
from nstjax.stats.fit import log_delta, pair_log_delta
from nstjax.stats.mixed import crossed_fit, satterthwaite, t_interval, t_p, tost_p
from nstjax.stats.noise import run_noise
from nstjax.stats.verdict import margins_for, verdicts

RATIOS = np.geomspace(1e-2, 1e3, 5)
N_CONTENTS, N_STYLES = 8, 12
# The synthetic truth: per-pair effects in log style distance, crossed. A style effect of sd 0.06 (the variance is
# in the styles: Yeh et al., WACV 2020), contents 0.02, their interaction 0.02; each run's log style distance off
# its frontier by 0.02.
SD_CONTENT, SD_STYLE, SD_PAIR, SD_RUN = 0.02, 0.06, 0.02, 0.02


def truth(t):
    """Log style distance on a pair's frontier at log content distance t: the S-shape of a ratio sweep."""
    return np.log(0.3 + 1.0 / (1.0 + np.exp(2.0 * (t - np.log(0.5)))))


def simulate(
    rng,
    n_draws,
    n_contents=N_CONTENTS,
    n_styles=N_STYLES,
    delta=0.0,
    noise_var=SD_RUN,
    sd_style=SD_STYLE,
    sd_content=SD_CONTENT,
    sd_pair=SD_PAIR,
):
    """Draws of both variants' runs: (t_base, y_base, t_var, y_var), each (draws, contents, styles, ratios) of log
    content and log style distance. The variant's frontier is the baseline's shifted by δ + a_i + b_j + e_ij in
    log style distance, reached at other content distances (it is 20% "stronger", ±10% by pair: the strength
    confound), each pair at its own scale (Δ must not care)."""
    shape = (n_draws, n_contents, n_styles)
    effect = (
        delta
        + sd_content * rng.normal(size=(n_draws, n_contents, 1))
        + sd_style * rng.normal(size=(n_draws, 1, n_styles))
        + sd_pair * rng.normal(size=shape)
    )
    scale = np.log1p(np.arange(n_styles))[None, :] + 0.1 * np.arange(n_contents)[:, None]
    t0 = np.log(0.3 * RATIOS**0.15)  # content distance 0.15 … 0.84 over the sweep
    t_base = np.broadcast_to(t0 + 0.05 * rng.normal(size=shape + (1,)), shape + (RATIOS.size,))
    t_var = np.broadcast_to(t0 + np.log(1.2) + 0.1 * rng.normal(size=shape + (1,)), shape + (RATIOS.size,))
    y_base = truth(t_base) + scale[..., None] + SD_RUN * rng.normal(size=t_base.shape)
    y_var = truth(t_var) + scale[..., None] + effect[..., None] + noise_var * rng.normal(size=t_var.shape)
    return t_base, y_base, t_var, y_var


def tables(rng, n_draws, **kw):
    """Per-pair primary deltas, (draws, contents, styles)."""
    delta, _ = log_delta(*simulate(rng, n_draws, **kw))
    return delta


def true_components(rng):
    """(σ²_c, σ²_s, σ²_e) of the per-pair Δ: the effects', the run noise adding to the residual (measured on
    pairs without effects, where Δ is the construction's response to the noise alone)."""
    noise_only = log_delta(*simulate(rng, 50, sd_style=0.0, sd_content=0.0, sd_pair=0.0))[0]
    return SD_CONTENT**2, SD_STYLE**2, SD_PAIR**2 + float(noise_only.var())


def primary(table, margin=0.05):
    """p, the interval, the equivalence p and the fit of each table (one variant and metric: Holm is the identity)."""
    f = crossed_fit(table)
    lo, hi = t_interval(f.estimate, f.se, f.df)
    return t_p(f.estimate, f.se, f.df), lo, hi, tost_p(f.estimate, f.se, f.df, margin), f


def rows_of(t_base, y_base, t_var, y_var):
    """One draw as summarize's rows (style_gram the simulated distance, style_swd twice it)."""
    rows = []
    n_c, n_s, n_r = t_base.shape
    for i in range(n_c):
        for j in range(n_s):
            for name, t, y in (("base", t_base, y_base), ("v", t_var, y_var)):
                for k in range(n_r):
                    rows.append(
                        {
                            "content": f"c{i}",
                            "style": f"s{j}",
                            "variant": name,
                            "ratio": float(RATIOS[k]),
                            "content_distance": float(np.exp(t[i, j, k])),
                            "style_gram": float(np.exp(y[i, j, k])),
                            "style_swd": float(2.0 * np.exp(y[i, j, k])),
                        }
                    )
    return rows


def test_log_delta_is_a_mean_log_ratio_and_ignores_each_pairs_scale():
    c = np.geomspace(0.15, 0.85, 5)
    s = np.exp(truth(np.log(c)))
    # The same runs 4% closer to the style: Δ = log 0.96 exactly (same content distances: the same knots).
    assert pair_log_delta(c, s, c, 0.96 * s)[0] == pytest.approx(np.log(0.96), abs=1e-12)
    # Every distance of a pair scaled by a constant (a style with larger Gram matrices, a content further off):
    # the same Δ, where the metric's units would scale it.
    c2 = 1.4 * c * np.exp(0.05 * np.sin(np.arange(5)))  # the variant's runs elsewhere on the frontier
    s2 = 0.9 * np.exp(truth(np.log(c2)))
    d, share, off = pair_log_delta(c, s, c2, s2)
    for k_c, k_s in ((1.0, 3.0), (2.0, 1.0), (0.5, 7.0)):
        assert pair_log_delta(k_c * c, k_s * s, k_c * c2, k_s * s2)[0] == pytest.approx(d, abs=1e-12)
    assert frontier.bd_delta(c, 3.0 * s, c2, 3.0 * s2) == pytest.approx(3.0 * frontier.bd_delta(c, s, c2, s2))
    assert d == pytest.approx(np.log(0.9), abs=2e-3) and off == 0 and 0 < share < 1
    # Exactly antisymmetric, and every run counts: a run off the frontier (not Pareto) moves Δ.
    assert pair_log_delta(c2, s2, c, s)[0] == -d
    bumped = s2.copy()
    bumped[2] *= 1.5
    assert pair_log_delta(c, s, c2, bumped)[0] > d
    # Against the broken line integrated densely, in any order, with a failed run and a run at distance 0.
    rng = np.random.default_rng(0)
    tb, yb, tv, yv = rng.normal(size=(4, 6))
    grid = np.linspace(max(tb.min(), tv.min()), min(tb.max(), tv.max()), 200001)
    ob, ov = np.argsort(tb), np.argsort(tv)
    dense = np.trapezoid(np.interp(grid, tv[ov], yv[ov]) - np.interp(grid, tb[ob], yb[ob]), grid) / np.ptp(grid)
    assert log_delta(tb, yb, tv, yv)[0] == pytest.approx(dense, abs=1e-8)
    d, _, off = pair_log_delta([*np.exp(tb), np.nan, 0.0], [*np.exp(yb), 1.0, 1.0], np.exp(tv), np.exp(yv))
    assert d == pytest.approx(dense, abs=1e-8) and off == 1
    # Fewer than two runs, or no overlap: no Δ.
    assert np.isnan(log_delta([0.0], [1.0], [0.0, 1.0], [1.0, 0.0])[0])
    assert np.isnan(log_delta([0.0, 1.0], [1.0, 0.0], [2.0, 3.0], [1.0, 0.0])[0])


def test_crossed_fit_is_the_anova_estimate_with_satterthwaite_df():
    rng = np.random.default_rng(1)
    t = 0.3 + rng.normal(size=(6, 1)) + 2.0 * rng.normal(size=(1, 9)) + 0.5 * rng.normal(size=(6, 9))
    c, s = t.shape
    r, k, g = t.mean(axis=1), t.mean(axis=0), t.mean()
    ms_c = s * ((r - g) ** 2).sum() / (c - 1)
    ms_s = c * ((k - g) ** 2).sum() / (s - 1)
    ms_e = ((t - r[:, None] - k[None, :] + g) ** 2).sum() / ((c - 1) * (s - 1))
    assert ms_c > ms_e and ms_s > ms_e  # both components positive for this draw
    v = (ms_c + ms_s - ms_e) / (c * s)
    df = v**2 * (c * s) ** 2 / (ms_c**2 / (c - 1) + ms_s**2 / (s - 1) + ms_e**2 / ((c - 1) * (s - 1)))
    f = crossed_fit(t)
    assert f.estimate == pytest.approx(g) and f.se**2 == pytest.approx(v) and f.df == pytest.approx(df)
    assert f.var_content == pytest.approx((ms_c - ms_e) / s) and f.var_residual == pytest.approx(ms_e)
    assert t_p(f.estimate, f.se, f.df) == pytest.approx(2 * stats.t.sf(abs(g) / np.sqrt(v), df))
    # A component estimated below 0 is 0 and its mean square drops out: no content effect → the by-style test.
    flat = 2.0 * rng.normal(size=(1, 9)) + 0.01 * rng.normal(size=(6, 9))
    f = crossed_fit(flat)
    assert f.var_content == 0.0 and f.df == pytest.approx(s - 1)
    assert f.se**2 == pytest.approx(flat.mean(axis=0).var(ddof=1) / s)
    assert satterthwaite([1.0, 1.0], [2.0, 3.0], [4.0, 5.0]) == pytest.approx(25.0 / (4.0 / 4.0 + 9.0 / 5.0))
    # One content: the one-sample t over styles (the content fixed).
    f = crossed_fit(t[:1])
    assert f.se**2 == pytest.approx(t[0].var(ddof=1) / s) and f.df == pytest.approx(s - 1)
    # A missing pair in an additive table is filled by the additive fit: the full table's mean, one df less.
    additive = rng.normal(size=(6, 1)) + rng.normal(size=(1, 9))
    holed = additive + 0.1 * rng.normal(size=(6, 9))
    full = crossed_fit(holed)
    holed[2, 3] = np.nan
    filled = crossed_fit(holed)
    assert filled.n_missing == 1 and filled.n_contents == 6 and filled.n_styles == 9
    assert abs(filled.estimate - full.estimate) < 0.01 and np.isfinite(filled.se)
    exact = additive.copy()
    exact[2, 3] = np.nan
    assert crossed_fit(exact).estimate == pytest.approx(additive.mean(), abs=1e-9)
    # A content with no pair at all drops out; batched tables give one fit each.
    gap = t.copy()
    gap[4] = np.nan
    batch = crossed_fit(np.stack([t, gap]))
    assert batch.estimate[0] == pytest.approx(g) and batch.n_contents.tolist() == [6, 5]


def test_false_claims_near_five_percent_and_coverage_near_95_at_the_benchmarks_size():
    rng = np.random.default_rng(2)
    # No effect on average, strong style effects around it: the primary test's false-claim rate.
    p, lo, hi, _, f = primary(tables(rng, 400))
    false_claims = float(np.mean(p < 0.05))
    assert 0.02 <= false_claims <= 0.09, false_claims  # measured: 0.035 (4000 draws: 0.048)
    assert np.median(f.df) == pytest.approx(14, abs=3)  # Satterthwaite: between the styles' 11 and the pairs' 77
    # An effect of 0.05: the 95% interval covers it.
    p, lo, hi, _, _ = primary(tables(rng, 400, delta=0.05))
    coverage = float(np.mean((lo < 0.05) & (hi > 0.05)))
    assert 0.91 <= coverage <= 0.98, coverage  # measured: 0.938 (4000 draws: 0.945)


def test_no_bias_when_one_variant_is_three_times_noisier_and_the_pareto_filter_would_be():
    rng = np.random.default_rng(3)
    # No true difference, no effects (Δ is the constructions' response to the noise alone), the variant's runs 3×
    # noisier (0.06 in log style distance against 0.02), at 20% more content distance: 2000 pairs.
    t_b, y_b, t_v, y_v = simulate(rng, 1, 40, 50, sd_style=0.0, sd_content=0.0, sd_pair=0.0, noise_var=3 * SD_RUN)
    t_b, y_b, t_v, y_v = (x.reshape(-1, RATIOS.size) for x in (t_b, y_b, t_v, y_v))
    fit, _ = log_delta(t_b, y_b, t_v, y_v)
    se = fit.std() / np.sqrt(fit.size)
    assert abs(fit.mean()) < 3 * se and abs(fit.mean()) < 0.002  # measured: mean 0.0004, se 0.0007
    # The same runs through the Pareto points (PCHIP, the earlier construction, on the same log axes): the noisier
    # variant's lucky low runs are its frontier, and Δ favours it.
    pareto = np.array(
        [frontier.bd_delta(np.exp(a), b, np.exp(c), d) for a, b, c, d in zip(t_b, y_b, t_v, y_v, strict=True)]
    )
    assert pareto.mean() < -0.003 and pareto.mean() < fit.mean() - 5 * se  # measured: −0.0051


def test_power_for_a_stated_effect_matches_the_power_function():
    rng = np.random.default_rng(4)
    effect = 0.05
    p, *_ = primary(tables(rng, 400, delta=effect))
    simulated = float(np.mean(p < 0.05))
    pilot = true_components(rng)
    predicted = power.power(effect, pilot, N_CONTENTS, N_STYLES)
    # measured: 0.73 against 0.69 predicted (4000 draws: 0.70)
    assert simulated == pytest.approx(predicted, abs=0.07), (simulated, predicted)
    # From a pilot's summary (its "variance"): the same number within the pilot's own error.
    s = summary.summarize(rows_of(*(x[0] for x in simulate(rng, 1))), "base", metrics=("style_gram",), n_boot=50)
    (c,) = s["comparisons"]
    assert set(c["variance"]) >= {"content", "style", "residual"}
    assert 0.2 < power.power(effect, c, N_CONTENTS, N_STYLES) < 1.0
    # Four styles: the same effect is found in a minority of benchmarks.
    assert power.power(effect, pilot, N_CONTENTS, 4) < 0.4


def test_power_function_basics():
    var = (0.02**2, 0.06**2, 0.03**2)
    assert power.power(0.0, var, 8, 12) == pytest.approx(0.05, abs=1e-9)
    assert power.power(0.03, var, 8, 12) < power.power(0.05, var, 8, 12) < power.power(0.05, var, 8, 24)
    assert power.power(0.05, var, 8, 12, n_tests=4) < power.power(0.05, var, 8, 12)
    assert power.equivalence_power(0.05, var, 8, 24) > power.equivalence_power(0.05, var, 8, 12)
    plan = power.plan({"content": var[0], "style": var[1], "residual": var[2]}, 8, 12, effect=0.05, margin=0.05)
    assert set(plan) == {"se", "df", "power", "equivalence_power", "detectable"}
    assert power.power(plan["detectable"], var, 8, 12) == pytest.approx(0.8, abs=1e-6)
    with pytest.raises(ValueError):
        power.components({"content": 0.1, "style": None, "residual": 0.1})


def test_equivalent_when_there_is_no_effect_and_the_margin_is_generous_undetermined_with_four_styles():
    rng = np.random.default_rng(5)
    drawn = tables(rng, 400)
    _, _, _, p_eq, f = primary(drawn, margin=0.15)
    shown = np.mean(p_eq < 0.05)
    assert shown > 0.95  # measured: 1.00
    assert power.equivalence_power(0.15, true_components(rng), N_CONTENTS, N_STYLES) > 0.95
    # The declared margin (0.05): equivalence is shown in some benchmarks of 12 styles, few of 4.
    _, _, _, p12, _ = primary(drawn, margin=0.05)
    _, _, _, p4, _ = primary(drawn[:, :, :4], margin=0.05)
    assert np.mean(p12 < 0.05) > 0.4 and np.mean(p4 < 0.05) < 0.2  # measured: 0.60 (predicted 0.62), 0.08
    # End to end, one benchmark through summarize: 12 styles, margins of 0.15: equivalent on both metrics (Holm over
    # the two); its first 4 styles at the declared 0.05: undetermined.
    rows = rows_of(*(x[0] for x in simulate(rng, 1)))
    s = summary.summarize(rows, "base", n_boot=200, n_perm=200, margin=0.15)
    assert [c["verdict"] for c in s["comparisons"]] == ["equivalent", "equivalent"]
    assert s["margins"] == {"style_gram": 0.15, "style_swd": 0.15}
    # style_swd is twice style_gram: the same log deltas, the same primary numbers.
    a, b = s["comparisons"]
    assert a["estimate"] == pytest.approx(b["estimate"], abs=1e-12) and a["df"] == pytest.approx(b["df"])
    four = [r for r in rows if int(r["style"][1:]) < 4]
    s = summary.summarize(four, "base", n_boot=200, n_perm=200)
    assert [c["verdict"] for c in s["comparisons"]] == ["undetermined", "undetermined"]
    assert all(c["df"] < 6 for c in s["comparisons"])


def test_verdicts_holm_over_variants_and_metrics_and_the_artist_as_unit():
    assert verdicts([-0.1, 0.1, 0.01, 0.01, None], [0.01, 0.01, 0.5, 0.01, None], [0.5, 0.5, 0.01, 0.01, None]) == [
        "better",
        "worse",
        "equivalent",
        "equivalent",  # significant but shown within the margin: the margin is the smallest difference that matters
        "undetermined",
    ]
    assert margins_for(["a", "b"], {"a": 0.1}) == {"a": 0.1, "b": 0.05}
    with pytest.raises(ValueError):
        margins_for(["a"], 0.0)
    rng = np.random.default_rng(6)
    rows = rows_of(*(x[0] for x in simulate(rng, 1, delta=-0.15)))
    rows += [dict(r, variant="w", style_gram=r["style_gram"] * 1.2) for r in rows if r["variant"] == "v"]
    # Artists: styles s0–s5 by one, s6–s8 by another, s9–s11 each alone (a mapping; a function works too).
    artist = {f"s{j}": "a" if j < 6 else ("b" if j < 9 else f"s{j}") for j in range(N_STYLES)}
    s = summary.summarize(rows, "base", n_boot=200, n_perm=200, group=artist)
    comps = s["comparisons"]
    assert [(c["variant"], c["metric"]) for c in comps] == [
        ("v", "style_gram"),
        ("w", "style_gram"),
        ("v", "style_swd"),
        ("w", "style_swd"),
    ]
    from nstjax.stats.inference import holm

    np.testing.assert_allclose([c["p_holm"] for c in comps], holm([c["p"] for c in comps]))
    assert [c["verdict"] for c in comps] == ["better", "worse", "better", "better"]
    assert comps[1]["estimate"] == pytest.approx(comps[0]["estimate"] + np.log(1.2), abs=1e-9)
    by = comps[0]["sensitivity"]["by_group"]
    assert by["groups"] == 5 and by["estimate"] < 0 and by["df"] < comps[0]["df"]
    assert by["verdict"] in ("better", "undetermined") and by["p_holm"] >= by["p"]
    same = summary.summarize(rows, "base", n_boot=200, n_perm=200, group=lambda style: artist[style])
    assert same["comparisons"][0]["sensitivity"]["by_group"] == by
    assert summary.summarize(rows, "base", n_boot=50, n_perm=50)["comparisons"][0]["sensitivity"]["by_group"] is None


def test_run_noise_from_replicate_seeds():
    rng = np.random.default_rng(7)
    rows = []
    for seed in range(4):
        for j in range(6):
            for q in RATIOS:
                c = 0.3 * q**0.15 * np.exp(0.01 * rng.normal())
                for name, sd in (("base", 0.02), ("v", 0.06)):
                    rows.append(
                        {
                            "content": "c0",
                            "style": f"s{j}",
                            "variant": name,
                            "ratio": float(q),
                            "seed": seed,
                            "content_distance": float(c),
                            "style_gram": float(np.exp(truth(np.log(c)) + j + sd * rng.normal())),
                        }
                    )
    noise = {(n["variant"], n["metric"]): n for n in run_noise(rows, ("style_gram",))}
    assert noise["base", "style_gram"]["groups"] == 30 and noise["base", "style_gram"]["df"] == 90
    assert noise["base", "style_gram"]["sd"] == pytest.approx(0.02, rel=0.2)
    assert noise["v", "style_gram"]["sd"] == pytest.approx(0.06, rel=0.2)
    assert noise["v", "content_distance"]["sd"] == pytest.approx(0.01, rel=0.25)
    # summarize takes the replicates as more runs on each frontier, and reports the noise.
    s = summary.summarize(rows, "base", metrics=("style_gram",), n_boot=50, n_perm=50)
    assert s["run_noise"] == run_noise(rows, ("style_gram",))
    (c,) = s["comparisons"]
    assert c["pairs_compared"] == 6 and abs(c["estimate"]) < 0.05
    assert run_noise([{k: v for k, v in r.items() if k != "seed"} for r in rows]) == []
    with pytest.raises(ValueError, match="seed 0"):
        summary.summarize(rows + rows[:1], "base", metrics=("style_gram",))
