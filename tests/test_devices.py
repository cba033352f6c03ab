"""Several devices, forced on the CPU (host devices, in subprocesses): a batched sweep and a spatially sharded
run each use all four, a joblib sweep both of two (each of its jobs compiles its own programs for its device), and
each matches the single-device results."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.slow  # over ~10 s each: `pytest -m 'not slow'` while working; CI runs all


def devices(count: int) -> dict:
    return {"XLA_FLAGS": (os.environ.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={count}").strip()}


FOUR = devices(4)


def nstjax(*args, cwd, env=None):
    env = {**os.environ, "NSTJAX_COMPILATION_CACHE": "0", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "nstjax.entry.stylize", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def pair(images_dir):
    # Shallow layers: what is tested is where the work runs and that it matches one device, not the objective;
    # every process here compiles its own programs (the compilation cache is off). A sweep's jobs need only
    # the first layer; a spatial split needs poolings to cross (SPATIAL).
    return [
        f"content={images_dir / 'tubingen.jpg'}",
        f"style={images_dir / 'starry_night.jpg'}",
        "progress=false",
        "style_layers=[relu1_1]",
        "content_layers=[relu1_1]",
    ]


SPATIAL = ["style_layers=upto3", "content_layers=[relu3_1]"]


def summaries(sweep_dir, count):
    return [json.loads((sweep_dir / str(i) / "summary.json").read_text()) for i in range(count)]


def image(path):
    return np.asarray(Image.open(path), dtype=int)


# The batched sweep splits one batch of four over four devices; the joblib sweep's jobs take a device each by
# job number, and every job compiles its programs for its own device: two jobs on two devices show the round
# robin at half the compilations of four.
RATIOS = {"nstjax_batched": ("1e-4", "1e-3", "1e-2", "1e-1"), "joblib": ("1e-4", "1e-2")}


def one_device(out_dir, pair, launcher, params):
    """What the sweep gives on one device, made in this process (its compiled programs are the session's):
    the jobs as one batch (nstjax_batched) or one by one (joblib). Returns summaries and directories."""
    from helpers import compose_cfg, run_job

    from nstjax.run.batch import stylize_batch
    from nstjax.run.config import validate

    ratios = RATIOS[launcher]
    dirs = [out_dir / str(i) for i in range(len(ratios))]
    overrides = [*pair, "image_size=64", "steps=3"]
    if launcher == "nstjax_batched":
        runs = [validate(compose_cfg(*overrides, f"ratio={r}")) for r in ratios]
        return stylize_batch(runs, params, dirs), dirs
    return [run_job(d, *overrides, f"ratio={r}") for d, r in zip(dirs, ratios, strict=True)], dirs


@pytest.mark.parametrize("launcher", ["nstjax_batched", "joblib"])
def test_a_sweep_uses_every_device_and_matches_one_device(tmp_path, pair, launcher, params):
    ratios = RATIOS[launcher]
    n = len(ratios)
    args = ["-m", *pair, f"ratio={','.join(ratios)}", "image_size=64", "steps=3", f"hydra/launcher={launcher}"]
    if launcher == "joblib":
        args.append("hydra.launcher.n_jobs=2")
    many = tmp_path / "many"
    r = nstjax(*args, f"hydra.sweep.dir={many}", cwd=tmp_path, env=devices(n))
    assert r.returncode == 0, r.stderr[-2000:]
    s1, one = one_device(tmp_path / "one", pair, launcher, params)
    sn = summaries(many, n)
    assert [s["config"]["ratio"] for s in sn] == [float(r) for r in ratios]
    assert all(s["devices"] == ["cpu:0"] for s in s1)
    used = [d for s in sn for d in s["devices"]]
    assert sorted(set(used)) == [f"cpu:{i}" for i in range(n)], used
    if launcher == "joblib":
        assert [s["devices"] for s in sn] == [[f"cpu:{i}"] for i in range(n)]  # round robin by job number
    for a, b, i in zip(s1, sn, range(n), strict=True):
        # Float tolerance: per-device matmuls block and sum differently, and L-BFGS carries it on.
        assert a["steps"] == b["steps"] == 3
        assert b["loss"]["total"] == pytest.approx(a["loss"]["total"], rel=2e-3), i
        assert np.abs(image(one[i] / "final.png") - image(many / str(i) / "final.png")).max() <= 2


def test_spatial_sharding_splits_rows_over_four_devices_and_matches_one_device(tmp_path, pair, params):
    from helpers import run_job

    args = [*pair[:3], *SPATIAL, "image_size=176", "steps=3", "shard=spatial", "conv=direct"]
    r = nstjax(*args, f"hydra.run.dir={tmp_path / 'four'}", cwd=tmp_path, env=FOUR)
    assert r.returncode == 0, r.stderr[-2000:]
    runs = {
        "four": json.loads((tmp_path / "four" / "summary.json").read_text()),
        "one": run_job(tmp_path / "one", *args),
    }  # one device: this process
    assert runs["four"]["devices"] == ["cpu:0", "cpu:1", "cpu:2", "cpu:3"] and runs["one"]["devices"] == ["cpu:0"]
    assert runs["four"]["loss"]["total"] == pytest.approx(runs["one"]["loss"]["total"], rel=1e-4)
    assert np.abs(image(tmp_path / "one" / "final.png") - image(tmp_path / "four" / "final.png")).max() <= 2


def test_each_device_holds_its_share(tmp_path):
    """The compiled programs' own accounting of each device's temporaries: a batch of four runs split over
    four devices holds 0.31× the single-device program's per device; one image's rows 0.49× (measured at
    256 px: some partitioned operations keep whole-image buffers, so the split saves half, not 3/4)."""
    code = r"""
import json, jax, jax.numpy as jnp, numpy as np
from nstjax.io import weights
from nstjax.objective import compiled
from nstjax.objective.losses import Weights
from nstjax.run import batch, sharding

params = weights.load_params()
spec = compiled.Spec(conv="direct")
rng = np.random.default_rng(0)
content, style = (rng.integers(0, 255, (256, 256, 3)).astype(np.uint8) for _ in range(2))
t = compiled.make_targets(params, spec, content, [style])
w = Weights(jnp.float32(1.0), jnp.float32(1e3), jnp.float32(0.0))
out = {}
data = compiled.Data(params, t, w)
x = jnp.asarray(content, jnp.float32)
fg = compiled.value_and_grad_fn(spec)
out["one"] = fg.lower(data, x).compile().memory_analysis().temp_size_in_bytes
mesh = sharding.rows_mesh(256)
out["rows"] = (fg.lower(sharding.replicate(data, mesh), sharding.split(x, mesh, "rows"))
               .compile().memory_analysis().temp_size_in_bytes)
bdata = compiled.Data(params, jax.tree.map(lambda v: jnp.stack([v] * 4), t), Weights(*(jnp.stack([v] * 4) for v in w)))
bfg = batch.value_and_grad_fn(spec)
xs = jnp.stack([x] * 4)
out["batch_one"] = bfg.lower(bdata, xs).compile().memory_analysis().temp_size_in_bytes
bm = sharding.batch_mesh(4)
out["batch_four"] = (bfg.lower(sharding.replicate(bdata, bm), sharding.split(xs, bm, "batch"))
                     .compile().memory_analysis().temp_size_in_bytes)
print(json.dumps(out))
"""
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **FOUR}, timeout=600
    )
    assert r.returncode == 0, r.stderr[-3000:]
    m = json.loads(r.stdout.strip().splitlines()[-1])
    assert m["rows"] < 0.6 * m["one"], m
    assert m["batch_four"] < 0.4 * m["batch_one"], m
