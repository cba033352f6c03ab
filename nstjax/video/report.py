"""A clip's run as one Weights & Biases run: per-frame numbers as a table, the clip's as its summary."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nstjax.io.logging import start_wandb


def log_wandb(out_dir: Path, config: Mapping[str, Any], opts: Mapping[str, Any], summary: Mapping[str, Any]) -> None:
    """Logs each frame's loss, yardstick and warping error (step = frame) and the clip's means and video."""
    import wandb

    run = start_wandb(out_dir, config, opts, job_type="video")
    for f in summary["frames"]:
        row = {f"loss/{k}": v for k, v in f["loss"].items()}
        row.update({f"metrics/{k}": v for k, v in (f["metrics"] or {}).items()})
        if f["warping_error"] is not None:
            row["warping_error"] = f["warping_error"]
        run.log(row, step=f["frame"])
    run.summary.update(
        {k: summary[k] for k in ("warping_error", "warping_error_input", "seconds_per_frame") if summary.get(k)}
    )
    if summary.get("video"):
        run.log({"video": wandb.Video(str(summary["video"]))})
    run.finish()
