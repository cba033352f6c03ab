"""Every figure experiment runs at image_size=64 steps=5 and writes its labelled PNG and its JSON."""

from __future__ import annotations

import importlib
import json
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import REPO

sys.path.insert(0, str(REPO / "experiments"))
from nstjax.run.experiments import run_grid  # noqa: E402

EXPERIMENTS = ["content_reconstruction", "style_reconstruction", "styles", "ratio_layers", "init",
               "pooling_comparison", "style_losses", "blank_content", "blank_style", "black_style", "normalized"]


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_runs_small(name, tmp_path, images_dir, params):
    grid = importlib.import_module(name).build()
    result = run_grid(grid, ["image_size=64", "steps=5"], tmp_path, images_dir)
    figure = np.asarray(Image.open(tmp_path / f"{name}.png"))
    assert figure.shape[0] > 200 and figure.shape[1] > 200 and figure.std() > 10  # a drawn grid, not blank
    record = json.loads((tmp_path / f"{name}.json").read_text())
    assert len(record["cells"]) == len(grid.cells)
    for cell, spec in zip(record["cells"], grid.cells):
        assert cell["config"]["image_size"] == 64
        assert all(np.isfinite(v) for v in cell["loss"].values())
        assert set(cell["metrics"]) == {"content_distance", "style_gram", "style_swd", "colour"}
        assert cell["steps"] <= 5
        for key, value in spec.overrides.items():
            if key not in ("content", "style", "steps"):
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
    assert all(c["steps"] <= 3 for c in changed["cells"])
