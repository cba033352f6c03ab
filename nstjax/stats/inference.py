"""Uncertainty over pairs: a two-way bootstrap interval, a sign-flip permutation p-value, Holm's correction.

The unit is the (content, style) pair and the pairs are a crossed design, contents × styles: a variant's effect
varies with the style image most of all (Yeh et al., WACV 2020), so an interval that resampled pairs as if
independent would be too narrow. Every procedure is deterministic for a seed (a numpy Generator).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def crossed_mean(table: ArrayLike) -> float:
    """The mean of the defined cells of a contents × styles table (NaN: a pair without a value); NaN if none."""
    table = np.asarray(table, dtype=float)
    defined = np.isfinite(table)
    return float(table[defined].mean()) if defined.any() else float("nan")


def bootstrap_ci(table: ArrayLike, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the mean per-pair value by a two-way bootstrap over a crossed design.

    ``table[i, j]`` is pair (content i, style j)'s value, NaN where the pair has none. One resample draws the
    contents with replacement and, independently, the styles with replacement, and takes every pair of the drawn
    ones with multiplicity: with w_i, v_j the times content i and style j were drawn, its mean is
    Σ_ij w_i v_j T_ij / Σ_ij w_i v_j [T_ij defined] (the paired bootstrap of Koehn, EMNLP 2004, made two-way for
    contents × styles). The interval is the (1 ∓ level)/2 percentiles of ``n_boot`` such means; resamples that
    drew only undefined pairs are left out. (NaN, NaN) when no pair is defined or no resample drew one."""
    table = np.asarray(table, dtype=float)
    if table.ndim != 2:
        raise ValueError(f"bootstrap_ci: table must be contents × styles (2-D); got shape {table.shape}")
    defined = np.isfinite(table)
    if not defined.any():
        return float("nan"), float("nan")
    n_c, n_s = table.shape
    rng = np.random.default_rng(seed)
    w = rng.multinomial(n_c, np.full(n_c, 1.0 / n_c), size=n_boot).astype(float)  # draws of contents
    v = rng.multinomial(n_s, np.full(n_s, 1.0 / n_s), size=n_boot).astype(float)  # draws of styles
    total = np.einsum("bi,ij,bj->b", w, np.where(defined, table, 0.0), v)
    count = np.einsum("bi,ij,bj->b", w, defined.astype(float), v)
    means = total[count > 0] / count[count > 0]
    if means.size == 0:  # few defined pairs and few resamples: none drew a defined pair
        return float("nan"), float("nan")
    tail = 50.0 * (1.0 - level)
    lo, hi = np.percentile(means, [tail, 100.0 - tail])
    return float(lo), float(hi)


def sign_flip_p(deltas: ArrayLike, n_perm: int = 10000, seed: int = 0) -> np.ndarray | float:
    """Two-sided sign-flip permutation p-value of the mean per-pair delta (approximate randomisation, Riezler &
    Maxwell 2005): under the null that within every pair the variant and the baseline are exchangeable, each
    delta's sign is a fair coin. Statistic |mean(s ⊙ d)| over sign vectors s. That null is about these pairs, with
    the deltas independent: it is not "the mean over styles like these is 0". Deltas that share a style's effect
    are not independent, and a variant better on some styles and worse on others (mean 0 over styles) is rejected
    far more often than α (simulated, 5 contents × 4 styles, style effect sd 1, noise sd 0.3: 47% at α = 0.05,
    while ``bootstrap_ci`` covered 0 in 83%); read p as "the variants differ on the pairs compared".

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
