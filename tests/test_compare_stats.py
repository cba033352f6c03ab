"""The comparison's statistics (nstjax.stats) against known truths, and its figures (nstjax.io.compare_plots)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from nstjax.stats import frontier, inference, summary

RATIOS = (1e-2, 1e-1, 1.0, 1e1, 1e2, 1e3)


def _curve(c, scale):
    """A decreasing trade-off that flattens at both ends, as a ratio sweep's does (no closed form PCHIP is exact on)."""
    return scale * (0.3 + 1.0 / (1.0 + (np.asarray(c) / 0.5) ** 2))


def _rows(variants, n_contents=3, n_styles=4, noise=0.0, seed=0, relative=False):
    """Synthetic runs: each variant is (name, style shift δ, content-distance gain g): at ratio q the run lands
    at content distance g·c(q) on the pair's frontier shifted by δ (+ noise); ``relative``: scaled by e^δ instead
    (a shift of δ in log style distance, the primary axis). The style scale varies by style (most of the variance,
    as in Yeh et al.), a little by content. δ may be one per style (a style effect)."""
    rng = np.random.default_rng(seed)
    rows = []
    for ci, si in itertools.product(range(n_contents), range(n_styles)):
        scale = (1.0 + si) * (1.0 + 0.1 * ci)
        for name, shifts, gain in variants:
            shift = shifts[si] if np.ndim(shifts) else shifts
            for q in RATIOS:
                cd = gain * 0.3 * q**0.15  # content distance 0.15 … 0.84 over the sweep (gain 1)
                rows.append(
                    {
                        "content": f"c{ci}",
                        "style": f"s{si}",
                        "variant": name,
                        "ratio": q,
                        "content_distance": cd,
                        "style_gram": float(
                            (_curve(cd, scale) * np.exp(shift) if relative else _curve(cd, scale) + shift)
                            + noise * rng.normal()
                        ),
                        "style_swd": float(0.5 * _curve(cd, scale) + shift),
                    }
                )
    return rows


def test_pareto_hand_example():
    # (3, 4) is beaten by (2, 3); (2, 3.5) by (2, 3); (5, 1) by (4, 1); the duplicate (2, 3) is kept once.
    x, y = frontier.pareto([1, 2, 3, 4, 2, 5, 2, np.nan], [5, 3, 4, 1, 3.5, 1, 3, 0.1])
    np.testing.assert_array_equal(x, [1, 2, 4])
    np.testing.assert_array_equal(y, [5, 3, 1])


def test_shifted_curve_recovers_delta_at_matched_content():
    c = np.geomspace(0.5, 8.0, 7)
    # Same knots: PCHIP of shifted data is the shifted PCHIP, so the gap is δ to rounding.
    assert frontier.delta_matched_content(c, _curve(c, 3.0), c, _curve(c, 3.0) - 0.2) == pytest.approx(-0.2, abs=1e-12)
    # Other knots, half overlapping: only interpolation error remains.
    c2 = c * 1.7
    assert frontier.delta_matched_content(c, _curve(c, 3.0), c2, _curve(c2, 3.0) + 0.2) == pytest.approx(0.2, abs=0.01)
    # A frontier moved right by ε (more content lost for the same style): +ε at matched style, 0 in style.
    assert frontier.delta_matched_style(c, _curve(c, 3.0), c + 0.25, _curve(c, 3.0)) == pytest.approx(0.25, abs=1e-12)


def test_only_the_pareto_points_shape_the_curve():
    c = np.geomspace(0.5, 8.0, 6)
    base, var = _curve(c, 3.0), _curve(c, 3.0) - 0.1
    # Runs off the frontier (each beaten on both distances by a neighbour), a duplicate, a failed run, and the
    # runs in another order: the frontier and so the delta are the same.
    xs = np.concatenate([c, [1.1 * c[1], c[3], 2.0]])[::-1]
    ys = np.concatenate([var, [var[1] + 0.5, var[3], np.nan]])[::-1]
    assert frontier.delta_matched_content(c, base, xs, ys) == pytest.approx(-0.1, abs=1e-12)


def test_log_axis_weighs_the_range_per_log_unit():
    # x = e^t on t ∈ [0, 1], a gap of t/2 (both curves decreasing, so every point is on its frontier).
    t = np.linspace(0.0, 1.0, 50)
    x, base_y = np.exp(t), 2.0 - t
    # Per unit of log x the mean gap is ∫ t/2 dt = 1/4; per unit of x it is ∫_1^e log(x)/2 dx / (e − 1) = 1/(2(e − 1)).
    assert frontier.bd_delta(x, base_y, x, base_y + t / 2) == pytest.approx(0.25, abs=1e-12)
    assert frontier.bd_delta(x, base_y, x, base_y + t / 2, log_x=False) == pytest.approx(0.5 / (np.e - 1.0), abs=1e-4)


def test_no_overlap_or_too_few_points_is_nan():
    c = np.array([1.0, 2.0, 3.0])
    assert np.isnan(frontier.delta_matched_content(c, 4.0 - c, c + 5.0, 4.0 - c))
    assert np.isnan(frontier.delta_matched_content(c, 4.0 - c, [1.0, 2.0], [1.0, 1.5]))  # one Pareto point
    assert np.isnan(frontier.delta_matched_content(c, 4.0 - c, [3.0, 4.0], [1.0, 0.5]))  # touches at one point


def test_a_distance_at_or_below_zero_has_no_curve_not_an_error():
    c = np.array([0.2, 0.4, 0.8])
    zero = np.array([0.0, 0.4, 0.8])  # a run that returned the content image: log 0 = −∞
    assert frontier.curve(zero, 1.0 - zero) is None and frontier.curve(-zero, 1.0 + zero) is None
    assert np.isnan(frontier.delta_matched_content(c, 1.0 - c, zero, 0.9 - zero))
    assert np.isnan(frontier.delta_matched_style(c, 1.0 - c, c, [0.5, 0.2, 0.0]))  # a style distance of 0
    # On a linear axis 0 is an ordinary point: the same shift of 0.1 is recovered.
    assert frontier.delta_matched_content(zero, 1.0 - zero, zero, 0.9 - zero, log_x=False) == pytest.approx(-0.1)
    x, y, off = frontier.placed([0.3, np.nan, 0.0, 0.5, 0.4], [1.0, 0.9, 0.8, 0.0, np.nan])
    assert off == 2 and np.array_equal(x, [0.3, np.nan, 0.4], equal_nan=True)
    assert np.array_equal(y, [1.0, 0.9, np.nan], equal_nan=True)


def test_overlap_share_hand_example():
    # On the log axis the baseline spans t ∈ [0, 2], the variant [1, 4]: overlap 1 over a union of 4.
    base = frontier.curve(np.exp([0.0, 1.0, 2.0]), [3.0, 2.0, 1.0])
    var = frontier.curve(np.exp([1.0, 2.5, 4.0]), [2.5, 1.5, 0.5])
    assert frontier.overlap_share(base, var) == pytest.approx(0.25, abs=1e-12)
    assert frontier.overlap_share(var, base) == pytest.approx(0.25, abs=1e-12)
    assert frontier.overlap_share(base, base) == 1.0
    far = frontier.curve(np.exp([5.0, 6.0]), [1.0, 0.5])
    assert frontier.overlap_share(base, far) == 0.0 and np.isnan(frontier.overlap_share(base, None))
    # On the linear axis the same points overlap e² − e over e⁴ − 1.
    lin = frontier.overlap_share(
        frontier.curve(np.exp([0.0, 1.0, 2.0]), [3.0, 2.0, 1.0], log_x=False),
        frontier.curve(np.exp([1.0, 2.5, 4.0]), [2.5, 1.5, 0.5], log_x=False),
    )
    assert lin == pytest.approx((np.e**2 - np.e) / (np.e**4 - 1.0), abs=1e-12)


def test_holm_hand_example():
    # Sorted: 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 = 0.04 → raised to 0.06 (step-down monotone).
    np.testing.assert_allclose(inference.holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(inference.holm([0.5, np.nan, 0.6]), [1.0, np.nan, 1.0])


def test_sign_flip_exact_enumeration():
    # n = 4, all deltas positive: only the all-plus and all-minus sign vectors are as extreme: p = 2/16.
    assert inference.sign_flip_p([1.0, 2.0, 3.0, 4.0], n_perm=16) == 2 / 16
    # d = (1, 1, 1, −3): |mean| = 0; every one of the 16 flips is at least that.
    assert inference.sign_flip_p([1.0, 1.0, 1.0, -3.0], n_perm=100) == 1.0
    # Sampled (2^20 > n_perm): never below 1/(n_perm + 1).
    assert inference.sign_flip_p(np.ones(20), n_perm=999) == pytest.approx(1 / 1000)


def test_bootstrap_and_permutation_are_deterministic_for_a_seed():
    table = np.random.default_rng(3).normal(size=(5, 4))
    table[1, 2] = np.nan
    assert inference.bootstrap_ci(table, 500, seed=7) == inference.bootstrap_ci(table, 500, seed=7)
    assert inference.bootstrap_ci(table, 500, seed=7) != inference.bootstrap_ci(table, 500, seed=8)
    d = table[np.isfinite(table)] + 0.3  # a p between the extremes, where the draws show
    assert inference.sign_flip_p(d, 300, seed=1) == inference.sign_flip_p(d, 300, seed=1)
    assert inference.sign_flip_p(d, 300, seed=1) != inference.sign_flip_p(d, 300, seed=2)
    rows = _rows([("base", 0.0, 1.0), ("v", -0.05, 1.2)], noise=0.05)
    a = summary.summarize(rows, "base", n_boot=300, n_perm=300, seed=4)
    assert a == summary.summarize(rows, "base", n_boot=300, n_perm=300, seed=4)
    # Seeds follow the names: another variant beside it leaves this one's interval and p as they were.
    more = rows + [dict(r, variant="w") for r in rows if r["variant"] == "v"]
    b = summary.summarize(more, "base", n_boot=300, n_perm=300, seed=4)
    for key in ("ci95_bootstrap", "ci95_pareto", "p_pairs", "p_style"):
        assert [c["sensitivity"][key] for c in a["comparisons"]] == [
            c["sensitivity"][key] for c in b["comparisons"] if c["variant"] == "v"
        ]
    # The primary analysis draws nothing: its interval and p are the same whatever the seed.
    c = summary.summarize(rows, "base", n_boot=300, n_perm=300, seed=5)
    assert [x["ci95"] for x in a["comparisons"]] == [x["ci95"] for x in c["comparisons"]]


def test_two_way_bootstrap_resamples_styles():
    # Deltas that differ only between styles: a one-way bootstrap over contents would see no spread at all.
    table = np.tile([-1.0, 0.0, 1.0, 2.0], (5, 1))
    lo, hi = inference.bootstrap_ci(table, 2000, seed=0)
    assert lo < 0.5 < hi and hi - lo > 1.6  # resampling the 20 pairs as if independent: about 1.0
    # Additive effects T = a_i + b_j: a resample's mean is mean_w(a) + mean_v(b), of variance var(a)/5 + var(b)/4,
    # so the interval is about ±1.96 of its root. One-way over contents or styles: 0.75 or 0.66 of it; pairs: 0.48.
    a, b = np.array([-2.0, -1.0, 0.0, 1.0, 2.0]), np.array([-1.5, -0.5, 0.5, 1.5])
    lo, hi = inference.bootstrap_ci(a[:, None] + b[None, :], 4000, seed=0)
    assert (hi - lo) / (2 * 1.96 * np.sqrt(a.var() / 5 + b.var() / 4)) == pytest.approx(1.0, abs=0.08)
    # Undefined pairs weigh nothing (not zero): every defined pair 0.3, so every resample's mean is 0.3.
    sparse = np.full((5, 4), 0.3)
    sparse[[0, 2, 4], [1, 3, 0]] = np.nan
    assert inference.bootstrap_ci(sparse, 200, seed=0) == pytest.approx((0.3, 0.3), abs=1e-12)
    # One defined pair and a resample that misses it: no interval, not an error.
    lone = np.full((5, 4), np.nan)
    lone[0, 0] = 1.0
    results = [inference.bootstrap_ci(lone, 1, seed=s) for s in range(8)]
    assert all(r == (1.0, 1.0) or np.isnan(r).all() for r in results) and any(np.isnan(r).all() for r in results)


def test_summary_recovers_a_known_shift():
    delta = -0.08
    rows = _rows([("max", 0.0, 1.0), ("avg", delta, 1.3)], noise=0.02)
    s = summary.summarize(rows, "max", metrics=("style_gram",), n_boot=1000, n_perm=2000)
    (c,) = s["comparisons"]
    assert s["pairs"] == 12 and c["pairs_compared"] == 12 and c["pairs_without_overlap"] == 0
    # The earlier headline (Pareto points, the metric's units) recovers the shift in its units.
    sens = c["sensitivity"]
    assert sens["delta_pareto"] == pytest.approx(delta, abs=0.015)
    lo, hi = sens["ci95_pareto"]
    assert lo < delta < hi < 0
    assert sens["p_pairs"] < 0.01 and c["wins"] >= 10
    assert set(c["per_style"]) == {"s0", "s1", "s2", "s3"}
    # The primary Δ is the mean log ratio: a shift of −0.08 on a style whose distances are 4× larger is a
    # smaller ratio, so it varies by style, and four styles leave 3 df: the verdict waits for more styles.
    assert c["delta"] == c["estimate"] < 0 and c["df"] == pytest.approx(3.0)
    assert c["verdict"] == "undetermined" and not c["significant"]
    per_style = [c["per_style"][f"s{j}"] for j in range(4)]
    assert per_style == sorted(per_style)  # larger scale, smaller log gap


def test_equal_ratio_shows_the_strength_confound():
    # A "stronger" variant on the SAME frontier: at each ratio it lands further along it (gain 2 in content
    # distance). At equal ratio it looks closer to the style; at matched content there is nothing to choose.
    rows = _rows([("base", 0.0, 1.0), ("strong", 0.0, 2.0)])
    (c,) = summary.summarize(rows, "base", metrics=("style_swd",), n_boot=200, n_perm=200)["comparisons"]
    # The primary Δ (the broken line through every run, log axes) and the earlier one (PCHIP, Pareto points).
    assert c["delta"] == pytest.approx(0.0, abs=1e-4) and c["sensitivity"]["delta_pareto"] == pytest.approx(
        0.0, abs=2e-3
    )
    assert c["verdict"] == "equivalent"  # noise-free: the interval is a point, well within ±0.05
    assert c["delta_equal_ratio"] < -0.1
    # Each sweep spans a factor 10^(5 · 0.15) in content distance, the strong one shifted by a factor 2: on the
    # log axis they overlap (0.75 ln 10 − ln 2) over a union of (0.75 ln 10 + ln 2), below half.
    share = (0.75 * np.log(10) - np.log(2)) / (0.75 * np.log(10) + np.log(2))
    assert [p["overlap"] for p in c["per_pair"]] == pytest.approx([share] * 12, abs=1e-12)
    assert c["pairs_small_overlap"] == 12 and not c["significant"] and not c["sensitivity"]["significant_rule"]


def test_variant_against_itself_is_exactly_zero():
    rows = _rows([("base", 0.0, 1.0)], noise=0.05)
    rows += [dict(r, variant="copy") for r in rows]
    s = summary.summarize(rows, "base", n_boot=300, n_perm=300)
    for c in s["comparisons"]:
        assert c["delta"] == 0.0 and c["ci95"] == [0.0, 0.0]
        assert c["p"] == 1.0 and c["p_holm"] == 1.0 and c["p_equivalence"] == 0.0
        assert c["wins"] == 0 and c["delta_equal_ratio"] == 0.0 and c["delta_matched_style"] == 0.0
        sens = c["sensitivity"]
        assert sens["delta_pareto"] == 0.0 and sens["ci95_bootstrap"] == [0.0, 0.0] and sens["p_pairs"] == 1.0
        assert sens["p_style"] == sens["p_crossed"] == sens["p_style_holm"] == sens["p_crossed_holm"] == 1.0
        assert c["verdict"] == "equivalent" and not c["significant"] and not sens["significant_rule"]
        assert c["pairs_small_overlap"] == 0
        assert all(p["overlap"] == 1.0 for p in c["per_pair"])


def test_pairs_without_overlap_are_counted():
    rows = _rows([("base", 0.0, 1.0), ("far", 0.0, 1.0)], n_contents=2, n_styles=2)
    for r in rows:  # one pair's variant frontier lies wholly beyond the baseline's range of content distance
        if r["variant"] == "far" and (r["content"], r["style"]) == ("c0", "s0"):
            r["content_distance"] *= 100.0
            r["style_gram"] -= 0.3  # and lower: at equal ratio it looks better
    rows = [r for r in rows if not (r["variant"] == "far" and (r["content"], r["style"]) == ("c1", "s1"))]
    for r in rows:  # every run of another pair failed (None, as the runner reports it): no frontier, no delta
        if r["variant"] == "far" and (r["content"], r["style"]) == ("c1", "s0"):
            r.update(content_distance=None, style_gram=None, style_swd=None)
    (c,) = summary.summarize(rows, "base", metrics=("style_gram",), n_boot=100, n_perm=100)["comparisons"]
    assert (c["pairs_compared"], c["pairs_without_overlap"], c["pairs_missing"]) == (1, 3, 1)
    assert [p["delta"] is None for p in c["per_pair"]] == [True, False, True, True]
    assert c["delta"] == 0.0 and c["per_style"] == {"s0": None, "s1": 0.0}
    assert [p["overlap"] for p in c["per_pair"]] == [0.0, 1.0, None, None]
    # At equal ratio the far pair (no overlap, but it shares every ratio) differs; the pair compared does not.
    far = next(p["delta_equal_ratio"] for p in c["per_pair"] if (p["content"], p["style"]) == ("c0", "s0"))
    assert far == pytest.approx(-0.3) and c["pairs_equal_ratio"] == 2
    assert c["delta_equal_ratio"] == pytest.approx(far / 2) and c["delta_equal_ratio_compared"] == 0.0


def test_null_is_calibrated():
    # Identical-in-distribution variants: per pair a pool of frontiers, each the pair's curve at jittered content
    # distances plus noise; a draw compares two distinct frontiers of the pool on every pair. The pool's curves
    # and their gaps are built once (PCHIP construction is the cost), so 2000 draws are a matrix lookup.
    rng = np.random.default_rng(0)
    n_pairs, pool, n_draws = 10, 24, 2000
    base_c = np.geomspace(0.15, 0.85, 5)
    gaps = np.empty((n_pairs, pool, pool))
    for j in range(n_pairs):
        scale = 1.0 + j % 4
        curves = []
        for _ in range(pool):
            c = base_c * np.exp(0.1 * rng.normal(size=5))
            curves.append(frontier.curve(c, _curve(c, scale) + 0.02 * scale * rng.normal(size=5)))
        gaps[j] = [[frontier.gap(a, b) for b in curves] for a in curves]
    np.testing.assert_array_equal(gaps, -gaps.transpose(0, 2, 1))  # antisymmetric: the null is symmetric
    first = rng.integers(0, pool, size=(n_draws, n_pairs))
    second = (first + rng.integers(1, pool, size=(n_draws, n_pairs))) % pool  # a distinct frontier
    deltas = gaps[np.arange(n_pairs), first, second]
    assert np.isfinite(deltas).all()
    p = inference.sign_flip_p(deltas, n_perm=500, seed=1)  # sampled: 2^10 > 500
    assert p.shape == (n_draws,)
    assert 0.03 < float(np.mean(p < 0.05)) < 0.07
    p_exact = inference.sign_flip_p(deltas[:, :8], n_perm=256)  # exact: 2^8 ≤ 256
    assert 0.03 < float(np.mean(p_exact < 0.05)) < 0.07


def _crossed_tables(rng, n_draws, n_contents, n_styles, content_sd, style_sd, noise_sd=0.3, delta=0.0):
    """Draws of per-pair deltas from the crossed random-effects model d_ij = δ + a_i + b_j + e_ij."""
    a = content_sd * rng.normal(size=(n_draws, n_contents, 1))
    b = style_sd * rng.normal(size=(n_draws, 1, n_styles))
    return delta + a + b + noise_sd * rng.normal(size=(n_draws, n_contents, n_styles))


def _claims(tables):
    """The rule's outcome per table, for one variant (Holm over one variant is the identity), and its parts."""
    flat = tables.reshape(tables.shape[0], -1)
    p = inference.sign_flip_p(flat, n_perm=500, seed=1)  # 2^40 sign vectors: sampled
    p_style = inference.style_flip_p(tables)  # 2^S ≤ 10000: exact
    p_crossed = inference.min_f_p(tables)
    lo, hi = inference.bootstrap_ci(tables, n_boot=400, seed=2)
    return inference.significant(p, p_style, p_crossed, lo, hi), p, p_style, p_crossed


def test_the_rule_is_calibrated_for_a_crossed_design():
    rng = np.random.default_rng(0)
    n = 2000
    # A strong style effect of mean 0 (5 contents × 8 styles): the pairs' p rejects far more often than 5% (pairs
    # that share a style are not independent); the style-clustered p, min F' and so the rule do not.
    claim, p, p_style, p_crossed = _claims(_crossed_tables(rng, n, 5, 8, content_sd=0.0, style_sd=1.0))
    assert np.mean(p < 0.05) > 0.3
    assert 0.02 < np.mean(p_style < 0.05) < 0.07 and np.mean(p_crossed < 0.05) < 0.07
    assert np.mean(claim) < 0.07
    # A content effect of mean 0: now the style-clustered p is the one fooled (every style shares the contents'
    # mean), and min F' keeps the rule calibrated.
    claim, p, p_style, p_crossed = _claims(_crossed_tables(rng, n, 5, 8, content_sd=1.0, style_sd=0.0))
    assert np.mean(p_style < 0.05) > 0.3 and np.mean(p_crossed < 0.05) < 0.07
    assert np.mean(claim) < 0.07
    claim, *_ = _claims(_crossed_tables(rng, n, 5, 8, content_sd=1.0, style_sd=1.0))
    assert np.mean(claim) < 0.07
    # A true shift of 1.5 style-effect sds is detected with 8 styles in most draws; with 4 it cannot be: the
    # style-clustered p is never below 2/2^4 = 0.125.
    tables = _crossed_tables(rng, n, 5, 8, content_sd=0.3, style_sd=1.0, delta=1.5)
    claim, *_ = _claims(tables)
    assert np.mean(claim) > 0.8
    claim, p, p_style, _ = _claims(tables[:, :, :4])
    assert p_style.min() == 0.125 and not claim.any() and np.mean(p < 0.05) > 0.9


def test_style_flip_and_min_f_hand_examples():
    # Every style agrees: only the all-plus and all-minus flips are as extreme, p = 2/2^S whatever the contents.
    assert inference.style_flip_p(np.ones((5, 4))) == 2 / 16
    assert inference.style_flip_p(np.full((3, 8), -0.2)) == 2 / 256
    # Styles summing to 3, 1, 0.5, −0.5 (an undefined pair weighs nothing): |Σ s_j S_j| ≥ 4 for 3 + (1 ± 0.5 ∓ 0.5)
    # and 3 + 1 + 0.5 + 0.5 and their negatives, 6 of the 16 flips.
    table = np.array([[2.0, 1.0, 0.0, -1.0], [1.0, np.nan, 0.5, 0.5]])
    assert inference.style_flip_p(table) == 6 / 16
    # min F' against Clark's formula from the by-content (F1) and by-style (F2) one-sample tests.
    t = np.random.default_rng(5).normal(size=(5, 8)) + 0.8
    cm, sm = t.mean(axis=1), t.mean(axis=0)
    f1 = cm.mean() ** 2 / (cm.var(ddof=1) / 5)
    f2 = sm.mean() ** 2 / (sm.var(ddof=1) / 8)
    df = (f1 + f2) ** 2 / (f1**2 / 7 + f2**2 / 4)
    assert inference.min_f_p(t) == pytest.approx(stats.f.sf(f1 * f2 / (f1 + f2), 1, df), rel=1e-10)
    assert inference.min_f_p(np.zeros((3, 3))) == 1.0 and np.isnan(inference.min_f_p(np.ones((1, 4))))
    # The rule: every part must hold; None counts as not significant.
    assert inference.significant(0.01, 0.01, 0.01, 0.1, 0.3)
    assert not inference.significant(0.01, 0.01, 0.01, -0.1, 0.3)
    assert not inference.significant(0.01, None, 0.01, 0.1, 0.3)
    assert list(inference.significant([0.01, 0.2], 0.01, 0.01, [-0.5, -0.5], [-0.1, -0.1])) == [True, False]


def test_summary_claims_only_what_the_styles_support():
    # A shift of −0.2 in log style distance with a style effect around it (some styles gain more than others):
    # detected with 8 styles, by the primary analysis and by the earlier rule alike.
    shifts = np.array([-0.2, 0.15, -0.1, 0.25, -0.05, 0.1, -0.25, 0.1]) - 0.2
    rows = _rows([("base", 0.0, 1.0), ("v", shifts, 1.2)], n_contents=5, n_styles=8, noise=0.02, relative=True)
    (c,) = summary.summarize(rows, "base", metrics=("style_gram",), n_boot=500, n_perm=2000)["comparisons"]
    assert c["delta"] == pytest.approx(-0.2, abs=0.01) and c["verdict"] == "better" and c["significant"]
    assert c["ci95"][1] < 0 and c["p_holm"] < 0.05 and c["df"] == pytest.approx(7.0, abs=1.0)
    sens = c["sensitivity"]
    assert sens["p_style"] == sens["p_style_holm"] < 0.05 and sens["p_crossed"] == sens["p_crossed_holm"] < 0.05
    assert sens["significant_rule"]
    # The first 4 styles alone: the pairs' p still says "differ on these pairs"; neither the earlier rule nor the
    # primary analysis makes a claim.
    four = [r for r in rows if int(r["style"][1:]) < 4]
    (c,) = summary.summarize(four, "base", metrics=("style_gram",), n_boot=500, n_perm=2000)["comparisons"]
    sens = c["sensitivity"]
    assert sens["p_pairs"] < 0.01 and sens["p_style"] >= 0.125 and not sens["significant_rule"]
    assert c["verdict"] == "undetermined" and not c["significant"]


def test_a_run_at_a_zero_distance_is_set_aside_and_its_pair_compared_on_the_others():
    rows = _rows([("base", 0.0, 1.0), ("v", -0.05, 1.0)], n_contents=3, n_styles=2)
    for r in rows:  # the variant's highest-ratio run on one pair returned the content image itself
        if r["variant"] == "v" and (r["content"], r["style"]) == ("c1", "s0") and r["ratio"] == RATIOS[-1]:
            r["content_distance"] = 0.0
    for r in rows:  # a style distance of 0 on another
        if r["variant"] == "base" and (r["content"], r["style"]) == ("c0", "s1") and r["ratio"] == RATIOS[0]:
            r["style_gram"] = 0.0
    for r in rows:  # and on a third every variant run but one stayed at the content: no frontier left
        if r["variant"] == "v" and (r["content"], r["style"]) == ("c2", "s1") and r["ratio"] != RATIOS[0]:
            r["content_distance"] = 0.0
    (c,) = summary.summarize(rows, "base", metrics=("style_gram",), n_boot=100, n_perm=100)["comparisons"]
    assert (c["pairs_compared"], c["pairs_without_overlap"]) == (5, 1)
    assert (c["pairs_nonpositive"], c["runs_nonpositive"]) == (3, 1 + 1 + 5)
    assert [p["runs_set_aside"] for p in c["per_pair"]] == [0, 1, 1, 0, 0, 5]
    assert [p["delta"] is None for p in c["per_pair"]] == [False] * 5 + [True]
    # The shift is recovered on the narrower frontiers too (PCHIP through five points instead of six); the
    # primary Δ, a log ratio, is negative on each.
    assert all(p["delta_pareto"] == pytest.approx(-0.05, abs=2e-3) for p in c["per_pair"][:5]), c["per_pair"]
    assert all(p["delta"] < 0 for p in c["per_pair"][:5])
    # Equal ratio uses every run, the ones set aside included (each is a real run at that ratio).
    pair = c["per_pair"][1]  # c0 × s1: the baseline's style 0 at RATIOS[0] makes that gap larger
    assert pair["delta_equal_ratio"] > -0.05


def test_markdown_ranks_and_counts():
    rows = _rows([("max", 0.0, 1.0), ("worse", 0.1, 1.0), ("better", -0.1, 1.0)], n_contents=2, n_styles=2)
    md = summary.to_markdown(summary.summarize(rows, "max", metrics=("style_swd",), n_boot=100, n_perm=100))
    table = [line for line in md.splitlines() if line.startswith("| ") and "rank" not in line]
    assert [line.split(" | ")[1] for line in table] == ["`better`", "`worse`"]
    assert "matched log content distance" in md and "pairs without overlap" in md
    assert [line.split(" | ")[2] for line in table] == ["undetermined"] * 2  # 2 × 2 pairs: 1 df
    assert (
        "the by-style p is at least 2/2^2 = 0.5 with 2 styles" in md and "Margins (log distance): style_swd 0.05" in md
    )


def test_plots_have_one_panel_per_pair_and_metric(tmp_path):
    from PIL import Image

    from nstjax.io import compare_plots

    rows = _rows([("max", 0.0, 1.0), ("avg", -0.05, 1.2), ("l2", 0.02, 0.9)], n_contents=2, n_styles=3)
    rows[0].update(content_distance=None, style_gram=None, style_swd=None)  # a failed run, as the runner reports it
    fig = compare_plots.frontiers_figure(rows, "style_gram")
    assert sum(ax.get_visible() for ax in fig.axes) == 6
    assert sum(len(ax.lines) for ax in fig.axes if ax.get_visible()) == 6 * 3 * 2  # points + curve per variant
    path = compare_plots.frontiers_png(rows, tmp_path / "frontiers.png", "style_gram")
    w, h = Image.open(path).size
    assert w > h > 0  # 2 rows × 3 columns of panels (6 pairs)
    # A run that returned the content image (content distance 0, its style distance far above the frontiers):
    # set aside as the statistics do, said in its panel, and not stretching the panel's axis.
    rows[-1].update(content_distance=0.0, style_gram=50.0)
    fig = compare_plots.frontiers_figure(rows, "style_gram")
    last = [ax for ax in fig.axes if ax.get_visible()][-1]
    assert [t.get_text() for t in last.texts] == ["1 at 0"] and last.get_ylim()[1] < 50
    assert sum(len(ax.texts) for ax in fig.axes) == 1
    s = summary.summarize(rows, "max", n_boot=100, n_perm=100)
    # Filled where the verdict is better or worse, a filled square where equivalent, hollow where undetermined:
    # verdicts set by hand, one of each kind and two undetermined.
    for c, verdict in zip(s["comparisons"], ("better", "equivalent", "undetermined", "undetermined"), strict=True):
        c["verdict"] = verdict
    fig = compare_plots.forest_figure(s)
    assert len(fig.axes) == 2  # one per metric
    assert all(len(ax.get_yticks()) == 2 for ax in fig.axes)  # the two variants besides the baseline
    marks = [(line.get_marker(), line.get_markerfacecolor()) for ax in fig.axes for line in ax.lines]
    marks = [m for m in marks if m[0] in ("o", "s")]
    assert sorted(marks) == [("o", "C0"), ("o", "white"), ("o", "white"), ("s", "C0")]
    assert Image.open(compare_plots.forest_png(s, tmp_path / "forest.png")).size[0] > 0
