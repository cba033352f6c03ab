"""High resolution (Gatys et al. 2017, "Controlling Perceptual Factors in Neural Style Transfer", Sec. 5):
the output size in one scale against coarse to fine.

Cells, all ending at ``size`` px (default 1024; ``size=512`` for a CPU): one scale from the content with the fine
scale's 200 steps; the paper's procedure, 500 steps at size/2 and the result upsampled as the start of 200 at
size; and ``scales=auto`` (crowsonkb/style-transfer-pytorch's √2 ladder from 128 px) with 100 steps at each size.

    python experiments/highres.py size=512 out_dir=docs/figures
"""

import json
import sys
from pathlib import Path

from nstjax.run.experiments import Cell, Grid, main


def build(size: int = 1024) -> Grid:
    from nstjax.run.config import auto_scales

    ladder = auto_scales(size)
    cells = [
        Cell(f"{size} px", "one scale, 200 steps", {"steps": 200}),
        Cell(
            f"{size} px",
            f"{size // 2} → {size} px, 500 + 200 steps",
            {"scales": [size // 2, size], "steps": [500, 200]},
        ),
        Cell(f"{size} px", f"auto ({len(ladder)} sizes), 100 each", {"scales": "auto", "steps": [100] * len(ladder)}),
    ]
    return Grid(
        "highres",
        f"High resolution (Gatys et al. 2017): {size} px in one scale and coarse to fine, α/β = 1e-3",
        cells,
        defaults={"content": "tubingen", "style": "starry_night", "ratio": 1e-3, "image_size": size},
        curves=False,
        metrics=True,
    )


def crops(record: Path, side: int = 256) -> Path:
    """highres_crops.png: the same ``side`` px window of each cell's final.png at full resolution, side by side
    (the grid shows whole images at ~290 px, where one scale and coarse to fine look alike)."""
    from PIL import Image

    cells = json.loads(record.read_text())["cells"]
    finals = [Image.open(Path(c["dir"]) / "final.png").convert("RGB") for c in cells]
    w, h = finals[0].size
    box = (w // 2 - side // 2, h // 3 - side // 4, w // 2 + side // 2, h // 3 + 3 * side // 4)  # sky and towers
    out = Image.new("RGB", (len(finals) * (side + 8) - 8, side), "white")
    for i, image in enumerate(finals):
        out.paste(image.crop(box), (i * (side + 8), 0))
    path = record.with_name("highres_crops.png")
    out.save(path)
    return path


if __name__ == "__main__":
    given = next((a.partition("=")[2] for a in sys.argv[1:] if a.startswith("size=")), "1024")
    if not given.isdigit() or int(given) < 64:
        raise SystemExit(f"error: size must be a whole number of pixels, at least 64, got {given!r}")
    size = int(given)
    argv = [a for a in sys.argv[1:] if not a.startswith("size=")]
    status = main(lambda: build(size), argv)
    out_dir = next((Path(a.partition("=")[2]) for a in argv if a.startswith("out_dir=")), Path("outputs/experiments"))
    if status == 0:
        print(crops(out_dir / "highres.json"))
    raise SystemExit(status)
