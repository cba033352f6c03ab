"""Figure experiments: a grid of runs, each a set of config overrides, drawn as one labelled figure.

``experiments/NAME.py`` defines its cells and calls ``main``; everything it does not set comes from
``configs/config.yaml`` and the command line (``key=value``, plus ``out_dir=`` and ``images_dir=``).
Cells run in one process, so cells that share image size, pooling and layers share one compilation.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from nstjax.io.atomic import write_atomic, write_json
from nstjax.io.images import PAPER_IMAGES, save_png

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from omegaconf import DictConfig

    from nstjax.run.config import RunConfig

PAPER_DEFAULTS = {"image_size": 512, "steps": 500, "progress": False}  # the paper's 512 px


@dataclass
class Cell:
    row: str
    col: str
    overrides: dict  # config keys; image names (no suffix) are looked up in images_dir


@dataclass
class Grid:
    name: str
    title: str
    cells: list[Cell]
    defaults: dict = field(default_factory=dict)  # what this experiment changes from configs/config.yaml
    curves: bool = False  # add a panel of loss curves per row
    metrics: bool = False  # add a panel of the yardstick's metrics per row (nstjax.objective.metrics)


def synthetic_image(name: str) -> np.ndarray | None:
    """Inputs that are not files: blank and black images, scikit-image's astronaut."""
    if name == "blank":
        return np.full((512, 512, 3), 255, np.uint8)
    if name == "black":
        return np.zeros((512, 512, 3), np.uint8)
    if name == "astronaut":
        from nstjax.run.runner import default_image

        return default_image("content")  # the CLI's default content photograph
    return None


def resolve_image(name: str, images_dir: Path, inputs_dir: Path) -> str:
    if "/" in name or "." in name:
        return name
    image = synthetic_image(name)
    if image is not None:
        return str(save_png(image, inputs_dir / f"{name}.png"))
    path = images_dir / f"{name}.jpg"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found (images_dir={images_dir})")
    return str(path)


def as_override(key: str, value: Any) -> str:
    """A config value as a command-line override string (``key=value``, lists as ``[a,b]``, None as null)."""
    if isinstance(value, (list, tuple)):
        return f"{key}=[{','.join(str(x) for x in value)}]"
    return f"{key}={'null' if value is None else value}"


def compose(overrides: dict, cli: list[str]) -> DictConfig:
    """configs/config.yaml + overrides (dict) + command-line overrides (strings), as the CLI composes."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from nstjax.run.config import CONFIG_DIR

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
        return hydra_compose("config", [as_override(k, v) for k, v in overrides.items()] + cli)


def finished_run(run_dir: Path, record: dict) -> dict | None:
    """The summary of a run that finished in ``run_dir`` with exactly this config, else None.

    Lets an interrupted figure run continue where it stopped: a 256 px cell costs minutes on a CPU.
    """
    try:
        summary = json.loads((run_dir / "summary.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(summary, dict):  # valid JSON but not a summary (a list, a number): the run is done again
        return None
    if summary.get("status") != "done" or summary.get("config") != record or not (run_dir / "final.png").is_file():
        return None
    return summary


def cell_configs(grid: Grid, cli: list[str], out_dir: Path, images_dir: Path) -> list[tuple[RunConfig, dict]]:
    """Each cell's validated run and its config record, as :func:`run_grid` runs them (no work done): the
    paper's defaults, then the grid's, the cell's and the command line's overrides."""
    from omegaconf import OmegaConf

    from nstjax.run.config import validate

    configs = []
    for cell in grid.cells:
        overrides = {**PAPER_DEFAULTS, **grid.defaults, **cell.overrides}
        for key in ("content", "style"):
            value = overrides.get(key)
            if isinstance(value, (list, tuple)):
                overrides[key] = [resolve_image(v, images_dir, out_dir / "inputs") for v in value]
            elif value is not None:
                overrides[key] = resolve_image(value, images_dir, out_dir / "inputs")
        cfg = compose(overrides, cli)
        configs.append((validate(cfg), cast(dict, OmegaConf.to_container(cfg, resolve=True))))
    return configs


def run_grid(grid: Grid, cli: list[str], out_dir: Path, images_dir: Path) -> dict:
    from nstjax.objective.normalize import params_for
    from nstjax.run import runner

    cell_dir = out_dir / grid.name
    results = []
    for i, (cell, (run, record)) in enumerate(
        zip(grid.cells, cell_configs(grid, cli, out_dir, images_dir), strict=True)
    ):
        run_dir = cell_dir / f"{i:02d}"
        done = finished_run(run_dir, record)
        reused = " (done before, reused)" if done else ""
        print(f"[{grid.name}] {i + 1}/{len(grid.cells)}: {cell.row} / {cell.col}{reused}", file=sys.stderr, flush=True)
        summary = done or runner.run(run, params_for(run.weights), run_dir, record)  # one scale or several
        metrics = [json.loads(line)["total"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
        results.append(
            {
                "row": cell.row,
                "col": cell.col,
                "dir": str(run_dir),
                "config": record,
                "loss": summary["loss"],
                "metrics": summary["metrics"],
                "steps": summary["steps"],
                "evaluations": summary["evaluations"],
                "seconds_optimize": summary["seconds_optimize"],
                "curve": metrics,
            }
        )
    figure = draw(grid, results, out_dir / f"{grid.name}.png")
    cells = [{k: v for k, v in r.items() if k != "curve"} for r in results]
    record = {"name": grid.name, "title": grid.title, "cells": cells}
    write_json(out_dir / f"{grid.name}.json", record)
    return {"figure": figure, "json": out_dir / f"{grid.name}.json", "cells": results}


def draw(grid: Grid, results: list[dict], path: Path) -> Path:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    rows = list(dict.fromkeys(r["row"] for r in results))
    cols = list(dict.fromkeys(r["col"] for r in results))
    extra = int(grid.curves) + int(grid.metrics)
    fig, axes = plt.subplots(
        len(rows), len(cols) + extra, figsize=(2.6 * (len(cols) + extra), 2.6 * len(rows) + 0.6), squeeze=False
    )
    for ax in axes.ravel():
        ax.axis("off")
    for r in results:
        ax = axes[rows.index(r["row"]), cols.index(r["col"])]
        ax.imshow(Image.open(Path(r["dir"]) / "final.png"))
        m = r["metrics"]
        # Titled with the fixed yardstick, comparable across cells (each cell's own loss is not).
        ax.set_title(f"{r['col']}\ncontent {m['content_distance']:.2f} · gram {m['style_gram']:.2f}", fontsize=7)
    for i, row in enumerate(rows):
        axes[i, 0].text(
            -0.08, 0.5, row, transform=axes[i, 0].transAxes, rotation=90, va="center", ha="right", fontsize=8
        )
        if grid.metrics:
            _metrics_panel(axes[i, len(cols)], [r for r in results if r["row"] == row])
        if grid.curves:
            ax = axes[i, -1]
            ax.axis("on")
            for r in (r for r in results if r["row"] == row):
                ax.semilogy(np.arange(1, len(r["curve"]) + 1), r["curve"], label=r["col"])
            ax.set_xlabel("step", fontsize=7)
            ax.set_ylabel("total loss", fontsize=7)
            ax.tick_params(labelsize=6)
            ax.legend(fontsize=6)
    fig.suptitle(grid.title, fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return write_atomic(path, lambda f: f.write(buf.getvalue()))


def _metrics_panel(ax: Axes, cells: list[dict]) -> None:
    """Grouped bars: each yardstick metric (lower is closer), normalised to the row's largest value."""
    from nstjax.objective.metrics import METRICS

    ax.axis("on")
    width = 0.8 / len(cells)
    for j, cell in enumerate(cells):
        values = [cell["metrics"][k] for k in METRICS]
        top = [max(c["metrics"][k] for c in cells) or 1.0 for k in METRICS]
        scaled = [v / t for v, t in zip(values, top, strict=True)]
        ax.bar(np.arange(len(METRICS)) + j * width, scaled, width, label=cell["col"])
    ax.set_xticks(np.arange(len(METRICS)) + 0.4 - width / 2, ["content", "gram", "swd", "colour"], fontsize=6)
    ax.set_ylabel("metric / row max (lower: closer)", fontsize=6)
    ax.tick_params(labelsize=6)
    ax.legend(fontsize=5)


def main(build: Callable[[], Grid], argv: list[str] | None = None) -> int:
    """``python experiments/NAME.py [key=value ...] out_dir=DIR images_dir=DIR``."""
    args = list(sys.argv[1:] if argv is None else argv)
    out_dir, images_dir, cli = Path("outputs/experiments"), PAPER_IMAGES, []
    for arg in args:
        key, _, value = arg.partition("=")
        if key == "out_dir":
            out_dir = Path(value)
        elif key == "images_dir":
            images_dir = Path(value)
        else:
            cli.append(arg)
    from nstjax.objective.compiled import enable_compilation_cache

    enable_compilation_cache()
    try:
        result = run_grid(build(), cli, out_dir, images_dir)
    except (ValueError, FileNotFoundError) as exc:  # ConfigError, ImageError are ValueErrors
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(result["figure"])
    print(result["json"])
    return 0
