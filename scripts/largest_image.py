"""The largest square image a memory size holds, from the compiled programs' own accounting.

XLA's ``memory_analysis()`` of the loss+gradient program (arguments, outputs, temporaries per device) at two
sizes gives bytes = fixed + per-pixel·pixels; L-BFGS adds 2·history image-sized buffers plus a few vectors
(they live where the image lives: split over the devices with ``shard=spatial``). One device and four
(``shard=spatial``, forced host devices: XLA's SPMD partitioning is the same program on GPUs), with
``conv=direct`` (the GPU path). The CPU's RAM line uses ``nstjax.run.resources``' estimate, calibrated on peak RSS.

    python scripts/largest_image.py [--history 100]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys

PROBE = r"""
import json, sys, jax, jax.numpy as jnp, numpy as np
from nstjax.io import weights
from nstjax.objective import compiled
from nstjax.objective.losses import Weights
from nstjax.run import sharding
params = weights.load_params()
spec = compiled.Spec(conv="direct")
out = {}
for size in (256, 512):
    rng = np.random.default_rng(0)
    content, style = (rng.integers(0, 255, (size, size, 3)).astype(np.uint8) for _ in range(2))
    data = compiled.Data(params, compiled.make_targets(params, spec, content, [style]), Weights(1.0, 1e3, 0.0))
    x = jnp.asarray(content, jnp.float32)
    mesh = sharding.rows_mesh(size)
    if mesh is not None:
        data, x = sharding.replicate(data, mesh), sharding.split(x, mesh, "rows")
    m = compiled.value_and_grad_fn(spec).lower(data, x).compile().memory_analysis()
    out[size] = m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes - m.alias_size_in_bytes
print(json.dumps(out))
"""


def measure(devices: int) -> dict[int, int]:
    env = {**os.environ, "NSTJAX_TUNE": "0"}
    if devices > 1:
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={devices}").strip()
    r = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=1200)
    if r.returncode != 0:
        raise SystemExit(r.stderr[-2000:])
    return {int(k): v for k, v in json.loads(r.stdout.strip().splitlines()[-1]).items()}


def largest(fixed: float, per_pixel: float, budget: float) -> int:
    """The largest side s with fixed + per_pixel·s² ≤ budget, rounded down to a multiple of 32."""
    return int(math.sqrt(max(budget - fixed, 0) / per_pixel)) // 32 * 32


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--history", type=int, default=100)
    args = parser.parse_args()
    lbfgs_per_pixel = (2 * args.history + 4) * 3 * 4  # s and y pairs, x, gradient, direction, trial point
    rows = []
    for devices in (1, 4):
        m = measure(devices)
        per_pixel = (m[512] - m[256]) / (512**2 - 256**2)
        fixed = m[256] - per_pixel * 256**2
        # Per device: the program's share, and L-BFGS's buffers split with the image's rows.
        per_device_pixel = per_pixel + lbfgs_per_pixel / devices
        for gb in (80,):
            rows.append(
                {
                    "devices": devices,
                    "memory_gb": gb,
                    "program_bytes_per_pixel": per_pixel,
                    "fixed_bytes": fixed,
                    "largest_side": largest(fixed, per_device_pixel, gb * 1e9),
                }
            )
    from nstjax.run import resources

    cpu_per_pixel = resources.BYTES_PER_PIXEL + 2 * args.history * 3 * 4
    cpu_side = largest(resources.FIXED_BYTES, cpu_per_pixel, 24e9)
    rows.append({"devices": "CPU RAM", "memory_gb": 24, "largest_side": cpu_side})
    print(json.dumps({"history": args.history, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
