"""Clips whose optical flow is known exactly: a camera window panning and zooming over a still image.

Frame t shows, at its pixel p (x right, y down, the frame's centre p_c), the source point
q = c_t + s_t (p − p_c): c_t the window's centre in the source, s_t source pixels per frame pixel. So the
flow from frame a's grid into frame b is exact: p_c + (c_a + s_a (p − p_c) − c_b) / s_b − p. The tests, the
choice of the flow method (``nstjax.video.flow``) and the docs' demonstration clip are made this way.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Camera(NamedTuple):
    """The window of each frame: centres (T×2, x y, source pixels) and scales (T, source px per frame px)."""

    centres: np.ndarray
    scales: np.ndarray


def camera_move(
    source_shape: tuple[int, int], frames: int, size: tuple[int, int], pan: tuple[float, float], zoom: float
) -> Camera:
    """A pan of ``pan`` frame pixels per frame (x, y: the scene moves the other way) and a zoom by ``zoom``
    per frame (> 1: in), starting with the largest window of the frame's aspect centred in the source."""
    h, w = size
    s0 = min(source_shape[0] / h, source_shape[1] / w) * 0.8  # room for the pan and a zoom out
    scales = s0 / np.power(zoom, np.arange(frames))
    steps = np.asarray(pan, np.float64)[None, :] * scales[:, None]  # the pan in frame pixels at each frame's scale
    centres = np.array([source_shape[1] / 2, source_shape[0] / 2])[None, :] + np.cumsum(steps, 0) - steps[0]
    return Camera(centres, scales)


def _grid(size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    h, w = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    return np.stack([x - (w - 1) / 2, y - (h - 1) / 2], -1), np.stack([x, y], -1)


def render(source: np.ndarray, camera: Camera, size: tuple[int, int]) -> list[np.ndarray]:
    """The frames (uint8 H×W×3) of ``camera`` over ``source``, sampled bicubically."""
    import cv2

    centred, _ = _grid(size)
    out = []
    for c, s in zip(camera.centres, camera.scales, strict=True):
        q = (c + s * centred).astype(np.float32)
        # Pre-blurred by the scale, so that a zoomed-out frame does not alias (that would be no camera's picture).
        sigma = max(0.0, 0.5 * (s - 1.0))
        src = cv2.GaussianBlur(source, (0, 0), sigma) if sigma > 0.05 else source
        out.append(cv2.remap(src, q[..., 0], q[..., 1], cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT101))
    return out


def true_flow(camera: Camera, size: tuple[int, int], a: int, b: int) -> np.ndarray:
    """The exact flow (H×W×2, x y, frame pixels) from frame ``a``'s grid into frame ``b``: where each pixel of
    frame a is seen in frame b."""
    centred, _ = _grid(size)
    q = camera.centres[a] + camera.scales[a] * centred
    return ((q - camera.centres[b]) / camera.scales[b] - centred).astype(np.float32)


def clip(
    source: np.ndarray,
    frames: int,
    size: tuple[int, int],
    pan: tuple[float, float] = (2.0, 0.0),
    zoom: float = 1.0,
) -> tuple[list[np.ndarray], Camera]:
    """``frames`` frames of ``size`` (H, W) panning and zooming over ``source``, and the camera that made them."""
    camera = camera_move(source.shape[:2], frames, size, pan, zoom)
    return render(source, camera, size), camera
