"""Run logging: the local files every run writes, and Weights & Biases on request.

Local: ``metrics.jsonl`` (one line per step, every loss term), images, ``summary.json`` (atomic).
W&B: one run per job, files inside the job's run directory, offline unless the user configured W&B.
"""

from __future__ import annotations

import json
import netrc
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from nstjax.io.atomic import write_atomic, write_json
from nstjax.io.images import one_line, save_png, to_uint8


def warn(message: str) -> None:
    """One line on stderr for something the run works around (what was dropped, what it did instead)."""
    print(f"warning: {one_line(message)}", file=sys.stderr)


def read_record(path: str | Path) -> dict[str, Any] | None:
    """A JSON object written by a run (``summary.json``); None when there is none. A damaged file (torn, not UTF-8,
    or valid JSON that is not an object) is dropped with one warning line: a resume uses what is sound."""
    path = Path(path)
    try:
        record = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        warn(f"{path} is damaged ({type(exc).__name__}); ignored")
        return None
    if not isinstance(record, dict):
        warn(f"{path} holds a JSON {type(record).__name__}, not an object; ignored")
        return None
    return record


def _sound_rows(path: Path, last_step: int) -> list[str]:
    """The lines of ``metrics.jsonl`` up to ``last_step`` (a checkpoint's), each a JSON object with an integer step;
    the rest of a torn or damaged log is dropped, and what was dropped is said in one warning line."""
    if not path.exists():
        return []
    kept: list[str] = []
    damaged: list[int] = []
    steps: set[int] = set()
    for number, line in enumerate(path.read_bytes().decode("utf-8", "replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            step = row["step"]
            if not isinstance(step, int) or isinstance(step, bool):
                raise TypeError(step)
        except (ValueError, TypeError, KeyError, IndexError):  # a torn line, or JSON that is not a row
            damaged.append(number)
            continue
        if step <= last_step:  # lines after the checkpoint are the interrupted tail: the resumed run writes them again
            kept.append(line)
            steps.add(step)
    said = []
    if damaged:
        lines = ", ".join(map(str, damaged[:5])) + (", ..." if len(damaged) > 5 else "")
        said.append(f"dropped {len(damaged)} damaged line(s) (line {lines})")
    missing = last_step - len(steps & set(range(1, last_step + 1)))
    if missing:  # a log cut at a line's end is sound but short: the resumed run continues it with a gap
        said.append(f"{missing} of the checkpoint's {last_step} steps are missing, so the resumed log has a gap")
    if said:
        warn(f"{path}: {'; '.join(said)}; kept the {len(kept)} sound line(s)")
    return kept


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
        "verdict",
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
            c.get("verdict"),
            c["delta"],
            *(c["ci95"] or (None, None)),
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
        else:  # keep the lines up to the checkpoint, drop those of the interrupted tail and any damaged one
            kept = _sound_rows(self.metrics_path, resume_step)
            write_atomic(self.metrics_path, lambda f: f.write("".join(ln + "\n" for ln in kept).encode()))
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
