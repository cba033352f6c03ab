"""Contents and styles as crossed random effects: the mean per-pair Δ with a small-sample t interval.

The model for a contents × styles table of per-pair deltas is

    d_ij = μ + a_i + b_j + e_ij,   a_i ~ (0, σ²_c),  b_j ~ (0, σ²_s),  e_ij ~ (0, σ²_e), all independent,

and the estimand μ is the variant's effect on contents and styles *like these* (new ones drawn from the same
populations), not only on the pairs run. With C contents and S styles, all pairs present, the mean d̄ has

    Var(d̄) = σ²_c/C + σ²_s/S + σ²_e/(CS) = (E[MS_c] + E[MS_s] − E[MS_e]) / (CS)

from the two-way ANOVA's expected mean squares (E[MS_c] = σ²_e + S σ²_c, E[MS_s] = σ²_e + C σ²_s,
E[MS_e] = σ²_e, with C − 1, S − 1 and (C − 1)(S − 1) degrees of freedom). Replacing each expectation by its
mean square is the method-of-moments (ANOVA) estimate, unbiased; t = d̄ / √V̂ is referred to Student's t with the
Welch–Satterthwaite df of the combination (Satterthwaite, Biometrics Bull. 1946): this is the quasi-F test of
the grand mean for the crossed design, of which Clark's min F′ (JVLVB 1973; ``inference.min_f_p``) is a lower
bound (it keeps + MS_e/(CS) instead of − MS_e/(CS), one σ²_e/(CS) too much). For a balanced design the ANOVA
estimates are REML's when none is negative.

A variance component estimated below 0 is set to 0, as REML does: σ̂²_c = max(0, (MS_c − MS_e)/S) and so on, so
V̂ = (max(MS_c, MS_e) + max(MS_s, MS_e) − MS_e)/(CS) is never below MS_e/(CS), and its df are Satterthwaite's for
the mean squares it keeps (with σ̂²_c = 0 the test is the by-style one, exact for that case).

Missing pairs (no Δ: frontiers that do not overlap, a variant without runs): a content or style with no pair is
dropped; a missing cell among the rest is filled by the additive fit (Yates's missing-plot technique, J. Empire
J. Exp. Agric. 1933; alternating projections to the least-squares fit of μ + a_i + b_j), which makes d̄ the
least-squares estimate of μ and the residual sum of squares the right one, with one residual df less per filled
cell. Approximate when cells are missing (the fills make MS_c and MS_s a little larger: conservative); exact in
expectation when none is. Where no residual df is left, V̂ falls back to (MS_c + MS_s)/(CS) (min F′'s,
conservative); with one content (or one style) it is the by-style (by-content) one-sample variance: the other
factor is then fixed, and the interval speaks for that content only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

FILL_ITERATIONS = 200  # alternating projections: converged to ~1e-12 for the patterns a benchmark leaves


@dataclass(frozen=True)
class CrossedFit:
    """The crossed model's fit of one table or of a batch (arrays of the batch's shape; NaN where undefined).

    ``estimate``: d̄ (the least-squares μ); ``se``: √V̂; ``df``: Satterthwaite's; ``var_content``,
    ``var_style``, ``var_residual``: σ̂²_c, σ̂²_s, σ̂²_e (truncated at 0); ``n_contents``, ``n_styles``: the
    contents and styles with a defined pair; ``n_missing``: cells filled among them."""

    estimate: np.ndarray
    se: np.ndarray
    df: np.ndarray
    var_content: np.ndarray
    var_style: np.ndarray
    var_residual: np.ndarray
    n_contents: np.ndarray
    n_styles: np.ndarray
    n_missing: np.ndarray


def satterthwaite(coefs: ArrayLike, mean_squares: ArrayLike, dfs: ArrayLike) -> np.ndarray:
    """Welch–Satterthwaite df of V = Σ_k a_k MS_k: V² / Σ_k (a_k MS_k)²/df_k (terms with a_k = 0 or df_k ≤ 0
    left out; the last axis holds the terms). NaN where V ≤ 0."""
    a = np.asarray(coefs, dtype=float)
    ms = np.asarray(mean_squares, dtype=float)
    df = np.asarray(dfs, dtype=float)
    terms = a * ms
    use = (a != 0) & (df > 0)
    v = np.where(use, terms, 0.0).sum(axis=-1)
    denom = np.where(use, terms**2 / np.where(df > 0, df, 1.0), 0.0).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((v > 0) & (denom > 0), v**2 / denom, np.nan)


def _complete(values: np.ndarray, defined: np.ndarray, active: np.ndarray) -> np.ndarray:
    """The table with its missing active cells filled by the additive least-squares fit (Yates 1933)."""
    filled = np.where(defined, values, 0.0)
    missing = active & ~defined
    if not missing.any():
        return filled
    rows, cols = active.any(axis=-1), active.any(axis=-2)
    n_r, n_c = rows.sum(axis=-1)[..., None], cols.sum(axis=-1)[..., None]
    start = np.where(defined, values, 0.0).sum(axis=(-2, -1)) / np.maximum(defined.sum(axis=(-2, -1)), 1)
    filled = np.where(missing, start[..., None, None], filled)
    for _ in range(FILL_ITERATIONS):
        t = np.where(active, filled, 0.0)
        r = t.sum(axis=-1) / np.maximum(n_c, 1)  # row means over the active columns
        c = t.sum(axis=-2) / np.maximum(n_r, 1)
        g = t.sum(axis=(-2, -1)) / np.maximum(n_r[..., 0] * n_c[..., 0], 1)
        fit = r[..., :, None] + c[..., None, :] - g[..., None, None]
        new = np.where(missing, fit, filled)
        if np.allclose(new, filled, rtol=0.0, atol=1e-13):
            return new
        filled = new
    return filled


def crossed_fit(table: ArrayLike) -> CrossedFit:
    """The crossed random-effects fit (module docstring) of a contents × styles ``table`` of shape
    (..., C, S), NaN where a pair has no Δ: one fit per table."""
    t = np.asarray(table, dtype=float)
    if t.ndim < 2:
        raise ValueError(f"crossed_fit: table must be contents × styles (2-D); got shape {t.shape}")
    defined = np.isfinite(t)
    rows, cols = defined.any(axis=-1), defined.any(axis=-2)
    active = rows[..., :, None] & cols[..., None, :]
    y = _complete(t, defined, active)
    k_c = rows.sum(axis=-1).astype(float)
    k_s = cols.sum(axis=-1).astype(float)
    n_missing = (active & ~defined).sum(axis=(-2, -1)).astype(float)
    cells = np.maximum(k_c * k_s, 1.0)
    ya = np.where(active, y, 0.0)
    g = ya.sum(axis=(-2, -1)) / cells
    r = np.where(rows, ya.sum(axis=-1) / np.maximum(k_s, 1.0)[..., None], 0.0)
    c = np.where(cols, ya.sum(axis=-2) / np.maximum(k_c, 1.0)[..., None], 0.0)
    ss_c = k_s * np.where(rows, (r - g[..., None]) ** 2, 0.0).sum(axis=-1)
    ss_s = k_c * np.where(cols, (c - g[..., None]) ** 2, 0.0).sum(axis=-1)
    resid = np.where(active, y - r[..., :, None] - c[..., None, :] + g[..., None, None], 0.0)
    ss_e = (resid**2).sum(axis=(-2, -1))
    df_c, df_s = k_c - 1.0, k_s - 1.0
    df_e = df_c * df_s - n_missing
    with np.errstate(divide="ignore", invalid="ignore"):
        ms_c = np.where(df_c > 0, ss_c / np.maximum(df_c, 1.0), np.nan)
        ms_s = np.where(df_s > 0, ss_s / np.maximum(df_s, 1.0), np.nan)
        ms_e = np.where(df_e > 0, ss_e / np.maximum(df_e, 1.0), np.nan)
    full = (df_c > 0) & (df_s > 0) & (df_e > 0)
    keep_c = np.where(full, ms_c > ms_e, df_c > 0)  # a component estimated ≤ 0 is 0: its mean square drops out
    keep_s = np.where(full, ms_s > ms_e, df_s > 0)
    # Coefficients of MS_c, MS_s, MS_e in CS·V̂: (1, 1, −1) both kept; (0, 1, 0) σ̂²_c = 0; (0, 0, 1) both 0;
    # without residual df, (1, 1, 0) (min F′'s); with one content or style, that factor's term is absent.
    a_c = keep_c.astype(float)
    a_s = keep_s.astype(float)
    a_e = np.where(full, 1.0 - a_c - a_s, 0.0)
    ms = np.stack([np.nan_to_num(ms_c), np.nan_to_num(ms_s), np.nan_to_num(ms_e)], axis=-1)
    coefs = np.stack([a_c, a_s, a_e], axis=-1)
    dfs = np.stack([df_c, df_s, df_e], axis=-1)
    v = (coefs * ms).sum(axis=-1) / cells
    df = satterthwaite(coefs, ms, dfs)
    some = (k_c >= 1) & (k_s >= 1) & ((df_c > 0) | (df_s > 0))
    v = np.where(some, np.maximum(v, 0.0), np.nan)
    with np.errstate(invalid="ignore"):
        var_e = np.where(full, ms_e, np.nan)
        var_c = np.where(full, np.maximum(0.0, (ms_c - ms_e) / np.maximum(k_s, 1.0)), np.nan)
        var_s = np.where(full, np.maximum(0.0, (ms_s - ms_e) / np.maximum(k_c, 1.0)), np.nan)
    return CrossedFit(
        estimate=np.where(k_c * k_s > 0, g, np.nan),
        se=np.sqrt(v),
        df=np.where(some, df, np.nan),
        var_content=var_c,
        var_style=var_s,
        var_residual=var_e,
        n_contents=k_c,
        n_styles=k_s,
        n_missing=n_missing,
    )


def t_p(estimate: ArrayLike, se: ArrayLike, df: ArrayLike) -> np.ndarray:
    """Two-sided p of H0: μ = 0, 2·P(T_df > |estimate|/se). With se = 0: 1 for an estimate of exactly 0, else 0
    (no spread, an exact shift). NaN where undefined."""
    est, s, d = (np.asarray(x, dtype=float) for x in (estimate, se, df))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 2.0 * stats.t.sf(np.abs(est) / s, d)
    return np.where(s > 0, p, np.where(s == 0, np.where(est == 0, 1.0, 0.0), np.nan))


def t_interval(estimate: ArrayLike, se: ArrayLike, df: ArrayLike, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """estimate ∓ t_{df, (1 + level)/2}·se; the point itself where se = 0 (df undefined)."""
    est, s, d = (np.asarray(x, dtype=float) for x in (estimate, se, df))
    with np.errstate(invalid="ignore"):
        half = np.where(s == 0, 0.0, stats.t.ppf(0.5 + level / 2.0, d) * s)
    return est - half, est + half


def tost_p(estimate: ArrayLike, se: ArrayLike, df: ArrayLike, margin: ArrayLike) -> np.ndarray:
    """Equivalence within ±margin by two one-sided t tests (Schuirmann, J. Pharmacokin. Biopharm. 1987): the
    larger of P(T_df > (estimate + margin)/se) (H0: μ ≤ −margin) and P(T_df < (estimate − margin)/se)
    (H0: μ ≥ margin). Rejecting at α is the same as the 1 − 2α interval lying within (−margin, margin). With
    se = 0: 0 if |estimate| < margin, else 1."""
    est, s, d, m = (np.asarray(x, dtype=float) for x in (estimate, se, df, margin))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.maximum(stats.t.sf((est + m) / s, d), stats.t.cdf((est - m) / s, d))
    return np.where(s > 0, p, np.where(s == 0, np.where(np.abs(est) < m, 0.0, 1.0), np.nan))
