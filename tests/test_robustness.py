"""Checkpoint and exact resume, Ctrl-C, non-finite losses, memory estimates, config validation."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from helpers import compose_cfg, image, metrics_lines, run_job, summary
from hypothesis import example, given, settings
from hypothesis import strategies as st
from PIL import Image
from test_cli import nstjax

from nstjax.io import checkpoint
from nstjax.io.checkpoint import CheckpointError
from nstjax.run.config import ConfigError, validate
from nstjax.run.resources import TooLarge
from nstjax.run.runner import RunError


def test_interrupted_and_resumed_run_ends_like_an_uninterrupted_one(tmp_path, pair64, host_run_20, count_evaluations):
    split = tmp_path / "split"
    first = run_job(split, *pair64, "steps=10", "checkpoint_every=5")
    assert first["steps"] == 10 and checkpoint.step_of(split / checkpoint.FILENAME) == 10
    before = metrics_lines(split)
    count_evaluations.clear()
    resumed = run_job(split, *pair64, "steps=20", "resume=true")
    whole = summary(host_run_20)
    # A continuation, not a fresh run: the first process's lines, timings included, are kept as written,
    # and this process evaluated only the remaining steps (plus its compile call and the discarded start).
    after = metrics_lines(split)
    assert [json.loads(line)["step"] for line in after] == list(range(1, 21))
    assert after[:10] == before
    remaining = resumed["evaluations"] - json.loads(before[-1])["evaluations"]
    assert remaining <= len(count_evaluations) <= remaining + 2, (len(count_evaluations), remaining)
    # README: "ending on the same image as an uninterrupted run".
    assert resumed["steps"] == 20 and resumed["evaluations"] == whole["evaluations"]
    assert resumed["loss"]["total"] == pytest.approx(whole["loss"]["total"], rel=1e-6)
    assert (image(split / "final.png") == image(host_run_20 / "final.png")).all()


def test_resume_without_checkpoint_is_an_error(tmp_path, pair64):
    with pytest.raises(RunError, match="^resume=true but there is no checkpoint in"):
        run_job(tmp_path / "fresh", *pair64, "steps=3", "resume=true")


@pytest.mark.slow
def test_ctrl_c_saves_a_checkpoint_and_the_image(tmp_path, pair64):
    run_dir = tmp_path / "run"
    # Python's Ctrl-C handler installed explicitly: a shell that starts the tests in the background ignores
    # SIGINT, the child inherits that, and Python then never raises KeyboardInterrupt.
    cli = (
        "import signal; signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "from nstjax.entry.stylize import main\nmain()"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", cli, *pair64, "steps=100000", f"hydra.run.dir={run_dir}"],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    metrics = run_dir / "metrics.jsonl"
    deadline = time.time() + 240
    while time.time() < deadline and not (metrics.exists() and len(metrics.read_text().splitlines()) >= 3):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert err.strip().splitlines()[-1].startswith("error: interrupted at step"), err
    assert (run_dir / "checkpoint.npz").exists() and (run_dir / "last.png").exists()
    interrupted = summary(run_dir)
    step = interrupted["steps"]
    assert (
        interrupted["status"] == "interrupted" and step >= 3 and checkpoint.step_of(run_dir / "checkpoint.npz") == step
    )
    assert interrupted["metrics"] is None  # the yardstick only for a finished run
    before = metrics_lines(run_dir)
    r = nstjax(*pair64, f"steps={step + 2}", "resume=true", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    done = summary(run_dir)
    assert done["status"] == "done" and done["steps"] == step + 2 and (run_dir / "final.png").exists()
    assert set(done["metrics"]) == {"content_distance", "style_gram", "style_swd", "colour"}
    # Continued from the checkpoint: the interrupted process's lines (timings included) are kept, and the
    # two new steps' evaluations count on from the checkpoint's.
    after = metrics_lines(run_dir)
    assert after[:step] == before[:step] and len(after) == step + 2
    new = [json.loads(line) for line in after[step:]]
    assert [n["step"] for n in new] == [step + 1, step + 2]
    assert (
        json.loads(before[step - 1])["evaluations"]
        < new[0]["evaluations"]
        < new[1]["evaluations"]
        == done["evaluations"]
    )


def test_non_finite_loss_stops_with_the_step_and_keeps_the_last_good_image(tmp_path, pair64):
    run_dir = tmp_path / "run"
    with pytest.raises(RunError, match="^the loss became non-finite at step"):
        run_job(run_dir, *pair64, "steps=20", "optimizer=adam", "optimizer.lr=1e38")
    assert (run_dir / "last.png").exists() and not (run_dir / "final.png").exists()
    stopped = summary(run_dir)
    assert stopped["status"] == "non-finite" and np.isfinite(stopped["loss"]["total"])
    assert stopped["metrics"] is None  # the yardstick only for a finished run


def test_the_image_is_written_before_the_yardstick_runs(tmp_path, pair64, monkeypatch):
    # At print sizes the yardstick is the largest step (docs/devices-memory.md): if it fails or is killed, the
    # optimised image must already be on disk.
    from nstjax.objective import metrics

    def killed(*args, **kwargs):
        raise MemoryError("the yardstick ran out of memory")

    monkeypatch.setattr(metrics, "score", killed)
    with pytest.raises(MemoryError):
        run_job(tmp_path / "run", *pair64, "steps=2")
    final = np.asarray(Image.open(tmp_path / "run" / "final.png"))
    assert final.shape == (48, 64, 3) and final.std() > 5  # the stylised image, not a blank placeholder


def test_too_large_for_memory_fails_before_work(tmp_path, pair64):
    with pytest.raises(TooLarge, match="^a 64×48 image needs about .* GiB") as info:
        run_job(tmp_path / "run", *pair64, "steps=3", "memory_budget=100000000")
    assert "\n" not in str(info.value) and not (tmp_path / "run").exists()


BASE = {
    "content": None,
    "style": None,
    "image_size": 64,
    "steps": 5,
    "pooling": "avg",
    "ratio": 1e-3,
    "content_weight": 1.0,
    "content_layers": "paper",
    "style_layers": "paper",
    "tv_weight": 0.0,
    "init": "content",
    "seed": 0,
    "preserve_color": "none",
    "weights": "imagenet",
    "conv": "auto",
    "save_every": 0,
    "checkpoint_every": 0,
    "style_scale": 1.0,
}


# Failing examples found so far, pinned: each once ended in a traceback instead of a one-line error.
@example(key="steps", value=float("inf"))
@example(key="image_size", value=float("inf"))  # image_size=1e400 on the command line
@example(key="steps", value="inf")
@example(key="steps", value=10**30)
@example(key="seed", value=-1)
@example(key="ratio", value=1e-320)  # β = α / ratio overflows
@example(key="content_weight", value=1e39)  # beyond float32
@given(
    key=st.sampled_from(
        [
            "steps",
            "image_size",
            "ratio",
            "tv_weight",
            "style_scale",
            "seed",
            "pooling",
            "init",
            "style_layers",
            "content_layers",
            "content_weight",
        ]
    ),
    value=st.one_of(
        st.integers(-(10**6), 10**6),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=12),
        st.lists(st.text(max_size=8), max_size=3),
        st.none(),
        st.booleans(),
    ),
)
def test_validation_accepts_or_explains_in_one_line(key, value):
    try:
        run = validate({**BASE, key: value})
    except ConfigError as exc:
        message = str(exc)
        assert "\n" not in message and (key in message or "layer" in message or "empty" in message)
        return
    # Accepted: the value is a valid one.
    assert run.steps > 0 and run.image_size >= 32 and run.ratio > 0 and run.tv_weight >= 0 and run.style_scale > 0
    assert all(np.isfinite(np.float32(v)) for v in (run.ratio, run.content_weight, run.style_weight, run.tv_weight))
    assert run.spec.pooling in ("max", "avg", "l2", "blur") and run.init in ("content", "noise", "style")


def test_a_writer_killed_mid_write_leaves_the_old_file_intact(tmp_path):
    from nstjax.io.atomic import write_atomic

    target = tmp_path / "summary.json"
    target.write_text('{"old": true}')
    code = (  # noqa: UP031 (the child's source holds braces; %r quotes the paths for it)
        "import sys, time; sys.path.insert(0, %r)\n"
        "from nstjax.io.atomic import write_atomic\n"
        "def slow(f):\n    f.write(b'{\"new\": '); f.flush(); print('writing', flush=True); time.sleep(60)\n"
        "write_atomic(%r, slow)\n"
    ) % (str(__import__("nstjax").__path__[0] + "/.."), str(target))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    proc.kill()  # SIGKILL: no cleanup runs
    proc.wait()
    assert json.loads(target.read_text()) == {"old": True}

    def failing(f):
        f.write(b"partial")
        raise OSError("disk full")

    with pytest.raises(OSError):
        write_atomic(target, failing)
    assert json.loads(target.read_text()) == {"old": True}
    # The killed writer may leave its temporary; the failed one in this process removed its own.
    assert len([p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]) <= 1


@pytest.mark.parametrize(
    "arg, message",
    [
        ("steps=inf", "error: steps must be finite"),
        ("image_size=1e400", "error: image_size must be finite"),
        ("ratio=1e-320", "error: ratio is too small"),
        ("seed=-3", "error: seed must be >= 0"),
    ],
)
def test_non_finite_and_overflowing_numbers_are_one_line_errors(tmp_path, arg, message):
    r = nstjax(arg, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert r.returncode != 0 and r.stderr.strip().startswith(message) and len(r.stderr.strip().splitlines()) == 1, (
        r.stderr
    )
    assert not (tmp_path / "run").exists()


def test_a_huge_image_size_is_refused_before_anything_large_is_allocated(tmp_path, pair64):
    # The CLI in a process that writes its own peak RSS on exit: VmHWM, the high-water mark of its own address
    # space (getrusage's maxrss would include the forking pytest's, and RUSAGE_CHILDREN every earlier child).
    peak = tmp_path / "peak"
    code = (  # noqa: UP031 (%r quotes the path inside the child's source)
        "import atexit\n"
        "def hwm():\n"
        "    kb = next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM'))\n"
        "    open(%r, 'w').write(kb)\n"
        "atexit.register(hwm)\n"
        "from nstjax.entry.stylize import main\nmain()\n"
    ) % str(peak)
    # No time limit asserted: the subprocess's timeout catches a hang, and the peak RSS is what shows that
    # nothing large was allocated.
    r = subprocess.run(
        [sys.executable, "-c", code, *pair64[:2], "image_size=100000", f"hydra.run.dir={tmp_path / 'run'}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode != 0 and r.stderr.startswith("error: a 100000×75000 image needs about"), r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "run").exists()
    # The interpreter and JAX, not a 100000×75000 image (22 GB as uint8).
    assert int(peak.read_text()) * 1024 < 1 << 30


def test_a_large_jpeg_is_decoded_at_a_reduced_scale(tmp_path):
    from nstjax.io import images

    rgb = np.random.default_rng(0).integers(0, 256, (1200, 1600, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "big.jpg", quality=80)
    assert images.image_shape(tmp_path / "big.jpg") == (1200, 1600)
    small = images.load_image(tmp_path / "big.jpg", fit=(150, 200))
    assert small.shape == (150, 200, 3)  # Image.draft's 1/8 scale, never below the size asked for
    assert images.load_image(tmp_path / "big.jpg", fit=(300, 350)).shape == (300, 400, 3)  # 1/4: 1/8 is too small
    assert images.load_image(tmp_path / "big.jpg").shape == (1200, 1600, 3)


@pytest.fixture(scope="module")
def checkpointed_run(tmp_path_factory, pair64):
    run_dir = tmp_path_factory.mktemp("ckpt") / "run"
    run_job(run_dir, *pair64, "steps=4", "checkpoint_every=2")
    return run_dir


@pytest.mark.parametrize("damage", ["truncated", "garbage", "wrong shapes"])
def test_a_damaged_checkpoint_is_reported_as_damaged_and_kept(tmp_path, pair64, checkpointed_run, damage):
    import shutil

    run_dir = tmp_path / "run"
    shutil.copytree(checkpointed_run, run_dir)
    ckpt = run_dir / "checkpoint.npz"
    data = ckpt.read_bytes()
    if damage == "truncated":
        ckpt.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        ckpt.write_bytes(b"not a checkpoint" * 100)
    else:
        with np.load(ckpt) as d:
            arrays = {k: (d[k][..., :1] if k.startswith("leaf") and d[k].ndim >= 2 else d[k]) for k in d.files}
        np.savez(ckpt, **arrays)
    damaged = ckpt.read_bytes()
    expected = "does not match this run" if damage == "wrong shapes" else "is damaged"
    with pytest.raises(CheckpointError, match=expected) as info:
        run_job(run_dir, *pair64, "steps=8", "resume=true", "checkpoint_every=2")
    assert "\n" not in str(info.value)
    assert ckpt.read_bytes() == damaged  # left as it was, for the user to inspect


def _files(run_dir) -> dict:
    return {p.relative_to(run_dir): p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(
    "changed, named",
    [
        (["pooling=max"], 'pooling ("avg" there, "max" now)'),
        (["ratio=1e-2", "style_layers=upto2"], "ratio (0.001 there, 0.01 now); style_layers ("),
        (["style_loss=mean_std"], 'style_loss ("gram" there, "mean_std" now)'),
        (["content={images}/shipwreck.jpg"], "content (other pixels)"),
        (["image_size=56"], "content (other pixels); image_size (64 there, 56 now); style (other pixels)"),
    ],
)
def test_a_resume_under_other_settings_is_refused_naming_them_and_nothing_is_overwritten(
    tmp_path, pair64, images_dir, checkpointed_run, changed, named
):
    import shutil

    run_dir = tmp_path / "run"
    shutil.copytree(checkpointed_run, run_dir)
    before = _files(run_dir)
    changed = [c.format(images=images_dir) for c in changed]
    keys = {c.split("=")[0] for c in changed}
    overrides = [o for o in pair64 if o.split("=")[0] not in keys] + changed
    with pytest.raises(CheckpointError, match="was made with other settings: ") as info:
        run_job(run_dir, *overrides, "steps=8", "resume=true")
    message = str(info.value)
    assert "\n" not in message and named in message, message
    assert message.endswith("resume with the settings it was made with, or use another run directory")
    assert _files(run_dir) == before  # final.png, summary.json, metrics.jsonl and the checkpoint as they were


def test_keys_that_do_not_change_the_objective_may_change_on_resume(tmp_path, pair64, checkpointed_run):
    import shutil

    from nstjax.run.resume import FREE, settings

    run_dir = tmp_path / "run"
    shutil.copytree(checkpointed_run, run_dir)
    # More steps, other cadences: the same objective.
    done = run_job(run_dir, *pair64, "steps=6", "resume=true", "checkpoint_every=3", "save_every=5")
    assert done["status"] == "done" and done["steps"] == 6 and json.loads(metrics_lines(run_dir)[-1])["step"] == 6
    # What is recorded comes from RunConfig's fields, not a list kept by hand: each field is recorded or free.
    from dataclasses import fields

    from nstjax.run.config import RunConfig
    from nstjax.run.runner import Inputs

    run = validate({**BASE, "style_loss": "mrf", "mrf": {"stride": 1}})
    pixels = np.zeros((32, 32, 3), np.uint8)
    recorded = settings(run, Inputs(pixels, [pixels]))
    names = {f.name for f in fields(RunConfig)} | {f.name for f in fields(run.spec)}
    renamed = {"styles": "style", "style_weight_override": "style_weight", "style_options": "mrf", "spec": None}
    expected = {renamed.get(n, n) for n in names if n not in FREE} - {None}
    assert set(recorded) == expected and recorded["mrf"] == {"stride": 1} and recorded["pooling"] == "avg"


def test_a_torn_last_line_of_the_metrics_is_dropped_with_one_warning(tmp_path, pair64, checkpointed_run, capsys):
    import shutil

    run_dir = tmp_path / "run"
    shutil.copytree(checkpointed_run, run_dir)
    metrics = run_dir / "metrics.jsonl"
    sound = metrics.read_text()
    metrics.write_text(sound + '{"step": 5, "total": 12')  # what a crash mid-write leaves
    capsys.readouterr()
    done = run_job(run_dir, *pair64, "steps=6", "resume=true")
    warnings = capsys.readouterr().err.strip().splitlines()
    assert warnings == [f"warning: {metrics}: dropped 1 damaged line(s) (line 5); kept the 4 sound line(s)"]
    assert done["steps"] == 6 and metrics_lines(run_dir)[:4] == sound.splitlines()
    assert [json.loads(line)["step"] for line in metrics_lines(run_dir)] == [1, 2, 3, 4, 5, 6]


@pytest.fixture(scope="module")
def tiled_checkpoint(tmp_path_factory, pair64):
    """A tiled run (36×48 px, 16 px tiles, shallow layers) checkpointed at step 2, and the same run resumed to
    step 3 from an intact copy: what every damaged copy must end on."""
    import shutil

    root = tmp_path_factory.mktemp("tiled")
    tiles = [*pair64[:2], "image_size=48", "progress=false", "style_layers=upto3", "content_layers=[relu3_1]"]
    tiles += ["tile=16"]
    run_job(root / "run", *tiles, "steps=2", "checkpoint_every=2")
    shutil.copytree(root / "run", root / "intact")
    run_job(root / "intact", *tiles, "steps=3", "resume=true")
    return root / "run", tiles, image(root / "intact" / "final.png")


@pytest.mark.parametrize("damage", [b'{"status": "interr', b"[1, 2, 3]", b'"done"', b"\xff\xfe{}", b""])
def test_a_damaged_summary_of_a_tiled_run_does_not_stop_its_resume(tmp_path, tiled_checkpoint, damage, capsys):
    import shutil

    from nstjax.run import resources

    source, tiles, expected = tiled_checkpoint
    run_dir = tmp_path / "run"
    shutil.copytree(source, run_dir)
    (run_dir / "summary.json").write_bytes(damage)
    done = run_job(run_dir, *tiles, "steps=3", "resume=true")
    # The history comes from the checkpoint, so the continuation is exact whatever the summary holds.
    assert done["tiling"]["history"] == 100 and (image(run_dir / "final.png") == expected).all()
    # An older checkpoint records no history: the summary is read, what is sound used, the rest said in one line.
    capsys.readouterr()
    (run_dir / "summary.json").write_bytes(damage)
    run = validate(compose_cfg(*tiles))
    assert resources.optimizer_within((36, 48), run, run_dir)["history"] == resources.history_within((36, 48), run)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"warning: {run_dir / 'summary.json'} ") and "ignored" in err[0], err


@pytest.fixture(scope="module")
def stopped_in_the_last_stage(tmp_path_factory, pair64):
    """A coarse-to-fine run (36×48 then 48×64 px, 3 steps each) stopped by Ctrl-C after step 1 of its last stage,
    with checkpoint_every=0; and the image the uninterrupted run ends on."""
    from nstjax.io.logging import RunLogger

    root = tmp_path_factory.mktemp("stages")
    overrides = [*SCALES, *pair64[:2]]
    whole = run_job(root / "whole", *overrides)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(RunLogger, "log_step", _interrupting(RunLogger.log_step, root / "run", 1))
        with pytest.raises(RunError, match="^interrupted at step 1; checkpoint saved, continue with resume=true$"):
            run_job(root / "run", *overrides)
    return root / "run", overrides, image(root / "whole" / "final.png"), whole


SCALES = ["image_size=64", "scales=[48,64]", "steps=[3,3]", "style_layers=upto2", "content_layers=[relu2_1]"]
SCALES += ["progress=false"]


@contextlib.contextmanager
def no_traceback():
    """A Ctrl-C that escapes the run fails the test, rather than stopping the whole test session."""
    try:
        yield
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C escaped the run: a traceback, not one line")


def _interrupting(log_step, folder, at):
    """RunLogger.log_step that presses Ctrl-C in ``folder`` after logging step ``at``."""

    def pressed(self, step, metrics):
        log_step(self, step, metrics)
        if self.out_dir == folder and step == at:
            raise KeyboardInterrupt

    return pressed


# Each log a coarse-to-fine run writes before it is resumed: the finished stage's and the stopped stage's.
LOGS = ["scale_48/metrics.jsonl", "scale_48/summary.json", "metrics.jsonl", "summary.json"]


@example(log="metrics.jsonl", cut=0.5)  # the stopped stage's one line, torn in the middle
@example(log="scale_48/summary.json", cut=0.0)  # empty
@settings(max_examples=24)  # derandomized by the project's profile (conftest); each example is a resume
@given(log=st.sampled_from(LOGS), cut=st.floats(0, 1, exclude_max=True))
def test_any_log_cut_at_any_length_resumes_where_the_run_stopped(stopped_in_the_last_stage, log, cut):
    import contextlib
    import io
    import shutil
    import tempfile
    from pathlib import Path

    source, overrides, expected, whole = stopped_in_the_last_stage
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        shutil.copytree(source, run_dir)
        data = (run_dir / log).read_bytes()
        (run_dir / log).write_bytes(data[: int(cut * len(data))])
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            done = run_job(run_dir, *overrides, "resume=true")
        # No traceback, at most one warning line per log read, and the image of the uninterrupted run.
        assert all(line.startswith("warning: ") for line in err.getvalue().splitlines()), err.getvalue()
        assert len(err.getvalue().splitlines()) <= 1, err.getvalue()
        assert done["status"] == "done" and (image(run_dir / "final.png") == expected).all()
        assert [s["steps"] for s in done["scales"]] == [3, 3]
        if log != "scale_48/summary.json":  # else the finished stage's record is what it says was dropped
            same = ("image_size", "steps", "evaluations", "loss")
            assert {k: done["scales"][0][k] for k in same} == {k: whole["scales"][0][k] for k in same}
        assert [json.loads(line)["step"] for line in metrics_lines(run_dir)][-2:] == [2, 3]


def test_every_prefix_of_a_log_reads_as_its_sound_part(checkpointed_run, capsys):
    # Every length of both logs, read as a resume reads them (the runs above resume from a sample of them).
    from nstjax.io.logging import _sound_rows, read_record

    metrics, record = checkpointed_run / "metrics.jsonl", checkpointed_run / "summary.json"
    lines, data = metrics_lines(checkpointed_run), metrics.read_bytes()
    for cut in range(len(data) + 1):
        torn = checkpointed_run.parent / "torn.jsonl"
        torn.write_bytes(data[:cut])
        kept = _sound_rows(torn, 4)
        whole_lines = data[:cut].count(b"\n") + (cut == len(data) or data[:cut].endswith(b"}"))
        assert kept == lines[:whole_lines], cut
        err = capsys.readouterr().err.splitlines()
        assert len(err) == (whole_lines < 4) and all(e.startswith(f"warning: {torn}: ") for e in err), (cut, err)
    data = record.read_bytes()
    for cut in range(len(data)):
        torn = checkpointed_run.parent / "torn.json"
        torn.write_bytes(data[:cut])
        assert read_record(torn) is None
        assert capsys.readouterr().err == f"warning: {torn} is damaged (JSONDecodeError); ignored\n", cut
    assert read_record(record) == summary(checkpointed_run)


def test_a_coarse_to_fine_run_stopped_in_its_first_stage_resumes_there(tmp_path, stopped_in_the_last_stage):
    from nstjax.io.logging import RunLogger

    _, overrides, expected, _ = stopped_in_the_last_stage
    run_dir = tmp_path / "run"
    with pytest.MonkeyPatch.context() as mp:  # checkpoint_every=0: only Ctrl-C saves one
        mp.setattr(RunLogger, "log_step", _interrupting(RunLogger.log_step, run_dir / "scale_48", 2))
        stopped = "^interrupted at step 2; checkpoint saved, continue with resume=true$"
        with pytest.raises(RunError, match=stopped), no_traceback():
            run_job(run_dir, *overrides)
    assert checkpoint.step_of(run_dir / "scale_48" / checkpoint.FILENAME) == 2
    done = run_job(run_dir, *overrides, "resume=true")
    assert [s["steps"] for s in done["scales"]] == [3, 3] and (image(run_dir / "final.png") == expected).all()
    assert [json.loads(line)["step"] for line in metrics_lines(run_dir / "scale_48")] == [1, 2, 3]


def test_a_coarse_to_fine_run_stopped_between_stages_continues_at_the_next(tmp_path, stopped_in_the_last_stage):
    from nstjax.run import runner

    _, overrides, expected, _ = stopped_in_the_last_stage
    run_dir = tmp_path / "run"
    real = runner.prepare

    def pressed(run, *args, **kwargs):  # Ctrl-C while the second stage's targets are computed
        if run.image_size == 64:
            raise KeyboardInterrupt
        return real(run, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(runner, "prepare", pressed)
        stopped = "^interrupted; continue from the start of the 64 px stage with resume=true$"
        with pytest.raises(RunError, match=stopped), no_traceback():
            run_job(run_dir, *overrides)
    assert not (run_dir / checkpoint.FILENAME).exists() and (run_dir / "scale_48" / checkpoint.RESULT).exists()
    done = run_job(run_dir, *overrides, "resume=true")
    assert [s["steps"] for s in done["scales"]] == [3, 3] and (image(run_dir / "final.png") == expected).all()
    # A finished stage is not run again: its log is the first run's.
    assert [json.loads(line)["step"] for line in metrics_lines(run_dir / "scale_48")] == [1, 2, 3]


def test_ctrl_c_while_compiling_says_how_to_continue_only_when_it_can(tmp_path, pair64, checkpointed_run):
    import shutil

    from nstjax.objective import compiled

    def pressed(spec):
        def fg(data, x):
            raise KeyboardInterrupt

        return fg

    run_dir = tmp_path / "run"
    shutil.copytree(checkpointed_run, run_dir)
    before = (run_dir / checkpoint.FILENAME).read_bytes()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(compiled, "value_and_grad_fn", pressed)
        with pytest.raises(RunError, match="^interrupted; continue from step 4 with resume=true$"), no_traceback():
            run_job(run_dir, *pair64, "steps=8", "resume=true")
        nothing = "^interrupted with no checkpoint to continue from; start it again$"
        with pytest.raises(RunError, match=nothing), no_traceback():
            run_job(tmp_path / "fresh", *pair64, "steps=8")
        with pytest.raises(RunError, match=nothing), no_traceback():
            run_job(tmp_path / "stages", *SCALES, *pair64[:2])
    assert (run_dir / checkpoint.FILENAME).read_bytes() == before  # kept as it was
    # And what it said is so: resume=true continues the first and refuses the others, in one line each.
    assert run_job(run_dir, *pair64, "steps=5", "resume=true")["steps"] == 5
    with pytest.raises(RunError, match=f"^resume=true but there is no checkpoint in {tmp_path / 'fresh'}$"):
        run_job(tmp_path / "fresh", *pair64, "steps=8", "resume=true")
    with pytest.raises(RunError, match="^resume=true but there is no checkpoint in .*stages or its scale_N folders$"):
        run_job(tmp_path / "stages", *SCALES, *pair64[:2], "resume=true")


@pytest.mark.parametrize("text", ["[1, 2]", "3", '"done"', "null"])
def test_a_summary_that_is_not_an_object_is_a_run_not_finished(tmp_path, text):
    # A comparison or a figure asks each run directory whether it finished: such a file once aborted all of it.
    from nstjax.run.experiments import finished_run

    (tmp_path / "summary.json").write_text(text)
    (tmp_path / "final.png").write_bytes(b"")
    assert finished_run(tmp_path, {"steps": 3}) is None


def test_a_checkpoint_that_records_no_settings_is_taken_with_a_warning(tmp_path, capsys):
    # Made by an older nstjax: nothing to compare, so it is used as before, and the user is told it was not checked.
    path = tmp_path / checkpoint.FILENAME
    np.savez(path, meta=np.frombuffer(json.dumps({"step": 3, "elapsed": 1.0, "terms": {}}).encode(), np.uint8))
    meta = checkpoint.read(path)
    assert meta is not None and meta["step"] == 3
    checkpoint.check_settings(path, meta, {"pooling": "max"})
    assert capsys.readouterr().err == (
        f"warning: the checkpoint {path} records no settings (an older nstjax made it); taken as made with these\n"
    )
    checkpoint.save(path, {"x": np.zeros(2)}, 3, {}, 1.0, {"pooling": "avg", "layers": ("relu1_1",)})
    with pytest.raises(CheckpointError, match=r'pooling \("avg" there, "max" now\)'):
        checkpoint.check_settings(path, checkpoint.read(path), {"pooling": "max", "layers": ("relu1_1",)})
    checkpoint.check_settings(path, checkpoint.read(path), {"pooling": "avg", "layers": ("relu1_1",)})  # tuples as JSON
