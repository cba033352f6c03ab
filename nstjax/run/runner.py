"""One style-transfer run: inputs, targets, the optimisation loop, checkpoints and outputs."""

from __future__ import annotations

import contextlib
import functools
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, TypeAlias

import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

from nstjax.io import checkpoint, colour, images
from nstjax.io.logging import RunLogger, read_record
from nstjax.objective import compiled, losses, metrics, tiled
from nstjax.optim.optimize import make_optimizer, resample
from nstjax.run import resources, resume, sharding
from nstjax.run.config import RunConfig

Source: TypeAlias = "str | Path | np.ndarray"  # an image: a path, or an array given in code


class RunError(RuntimeError):
    """The run stopped (non-finite loss, interrupted); the message is one line for the user."""


class Interrupted(RunError):
    """Ctrl-C: the run stopped, keeping what it had saved; the message says how to continue when it can."""


@contextlib.contextmanager
def interrupts(run: RunConfig, out_dir: str | Path | None) -> Iterator[None]:
    """Ctrl-C anywhere in a single run (reading, compiling, between stages, the yardstick) as one Interrupted line
    that says how to continue only where ``resume=true`` would (``resume.point``). ``out_dir`` None: nothing is kept
    (the API's temporary folder)."""
    try:
        yield
    except (KeyboardInterrupt, Interrupted) as exc:
        if out_dir is None:
            raise Interrupted(
                "interrupted; nothing was kept (give out_dir to keep a checkpoint to resume from)"
            ) from None
        if isinstance(exc, Interrupted):  # from the step loop, which saved a checkpoint and says so
            raise
        try:
            where = resume.point(run, Path(out_dir))
        except checkpoint.CheckpointError:
            where = None
        if where is None:
            raise Interrupted("interrupted with no checkpoint to continue from; start it again") from None
        raise Interrupted(f"interrupted; continue from {where.describe(run)} with resume=true") from None


@dataclass
class Inputs:
    content: np.ndarray  # uint8 H×W×3, at the output size
    styles: list[np.ndarray]  # uint8, each at the output size × style_scale
    masks: list[np.ndarray] | None = None  # float32 in [0, 1] at the output size, one per style
    yardstick_style: np.ndarray | None = None  # the first style image as given (before colour matching)


@functools.lru_cache(maxsize=2)
def default_image(which: str) -> np.ndarray:
    """Images that need no download: scikit-image ships them. Decoded once (read-only: it is shared)."""
    import skimage.data

    image = {"content": skimage.data.astronaut, "style": skimage.data.immunohistochemistry}[which]()
    image.setflags(write=False)
    return image


def _shape_of(source: Source | None, which: str) -> tuple[int, int]:
    if isinstance(source, np.ndarray) or source:
        return images.image_shape(source, which)  # an array is checked here (an empty one), a file's header read
    return default_image(which).shape[:2]


def output_shape(run: RunConfig) -> tuple[int, int]:
    """The (height, width) a run optimises: its content's shape at ``image_size`` (a file's header read)."""
    return images.longest_side_shape(_shape_of(run.content, "content"), run.image_size)


def _decode(source: Source | None, which: str, fit: tuple[int, int]) -> np.ndarray:
    if isinstance(source, np.ndarray) or source:
        return images.read(source, fit, which)
    return default_image(which)


def load_inputs(run: RunConfig, content: Source | None = None, styles: Sequence[Source] | None = None) -> Inputs:
    """Reads and resizes the images; the memory estimate runs on their headers first, so a run too large
    for this machine fails before anything large is decoded or allocated.

    ``content``, ``styles``: arrays given instead of ``run.content`` / ``run.styles`` (the Python API).
    """
    content_source = run.content if content is None else content
    style_sources = run.styles if styles is None else styles
    h, w = images.longest_side_shape(_shape_of(content_source, "content"), run.image_size)
    size = (max(1, round(h * run.style_scale)), max(1, round(w * run.style_scale)))
    resources.check_memory((h, w), run, style_shape=size)
    if run.shard == "spatial":
        sharding.check_rows(h)
    content = images.resize(_decode(content_source, "content", (h, w)), (h, w))
    images.check_size(content, "the content image at this image_size")
    style_images, originals = [], []
    for path in style_sources:
        style = _decode(path, "style", size)
        # The paper resizes the style image to the content's size (style_scale = 1).
        style = images.resize(style, size)
        name = path if isinstance(path, str) else ""
        images.check_size(style, f"the style image {name} at this style_scale".replace("  ", " "))
        originals.append(style)
        if run.preserve_color == "histogram":
            style = colour.match_histogram(style, content)
        style_images.append(style)
    masks = None
    if run.style_masks:
        # A mask is read like any image; its luminance in [0, 1] weights where its style applies.
        masks = [
            images.resize(images.load_image(m, fit=(h, w)), (h, w)).mean(axis=-1).astype(np.float32) / 255.0
            for m in run.style_masks
        ]
    return Inputs(content, style_images, masks, originals[0])


def initial_image(run: RunConfig, inputs: Inputs) -> np.ndarray:
    if run.init == "content":
        return inputs.content.astype(np.float32)
    if run.init == "style":
        return images.resize(inputs.styles[0], inputs.content.shape[:2]).astype(np.float32)
    # White noise, as in the paper.
    return np.random.default_rng(run.seed).uniform(0, 255, inputs.content.shape).astype(np.float32)


def loss_weights(run: RunConfig, shape: tuple[int, int]) -> losses.Weights:
    """α (rescaled for the image's size by ``ratio_size``), β and the TV weight, as float32 data."""
    return losses.Weights(
        jnp.float32(run.content_weight_at(shape)), jnp.float32(run.style_weight), jnp.float32(run.tv_weight)
    )


@dataclass
class Problem:
    """A prepared run: the compiled objective, its data, and the starting image."""

    spec: compiled.Spec
    data: compiled.Data
    x0: jax.Array
    inputs: Inputs
    result: jax.Array | None = None  # the last good image in optimisation space, set by ``stylize``
    # Another objective over ``data`` (the video's, with its temporal term): (loss_fn, value_and_grad_fn) of spec.
    objective: tuple[Callable, Callable] | None = None


def prepare(
    run: RunConfig, params: dict, inputs: Inputs | None = None, shared_targets: compiled.Targets | None = None
) -> Problem:
    """``shared_targets``: another run's targets for the same images and layers (the runs of a batch),
    reused with this run's layer weights instead of computing them again."""
    inputs = inputs or load_inputs(run)
    spec = run.spec
    content_for_loss, styles = inputs.content, inputs.styles
    if run.preserve_color == "luminance":  # optimise the luminance alone; colours come back from the content
        content_for_loss = colour.luminance_image(inputs.content)
        styles = [colour.luminance_style(s, inputs.content) for s in inputs.styles]
    if shared_targets is not None:
        targets = shared_targets._replace(layer_weights=compiled.style_layer_weights(spec, run.style_layer_weights))
    elif run.tile:  # the targets too, tile by tile (nstjax.objective.tiled)
        targets = tiled.make_targets(
            params, spec, content_for_loss, styles, run.tile, list(run.style_blend), run.style_layer_weights
        )
    else:
        targets = compiled.make_targets(
            params, spec, content_for_loss, styles, list(run.style_blend), run.style_layer_weights, inputs.masks
        )
    x0 = initial_image(run, Inputs(content_for_loss, styles))
    params = compiled.prepare_params(
        spec, params, tiled.window_shape(x0.shape, run.tile, spec.layers, spec.pooling) if run.tile else x0.shape
    )
    key = iteration_key(run, 0) if compiled.stochastic(spec) else None
    return Problem(spec, compiled.Data(params, targets, loss_weights(run, x0.shape), key), jnp.asarray(x0), inputs)


def iteration_key(run: RunConfig, step: int) -> jax.Array:
    """The random numbers of iteration ``step`` (swd's directions): seeded, so runs and resumes reproduce."""
    return jax.random.key_data(jax.random.fold_in(jax.random.PRNGKey(run.seed), step))


def finish_image(run: RunConfig, x: jax.Array, inputs: Inputs) -> np.ndarray:
    image = images.to_uint8(x)
    if run.preserve_color == "luminance":
        image = colour.transfer_luminance(image, inputs.content)
    return image


def finish_run(
    run: RunConfig,
    problem: Problem,
    good: Any,
    terms: dict,
    status: str,
    steps: int,
    seconds_compile: float,
    seconds_optimize: float,
    converged: bool,
    logger: RunLogger,
    out_dir: Path,
    config_record: dict | None,
    **extra: Any,
) -> dict[str, Any]:
    """Writes final.png (last.png when the run failed), summary.json and the logger's records; returns the summary."""
    problem.result = good.x
    image = finish_image(run, good.x, problem.inputs)
    # The image first: the yardstick below compiles and runs its own network, which may fail or be killed.
    images.save_png(image, out_dir / ("final.png" if status == "done" else "last.png"))
    summary = {
        "status": status,
        "steps": steps,
        "evaluations": int(good.evaluations),
        "seconds_compile": seconds_compile,
        "seconds_optimize": seconds_optimize,
        "loss": {"total": float(good.loss), **{k: float(v) for k, v in terms.items()}},
        "image_size": list(problem.x0.shape[:2]),
        "converged_early": converged,
        "device": str(jax.devices()[0].device_kind),
        "loop": run.loop_kind(),
        "devices": sharding.devices_of(good.x) if isinstance(good.x, jax.Array) else None,
        # The fixed yardstick (nstjax.objective.metrics), against the content and the first style image; only for a
        # finished run (an interrupted one should exit at once, not compile the yardstick's network first).
        "metrics": metrics.score(
            image,
            problem.inputs.content,
            problem.inputs.yardstick_style if problem.inputs.yardstick_style is not None else problem.inputs.styles[0],
            tile=run.tile,
        )
        if status == "done" and resources.can_score(image.shape, run)
        else None,
        **extra,
        "config": config_record or asdict(run),
    }
    logger.finish(summary, image, failed=status != "done")
    return summary


def scale_stage(run: RunConfig, i: int) -> RunConfig:
    """The single-scale run of ``run.scales[i]``: its size and steps; tiled only where the image is larger than
    one tile (a smaller one is a single window, and tiling it would only pay the second pass)."""
    assert run.scales is not None
    size = run.scales[i]
    return replace(
        run,
        image_size=size,
        scales=None,
        scale_steps=None,
        steps=run.scale_steps[i] if run.scale_steps else run.steps,
        tile=run.tile if size > run.tile else 0,
    )


def _stage_record(folder: Path, stage: RunConfig) -> dict[str, Any]:
    """A finished earlier stage's line of ``summary["scales"]``, read back from its summary on resume (what of it
    is sound: a damaged summary leaves its size and steps, and ``read_record`` says it was dropped)."""
    recorded = read_record(folder / "summary.json") or {}
    line: dict[str, Any] = {"image_size": None, "steps": stage.steps, "seconds_optimize": 0.0}
    line.update({k: recorded[k] for k in STAGE_KEYS if k in recorded})
    return line


STAGE_KEYS = ("image_size", "steps", "evaluations", "seconds_compile", "seconds_optimize", "loss")


def stylize_scales(
    run: RunConfig,
    params: dict,
    out_dir: str | Path,
    config_record: dict | None = None,
    wandb: dict | None = None,
    content: Source | None = None,
    styles: Sequence[Source] | None = None,
) -> dict[str, Any]:
    """Coarse to fine: ``run.steps`` at each size in ``run.scales``, each started from the previous result
    upsampled; the last size is the output. Earlier stages write into ``out_dir/scale_N``, and each that finishes
    leaves its optimised image there (``checkpoint.RESULT``): ``resume=true`` continues at the stage and step where
    the run stopped (``resume.point``), whatever ``checkpoint_every`` was.
    ``content``, ``styles``: arrays instead of the run's paths (``load_inputs``)."""
    out_dir = Path(out_dir)
    assert run.scales is not None  # run() calls this only for a multi-scale run
    if config_record is not None and config_record.get("image_size") != run.scales[-1]:
        # The last of scales is the output size (configs/config.yaml); the record says what was made.
        config_record = {**config_record, "image_size": run.scales[-1]}
    dirs = resume.stage_dirs(run, out_dir)
    start = resume.point(run, out_dir) if run.resume else None
    if run.resume and start is None:
        check_resume(run, out_dir)
    first = start.stage if start is not None else 0
    stages = [_stage_record(dirs[i], scale_stage(run, i)) for i in range(first)]
    previous: Any = None
    if start is not None and start.after_result:  # the stage before finished: start from its image
        before = scale_stage(run, first - 1)
        expected = resume.stage_settings(run, first - 1, before, load_inputs(before, content, styles), finished=True)
        path = dirs[first - 1] / checkpoint.RESULT
        meta = checkpoint.read(path)
        assert meta is not None  # resume.point found it
        checkpoint.check_settings(path, meta, expected)
        previous = jnp.asarray(checkpoint.load_result(path))
    for i in range(first, len(run.scales)):
        last = i == len(run.scales) - 1
        # Only the stage the run stopped in continues from a checkpoint; the ones after it start afresh.
        stage = replace(scale_stage(run, i), resume=start is not None and i == first and not start.after_result)
        problem = prepare(stage, params, load_inputs(stage, content, styles))
        if previous is not None:
            h, w = problem.x0.shape[:2]
            problem.x0 = jax.image.resize(previous, (h, w, 3), "cubic")
        summary = stylize(
            stage,
            params,
            dirs[i],
            config_record,
            problem,
            wandb if last else None,
            settings=resume.stage_settings(run, i, stage, problem.inputs),
            result=None
            if last
            else (dirs[i] / checkpoint.RESULT, resume.stage_settings(run, i, stage, problem.inputs, finished=True)),
        )
        stages.append({k: summary[k] for k in STAGE_KEYS})
        # The optimised image itself, not final.png: no uint8 rounding, and with preserve_color=luminance
        # the next stage continues in luminance space rather than from the colour-restored picture.
        previous = problem.result
    summary["scales"] = stages
    summary["seconds_optimize_all_scales"] = sum(float(s.get("seconds_optimize") or 0.0) for s in stages)
    from nstjax.io.atomic import write_json

    write_json(out_dir / "summary.json", summary)
    return summary


def stylize(
    run: RunConfig,
    params: dict,
    out_dir: str | Path,
    config_record: dict | None = None,
    problem: Problem | None = None,
    wandb: dict | None = None,
    settings: dict[str, Any] | None = None,
    result: tuple[Path, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Runs the optimisation and writes final.png, summary.json and metrics.jsonl into ``out_dir``.

    ``settings``: what the objective depends on, recorded in each checkpoint and checked on resume (by default
    ``resume.settings`` of ``run``); ``result``: where a finished coarse-to-fine stage saves its image, and that
    result's settings. Returns the summary. Raises RunError on a non-finite loss, Interrupted on Ctrl-C in the
    steps (after saving a checkpoint), CheckpointError when resuming from a damaged checkpoint or one made with
    other settings (before anything is written).
    """
    out_dir = Path(out_dir)
    problem = problem or prepare(run, params)
    resources.check_memory(problem.x0.shape, run)
    settings = settings or resume.settings(run, problem.inputs)
    ckpt_path = out_dir / checkpoint.FILENAME
    meta = checkpoint.read(ckpt_path) if run.resume else None
    if run.resume and meta is None:
        raise RunError(f"resume=true but there is no checkpoint in {out_dir}")
    if meta is not None:
        checkpoint.check_settings(ckpt_path, meta, settings)
    resume_step = None if meta is None else meta["step"]
    logger = RunLogger(out_dir, config_record or asdict(run), wandb, resume_step=resume_step)

    if run.shard == "spatial":
        mesh = sharding.rows_mesh(problem.x0.shape[0])
        if mesh is not None:  # the image's rows over the devices; weights and targets copied to each
            problem.data = sharding.replicate(problem.data, mesh)
            problem.x0 = sharding.split(problem.x0, mesh, "rows")
    loss_of, fg_of = problem.objective or (compiled.loss_fn, compiled.value_and_grad_fn)
    fg = tiled.value_and_grad_fn(problem.spec, run.tile) if run.tile else fg_of(problem.spec)
    t0 = time.perf_counter()
    jax.block_until_ready(fg(problem.data, problem.x0))  # compile (and one evaluation, not counted)
    seconds_compile = time.perf_counter() - t0

    opt_cfg = resources.optimizer_within(
        problem.x0.shape, run, out_dir if meta is not None else None, None if meta is None else meta.get("history")
    )
    opt = make_optimizer(opt_cfg, loss_of(problem.spec), fg, problem.data, run.loop_kind(), run.loop_chunk)
    t0 = time.perf_counter()
    state = opt.init(problem.x0)
    step = 0
    if resume_step is not None:
        state, step, opt.terms, elapsed = checkpoint.load(ckpt_path, state)
        t0 -= elapsed
    good, good_terms = state, dict(opt.terms)
    bar = tqdm(total=run.steps, initial=step, disable=not run.progress, desc="nstjax", unit="step", dynamic_ncols=True)

    def save_checkpoint() -> None:
        checkpoint.save(
            ckpt_path,
            state,
            step,
            opt.terms,
            time.perf_counter() - t0,
            settings,
            opt_cfg.get("history") if run.tile else None,
        )

    status = "done"
    try:
        while step < run.steps and not opt.converged:
            if problem.data.key is not None and step > 0:
                state = resample(opt, fg, problem.data._replace(key=iteration_key(run, step)), state)
            if hasattr(opt, "limit"):
                opt.limit(run.steps - step)
            state = opt.step(state)
            step += 1
            loss = float(state.loss)
            terms = {k: float(v) for k, v in opt.terms.items()}
            if not (
                math.isfinite(loss) and all(map(math.isfinite, terms.values())) and bool(jnp.all(jnp.isfinite(state.x)))
            ):
                status = "non-finite"
                raise RunError(
                    f"the loss became non-finite at step {step} ({loss}); kept the image of step {step - 1} as last.png"
                )
            good, good_terms = state, terms
            logger.log_step(
                step,
                {"total": loss, **terms, "evaluations": int(state.evaluations), "seconds": time.perf_counter() - t0},
            )
            bar.set_postfix(
                loss=f"{loss:.4g}",
                style=f"{terms.get('style', 0):.3g}",
                content=f"{terms.get('content', 0):.3g}",
                refresh=False,
            )
            bar.update(1)
            if run.save_every and step % run.save_every == 0:
                logger.log_image(step, finish_image(run, state.x, problem.inputs))
            elif logger.wants_image(step):
                logger.log_image(step, finish_image(run, state.x, problem.inputs), name="latest.png")
            if run.checkpoint_every and step % run.checkpoint_every == 0:
                save_checkpoint()
        if result is not None:  # before the yardstick below, which a Ctrl-C may cut short
            checkpoint.save_result(result[0], good.x, step, result[1])
    except KeyboardInterrupt:
        status = "interrupted"
        state = good
        save_checkpoint()
        raise Interrupted(f"interrupted at step {step}; checkpoint saved, continue with resume=true") from None
    finally:
        bar.close()
        summary = finish_run(
            run,
            problem,
            good,
            good_terms,
            status,
            step,
            seconds_compile,
            time.perf_counter() - t0,
            bool(opt.converged),
            logger,
            out_dir,
            config_record,
            **({"tiling": resources.tiling_record(problem.x0.shape, run, opt_cfg["history"])} if run.tile else {}),
        )
    return summary


def check_resume(run: RunConfig, out_dir: str | Path) -> None:
    """``resume=true`` with nothing to continue in ``out_dir`` (RunError) or a damaged checkpoint there
    (CheckpointError), in one line; the entry points call it before the weights are loaded."""
    if run.resume and resume.point(run, Path(out_dir)) is None:
        where = f"{out_dir} or its scale_N folders" if run.scales else str(out_dir)
        raise RunError(f"resume=true but there is no checkpoint in {where}")


def run(
    run: RunConfig,
    params: dict,
    out_dir: str | Path,
    config_record: dict | None = None,
    wandb: dict | None = None,
    content: Source | None = None,
    styles: Sequence[Source] | None = None,
    inputs: Inputs | None = None,
) -> dict[str, Any]:
    """One configured run, single- or multi-scale, as the CLI and the Python API both start it.
    ``inputs``: already loaded at the output size (single-scale runs reuse them)."""
    if run.scales:
        return stylize_scales(run, params, out_dir, config_record, wandb, content, styles)
    inputs = inputs or load_inputs(run, content, styles)
    return stylize(run, params, out_dir, config_record, prepare(run, params, inputs), wandb=wandb)
