"""Batched sweeps: runs that share shapes optimised as one batch give the results of running them one by
one; the batched launcher groups a Hydra sweep's jobs and writes every job's outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from helpers import compose_cfg
from PIL import Image

from nstjax.run import batch
from nstjax.run.config import validate
from nstjax.run.runner import stylize


def runs_of(images_dir, *variants):
    base = [
        f"content={images_dir / 'tubingen.jpg'}",
        f"style={images_dir / 'starry_night.jpg'}",
        "image_size=64",
        "steps=6",
        "progress=false",
    ]
    return [validate(compose_cfg(*base, *v)) for v in variants]


def test_grouping_by_what_the_compiled_program_shares(images_dir):
    runs = runs_of(
        images_dir,
        ["ratio=1e-3"],
        ["ratio=1e-2", "init=noise"],
        ["tv_weight=10", "seed=3"],
        ["pooling=max"],
        ["optimizer=adam"],
        ["ratio=1e-4", "style_layer_weights=[1,1,1,1,0]"],
        ["style_loss=w2", "ratio=1e-3"],
        ["style_loss=w2", "ratio=1e-2"],
        ["style_loss=mean_std", "ratio=1e-3"],
        ["style_loss=mean_std", "ratio=1e-2"],
    )
    # w2 runs one by one (its batched program hangs on XLA:CPU: nstjax/objective/statistics/moments.py).
    assert batch.group(runs) == [[0, 1, 2, 5], [3], [8, 9], [4], [6], [7]]


def test_batch_equals_runs_one_after_another(params, images_dir, tmp_path):
    runs = runs_of(
        images_dir, ["ratio=1e-3"], ["ratio=1e-2", "init=noise"], ["tv_weight=100", "style_layer_weights=[2,1,1,1,0]"]
    )
    batched = batch.stylize_batch(runs, params, [tmp_path / f"b{i}" for i in range(3)])
    for i, (run, b) in enumerate(zip(runs, batched, strict=True)):
        s = stylize(run, params, tmp_path / f"s{i}")
        assert b["batch_size"] == 3 and b["steps"] == s["steps"] == 6
        assert b["evaluations"] == s["evaluations"]
        # Equal at the start to 1e-7; batched matmuls sum in another order, and six line searches
        # (cubic interpolation) carry that to ~1e-4 after the first step and ~3e-3 after the sixth.
        for term in ("total", "content", "style", "tv"):
            assert b["loss"][term] == pytest.approx(s["loss"][term], rel=5e-3), (i, term)
        diff = np.abs(
            np.asarray(Image.open(tmp_path / f"b{i}" / "final.png"), float)
            - np.asarray(Image.open(tmp_path / f"s{i}" / "final.png"), float)
        )
        assert diff.max() <= 2
        logged = [json.loads(line) for line in (tmp_path / f"b{i}" / "metrics.jsonl").read_text().splitlines()]
        assert [m["step"] for m in logged] == list(range(1, 7)) and logged[-1]["total"] == pytest.approx(
            b["loss"]["total"]
        )
    # Different weights and starts really were different problems.
    assert len({round(b["loss"]["total"]) for b in batched}) == 3


def test_runs_of_other_pairs_share_a_batch_when_their_contents_share_a_shape(params, tmp_path):
    """A benchmark's pairs in one compiled program (nstjax-compare's crop): each run keeps its own images' targets,
    so a run batched with other pairs ends where it ends alone; a content of another shape is another batch."""
    from nstjax.io.images import BENCHMARK_IMAGES, PAPER_IMAGES

    gateway, ajanta = (
        BENCHMARK_IMAGES / "contents" / f for f in ("monument_gateway_of_india.jpg", "landscape_ajanta_caves.jpg")
    )
    lion, scream = BENCHMARK_IMAGES / "styles" / "durer_lion.jpg", PAPER_IMAGES / "the_scream.jpg"
    common = ["image_size=64", "steps=5", "progress=false"]
    pairs = [
        (gateway, lion, 1e-3),
        (ajanta, scream, 1e-2),
        (gateway, scream, 1e-3),
        (BENCHMARK_IMAGES / "contents" / "animal_chelsea_the_cat.jpg", lion, 1e-3),
    ]
    runs = [validate(compose_cfg(f"content={c}", f"style={s}", f"ratio={r}", *common)) for c, s, r in pairs]
    assert batch.group(runs) == [[0, 1, 2], [3]]  # 512×384 photographs share 64×48; the cat's 451×300 is 64×43
    batched = batch.stylize_batch(runs[:3], params, [tmp_path / f"b{i}" for i in range(3)])
    for i, (run, b) in enumerate(zip(runs[:3], batched, strict=True)):
        s = stylize(run, params, tmp_path / f"s{i}")
        assert b["batch_size"] == 3 and b["evaluations"] == s["evaluations"]
        for term in ("total", "content", "style"):
            assert b["loss"][term] == pytest.approx(s["loss"][term], rel=5e-3), (i, term)
        assert b["metrics"]["style_gram"] == pytest.approx(s["metrics"]["style_gram"], rel=5e-3)
        diff = np.abs(
            np.asarray(Image.open(tmp_path / f"b{i}" / "final.png"), float)
            - np.asarray(Image.open(tmp_path / f"s{i}" / "final.png"), float)
        )
        assert diff.max() <= 2
    # Other images really were other problems: the same ratio on two pairs ends at other losses.
    assert batched[0]["loss"]["style"] != pytest.approx(batched[2]["loss"]["style"], rel=0.05)


@pytest.mark.slow
def test_batched_launcher_runs_a_sweep(tmp_path, images_dir):
    """Three ratios × two optimisers with max_batch=2: nstjax's L-BFGS jobs in a batch of two and, left over,
    one alone; Adam's one by one (the lockstep is L-BFGS's)."""
    out = tmp_path / "sweep"
    env = {**os.environ, "WANDB_MODE": "disabled"}
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "nstjax.entry.stylize",
            "-m",
            "hydra/launcher=nstjax_batched",
            "hydra.launcher.max_batch=2",
            f"content={images_dir / 'tubingen.jpg'}",
            f"style={images_dir / 'starry_night.jpg'}",
            "ratio=1e-3,1e-2,1e-1",
            "optimizer=lbfgs,adam",
            "image_size=64",
            "steps=3",
            "progress=false",
            f"hydra.sweep.dir={out}",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    seen = {}
    for job in sorted(p for p in out.iterdir() if p.is_dir()):
        summary = json.loads((job / "summary.json").read_text())
        seen[(summary["config"]["optimizer"]["name"], summary["config"]["ratio"])] = summary
        assert summary["steps"] == 3 and Image.open(job / "final.png").size[0] == 64
        assert str(job / "final.png") in r.stdout
    assert set(seen) == {(o, r) for o in ("lbfgs", "adam") for r in (1e-3, 1e-2, 1e-1)}
    sizes = {key: s.get("batch_size") for key, s in seen.items()}
    assert [sizes[("lbfgs", r)] for r in (1e-3, 1e-2, 1e-1)] == [2, 2, None], sizes  # in job order
    assert all(sizes[("adam", r)] is None for r in (1e-3, 1e-2, 1e-1)), sizes
    assert len({s["loss"]["total"] for s in seen.values()}) == 6


def test_batched_launcher_reports_failures_per_job(tmp_path, images_dir):
    out = tmp_path / "sweep"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "nstjax.entry.stylize",
            "-m",
            "hydra/launcher=nstjax_batched",
            "content=/nonexistent/photo.jpg",
            f"style={images_dir / 'starry_night.jpg'}",
            "ratio=1e-3,1e-2",
            "image_size=64",
            "steps=1",
            f"hydra.sweep.dir={out}",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 1 and "Traceback" not in r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error: image not found: /nonexistent/photo.jpg")]
    assert len(errors) == 2, r.stderr
    assert "2 job(s) failed" in r.stderr
    assert not [p for p in out.iterdir() if p.is_dir()]  # nothing half-written
