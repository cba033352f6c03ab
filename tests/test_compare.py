"""nstjax-compare end to end: a tiny comparison (2 pairs × 2 variants × 3 ratios, 64 px, 4 steps) writes its four
outputs with numbers that follow from its runs; a second invocation reuses every run and reproduces compare.json
byte for byte; a bad key or image fails with one line before any work."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from PIL import Image

import nstjax
from nstjax.entry import compare as compare_cli
from nstjax.run.compare import benchmark, labels

VARIANTS = ["pooling=max", "pooling=avg"]
RATIOS = [1e-3, 1e-2, 1e-1]
CONTENTS = ["skimage:astronaut"]
STYLES = ["skimage:coffee", "skimage:chelsea"]
RUN_KEYS = ["image_size=64", "steps=4"]
ARGS = [
    "variants=[pooling=max,pooling=avg]",
    "ratios=[1e-3,1e-2,1e-1]",
    "contents=[skimage:astronaut]",
    "styles=[skimage:coffee,skimage:chelsea]",
    *RUN_KEYS,
]


@pytest.mark.slow
def test_tiny_comparison_writes_its_outputs_and_a_rerun_reuses_every_run(tmp_path, capsys):
    out = tmp_path / "cmp"
    assert compare_cli.main([*ARGS, f"out_dir={out}"]) == 0
    assert "12 runs executed, 0 reused, 0 failed" in capsys.readouterr().err
    first = (out / "compare.json").read_bytes()
    result = json.loads(first)

    assert result["baseline"] == "pooling=max" and result["pairs"] == 2
    assert result["contents"] == ["astronaut"] and result["styles"] == ["coffee", "chelsea"]
    runs = result["runs"]
    assert len(runs) == 12
    for run in runs:
        assert all(math.isfinite(run[k]) and run[k] > 0 for k in ("content_distance", "style_gram", "style_swd"))
        # A variant's runs are named by what it changes: pooling=avg is the defaults.
        folder = {"pooling=max": "pooling=max", "pooling=avg": "defaults"}[run["variant"]]
        # Under the settings every run shares (image_size=64 and steps=4 here).
        assert run["dir"] == f"runs/image_size=64,steps=4/{folder}/astronaut__{run['style']}/ratio_{run['ratio']:g}"
        summary = json.loads((out / run["dir"] / "summary.json").read_text())
        assert summary["metrics"]["style_gram"] == run["style_gram"]
        assert summary["batch_size"] == 6  # a variant's two pairs × three ratios: one content, one shape, one batch
    frontier = {}
    for run in runs:
        frontier.setdefault((run["variant"], run["style"]), {})[run["ratio"]] = run
    for sweep in frontier.values():  # more content weight keeps more content, on every frontier
        assert sweep[1e-1]["content_distance"] < sweep[1e-2]["content_distance"] < sweep[1e-3]["content_distance"]

    assert [(c["variant"], c["metric"]) for c in result["comparisons"]] == [
        ("pooling=avg", "style_gram"),
        ("pooling=avg", "style_swd"),
    ]
    for c in result["comparisons"]:
        assert c["pairs_compared"] + c["pairs_without_overlap"] == 2
        if c["ci95"] is not None:  # the primary interval needs two pairs compared
            lo, hi = c["ci95"]
            assert math.isfinite(c["delta"]) and lo <= c["delta"] <= hi and 0 < c["p"] <= 1
        # The equal-ratio difference, recomputed from the runs: mean over pairs of the mean gap over ratios.
        gaps = [
            np.mean(
                [
                    frontier[("pooling=avg", s)][r][c["metric"]] - frontier[("pooling=max", s)][r][c["metric"]]
                    for r in RATIOS
                ]
            )
            for s in ("coffee", "chelsea")
        ]
        assert c["delta_equal_ratio"] == pytest.approx(np.mean(gaps), rel=1e-9)

    md = (out / "compare.md").read_text()
    assert "## style_gram" in md and "## style_swd" in md and "| 1 | `pooling=avg` |" in md
    for name in ("frontiers.png", "forest.png"):
        image = np.asarray(Image.open(out / name).convert("L"), float)
        assert image.shape[0] > 100 and image.shape[1] > 300 and image.std() > 5  # drawn, not blank

    # The same comparison through the Python API: every run reused, compare.json the same bytes.
    again = nstjax.compare(VARIANTS, RATIOS, CONTENTS, STYLES, out_dir=out, image_size=64, steps=4)
    assert (again["executed"], again["reused"], again["failed"]) == (0, 12, 0)
    assert (out / "compare.json").read_bytes() == first
    # Another comparison sharing the runs: "" is the same configuration as pooling=avg, so nothing runs again.
    other = nstjax.compare(
        ["pooling=max", ""],
        RATIOS,
        CONTENTS,
        STYLES,
        out_dir=tmp_path / "other",
        runs_dir=out / "runs",
        image_size=64,
        steps=4,
    )
    assert (other["executed"], other["reused"]) == (0, 12)
    assert other["summary"]["comparisons"][0]["delta"] == result["comparisons"][0]["delta"]


def test_comparisons_at_other_settings_never_share_runs_and_one_file_written_two_ways_is_one_run(
    tmp_path, monkeypatch, images_dir
):
    """Only the plan (no run): where each run's directory is and what config it records."""
    from dataclasses import replace

    from nstjax.run.compare import Comparison, plan

    base = Comparison(
        tuple(VARIANTS), tuple(RATIOS), tuple(CONTENTS), tuple(STYLES), tmp_path, tuple(RUN_KEYS), runs_dir=tmp_path
    )
    first = plan(base)
    assert {c.dir.relative_to(tmp_path).parts[:2] for c in first} == {
        ("image_size=64,steps=4", "pooling=max"),
        ("image_size=64,steps=4", "defaults"),
    }
    # The same pairs and variants at 3 steps: a "defaults" too, in directories of its own.
    other = plan(replace(base, overrides=("image_size=64", "steps=3")))
    assert len(other) == len(first) and not {c.dir for c in other} & {c.dir for c in first}
    # A photograph by its path relative to the working directory, from the home directory, and by its absolute
    # path: the same runs.
    images_dir = images_dir.resolve()  # NSTJAX_IMAGES may be relative: before leaving the working directory
    monkeypatch.chdir(images_dir)
    monkeypatch.setenv("HOME", str(images_dir.parent))
    by_name, by_home, by_path = (
        plan(replace(base, contents=(content,)))
        for content in ("tubingen.jpg", f"~/{images_dir.name}/tubingen.jpg", str(images_dir / "tubingen.jpg"))
    )
    assert [(c.dir, c.record) for c in by_name] == [(c.dir, c.record) for c in by_path]
    assert [(c.dir, c.record) for c in by_home] == [(c.dir, c.record) for c in by_path]
    assert by_name[0].record["content"] == str((images_dir / "tubingen.jpg").resolve())


@pytest.mark.parametrize(
    "bad, message",
    [
        (["foo=1"], "error: unknown key 'foo'"),
        (["contents=[missing.jpg]"], "error: image not found: missing.jpg"),
        (["variants=[pooling=max]"], "error: variants needs a baseline and at least one variant"),
        (["variants=[pooling=max,ratio=3]"], "error: variant 'ratio=3' sets ratio"),
        (["variants=[pooling=avg,'']"], "error: variants 'pooling=avg' and '' are the same configuration"),
        (["ratios=[1e-3]"], "error: ratios needs two or more distinct positive ratios"),
        (
            ["benchmark=nope", "contents=[]", "styles=[]"],
            "error: benchmark must be one of art, art_core, paintings, small",
        ),
    ],
)
def test_a_bad_key_or_image_fails_with_one_line_before_any_work(tmp_path, capsys, bad, message):
    out = tmp_path / "cmp"
    args = {a.partition("=")[0]: a for a in ARGS}
    args.update({a.partition("=")[0]: a for a in bad})
    assert compare_cli.main([*args.values(), f"out_dir={out}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1
    assert not out.exists()


@pytest.mark.parametrize(
    "extra, message",
    [
        (
            ["contents=[THIN]"],
            "error: thin × coffee: the content image at image_size=64 is 64×3 px; VGG19 needs at least 32",
        ),
        (
            ["style_loss=mrf", "style_layers=[relu4_1,relu5_1]", "image_size=48"],
            "error: style_loss=mrf needs 3×3 positions at relu5_1",
        ),
        (["memory_budget=1000000"], "error: a 64×48 image needs about"),
        (["style_scale=0.25"], "error: astronaut × coffee: the style image at image_size=64 is 16×12 px"),
    ],
    ids=["below-vgg-minimum", "mrf-without-patches", "too-large-for-memory", "style-below-minimum"],
)
def test_a_comparison_that_would_fail_run_by_run_is_one_line_and_writes_nothing(tmp_path, capsys, extra, message):
    """Every run's inputs (sizes, the statistic's positions, each batch's memory) are checked from the headers
    before the first run: exit 2, one line, no folder made, no cropped copy written (crop=4:3)."""
    thin = tmp_path / "thin.png"
    Image.fromarray(np.full((12, 256, 3), 128, np.uint8)).save(thin)
    out = tmp_path / "cmp"
    args = {a.partition("=")[0]: a for a in [*ARGS, "crop=4:3"]}
    if "contents=[THIN]" in extra:
        args.pop("crop")
    args.update({a.partition("=")[0]: a.replace("THIN", str(thin)) for a in extra})
    assert compare_cli.main([*args.values(), f"out_dir={out}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1, err
    assert not out.exists()


def test_a_file_or_an_unwritable_place_where_a_folder_goes_is_one_line_before_any_work(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    out = tmp_path / "cmp"
    for key in ("out_dir", "runs_dir"):
        where = {"out_dir": out, "runs_dir": None, key: blocker / "sub"}
        args = [f"{k}={v}" for k, v in where.items() if v is not None]
        assert compare_cli.main([*ARGS, *args]) == 2
        assert capsys.readouterr().err == f"error: {key} must be a directory, but {blocker} is a file\n"
    assert compare_cli.main([*ARGS, f"out_dir={out}", "runs_dir=/proc/runs"]) == 2  # /proc takes no folders
    assert capsys.readouterr().err.startswith("error: runs_dir: cannot write in /proc (")
    assert not out.exists()


def test_benchmarks_name_their_pairs():
    contents, styles, crop = benchmark("paintings")
    assert crop is None
    assert labels(contents) == ["tubingen", "astronaut", "coffee", "chelsea", "rocket"]
    assert labels(styles) == ["starry_night", "the_scream", "shipwreck", "composition_vii"]
    assert [len(x) for x in benchmark("small")[:2]] == [2, 2] and benchmark("small").crop == "4:3"
    assert labels(["a/photo.jpg", "b/photo.png", "skimage:coffee"]) == ["photo", "photo-2", "coffee"]


def test_with_wandb_the_table_and_figures_go_to_one_offline_run(tmp_path):
    from wandb_file import history

    from nstjax.io.logging import log_comparison

    figure = tmp_path / "forest.png"
    Image.fromarray(np.full((20, 30, 3), 200, np.uint8)).save(figure)
    comparison = {
        "variant": "pooling=avg",
        "metric": "style_gram",
        "verdict": "better",
        "delta": -0.05,
        "ci95": [-0.08, -0.02],
        "p": 0.01,
        "p_holm": 0.02,
        "wins": 18,
        "pairs_compared": 20,
        "pairs_without_overlap": 0,
        "delta_matched_style": -0.1,
        "delta_equal_ratio": 0.2,
    }
    summary = {"baseline": "pooling=max", "pairs": 20, "comparisons": [comparison]}
    log_comparison(tmp_path, {"group": "g", "name": "g/compare"}, summary, {"forest": figure})
    runs = list(tmp_path.glob("wandb/offline-run-*/run-*.wandb"))
    assert len(runs) == 1
    logged = {k.split("/")[0] for row in history(runs[0]) for k in row}
    assert {"comparison", "forest"} <= logged
    table = json.loads(next(runs[0].parent.glob("files/media/table/comparison_*.table.json")).read_text())
    assert table["data"] == [
        ["pooling=avg", "style_gram", "better", -0.05, -0.08, -0.02, 0.01, 0.02, 18, 20, 0, -0.1, 0.2]
    ]
    assert len(table["columns"]) == 13 and len(list(runs[0].parent.glob("files/media/images/forest_*.png"))) == 1


def test_plan_forecasts_time_and_power_from_a_pilot_and_runs_nothing(tmp_path, capsys):
    """plan=true: the runs, the time at the pilot's measured seconds per pixel-step (Σ steps × pixels of the runs
    still to do), and the primary test's power for the design from the pilot's variance components."""
    from nstjax.run.compare import forecast, plan, read_pilot
    from nstjax.stats.power import plan as power_plan

    pilot = tmp_path / "pilot"
    pilot.mkdir()
    variance = {"content": 0.0004, "style": 0.0025, "residual": 0.0009}
    (pilot / "compare.json").write_text(json.dumps({"comparisons": [{"metric": "style_gram", "variance": variance}]}))
    (pilot / "timing.json").write_text(json.dumps({"seconds": 30.0, "executed": 12, "pixel_steps": 3_000_000}))
    args = ["variants=[pooling=max,pooling=avg]", "ratios=[1e-3,1e-2]", "benchmark=small", "image_size=64", "steps=10"]
    out = tmp_path / "cmp"
    assert compare_cli.main([*args, f"out_dir={out}", "plan=true", f"pilot={pilot}", "effect=0.1"]) == 0
    printed = capsys.readouterr().out
    assert "16 runs (16 to run): 2 contents × 2 styles" in printed
    cells = plan(compare_cli.from_args([*args, f"out_dir={out}"]))
    f = forecast(cells, 2, read_pilot(pilot), 0.1, 0.05)
    # small's contents cropped to 4:3: 64 × 48 px, 10 steps, 16 runs, at 1e-5 s per pixel-step.
    assert f["seconds"] == pytest.approx(16 * 10 * 64 * 48 * 30.0 / 3_000_000)
    assert f"time: about {f['seconds'] / 3600:.1f} h" in printed
    assert f["power"]["style_gram"] == power_plan(variance, 2, 2, 0.1, 0.05, n_tests=1)
    assert not any(out.rglob("summary.json"))  # nothing ran
    # A pilot folder with nothing readable, or pilot= without plan=true: one line each.
    assert compare_cli.main([*args, "plan=true", f"pilot={tmp_path / 'nowhere'}"]) == 2
    assert compare_cli.main([*args, f"pilot={pilot}"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("error: pilot=") and "no readable compare.json" in err[0]
    assert err[1] == "error: pilot= and effect= are for plan=true"


@pytest.mark.slow
def test_ctrl_c_ends_a_comparison_keeping_finished_runs_and_a_rerun_continues(tmp_path, capsys, monkeypatch):
    """Ctrl-C in the second batch, as itself (in a batch) and then as the Interrupted a single run raises: exit 130,
    one line, the finished batches' runs kept, no compare.json with a gap; the same command again runs the rest."""
    from nstjax.run import batch
    from nstjax.run.runner import Interrupted

    real = batch.run_many

    def interrupted_second(stop: BaseException):
        calls = []

        def run_many(*args, **kwargs):
            calls.append(1)
            if len(calls) == 2:
                raise stop
            return real(*args, **kwargs)

        return run_many

    out = tmp_path / "cmp"
    for stop, kept in ((KeyboardInterrupt(), 3), (Interrupted("interrupted at step 2"), 6)):
        monkeypatch.setattr(batch, "run_many", interrupted_second(stop))
        assert compare_cli.main([*ARGS, "max_batch=3", f"out_dir={out}"]) == 130
        err = capsys.readouterr().err.splitlines()
        assert (
            err[-1] == f"interrupted; {kept} of 12 runs are finished and kept: run the same command again to continue"
        )
        assert len(list(out.rglob("summary.json"))) == kept and not (out / "compare.json").exists()
    monkeypatch.setattr(batch, "run_many", real)
    assert compare_cli.main([*ARGS, "max_batch=3", f"out_dir={out}"]) == 0
    assert "6 runs executed, 6 reused, 0 failed" in capsys.readouterr().err
