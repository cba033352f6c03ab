"""Batched sweeps: runs that differ only in their images, loss weights or starting image, optimised together.

Runs that share the output shape, layers, pooling and statistic (and so differ in images, ratio, α, β, TV,
layer weights, init or seed) stack their images into one (B, H, W, 3) batch and their targets along the same
axis: the network runs once per round on the batch, each run keeps its own L-BFGS state and line search, and
every round evaluates each run's next trial point. One compiled program serves every pair of a benchmark whose
contents share a shape (``nstjax-compare``'s ``crop``), and larger matrix products use the CPU better than B
separate passes (docs/performance.md); results equal those of the runs made one after another, up to float32
summation order.
"""

from __future__ import annotations

import functools
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp

from nstjax.io.images import ImageError
from nstjax.io.logging import RunLogger
from nstjax.model import vgg
from nstjax.objective import compiled, losses
from nstjax.optim.lbfgs import LBFGS, LbfgsState, Search
from nstjax.run import resources, sharding
from nstjax.run.config import RunConfig
from nstjax.run.runner import Problem, RunError, finish_image, finish_run, load_inputs, output_shape, prepare

# What a batch's runs may differ in: the images (their targets are data: the style is resized to the content's
# shape, so every statistic's summary has one shape), the objective's weights, the starting image, and
# bookkeeping. Everything else must be equal, and the contents' shapes at image_size too (``batch_key``).
PER_RUN = (
    "content",
    "styles",
    "ratio",
    "ratio_size",
    "content_weight",
    "style_weight_override",
    "style_layer_weights",
    "tv_weight",
    "init",
    "seed",
    "steps",
    "save_every",
    "progress",
    "logger",
)


def batchable(run: RunConfig) -> bool:
    """Whether a run can share a batch with others at all."""
    # Lockstep is built on nstjax's L-BFGS; coarse-to-fine, checkpoints and an objective that draws new random
    # numbers at each run's own iterations (swd's directions; remd's, cx's and self_similarity's positions) and
    # statistics that say they do not batch (w2) run one by one.
    return not (
        run.optimizer.get("name") != "lbfgs"
        or run.scales
        or run.resume
        or run.checkpoint_every
        or not compiled.batches(run.spec)
        or run.shard == "spatial"
        or run.tile
    )


def batch_key(run: RunConfig) -> str | None:
    """Runs with the same key can share a batch; None for runs that cannot be batched at all."""
    if not batchable(run):
        return None
    blank = {f: None for f in PER_RUN}  # the per-run fields blanked, only to key the group
    key = asdict(replace(run, **blank))  # type: ignore[arg-type]
    try:
        key["shape"] = output_shape(run)
    except ImageError:  # an image that cannot be read runs alone, and fails there with its own one-line error
        return None
    return json.dumps(key, sort_keys=True, default=str)


def group(runs: Sequence[RunConfig]) -> list[list[int]]:
    """Indices of ``runs`` in batches (in first-seen order); unbatchable runs come alone."""
    groups: dict[str, list[int]] = {}
    alone: list[list[int]] = []
    for i, run in enumerate(runs):
        key = batch_key(run)
        if key is None:
            alone.append([i])
        else:
            groups.setdefault(key, []).append(i)
    return list(groups.values()) + alone


@functools.cache
def value_and_grad_fn(spec: compiled.Spec) -> Callable:
    """jit((data, images) -> (totals (B,), terms {name: (B,)}, gradients (B, H, W, 3))).

    ``data`` holds one params; its targets, layer weights and loss weights have a leading batch axis. The
    network runs on the batch; the loss is vmapped over the runs' targets and weights.
    """

    def loss(data: compiled.Data, images: jax.Array) -> tuple[jax.Array, tuple[jax.Array, dict[str, jax.Array]]]:
        feats = vgg.features(
            data.params, images, spec.layers, spec.pooling, compiled.winograd_layers(spec, images.shape)
        )

        def one(
            f: losses.Features, image: jax.Array, t: compiled.Targets, weights: losses.Weights
        ) -> tuple[jax.Array, dict[str, jax.Array]]:
            return losses.total_loss(
                f,
                image,
                t.content,
                t.style,
                t.layer_weights,
                weights,
                t.regions,
                spec.style_loss,
                spec.convention,
                content=spec.content_loss,
            )

        totals, terms = jax.vmap(one)(feats, images, data.targets, data.weights)
        return jnp.sum(totals), (totals, terms)  # runs are independent: ∂Σ/∂x_b is run b's gradient

    vg = jax.value_and_grad(loss, argnums=1, has_aux=True)

    @jax.jit
    def fg(data: compiled.Data, images: jax.Array) -> tuple[jax.Array, dict[str, jax.Array], jax.Array]:
        (_, (totals, terms)), grads = vg(data, images)
        return totals, terms, grads

    return fg


def stack_data(problems: Sequence[Problem]) -> compiled.Data:
    """One Data for a batch: the first run's params, every run's targets and weights along axis 0."""

    def stack(*xs: jax.Array | float) -> jax.Array:
        return jnp.stack([jnp.asarray(x, jnp.float32) for x in xs])

    targets = jax.tree.map(stack, *[p.data.targets for p in problems])
    weights = jax.tree.map(stack, *[p.data.weights for p in problems])
    return compiled.Data(problems[0].data.params, targets, weights)


def lockstep(
    optimizers: Sequence[LBFGS],
    x0: Sequence[jax.Array],
    steps: Sequence[int],
    fg: Callable,
    on_step: Callable[[int, int, LbfgsState], None],
) -> tuple[list[LbfgsState | None], list[Exception | None]]:
    """Runs each optimiser for its number of steps, evaluating all runs' pending trial points in one call
    of ``fg(images) -> (totals, terms, grads)`` per round. A run that has finished (or failed) repeats its
    last point until the others finish, so the batch keeps its shape (one compiled program).

    ``on_step(run, step, state)`` is called after each accepted step; an exception it raises ends that run.
    Returns each run's final state (None if it failed before one) and its exception, if any.
    """
    n = len(optimizers)
    finals: list[LbfgsState | None] = [None] * n
    errors: list[Exception | None] = [None] * n

    def run(i: int) -> Search[LbfgsState]:
        opt = optimizers[i]
        state = yield from opt.init_search(x0[i])
        finals[i] = state
        for step in range(1, steps[i] + 1):
            if opt.converged:
                break
            state = yield from opt.step_search(state)
            on_step(i, step, state)
            finals[i] = state
        return state

    searches = [run(i) for i in range(n)]
    pending = {i: next(s) for i, s in enumerate(searches)}  # every run starts by evaluating x0
    last = dict(pending)
    while pending:
        points = jnp.stack([pending.get(i, last[i]) for i in range(n)])
        totals, terms, grads = fg(points)
        for i in list(pending):
            last[i] = pending[i]
            try:
                pending[i] = searches[i].send((totals[i], {k: v[i] for k, v in terms.items()}, grads[i]))
            except StopIteration:
                del pending[i]
            except Exception as exc:  # noqa: BLE001 -- one run's failure must not end the others
                errors[i] = exc
                del pending[i]
    return finals, errors


def stylize_batch(
    runs: Sequence[RunConfig],
    params: dict,
    out_dirs: Sequence[str | Path],
    config_records: Sequence[dict | None] | None = None,
    wandb: Sequence[dict | None] | None = None,
) -> list[dict[str, Any] | Exception]:
    """Runs that share a ``batch_key``, optimised as one batch; writes each run's outputs as ``stylize``
    does (final.png, summary.json, metrics.jsonl). Returns each run's summary, or the exception that
    ended it (a non-finite loss ends only that run)."""
    keys = {batch_key(r) for r in runs}
    if len(keys) != 1 or None in keys:
        raise ValueError("stylize_batch needs L-BFGS runs that differ only in " + ", ".join(PER_RUN))
    n = len(runs)
    records = list(config_records or [None] * n)
    problems: list[Problem] = []
    by_images: dict[tuple, Problem] = {}  # a pair's images are read and its targets computed once
    for run in runs:
        pair = (run.content, run.styles)
        if pair in by_images:
            first = by_images[pair]
            problems.append(prepare(run, params, first.inputs, first.data.targets))
        else:
            problems.append(by_images.setdefault(pair, prepare(run, params, load_inputs(run))))
    spec = problems[0].spec
    shape = problems[0].x0.shape
    resources.check_memory(shape, runs[0], batch=n)
    out_dirs = [Path(d) for d in out_dirs]
    loggers = [RunLogger(d, records[i] or asdict(runs[i]), (wandb or [None] * n)[i]) for i, d in enumerate(out_dirs)]

    data = stack_data(problems)
    fg = value_and_grad_fn(spec)
    mesh = sharding.batch_mesh(n)
    if mesh is None:
        place, devices = (lambda images: images), sharding.describe(jax.local_devices()[:1])
    else:  # the runs split over the local devices; the weights and targets copied to each
        data = sharding.replicate(data, mesh)
        place, devices = (lambda images: sharding.split(images, mesh, "batch")), sharding.describe(mesh.devices.flat)
    t0 = time.perf_counter()
    jax.block_until_ready(fg(data, place(jnp.stack([p.x0 for p in problems]))))
    seconds_compile = time.perf_counter() - t0

    opts = [
        LBFGS(
            None,
            history=int(r.optimizer.get("history", 100)),
            max_evals_per_step=int(r.optimizer.get("max_evals_per_step", 25)),
            lr=float(r.optimizer.get("lr", 1.0)),
        )
        for r in runs
    ]
    good_terms: list[dict] = [{} for _ in runs]
    steps_done = [0] * n

    def on_step(i: int, step: int, state: LbfgsState) -> None:
        loss = float(state.loss)
        terms = {k: float(v) for k, v in opts[i].terms.items()}
        if not (math.isfinite(loss) and all(map(math.isfinite, terms.values()))):
            raise RunError(
                f"the loss became non-finite at step {step} ({loss}); kept the image of step {step - 1} as last.png"
            )
        good_terms[i], steps_done[i] = terms, step
        loggers[i].log_step(
            step, {"total": loss, **terms, "evaluations": int(state.evaluations), "seconds": time.perf_counter() - t0}
        )
        if runs[i].save_every and step % runs[i].save_every == 0:
            loggers[i].log_image(step, finish_image(runs[i], state.x, problems[i].inputs))

    t0 = time.perf_counter()  # on_step reads it
    finals, errors = lockstep(
        opts, [p.x0 for p in problems], [r.steps for r in runs], lambda images: fg(data, place(images)), on_step
    )
    seconds = time.perf_counter() - t0
    results: list[dict[str, Any] | Exception] = []
    for i in range(n):
        if finals[i] is None:
            results.append(errors[i] or RunError("the run failed before its first step"))
            continue
        if not good_terms[i]:
            good_terms[i] = {k: float(v) for k, v in opts[i].terms.items()}
        status = "done" if errors[i] is None else "non-finite"
        # Time is shared: each run of the batch is charged the whole batch's wall time.
        summary = finish_run(
            runs[i],
            problems[i],
            finals[i],
            good_terms[i],
            status,
            steps_done[i],
            seconds_compile,
            seconds,
            bool(opts[i].converged),
            loggers[i],
            Path(out_dirs[i]),
            records[i],
            batch_size=n,
            devices=devices,
        )
        error = errors[i]
        results.append(summary if error is None else error)
    return results


def run_many(
    runs: Sequence[RunConfig],
    params: dict,
    out_dirs: Sequence[str | Path],
    config_records: Sequence[dict | None] | None = None,
    wandb: Sequence[dict | None] | None = None,
) -> list[dict[str, Any] | Exception]:
    """Runs that share a ``batch_key`` as one batch (``stylize_batch``), or a single run of any kind alone
    (``runner.run``). Returns each run's summary, or the RunError that ended it (written as ``stylize`` does)."""
    from nstjax.run.runner import run as run_one

    records, options = list(config_records or [None] * len(runs)), list(wandb or [None] * len(runs))
    if len(runs) > 1:
        return stylize_batch(runs, params, out_dirs, records, options)
    try:
        return [run_one(runs[0], params, out_dirs[0], records[0], options[0])]
    except RunError as exc:
        return [exc]
