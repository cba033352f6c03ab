"""L-BFGS with a strong-Wolfe line search, driven from Python.

Why not jaxopt's or optax's loop: they evaluate the network inside ``lax.while_loop``, which ran ~2.6×
slower per evaluation on CPU than a jitted loss+gradient called from Python. Here only the cheap vector
algebra is jitted; every loss+gradient pass is one call of the caller's jitted function, counted exactly.
The state is a pytree of arrays, so it checkpoints and resumes bit-for-bit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from functools import partial
from typing import Any, NamedTuple, TypeVar

import jax
import jax.numpy as jnp

_T = TypeVar("_T")
# (loss, terms, gradient) at one point: one full forward+backward pass.
Evaluation = tuple[jax.Array, dict, jax.Array]
ValueAndGrad = Callable[[jax.Array], Evaluation]
# (data, x) -> (loss, terms, gradient): the objective with its data as an argument.
Objective = Callable[[Any, jax.Array], Evaluation]
# Yields trial points x, is sent back fg(x) for each, returns its result.
Search = Generator[jax.Array, Evaluation, _T]


INITIAL_CAPACITY = 8  # curvature pairs allocated at the start; doubled as they fill, up to ``history``


class LbfgsState(NamedTuple):
    x: jax.Array
    loss: jax.Array
    grad: jax.Array
    s: jax.Array  # (capacity ≤ history, *x.shape), a ring buffer
    y: jax.Array
    rho: jax.Array  # 1 / yᵀs per entry
    head: jax.Array  # next slot to write
    filled: jax.Array  # entries in use
    iteration: jax.Array
    evaluations: jax.Array


@jax.jit
def _direction(state: LbfgsState) -> jax.Array:
    """The two-loop recursion: −H·g with H the L-BFGS inverse-Hessian estimate."""
    m = state.s.shape[0]
    dot = partial(jnp.vdot, precision=jax.lax.Precision.HIGHEST)

    def newest_first(j: jax.Array, carry: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
        q, alphas = carry
        i = (state.head - 1 - j) % m
        a = state.rho[i] * dot(state.s[i], q)
        return q - a * state.y[i], alphas.at[i].set(a)

    q, alphas = jax.lax.fori_loop(0, state.filled, newest_first, (state.grad, jnp.zeros_like(state.rho)))
    newest = (state.head - 1) % m
    sy, yy = dot(state.s[newest], state.y[newest]), dot(state.y[newest], state.y[newest])
    gamma = jnp.where(state.filled > 0, sy / yy, 1.0)
    r = gamma * q

    def oldest_first(j: jax.Array, r: jax.Array) -> jax.Array:
        i = (state.head - state.filled + j) % m
        b = state.rho[i] * dot(state.y[i], r)
        return r + (alphas[i] - b) * state.s[i]

    return -jax.lax.fori_loop(0, state.filled, oldest_first, r)


@partial(jax.jit, donate_argnums=(0, 1, 2))
def _push(
    s_hist: jax.Array,
    y_hist: jax.Array,
    rho: jax.Array,
    head: jax.Array,
    filled: jax.Array,
    x_old: jax.Array,
    g_old: jax.Array,
    x: jax.Array,
    grad: jax.Array,
) -> tuple[jax.Array, ...]:
    """Adds the pair (s, y) to the ring buffers (donated: updated in place, no m×n copy)."""
    s, y = x - x_old, grad - g_old
    sy = jnp.vdot(s, y, precision=jax.lax.Precision.HIGHEST)
    scale = jnp.sqrt(jnp.vdot(s, s) * jnp.vdot(y, y))
    keep = sy > 1e-10 * scale  # skip pairs with (near) non-positive curvature: H must stay positive definite
    m = s_hist.shape[0]
    return (
        jnp.where(keep, s_hist.at[head].set(s), s_hist),
        jnp.where(keep, y_hist.at[head].set(y), y_hist),
        jnp.where(keep, rho.at[head].set(1.0 / sy), rho),
        jnp.where(keep, (head + 1) % m, head),
        jnp.where(keep, jnp.minimum(filled + 1, m), filled),
    )


@partial(jax.jit, static_argnums=1)
def _grow(state: LbfgsState, capacity: int) -> LbfgsState:
    """Full ring buffers, oldest entry first, with room for ``capacity`` entries."""

    def grown(a: jax.Array) -> jax.Array:
        a = jnp.roll(a, -state.head, axis=0)  # when full, the oldest entry sits at head
        return jnp.concatenate([a, jnp.zeros((capacity - a.shape[0], *a.shape[1:]), a.dtype)])

    return state._replace(s=grown(state.s), y=grown(state.y), rho=grown(state.rho), head=state.filled)


def _accept(
    state: LbfgsState, x: jax.Array, loss: jax.Array, grad: jax.Array, evaluations: int, history: int
) -> LbfgsState:
    capacity = state.s.shape[0]
    if capacity < history and int(state.filled) == capacity:
        # The buffers grow as pairs arrive (doubling, up to ``history``) instead of being allocated whole:
        # 2·history image-sized arrays are ~0.8 GB at 512 px, and a short run never fills them (torch's
        # L-BFGS grows its lists the same way).
        state = _grow(state, min(2 * capacity, history))
    s, y, rho, head, filled = _push(state.s, state.y, state.rho, state.head, state.filled, state.x, state.grad, x, grad)
    return LbfgsState(x, loss, grad, s, y, rho, head, filled, state.iteration + 1, jnp.int32(evaluations))


def _cubic_min(t1: float, f1: float, g1: float, t2: float, f2: float, g2: float, lo: float, hi: float) -> float:
    """Minimiser of the cubic through two points with slopes, clamped to [lo, hi]; bisection if none."""
    if t1 == t2:
        return 0.5 * (lo + hi)
    d1 = g1 + g2 - 3.0 * (f1 - f2) / (t1 - t2)
    disc = d1 * d1 - g1 * g2
    if disc >= 0:
        d2 = math.copysign(math.sqrt(disc), t2 - t1)
        t = t2 - (t2 - t1) * (g2 + d2 - d1) / (g2 - g1 + 2.0 * d2)
        if math.isfinite(t):
            return min(max(t, lo), hi)
    return 0.5 * (lo + hi)


class _Point(NamedTuple):
    t: float
    loss: float
    slope: float  # directional derivative gᵀd
    value: Evaluation  # (loss array, terms, grad)


def line_search(
    x: jax.Array, d: jax.Array, start: _Point, t: float, c1: float = 1e-4, c2: float = 0.9, max_evals: int = 25
) -> Search[tuple[_Point, int]]:
    """A step length satisfying the strong Wolfe conditions (Nocedal & Wright, Alg. 3.5 and 3.6).

    A generator: it yields each trial point and is sent back its ``(loss, terms, grad)``, so one driver
    can evaluate many searches in one batched call (``nstjax.run.batch``). Returns the accepted point
    (``start`` itself when no decrease was found) and the evaluations made.
    """
    evals = 0

    def probe(t: float) -> Search[_Point]:
        nonlocal evals
        evals += 1
        loss, terms, grad = yield x + t * d
        return _Point(t, float(loss), float(jnp.vdot(grad, d)), (loss, terms, grad))

    def sufficient(p: _Point) -> bool:
        return math.isfinite(p.loss) and p.loss <= start.loss + c1 * p.t * start.slope

    def curvature(p: _Point) -> bool:
        return abs(p.slope) <= -c2 * start.slope

    def zoom(lo: _Point, hi: _Point) -> Search[_Point]:
        while evals < max_evals:
            a, b = sorted((lo.t, hi.t))
            width = b - a
            if width <= 1e-12 * max(1.0, b):
                break
            if math.isfinite(hi.loss):
                guess = _cubic_min(lo.t, lo.loss, lo.slope, hi.t, hi.loss, hi.slope, a, b)
            else:
                guess = 0.5 * (a + b)
            guess = min(max(guess, a + 0.1 * width), b - 0.1 * width)  # stay away from the ends
            p = yield from probe(guess)
            if not sufficient(p) or p.loss >= lo.loss:
                hi = p
            else:
                if curvature(p):
                    return p
                if p.slope * (hi.t - lo.t) >= 0:
                    hi = lo
                lo = p
        return lo

    prev = start
    while evals < max_evals:
        p = yield from probe(t)
        if not sufficient(p) or (prev is not start and p.loss >= prev.loss):
            return (yield from zoom(prev, p)), evals
        if curvature(p):
            return p, evals
        if p.slope >= 0:
            return (yield from zoom(p, prev)), evals
        # Extrapolate: the cubic's minimiser, at least a little and at most 10× further.
        nxt = _cubic_min(prev.t, prev.loss, prev.slope, p.t, p.loss, p.slope, p.t + 0.01 * (p.t - prev.t), 10.0 * p.t)
        prev, t = p, nxt
    return (prev if prev.loss < start.loss else start), evals


def drive(search: Search[_T], fg: ValueAndGrad) -> _T:
    """Runs a generator of trial points (``line_search``, ``LBFGS.init_search``/``step_search``) with ``fg``."""
    try:
        x = next(search)
        while True:
            x = search.send(fg(x))
    except StopIteration as done:
        return done.value


def strong_wolfe(
    fg: ValueAndGrad,
    x: jax.Array,
    d: jax.Array,
    start: _Point,
    t: float,
    c1: float = 1e-4,
    c2: float = 0.9,
    max_evals: int = 25,
) -> tuple[_Point, int]:
    """``line_search`` evaluated with ``fg``."""
    return drive(line_search(x, d, start, t, c1, c2, max_evals), fg)


class LBFGS:
    """``init(x)`` evaluates once; each ``step(state)`` is one iteration (a line search of one or more evaluations).

    ``init_search``/``step_search`` are the same as generators of trial points, for a driver that
    evaluates several optimisations in lockstep (``nstjax.run.batch``); ``fg`` may then be None.
    """

    def __init__(
        self,
        fg: ValueAndGrad | None,
        history: int = 100,
        max_evals_per_step: int = 25,
        lr: float = 1.0,
        tolerance_grad: float = 1e-7,
    ) -> None:
        self.fg, self.history, self.max_evals, self.lr = fg, history, max_evals_per_step, lr
        self.tolerance_grad = tolerance_grad
        self.terms: dict = {}
        self.converged = False

    def init(self, x: jax.Array) -> LbfgsState:
        return drive(self.init_search(x), self._fg())

    def step(self, state: LbfgsState) -> LbfgsState:
        return drive(self.step_search(state), self._fg())

    def _fg(self) -> ValueAndGrad:
        if self.fg is None:
            raise TypeError("LBFGS(fg=None) has no function to evaluate: drive init_search/step_search instead")
        return self.fg

    def init_search(self, x: jax.Array) -> Search[LbfgsState]:
        loss, self.terms, grad = yield x
        m = min(self.history, INITIAL_CAPACITY)
        return LbfgsState(
            x,
            loss,
            grad,
            jnp.zeros((m, *x.shape), x.dtype),
            jnp.zeros((m, *x.shape), x.dtype),
            jnp.zeros((m,), x.dtype),
            jnp.int32(0),
            jnp.int32(0),
            jnp.int32(0),
            jnp.int32(1),
        )

    def step_search(self, state: LbfgsState) -> Search[LbfgsState]:
        if float(jnp.max(jnp.abs(state.grad))) <= self.tolerance_grad:  # a stationary point: nothing to do
            self.converged = True
            return state
        start = _Point(0.0, float(state.loss), 0.0, (state.loss, self.terms, state.grad))
        evals = 0
        # With history: the quasi-Newton step, unit length first. Without (first iteration, or after a
        # failed search): steepest descent, first moving the largest pixel by ``lr``. The paper's
        # objective is ~1e10 with gradients ~1e8 over ~1e6 pixels: torch's unit-L1 first step changes the
        # loss by less than float32 resolves at 512 px, and the search then stalls at the start.
        for use_history in (True, False) if int(state.filled) > 0 else (False,):
            if use_history:
                d, t = _direction(state), 1.0
                slope = float(jnp.vdot(state.grad, d))
                if not slope < 0:  # not a descent direction (a bad curvature pair)
                    continue
            else:
                d, t = -state.grad, self.lr / float(jnp.max(jnp.abs(state.grad)))
                slope = -float(jnp.vdot(state.grad, state.grad))
                state = state._replace(filled=jnp.int32(0))  # forget curvature pairs that misled the search
            point, used = yield from line_search(state.x, d, start._replace(slope=slope), t, max_evals=self.max_evals)
            evals += used
            if point.t > 0:
                loss, self.terms, grad = point.value
                return _accept(state, state.x + point.t * d, loss, grad, int(state.evaluations) + evals, self.history)
        self.converged = True  # no decrease along steepest descent either
        return state._replace(iteration=state.iteration + 1, evaluations=state.evaluations + evals)
