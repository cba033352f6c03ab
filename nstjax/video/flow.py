"""Optical flow between frames, its reliability, and a cache of both in the run directory.

A flow here is H×W×2 (x, y) on the grid of the frame it starts from: ``estimate(a, b)[p]`` is where pixel p of
frame a is seen in frame b, so frame b warped by it (``nstjax.video.warp.warp``) lines up with frame a.
The methods (``FLOWS``) come from maintained, installable libraries; the default is the one with the smallest
endpoint error on clips whose flow is known (``nstjax.video.synthetic``; docs/video.md has the table).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from nstjax.io.atomic import write_atomic

Flow = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (frame a, frame b: uint8 H×W×3) -> flow from a into b


class FlowError(ValueError):
    """A flow method that cannot be used here; the message is one line for the user."""


def _grey(image: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)


def _empty(a: np.ndarray) -> np.ndarray:
    """The output flow's buffer (OpenCV's methods start from it only when told to)."""
    return np.zeros((*a.shape[:2], 2), np.float32)


def dis(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """DIS, dense inverse search (Kroeger et al., ECCV 2016), OpenCV's medium preset with variational refinement."""
    import cv2

    method = cv2.DISOpticalFlow.create(cv2.DISOpticalFlow_PRESET_MEDIUM)
    return np.asarray(method.calc(_grey(a), _grey(b), _empty(a)))


def farneback(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Farnebäck's polynomial expansion (SCIA 2003), OpenCV's, 5 levels, 15 px windows."""
    import cv2

    return cv2.calcOpticalFlowFarneback(_grey(a), _grey(b), None, 0.5, 5, 15, 3, 5, 1.2, 0)


def tvl1(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """TV-L1 (Zach, Pock & Bischof, DAGM 2007), scikit-image's."""
    from skimage.registration import optical_flow_tvl1

    v, u = optical_flow_tvl1(_grey(a).astype(np.float32) / 255, _grey(b).astype(np.float32) / 255)
    return np.stack([u, v], -1).astype(np.float32)


def deepflow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """DeepFlow (Weinzaepfel et al., ICCV 2013; Ruder et al.'s choice), from opencv-contrib-python-headless."""
    import cv2

    if not hasattr(cv2, "optflow"):
        raise FlowError("flow=deepflow needs OpenCV's contrib modules: pip install opencv-contrib-python-headless")
    return np.asarray(cv2.optflow.createOptFlow_DeepFlow().calc(_grey(a), _grey(b), _empty(a)))


# By endpoint error on the known-flow clips of docs/video.md, smallest first; the first is the default.
FLOWS: dict[str, Flow] = {"deepflow": deepflow, "tvl1": tvl1, "dis": dis, "farneback": farneback}
DEFAULT = next(iter(FLOWS))


def estimate(a: np.ndarray, b: np.ndarray, method: str = DEFAULT) -> np.ndarray:
    """The flow from frame ``a`` into frame ``b`` (float32 H×W×2) by ``method``, a name in ``FLOWS``."""
    if method not in FLOWS:
        raise FlowError(f"flow must be one of {', '.join(FLOWS)}; got {method!r}")
    return np.asarray(FLOWS[method](a, b), np.float32)


def _sample(field: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``field`` (H×W×C) read bilinearly at p + flow(p), edges repeated."""
    import cv2

    h, w = flow.shape[:2]
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    return cv2.remap(field, x + flow[..., 0], y + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def reliable(there: np.ndarray, back: np.ndarray) -> np.ndarray:
    """Ruder et al.'s per-pixel weights c on frame a's grid (1 reliable, 0 not), from ``there`` (a's flow into
    b) and ``back`` (b's flow into a): 0 where the two disagree, ‖w̃ + w‖² > 0.01 (‖w̃‖² + ‖w‖²) + 0.5 with
    w̃(p) = back(p + there(p)) (disoccluded: a shows what b hides); 0 on motion boundaries,
    ‖∇u‖² + ‖∇v‖² > 0.01 ‖w‖² + 0.002; and 0 where p + there(p) leaves frame b (the strip entering the view)."""
    h, w = there.shape[:2]
    returned = _sample(back, there)
    mismatch = np.sum(np.square(returned + there), -1)
    disoccluded = mismatch > 0.01 * (np.sum(np.square(returned), -1) + np.sum(np.square(there), -1)) + 0.5
    du_y, du_x = np.gradient(there[..., 0])
    dv_y, dv_x = np.gradient(there[..., 1])
    boundary = du_x**2 + du_y**2 + dv_x**2 + dv_y**2 > 0.01 * np.sum(np.square(there), -1) + 0.002
    y, x = np.mgrid[0:h, 0:w]
    tx, ty = x + there[..., 0], y + there[..., 1]
    # Departure: Ruder et al.'s checker leaves out-of-view pixels to the occlusion test; here they are 0 outright.
    outside = (tx < 0) | (tx > w - 1) | (ty < 0) | (ty > h - 1)
    return (~(disoccluded | boundary | outside)).astype(np.float32)


def frame_key(a: np.ndarray, b: np.ndarray, method: str) -> str:
    """What a cached pair was computed from: both frames' pixels and the method."""
    digest = hashlib.sha1(method.encode())
    for frame in (a, b):
        digest.update(str(frame.shape).encode())
        digest.update(np.ascontiguousarray(frame).tobytes())
    return digest.hexdigest()


def pair(
    frames: list[np.ndarray], t: int, s: int, method: str, cache: Path | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(flow from frame ``t`` into frame ``s``, Ruder's weights c of frame t's pixels): what warps the result
    of frame s onto frame t and says where to trust it. Kept in ``cache/TTTT-SSSS.npz`` (frames numbered from 1)
    and reused while the two frames and the method are the same."""
    key = frame_key(frames[t], frames[s], method)
    path = None if cache is None else cache / f"{t + 1:04d}-{s + 1:04d}.npz"
    if path is not None and path.is_file():
        try:
            with np.load(path) as stored:
                if str(stored["key"]) == key:
                    return stored["flow"], stored["mask"].astype(np.float32)
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache file is computed again
    there, back = estimate(frames[t], frames[s], method), estimate(frames[s], frames[t], method)
    mask = reliable(there, back)
    if path is not None:
        write_atomic(path, lambda f: np.savez(f, flow=there, mask=mask.astype(np.uint8), key=np.asarray(key)))
    return there, mask
