"""`nstjax-score OUT.png --content C --style S`: the yardstick (``nstjax.objective.metrics``) as JSON, for any
image."""

from __future__ import annotations

import argparse
import json
import sys

from nstjax.io.images import ImageError, one_line
from nstjax.objective.metrics import score_files


def main(argv: list[str] | None = None) -> int:
    """Scores an image (any tool's output) against a content and a style image; one ``error:`` line on a bad one."""
    parser = argparse.ArgumentParser(
        prog="nstjax-score", description="The yardstick's four distances of an image, as JSON."
    )
    parser.add_argument("image", help="the image to score (any tool's output)")
    parser.add_argument("--content", required=True, help="the content image")
    parser.add_argument("--style", required=True, help="the style image")
    parser.add_argument(
        "--tile", type=int, default=0, help="score from windows of this interior (px): a window's memory, same numbers"
    )
    args = parser.parse_args(argv)
    try:
        result = score_files(args.image, args.content, args.style, args.tile)
    except ImageError as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
