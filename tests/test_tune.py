"""Per-machine tuning: every algorithm the tuner may choose computes the direct convolution; plans are
measured once, cached per machine, and reused."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nstjax import machine
from nstjax.model import winograd
from nstjax.model.vgg import conv_direct
from nstjax.objective import tune


@pytest.mark.parametrize("name", list(tune.ALGORITHMS))
def test_every_algorithm_matches_the_direct_convolution(name):
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(2, 20, 27, 64)), jnp.float32)
    kernel = jnp.asarray(rng.normal(size=(3, 3, 64, 32)) * 0.1, jnp.float32)
    cot = jnp.asarray(rng.normal(size=(2, 20, 27, 32)), jnp.float32)
    algo = tune.ALGORITHMS[name]()
    prepared = algo.prepare(kernel)
    y, ref = algo.conv(x, prepared), conv_direct(x, kernel)
    assert float(jnp.abs(y - ref).max() / jnp.abs(ref).max()) < 1e-4
    g = jax.grad(lambda z: jnp.vdot(algo.conv(z, prepared), cot))(x)
    g_ref = jax.grad(lambda z: jnp.vdot(conv_direct(z, kernel), cot))(x)
    assert float(jnp.abs(g - g_ref).max() / jnp.abs(g_ref).max()) < 1e-4


def test_timing_a_layer_shape_is_a_real_measurement():
    """The pass is timed to its end, not to its dispatch: a forward and input-gradient 3×3 convolution of
    32×32×256 → 256 is 2.4 GFLOP, at least 0.12 ms at 20 TFLOP/s (more than any CPU reaches; returning
    before it ends took 0.015-0.03 ms here). The upper bound catches only a hang."""
    h, w, cin, cout = shape = (32, 32, 256, 256)
    flops = 2 * (2 * h * w * 9 * cin * cout)
    t = tune.seconds("direct", shape)
    assert flops / 20e12 < t < 60, t


def test_plans_are_measured_once_cached_per_machine_and_reused(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NSTJAX_TUNE_FILE", str(tmp_path / "tune.json"))
    monkeypatch.setattr(tune, "_plans", {})
    timed = []

    def fake_seconds(algorithm, shape):  # Winograd twice as fast on maps of at most 64 px, slower above
        timed.append((algorithm, shape))
        return 1.0 if algorithm == "direct" else (0.5 if max(shape[:2]) <= 64 else 1.5)

    monkeypatch.setattr(tune, "seconds", fake_seconds)
    plan = tune.conv_plan((192, 256, 3))
    assert "tuning convolutions for 256×192" in capsys.readouterr().err
    shapes = {s for _, s in timed}
    assert len(timed) == 2 * len(shapes) and (96, 128, 128, 128) in shapes
    assert plan == frozenset(f"conv{b}_{i}" for b, n in ((3, 4), (4, 4), (5, 4)) for i in range(1, n + 1))
    entry = json.loads((tmp_path / "tune.json").read_text())[machine.key()]
    assert set(entry["conv"]) == {"x".join(map(str, s)) for s in shapes}
    # A second run (new process: the in-memory plans are gone) reads the cache and times nothing.
    monkeypatch.setattr(tune, "_plans", {})
    timed.clear()
    assert tune.conv_plan((192, 256, 3)) == plan and timed == [] and capsys.readouterr().err == ""
    # Another size measures only its new shapes.
    tune.conv_plan((192, 250, 3))
    assert timed and all(s not in shapes for _, s in timed)


def test_a_plan_measured_on_another_machine_is_not_used(tmp_path, monkeypatch):
    monkeypatch.setenv("NSTJAX_TUNE_FILE", str(tmp_path / "tune.json"))
    (tmp_path / "tune.json").write_text(json.dumps({"Some Other CPU | AVX2 | jax 0.0 | cpu": {"xla_flags": "--foo"}}))
    assert machine.tuned() == {} and machine.xla_cpu_flags() == machine.DEFAULT_XLA_CPU_FLAGS


@pytest.mark.slow
def test_xla_flags_are_timed_in_fresh_processes_and_the_fastest_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("NSTJAX_TUNE_FILE", str(tmp_path / "tune.json"))
    result = tune.tune_xla(
        size=64, rounds=1, evals=2, candidates={k: tune.XLA_CANDIDATES[k] for k in ("xla", "no-ynn")}
    )
    assert set(result["xla_seconds"]) == {"xla", "no-ynn"} and all(0 < t < 10 for t in result["xla_seconds"].values())
    best = min(result["xla_seconds"], key=result["xla_seconds"].get)
    assert machine.xla_cpu_flags() == tune.XLA_CANDIDATES[best]


def _import_nstjax(tmp_path, xla_flags=None, **env):
    """XLA_FLAGS and the device count of a fresh process after ``import nstjax``, with this machine's
    tune.json holding tuned flags that are visible to JAX (a device count) as well as the tuned one."""
    tuned = "--xla_cpu_experimental_ynn_fusion_type=+dot --xla_force_host_platform_device_count=3"
    (tmp_path / "tune.json").write_text(json.dumps({machine.key(): {"xla_flags": tuned}}))
    base = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "NSTJAX_XLA_FLAGS")}
    base.update(NSTJAX_TUNE_FILE=str(tmp_path / "tune.json"), **env)
    if xla_flags is not None:
        base["XLA_FLAGS"] = xla_flags
    code = "import os, nstjax, jax; print(os.environ.get('XLA_FLAGS')); print(jax.device_count())"
    r = subprocess.run([sys.executable, "-c", code], env=base, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    flags, count = r.stdout.strip().splitlines()[-2:]
    return tuned, flags, int(count)


def test_import_applies_the_tuned_xla_flags_before_jax_starts(tmp_path):
    tuned, flags, devices = _import_nstjax(tmp_path)
    assert flags == tuned and devices == 3


def test_import_leaves_a_users_xla_flags_alone(tmp_path):
    # The user chose the flag nstjax tunes: their XLA_FLAGS stay exactly as given.
    mine = "--xla_cpu_experimental_ynn_fusion_type="
    assert _import_nstjax(tmp_path, mine)[1:] == (mine, 1)
    # Other flags of theirs are kept, in front; the tuned ones are added after them.
    other = "--xla_cpu_enable_fast_math=false"
    tuned, flags, devices = _import_nstjax(tmp_path, other)
    assert flags == f"{other} {tuned}" and devices == 3
    # NSTJAX_XLA_FLAGS=0: nothing is applied.
    assert _import_nstjax(tmp_path, None, NSTJAX_XLA_FLAGS="0")[1:] == ("None", 1)


def test_tuned_convolution_plan_end_to_end(tmp_path, monkeypatch, capsys, images_dir, params):
    """conv=auto with tuning on (every other test runs with it off): a run at 192 px reads this machine's
    plan, measures the one layer shape it lacks, stores it, and runs Winograd exactly where the plan says,
    which is not where the fixed size rule would (conv1_2 and conv2_1)."""
    from helpers import compose_cfg, run_job

    from nstjax.objective import compiled
    from nstjax.run.config import validate
    from nstjax.run.runner import prepare

    monkeypatch.setenv("NSTJAX_TUNE", "1")
    monkeypatch.setenv("NSTJAX_TUNE_FILE", str(tmp_path / "tune.json"))
    monkeypatch.setattr(tune, "_plans", {})
    shape = (144, 192, 3)
    shapes = {name: s for name, s in tune.layer_shapes(shape).items() if s[2] >= 64}
    missing = shapes["conv5_1"]  # measured for real (a small map: cheap); unused by these layers
    timings = {
        "x".join(map(str, s)): {"direct": 1.0, "winograd": 0.5 if name == "conv2_1" else 2.0}
        for name, s in shapes.items()
        if s != missing
    }
    (tmp_path / "tune.json").write_text(json.dumps({machine.key(): {"conv": timings}}))
    # Shallow layers (the network up to relu2_1): the tuned path at 192 px without compiling all of VGG19.
    overrides = [
        f"content={images_dir / 'tubingen.jpg'}",
        f"style={images_dir / 'starry_night.jpg'}",
        "image_size=192",
        "content_layers=[relu2_1]",
        "style_layers=[relu1_1,relu2_1]",
        "progress=false",
    ]
    auto = run_job(tmp_path / "auto", *overrides, "steps=3", "conv=auto")
    assert "tuning convolutions for 192×144 on this machine (1 layer shapes" in capsys.readouterr().err
    stored = json.loads((tmp_path / "tune.json").read_text())[machine.key()]["conv"]
    assert set(stored) == {"x".join(map(str, s)) for s in shapes.values()}
    assert set(stored["x".join(map(str, missing))]) == {"direct", "winograd"}
    problem = prepare(validate(compose_cfg(*overrides, "conv=auto")), params)
    assert compiled.winograd_layers(problem.spec, shape) == {"conv2_1"}
    assert winograd.plan(shape) >= {"conv1_2", "conv2_1"}  # the fixed rule's choice, which tuning overrode
    assert [k for k, p in problem.data.params.items() if "winograd" in p] == ["conv2_1"]
    # The same optimisation as the direct convolution, to float32 summation order.
    direct = run_job(tmp_path / "direct", *overrides, "steps=3", "conv=direct")
    assert auto["steps"] == direct["steps"] == 3
    assert auto["loss"]["total"] == pytest.approx(direct["loss"]["total"], rel=1e-3)
