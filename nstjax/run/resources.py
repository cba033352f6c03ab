"""Estimating a run's memory before starting, so a too-large image fails in a second, not after an hour."""

from __future__ import annotations

import os
from pathlib import Path
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


def check_memory(
    shape: tuple[int, ...], run: RunConfig, batch: int = 1, style_shape: tuple[int, int] | None = None
) -> None:
    """Raises TooLarge when the run's estimate exceeds ``memory_budget`` (or the memory available now).
    ``style_shape``: the style image's size, whose feature pass for the targets also has to fit."""
    if run.tile:
        return _check_tiled(shape, run)
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


# --- tile=N (nstjax.objective.tiled) ----------------------------------------------------------------------
# The network's activations and gradients then follow the largest window (BYTES_PER_PIXEL of its pixels); what
# stays image-sized, per pixel: L-BFGS's curvature pairs (``lbfgs_bytes``), and TILED_IMAGE_BYTES for the
# image, its gradient and the gradient summed over tiles, the line search's trial point, direction and
# gradient, the total variation's temporaries, the content targets (relu4_2: 512 channels at 1/64 of the
# positions, 32 B) and the decoded inputs. Calibrated from peak RSS (docs/devices-memory.md).
TILED_IMAGE_BYTES = 250
MIN_HISTORY = 5  # fewer curvature pairs and L-BFGS is hardly more than steepest descent: refuse instead
INITIAL_CAPACITY = 8  # nstjax.optim.lbfgs: the pairs' buffers start at 8 and double up to ``history``


def lbfgs_bytes(pixels: int, history: int) -> int:
    """L-BFGS's pairs (s, y) at their peak: 2·history float32 images, and while the buffers grow (doubling from
    8), the previous buffers beside the new ones."""
    previous = 0 if history <= INITIAL_CAPACITY else INITIAL_CAPACITY
    while previous and 2 * previous < history:
        previous *= 2
    return 2 * (history + previous) * pixels * 3 * 4


def tiled_bytes(shape: tuple[int, ...], run: RunConfig, history: int) -> int:
    """Peak bytes of a ``tile=N`` run: one window's pass, and the image-sized arrays."""
    from nstjax.objective import tiled

    window = tiled.window_shape(shape, run.tile, run.spec.layers, run.spec.pooling)
    pixels = shape[0] * shape[1]
    return (
        FIXED_BYTES
        + window[0] * window[1] * BYTES_PER_PIXEL
        + pixels * TILED_IMAGE_BYTES
        + lbfgs_bytes(pixels, history)
    )


def history_within(shape: tuple[int, ...], run: RunConfig) -> int:
    """``tile=N``: ``optimizer.history``, lowered (to ``MIN_HISTORY`` at least) until the run fits ``memory_budget``
    (by default the memory available now): the image-sized curvature pairs are then what grows with the image."""
    history = int(run.optimizer.get("history", 100))
    budget = run.memory_budget or available_bytes()
    while history > MIN_HISTORY and tiled_bytes(shape, run, history) > budget:
        history -= 1
    return history


def optimizer_within(
    shape: tuple[int, ...], run: RunConfig, resumed: Path | None = None, history: int | None = None
) -> dict:
    """The optimizer config a run uses: ``run.optimizer``, with a tiled run's history bounded (``history_within``).
    ``history``: the one the checkpoint of a run that continues records; ``resumed``: that run's directory, whose
    summary says it where an older checkpoint does not. Either keeps the continuation exact whatever else now uses
    the machine's memory."""
    if not run.tile:
        return run.optimizer
    if history is None and resumed is not None:
        from nstjax.io.logging import read_record

        recorded = (read_record(resumed / "summary.json") or {}).get("tiling")
        history = recorded.get("history") if isinstance(recorded, dict) else None
    if not isinstance(history, int) or isinstance(history, bool) or history < 1:
        history = history_within(shape, run)  # a damaged record: what the memory allows now
    return {**run.optimizer, "history": history}


def tiling_record(shape: tuple[int, ...], run: RunConfig, history: int) -> dict:
    """What a tiled run's summary says of its tiles, history and memory."""
    from nstjax.objective import tiled

    return {
        **tiled.describe(shape, run.tile, run.spec),
        "history": history,
        "estimate_gib": round(tiled_bytes(shape, run, history) / 2**30, 2),
    }


def can_score(shape: tuple[int, ...], run: RunConfig) -> bool:
    """Whether the yardstick fits beside the run: always for an untiled run (its own pass was larger); a tiled
    run scores tile by tile too (``nstjax.objective.tiled_metrics``): a window's forward pass and image-sized
    arrays, as the run held, plus at most ``tiled_metrics.BUDGET`` of swd projections. Too large, ``metrics`` is
    null in its summary (nstjax-score final.png --tile N where memory allows)."""
    if not run.tile:
        return True
    from nstjax.objective.tiled_metrics import BUDGET

    return tiled_bytes(shape, run, 0) + BUDGET <= (run.memory_budget or available_bytes())


def _check_tiled(shape: tuple[int, ...], run: RunConfig) -> None:
    history = history_within(shape, run)
    need = tiled_bytes(shape, run, history)
    have = run.memory_budget or available_bytes()
    if need > have:
        raise TooLarge(
            f"a {shape[1]}×{shape[0]} image needs about {need / 2**30:.1f} GiB with tile={run.tile} "
            f"(L-BFGS history {history}), {have / 2**30:.1f} GiB available; lower image_size or tile, "
            "or set memory_budget to what is free (the history follows it)"
        )
