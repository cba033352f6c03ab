"""Seconds per evaluation (loss + gradient) of style_loss=remd and cx against gram, and of
content_loss=self_similarity against mse, side by side in one process: the objectives alternate round by
round, so a busy machine slows each alike. Prints a Markdown table: wall seconds (median and spread over
the rounds) and the process's CPU seconds (all its threads), which a machine shared with other jobs
disturbs less.

    python scripts/bench_remd_cx.py [--size 256] [--rounds 10]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import time

import jax

from nstjax.io import images
from nstjax.io.images import PAPER_IMAGES
from nstjax.io.weights import load_params
from nstjax.objective import compiled
from nstjax.run import config
from nstjax.run.experiments import compose
from nstjax.run.runner import Inputs, prepare

VARIANTS = {
    "gram": [],
    "remd": ["style_loss=remd"],
    "cx": ["style_loss=cx"],
    "gram + self_similarity": ["content_loss=self_similarity"],
}


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    content = images.resize_longest(images.load_image(PAPER_IMAGES / "tubingen.jpg"), args.size)
    style = images.resize(images.load_image(PAPER_IMAGES / "starry_night.jpg"), content.shape[:2])
    params = load_params()
    calls = {}
    for name, overrides in VARIANTS.items():
        run = config.validate(compose({"image_size": args.size}, overrides))
        problem = prepare(run, params, Inputs(content, [style]))
        fg = compiled.value_and_grad_fn(problem.spec)
        t0 = time.perf_counter()
        jax.block_until_ready(fg(problem.data, problem.x0))
        calls[name] = (fg, problem)
        print(f"{name}: compiled in {time.perf_counter() - t0:.1f} s", flush=True)
    seconds: dict[str, list[float]] = {name: [] for name in VARIANTS}
    cpu: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for _ in range(args.rounds):
        for name, (fg, problem) in calls.items():
            c0, t0 = cpu_seconds(), time.perf_counter()
            jax.block_until_ready(fg(problem.data, problem.x0))
            seconds[name].append(time.perf_counter() - t0)
            cpu[name].append(cpu_seconds() - c0)
    base, base_cpu = statistics.median(seconds["gram"]), statistics.median(cpu["gram"])
    print(
        f"\n{args.size} px, {cpu_name()}, {jax.device_count()} device(s), {args.rounds} alternating rounds, "
        f"load average {os.getloadavg()[0]:.1f}\n"
    )
    print("| objective | wall s / evaluation (median) | min … max | × gram | CPU s / evaluation (median) | × gram |")
    print("|---|---|---|---|---|---|")
    for name, ts in seconds.items():
        c = statistics.median(cpu[name])
        print(
            f"| {name} | {statistics.median(ts):.3f} | {min(ts):.3f} … {max(ts):.3f} | "
            f"{statistics.median(ts) / base:.2f} | {c:.2f} | {c / base_cpu:.2f} |"
        )


if __name__ == "__main__":
    main()
