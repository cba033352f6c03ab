"""Seed article: a blank (white) image as content, i.e. texture synthesis guided by the style alone."""

from blank_style import KERAS  # noqa: E402  (the seed article's Keras settings)

from nstjax.run.experiments import Cell, Grid, main


def build() -> Grid:
    return Grid(
        "blank_content",
        "A blank content image: pure texture synthesis (seed article)",
        [Cell("blank content", style, {"style": style}) for style in ("starry_night", "composition_vii")],
        defaults={"content": "blank", "init": "content", **KERAS},
    )


if __name__ == "__main__":
    raise SystemExit(main(build))
