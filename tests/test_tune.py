"""Per-machine tuning: every algorithm the tuner may choose computes the direct convolution; plans are
measured once, cached per machine, and reused."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nstjax import machine
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
    t = tune.seconds("direct", (24, 32, 64, 64))
    assert 0 < t < 5


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


def test_xla_flags_are_timed_in_fresh_processes_and_the_fastest_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("NSTJAX_TUNE_FILE", str(tmp_path / "tune.json"))
    result = tune.tune_xla(size=64, rounds=1, evals=2, candidates={k: tune.XLA_CANDIDATES[k] for k in ("xla", "no-ynn")})
    assert set(result["xla_seconds"]) == {"xla", "no-ynn"} and all(0 < t < 10 for t in result["xla_seconds"].values())
    best = min(result["xla_seconds"], key=result["xla_seconds"].get)
    assert machine.xla_cpu_flags() == tune.XLA_CANDIDATES[best]
