"""A stylised clip: the still run of each frame (``nstjax.run.runner``), with Ruder et al.'s temporal term.

Frame t starts from frame t−1's result warped by the optical flow and adds the temporal loss against its
``long_term`` predecessors' results (Ruder, Dosovitskiy & Brox, GCPR 2016). Writes ``frames/0001.png`` …,
``video.mp4`` (for a video file), ``summary.json`` (per frame: losses, the yardstick, the warping error) and
``metrics.jsonl`` (every step, with its frame); ``resume=true`` continues at the first missing frame.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np

from nstjax.io import colour, images
from nstjax.io.atomic import write_json
from nstjax.run.config import ConfigError, RunConfig
from nstjax.run.runner import Inputs, load_inputs, prepare, stylize
from nstjax.video import flow, io, objective
from nstjax.video.config import VideoConfig
from nstjax.video.warp import long_term_weights, warp, warping_error

WORK = ".frame"  # the running frame's still-run files, inside the run directory


def _optimised_space(run: RunConfig, image: np.ndarray) -> jnp.ndarray:
    """A written frame as the optimiser saw it (for resuming): its luminance with preserve_color=luminance."""
    if run.preserve_color == "luminance":
        image = colour.luminance_image(image)
    return jnp.asarray(image, jnp.float32)


def _same_settings(old: dict, new: dict) -> str | None:
    """The first key whose value differs between two config records (the video's, resume and progress aside)."""
    for key in sorted(set(old) | set(new)):
        if key not in ("resume", "progress", "debug", "hydra") and old.get(key) != new.get(key):
            return key
    return None


def _start(run: RunConfig, out_dir: Path, frames: int, record: dict) -> tuple[int, dict | None]:
    """The first frame to make, and the summary so far (resume=true), or refusal to overwrite frames."""
    done = 0
    while done < frames and io.frame_path(out_dir, done).is_file():
        done += 1
    if done == 0:
        return 0, None
    if not run.resume:
        then = f"resume=true continues at frame {done + 1}" if done < frames else "the clip is done"
        raise ConfigError(f"{out_dir / 'frames'} already holds {done} frame(s); {then}, or choose another run dir")
    try:
        summary = json.loads((out_dir / "summary.json").read_text())
    except (OSError, ValueError):
        raise ConfigError(f"resume=true, but {out_dir / 'summary.json'} is missing or damaged") from None
    differs = _same_settings(summary.get("config") or {}, record)
    if differs:
        raise ConfigError(f"resume=true, but these frames were made with another {differs}; choose another run dir")
    summary["frames"] = summary.get("frames", [])[:done]
    return done, summary


def temporal_data(
    frames: list[np.ndarray], results: dict[int, Any], t: int, video: VideoConfig, cache: Path, shape: tuple
) -> tuple[objective.Temporal, np.ndarray | None]:
    """Frame ``t``'s temporal part (K slots, one per ``long_term`` distance; 0 where no frame) and the flow into
    frame t−1 (None for the first frame)."""
    h, w = shape
    k = len(video.long_term)
    previous = np.zeros((k, h, w, 3), np.float32)
    flows = np.zeros((k, h, w, 2), np.float32)
    masks = []
    for i, j in enumerate(video.long_term):
        if t - j < 0:
            masks.append(np.zeros((h, w), np.float32))
            continue
        flows[i], c = flow.pair(frames, t, t - j, video.flow, cache)
        previous[i] = np.asarray(results[t - j])
        masks.append(c)
    first = flows[0] if t >= 1 and video.long_term[0] == 1 else None
    if t >= 1 and first is None:
        first = flow.pair(frames, t, t - 1, video.flow, cache)[0]
    return objective.Temporal(
        jnp.asarray(previous), jnp.asarray(flows), jnp.asarray(np.stack(long_term_weights(masks))), jnp.float32(0)
    ), first


def _append_metrics(out_dir: Path, work: Path, frame: int) -> None:
    lines = (work / "metrics.jsonl").read_text().splitlines() if (work / "metrics.jsonl").is_file() else []
    with open(out_dir / "metrics.jsonl", "a") as f:
        for line in lines:
            f.write(json.dumps({"frame": frame, **json.loads(line)}) + "\n")


def stylize_video(
    run: RunConfig,
    video: VideoConfig,
    params: dict,
    out_dir: str | Path,
    config_record: dict | None = None,
    frames: list[np.ndarray] | None = None,
    fps: float | None = None,
) -> dict[str, Any]:
    """Stylises every frame of ``video.video`` (or ``frames``, already read at the output size) into ``out_dir``;
    returns the summary (also in summary.json). Raises RunError as a still run does, keeping finished frames."""
    out_dir = Path(out_dir)
    record = config_record or {**asdict(run), **asdict(video)}
    if frames is None:
        frames, fps = io.read(video.video, run.image_size)
    start, summary = _start(run, out_dir, len(frames), record)
    shape = frames[0].shape[:2]
    cache = out_dir / "flow"
    still = replace(run, resume=False)  # resume means frames here, not a frame's checkpoint
    inputs = load_inputs(still, content=frames[0])  # the styles, read and resized once
    results: dict[int, Any] = {}
    back = max(video.long_term)
    for s in range(max(0, start - back), start):
        results[s] = _optimised_space(run, images.load_image(io.frame_path(out_dir, s)))
    if summary is None:
        (out_dir / "metrics.jsonl").unlink(missing_ok=True)
        summary = {"status": "running", "frames": []}
    summary.update(image_size=list(shape), fps=fps, frame_count=len(frames), flow=video.flow, config=record)
    work = out_dir / WORK
    for t in range(start, len(frames)):
        problem = prepare(still, params, Inputs(frames[t], inputs.styles, inputs.masks, inputs.yardstick_style))
        t0 = time.perf_counter()
        temporal, into_previous = temporal_data(frames, results, t, video, cache, shape)
        seconds_flow = time.perf_counter() - t0
        if video.temporal_weight > 0 and into_previous is not None:
            # Ruder et al.: the previous result warped by the flow is the start (pixels entering the view: the edge's);
            # temporal_weight=0 is frame by frame, each frame from ``init`` as a still run.
            problem.x0 = warp(results[t - 1], jnp.asarray(into_previous))
            alpha = float(problem.data.weights.content)
            lam = objective.weight_of(video.temporal_weight, alpha, run.spec.convention, problem.data.targets)
            temporal = temporal._replace(weight=jnp.float32(lam))
        d = problem.data
        problem.data = objective.Data(d.params, d.targets, d.weights, d.key, temporal)  # type: ignore[assignment]
        problem.objective = (objective.loss_fn, objective.value_and_grad_fn)
        shutil.rmtree(work, ignore_errors=True)
        frame_summary = stylize(still, params, work, record, problem)
        results[t] = problem.result
        results.pop(t - back - 1, None)
        os.replace(work / "final.png", _made(io.frame_path(out_dir, t)))
        _append_metrics(out_dir, work, t + 1)
        entry = {
            "frame": t + 1,
            **{k: frame_summary[k] for k in ("steps", "evaluations", "seconds_compile", "seconds_optimize", "loss")},
            "seconds_flow": seconds_flow,
            "metrics": frame_summary["metrics"],
            "warping_error": None,
            "warping_error_input": None,
        }
        if t > 0:
            into, mask = flow.pair(frames, t, t - 1, video.flow, cache)
            now, before = (images.load_image(io.frame_path(out_dir, s)) for s in (t, t - 1))
            entry["warping_error"] = warping_error(now, before, into, mask)
            entry["warping_error_input"] = warping_error(frames[t], frames[t - 1], into, mask)
        summary["frames"].append(entry)
        write_json(out_dir / "summary.json", _totals(summary))
    shutil.rmtree(work, ignore_errors=True)
    summary["status"] = "done"
    if fps:
        outputs = [images.load_image(io.frame_path(out_dir, t)) for t in range(len(frames))]
        summary["video"] = str(io.write_video(outputs, out_dir / "video.mp4", fps))
    write_json(out_dir / "summary.json", _totals(summary))
    return summary


def _made(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _totals(summary: dict) -> dict:
    """The clip's numbers from its frames': the mean warping error (Lai et al.: over frame pairs), the mean of
    each yardstick metric, and the seconds per frame."""
    frames = summary["frames"]
    errors = [f["warping_error"] for f in frames if f["warping_error"] is not None]
    inputs = [f["warping_error_input"] for f in frames if f["warping_error_input"] is not None]
    scored = [f["metrics"] for f in frames if f["metrics"]]
    summary["warping_error"] = float(np.mean(errors)) if errors else None
    summary["warping_error_input"] = float(np.mean(inputs)) if inputs else None
    summary["metrics"] = {k: float(np.mean([m[k] for m in scored])) for k in scored[0]} if scored else None
    summary["seconds_per_frame"] = float(np.mean([f["seconds_optimize"] for f in frames])) if frames else None
    summary["steps"] = sum(f["steps"] for f in frames)
    return summary
