"""The optimisers behind ``optimizer=...``, one interface: ``init(x) -> state``, ``step(state) -> state``.

Every state is a pytree with ``x``, ``loss`` and ``evaluations`` (full loss+gradient passes, counted by
us, not by the library), so checkpoints and the run loop treat all of them alike.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import jax
import jax.numpy as jnp
import optax

from nstjax.optim.lbfgs import LBFGS, Objective, ValueAndGrad

# (data, x) -> (total loss, terms): the pure objective, for optimisers that differentiate it themselves.
Loss = Callable[[Any, jax.Array], tuple[jax.Array, dict]]

PIXEL_RANGE = (0.0, 255.0)
OPTIMIZERS = ("lbfgs", "jaxopt", "lbfgsb", "optax_lbfgs", "adam")


class Optimizer(Protocol):
    terms: dict
    converged: bool

    def init(self, x: jax.Array) -> Any: ...

    def step(self, state: Any) -> Any: ...


class Wrapped(NamedTuple):
    x: jax.Array
    loss: jax.Array
    evaluations: jax.Array
    inner: Any


class _Counted:
    """Wraps the jitted loss+gradient for libraries that call it from Python, counting the calls."""

    def __init__(self, fg: ValueAndGrad) -> None:
        self.fg, self.calls = fg, 0

    def __call__(self, x: jax.Array) -> tuple[tuple[jax.Array, dict], jax.Array]:
        self.calls += 1
        loss, terms, grad = self.fg(x)
        return (loss, terms), grad


class Jaxopt:
    """jaxopt.LBFGS / LBFGSB (zoom line search) with ``jit=False, unroll=True``, so its loops run in
    Python and each evaluation is one call of our jitted function (the fast path)."""

    def __init__(self, fg: ValueAndGrad, history: int = 100, boxed: bool = False, max_evals_per_step: int = 25) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # jaxopt is unmaintained and says so
            import jaxopt
        self.counted = _Counted(fg)
        kw = dict(
            fun=self.counted,
            value_and_grad=True,
            has_aux=True,
            history_size=history,
            maxls=max_evals_per_step,
            jit=False,
            unroll=True,
            maxiter=1 << 30,
        )
        self.boxed = boxed
        self.solver = jaxopt.LBFGSB(**kw) if boxed else jaxopt.LBFGS(linesearch="zoom", **kw)
        self.terms: dict = {}
        self.converged = False

    def _bounds(self, x: jax.Array) -> tuple[jax.Array, jax.Array] | None:
        return (jnp.full_like(x, PIXEL_RANGE[0]), jnp.full_like(x, PIXEL_RANGE[1])) if self.boxed else None

    def _wrap(self, x: jax.Array, inner: Any) -> Wrapped:
        self.terms = inner.aux
        return Wrapped(x, inner.value, jnp.int32(self.counted.calls), inner)

    def init(self, x: jax.Array) -> Wrapped:
        if self.boxed:
            x = jnp.clip(x, *PIXEL_RANGE)
            return self._wrap(x, self.solver.init_state(x, bounds=self._bounds(x)))
        return self._wrap(x, self.solver.init_state(x))

    def step(self, state: Wrapped) -> Wrapped:
        self.counted.calls = int(state.evaluations)
        kw = {"bounds": self._bounds(state.x)} if self.boxed else {}
        x, inner = self.solver.update(state.x, state.inner, **kw)
        return self._wrap(x, inner)


@functools.cache
def _optax_step(loss: Loss, name: str, hyper: tuple) -> tuple[optax.GradientTransformation, Callable]:
    """One jitted optax step per (objective, optimiser, hyper-parameters): reused across a sweep."""
    kw = dict(hyper)
    opt = optax.adam(kw["lr"]) if name == "adam" else optax.lbfgs(memory_size=kw["history"])

    @jax.jit
    def step(data: Any, x: jax.Array, opt_state: Any) -> tuple[jax.Array, Any, jax.Array, dict, jax.Array | int]:
        (value, terms), grad = jax.value_and_grad(loss, argnums=1, has_aux=True)(data, x)

        def f(z: jax.Array) -> jax.Array:
            return loss(data, z)[0]

        updates, opt_state = opt.update(grad, opt_state, x, value=value, grad=grad, value_fn=f)
        extra = optax.tree_utils.tree_get(opt_state, "num_linesearch_steps", 0) if name != "adam" else 0
        return optax.apply_updates(x, updates), opt_state, value, terms, 1 + extra

    return opt, step


class Optax:
    """optax's L-BFGS (its zoom line search runs inside the jitted update) or Adam."""

    def __init__(self, loss: Loss, data: Any, name: str, history: int = 100, lr: float = 10.0) -> None:
        hyper = (("lr", lr),) if name == "adam" else (("history", history),)
        self.opt, self._step = _optax_step(loss, name, hyper)
        self.data = data
        self.terms: dict = {}
        self.converged = False

    def init(self, x: jax.Array) -> Wrapped:
        return Wrapped(x, jnp.float32(jnp.inf), jnp.int32(0), self.opt.init(x))

    def step(self, state: Wrapped) -> Wrapped:
        # The loss reported is that of state.x, evaluated within this step.
        x, inner, value, self.terms, evals = self._step(self.data, state.x, state.inner)
        return Wrapped(x, value, state.evaluations + evals, inner)


def make_optimizer(
    cfg: dict, loss: Loss, fg_data: Objective, data: Any, loop: str = "host", chunk: int = 10
) -> Optimizer:
    """``cfg``: the optimizer config group (``name`` and its hyper-parameters).
    ``loss``: pure (data, x) -> (total, terms); ``fg_data``: jitted (data, x) -> (total, terms, grad).
    ``loop="device"``: nstjax's L-BFGS ``chunk`` steps per jitted call (``nstjax.optim.lbfgs_device``)."""
    name = cfg["name"]
    fg = functools.partial(fg_data, data)
    history = int(cfg.get("history", 100))
    max_evals = int(cfg.get("max_evals_per_step", 25))
    if name == "lbfgs" and loop == "device":
        from nstjax.optim.lbfgs_device import DeviceLBFGS

        return DeviceLBFGS(
            fg_data, data, history=history, max_evals_per_step=max_evals, lr=float(cfg.get("lr", 1.0)), chunk=chunk
        )
    if name == "lbfgs":
        return LBFGS(fg, history=history, max_evals_per_step=max_evals, lr=float(cfg.get("lr", 1.0)))
    if name in ("jaxopt", "lbfgsb"):
        return Jaxopt(fg, history=history, boxed=name == "lbfgsb", max_evals_per_step=max_evals)
    if name == "optax_lbfgs":
        return Optax(loss, data, "lbfgs", history=history)
    if name == "adam":
        return Optax(loss, data, "adam", lr=float(cfg.get("lr", 10.0)))
    raise ValueError(f"unknown optimizer {name!r}; valid: {', '.join(OPTIMIZERS)}")


def resample(opt: Optimizer, fg_data: Objective, data: Any, state: Any) -> Any:
    """Binds new data (a stochastic statistic's fresh directions, ``swd``) before the next step, so the
    step's line search sees one function. L-BFGS re-evaluates its current point under the new data (one
    counted evaluation): its start and its curvature pair then compare values of the same function."""
    if isinstance(opt, LBFGS):
        opt.fg = functools.partial(fg_data, data)
        loss, opt.terms, grad = opt.fg(state.x)
        return state._replace(loss=loss, grad=grad, evaluations=state.evaluations + 1)
    if isinstance(opt, Optax):
        opt.data = data  # evaluates at state.x within its step anyway
        return state
    raise ValueError("a stochastic style statistic needs optimizer=lbfgs, optax_lbfgs or adam")
