"""Composing the real Hydra config (configs/) with overrides, as the CLI does."""

from __future__ import annotations

from omegaconf import DictConfig

from nstjax.run.experiments import compose


def compose_cfg(*overrides: str) -> DictConfig:
    return compose({}, list(overrides))
