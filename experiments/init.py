"""CVPR 2016 Fig. 6: starting from the content, from the style, and from four white-noise seeds."""

from nstjax.run.experiments import Cell, Grid, main


def build() -> Grid:
    cells = [Cell("init", "content", {"init": "content"}), Cell("init", "style", {"init": "style"})]
    cells += [Cell("init", f"noise, seed {s}", {"init": "noise", "seed": s}) for s in range(4)]
    return Grid(
        "init",
        "Initialisation (CVPR Fig. 6), α/β = 1e-3",
        cells,
        defaults={"content": "tubingen", "style": "shipwreck", "ratio": 1e-3},
    )


if __name__ == "__main__":
    raise SystemExit(main(build))
