"""Uncertainty over pairs: a two-way bootstrap interval, sign-flip p-values (per pair and per style), Clark's
min F' for the crossed design, Holm's correction, and the rule that combines them into a claim (``significant``).

The unit is the (content, style) pair and the pairs are a crossed design, contents × styles: a variant's effect
varies with the style image most of all (Yeh et al., WACV 2020), so an interval or a test that treated pairs as
independent would be too narrow. Every procedure is deterministic for a seed (a numpy Generator).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

ALPHA = 0.05


def crossed_mean(table: ArrayLike) -> float:
    """The mean of the defined cells of a contents × styles table (NaN: a pair without a value); NaN if none."""
    table = np.asarray(table, dtype=float)
    defined = np.isfinite(table)
    return float(table[defined].mean()) if defined.any() else float("nan")


def bootstrap_ci(
    table: ArrayLike, n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float] | tuple[np.ndarray, np.ndarray]:
    """Percentile interval of the mean per-pair value by a two-way bootstrap over a crossed design.

    ``table[i, j]`` is pair (content i, style j)'s value, NaN where the pair has none. One resample draws the
    contents with replacement and, independently, the styles with replacement, and takes every pair of the drawn
    ones with multiplicity: with w_i, v_j the times content i and style j were drawn, its mean is
    Σ_ij w_i v_j T_ij / Σ_ij w_i v_j [T_ij defined] (the paired bootstrap of Koehn, EMNLP 2004, made two-way for
    contents × styles). The interval is the (1 ∓ level)/2 percentiles of ``n_boot`` such means; resamples that
    drew only undefined pairs are left out. (NaN, NaN) when no pair is defined or no resample drew one.

    A ``table`` of shape (..., contents, styles) gives (lo, hi) arrays of shape (...), one interval per table,
    the same resamples for every table (so a batch of synthetic draws is one tensor contraction)."""
    table = np.asarray(table, dtype=float)
    if table.ndim < 2:
        raise ValueError(f"bootstrap_ci: table must be contents × styles (2-D); got shape {table.shape}")
    batch = table.shape[:-2]
    n_c, n_s = table.shape[-2:]
    flat = table.reshape(-1, n_c, n_s)
    defined = np.isfinite(flat)
    lo = np.full(flat.shape[0], np.nan)
    hi = np.full(flat.shape[0], np.nan)
    if defined.any():
        rng = np.random.default_rng(seed)
        w = rng.multinomial(n_c, np.full(n_c, 1.0 / n_c), size=n_boot).astype(float)  # draws of contents
        v = rng.multinomial(n_s, np.full(n_s, 1.0 / n_s), size=n_boot).astype(float)  # draws of styles
        total = np.einsum("bi,tib->tb", w, np.where(defined, flat, 0.0) @ v.T)
        count = np.einsum("bi,tib->tb", w, defined.astype(float) @ v.T)
        tail = 50.0 * (1.0 - level)
        # Few defined pairs and few resamples: a resample may draw none (NaN, left out), or every one may.
        drew = count > 0
        means = np.where(drew, total, np.nan) / np.where(drew, count, 1.0)
        some = drew.any(axis=1)
        if some.all() and drew.all():
            lo, hi = np.percentile(means, [tail, 100.0 - tail], axis=1)
        elif some.any():
            lo[some], hi[some] = np.nanpercentile(means[some], [tail, 100.0 - tail], axis=1)
    if table.ndim == 2:
        return float(lo[0]), float(hi[0])
    return lo.reshape(batch), hi.reshape(batch)


def sign_flip_p(deltas: ArrayLike, n_perm: int = 10000, seed: int = 0) -> np.ndarray | float:
    """Two-sided sign-flip permutation p-value of the mean per-pair delta (approximate randomisation, Riezler &
    Maxwell 2005): under the null that within every pair the variant and the baseline are exchangeable, each
    delta's sign is a fair coin. Statistic |mean(s ⊙ d)| over sign vectors s. That null is about these pairs, with
    the deltas independent: it is not "the mean over styles like these is 0". Deltas that share a style's effect
    are not independent, and a variant better on some styles and worse on others (mean 0 over styles) is rejected
    far more often than α (simulated, 5 contents × 4 styles, style effect sd 1, noise sd 0.3: 47% at α = 0.05,
    while ``bootstrap_ci`` covered 0 in 83%); read p as "the variants differ on the pairs compared", and claim
    more only by ``significant``, which adds ``style_flip_p`` and ``min_f_p``.

    Exact enumeration of all 2^n sign vectors when 2^n ≤ ``n_perm`` (p = share of them at least as extreme as the
    observed, which is among them); otherwise ``n_perm`` seeded draws with the +1 correction,
    p = (1 + #{draws at least as extreme}) / (1 + n_perm), never 0. ``deltas`` of shape (..., n), all finite:
    one p per row, the same sign vectors for every row (so a batch of draws is one matrix product). A float for
    1-D input; NaN when n = 0."""
    d = np.asarray(deltas, dtype=float)
    if not np.all(np.isfinite(d)):
        raise ValueError("sign_flip_p: deltas must be finite (drop the pairs without a delta first)")
    n = d.shape[-1]
    if n == 0:
        return np.full(d.shape[:-1], np.nan) if d.ndim > 1 else float("nan")
    exact = n < 63 and 2**n <= n_perm
    if exact:
        bits = (np.arange(2**n)[:, None] >> np.arange(n)[None, :]) & 1
        signs = 1.0 - 2.0 * bits
    else:
        signs = 1.0 - 2.0 * np.random.default_rng(seed).integers(0, 2, size=(n_perm, n))
    rows = d.reshape(-1, n)
    observed = np.abs(rows.mean(axis=1))
    flipped = np.abs(signs @ rows.T) / n  # (sign vectors, rows)
    # Sums in another order round differently: a flip as extreme as the observed must not fall short by an ulp.
    tol = 1e-9 * np.abs(rows).mean(axis=1)
    extreme = (flipped >= observed - tol).sum(axis=0)
    p = extreme / signs.shape[0] if exact else (1.0 + extreme) / (1.0 + n_perm)
    return float(p[0]) if d.ndim == 1 else p.reshape(d.shape[:-1])


def style_flip_p(table: ArrayLike, n_perm: int = 10000, seed: int = 0) -> np.ndarray | float:
    """Two-sided style-clustered sign-flip p-value of the mean per-pair delta over a contents × styles table
    (NaN: a pair without a delta). All the pairs of one style get the same sign: with S_j the sum of style j's
    defined deltas, the statistic is |Σ_j s_j S_j| over sign vectors s ∈ {±1}^S, the observed one s = 1, so the
    observed |mean delta| is compared with its sign-flipped values (``sign_flip_p`` applied to the S_j).

    Null: the styles' sums are independent and each symmetric about 0, i.e. a variant's effect may vary from style
    to style in any way (however strongly, and correlated within a style across its contents) but averages 0 over
    styles like these; the contents are held fixed. This is the wild cluster bootstrap of Cameron, Gelbach &
    Miller (REStat 2008) for a mean, with Rademacher weights, the null imposed and clusters = styles, enumerated
    exactly (with every pair defined, the studentised statistic is a monotone function of |mean|, so the p-values
    are the same); exact enumeration makes it a randomisation test of size ≤ α for any number of styles
    (Canay, Romano & Shaikh, Econometrica 2017). Few styles give coarse p: exact when 2^S ≤ ``n_perm``, the
    smallest p is 2/2^S (0.125 for 4 styles: no claim at 5% is possible; 0.031 for 6; 0.0078 for 8).

    ``table`` of shape (..., contents, styles): one p per table. NaN when a table has no defined pair."""
    t = np.asarray(table, dtype=float)
    if t.ndim < 2:
        raise ValueError(f"style_flip_p: table must be contents × styles (2-D); got shape {t.shape}")
    sums = np.where(np.isfinite(t), t, 0.0).sum(axis=-2)  # a style without a defined pair sums to 0: a no-op flip
    p = np.asarray(sign_flip_p(sums, n_perm=n_perm, seed=seed), dtype=float)
    p = np.where(np.isfinite(t).any(axis=(-2, -1)), p, np.nan)
    return float(p) if t.ndim == 2 else p


def min_f_p(table: ArrayLike) -> np.ndarray | float:
    """Two-sided p-value of the mean per-pair delta with contents and styles both random (Clark's min F', "The
    language-as-fixed-effect fallacy", JVLVB 1973): a t test whose squared standard error is the sum of the
    by-content and by-style ones,

        t = d̄ / √(v_c + v_s),   v_c = var(content means)/C,  v_s = var(style means)/S  (ddof 1),
        df = (v_c + v_s)² / (v_c²/(C − 1) + v_s²/(S − 1))   (Welch–Satterthwaite),

    d̄ the mean of the defined pairs, C and S the contents and styles with one. With every pair defined,
    t² = F1·F2/(F1 + F2) and df are Clark's min F' from the by-content (F1) and by-style (F2) one-sample tests. It
    is a lower bound of the quasi-F for the random-effects model d_ij = μ + a_i + b_j + e_ij: v_c + v_s estimates
    var(a)/C + var(b)/S + 2·var(e)/(CS), one var(e)/(CS) more than var(d̄) (the two-way cluster-robust variance of
    Cameron, Gelbach & Miller, JBES 2011, without subtracting the pairs' term), so it errs conservative. Requiring
    the by-style and by-pair tests to be significant separately does not protect against a content effect
    (Raaijmakers et al., JML 1999); this does. Normal theory, so approximate for the deltas' real distribution.

    ``table`` (..., contents, styles), NaN where a pair has no delta: one p per table. NaN when fewer than two
    contents or two styles have a defined pair; 1 when every delta is 0; 0 when all are the same nonzero value."""
    t = np.asarray(table, dtype=float)
    if t.ndim < 2:
        raise ValueError(f"min_f_p: table must be contents × styles (2-D); got shape {t.shape}")
    defined = np.isfinite(t)
    values = np.where(defined, t, 0.0)
    n = defined.sum(axis=(-2, -1))

    def spread(axis: int) -> tuple[np.ndarray, np.ndarray]:  # (variance of the mean over groups, groups − 1)
        count = defined.sum(axis=axis)
        has = count > 0
        means = np.where(has, values.sum(axis=axis) / np.maximum(count, 1), 0.0)
        k = has.sum(axis=-1)
        centre = means.sum(axis=-1) / np.maximum(k, 1)
        ss = np.where(has, (means - centre[..., None]) ** 2, 0.0).sum(axis=-1)
        return ss / np.maximum(k - 1, 1) / np.maximum(k, 1), k - 1.0

    v_c, df_c = spread(-1)  # content means: average over styles
    v_s, df_s = spread(-2)
    mean = values.sum(axis=(-2, -1)) / np.maximum(n, 1)
    v = v_c + v_s
    with np.errstate(divide="ignore", invalid="ignore"):
        df = v**2 / (v_c**2 / np.maximum(df_c, 1) + v_s**2 / np.maximum(df_s, 1))
        p = 2.0 * stats.t.sf(np.abs(mean) / np.sqrt(v), df)
    p = np.where(v > 0, p, np.where(mean == 0, 1.0, 0.0))  # no spread: an exact 0 or an exact shift
    p = np.where((df_c >= 1) & (df_s >= 1), p, np.nan)
    return float(p) if t.ndim == 2 else p


def _floats(x: ArrayLike) -> np.ndarray:
    """x as floats, None (an undefined number in a summary) as NaN."""
    a = np.asarray(x, dtype=object)
    return np.asarray([np.nan if v is None else v for v in a.ravel()], dtype=float).reshape(a.shape)


def significant(
    p_holm: ArrayLike,
    p_style_holm: ArrayLike,
    p_crossed_holm: ArrayLike,
    lo: ArrayLike,
    hi: ArrayLike,
    alpha: float = ALPHA,
) -> np.ndarray | bool:
    """The claim "the variant differs from the baseline", for a crossed design of contents × styles: all of

        p_holm < α  and  p_style_holm < α  and  p_crossed_holm < α  and  0 ∉ [lo, hi],

    with the Holm-adjusted (across the variants) p-values of ``sign_flip_p`` (the pairs compared),
    ``style_flip_p`` (styles random, contents fixed; exact) and ``min_f_p`` (contents and styles random), and the
    two-way bootstrap interval [lo, hi]. The claim is made only where every test rejects, so its error rate is at
    most that of the most valid of them: it holds when the style effect varies with mean 0 (``style_flip_p`` is
    exact there) and, approximately, when the content effect does too (``min_f_p``), where each of the others
    alone rejects far more often than α. None or NaN counts as not significant. Arrays broadcast: one claim each."""
    lo_, hi_ = _floats(lo), _floats(hi)
    claim = (_floats(p_holm) < alpha) & (_floats(p_style_holm) < alpha) & (_floats(p_crossed_holm) < alpha)
    claim = claim & ((lo_ > 0) | (hi_ < 0))
    return bool(claim) if claim.ndim == 0 else claim


def holm(p: ArrayLike) -> np.ndarray:
    """Holm's step-down adjusted p-values (Holm 1979), in the input's order: with the m defined p-values sorted,
    p̃_(k) = max_{j ≤ k} min(1, (m − j + 1) p_(j)). Rejecting where p̃ ≤ α controls the family-wise error at α.
    NaN entries stay NaN and do not count in m."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    defined = np.flatnonzero(np.isfinite(p))
    m = defined.size
    if m == 0:
        return out
    order = defined[np.argsort(p[defined], kind="stable")]
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out
