"""The four poolings (max, avg, l2, blur) on two content/style pairs: images, the yardstick's metrics (one
fixed network, so they compare across poolings) and each run's own loss curve."""

from nstjax.run.experiments import Cell, Grid, main

PAIRS = {"tubingen × starry_night": ("tubingen", "starry_night"), "tubingen × the_scream": ("tubingen", "the_scream")}
POOLINGS = ("max", "avg", "l2", "blur")


def build() -> Grid:
    return Grid(
        "pooling_comparison",
        "Pooling (columns) on two pairs (rows), α/β = 1e-3; yardstick metrics and loss curves right",
        [Cell(row, p, {"content": c, "style": s, "pooling": p}) for row, (c, s) in PAIRS.items() for p in POOLINGS],
        defaults={"ratio": 1e-3},
        curves=True,
        metrics=True,
    )


if __name__ == "__main__":
    raise SystemExit(main(build))
