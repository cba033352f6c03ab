"""A PyTorch eager implementation of the identical objective: the reference for tests and benchmarks.

Same weights (nstjax's params pytree), same layer names, same preprocessing and loss definitions, written
independently of nstjax's JAX code. torch is a test/benchmark extra, never a dependency of the package.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

BLOCKS = ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4))
BGR_MEAN = torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)
ORDER = [
    n
    for b, (_, c) in enumerate(BLOCKS, 1)
    for n in [x for i in range(1, c + 1) for x in (f"conv{b}_{i}", f"relu{b}_{i}")] + [f"pool{b}"]
]


class TorchVGG19(torch.nn.Module):
    def __init__(self, params: dict, pooling: str = "avg", device: str = "cpu"):
        super().__init__()
        self.pooling = pooling
        # HWIO (Keras) -> OIHW (torch)
        self.w = {
            k: torch.from_numpy(np.ascontiguousarray(v["kernel"].transpose(3, 2, 0, 1))).to(device)
            for k, v in params.items()
        }
        self.b = {k: torch.from_numpy(np.asarray(v["bias"])).to(device) for k, v in params.items()}
        self.mean = BGR_MEAN.to(device)

    def forward(self, rgb: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
        """rgb: 1×3×H×W in 0..255."""
        x = rgb.flip(1) - self.mean
        last = max(layers, key=ORDER.index)
        out = {}
        for b, (_, count) in enumerate(BLOCKS, 1):
            for i in range(1, count + 1):
                name = f"conv{b}_{i}"
                x = F.conv2d(x, self.w[name], self.b[name], padding=1)
                if name in layers:
                    out[name] = x
                if name == last:
                    return out
                x = F.relu(x)
                if f"relu{b}_{i}" in layers:
                    out[f"relu{b}_{i}"] = x
                if f"relu{b}_{i}" == last:
                    return out
            x = F.max_pool2d(x, 2) if self.pooling == "max" else F.avg_pool2d(x, 2)
            if f"pool{b}" in layers:
                out[f"pool{b}"] = x
            if f"pool{b}" == last:
                return out
        return out


def gram(f: torch.Tensor) -> torch.Tensor:
    m = f.reshape(f.shape[1], -1)
    return m @ m.t()


class Objective:
    """α·½Σ(F−P)² + β·Σ_l w_l/(4N²M²)Σ(G−A)², the paper's definitions."""

    def __init__(
        self,
        params,
        content: np.ndarray,
        style: np.ndarray,
        content_layers=("relu4_2",),
        style_layers=("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
        pooling="avg",
        alpha=1.0,
        beta=1e3,
        device: str = "cpu",
    ):
        self.net = TorchVGG19(params, pooling, device)
        self.cl, self.sl, self.alpha, self.beta = tuple(content_layers), tuple(style_layers), alpha, beta
        self.layers = self.cl + self.sl
        with torch.no_grad():
            self.p = {k: v for k, v in self.net(to_tensor(content).to(device), self.cl).items()}
            self.a = {k: gram(v) for k, v in self.net(to_tensor(style).to(device), self.sl).items()}

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, dict]:
        f = self.net(x, self.layers)
        content = sum(0.5 * ((f[k] - self.p[k]) ** 2).sum() for k in self.cl)
        style = 0.0
        for k in self.sl:
            n, m = f[k].shape[1], f[k].shape[2] * f[k].shape[3]
            style = style + ((gram(f[k]) - self.a[k]) ** 2).sum() / (4.0 * n**2 * m**2) / len(self.sl)
        terms = {"content": float(content.detach()), "style": float(style.detach())}
        return self.alpha * content + self.beta * style, terms


def to_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.asarray(image, np.float32).transpose(2, 0, 1)[None].copy())


def run_lbfgs(
    objective: Objective,
    x0: np.ndarray,
    steps: int,
    history: int = 100,
    device: str = "cpu",
    trace: bool = False,
    max_eval: int | None = None,
) -> dict:
    """A straightforward torch L-BFGS: strong Wolfe line search, the given history, torch's other defaults.
    ``max_eval``: evaluations for the whole run (torch's default, 1.25·steps, can end it before ``steps``).

    With ``trace``, one ``opt.step`` per iteration (max_iter=1, torch keeps its history across calls),
    recording (seconds, loss, evaluations) after each.
    """
    x = to_tensor(x0).to(device).requires_grad_(True)
    # Traced: max_eval 25 per iteration (untraced, torch's default 1.25·max_iter for the whole run).
    opt = torch.optim.LBFGS(
        [x],
        lr=1,
        max_iter=1 if trace else steps,
        max_eval=25 if trace else max_eval,
        history_size=history,
        line_search_fn="strong_wolfe",
    )
    evals, points = 0, []

    def closure():
        nonlocal evals
        evals += 1
        opt.zero_grad()
        loss, _ = objective(x)
        loss.backward()
        return loss

    t0 = time.perf_counter()
    for _ in range(steps if trace else 1):
        loss = opt.step(closure)
        if trace:
            points.append((time.perf_counter() - t0, float(loss), evals))
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        loss, terms = objective(x)
    if trace:  # opt.step returns the loss before its iteration: end on the loss after the last one
        points.append((seconds, float(loss), evals))
    state = opt.state[opt._params[0]]
    return {
        "loss": float(loss),
        **terms,
        "evaluations": evals,
        "iterations": int(state["n_iter"]),
        "seconds": seconds,
        "image": x.detach()[0].cpu().numpy().transpose(1, 2, 0),
        "trace": points,
    }
