"""Max against average pooling over several ratios: images and loss curves side by side."""

from nstjax.experiments import Cell, Grid, main

RATIOS = (1e-4, 1e-3, 1e-2)


def build() -> Grid:
    return Grid(
        "pooling_comparison", "Max vs average pooling (rows) over α/β (columns); loss curves right",
        [Cell(f"{p} pooling", f"α/β={r:g}", {"pooling": p, "ratio": r}) for p in ("max", "avg") for r in RATIOS],
        defaults={"content": "tubingen", "style": "starry_night"}, curves=True,
    )


if __name__ == "__main__":
    raise SystemExit(main(build))
