"""``loop=device``: nstjax's L-BFGS, line search included, inside one jitted ``lax`` loop per chunk of steps.

The host loop (``nstjax.optim.lbfgs``) reads the loss and a slope back to Python at every trial point: on a CPU
that costs nothing, on a GPU each read stalls the device (an evaluation there is milliseconds). This is
the same mathematics — the two-loop recursion, the strong-Wolfe search of Nocedal & Wright (Alg. 3.5,
3.6) with cubic interpolation, the first step moving the largest pixel by ``lr``, the retry along steepest
descent after a failed search — as a ``lax.while_loop`` per step and a ``lax.scan`` over K steps, so the
host touches the device once per chunk. Its buffers are allocated whole (``history`` pairs): a jitted loop
cannot grow them.
"""

from __future__ import annotations

from functools import partial
from typing import Any, NamedTuple, TypeVar

import jax
import jax.numpy as jnp

from nstjax.optim.lbfgs import LbfgsState, Objective, ValueAndGrad, _direction

_P = TypeVar("_P")  # a pytree

C1, C2 = 1e-4, 0.9


class Point(NamedTuple):
    t: jax.Array
    f: jax.Array
    slope: jax.Array  # gᵀd
    grad: jax.Array
    terms: dict


def _select(c: jax.Array, a: _P, b: _P) -> _P:
    """a where c, else b, leaf by leaf."""
    return jax.tree.map(lambda x, y: jnp.where(c, x, y), a, b)


def _cubic_min(
    t1: jax.Array,
    f1: jax.Array,
    g1: jax.Array,
    t2: jax.Array,
    f2: jax.Array,
    g2: jax.Array,
    lo: jax.Array,
    hi: jax.Array,
) -> jax.Array:
    """``nstjax.optim.lbfgs._cubic_min`` in jnp: the cubic's minimiser through two points, clamped; bisection
    if none."""
    d1 = g1 + g2 - 3.0 * (f1 - f2) / jnp.where(t1 == t2, 1.0, t1 - t2)
    disc = d1 * d1 - g1 * g2
    d2 = jnp.sign(t2 - t1) * jnp.sqrt(jnp.maximum(disc, 0.0))
    t = t2 - (t2 - t1) * (g2 + d2 - d1) / (g2 - g1 + 2.0 * d2)
    ok = (t1 != t2) & (disc >= 0) & jnp.isfinite(t)
    return jnp.where(ok, jnp.clip(t, lo, hi), 0.5 * (lo + hi))


def line_search(
    fg: ValueAndGrad, x: jax.Array, d: jax.Array, start: Point, t0: jax.Array, max_evals: int
) -> tuple[Point, jax.Array]:
    """Strong-Wolfe search along ``d`` as one ``lax.while_loop``; returns (accepted point, evaluations).
    The accepted point is ``start`` (t = 0) when no decrease was found, as in the host version."""
    BRACKET, ZOOM, DONE = 0, 1, 2

    def probe(t: jax.Array) -> Point:
        f, terms, g = fg(x + t * d)
        return Point(t, f, jnp.vdot(g, d), g, terms)

    def sufficient(p: Point) -> jax.Array:
        return jnp.isfinite(p.f) & (p.f <= start.f + C1 * p.t * start.slope)

    def curvature(p: Point) -> jax.Array:
        return jnp.abs(p.slope) <= -C2 * start.slope

    class Carry(NamedTuple):
        phase: jax.Array
        evals: jax.Array
        t: jax.Array  # next trial in the bracketing phase
        prev: Point
        lo: Point
        hi: Point
        result: Point

    def body(c: Carry) -> Carry:
        # The trial step: the bracketing phase's next t, or the zoom's safeguarded interpolation.
        a, b = jnp.minimum(c.lo.t, c.hi.t), jnp.maximum(c.lo.t, c.hi.t)
        width = b - a
        cubic = _cubic_min(c.lo.t, c.lo.f, c.lo.slope, c.hi.t, c.hi.f, c.hi.slope, a, b)
        guess = jnp.where(jnp.isfinite(c.hi.f), cubic, 0.5 * (a + b))
        guess = jnp.clip(guess, a + 0.1 * width, b - 0.1 * width)
        collapsed = (c.phase == ZOOM) & (width <= 1e-12 * jnp.maximum(1.0, b))
        p = probe(jnp.where(c.phase == BRACKET, c.t, guess))

        # Bracketing (Alg. 3.5).
        prev_is_start = c.prev.t == 0
        to_zoom_a = ~sufficient(p) | (~prev_is_start & (p.f >= c.prev.f))  # zoom(prev, p)
        accept_b = ~to_zoom_a & curvature(p)
        to_zoom_b = ~to_zoom_a & ~accept_b & (p.slope >= 0)  # zoom(p, prev)
        nxt = _cubic_min(c.prev.t, c.prev.f, c.prev.slope, p.t, p.f, p.slope, p.t + 0.01 * (p.t - c.prev.t), 10.0 * p.t)
        br_phase = jnp.where(accept_b, DONE, jnp.where(to_zoom_a | to_zoom_b, ZOOM, BRACKET))
        br = Carry(
            br_phase,
            c.evals + 1,
            nxt,
            _select(to_zoom_a | to_zoom_b | accept_b, c.prev, p),
            _select(to_zoom_a, c.prev, p),
            _select(to_zoom_a, p, c.prev),
            p,
        )

        # Zoom (Alg. 3.6).
        worse = ~sufficient(p) | (p.f >= c.lo.f)
        accept_z = ~worse & curvature(p)
        flip = ~worse & ~accept_z & (p.slope * (c.hi.t - c.lo.t) >= 0)
        new_hi = _select(worse, p, _select(flip, c.lo, c.hi))
        new_lo = _select(worse, c.lo, p)
        zm = Carry(jnp.where(accept_z, DONE, ZOOM), c.evals + 1, c.t, c.prev, new_lo, new_hi, p)
        zm_collapsed = c._replace(phase=jnp.int32(DONE), result=c.lo)

        out = jax.tree.map(lambda z, bb: jnp.where(c.phase == ZOOM, z, bb), _select(collapsed, zm_collapsed, zm), br)
        # Out of evaluations: the bracketing phase keeps prev if it decreased, the zoom its lower end.
        exhausted = (out.phase != DONE) & (out.evals >= max_evals)
        fallback = _select(out.phase == ZOOM, out.lo, _select(out.prev.f < start.f, out.prev, start))
        return _select(exhausted, out._replace(phase=jnp.int32(DONE), result=fallback), out)

    init = Carry(jnp.int32(BRACKET), jnp.int32(0), t0, start, start, start, start)
    c = jax.lax.while_loop(lambda c: c.phase != DONE, body, init)
    return c.result, c.evals


def _push(state: LbfgsState, x: jax.Array, loss: jax.Array, grad: jax.Array, evaluations: jax.Array) -> LbfgsState:
    s, y = x - state.x, grad - state.grad
    sy = jnp.vdot(s, y, precision=jax.lax.Precision.HIGHEST)
    keep = sy > 1e-10 * jnp.sqrt(jnp.vdot(s, s) * jnp.vdot(y, y))  # as the host: skip non-positive curvature
    m = state.s.shape[0]
    head = state.head
    return LbfgsState(
        x,
        loss,
        grad,
        jnp.where(keep, state.s.at[head].set(s), state.s),
        jnp.where(keep, state.y.at[head].set(y), state.y),
        jnp.where(keep, state.rho.at[head].set(1.0 / sy), state.rho),
        jnp.where(keep, (head + 1) % m, head),
        jnp.where(keep, jnp.minimum(state.filled + 1, m), state.filled),
        state.iteration + 1,
        evaluations,
    )


def step(
    fg: ValueAndGrad, state: LbfgsState, terms: dict, lr: float, max_evals: int, tolerance_grad: float
) -> tuple[LbfgsState, dict, jax.Array]:
    """One L-BFGS iteration; returns (state, terms, converged). A converged state is returned unchanged."""
    stationary = jnp.max(jnp.abs(state.grad)) <= tolerance_grad
    start = Point(jnp.float32(0.0), state.loss, jnp.float32(0.0), state.grad, terms)

    def attempt(use_history: bool, st: LbfgsState) -> tuple[Point, jax.Array, jax.Array]:
        if use_history:
            d, t = _direction(st), jnp.float32(1.0)
        else:  # steepest descent, the largest pixel moved by lr (see nstjax.optim.lbfgs)
            d, t = -st.grad, lr / jnp.max(jnp.abs(st.grad))
        slope = jnp.vdot(st.grad, d)
        skipped = (start._replace(slope=slope), jnp.int32(0))
        # Not a descent direction (a bad curvature pair): no search, as the host version.
        point, used = jax.lax.cond(
            slope < 0, lambda: line_search(fg, st.x, d, start._replace(slope=slope), t, max_evals), lambda: skipped
        )
        return point, used, d

    nothing = (start, jnp.int32(0), jnp.zeros_like(state.x))
    p1, used1, d1 = jax.lax.cond(state.filled > 0, lambda: attempt(True, state), lambda: nothing)
    retry = p1.t <= 0
    reset = state._replace(filled=jnp.int32(0))  # forget curvature pairs that misled the search
    p2, used2, d2 = jax.lax.cond(retry, lambda: attempt(False, reset), lambda: (p1, jnp.int32(0), d1))
    point, d = _select(retry, p2, p1), _select(retry, d2, d1)
    evals = state.evaluations + used1 + used2
    base = _select(retry, reset, state)
    accepted = _push(base, state.x + point.t * d, point.f, point.grad, evals)
    failed = base._replace(iteration=state.iteration + 1, evaluations=evals)
    moved = point.t > 0
    new = _select(moved, accepted, failed)
    new_terms = _select(moved, point.terms, terms)
    final = _select(stationary, state, new)
    return final, _select(stationary, terms, new_terms), stationary | ~moved


@partial(jax.jit, static_argnames=("fg", "chunk", "lr", "max_evals", "tolerance_grad"))
def run_chunk(
    fg: Objective,
    data: Any,
    state: LbfgsState,
    terms: dict,
    active_steps: jax.Array,
    chunk: int,
    lr: float = 1.0,
    max_evals: int = 25,
    tolerance_grad: float = 1e-7,
) -> tuple[LbfgsState, dict, tuple[jax.Array, dict, jax.Array, jax.Array]]:
    """Up to ``chunk`` iterations on the device (the first ``active_steps`` of them; the rest repeat the
    state, so one compiled program serves every chunk). ``fg(data, x) -> (loss, terms, grad)``, unjitted.
    Returns the final state and terms, and per step: loss, terms, evaluations and whether it converged."""

    def f(x: jax.Array) -> tuple[jax.Array, dict, jax.Array]:
        return fg(data, x)

    def body(
        carry: tuple[LbfgsState, dict, jax.Array], i: jax.Array
    ) -> tuple[tuple[LbfgsState, dict, jax.Array], tuple[jax.Array, dict, jax.Array, jax.Array]]:
        st, tm, done = carry
        new, new_terms, conv = step(f, st, tm, lr, max_evals, tolerance_grad)
        live = (i < active_steps) & ~done
        st, tm = _select(live, new, st), _select(live, new_terms, tm)
        done = done | (live & conv)
        return (st, tm, done), (st.loss, tm, st.evaluations, done)

    (state, terms, _), records = jax.lax.scan(body, (state, terms, jnp.bool_(False)), jnp.arange(chunk))
    return state, terms, records


def init(fg: Objective, data: Any, x: jax.Array, history: int) -> tuple[LbfgsState, dict]:
    """The first evaluation and full-size buffers."""
    loss, terms, grad = jax.jit(fg)(data, x)
    z = jnp.zeros((history, *x.shape), x.dtype)
    return LbfgsState(
        x, loss, grad, z, z, jnp.zeros((history,), x.dtype), jnp.int32(0), jnp.int32(0), jnp.int32(0), jnp.int32(1)
    ), terms


class DeviceLBFGS:
    """The ``init``/``step`` interface of the host L-BFGS, computed ``chunk`` steps at a time on the device.

    ``step`` returns one step's state per call from the last chunk's records; within a chunk the image
    (``x``) is the chunk's last, so images and checkpoints are taken at chunk ends (``save_every`` and
    ``checkpoint_every`` must be multiples of ``chunk``: ``nstjax.run.config`` checks).
    """

    def __init__(
        self,
        fg: Objective,
        data: Any,
        history: int = 100,
        max_evals_per_step: int = 25,
        lr: float = 1.0,
        chunk: int = 10,
        tolerance_grad: float = 1e-7,
    ) -> None:
        self.fg, self.data, self.history, self.chunk = fg, data, history, chunk
        self.kw = dict(lr=lr, max_evals=max_evals_per_step, tolerance_grad=tolerance_grad)
        self.terms: dict = {}
        self.converged = False
        self._pending: list = []
        self._steps_left: int | None = None

    def init(self, x: jax.Array) -> LbfgsState:
        state, self.terms = init(self.fg, self.data, x, self.history)
        return state

    def limit(self, steps_left: int) -> None:
        """How many steps the run still wants (the last chunk does only those)."""
        self._steps_left = steps_left

    def step(self, state: LbfgsState) -> LbfgsState:
        if not self._pending:
            active = self.chunk if self._steps_left is None else min(self.chunk, self._steps_left)
            end, end_terms, (losses, terms, evals, done) = run_chunk(
                self.fg, self.data, state, self.terms, jnp.int32(active), chunk=self.chunk, **self.kw
            )
            losses, evals, done = jax.device_get((losses, evals, done))  # the one host round trip per chunk
            terms = jax.device_get(terms)
            for i in range(active):
                self._pending.append(
                    (
                        end if i == active - 1 else None,
                        end,
                        losses[i],
                        {k: v[i] for k, v in terms.items()},
                        evals[i],
                        bool(done[i]),
                    )
                )
                if done[i]:
                    break
        final, end, loss, terms, evals, done = self._pending.pop(0)
        self.terms, self.converged = terms, done
        if done:
            self._pending.clear()
        view = final if final is not None else end
        return view._replace(loss=jnp.float32(loss), evaluations=jnp.int32(evals))
