"""A Hydra multirun with W&B not configured, so offline: four jobs, each with its own offline run holding
every step's losses, summarised by nstjax-report; and a failing job that does not stop the others."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from wandb_file import history

pytestmark = pytest.mark.slow  # over ~10 s each: `pytest -m 'not slow'` while working; CI runs all

# For tests of the launchers, not of the objective: VGG19 up to relu1_1 compiles in a fraction of the whole.
SHALLOW = ("style_layers=[relu1_1]", "content_layers=[relu1_1]")


def sweep(tmp_path, *args, env=None):
    """``env``: variables to set; None removes one."""
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", **(env or {})}
    env.pop("WANDB_API_KEY", None)
    env = {k: v for k, v in env.items() if v is not None}
    return subprocess.run(
        [sys.executable, "-m", "nstjax.entry.stylize", "-m", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def wandb_sweep(tmp_path_factory, images_dir):
    import matplotlib

    from nstjax.machine import cache_dir

    tmp = tmp_path_factory.mktemp("sweep")
    out = tmp / "sweep"
    (tmp / "home").mkdir()
    # W&B not configured (no key, no mode, no `wandb login` in an empty home): the runs must go offline by
    # themselves. Every program a job builds is logged to its nstjax.log (JAX_LOG_COMPILES), to count them.
    env = {
        "HOME": str(tmp / "home"),
        "NSTJAX_CACHE": str(cache_dir()),
        "MPLCONFIGDIR": matplotlib.get_configdir(),
        "JAX_LOG_COMPILES": "1",
    }
    r = sweep(
        tmp,
        f"content={images_dir / 'tubingen.jpg'}",
        f"style={images_dir / 'starry_night.jpg'}",
        "pooling=max,avg",
        "ratio=1e-3,1e-2",
        "image_size=64",
        "steps=5",
        "logger=wandb",
        "progress=false",
        f"hydra.sweep.dir={out}",
        env={**env, "WANDB_MODE": None},
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return out


def test_four_jobs_each_with_outputs_and_an_offline_wandb_run(wandb_sweep):
    jobs = sorted(p for p in wandb_sweep.iterdir() if p.is_dir() and p.name.isdigit())
    assert [j.name for j in jobs] == ["0", "1", "2", "3"]
    seen = set()
    for job in jobs:
        summary = json.loads((job / "summary.json").read_text())
        seen.add((summary["config"]["pooling"], summary["config"]["ratio"]))
        steps = [json.loads(line) for line in (job / "metrics.jsonl").read_text().splitlines()]
        runs = list(job.glob("wandb/offline-run-*/run-*.wandb"))  # offline: W&B was not configured
        assert len(runs) == 1 and not list(job.glob("wandb/run-*")), list(job.rglob("*"))
        logged = [h for h in history(runs[0]) if "loss/total" in h]
        assert summary["steps"] == 5
        assert [h["_step"] for h in logged] == [s["step"] for s in steps] == [1, 2, 3, 4, 5]
        np.testing.assert_allclose([h["loss/style"] for h in logged], [s["style"] for s in steps], rtol=1e-6)
        assert Image.open(job / "final.png").size[0] == 64
    assert seen == {("max", 1e-3), ("max", 1e-2), ("avg", 1e-3), ("avg", 1e-2)}


def test_report_summarises_the_sweep(wandb_sweep):
    r = subprocess.run([sys.executable, "-m", "nstjax.entry.report", str(wandb_sweep)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader((wandb_sweep / "report.csv").open()))
    assert len(rows) == 4 and {row["overrides"].split()[2] for row in rows} >= {"pooling=max", "pooling=avg"}
    for row in rows:
        summary = json.loads((wandb_sweep / row["job"] / "summary.json").read_text())
        assert float(row["total"]) == pytest.approx(summary["loss"]["total"])
    assert "| job | overrides |" in (wandb_sweep / "report.md").read_text()
    sheet = np.asarray(Image.open(wandb_sweep / "contact_sheet.png"))
    assert sheet.shape[:2] == (700, 640) and sheet.std() > 10  # a 2×2 grid (pooling × ratio) of 3.2×3.5 in cells
    # The sheet's titles name what the sweep varied, not the overrides every job shares.
    from nstjax.io.report import collect, labels

    varied = [label.split() for label in labels(collect(wandb_sweep))]
    assert len({tuple(v) for v in varied}) == 4
    assert all([o.split("=")[0] for o in v] == ["pooling", "ratio"] for v in varied), varied


def test_report_has_the_yardstick_sorts_by_it_and_grids_a_two_key_sweep(wandb_sweep):
    from nstjax.io.report import METRIC_COLUMNS, collect, swept

    r = subprocess.run(
        [sys.executable, "-m", "nstjax.entry.report", str(wandb_sweep), "--sort", "style_gram"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader((wandb_sweep / "report.csv").open()))
    for row in rows:
        summary = json.loads((wandb_sweep / row["job"] / "summary.json").read_text())
        for key in METRIC_COLUMNS:
            assert float(row[key]) == pytest.approx(summary["metrics"][key], rel=1e-6)
    grams = [float(row["style_gram"]) for row in rows]
    assert grams == sorted(grams) and len(set(grams)) == 4
    assert swept(collect(wandb_sweep)) == {"pooling": ["max", "avg"], "ratio": ["0.001", "0.01"]}
    bad = subprocess.run(
        [sys.executable, "-m", "nstjax.entry.report", str(wandb_sweep), "--sort", "beauty"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1 and bad.stderr.startswith("error: --sort must be one of")


def test_new_poolings_and_style_statistics_sweep_and_each_lowers_its_own_style_term(tmp_path, images_dir):
    out = tmp_path / "sweep"
    pair = (f"content={images_dir / 'tubingen.jpg'}", f"style={images_dir / 'starry_night.jpg'}")
    # Every new variant once (pooling and statistic are independent keys: their product adds only compilations):
    # l2 and blur pooling with w2, then mean_std and swd with the default pooling and the paper's layers.
    r = sweep(
        tmp_path,
        *pair,
        "pooling=l2,blur",
        "style_loss=w2",
        "image_size=64",
        "steps=6",
        "progress=false",
        "style_layers=upto3",  # every variant reaches its pooling (after relu1_2, relu2_2) at a test's cost
        "content_layers=[relu3_1]",
        f"hydra.sweep.dir={out}",
    )
    assert r.returncode == 0, r.stderr[-3000:]
    r = sweep(
        tmp_path,
        *pair,
        "style_loss=mean_std,swd",  # swd lowers its term enough in 6 steps with the paper's layers, not shallow ones
        "image_size=64",
        "steps=6",
        "progress=false",
        f"hydra.sweep.dir={out}_stats",
    )
    assert r.returncode == 0, r.stderr[-3000:]
    seen = set()
    for job in [out / str(i) for i in range(2)] + [tmp_path / "sweep_stats" / str(i) for i in range(2)]:
        summary = json.loads((job / "summary.json").read_text())
        seen.add((summary["config"]["pooling"], summary["config"]["style_loss"]))
        styles = [json.loads(line)["style"] for line in (job / "metrics.jsonl").read_text().splitlines()]
        assert summary["steps"] == len(styles) == 6 and styles[-1] < 0.7 * styles[0], (job, styles)
        assert np.isfinite(summary["loss"]["total"]) and set(summary["metrics"]) >= {"style_gram", "style_swd"}
    assert seen == {("l2", "w2"), ("blur", "w2"), ("avg", "mean_std"), ("avg", "swd")}


def test_failing_job_does_not_stop_the_others(tmp_path, images_dir):
    out = tmp_path / "sweep"
    r = sweep(
        tmp_path,
        f"content={images_dir / 'tubingen.jpg'},{tmp_path / 'missing.jpg'},{images_dir / 'shipwreck.jpg'}",
        f"style={images_dir / 'starry_night.jpg'}",
        "image_size=64",
        "steps=2",
        "progress=false",
        *SHALLOW,
        f"hydra.sweep.dir={out}",
    )
    assert r.returncode == 1
    assert "image not found" in r.stderr and "1 job(s) failed" in r.stderr
    assert (out / "0" / "final.png").exists() and (out / "2" / "final.png").exists()
    assert not (out / "1" / "final.png").exists()


def compiled_programs(job) -> list[str]:
    """The programs a job's process built while it ran (JAX_LOG_COMPILES: one line per program lowered and
    compiled, whether XLA compiled it or found it in the on-disk cache)."""
    lines = (job / "nstjax.log").read_text().splitlines()
    return [line.split("Compiling ", 1)[1].split(" ", 1)[0] for line in lines if "Compiling " in line]


def test_jobs_differing_only_in_ratio_reuse_the_compilation(wandb_sweep):
    programs = [compiled_programs(wandb_sweep / str(i)) for i in range(4)]
    # Jobs 0, 2 (max, avg at ratio 1e-3) each build their objective; jobs 1, 3 (ratio 1e-2) build nothing.
    assert programs[0].count("jit(fg)") == 1 and programs[2].count("jit(fg)") == 1, programs
    assert programs[1] == [] and programs[3] == [], programs


def test_submitit_local_launcher_runs_jobs_in_their_own_processes(tmp_path, images_dir):
    out = tmp_path / "sweep"
    r = sweep(
        tmp_path,
        f"content={images_dir / 'tubingen.jpg'}",
        f"style={images_dir / 'starry_night.jpg'}",
        "ratio=1e-3,1e-2",
        "image_size=64",
        "steps=2",
        "progress=false",
        *SHALLOW,
        "hydra/launcher=submitit_local",
        f"hydra.sweep.dir={out}",
    )
    assert r.returncode == 0, r.stderr[-3000:]
    ratios = sorted(json.loads((out / str(i) / "summary.json").read_text())["config"]["ratio"] for i in range(2))
    assert ratios == [1e-3, 1e-2]
    assert (out / ".submitit").is_dir()  # the jobs really went through submitit
