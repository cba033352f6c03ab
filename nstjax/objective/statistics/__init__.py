"""Style statistics, as a family: ``style_loss=gram|mean_std|w2|swd|mrf|hist|remd|cx``.

Each compares the output's features X (M positions × N channels, at one layer) with the style's through
one statistic and returns a *mean squared difference* of it; the convention (``nstjax.objective.conventions``)
then scales it (¼ in the paper). ``describe`` summarises a style image's features once, outside the
jit boundary; ``mix`` blends several styles' summaries (``style_blend``); ``distance`` runs inside the
compiled objective.

Units: the Gram term is a squared second moment (activation⁴). The other statistics are squared first
or second-order quantities in activation², so they are multiplied by the style's mean channel energy
e = mean_i E[x_i²] (activation²): the same units, so that the paper's ratio range stays a sensible
starting point under every statistic and both weight sets (ImageNet, normalised). The cosine-based ones
(remd, cx) are unitless: multiplied by SCALE · e², SCALE measured so that they start equal to Gram's.
"""

from __future__ import annotations

from nstjax.objective.statistics.base import HIGHEST, Statistic, Stats, linear_mix, second_moment, sqrtm_psd
from nstjax.objective.statistics.cx import CX
from nstjax.objective.statistics.hist import HIST
from nstjax.objective.statistics.moments import GRAM, MEAN_STD, W2
from nstjax.objective.statistics.mrf import MRF
from nstjax.objective.statistics.remd import REMD
from nstjax.objective.statistics.swd import SWD, directions, quantiles, sliced_w2

__all__ = [
    "HIGHEST",
    "STYLE_LOSSES",
    "Statistic",
    "Stats",
    "directions",
    "linear_mix",
    "quantiles",
    "second_moment",
    "sliced_w2",
    "sqrtm_psd",
]

STYLE_LOSSES: dict[str, Statistic] = {"gram": GRAM, "mean_std": MEAN_STD, "w2": W2, "swd": SWD}
STYLE_LOSSES["mrf"] = MRF  # Li & Wand 2016: nearest 3×3 patches (statistics/mrf.py)
STYLE_LOSSES["hist"] = HIST  # Risser et al. 2017: Gram + histogram remap (statistics/hist.py)
STYLE_LOSSES["remd"] = REMD  # Kolkin et al. 2019: relaxed EMD of hypercolumns + moments (statistics/remd.py)
STYLE_LOSSES["cx"] = CX  # Mechrez et al. 2018: contextual loss (statistics/cx.py)
