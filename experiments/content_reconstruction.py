"""CVPR 2016 Fig. 1, bottom row: tubingen reconstructed from white noise with the content loss alone."""

from nstjax.run.experiments import Cell, Grid, main

LAYERS = ("relu1_2", "relu2_2", "relu3_2", "relu4_2", "relu5_2")


def build() -> Grid:
    return Grid(
        "content_reconstruction",
        "Content reconstructions from white noise (CVPR Fig. 1, bottom)",
        [Cell("tubingen", layer, {"content_layers": [layer]}) for layer in LAYERS],
        defaults={"content": "tubingen", "style": "tubingen", "style_weight": 0, "init": "noise"},
    )


if __name__ == "__main__":
    raise SystemExit(main(build))
