"""Coarse to fine: per-scale step counts (``steps=[500,200]``) and ``scales=auto`` (a √2 ladder)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO
from helpers import run_job, summary
from PIL import Image
from test_robustness import BASE

from nstjax.run.config import ConfigError, auto_scales, validate
from nstjax.run.experiments import run_grid

CFG = {**BASE, "ratio_size": 512}


def test_auto_is_crowsonkbs_root_two_ladder():
    # gen_scales(128, end) in crowsonkb/style-transfer-pytorch: round(end / 2^(i/2)) while ≥ 128, smallest first.
    assert auto_scales(512) == (128, 181, 256, 362, 512)
    assert auto_scales(1024) == (128, 181, 256, 362, 512, 724, 1024)
    assert auto_scales(300) == (150, 212, 300)  # counted down from the output size: 128 itself need not appear
    assert auto_scales(100) == (100,)  # below 128 px: one scale
    for size in range(128, 3000, 37):
        ladder = auto_scales(size)
        assert ladder[-1] == size and ladder[0] >= 128 and ladder[0] / 2**0.5 < 128
        assert all(1.40 < b / a < 1.43 for a, b in zip(ladder, ladder[1:], strict=False))


def test_steps_per_scale_and_auto_are_read():
    run = validate({**CFG, "image_size": 1024, "scales": [512, 1024], "steps": [500, 200]})
    assert run.scales == (512, 1024) and run.scale_steps == (500, 200) and run.steps == 200
    run = validate({**CFG, "image_size": 512, "scales": "auto", "steps": 50})
    assert run.scales == (128, 181, 256, 362, 512) and run.scale_steps is None and run.steps == 50
    run = validate({**CFG, "image_size": 512, "scales": "auto", "steps": [100, 80, 60, 40, 20]})
    assert run.scale_steps == (100, 80, 60, 40, 20)


def test_a_stage_no_larger_than_one_tile_runs_untiled():
    from nstjax.run.runner import scale_stage

    run = validate({**CFG, "image_size": 1024, "scales": [256, 512, 1024], "steps": [30, 20, 10], "tile": 256})
    stages = [scale_stage(run, i) for i in range(3)]
    assert [(s.image_size, s.steps, s.tile, s.scales) for s in stages] == [
        (256, 30, 0, None),  # no larger than one tile: one window, so untiled
        (512, 20, 256, None),
        (1024, 10, 256, None),
    ]


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ({"steps": [500, 200]}, "^steps is a list .* but scales is not set"),
        ({"scales": [512, 1024], "steps": [500]}, r"^steps needs one count per size of scales \[512, 1024\], got 1"),
        ({"scales": [512, 1024], "steps": [500, 0]}, "^steps must be > 0, got 0"),
        ({"scales": [512, 1024], "steps": [500, "x"]}, "^steps must be an integer"),
        (
            {"scales": "auto", "image_size": 512, "steps": [1, 2]},
            r"^steps needs one count per size of scales \[128, 181, 256, 362, 512\], got 2",
        ),
        ({"scales": "fine"}, "^scales must be auto or a list"),
    ],
)
def test_bad_step_lists_are_refused_in_one_line(cfg, message):
    with pytest.raises(ConfigError, match=message) as err:
        validate({**CFG, **cfg})
    assert "\n" not in str(err.value)


def test_each_scale_takes_its_own_steps(tmp_path, pair64):
    out = tmp_path / "run"
    # Shallow layers keep it cheap: what is tested is the schedule, not the objective.
    result = run_job(
        out,
        *pair64[:-2],
        "image_size=96",
        "progress=false",
        "scales=[64,96]",
        "steps=[4,2]",
        "style_layers=upto2",
        "content_layers=[relu2_1]",
    )
    assert [(s["image_size"], s["steps"]) for s in result["scales"]] == [([48, 64], 4), ([72, 96], 2)]
    logged = lambda folder: [json.loads(line)["step"] for line in (folder / "metrics.jsonl").read_text().splitlines()]
    assert logged(out / "scale_64") == [1, 2, 3, 4] and logged(out) == [1, 2]
    assert result["steps"] == 2 and result["config"]["steps"] == [4, 2]


def test_the_highres_experiment_compares_one_scale_with_coarse_to_fine(tmp_path, images_dir):
    sys.path.insert(0, str(REPO / "experiments"))
    import highres

    grid = highres.build(96)
    assert [c.overrides.get("scales") for c in grid.cells] == [None, [48, 96], "auto"]
    assert [c.overrides["steps"] for c in grid.cells] == [200, [500, 200], [100]]  # auto_scales(96) == (96,)
    for cell in grid.cells:  # the schedule's shape, at a test's cost
        steps = cell.overrides["steps"]
        cell.overrides["steps"] = [2] * len(steps) if isinstance(steps, list) else 3
    cli = ["progress=false", "style_layers=upto2", "content_layers=[relu2_1]"]
    result = run_grid(grid, cli, tmp_path, images_dir)
    one, coarse, auto = (summary(Path(c["dir"])) for c in result["cells"])
    assert one["image_size"] == coarse["image_size"] == auto["image_size"] == [72, 96] and one["steps"] == 3
    assert [(s["image_size"], s["steps"]) for s in coarse["scales"]] == [([36, 48], 2), ([72, 96], 2)]
    crops = np.asarray(Image.open(highres.crops(tmp_path / "highres.json", side=32)))
    assert crops.shape == (32, 3 * 40 - 8, 3)
    # Each crop is its own cell's pixels at full resolution: the one-scale run's window, cut out again here.
    final = np.asarray(Image.open(Path(result["cells"][0]["dir"]) / "final.png").convert("RGB"))
    assert (crops[:, :32] == final[24 - 8 : 24 + 24, 48 - 16 : 48 + 16]).all()
    assert not (crops[:, :32] == crops[:, 40:72]).all()  # coarse to fine ends elsewhere


def test_the_last_of_scales_is_the_output_size_and_the_record_says_so(tmp_path, pair64):
    # scales decides the output size (configs/config.yaml); image_size=64 beside scales=[48,56] once made a 56 px
    # image under a record that said 64.
    assert validate({**CFG, "image_size": 64, "scales": [48, 56]}).image_size == 56
    with pytest.raises(ConfigError, match="^image_size must be finite"):  # still read, and still checked
        validate({**CFG, "image_size": float("inf"), "scales": [48, 56]})
    out = tmp_path / "run"
    shallow = ["progress=false", "style_layers=upto2", "content_layers=[relu2_1]", "steps=1"]
    result = run_job(out, *pair64[:2], "image_size=64", "scales=[48,56]", *shallow)
    assert np.asarray(Image.open(out / "final.png")).shape == (42, 56, 3) and result["image_size"] == [42, 56]
    assert result["config"]["image_size"] == summary(out)["config"]["image_size"] == 56
    assert summary(out / "scale_48")["config"]["image_size"] == 56  # the run's record, as each stage keeps it
