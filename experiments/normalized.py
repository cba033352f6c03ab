"""The paper's normalised network against the ImageNet weights: the same image with both weight sets."""

from nstjax.experiments import Cell, Grid, main


def build() -> Grid:
    return Grid(
        "normalized", "ImageNet weights vs the paper's normalised network (same ratio)",
        [Cell("tubingen × starry_night", w, {"weights": w}) for w in ("imagenet", "normalized")],
        defaults={"content": "tubingen", "style": "starry_night"},
    )


if __name__ == "__main__":
    raise SystemExit(main(build))
