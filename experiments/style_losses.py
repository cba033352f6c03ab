"""One content/style pair under each style statistic (gram, mean_std, w2, swd) at the same ratio, with the
yardstick's metrics: what each statistic transfers, measured by one fixed network."""

from nstjax.run.experiments import Cell, Grid, main


def build() -> Grid:
    return Grid(
        "style_losses",
        "Style statistics (columns), tubingen × starry_night, α/β = 1e-3",
        [Cell("tubingen × starry_night", s, {"style_loss": s}) for s in ("gram", "mean_std", "w2", "swd")],
        defaults={"content": "tubingen", "style": "starry_night", "ratio": 1e-3},
        curves=True,
        metrics=True,
    )


if __name__ == "__main__":
    raise SystemExit(main(build))
