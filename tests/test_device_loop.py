"""loop=device: the same L-BFGS inside one jitted lax loop per chunk, checked against the host loop."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nstjax.optim.lbfgs import LBFGS
from nstjax.optim.lbfgs_device import DeviceLBFGS
from test_cli import nstjax


def rosenbrock_fg(data, x):
    a, b = data
    f = jnp.sum(b * jnp.square(x[1:] - jnp.square(x[:-1])) + jnp.square(a - x[:-1]))
    return f, {"f": f}, jax.grad(lambda z: jnp.sum(b * jnp.square(z[1:] - jnp.square(z[:-1])) + jnp.square(a - z[:-1])))(x)


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


@pytest.fixture(scope="module")
def pair_args(images_dir):
    return [f"content={images_dir / 'tubingen.jpg'}", f"style={images_dir / 'starry_night.jpg'}", "image_size=64",
            "progress=false"]


def summary(run_dir):
    return json.loads((run_dir / "summary.json").read_text())


def test_device_loop_reaches_the_host_loss_and_logs_every_step(tmp_path, pair_args):
    host, device = tmp_path / "host", tmp_path / "device"
    assert nstjax(*pair_args, "steps=20", "loop=host", f"hydra.run.dir={host}", cwd=tmp_path).returncode == 0
    r = nstjax(*pair_args, "steps=20", "loop=device", "loop_chunk=8", f"hydra.run.dir={device}", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    a, b = summary(host), summary(device)
    assert b["loop"] == "device" and a["loop"] == "host"  # auto is the host loop on a CPU
    assert b["loss"]["total"] == pytest.approx(a["loss"]["total"], rel=1e-2)
    steps = [json.loads(line)["step"] for line in (device / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 21))


def test_device_loop_resumes_exactly(tmp_path, pair_args):
    whole, split = tmp_path / "whole", tmp_path / "split"
    base = [*pair_args, "loop=device", "loop_chunk=5"]
    assert nstjax(*base, "steps=20", f"hydra.run.dir={whole}", cwd=tmp_path).returncode == 0
    r = nstjax(*base, "steps=10", "checkpoint_every=5", f"hydra.run.dir={split}", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = nstjax(*base, "steps=20", "resume=true", f"hydra.run.dir={split}", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    a, b = summary(whole), summary(split)
    assert b["evaluations"] == a["evaluations"] and b["loss"]["total"] == pytest.approx(a["loss"]["total"], rel=1e-5)


def test_device_loop_stops_on_a_non_finite_loss(tmp_path, pair_args):
    run_dir = tmp_path / "run"
    # A TV weight near float32's limit on a noisy start: the objective is infinite from the first evaluation.
    r = nstjax(*pair_args, "steps=20", "loop=device", "init=noise", "tv_weight=3e38", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert r.returncode != 0
    assert r.stderr.strip().splitlines()[-1].startswith("error: the loss became non-finite at step"), r.stderr
    assert (run_dir / "last.png").exists() and not (run_dir / "final.png").exists()


def test_device_loop_options_are_checked(tmp_path, pair_args):
    r = nstjax(*pair_args, "loop=device", "optimizer=adam", f"hydra.run.dir={tmp_path / 'a'}", cwd=tmp_path)
    assert r.returncode != 0 and "loop=device runs nstjax's L-BFGS" in r.stderr
    r = nstjax(*pair_args, "loop=device", "checkpoint_every=3", f"hydra.run.dir={tmp_path / 'b'}", cwd=tmp_path)
    assert r.returncode != 0 and "multiple of loop_chunk" in r.stderr


def test_auto_is_the_device_loop_on_accelerators_and_the_host_loop_on_cpus(monkeypatch, images_dir):
    from nstjax.run.config import validate
    from nstjax.run.experiments import compose

    run = validate(compose({"content": str(images_dir / "tubingen.jpg")}, []))
    assert run.loop == "auto" and run.loop_kind() == "host"
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    assert run.loop_kind() == "device"
    adam = validate(compose({"content": str(images_dir / "tubingen.jpg")}, ["optimizer=adam"]))
    assert adam.loop_kind() == "host"  # the device loop is nstjax's L-BFGS
