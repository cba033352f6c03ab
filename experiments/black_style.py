"""Seed article: an all-black style image on a portrait (scikit-image's astronaut): the article saw the
background turn black while the face stayed."""

from blank_style import KERAS  # noqa: E402  (the seed article's Keras settings)

from nstjax.run.experiments import Cell, Grid, main


def build() -> Grid:
    return Grid(
        "black_style",
        "An all-black style image on a portrait (seed article)",
        # The input itself: with no style and no TV term the start is the optimum, whatever steps= says.
        [Cell("astronaut", "content", {"style_weight": 0, "tv_weight": 0}), Cell("astronaut", "black style", {})],
        defaults={"content": "astronaut", "style": "black", **KERAS},
    )


if __name__ == "__main__":
    raise SystemExit(main(build))
