"""loop=device: the same L-BFGS inside one jitted lax loop per chunk, checked against the host loop."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import compose_cfg, image, metrics_lines, run_job, steps_logged, summary

from nstjax.optim import lbfgs_device
from nstjax.optim.lbfgs import LBFGS
from nstjax.optim.lbfgs_device import DeviceLBFGS
from nstjax.run.config import ConfigError, validate
from nstjax.run.runner import RunError


def rosenbrock_fg(data, x):
    a, b = data
    f = jnp.sum(b * jnp.square(x[1:] - jnp.square(x[:-1])) + jnp.square(a - x[:-1]))
    return (
        f,
        {"f": f},
        jax.grad(lambda z: jnp.sum(b * jnp.square(z[1:] - jnp.square(z[:-1])) + jnp.square(a - z[:-1])))(x),
    )


def test_device_steps_equal_host_steps_on_rosenbrock():
    data, x0 = (jnp.float32(1.0), jnp.float32(100.0)), jnp.asarray(np.linspace(-1.5, 1.5, 12), jnp.float32)
    fg = jax.jit(rosenbrock_fg)
    host = LBFGS(lambda x: fg(data, x), history=10)
    device = DeviceLBFGS(rosenbrock_fg, data, history=10, chunk=7)
    hs, ds = host.init(x0), device.init(x0)
    start = float(hs.loss)
    for _ in range(30):
        hs, ds = host.step(hs), device.step(ds)
        assert int(ds.evaluations) == int(hs.evaluations)
        assert float(ds.loss) == pytest.approx(float(hs.loss), rel=1e-3, abs=1e-6)
    assert float(hs.loss) < 0.05 * start  # both really optimise


def test_device_loop_reaches_the_host_loss_and_logs_every_step(host_run_20, device_run_20):
    a, b = summary(host_run_20), summary(device_run_20)
    assert b["loop"] == "device" and a["loop"] == "host"  # auto is the host loop on a CPU
    assert a["steps"] == b["steps"] == 20
    assert b["loss"]["total"] == pytest.approx(a["loss"]["total"], rel=1e-2)
    assert steps_logged(device_run_20) == list(range(1, 21))


def test_device_loop_resumes_exactly(tmp_path, pair64, device_run_20, monkeypatch):
    split = tmp_path / "split"
    base = [*pair64, "loop=device", "loop_chunk=8"]
    run_job(split, *base, "steps=8", "checkpoint_every=8")
    before = metrics_lines(split)
    chunks = []  # the steps each device call of the resumed process ran
    real = lbfgs_device.run_chunk

    def counted(fg, data, state, terms, active_steps, **kw):
        chunks.append(int(active_steps))
        return real(fg, data, state, terms, active_steps, **kw)

    monkeypatch.setattr(lbfgs_device, "run_chunk", counted)
    resumed = run_job(split, *base, "steps=20", "resume=true")
    whole = summary(device_run_20)
    # A continuation: the remaining 12 steps in two calls (8 + 4), and the first process's lines kept as written.
    assert chunks == [8, 4]
    after = metrics_lines(split)
    assert after[:8] == before and [json.loads(line)["step"] for line in after] == list(range(1, 21))
    assert resumed["evaluations"] == whole["evaluations"]
    assert resumed["loss"]["total"] == pytest.approx(whole["loss"]["total"], rel=1e-6)
    assert (image(split / "final.png") == image(device_run_20 / "final.png")).all()  # README: the same image


def test_device_loop_stops_on_a_non_finite_loss(tmp_path, pair64):
    run_dir = tmp_path / "run"
    # A TV weight near float32's limit on a noisy start: the objective is infinite from the first evaluation.
    with pytest.raises(RunError, match="^the loss became non-finite at step"):
        run_job(run_dir, *pair64, "steps=20", "loop=device", "loop_chunk=8", "init=noise", "tv_weight=3e38")
    assert (run_dir / "last.png").exists() and not (run_dir / "final.png").exists()
    assert summary(run_dir)["status"] == "non-finite" and summary(run_dir)["metrics"] is None


def test_device_loop_options_are_checked(tmp_path, pair64):
    with pytest.raises(ConfigError, match="loop=device runs nstjax's L-BFGS"):
        validate(compose_cfg(*pair64, "loop=device", "optimizer=adam"))
    with pytest.raises(ConfigError, match="multiple of loop_chunk"):
        validate(compose_cfg(*pair64, "loop=device", "checkpoint_every=3"))


def test_auto_is_the_device_loop_on_accelerators_and_the_host_loop_on_cpus(monkeypatch, images_dir):
    from nstjax.run.config import validate
    from nstjax.run.experiments import compose

    run = validate(compose({"content": str(images_dir / "tubingen.jpg")}, []))
    assert run.loop == "auto" and run.loop_kind() == "host"
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    assert run.loop_kind() == "device"
    adam = validate(compose({"content": str(images_dir / "tubingen.jpg")}, ["optimizer=adam"]))
    assert adam.loop_kind() == "host"  # the device loop is nstjax's L-BFGS
