"""Seed article: a blank (white) style image, after 1 and after 10 outer iterations (each outer iteration
of the Keras example is 20 L-BFGS evaluations; here 20 L-BFGS steps), with the article's Keras settings."""

from nstjax.run.experiments import Cell, Grid, main

# The example's objective and weights: content_weight 0.025, style_weight 1 (= 0.025 / ratio), TV 1.
# ratio_size=None: the example's weights as written, at our 256 px (its 400-row images would weigh content ~3×
# more); the figures made with them before ratio_size existed stay reproducible.
KERAS = {
    "convention": "keras",
    "content_layers": "keras",
    "style_layers": "keras",
    "content_weight": 0.025,
    "ratio": 0.025,
    "ratio_size": None,
    "tv_weight": 1.0,
    "pooling": "max",
}


def build() -> Grid:
    return Grid(
        "blank_style",
        "A blank style image: after 1 and 10 outer iterations (seed article)",
        [
            Cell("tubingen, blank style", f"{n} outer iteration{'s' if n > 1 else ''}", {"steps": 20 * n})
            for n in (1, 10)
        ],
        defaults={"content": "tubingen", "style": "blank", **KERAS},
    )


if __name__ == "__main__":
    raise SystemExit(main(build))
