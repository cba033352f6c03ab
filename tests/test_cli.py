"""The CLI contract: outputs of a run, and one-line errors before any work for bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def nstjax(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", "nstjax.entry.stylize", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_default_pair_runs_without_downloads(tmp_path):
    out = tmp_path / "run"
    r = nstjax("image_size=64", "steps=3", "progress=false", f"hydra.run.dir={out}", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    image = np.asarray(Image.open(out / "final.png"))
    assert max(image.shape[:2]) == 64 and image.shape[2] == 3  # scikit-image's astronaut
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 3 and summary["loss"]["total"] > 0
    assert summary["config"]["pooling"] == "avg" and summary["config"]["ratio"] == pytest.approx(1e-3)
    assert str(out / "final.png") in r.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["style_layers=[relu9_9]"], "unknown layer 'relu9_9'"),
        (["steps=-1"], "steps must be > 0"),
        (["ratio=0"], "ratio must be > 0"),
        (["pooling=median"], "pooling must be one of max, avg, l2, blur"),
        (["foo=1"], "unknown key 'foo'"),
        (["optimizer=sgd"], "optimizer must be one of adam, jaxopt, lbfgs, lbfgsb, optax_lbfgs"),
        (["content=/nonexistent/photo.jpg"], "image not found: /nonexistent/photo.jpg"),
        (["image_size=16"], "image_size must be at least 32"),
    ],
)
def test_bad_input_fails_with_one_line(tmp_path, args, message):
    out = tmp_path / "run"
    r = nstjax(
        *args, "steps=1" if not args[0].startswith("steps") else "image_size=64", f"hydra.run.dir={out}", cwd=tmp_path
    )
    assert r.returncode != 0
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], r.stderr
    assert "Traceback" not in r.stderr
    assert not out.exists()  # nothing half-written


def test_a_run_or_sweep_folder_hydra_cannot_make_is_one_line_before_hydra_starts(tmp_path):
    # In process (the CLI prints a ConfigError as one line: the cases above): Hydra makes these folders before
    # nstjax's code runs, so they are checked with the overrides.
    import re

    from nstjax.entry.stylize import check_overrides
    from nstjax.run.config import ConfigError

    blocker = tmp_path / "file"
    blocker.write_text("")
    for key in ("hydra.run.dir", "hydra.sweep.dir"):
        with pytest.raises(ConfigError, match=f"^{key} must be a directory, but {re.escape(str(blocker))} is a file$"):
            check_overrides([f"{key}={blocker}/x"])
    with pytest.raises(ConfigError, match=r"^hydra\.run\.dir: cannot write in /proc \("):
        check_overrides(["hydra.run.dir=/proc/x"])
    check_overrides([f"hydra.run.dir={tmp_path / 'new' / 'deeper'}"])  # can be made: accepted, nothing made yet
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_debug_shows_the_traceback(tmp_path):
    r = nstjax("content=/nonexistent/photo.jpg", "debug=true", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert r.returncode != 0 and "Traceback (most recent call last)" in r.stderr
    assert "ImageError: image not found: /nonexistent/photo.jpg" in r.stderr


def test_not_an_image(tmp_path):
    bogus = tmp_path / "notes.jpg"
    bogus.write_text("not an image")
    r = nstjax(f"content={bogus}", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert r.returncode != 0 and r.stderr.startswith("error: not an image") and "Traceback" not in r.stderr


def test_coarse_to_fine_scales(tmp_path, pair64, host_run_20):
    # As a job runs it (in this process: a job's process boundary is tested above).
    from helpers import run_job

    out = tmp_path / "run"
    summary = run_job(out, *pair64[:2], "scales=[48,64]", "steps=4", "progress=false")
    assert [s["image_size"] for s in summary["scales"]] == [[36, 48], [48, 64]]
    assert [s["steps"] for s in summary["scales"]] == [4, 4]
    assert json.loads((out / "summary.json").read_text())["scales"] == summary["scales"]
    assert np.asarray(Image.open(out / "final.png")).shape == (48, 64, 3)
    assert (out / "scale_48" / "final.png").exists()
    # The fine stage starts from the coarse result: after one step it is ahead of a start from the content.
    first_fine = json.loads((out / "metrics.jsonl").read_text().splitlines()[0])["total"]
    first_single = json.loads((host_run_20 / "metrics.jsonl").read_text().splitlines()[0])["total"]
    assert first_fine < 0.8 * first_single, (first_fine, first_single)
