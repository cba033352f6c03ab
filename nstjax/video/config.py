"""The video's own keys (configs/video.yaml), checked before any work: one-line ConfigErrors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nstjax.run.config import ConfigError, RunConfig, _number
from nstjax.video.flow import FLOWS

KEYS = ("video", "temporal_weight", "flow", "long_term", "passes")


@dataclass(frozen=True)
class VideoConfig:
    video: str
    temporal_weight: float  # Ruder's λ/α (``nstjax.video.objective.weight_of``)
    flow: str
    long_term: tuple[int, ...]  # the frames looked back to, nearest first
    passes: int


def validate_video(cfg: Mapping[str, Any], run: RunConfig) -> VideoConfig:
    """The video keys of a composed config, and what of ``run`` a video cannot do, each refused in one line."""
    video = cfg.get("video")
    if not video or not isinstance(video, str):
        raise ConfigError(f"video must be a video file or a folder of frames, got {video!r}")
    if cfg.get("content") is not None:
        raise ConfigError("nstjax-video takes its frames from video=; leave content out")
    flow = str(cfg.get("flow", "deepflow"))
    if flow not in FLOWS:
        raise ConfigError(f"flow must be one of {', '.join(FLOWS)}; got {flow!r}")
    back = cfg.get("long_term", [1])
    back = list(back) if isinstance(back, (list, tuple)) else [back]
    back = [_number({"long_term": j}, "long_term", int, positive=True) for j in back]
    if not back or back != sorted(set(back)):
        raise ConfigError(f"long_term must be growing frame distances such as [1,2,4], got {back}")
    passes = _number(cfg, "passes", int, positive=True)
    if passes > 1:
        raise ConfigError("passes > 1 (Ruder's multi-pass) is not implemented yet; use passes=1")
    for key, value in (("scales", run.scales), ("tile", run.tile)):
        if value:
            raise ConfigError(f"{key} does not work with nstjax-video yet (its objective has no temporal term)")
    if run.shard != "none":
        raise ConfigError("shard=spatial does not work with nstjax-video yet; use shard=none")
    return VideoConfig(video, _number(cfg, "temporal_weight", nonneg=True), flow, tuple(back), passes)
