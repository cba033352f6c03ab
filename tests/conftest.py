"""Shared fixtures: the real VGG19 weights and the paper's images (data/images in the repository)."""

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
# `make fuzz` explores randomly with many more examples ("fuzz"). The same examples for the same hypothesis:
# pyproject pins the version whose examples were run (6.170.17); another version draws others.
settings.register_profile("ci", derandomize=True, max_examples=60, deadline=None, print_blob=True)
settings.register_profile("fuzz", derandomize=False, max_examples=3000, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
from nstjax.io.images import PAPER_IMAGES as IMAGES  # noqa: E402  (NSTJAX_IMAGES or data/images)


@pytest.fixture(scope="session")
def params():
    """The real ImageNet weights (fetched into the cache on first use)."""
    from nstjax.io import weights

    return weights.load_params()


@pytest.fixture(scope="session")
def images_dir() -> Path:
    if not (IMAGES / "tubingen.jpg").is_file():
        pytest.fail(f"the paper's images are missing from {IMAGES} (data/images in the repository, or NSTJAX_IMAGES)")
    return IMAGES


@pytest.fixture(scope="session")
def pair_128(images_dir):
    """tubingen at 128 px (longest side) and starry_night resized to the same size."""
    from nstjax.io import images

    content = images.resize_longest(images.load_image(images_dir / "tubingen.jpg"), 128)
    style = images.resize(images.load_image(images_dir / "starry_night.jpg"), content.shape[:2])
    return content, style


@pytest.fixture(scope="session")
def pair64(images_dir) -> list[str]:
    """The overrides of the suite's small run: tubingen in the style of starry_night at 64 px."""
    return [
        f"content={images_dir / 'tubingen.jpg'}",
        f"style={images_dir / 'starry_night.jpg'}",
        "image_size=64",
        "progress=false",
    ]


@pytest.fixture(scope="session")
def host_run_20(tmp_path_factory, pair64, params) -> Path:
    """A 20-step run on the host loop, made once: the uninterrupted run that resumes and the device loop are
    compared with, and the plain run the style controls are compared with."""
    from helpers import run_job

    out = tmp_path_factory.mktemp("host_run_20") / "run"
    run_job(out, *pair64, "steps=20", "loop=host")
    return out


@pytest.fixture(scope="session")
def device_run_20(tmp_path_factory, pair64, params) -> Path:
    """The same 20 steps on the device loop in chunks of 8 (8 + 8 + 4: the last chunk partial), made once."""
    from helpers import run_job

    out = tmp_path_factory.mktemp("device_run_20") / "run"
    run_job(out, *pair64, "steps=20", "loop=device", "loop_chunk=8")
    return out


@pytest.fixture
def count_evaluations(monkeypatch) -> list:
    """One entry per call of the compiled loss+gradient that a host-loop run in this process makes (its
    compile call included): what a process evaluated, whatever its summary claims."""
    from nstjax.objective import compiled

    calls: list = []
    real = compiled.value_and_grad_fn

    def counting(spec):
        fg = real(spec)

        def counted(data, x):
            calls.append(1)
            return fg(data, x)

        return counted

    monkeypatch.setattr(compiled, "value_and_grad_fn", counting)
    return calls


@pytest.fixture
def compilations() -> list:
    """The names of the programs compiled in this process while the test runs (``jit(fg)`` is the objective),
    one entry per program built, whether XLA compiled it or read it from the on-disk cache."""
    from jax import monitoring

    names: list = []

    def listener(event, seconds, **kw):
        if event == "/jax/core/compile/backend_compile_duration":
            names.append(kw.get("fun_name"))

    monitoring.register_event_duration_secs_listener(listener)
    yield names
    monitoring.unregister_event_duration_listener(listener)


def pytest_configure(config):
    # Compiled programs persist between test runs (and CLI subprocesses share them).
    from nstjax.objective.compiled import enable_compilation_cache

    enable_compilation_cache()
