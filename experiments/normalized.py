"""The paper's normalised network against the ImageNet weights, under both conventions, at the paper's
ratio: which combination makes the printed ratio stylise as the paper's figures do."""

from nstjax.run.experiments import Cell, Grid, main

CASES = {
    "imagenet, paper": {"weights": "imagenet", "convention": "paper"},
    "normalized, paper": {"weights": "normalized", "convention": "paper"},
    "normalized, reference": {"weights": "normalized", "convention": "reference", "pooling": "max"},
}


def build() -> Grid:
    return Grid(
        "normalized",
        "Weights and convention (columns) at α/β = 8e-4 (CVPR Fig. 3's ratio for this pair)",
        [Cell("tubingen × starry_night", label, overrides) for label, overrides in CASES.items()],
        defaults={"content": "tubingen", "style": "starry_night", "ratio": 8e-4},
        metrics=True,
    )


if __name__ == "__main__":
    raise SystemExit(main(build))
