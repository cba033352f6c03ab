"""`nstjax-report SWEEP_DIR`: a multirun directory as a table (CSV, Markdown) and a contact sheet, no W&B."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import textwrap
from pathlib import Path

from nstjax.atomic import write_atomic

COLUMNS = ("job", "overrides", "status", "steps", "evaluations", "total", "content", "style", "tv",
           "seconds_compile", "seconds_optimize")


def collect(sweep_dir: str | Path) -> list[dict]:
    """One row per job directory that has a summary.json (or failed without one), in job order."""
    import yaml

    rows = []
    sweep_dir = Path(sweep_dir)
    for job in sorted((p for p in sweep_dir.iterdir() if p.is_dir() and (p / ".hydra").is_dir()),
                      key=lambda p: (not p.name.isdigit(), int(p.name) if p.name.isdigit() else 0, p.name)):
        overrides_file = job / ".hydra" / "overrides.yaml"
        overrides = yaml.safe_load(overrides_file.read_text()) if overrides_file.exists() else []
        row = {"job": job.name, "overrides": " ".join(overrides or []), "dir": job}
        summary_file = job / "summary.json"
        if summary_file.exists():
            s = json.loads(summary_file.read_text())
            row.update({k: s.get(k) for k in ("status", "steps", "evaluations", "seconds_compile", "seconds_optimize")})
            row.update(s.get("loss") or {})
        else:
            row["status"] = "failed"
        rows.append(row)
    return rows


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def to_markdown(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    lines += ["| " + " | ".join(_fmt(r.get(c)) for c in COLUMNS) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def to_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def labels(rows: list[dict]) -> list[str]:
    """Each job's overrides less those every job shares (the image paths, sizes...): what the sweep varied."""
    split = [r["overrides"].split() for r in rows]
    shared = set.intersection(*(set(o) for o in split)) if len(split) > 1 else set()
    return [" ".join(o for o in overrides if o not in shared) or r["job"] for r, overrides in zip(rows, split)]


def contact_sheet(rows: list[dict], path: str | Path, columns: int = 4) -> Path | None:
    """Each job's final.png with its overrides and final loss, on one labelled figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    shown = [r for r in rows if (r["dir"] / "final.png").exists()]
    if not shown:
        return None
    cols = min(columns, len(shown))
    nrows = -(-len(shown) // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(3.2 * cols, 3.4 * nrows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, r, label in zip(axes.ravel(), shown, labels(shown)):
        ax.imshow(Image.open(r["dir"] / "final.png"))
        ax.set_title(f"{textwrap.fill(label, 45)}\nloss {_fmt(r.get('total'))}", fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return write_atomic(path, lambda f: f.write(buf.getvalue()))


def report(sweep_dir: str | Path) -> dict[str, Path]:
    sweep_dir = Path(sweep_dir)
    rows = collect(sweep_dir)
    if not rows:
        raise FileNotFoundError(f"no job directories (with .hydra/) in {sweep_dir}")
    out = {
        "csv": write_atomic(sweep_dir / "report.csv", lambda f: f.write(to_csv(rows).encode())),
        "markdown": write_atomic(sweep_dir / "report.md", lambda f: f.write(to_markdown(rows).encode())),
    }
    sheet = contact_sheet(rows, sweep_dir / "contact_sheet.png")
    if sheet:
        out["contact_sheet"] = sheet
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nstjax-report", description="Summarise a multirun directory.")
    parser.add_argument("sweep_dir")
    args = parser.parse_args(argv)
    try:
        paths = report(args.sweep_dir)
    except (FileNotFoundError, NotADirectoryError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print((Path(args.sweep_dir) / "report.md").read_text(), end="")
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
