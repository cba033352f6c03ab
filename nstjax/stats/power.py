"""Planning a comparison: the power of the primary test (``mixed.crossed_fit``) for a design of C contents × S
styles, from variance components (a pilot's, or assumed).

With components σ²_c, σ²_s, σ²_e of the per-pair Δ, the expected mean squares are E[MS_c] = σ²_e + S σ²_c,
E[MS_s] = σ²_e + C σ²_s, E[MS_e] = σ²_e, so the mean's variance is V = σ²_c/C + σ²_s/S + σ²_e/(CS) and its df
are Satterthwaite's for (E[MS_c] + E[MS_s] − E[MS_e])/(CS) (a component of 0 drops its mean square, as the fit
does). The test statistic d̄/√V̂ is then taken as noncentral t with those df and noncentrality δ/√V, the usual
approximation for a Satterthwaite t (it ignores that V̂'s spread is only approximately a scaled χ²); its error
against simulated benchmarks is in tests/test_verdicts.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import stats

from nstjax.stats.inference import ALPHA
from nstjax.stats.mixed import satterthwaite


def components(source: Mapping[str, Any]) -> tuple[float, float, float]:
    """(σ²_c, σ²_s, σ²_e) from a mapping {"content", "style", "residual"}, or from a comparison of
    ``summary.summarize``'s output (its "variance")."""
    v = source.get("variance", source)
    values = tuple(v.get(k) for k in ("content", "style", "residual"))
    if any(x is None or not np.isfinite(x) or x < 0 for x in values):
        raise ValueError(f"components: need content, style and residual variances ≥ 0; got {values}")
    return float(values[0]), float(values[1]), float(values[2])


def design_se_df(var: tuple[float, float, float], n_contents: int, n_styles: int) -> tuple[float, float]:
    """(√V, Satterthwaite df) of the mean over a full C × S table for components ``var`` = (σ²_c, σ²_s, σ²_e)."""
    s2c, s2s, s2e = var
    c, s = float(n_contents), float(n_styles)
    if c < 2 or s < 2:
        raise ValueError(f"design_se_df: need at least 2 contents and 2 styles; got {n_contents} × {n_styles}")
    ems = np.array([s2e + s * s2c, s2e + c * s2s, s2e])
    coefs = np.array([float(s2c > 0), float(s2s > 0), 1.0 - float(s2c > 0) - float(s2s > 0)])
    v = (coefs * ems).sum() / (c * s)
    df = float(satterthwaite(coefs, ems, [c - 1.0, s - 1.0, (c - 1.0) * (s - 1.0)]))
    return float(np.sqrt(v)), df


def power(
    effect: float,
    var: tuple[float, float, float] | Mapping[str, Any],
    n_contents: int,
    n_styles: int,
    alpha: float = ALPHA,
    n_tests: int = 1,
) -> float:
    """Probability that the two-sided primary test rejects μ = 0 when μ = ``effect``:

        P(|T| > t_{df, 1 − α′/2}),  T ~ noncentral t(df, effect/√V),  α′ = α / n_tests,

    n_tests the family Holm corrects over (variants × metrics; α/m is Holm's first step, so this is the power
    of a comparison when it has the smallest p, a lower bound otherwise). ``var``: (σ²_c, σ²_s, σ²_e) or a
    mapping for ``components``."""
    v = var if isinstance(var, tuple) else components(var)
    se, df = design_se_df(v, n_contents, n_styles)
    crit = stats.t.ppf(1.0 - alpha / n_tests / 2.0, df)
    nc = effect / se
    return float(stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc))


def equivalence_power(
    margin: float,
    var: tuple[float, float, float] | Mapping[str, Any],
    n_contents: int,
    n_styles: int,
    effect: float = 0.0,
    alpha: float = ALPHA,
    n_tests: int = 1,
) -> float:
    """Probability that the two one-sided tests (``mixed.tost_p``) show equivalence within ±``margin`` when the
    true mean is ``effect``: P(T₁ > t) + P(T₂ > t) − 1 with T₁ ~ nct(df, (margin − effect)/√V), T₂ ~ nct(df,
    (margin + effect)/√V), t = t_{df, 1 − α/n_tests}, floored at 0 (the standard approximation, e.g. Chow & Liu,
    "Design and Analysis of Bioavailability and Bioequivalence Studies", 2009, §5.3; it treats the two tests'
    standard errors as unshared, so it errs low when V is poorly estimated)."""
    v = var if isinstance(var, tuple) else components(var)
    se, df = design_se_df(v, n_contents, n_styles)
    crit = stats.t.ppf(1.0 - alpha / n_tests, df)
    upper = stats.nct.sf(crit, df, (margin - effect) / se)
    lower = stats.nct.sf(crit, df, (margin + effect) / se)
    return float(max(0.0, upper + lower - 1.0))


def plan(
    var: tuple[float, float, float] | Mapping[str, Any],
    n_contents: int,
    n_styles: int,
    effect: float,
    margin: float,
    alpha: float = ALPHA,
    n_tests: int = 1,
) -> dict[str, float]:
    """What a design of ``n_contents`` × ``n_styles`` can answer: {"se", "df", "power" (to detect ``effect``),
    "equivalence_power" (to show equivalence within ``margin`` when there is no effect), "detectable" (the
    smallest effect found with 80% power)}, JSON-ready."""
    v = var if isinstance(var, tuple) else components(var)
    se, df = design_se_df(v, n_contents, n_styles)
    # Power rises monotonically in |effect|: bisection on [0, 20 se] for the 80% point.
    lo, hi = 0.0, 20.0 * se if se > 0 else 0.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if power(mid, v, n_contents, n_styles, alpha, n_tests) < 0.8 else (lo, mid)
    return {
        "se": se,
        "df": df,
        "power": power(effect, v, n_contents, n_styles, alpha, n_tests),
        "equivalence_power": equivalence_power(margin, v, n_contents, n_styles, 0.0, alpha, n_tests),
        "detectable": hi,
    }
