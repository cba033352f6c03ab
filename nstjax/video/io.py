"""Reading a clip (a video file, or a folder of frames in name order) and writing the stylised one.

Video files go through imageio with imageio-ffmpeg (its own ffmpeg binary, from PyPI). Every problem with the
input is one line (``VideoError``; a frame that is no image, ``nstjax.io.images.ImageError``), raised while reading.
"""

from __future__ import annotations

import contextlib
import os
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from nstjax.io import images

FRAME_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


class VideoError(ValueError):
    """A clip that cannot be used; the message is one line for the user."""


def _natural(path: Path) -> tuple:
    """Name order with numbers by value: frame2.png before frame10.png."""
    return tuple(int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name))


def frame_files(folder: Path) -> list[Path]:
    """The images in ``folder`` in name order (numbers by value), hidden files left out."""
    files = [p for p in folder.iterdir() if p.suffix.lower() in FRAME_SUFFIXES and not p.name.startswith(".")]
    return sorted(files, key=_natural)


@contextlib.contextmanager
def _ffmpeg() -> Iterator[None]:
    """Around reading or writing through ffmpeg, a subprocess: JAX warns of forking a threaded process, which
    concerns a child that runs on, not one that execs at once. ffmpeg's own warnings precede its error."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "os.fork", RuntimeWarning)
        warnings.filterwarnings("ignore", module="imageio")
        yield


def _decoded(path: Path) -> tuple[Iterator[np.ndarray], float | None]:
    """The frames of a video file, decoded one at a time, and its frame rate."""
    import imageio.v2 as imageio

    reader: Any = imageio.get_reader(path, "ffmpeg")  # an iterable of frames, which imageio's types do not say
    fps = reader.get_meta_data().get("fps")

    def frames() -> Iterator[np.ndarray]:
        try:
            yield from reader
        finally:
            reader.close()

    return frames(), float(fps) if fps else None


def read(source: str | Path, longest: int | None = None) -> tuple[list[np.ndarray], float | None]:
    """The frames of ``source`` (uint8 H×W×3, resized to ``longest`` px on the longest side when given) and the
    video's frame rate (None for a folder of frames). Raises VideoError or ImageError with one line."""
    path = Path(source).expanduser()
    if not path.exists():
        raise VideoError(images.one_line(f"video not found: {path}"))
    fps: float | None = None
    with _ffmpeg():
        try:
            if path.is_dir():
                files = frame_files(path)
                if not files:
                    raise VideoError(
                        images.one_line(f"no frames in {path} (images named in order: {', '.join(FRAME_SUFFIXES)})")
                    )
                decoded: Iterator[np.ndarray] = (images.load_image(f) for f in files)
                names = [f.name for f in files]
            else:
                decoded, fps = _decoded(path)
                names = None
            frames: list[np.ndarray] = []
            shape = None
            for i, frame in enumerate(decoded):
                frame = images.as_rgb_array(np.asarray(frame), "a frame")
                name = names[i] if names else f"frame {i + 1}"
                if shape is None:
                    shape = frame.shape[:2]
                    size = images.longest_side_shape(shape, longest) if longest else shape
                elif frame.shape[:2] != shape:
                    h, w = frame.shape[:2]
                    raise VideoError(
                        images.one_line(f"{path}: {name} is {w}×{h} px but the first frame is {shape[1]}×{shape[0]}")
                    )
                frames.append(images.resize(frame, size))
        except (VideoError, images.ImageError):
            raise
        except Exception as exc:  # noqa: BLE001  (ffmpeg's and imageio's many kinds, on a damaged or foreign file)
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise VideoError(images.one_line(f"cannot read video {path}: {reason}")) from None
    if len(frames) < 2:
        raise VideoError(images.one_line(f"{path} has {len(frames)} frame(s); a video needs at least 2"))
    return frames, fps


def frame_path(folder: Path, t: int) -> Path:
    """``folder/frames/NNNN.png`` of frame ``t`` (counted from 0; the files from 1)."""
    return folder / "frames" / f"{t + 1:04d}.png"


def write_video(frames: list[np.ndarray], path: Path, fps: float) -> Path:
    """``frames`` as an H.264 MP4 at ``fps``, written beside ``path`` and renamed into place. Odd sizes are padded
    by one edge pixel (H.264's 4:2:0 colour needs even sides)."""
    import imageio.v2 as imageio

    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    h, w = frames[0].shape[:2]
    pad = ((0, h % 2), (0, w % 2), (0, 0))
    with _ffmpeg():
        try:
            writer: Any = imageio.get_writer(tmp, "ffmpeg", fps=fps, codec="libx264", quality=8, macro_block_size=1)
            with writer:
                for frame in frames:
                    writer.append_data(np.pad(frame, pad, mode="edge"))
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    return path
