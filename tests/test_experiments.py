"""Every figure experiment's cells compose into valid, distinct runs; one of each kind of grid runs at
image_size=64 and a few steps, and writes its labelled grid and its JSON."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO
from PIL import Image

sys.path.insert(0, str(REPO / "experiments"))
from nstjax.run.experiments import cell_configs, run_grid  # noqa: E402

EXPERIMENTS = [
    "content_reconstruction",
    "style_reconstruction",
    "styles",
    "ratio_layers",
    "init",
    "pooling_comparison",
    "style_losses",
    "blank_content",
    "blank_style",
    "black_style",
    "normalized",
    "methods",
]
# Run end to end: one of each kind of grid (metrics and curves panels: style_losses; cells with their own
# steps: blank_style; a start at the optimum: black_style; the other weights and conventions: normalized; the
# starts: init; several styles: styles). The others are the same machinery with other overrides, checked cell by
# cell without running (a full run of all twelve costs ~5 min of CI; the methods grid's statistics each have
# their own end-to-end tests in test_methods_*).
RUN = ["style_losses", "blank_style", "black_style", "normalized", "init", "styles"]
# style_losses runs its first two columns (gram, mean_std): the panels are what is tested here, and w2 and swd
# run end to end in test_sweep (the two together cost ~25 s of compilation here).
COLUMNS = {"style_losses": 2}


def small(grid):
    """The grid at 64 px and a few steps: 5 per cell, or, where the cells set their own steps (blank_style's
    20 and 200), those scaled down by 40, so that the cells stay distinct. Returns (cli, steps per cell)."""
    if any("steps" in cell.overrides for cell in grid.cells):
        for cell in grid.cells:
            cell.overrides = {**cell.overrides, "steps": max(1, cell.overrides["steps"] // 40)}
        return ["image_size=64"], [cell.overrides["steps"] for cell in grid.cells]
    return ["image_size=64", "steps=5"], [5] * len(grid.cells)


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_cell_is_a_valid_run_of_its_own(name, tmp_path, images_dir):
    grid = importlib.import_module(name).build()
    cli, steps = small(grid)
    configs = cell_configs(grid, cli, tmp_path, images_dir)
    assert len(configs) == len(grid.cells) and len({(c.row, c.col) for c in grid.cells}) == len(grid.cells)
    records = [json.dumps(record, sort_keys=True) for _, record in configs]
    assert len(set(records)) == len(records)  # no two cells are the same run
    for (run, record), cell, expected in zip(configs, grid.cells, steps, strict=True):
        assert run.image_size == record["image_size"] == 64
        assert record["steps"] == expected
        for key in ("content", "style"):
            paths = record[key] if isinstance(record[key], list) else [record[key]]
            assert all(p is None or Path(p).is_file() for p in paths), (name, key, paths)
        for key, value in cell.overrides.items():
            if key not in ("content", "style"):
                assert record[key] == value, (name, key, record[key], value)


@pytest.mark.slow
@pytest.mark.parametrize("name", RUN)
def test_experiment_runs_small(name, tmp_path, images_dir, params):
    grid = importlib.import_module(name).build()
    grid.cells = grid.cells[: COLUMNS.get(name)]
    cli, steps = small(grid)
    result = run_grid(grid, cli, tmp_path, images_dir)
    record = json.loads((tmp_path / f"{name}.json").read_text())
    assert [(c["row"], c["col"]) for c in record["cells"]] == [(c.row, c.col) for c in grid.cells]
    assert len({(c.row, c.col) for c in grid.cells}) == len(grid.cells)  # each cell has its own place
    # The figure: one panel per row and column (plus the metrics and curves panels), 2.6 in each at 110 dpi.
    rows, cols = len({c.row for c in grid.cells}), len({c.col for c in grid.cells}) + grid.curves + grid.metrics
    figure = np.asarray(Image.open(tmp_path / f"{name}.png"))
    assert abs(figure.shape[0] - (2.6 * rows + 0.6) * 110) <= 1 and abs(figure.shape[1] - 2.6 * cols * 110) <= 1
    assert figure.std() > 10  # drawn, not blank
    configs = [json.dumps(cell["config"], sort_keys=True) for cell in record["cells"]]
    assert len(set(configs)) == len(configs)  # no two cells are the same run
    for cell, spec, expected in zip(record["cells"], grid.cells, steps, strict=True):
        summary = json.loads((Path(cell["dir"]) / "summary.json").read_text())
        assert cell["config"]["image_size"] == 64 and summary["image_size"][1] == 64
        # Every step taken, unless the optimiser found a stationary point first (black_style's first cell
        # starts at its optimum).
        assert cell["steps"] == expected or (summary["converged_early"] and 1 <= cell["steps"] < expected), cell[
            "steps"
        ]
        assert len((Path(cell["dir"]) / "metrics.jsonl").read_text().splitlines()) == cell["steps"]
        assert all(np.isfinite(v) for v in cell["loss"].values())
        assert set(cell["metrics"]) == {"content_distance", "style_gram", "style_swd", "colour"}
        for key, value in spec.overrides.items():
            if key not in ("content", "style"):
                assert cell["config"][key] == value, (key, cell["config"][key], value)
    assert result["figure"] == tmp_path / f"{name}.png"


def test_an_interrupted_figure_run_reuses_finished_cells_only(tmp_path, images_dir, params):
    grid = importlib.import_module("black_style").build()
    first = run_grid(grid, ["image_size=64", "steps=5"], tmp_path, images_dir)
    (tmp_path / "black_style" / "01" / "summary.json").unlink()  # as if stopped during the second cell
    stamp = (tmp_path / "black_style" / "00" / "final.png").stat().st_mtime_ns
    again = run_grid(grid, ["image_size=64", "steps=5"], tmp_path, images_dir)
    assert (tmp_path / "black_style" / "00" / "final.png").stat().st_mtime_ns == stamp  # reused
    assert (tmp_path / "black_style" / "01" / "summary.json").is_file()  # rerun
    assert [c["loss"] for c in again["cells"]] == [c["loss"] for c in first["cells"]]
    changed = run_grid(grid, ["image_size=64", "steps=3"], tmp_path, images_dir)  # another config: rerun
    assert (tmp_path / "black_style" / "00" / "final.png").stat().st_mtime_ns != stamp
    assert [c["steps"] for c in again["cells"]] == [1, 5] and [c["steps"] for c in changed["cells"]] == [1, 3]
