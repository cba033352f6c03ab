"""Colour preservation (Gatys, Bethge, Hertzmann, Shechtman 2016, "Preserving Color in Neural Artistic
Style Transfer"): luminance-only transfer in YIQ, or colour matching of the style image to the content."""

from __future__ import annotations

import numpy as np

# NTSC RGB -> YIQ, as in the paper.
RGB2YIQ = np.array([[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]])
YIQ2RGB = np.linalg.inv(RGB2YIQ)


def to_yiq(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(rgb, np.float64) @ RGB2YIQ.T


def to_rgb(yiq: np.ndarray) -> np.ndarray:
    return np.clip(np.round(yiq @ YIQ2RGB.T), 0, 255).astype(np.uint8)


def luminance_image(rgb: np.ndarray) -> np.ndarray:
    """The luminance channel Y, repeated into three channels (the network expects RGB)."""
    y = np.clip(np.round(to_yiq(rgb)[..., 0]), 0, 255).astype(np.uint8)
    return np.repeat(y[..., None], 3, axis=-1)


def match_luminance(style_y: np.ndarray, content_y: np.ndarray) -> np.ndarray:
    """The paper's luminance matching: the style's Y shifted and scaled to the content's mean and deviation."""
    s, c = style_y.astype(np.float64), content_y.astype(np.float64)
    out = (s - s.mean()) * (c.std() / max(s.std(), 1e-6)) + c.mean()
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def luminance_style(style: np.ndarray, content: np.ndarray) -> np.ndarray:
    """A style image for luminance-only transfer: its Y matched to the content's, as three channels."""
    y = match_luminance(luminance_image(style)[..., 0], luminance_image(content)[..., 0])
    return np.repeat(y[..., None], 3, axis=-1)


def transfer_luminance(output: np.ndarray, content: np.ndarray) -> np.ndarray:
    """Y from the stylised output, I and Q (the colours) from the content."""
    yiq = to_yiq(content)
    yiq[..., 0] = to_yiq(output)[..., 0]
    return to_rgb(yiq)


def match_histogram(style: np.ndarray, content: np.ndarray) -> np.ndarray:
    """The paper's colour-histogram matching: a linear map giving the style pixels the content's colour
    mean and covariance (x' = A (x − μ_s) + μ_c with A Σ_s Aᵀ = Σ_c, A from eigendecompositions)."""
    s = style.reshape(-1, 3).astype(np.float64)
    c = content.reshape(-1, 3).astype(np.float64)
    mu_s, mu_c = s.mean(0), c.mean(0)
    cov_s, cov_c = np.cov(s, rowvar=False) + 1e-5 * np.eye(3), np.cov(c, rowvar=False) + 1e-5 * np.eye(3)

    def sqrtm(m: np.ndarray, power: float) -> np.ndarray:
        w, v = np.linalg.eigh(m)
        return (v * np.clip(w, 1e-8, None) ** power) @ v.T

    a = sqrtm(cov_c, 0.5) @ sqrtm(cov_s, -0.5)
    out = (s - mu_s) @ a.T + mu_c
    return np.clip(np.round(out), 0, 255).astype(np.uint8).reshape(style.shape)
