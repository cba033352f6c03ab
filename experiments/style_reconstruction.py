"""CVPR 2016 Fig. 1, top row: starry_night's style from white noise, cumulative style layer sets."""

from nstjax.run.experiments import Cell, Grid, main


def build() -> Grid:
    return Grid(
        "style_reconstruction",
        "Style reconstructions from white noise (CVPR Fig. 1, top)",
        [
            Cell("starry_night", f"relu1_1 … relu{k}_1" if k > 1 else "relu1_1", {"style_layers": f"upto{k}"})
            for k in range(1, 6)
        ],
        defaults={
            "content": "tubingen",
            "style": "starry_night",
            "content_weight": 0,
            "style_weight": 1,
            "init": "noise",
        },
    )


if __name__ == "__main__":
    raise SystemExit(main(build))
