"""The Python API for notebooks and other code: the same library calls as the CLI, no Hydra process.

import nstjax
result = nstjax.stylize("photo.jpg", "painting.jpg", image_size=256, steps=100, pooling="max")
result.image, result.history[-1]["style"], result.metrics["style_gram"]
"""

from __future__ import annotations

import functools
import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias, cast

import jax.numpy as jnp
import numpy as np

from nstjax.io import weights
from nstjax.model.layers import ORDER, resolve_layers
from nstjax.model.pooling import POOLING
from nstjax.objective.compiled import feature_fn

Image: TypeAlias = "str | Path | np.ndarray"


@functools.cache
def default_params() -> dict:
    """The verified ImageNet weights from the cache (fetched on first use), as a params pytree."""
    return weights.load_params()


def extract_features(
    image: np.ndarray, layers: Sequence[str], pooling: str = "max", params: dict | None = None
) -> dict[str, np.ndarray]:
    """VGG19 activations of a uint8 H×W×3 RGB image, as float32 H'×W'×C arrays keyed by layer name."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"image must be uint8 H×W×3 RGB, got {image.dtype} {image.shape}")
    if pooling not in POOLING:
        raise ValueError(f"pooling must be one of {', '.join(POOLING)}; got {pooling!r}")
    names = tuple(sorted(set(resolve_layers(list(layers), {}, "layers")), key=ORDER.index))
    fn = feature_fn(pooling, names)
    out = fn(params if params is not None else default_params(), jnp.asarray(image, jnp.float32))
    return {k: np.asarray(v, np.float32) for k, v in out.items()}


@dataclass
class Result:
    image: np.ndarray  # uint8 H×W×3
    summary: dict[str, Any]  # what summary.json holds
    history: list[dict[str, float]]  # one dict per step, as metrics.jsonl: step, total, content, style, tv, ...
    metrics: dict[str, float]  # the fixed yardstick (nstjax.objective.metrics)


def stylize(
    content: Image, style: Image | Sequence[Image], out_dir: str | Path | None = None, **overrides: Any
) -> Result:
    """One style-transfer run. ``content``, ``style``: paths or uint8 H×W×3 arrays (``style`` may be a
    list); ``overrides``: the CLI's keys (``image_size=256``, ``pooling="max"``, ``optimizer="adam"``),
    validated as the CLI validates them (a bad one raises ValueError with the CLI's one-line message; so does
    any input that cannot be used, such as a damaged file or an empty array, before any work). Paths may hold
    any characters (spaces, non-ASCII letters): they reach Hydra quoted (``nstjax.entry.stylize.path_override``).

    Writes final.png, summary.json and metrics.jsonl only into ``out_dir`` when given (else nothing is
    left on disk); an ``out_dir`` that cannot be a folder, or ``resume=True`` with nothing there to continue, is
    refused in one line before the weights are loaded. Ctrl-C raises ``nstjax.run.runner.Interrupted`` (one line:
    how to continue, when there is a checkpoint). Compiled programs are reused by later calls in the same process.
    """
    from omegaconf import OmegaConf

    from nstjax.entry.stylize import PATH_KEYS, check_overrides, input_errors, path_override, read_inputs
    from nstjax.objective.normalize import params_for
    from nstjax.run.config import ConfigError, check_folder, validate
    from nstjax.run.experiments import as_override, compose
    from nstjax.run.runner import check_resume, interrupts
    from nstjax.run.runner import run as run_one

    styles = list(style) if isinstance(style, (list, tuple)) else [style]

    def path(x: object) -> str | None:
        return None if isinstance(x, np.ndarray) else str(x)  # arrays are recorded as null

    given: dict[str, Any] = dict(
        content=content if isinstance(content, np.ndarray) else str(content),
        styles=[s if isinstance(s, np.ndarray) else str(s) for s in styles],
    )
    kept = None if out_dir is None else Path(out_dir).expanduser()
    with input_errors():  # every error of the inputs as one line (ValueError), before any work
        strings = [path_override(k, v) if k in PATH_KEYS else as_override(k, v) for k, v in overrides.items()]
        check_overrides(strings)
        # One style is a path (or null for an array); none or several are a list, which validate checks as the
        # CLI's style=[...] (an empty one is its one-line error).
        style_paths = path(styles[0]) if len(styles) == 1 else [path(s) for s in styles]
        base = ["progress=false", path_override("content", path(content)), path_override("style", style_paths)]
        cfg = compose({}, base + strings)
        run = validate(cfg)
        if kept is not None:  # as the CLI checks hydra.run.dir: a file in the way is one line, not an OSError later
            check_folder("out_dir", kept)
        elif run.resume:
            raise ConfigError("resume=true needs out_dir: the run to continue is the one in that folder")
    record = cast(dict[str, Any], OmegaConf.to_container(cfg, resolve=True))
    with tempfile.TemporaryDirectory(prefix="nstjax-") as tmp, interrupts(run, kept):
        folder = kept or Path(tmp)
        inputs = read_inputs(run, **given)
        check_resume(run, folder)
        summary = run_one(run, params_for(run.weights), folder, record, inputs=None if run.scales else inputs, **given)
        history = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
        from nstjax.io.images import load_image

        image = load_image(folder / ("final.png" if summary["status"] == "done" else "last.png"))
    return Result(image, summary, history, summary["metrics"])


def score(image: Image, content: Image, style: Image) -> dict[str, float]:
    """The yardstick (``nstjax.objective.metrics``) of any image, as paths or uint8 arrays: content_distance,
    style_gram, style_swd, colour."""
    from nstjax.objective import metrics

    return metrics.score_files(image, content, style)


def compare(
    variants: Sequence[str],
    ratios: Sequence[float],
    contents: Sequence[str | Path] | None = None,
    styles: Sequence[str | Path] | None = None,
    benchmark: str | None = None,
    out_dir: str | Path = "outputs/compare",
    max_batch: int = 8,
    stats_seed: int = 0,
    runs_dir: str | Path | None = None,
    crop: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Variants compared over (content, style) pairs at matched content, as ``nstjax-compare`` does
    (``nstjax.run.compare``). ``variants``: strings of space-separated run overrides (``"pooling=l2 style_loss=w2"``,
    ``""`` = the defaults), the first the baseline; ``ratios``: every pair and variant's sweep; the pairs:
    ``contents`` × ``styles`` (paths or ``skimage:NAME``) or ``benchmark`` (``configs/benchmark/NAME.yaml``);
    ``crop``: ``"W:H"``, every content centre-cropped to one aspect (a benchmark's own ``crop`` otherwise), so that
    all pairs share one compiled program; ``overrides``: run keys for every run (``image_size=128``, ``steps=100``).
    A bad key or image raises ValueError with one line before any run. Finished runs in ``runs_dir`` (default
    ``out_dir/runs``) with the same config are reused.

    Returns {"summary": what compare.json holds (``comparisons``: per variant and metric ``delta``, ``ci95``, ``p``,
    ``p_holm``, ``wins``, ...), "rows": one per run, "paths": the files written, "executed", "reused", "failed",
    "seconds"}.
    """
    from nstjax.entry.compare import build
    from nstjax.entry.stylize import PATH_KEYS, input_errors, path_override
    from nstjax.run.compare import compare as run_comparison
    from nstjax.run.compare import plan
    from nstjax.run.experiments import as_override

    with input_errors():
        strings = [path_override(k, v) if k in PATH_KEYS else as_override(k, v) for k, v in overrides.items()]
        comparison = build(
            list(variants),
            list(ratios),
            None if contents is None else [str(c) for c in contents],
            None if styles is None else [str(s) for s in styles],
            benchmark,
            out_dir,
            max_batch,
            stats_seed,
            strings,
            runs_dir,
            crop,
        )
        cells = plan(comparison)
    return run_comparison(comparison, cells=cells)
