"""Per-machine tuning, like cuDNN's benchmark mode: which convolution algorithm for each layer shape, and
which XLA:CPU flags, measured on this machine once and cached (``tune.json``, see ``nstjax.machine``).

* Convolutions: ``conv=auto`` times one forward+backward (input gradient) pass of each 3×3 layer shape
  of the network under each algorithm in ``ALGORITHMS`` and keeps the fastest (Winograd only when it
  wins by ``MARGIN``: it compiles longer). Shapes are measured the first time a run needs them (a few
  seconds per new image size, said on stderr) and reused by every later run.
* XLA flags: ``nstjax-tune`` times the whole objective in one subprocess per candidate (they must be set
  before JAX starts), alternating, and keeps the fastest; ``import nstjax`` applies it.

``NSTJAX_TUNE=0`` falls back to the fixed size rule of ``nstjax.model.winograd.plan`` (the tests use it, so that
they do not depend on timings).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from nstjax import machine
from nstjax.model.layers import BLOCKS

MARGIN = 0.93  # Winograd must take at most 93% of the direct convolution's time to be chosen
REPEATS = 3
XLA_CANDIDATES = {
    "xla": "",  # XLA:CPU's defaults (YNNPACK fusions for dots and convolutions)
    "no-ynn": "--xla_cpu_experimental_ynn_fusion_type=",  # XLA's own kernels (best on a Zen 4)
    "ynn-dot": "--xla_cpu_experimental_ynn_fusion_type=+dot",  # helped on a Zen 3 (issue 12)
}


class Algorithm(NamedTuple):
    prepare: Callable  # kernel (3, 3, C, K) -> what ``conv`` reads (done once per run, not timed)
    conv: Callable  # (x NHWC, prepared) -> y NHWC


def _direct() -> Algorithm:
    """y = x ⋆ g: XLA's convolution (Eigen/oneDNN on CPUs, cuDNN on GPUs)."""
    from nstjax.model.vgg import conv_direct

    return Algorithm(lambda k: k, conv_direct)


def _winograd() -> Algorithm:
    """y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A per 6×6 tile: Winograd F(4×4,3×3) (Lavin & Gray, CVPR 2016), 4× fewer
    multiplications, with its own input-gradient VJP (``nstjax.model.winograd``)."""
    from nstjax.model.winograd import conv_winograd, transform_kernels

    return Algorithm(transform_kernels, lambda x, t: conv_winograd(x, t["winograd"], t["winograd_t"]))


ALGORITHMS: dict[str, Callable[[], Algorithm]] = {"direct": _direct, "winograd": _winograd}


def enabled() -> bool:
    return os.environ.get("NSTJAX_TUNE", "1") != "0" and jax.default_backend() == "cpu"


def seconds(algorithm: str, shape: tuple[int, int, int, int]) -> float:
    """Median seconds of one forward + input-gradient pass of a 3×3 convolution, input (h, w, c_in) →
    c_out channels (the kernel transform, done once per run, is outside the timing)."""
    h, w, cin, cout = shape
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(1, h, w, cin)), jnp.float32)
    kernel = jnp.asarray(rng.normal(size=(3, 3, cin, cout)) * 0.05, jnp.float32)
    cot = jnp.asarray(rng.normal(size=(1, h, w, cout)), jnp.float32)
    algo = ALGORITHMS[algorithm]()
    prepared = algo.prepare(kernel)
    # Everything an argument: closed-over arrays would be constants, and XLA would fold the pass away.
    fg = jax.jit(jax.value_and_grad(lambda z, k, c: jnp.vdot(algo.conv(z, k), c)))
    jax.block_until_ready(fg(x, prepared, cot))
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        jax.block_until_ready(fg(x, prepared, cot))
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def layer_shapes(image_shape: tuple[int, ...]) -> dict[str, tuple[int, int, int, int]]:
    """Each convolution's (h, w, c_in, c_out) for an input of this (…, H, W, 3) shape (floor pooling)."""
    h, w = image_shape[-3], image_shape[-2]
    shapes, cin = {}, 3
    for b, (cout, count) in enumerate(BLOCKS, 1):
        for i in range(1, count + 1):
            shapes[f"conv{b}_{i}"] = (h, w, cin, cout)
            cin = cout
        h, w = h // 2, w // 2
    return shapes


def _shape_key(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def _store(update: Callable[[dict], None]) -> None:
    """Read-modify-write of this machine's tune.json entry, under a lock (parallel jobs share it)."""
    from filelock import FileLock

    from nstjax.io.atomic import write_json

    path = machine.tune_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        try:
            everything = json.loads(path.read_text())
        except (OSError, ValueError):
            everything = {}
        entry = everything.setdefault(machine.key(), {})
        update(entry)
        write_json(path, everything)


_plans: dict[tuple[int, int], frozenset[str]] = {}


def conv_plan(image_shape: tuple[int, ...], verbose: bool = True) -> frozenset[str]:
    """The layers to run as Winograd at this image size: measured per layer shape (once per machine)."""
    from jax._src.core import trace_state_clean

    from nstjax.model.winograd import MIN_IMAGE, plan

    hw = (image_shape[-3], image_shape[-2])
    if max(hw) < MIN_IMAGE:
        return frozenset()  # small images: Winograd's longer compile costs more than it saves (not timed here)
    if hw in _plans:
        return _plans[hw]
    if not trace_state_clean():
        return plan(image_shape)  # never time inside a trace; runs plan before tracing (prepare_params)
    measured = machine.tuned().get("conv", {})
    shapes = {n: s for n, s in layer_shapes(image_shape).items() if s[2] >= 64}  # conv1_1 (3 inputs) stays direct
    missing = sorted({_shape_key(s): s for s in shapes.values() if _shape_key(s) not in measured}.values())
    if missing:
        if verbose:
            print(
                f"nstjax: tuning convolutions for {hw[1]}×{hw[0]} on this machine ({len(missing)} layer shapes; "
                "once, cached in tune.json)",
                file=sys.stderr,
                flush=True,
            )
        new = {_shape_key(s): {a: seconds(a, s) for a in ALGORITHMS} for s in missing}
        _store(lambda entry: entry.setdefault("conv", {}).update(new))
        measured = {**measured, **new}
    chosen = frozenset(
        n for n, s in shapes.items() if measured[_shape_key(s)]["winograd"] < MARGIN * measured[_shape_key(s)]["direct"]
    )
    _plans[hw] = chosen
    return chosen


_XLA_PROBE = r"""
import json, sys, time
import jax, jax.numpy as jnp, numpy as np
from nstjax.io import weights
from nstjax.objective import compiled
from nstjax.objective.losses import Weights
size = int(sys.argv[1])
params = weights.load_params()
rng = np.random.default_rng(0)
content, style = (rng.integers(0, 255, (size * 3 // 4, size, 3)).astype(np.uint8) for _ in range(2))
spec = compiled.Spec()
t = compiled.make_targets(params, spec, content, [style])
x = jnp.asarray(content, jnp.float32)
data = compiled.Data(compiled.prepare_params(spec, params, x.shape), t, Weights(1.0, 1e3, 0.0))
fg = compiled.value_and_grad_fn(spec)
jax.block_until_ready(fg(data, x))
times = []
for _ in range(int(sys.argv[2])):
    t0 = time.perf_counter(); jax.block_until_ready(fg(data, x)); times.append(time.perf_counter() - t0)
print(json.dumps(min(times)))
"""


def xla_seconds(flags: str, size: int, evals: int) -> float:
    """Seconds per evaluation of the objective at ``size`` px in a fresh process started with ``flags``."""
    env = {
        **os.environ,
        "XLA_FLAGS": flags,
        "NSTJAX_XLA_FLAGS": "0",
        "NSTJAX_TUNE": "0",
        "NSTJAX_COMPILATION_CACHE": "0",
    }
    if not flags:
        env.pop("XLA_FLAGS")
    r = subprocess.run(
        [sys.executable, "-c", _XLA_PROBE, str(size), str(evals)], env=env, capture_output=True, text=True, timeout=900
    )
    if r.returncode != 0:
        raise RuntimeError(f"timing XLA flags {flags!r} failed: {r.stderr.strip().splitlines()[-1:]}")
    return float(r.stdout.strip().splitlines()[-1])


def tune_xla(size: int = 256, rounds: int = 2, evals: int = 3, candidates: dict[str, str] | None = None) -> dict:
    """Times each candidate (alternating, ``rounds`` times; the best of each) and stores the fastest."""
    candidates = candidates or XLA_CANDIDATES
    times: dict[str, float] = {name: float("inf") for name in candidates}
    for _ in range(rounds):
        for name, flags in candidates.items():
            times[name] = min(times[name], xla_seconds(flags, size, evals))
    best = min(times, key=lambda name: times[name])
    result = {"xla_flags": candidates[best], "xla_seconds": times, "xla_size": size}
    _store(lambda entry: entry.update(result))
    return result
