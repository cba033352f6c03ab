"""The methods the field compares against, on one pair at one ratio, by the yardstick: Gatys et al.'s Gram
matrices, Li & Wand's MRF patches (CVPR 2016), Risser et al.'s histograms (2017), STROTSS's relaxed EMD with its
self-similarity content loss (Kolkin et al., CVPR 2019) and the contextual loss (Mechrez et al., ECCV 2018).

Each statistic's units are normalised like gram's (docs/statistics.md), so one ratio is a fair start for all;
a fair comparison of quality sweeps the ratio (nstjax-compare, docs/comparing.md).

    python experiments/methods.py image_size=256 steps=300 out_dir=docs/figures
"""

from nstjax.run.experiments import Cell, Grid, main

METHODS = {
    "gram": {"style_loss": "gram"},
    "mrf": {"style_loss": "mrf"},
    # mrf's term is ~20× gram's at the content (docs/statistics.md): 1e-2 gives it gram's balance at 1e-3.
    "mrf, α/β = 1e-2": {"style_loss": "mrf", "ratio": 1e-2},
    "hist": {"style_loss": "hist"},
    "remd + self-sim.": {"style_loss": "remd", "content_loss": "self_similarity"},
    "cx": {"style_loss": "cx"},
}


def build() -> Grid:
    return Grid(
        "methods",
        "Methods (columns), tubingen × starry_night, α/β = 1e-3",
        [Cell("tubingen × starry_night", name, overrides) for name, overrides in METHODS.items()],
        defaults={"content": "tubingen", "style": "starry_night", "ratio": 1e-3},
        curves=True,
        metrics=True,
    )


if __name__ == "__main__":
    raise SystemExit(main(build))
