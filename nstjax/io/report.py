"""`nstjax-report SWEEP_DIR`: a multirun directory as a table (CSV, Markdown) and a contact sheet, no W&B.

Every job is listed with its own loss terms and the fixed yardstick's metrics (``nstjax.objective.metrics``); only
the latter compare across jobs that optimised different objectives. ``--sort METRIC`` orders the rows;
a sweep over two keys is drawn as a grid (rows × columns by the swept values), titled with the yardstick.
"""

from __future__ import annotations

import csv
import io
import json
import textwrap
from pathlib import Path
from typing import cast

from nstjax.io.atomic import write_atomic

METRIC_COLUMNS = ("content_distance", "style_gram", "style_swd", "colour")
COLUMNS = (
    "job",
    "overrides",
    "status",
    "steps",
    "evaluations",
    "total",
    "content",
    "style",
    "tv",
    *METRIC_COLUMNS,
    "seconds_compile",
    "seconds_optimize",
)


def collect(sweep_dir: str | Path) -> list[dict]:
    """One row per job directory that has a summary.json (or failed without one), in job order."""
    import yaml

    rows = []
    sweep_dir = Path(sweep_dir)
    for job in sorted(
        (p for p in sweep_dir.iterdir() if p.is_dir() and (p / ".hydra").is_dir()),
        key=lambda p: (not p.name.isdigit(), int(p.name) if p.name.isdigit() else 0, p.name),
    ):
        overrides_file = job / ".hydra" / "overrides.yaml"
        overrides = yaml.safe_load(overrides_file.read_text()) if overrides_file.exists() else []
        row = {"job": job.name, "overrides": " ".join(overrides or []), "dir": job}
        summary_file = job / "summary.json"
        if summary_file.exists():
            s = json.loads(summary_file.read_text())
            row.update({k: s.get(k) for k in ("status", "steps", "evaluations", "seconds_compile", "seconds_optimize")})
            row.update(s.get("loss") or {})
            row.update(s.get("metrics") or {})
        else:
            row["status"] = "failed"
        rows.append(row)
    return rows


def _fmt(value: object) -> str:
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
    return [
        " ".join(o for o in overrides if o not in shared) or r["job"] for r, overrides in zip(rows, split, strict=True)
    ]


def swept(rows: list[dict]) -> dict[str, list[str]]:
    """The keys whose values differ between jobs, each with its values in first-seen order."""
    values: dict[str, list[str]] = {}
    for r in rows:
        for override in r["overrides"].split():
            key, _, value = override.partition("=")
            values.setdefault(key, [])
            if value not in values[key]:
                values[key].append(value)
    return {k: v for k, v in values.items() if len(v) > 1}


def _override(row: dict, key: str) -> str | None:
    return next((o.partition("=")[2] for o in row["overrides"].split() if o.partition("=")[0] == key), None)


def _yardstick_title(row: dict) -> str:
    if row.get("content_distance") is None:
        return f"loss {_fmt(row.get('total'))}"
    return (
        f"content {row['content_distance']:.3f} · gram {row['style_gram']:.3f}\n"
        f"swd {row['style_swd']:.3g} · colour {row['colour']:.1f}"
    )


def contact_sheet(rows: list[dict], path: str | Path, columns: int = 4) -> Path | None:
    """Each job's final.png with what the sweep varied and the yardstick's metrics, on one figure. A sweep
    over exactly two keys is a grid: one row per value of the first, one column per value of the second."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    shown = [r for r in rows if (r["dir"] / "final.png").exists()]
    if not shown:
        return None
    keys = swept(shown)
    if len(keys) == 2:
        (row_key, row_values), (col_key, col_values) = keys.items()
        # cast: None only for a row without the key, which index() refuses with ValueError, as before.
        place = {
            id(r): (
                row_values.index(cast(str, _override(r, row_key))),
                col_values.index(cast(str, _override(r, col_key))),
            )
            for r in shown
        }
        nrows, cols = len(row_values), len(col_values)
    else:
        cols = min(columns, len(shown))
        nrows = -(-len(shown) // cols)
        place = {id(r): divmod(i, cols) for i, r in enumerate(shown)}
    fig, axes = plt.subplots(nrows, cols, figsize=(3.2 * cols, 3.5 * nrows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for r, label in zip(shown, labels(shown), strict=True):
        ax = axes[place[id(r)]]
        ax.imshow(Image.open(r["dir"] / "final.png"))
        ax.set_title(f"{textwrap.fill(label, 45)}\n{_yardstick_title(r)}", fontsize=8)
    if len(keys) == 2:
        fig.suptitle(
            f"rows: {row_key}, columns: {col_key}; yardstick: VGG19 (max pooling, ImageNet) distances", fontsize=9
        )
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return write_atomic(path, lambda f: f.write(buf.getvalue()))


def report(sweep_dir: str | Path, sort: str | None = None) -> dict[str, Path]:
    """Writes report.csv, report.md and contact_sheet.png into ``sweep_dir``; ``sort``: a column to order
    the table by, ascending (jobs without it last)."""
    sweep_dir = Path(sweep_dir)
    rows = collect(sweep_dir)
    if not rows:
        raise FileNotFoundError(f"no job directories (with .hydra/) in {sweep_dir}")
    if sort is not None:
        if sort not in COLUMNS:
            raise ValueError(f"--sort must be one of {', '.join(COLUMNS)}; got {sort!r}")
        rows.sort(key=lambda r: (r.get(sort) is None, r.get(sort) if r.get(sort) is not None else 0))
    out = {
        "csv": write_atomic(sweep_dir / "report.csv", lambda f: f.write(to_csv(rows).encode())),
        "markdown": write_atomic(sweep_dir / "report.md", lambda f: f.write(to_markdown(rows).encode())),
    }
    sheet = contact_sheet(rows, sweep_dir / "contact_sheet.png")
    if sheet:
        out["contact_sheet"] = sheet
    return out
