"""Resuming: the settings a checkpoint records (what its objective depends on), and where a resumed run starts,
the stage of coarse to fine included. ``runner`` saves and checks; this module says what and where."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nstjax.io import checkpoint
from nstjax.run.config import RunConfig

if TYPE_CHECKING:
    import numpy as np

    from nstjax.run.runner import Inputs

# The keys a resumed run may change: they steer how long the loop runs, what it writes and where it computes,
# not the objective it minimises (conv: Winograd and direct convolution are the same function). Every other field
# of RunConfig is recorded, so a key added to it later is checked on resume unless it is named here.
FREE = frozenset(
    {
        "steps",
        "scale_steps",  # a coarse-to-fine stage records the earlier stages' counts itself (``stage_settings``)
        "save_every",
        "checkpoint_every",
        "resume",
        "progress",
        "logger",
        "memory_budget",
        "loop",
        "loop_chunk",
        "shard",
        "conv",
    }
)
# The images are recorded by the digest of what the objective reads (``_digest``), not by their paths: the API's
# arrays have none, and a file changed under the same name is another objective.
IMAGES = ("content", "styles", "style_masks")
# RunConfig's fields under the keys a user types.
KEYS = {"styles": "style", "style_weight_override": "style_weight"}


def _digest(arrays: list[np.ndarray] | None) -> str | None:
    if arrays is None:
        return None
    h = hashlib.sha256()
    for a in arrays:
        h.update(str((a.shape, a.dtype.str)).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def settings(run: RunConfig, inputs: Inputs) -> dict[str, Any]:
    """What ``run``'s objective depends on, by config key, as a checkpoint records it: every field of RunConfig
    and of its Spec but those in ``FREE``; the images by the digest of what was read (``inputs``), the optimiser
    by its name (its state is what the checkpoint holds; its other keys may change), the statistic's own block
    (``mrf: {stride: ...}``) under the statistic's name."""
    out: dict[str, Any] = {}
    for f in fields(run):
        if f.name in FREE or f.name in IMAGES:
            continue
        value = getattr(run, f.name)
        if f.name == "spec":
            for g in fields(value):
                if g.name not in FREE and g.name != "style_options":
                    out[g.name] = getattr(value, g.name)
            if value.style_options:
                out[value.style_loss] = dict(value.style_options)
        elif f.name == "optimizer":
            out["optimizer"] = value.get("name")
        else:
            out[KEYS.get(f.name, f.name)] = value
    out["content"] = _digest([inputs.content])
    out["style"] = _digest(inputs.styles)
    out["style_masks"] = _digest(inputs.masks)
    return checkpoint.plain(out)


def stage_settings(parent: RunConfig, i: int, stage: RunConfig, inputs: Inputs, finished: bool = False) -> dict:
    """A coarse-to-fine stage's settings: its own run's, with the whole ladder (``scales``) and the step counts of
    the stages it started from (``steps``); ``finished``: its result's, which also depend on its own count."""
    assert parent.scales is not None
    counts = parent.scale_steps or (parent.steps,) * len(parent.scales)
    return {**settings(stage, inputs), "scales": list(parent.scales), "steps": list(counts[: i + finished])}


def stage_dirs(run: RunConfig, out_dir: Path) -> list[Path]:
    """Where each stage of ``run.scales`` writes: ``out_dir/scale_N`` for the earlier ones, ``out_dir`` for the last."""
    assert run.scales is not None
    return [out_dir / f"scale_{s}" for s in run.scales[:-1]] + [out_dir]


@dataclass(frozen=True)
class Point:
    """Where a resumed run starts: ``stage`` (0 for a single-scale run) from its checkpoint at ``step``, or afresh
    from the result of the stage before it (``after_result``)."""

    stage: int
    step: int
    after_result: bool = False

    def describe(self, run: RunConfig) -> str:
        where = f" of the {run.scales[self.stage]} px stage" if run.scales else ""
        if self.after_result:
            return f"the start{where}"
        return f"step {self.step}{where}"


def point(run: RunConfig, out_dir: Path) -> Point | None:
    """Where ``resume=true`` would continue in ``out_dir``: the latest stage with a checkpoint, or the stage after
    the latest finished one; None when there is nothing to continue. Raises CheckpointError on a damaged file."""
    if not run.scales:
        step = checkpoint.step_of(out_dir / checkpoint.FILENAME)
        return None if step is None else Point(0, step)
    dirs = stage_dirs(run, out_dir)
    for i in reversed(range(len(dirs))):
        if i < len(dirs) - 1 and checkpoint.read(dirs[i] / checkpoint.RESULT) is not None:
            return Point(i + 1, 0, after_result=True)  # finished: whatever checkpoint it also has is older
        step = checkpoint.step_of(dirs[i] / checkpoint.FILENAME)
        if step is not None:
            return Point(i, step)
    return None
