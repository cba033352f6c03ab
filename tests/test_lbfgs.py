"""nstjax's L-BFGS on problems with known minima, and its line search's guarantees."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from nstjax.optim.lbfgs import LBFGS, _Point, strong_wolfe


def rosenbrock_fg():
    def f(x):
        return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2), {}

    vg = jax.jit(jax.value_and_grad(f, has_aux=True))

    def fg(x):
        (v, aux), g = vg(x)
        return v, aux, g

    return fg


def test_lbfgs_solves_rosenbrock():
    opt = LBFGS(rosenbrock_fg(), history=10)
    state = opt.init(jnp.full((6,), -1.2))
    for _ in range(200):
        if opt.converged:
            break
        state = opt.step(state)
    np.testing.assert_allclose(np.asarray(state.x), np.ones(6), atol=1e-3)
    assert int(state.evaluations) < 400


def test_badly_scaled_quadratic_first_step_is_scaled():
    # The style objective starts near 1e10 with gradients near 1e8: a unit first step would overshoot.
    scale = jnp.asarray(np.logspace(0, 6, 50), jnp.float32)

    def fg(x):
        return 1e4 * jnp.sum(scale * x**2), {}, 2e4 * scale * x

    opt = LBFGS(fg, history=20)
    state = opt.init(jnp.ones(50))
    f0 = float(state.loss)
    for _ in range(60):
        state = opt.step(state)
    # scipy's L-BFGS-B (float64, same history) reaches 1.2e-4·f0 in 60 iterations on this problem.
    assert float(state.loss) < 2e-4 * f0


def test_strong_wolfe_conditions_hold():
    fg = rosenbrock_fg()
    x = jnp.asarray([-1.2, 1.0, 0.5])
    loss, aux, g = fg(x)
    d = -g
    start = _Point(0.0, float(loss), float(jnp.vdot(g, d)), (loss, aux, g))
    point, evals = strong_wolfe(fg, x, d, start, t=1.0)
    assert point is not start and evals >= 1
    assert point.loss <= start.loss + 1e-4 * point.t * start.slope
    assert abs(point.slope) <= 0.9 * abs(start.slope)


def test_growing_history_matches_preallocated(monkeypatch):
    # The ring buffers start small and double (8 → 16 → 20 here); the iterates must be those of buffers
    # allocated whole, through growth and wrap-around.
    from nstjax.optim import lbfgs

    def run(initial: int):
        monkeypatch.setattr(lbfgs, "INITIAL_CAPACITY", initial)
        opt = LBFGS(rosenbrock_fg(), history=20)
        state = opt.init(jnp.linspace(-1.5, 1.5, 12))
        shapes = set()
        for _ in range(45):
            state = opt.step(state)
            shapes.add(state.s.shape[0])
        return state, shapes

    grown, grown_shapes = run(8)
    whole, whole_shapes = run(20)
    assert grown_shapes == {8, 16, 20} and whole_shapes == {20}
    assert int(grown.evaluations) == int(whole.evaluations)
    np.testing.assert_allclose(np.asarray(grown.x), np.asarray(whole.x), rtol=1e-5, atol=1e-6)
