"""Estimating a run's memory before starting, so a too-large image fails in a second, not after an hour."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nstjax.run.config import RunConfig

# From `make bench` peak RSS (first run, compiling): 1.63 GB at 192×256 and 2.01 GB at 384×512 after 10
# L-BFGS iterations, i.e. ~2.6 kB per pixel on ~1.5 GB fixed, plus L-BFGS's buffers, which grow to
# 2·history images in a long run. Rounded up, to refuse before failing rather than after.
BYTES_PER_PIXEL = 2_700  # activations and gradients of one loss+gradient pass up to relu5_1
FIXED_BYTES = 1_700 << 20  # weights, Winograd-transformed kernels, the XLA runtime


class TooLarge(MemoryError):
    """The run would not fit in memory; the message is one line for the user."""


def available_bytes() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def estimate_bytes(shape: tuple[int, ...], history: int, batch: int = 1) -> int:
    """Peak bytes: activations and their gradients, plus L-BFGS's 2·history image-sized buffers, per run
    of a batch (``nstjax.run.batch``)."""
    pixels = shape[0] * shape[1]
    return FIXED_BYTES + batch * (pixels * BYTES_PER_PIXEL + 2 * history * pixels * 3 * 4)


def check_memory(shape: tuple[int, ...], run: RunConfig, batch: int = 1,
                 style_shape: tuple[int, int] | None = None) -> None:
    """Raises TooLarge when the run's estimate exceeds ``memory_budget`` (or the memory available now).
    ``style_shape``: the style image's size, whose feature pass for the targets also has to fit."""
    history = int(run.optimizer.get("history", 0)) if run.optimizer.get("name") != "adam" else 2
    need = estimate_bytes(shape, history, batch)
    if style_shape is not None:
        need = max(need, estimate_bytes(style_shape, 0))
    have = run.memory_budget or available_bytes()
    if need > have:
        raise TooLarge(
            f"a {shape[1]}×{shape[0]} image needs about {need / 2**30:.1f} GiB, {have / 2**30:.1f} GiB available; "
            "lower image_size or optimizer.history"
            + (f", or run fewer than {batch} jobs per batch" if batch > 1 else "")
        )
