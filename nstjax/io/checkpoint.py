"""Checkpoints: the optimiser state (any pytree of arrays), the step, the last loss terms and the settings the
objective was made with, in one npz; and a finished coarse-to-fine stage's result, the image alone."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from nstjax.io.atomic import write_atomic

FILENAME = "checkpoint.npz"
RESULT = "result.npz"  # a finished stage's optimised image: what the next stage of coarse to fine starts from


class CheckpointError(ValueError):
    """A checkpoint that exists but cannot be used; the message is one line for the user."""


def _write(path: str | Path, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
    text = np.frombuffer(json.dumps(dict(meta)).encode(), np.uint8)
    # numpy's stub lets **kwds also fill savez's allow_pickle: bool, so a dict of arrays does not type-check.
    write_atomic(path, lambda f: np.savez(f, meta=text, **arrays))  # type: ignore[arg-type]


def save(
    path: str | Path,
    state: Any,
    step: int,
    terms: Mapping[str, Any],
    elapsed: float,
    settings: Mapping[str, Any] | None = None,
    history: int | None = None,
) -> None:
    """Writes ``state`` at ``step`` atomically. ``settings``: what the objective depends on (``read`` gives them
    back for ``check_settings``); ``history``: the L-BFGS history the run used (a tiled run's follows memory)."""
    leaves = {f"leaf{i:04d}": np.asarray(leaf) for i, leaf in enumerate(jax.tree.leaves(state))}
    meta = {"step": step, "elapsed": elapsed, "terms": {k: float(v) for k, v in terms.items()}}
    _write(path, {**meta, "settings": settings, "history": history}, leaves)


def save_result(path: str | Path, image: Any, step: int, settings: Mapping[str, Any]) -> None:
    """A finished stage's optimised image (float32, optimisation space) with the settings it was made with."""
    _write(path, {"step": step, "settings": dict(settings)}, {"image": np.asarray(image, np.float32)})


def read(path: str | Path) -> dict[str, Any] | None:
    """A checkpoint's (or result's) metadata: step, settings, ...; None when there is none. Raises CheckpointError
    when the file is damaged, so that a damaged checkpoint is reported as such (and left in place) rather than
    taken for none."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        with np.load(path) as data:
            meta = json.loads(bytes(data["meta"]).decode())
            for name in data.files:  # reads every array: a truncated file fails here, not mid-resume
                data[name]
        if not isinstance(meta, dict):
            raise TypeError("meta")
        meta["step"] = int(meta["step"])
        return meta
    except Exception as exc:  # zipfile, pickle and json errors all mean the same thing here
        raise CheckpointError(
            f"the checkpoint {path} is damaged ({type(exc).__name__}); move it away to start afresh"
        ) from None


def step_of(path: str | Path) -> int | None:
    """The checkpoint's step; None when there is none (CheckpointError when it is damaged, as ``read``)."""
    meta = read(path)
    return None if meta is None else meta["step"]


def plain(settings: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` as a checkpoint holds them (tuples as lists, as JSON reads them back), to compare."""
    return json.loads(json.dumps(dict(settings), default=list))


def _shown(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_settings(path: str | Path, meta: Mapping[str, Any], settings: Mapping[str, Any]) -> None:
    """CheckpointError (one line naming the keys that differ) unless the checkpoint was made with ``settings``:
    a run resumed under another objective would continue the old one's optimiser state and record its loss under
    the new config. A checkpoint from before settings were recorded cannot be checked: taken as it is, with a
    warning."""
    recorded = meta.get("settings")
    if not isinstance(recorded, dict):
        from nstjax.io.logging import warn

        warn(f"the checkpoint {path} records no settings (an older nstjax made it); taken as made with these")
        return
    expected = plain(settings)
    keys = sorted(k for k in set(recorded) | set(expected) if recorded.get(k) != expected.get(k))
    if not keys:
        return
    # Images are recorded by their digest: its hex says nothing to a user, only that the pixels differ.
    shown = [
        f"{k} (other pixels)"
        if k in ("content", "style", "style_masks") and recorded.get(k) and expected.get(k)
        else f"{k} ({_shown(recorded.get(k))} there, {_shown(expected.get(k))} now)"
        for k in keys
    ]
    raise CheckpointError(
        f"the checkpoint {path} was made with other settings: {'; '.join(shown)}; resume with the settings it was "
        "made with, or use another run directory"
    )


def load(path: str | Path, template: Any) -> tuple[Any, int, dict, float]:
    """Restores a state shaped like ``template`` (an optimiser's fresh ``init`` state)."""
    leaves, treedef = jax.tree.flatten(template)
    with np.load(path) as data:
        meta = json.loads(bytes(data["meta"]).decode())
        saved = [data[f"leaf{i:04d}"] for i in range(len([k for k in data.files if k.startswith("leaf")]))]
    # Leading axes may differ (L-BFGS's history buffers grow during a run); every other axis must match.
    if len(saved) != len(leaves) or any(
        np.shape(a)[1:] != np.shape(b)[1:] or np.ndim(a) != np.ndim(b) for a, b in zip(saved, leaves, strict=True)
    ):
        raise CheckpointError(f"checkpoint {path} does not match this run (another optimizer, image size or history?)")
    restored = [jnp.asarray(s, dtype=jnp.asarray(t).dtype) for s, t in zip(saved, leaves, strict=True)]
    terms = {k: jnp.float32(v) for k, v in meta["terms"].items()}
    return jax.tree.unflatten(treedef, restored), int(meta["step"]), terms, float(meta["elapsed"])


def load_result(path: str | Path) -> np.ndarray:
    """A finished stage's image, saved by ``save_result`` (``read`` and ``check_settings`` it first)."""
    with np.load(path) as data:
        return np.asarray(data["image"], np.float32)
