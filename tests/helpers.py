"""Composing the real Hydra config (configs/) with overrides, as the CLI does; running and reading a job."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from omegaconf import DictConfig
from PIL import Image

from nstjax.run.experiments import compose


def compose_cfg(*overrides: str) -> DictConfig:
    return compose({}, list(overrides))


def run_job(out_dir: Path, *overrides: str) -> dict:
    """One CLI job in this process (``nstjax.entry.stylize.run_job``: validate, load, stylise, write): compiled
    programs are shared with the other tests, and no interpreter is started."""
    from nstjax.entry.stylize import run_job as job

    return job(compose_cfg(*overrides), Path(out_dir))


def summary(run_dir: Path) -> dict:
    return json.loads((Path(run_dir) / "summary.json").read_text())


def metrics_lines(run_dir: Path) -> list[str]:
    """metrics.jsonl as written, one string per step (timings included, to compare byte for byte)."""
    return (Path(run_dir) / "metrics.jsonl").read_text().splitlines()


def steps_logged(run_dir: Path) -> list[int]:
    return [json.loads(line)["step"] for line in metrics_lines(run_dir)]


def image(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path), dtype=int)
