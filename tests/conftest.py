"""Shared fixtures: the real VGG19 weights and the paper's images (../shared/images beside the checkout)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
# Tests must not depend on this machine's timings: conv=auto uses the fixed size rule (test_tune times).
os.environ.setdefault("NSTJAX_TUNE", "0")

# CI must not pass or fail by chance: hypothesis draws the same examples on every run ("ci", the default);
# `make fuzz` explores randomly with many more examples ("fuzz").
settings.register_profile("ci", derandomize=True, max_examples=60, deadline=None, print_blob=True)
settings.register_profile("fuzz", derandomize=False, max_examples=3000, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
from nstjax.io.images import PAPER_IMAGES as IMAGES  # noqa: E402  (NSTJAX_IMAGES or ../shared/images)


@pytest.fixture(scope="session")
def params():
    """The real ImageNet weights (fetched into the cache on first use)."""
    from nstjax.io import weights

    return weights.load_params()


@pytest.fixture(scope="session")
def images_dir() -> Path:
    if not (IMAGES / "tubingen.jpg").is_file():
        pytest.fail(f"the paper's images are missing from {IMAGES}; set NSTJAX_IMAGES")
    return IMAGES


@pytest.fixture(scope="session")
def pair_128(images_dir):
    """tubingen at 128 px (longest side) and starry_night resized to the same size."""
    from nstjax.io import images

    content = images.resize_longest(images.load_image(images_dir / "tubingen.jpg"), 128)
    style = images.resize(images.load_image(images_dir / "starry_night.jpg"), content.shape[:2])
    return content, style


def pytest_configure(config):
    # Compiled programs persist between test runs (and CLI subprocesses share them).
    from nstjax.objective.compiled import enable_compilation_cache

    enable_compilation_cache()
