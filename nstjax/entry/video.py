"""`nstjax-video`: the Hydra entry point for clips (``nstjax.video.run``); keys as ``nstjax``'s plus the video's."""

from __future__ import annotations

import logging
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as nstjax.entry.stylize: idle OpenBLAS threads steal XLA's cores
import sys
from pathlib import Path
from typing import Any, cast

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from nstjax.entry.stylize import (
    USER_ERRORS,
    _logger_options,
    check_overrides,
    check_syntax,
    hydra_main,
    input_errors,
)
from nstjax.io.images import one_line
from nstjax.run.config import CONFIG_DIR, ConfigError, validate
from nstjax.video.config import KEYS, validate_video
from nstjax.video.flow import FlowError
from nstjax.video.io import VideoError

ERRORS = (*USER_ERRORS, VideoError, FlowError)
PATH_KEYS = ("video", "style", "style_masks", "hydra.run.dir", "hydra.sweep.dir")
_failures: list[str] = []

HELP = """nstjax-video: a clip stylised frame by frame with temporal consistency (Ruder, Dosovitskiy & Brox, GCPR 2016).
Each frame starts from the previous result warped by the optical flow, and a temporal loss keeps it where the
flow is reliable. Writes frames/0001.png ..., video.mp4 (for a video file), summary.json (per-frame losses,
the yardstick and the warping error) and metrics.jsonl into the run directory; resume=true continues there.

Usage: nstjax-video video=CLIP style=PAINTING [key=value ...]     (-m sweeps as nstjax)

Example
  nstjax-video video=clip.mp4 style=starry_night.jpg image_size=256 steps=100 hydra.run.dir=out/clip
  nstjax-video -m video=frames/ style=s.jpg temporal_weight=0,200 hydra.sweep.dir=multirun/temporal

Video keys (default, meaning)
"""


def help_text() -> str:
    """HELP and the video keys of configs/video.yaml; the still keys are nstjax's (nstjax --help)."""
    import re

    lines = [HELP.rstrip("\n")]
    for line in (CONFIG_DIR / "video.yaml").read_text().splitlines():
        m = re.match(r"^(\w+):\s*(.*?)\s*#\s*(.*)$", line)
        if m and m.group(1) in KEYS:
            lines.append(f"  {m.group(1):<16} {m.group(2) or '-':<10} {m.group(3)}")
    return (
        "\n".join(lines) + "\n\nEvery other key (style, image_size, steps, ratio, pooling, ...): see nstjax --help.\n"
    )


def check_video_overrides(args: list[str]) -> None:
    """nstjax's checks on the still keys, Hydra's grammar on the video keys: one line before Hydra starts."""
    still = [a for a in args if a.partition("=")[0].lstrip("+") not in KEYS]
    check_syntax([a for a in args if a not in still])
    try:
        check_overrides(still)
    except ConfigError as exc:
        if "unknown key" not in str(exc):
            raise
        raise ConfigError(f"{exc}; and the video's: {', '.join(KEYS)}") from None


def run_job(cfg: DictConfig, out_dir: Path, wandb: dict | None = None) -> dict:
    """One clip: validate, read the frames, stylise, write (importable by tests)."""
    from nstjax.objective.normalize import params_for
    from nstjax.video import io
    from nstjax.video.run import stylize_video

    record = cast(dict[str, Any], OmegaConf.to_container(cfg, resolve=True))
    with input_errors():
        run = validate(cfg)
        video = validate_video(record, run)
    frames, fps = io.read(video.video, run.image_size)  # a bad clip fails before the weights are touched
    summary = stylize_video(run, video, params_for(run.weights), out_dir, record, frames, fps)
    if wandb:
        from nstjax.video.report import log_wandb

        log_wandb(out_dir, record, wandb, summary)
    return summary


def _discard_if_empty(out_dir: Path) -> None:
    """A job that failed before any work drops its (Hydra-made) directory, as nstjax's do."""
    import shutil

    if out_dir.is_dir() and all(p.name in (".hydra", "nstjax-video.log") for p in out_dir.iterdir()):
        shutil.rmtree(out_dir, ignore_errors=True)


@hydra.main(version_base=None, config_path=str(CONFIG_DIR), config_name="video")
def _app(cfg: DictConfig) -> None:
    logging.getLogger("jax").setLevel(logging.WARNING)
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        summary = run_job(cfg, out_dir, _logger_options(cfg))
    except ERRORS as exc:
        if cfg.get("debug"):
            raise
        print(f"error: {one_line(exc)}", file=sys.stderr)
        _failures.append(f"{out_dir}: {one_line(exc)}")
        if not (out_dir / "summary.json").exists():
            _discard_if_empty(out_dir)
        return
    error = summary["warping_error"]
    print(
        f"{out_dir / 'frames'}  ({len(summary['frames'])} frames, {summary['seconds_per_frame']:.1f} s a frame, "
        f"warping error {error if error is None else f'{error:.4g}'})"
    )


def main() -> None:
    hydra_main(help_text, check_video_overrides, _app, _failures, PATH_KEYS)


if __name__ == "__main__":
    main()
