"""Loss per second of each `optimizer=` on the paper's pair: the measurement behind the default.

python scripts/compare_optimizers.py [--size 128] [--steps 20]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import jax  # noqa: E402

from nstjax.io.images import PAPER_IMAGES as IMAGES  # noqa: E402
from nstjax.objective import compiled  # noqa: E402
from nstjax.objective.normalize import params_for  # noqa: E402
from nstjax.optim.optimize import OPTIMIZERS, make_optimizer  # noqa: E402
from nstjax.run import config
from nstjax.run.experiments import compose  # noqa: E402
from nstjax.run.runner import prepare  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    print(f"| optimizer | loss after {args.steps} iterations | evaluations | seconds per iteration |")
    print("| --- | --- | --- | --- |")
    for name in OPTIMIZERS:
        run = config.validate(
            compose(
                {"content": IMAGES / "tubingen.jpg", "style": IMAGES / "starry_night.jpg", "image_size": args.size},
                [f"optimizer={name}"],
            )
        )
        problem = prepare(run, params_for("imagenet"))
        fg = compiled.value_and_grad_fn(problem.spec)
        jax.block_until_ready(fg(problem.data, problem.x0))
        opt = make_optimizer(run.optimizer, compiled.loss_fn(problem.spec), fg, problem.data)
        state = opt.step(opt.init(problem.x0))  # compiles the optimiser's own functions
        t0 = time.perf_counter()
        for _ in range(args.steps - 1):
            state = opt.step(state)
        jax.block_until_ready(state.x)
        seconds = (time.perf_counter() - t0) / (args.steps - 1)
        print(f"| `{name}` | {float(state.loss):.3e} | {int(state.evaluations)} | {seconds:.2f} |", flush=True)


if __name__ == "__main__":
    main()
