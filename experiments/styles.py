"""CVPR 2016 Fig. 3: tubingen in four public-domain styles, with the paper's ratios."""

from nstjax.run.experiments import Cell, Grid, main

STYLES = {"shipwreck": 1e-3, "starry_night": 8e-4, "the_scream": 5e-3, "composition_vii": 5e-4}


def build() -> Grid:
    return Grid(
        "styles",
        "Tübingen in four styles (CVPR Fig. 3; ratio α/β as in the paper)",
        [
            Cell("tubingen", f"{style} (α/β={ratio:g})", {"style": style, "ratio": ratio})
            for style, ratio in STYLES.items()
        ],
        defaults={"content": "tubingen", "init": "noise"},  # the paper starts from white noise
    )


if __name__ == "__main__":
    raise SystemExit(main(build))
