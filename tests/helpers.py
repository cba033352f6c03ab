"""Composing the real Hydra config (configs/) with overrides, as the CLI does."""

from __future__ import annotations

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from nstjax.cli import CONFIG_DIR


def compose_cfg(*overrides: str) -> DictConfig:
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
        return compose(config_name="config", overrides=list(overrides))
