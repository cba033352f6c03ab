"""A print-size result as the documentation shows it: the whole image scaled down beside a window at full
resolution (a scaled-down print hides what the large size adds; the window shows the pixels as printed).

    python scripts/print_figure.py outputs/print3072 docs/figures/print_3072.jpg [--side 640]

The window is ``side`` px square at full resolution, centred three fifths across and two fifths down (in the
Tübingen photograph: the church tower, roofs and sky); the overview has the window's height and a box
marking where the window is.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw


def figure(run_dir: Path, side: int = 640) -> Image.Image:
    final = Image.open(run_dir / "final.png").convert("RGB")
    w, h = final.size
    left, top = 3 * w // 5 - side // 2, 2 * h // 5 - side // 2
    window = final.crop((left, top, left + side, top + side))
    scale = side / h
    overview = final.resize((round(w * scale), side), Image.LANCZOS)
    ImageDraw.Draw(overview).rectangle(
        [left * scale, top * scale, (left + side) * scale, (top + side) * scale], outline=(255, 255, 255), width=2
    )
    out = Image.new("RGB", (overview.width + 8 + side, side), "white")
    out.paste(overview, (0, 0))
    out.paste(window, (overview.width + 8, 0))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a finished run's directory (its final.png)")
    parser.add_argument("out", type=Path, help="the figure to write (.jpg)")
    parser.add_argument("--side", type=int, default=640, help="the full-resolution window's side, px")
    args = parser.parse_args()
    final = args.run_dir / "final.png"
    if not final.is_file():
        raise SystemExit(f"error: no final.png in {args.run_dir}: give a finished run's directory")
    shortest = min(Image.open(final).size)
    if not 16 <= args.side <= shortest:
        raise SystemExit(f"error: --side must be 16 to {shortest} px (the image's shorter side), got {args.side}")
    figure(args.run_dir, args.side).save(args.out, quality=88)
    print(args.out)


if __name__ == "__main__":
    main()
