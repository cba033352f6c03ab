"""Checkpoints: the optimiser state (any pytree of arrays), the step and the last loss terms, in one npz."""

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


def save(path: str | Path, state: Any, step: int, terms: dict, elapsed: float) -> None:
    leaves = {f"leaf{i:04d}": np.asarray(leaf) for i, leaf in enumerate(jax.tree.leaves(state))}
    meta = json.dumps({"step": step, "elapsed": elapsed, "terms": {k: float(v) for k, v in terms.items()}})
    # numpy's stub lets **kwds also fill savez's allow_pickle: bool, so a dict of arrays does not type-check.
    write_atomic(path, lambda f: np.savez(f, meta=np.frombuffer(meta.encode(), np.uint8), **leaves))  # type: ignore[arg-type]


def _meta(data: Mapping[str, np.ndarray]) -> dict:
    return json.loads(bytes(data["meta"]).decode())


class CheckpointError(ValueError):
    """A checkpoint that exists but cannot be used; the message is one line for the user."""


def step_of(path: str | Path) -> int | None:
    """The checkpoint's step; None when there is none. Raises CheckpointError when the file is damaged,
    so that a damaged checkpoint is reported as such (and left in place) rather than taken for none."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        with np.load(path) as data:
            meta = _meta(data)
            for name in data.files:  # reads every array: a truncated file fails here, not mid-resume
                data[name]
            return int(meta["step"])
    except Exception as exc:  # zipfile, pickle and json errors all mean the same thing here
        raise CheckpointError(
            f"the checkpoint {path} is damaged ({type(exc).__name__}); move it away to start afresh"
        ) from None


def load(path: str | Path, template: Any) -> tuple[Any, int, dict, float]:
    """Restores a state shaped like ``template`` (an optimiser's fresh ``init`` state)."""
    leaves, treedef = jax.tree.flatten(template)
    with np.load(path) as data:
        meta = _meta(data)
        saved = [data[f"leaf{i:04d}"] for i in range(len([k for k in data.files if k.startswith("leaf")]))]
    # Leading axes may differ (L-BFGS's history buffers grow during a run); every other axis must match.
    if len(saved) != len(leaves) or any(
        np.shape(a)[1:] != np.shape(b)[1:] or np.ndim(a) != np.ndim(b) for a, b in zip(saved, leaves, strict=True)
    ):
        raise CheckpointError(f"checkpoint {path} does not match this run (another optimizer, image size or history?)")
    restored = [jnp.asarray(s, dtype=jnp.asarray(t).dtype) for s, t in zip(saved, leaves, strict=True)]
    terms = {k: jnp.float32(v) for k, v in meta["terms"].items()}
    return jax.tree.unflatten(treedef, restored), int(meta["step"]), terms, float(meta["elapsed"])
