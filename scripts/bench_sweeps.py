"""`make bench` (second part): batched sweeps and coarse-to-fine, measured in this process.

Batched: B runs differing in ratio (the sweep users run most), L-BFGS for N steps each, one after another
(one compilation shared) against the same runs as one batch (``nstjax.run.batch``). Coarse-to-fine: the time
a ``scales`` run needs to reach the objective value that a single-scale run ends with, at the final size.
Writes bench/sweeps.json and bench/sweeps.md.

    python scripts/bench_sweeps.py [--size 256] [--batch 4] [--steps 10] [--scales 128 256] [--out bench]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
from nstjax.io.images import PAPER_IMAGES  # noqa: E402
from nstjax.io.weights import load_params  # noqa: E402
from nstjax.run import batch  # noqa: E402
from nstjax.run.config import validate  # noqa: E402
from nstjax.run.experiments import compose  # noqa: E402
from nstjax.run.runner import stylize, stylize_scales  # noqa: E402

RATIOS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1)


def run_config(size: int, steps: int, *overrides: str):
    return validate(
        compose(
            {
                "content": PAPER_IMAGES / "tubingen.jpg",
                "style": PAPER_IMAGES / "starry_night.jpg",
                "image_size": size,
                "steps": steps,
                "progress": "false",
            },
            list(overrides),
        )
    )


def bench_batch(params, size: int, n: int, steps: int, tmp: Path) -> dict:
    runs = [run_config(size, steps, f"ratio={r}") for r in RATIOS[:n]]
    stylize(replace(runs[0], steps=1), params, tmp / "warm")  # compile once, outside the timings
    t0 = time.perf_counter()
    one = [stylize(r, params, tmp / f"seq{i}") for i, r in enumerate(runs)]
    seq_s = time.perf_counter() - t0
    warm = batch.stylize_batch([replace(r, steps=1) for r in runs], params, [tmp / f"warmb{i}" for i in range(n)])
    t0 = time.perf_counter()
    together = batch.stylize_batch(runs, params, [tmp / f"bat{i}" for i in range(n)])
    bat_s = time.perf_counter() - t0
    rel = max(abs(b["loss"]["total"] / s["loss"]["total"] - 1) for b, s in zip(together, one, strict=True))
    return {
        "size": size,
        "runs": n,
        "steps": steps,
        "sequential_s": seq_s,
        "batched_s": bat_s,
        "speedup": seq_s / bat_s,
        "batched_compile_s": warm[0]["seconds_compile"],
        "evaluations_sequential": sum(s["evaluations"] for s in one),
        "evaluations_batched_max": max(b["evaluations"] for b in together),
        "max_loss_rel_diff": rel,
    }


def bench_scales(params, scales: list[int], steps: int, init: str, tmp: Path) -> dict:
    size = scales[-1]
    single = stylize(run_config(size, steps, f"init={init}"), params, tmp / "single")
    target = single["loss"]["total"]
    coarse = run_config(size, steps, f"init={init}", f"scales=[{','.join(map(str, scales))}]")
    summary = stylize_scales(coarse, params, tmp / "scales")
    earlier = sum(s["seconds_optimize"] for s in summary["scales"][:-1])
    rows = [json.loads(line) for line in (tmp / "scales" / "metrics.jsonl").read_text().splitlines()]
    reached = next((r for r in rows if r["total"] <= target), None)
    return {
        "scales": scales,
        "steps_per_scale": steps,
        "init": init,
        "single_s": single["seconds_optimize"],
        "single_loss": target,
        "coarse_stages_s": earlier,
        "fine_loss": summary["loss"]["total"],
        "time_to_single_loss_s": None if reached is None else earlier + reached["seconds"],
        "fine_steps_to_single_loss": None if reached is None else reached["step"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--scales", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--scale-steps", type=int, default=60)
    parser.add_argument("--inits", nargs="*", default=["content", "noise"])
    parser.add_argument("--skip-batch", action="store_true")
    parser.add_argument("--out", default="bench")
    args = parser.parse_args()
    params = load_params()
    with tempfile.TemporaryDirectory() as tmp:
        b = None if args.skip_batch else bench_batch(params, args.size, args.batch, args.steps, Path(tmp))
        print(json.dumps(b), file=sys.stderr)
        scales = [bench_scales(params, args.scales, args.scale_steps, init, Path(tmp) / init) for init in args.inits]
        print(json.dumps(scales), file=sys.stderr)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "sweeps.json").write_text(json.dumps({"batch": b, "scales": scales}, indent=2))
    md = (
        []
        if b is None
        else [
            f"Batched sweep: {b['runs']} ratios at {b['size']} px, {b['steps']} L-BFGS steps each: one after another "
            f"{b['sequential_s']:.1f} s, as one batch {b['batched_s']:.1f} s (**{b['speedup']:.2f}×** throughput; "
            f"final losses within {b['max_loss_rel_diff']:.1e} of the sequential runs).",
            "",
        ]
    )
    for s in scales:
        t = s["time_to_single_loss_s"]
        md.append(
            f"Coarse-to-fine {s['scales']} from {s['init']}, {s['steps_per_scale']} steps per scale: the "
            f"single-scale run ({s['steps_per_scale']} steps at {s['scales'][-1]} px) ends at "
            f"{s['single_loss']:.4g} "
            f"after {s['single_s']:.1f} s; coarse-to-fine reaches it after "
            + (
                f"**{t:.1f} s** ({s['coarse_stages_s']:.1f} s of coarse stages + {s['fine_steps_to_single_loss']} "
                "fine steps)"
                if t is not None
                else f"never within its {s['steps_per_scale']} fine steps (ends at {s['fine_loss']:.4g})"
            )
            + "."
        )
    (out / "sweeps.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
