"""arXiv 2015 Fig. 3: composition_vii on tubingen; rows: style layers up to relu1_1 … relu5_1;
columns: ratio α/β 1e-5 … 1e-2."""

from nstjax.run.experiments import Cell, Grid, main

RATIOS = (1e-5, 1e-4, 1e-3, 1e-2)


def build() -> Grid:
    return Grid(
        "ratio_layers",
        "Style layers (rows) against α/β (columns) (arXiv Fig. 3)",
        [
            Cell(f"up to relu{k}_1", f"α/β={r:g}", {"style_layers": f"upto{k}", "ratio": r})
            for k in range(1, 6)
            for r in RATIOS
        ],
        defaults={"content": "tubingen", "style": "composition_vii", "init": "noise"},  # from white noise, as the paper
    )


if __name__ == "__main__":
    raise SystemExit(main(build))
