"""Run logging: the local files every run writes, and Weights & Biases on request.

Local: ``metrics.jsonl`` (one line per step, every loss term), images, ``summary.json`` (atomic).
W&B: one run per job, files inside the job's run directory, offline unless the user configured W&B.
"""

from __future__ import annotations

import json
import netrc
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from nstjax.io.atomic import write_json
from nstjax.io.images import save_png, to_uint8


def wandb_configured() -> bool:
    """True when the user set W&B up (a key, a mode, or `wandb login`): only then may a run go online."""
    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_MODE"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (OSError, netrc.NetrcParseError):
        return False


def start_wandb(out_dir: Path, config: Mapping[str, Any], opts: Mapping[str, Any], job_type: str | None = None) -> Any:
    """A W&B run with the logger's options, its files in ``out_dir``; offline unless the user configured W&B."""
    import wandb

    mode: Any = opts.get("mode") or (os.environ.get("WANDB_MODE") or "online" if wandb_configured() else "offline")
    return wandb.init(
        project=opts.get("project") or "nstjax",
        entity=opts.get("entity"),
        group=opts.get("group"),
        tags=list(opts.get("tags") or []),
        name=opts.get("name"),
        config=dict(config),
        dir=str(out_dir),
        mode=mode,
        reinit="finish_previous",
        job_type=job_type,
    )


def log_comparison(
    out_dir: Path, opts: Mapping[str, Any], summary: Mapping[str, Any], figures: Mapping[str, Path]
) -> None:
    """A comparison (``nstjax-compare``) as one W&B run: its table (a row per variant and metric), its figures, and
    each delta in the run's summary."""
    import wandb

    columns: list[str | int] = [
        "variant",
        "metric",
        "delta",
        "ci95_lo",
        "ci95_hi",
        "p",
        "p_holm",
        "wins",
        "pairs_compared",
        "pairs_without_overlap",
        "delta_matched_style",
        "delta_equal_ratio",
    ]
    data = [
        [
            c["variant"] or "(defaults)",
            c["metric"],
            c["delta"],
            *c["ci95"],
            c["p"],
            c["p_holm"],
            c["wins"],
            c["pairs_compared"],
            c["pairs_without_overlap"],
            c["delta_matched_style"],
            c["delta_equal_ratio"],
        ]
        for c in summary["comparisons"]
    ]
    config = {k: summary[k] for k in ("baseline", "pairs", "variants", "metrics", "seed") if k in summary}
    run = start_wandb(out_dir, config, opts, job_type="compare")
    run.log(
        {
            "comparison": wandb.Table(columns=columns, data=data),
            **{name: wandb.Image(str(path)) for name, path in figures.items()},
        }
    )
    run.summary.update({f"delta/{row[1]}/{row[0]}": row[2] for row in data})
    run.finish()


class RunLogger:
    """Writes metrics and images for one run; forwards them to W&B when ``wandb`` options are given."""

    def __init__(
        self,
        out_dir: str | Path,
        config: Mapping[str, Any],
        wandb: Mapping[str, Any] | None = None,
        resume_step: int | None = None,
    ):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.metrics_path = self.out_dir / "metrics.jsonl"
        if resume_step is None:
            self.metrics_path.unlink(missing_ok=True)
        else:  # keep the lines up to the checkpoint, drop those of the interrupted tail
            lines = self.metrics_path.read_text().splitlines() if self.metrics_path.exists() else []
            kept = [ln for ln in lines if ln.strip() and json.loads(ln)["step"] <= resume_step]
            self.metrics_path.write_text("".join(ln + "\n" for ln in kept))
        self._metrics = open(self.metrics_path, "a", buffering=1)  # noqa: SIM115  (open for the run; finish() closes it)
        self.run = self._start_wandb(config, wandb) if wandb else None
        self.image_every = int((wandb or {}).get("image_every") or 0)

    def _start_wandb(self, config: Mapping[str, Any], opts: Mapping[str, Any]) -> Any:
        return start_wandb(self.out_dir, config, opts)

    def log_step(self, step: int, metrics: Mapping[str, float]) -> None:
        row = {"step": step, **{k: float(v) for k, v in metrics.items()}}
        self._metrics.write(json.dumps(row) + "\n")
        if self.run is not None:
            self.run.log(
                {
                    f"loss/{k}" if k in ("total", "content", "style", "tv") else k: v
                    for k, v in row.items()
                    if k != "step"
                },
                step=step,
            )

    def log_image(self, step: int, image: np.ndarray, name: str | None = None) -> Path | None:
        """Saves ``name`` (or step_NNNNN.png) locally and, at W&B's image cadence, to W&B as uint8."""
        path = save_png(image, self.out_dir / (name or f"step_{step:05d}.png"))
        if self.run is not None:
            import wandb

            # uint8: float images in [0, 1] came out black in wandb 0.31.
            self.run.log({"image": wandb.Image(to_uint8(image))}, step=step)
        return path

    def wants_image(self, step: int) -> bool:
        return self.run is not None and self.image_every > 0 and step % self.image_every == 0

    def finish(self, summary: Mapping[str, Any], final_image: np.ndarray | None = None, failed: bool = False) -> None:
        self._metrics.close()
        write_json(self.out_dir / "summary.json", dict(summary))
        if self.run is not None:
            flat = {f"final/{k}": v for k, v in (summary.get("loss") or {}).items()}
            timings = ("steps", "evaluations", "seconds_compile", "seconds_optimize")
            flat.update({k: summary[k] for k in timings if k in summary})
            self.run.summary.update(flat)
            if final_image is not None:
                import wandb

                self.run.summary["final_image"] = wandb.Image(to_uint8(final_image))
            self.run.finish(exit_code=1 if failed else 0)
            self.run = None
