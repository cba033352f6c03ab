"""`nstjax-report`: one table and one contact sheet for a sweep's runs (``nstjax.io.report``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nstjax.io.report import METRIC_COLUMNS, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nstjax-report", description="Summarise a multirun directory.")
    parser.add_argument("sweep_dir")
    parser.add_argument(
        "--sort", metavar="COLUMN", help=f"order the table by a column, e.g. {', '.join(METRIC_COLUMNS)}"
    )
    args = parser.parse_args(argv)
    import yaml

    try:
        paths = report(args.sweep_dir, args.sort)
    # Whatever the directory holds (unreadable, damaged summary.json or overrides.yaml, a truncated final.png):
    # one line, no traceback.
    except (OSError, ValueError, SyntaxError, yaml.YAMLError) as exc:
        print(f"error: {' '.join(str(exc).split()) or type(exc).__name__}", file=sys.stderr)
        return 1
    print((Path(args.sweep_dir) / "report.md").read_text(), end="")
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
