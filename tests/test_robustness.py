"""Checkpoint and exact resume, Ctrl-C, non-finite losses, memory estimates, config validation."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from helpers import image, metrics_lines, run_job, summary
from hypothesis import example, given
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
    cli = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler)\nfrom nstjax.cli import main\nmain()"
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
        "from nstjax.cli import main\nmain()\n"
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
