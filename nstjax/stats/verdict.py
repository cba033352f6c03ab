"""The primary analysis' verdicts: per variant and metric one of ``better``, ``worse``, ``equivalent`` or
``undetermined``, from the crossed model's interval (``mixed``) with Holm's correction over the whole family of
variants × metrics.

Declared before the runs (docs/comparing.md, "The primary analysis"):

- ``equivalent``: the two one-sided tests (``mixed.tost_p``) put μ within ±margin after Holm over variants ×
  metrics (p_equivalence_holm < α): the 90% interval lies within the margin. This comes first: the margin is
  declared as the smallest difference that matters, so a difference shown to be smaller than it is not a claim
  that one variant is better, even where the 95% interval excludes 0 (p_holm and the sign stay in the summary);
- ``better`` / ``worse``: otherwise, the two-sided test of μ = 0 rejects after Holm over the same family
  (p_holm < α), i.e. the Holm-adjusted interval excludes 0; lower distance is closer to the style, so a
  negative Δ is ``better``;
- ``undetermined``: neither: the benchmark cannot tell (too few styles, too much noise, or an effect near the
  margin), which is not evidence of no difference.

Each error is controlled at α: a true |μ| ≥ margin is called ``equivalent``, and a true μ = 0 ``better`` or
``worse``, with probability at most α (approximately: the t reference is Satterthwaite's).

``DEFAULT_MARGIN`` = 0.05 in log style distance (a ratio of e^0.05 ≈ 1.05: 5% of the distance at matched
content). Why 5%: it is well above what the construction itself can produce with no difference (the broken
line's error for two variants on one S-shaped frontier reached over other ranges: 3·10⁻⁵ with 5 ratios,
tests/test_compare_stats.py), and well below the one effect the protocol has been asked to settle (``avg`` against
``max`` pooling, 0.052 further in Gram distance at values of 0.2–0.3, about 17%); a reader would not choose one
variant over another for a 5% change in a style distance whose own yardstick is a proxy. On the log axis it means
the same for every metric and every pair, so one declared number serves ``style_gram`` and ``style_swd`` alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

from nstjax.stats.inference import ALPHA, holm

VERDICTS = ("better", "worse", "equivalent", "undetermined")
DEFAULT_MARGIN = 0.05


def margins_for(metrics: Sequence[str], margin: float | Mapping[str, float] = DEFAULT_MARGIN) -> dict[str, float]:
    """The declared margin per metric: one number for all, or a mapping (a metric it lacks gets
    ``DEFAULT_MARGIN``). Each must be > 0."""
    out = {m: float(margin.get(m, DEFAULT_MARGIN) if isinstance(margin, Mapping) else margin) for m in metrics}
    bad = {m: v for m, v in out.items() if not (np.isfinite(v) and v > 0)}
    if bad:
        raise ValueError(f"margins must be > 0; got {bad}")
    return out


def verdicts(
    estimate: ArrayLike | Sequence[float | None],
    p_holm: ArrayLike | Sequence[float | None],
    p_equivalence_holm: ArrayLike | Sequence[float | None],
    alpha: float = ALPHA,
) -> list[str]:
    """One verdict per comparison (module docstring) from its estimate and Holm-adjusted p-values (NaN or None:
    undefined, which never rejects)."""

    def floats(x: ArrayLike | Sequence[float | None]) -> np.ndarray:
        return np.asarray([np.nan if v is None else v for v in np.atleast_1d(np.asarray(x, dtype=object))], float)

    est, p, q = floats(estimate), floats(p_holm), floats(p_equivalence_holm)
    out = []
    for e, pd, pe in zip(est, p, q, strict=True):
        if pe < alpha:
            out.append("equivalent")
        elif pd < alpha and e < 0:
            out.append("better")
        elif pd < alpha and e > 0:
            out.append("worse")
        else:
            out.append("undetermined")
    return out


def family_holm(p: ArrayLike, p_equivalence: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Holm over the family (every variant × metric), separately for the difference tests and the equivalence
    tests: each family's error rate is at most α."""
    return holm(np.asarray(p, dtype=float)), holm(np.asarray(p_equivalence, dtype=float))
