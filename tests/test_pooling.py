"""The pooling family: each definition on a small array, by hand."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from nstjax.model.pooling import POOLING

X = np.arange(1.0, 1.0 + 5 * 4).reshape(1, 5, 4, 1) ** 1.5  # odd height: the last row is dropped


def windows(x):
    return [
        [x[0, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2, 0] for j in range(x.shape[2] // 2)] for i in range(x.shape[1] // 2)
    ]


@pytest.mark.parametrize("name, reduce", [("max", np.max), ("avg", np.mean), ("l2", lambda w: np.sqrt(np.mean(w**2)))])
def test_window_poolings(name, reduce):
    out = np.asarray(POOLING[name](X))
    expected = np.array([[reduce(w) for w in row] for row in windows(X)])
    assert out.shape == (1, 2, 2, 1)
    np.testing.assert_allclose(out[0, ..., 0], expected, rtol=1e-6)


def test_l2_lies_between_avg_and_max_and_equals_them_on_constant_windows():
    x = np.abs(np.random.default_rng(0).normal(size=(2, 8, 6, 3)))
    l2, avg, mx = (np.asarray(POOLING[k](x)) for k in ("l2", "avg", "max"))
    assert (avg <= l2 + 1e-6).all() and (l2 <= mx + 1e-6).all() and (l2 > avg + 1e-4).any()
    np.testing.assert_allclose(POOLING["l2"](np.full((1, 4, 4, 1), 3.0)), 3.0, rtol=1e-6)


def test_blur_pool_is_stride_one_max_then_a_121_blur_at_stride_two():
    x = np.random.default_rng(1).normal(size=(1, 8, 8, 2))
    # By hand: 2×2 max at stride 1 (edge padded), reflection pad 1, [1,2,1]⊗[1,2,1]/16, every other position.
    xp = np.pad(x, ((0, 0), (0, 1), (0, 1), (0, 0)), mode="edge")
    m = np.maximum.reduce([xp[:, :-1, :-1], xp[:, 1:, :-1], xp[:, :-1, 1:], xp[:, 1:, 1:]])
    mp = np.pad(m, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")
    k = np.outer([1, 2, 1], [1, 2, 1]) / 16.0
    expected = np.array(
        [
            [
                [np.sum(k[:, :, None] * mp[0, 2 * i : 2 * i + 3, 2 * j : 2 * j + 3], axis=(0, 1)) for j in range(4)]
                for i in range(4)
            ]
        ]
    )
    np.testing.assert_allclose(np.asarray(POOLING["blur"](x)), expected, rtol=1e-5, atol=1e-6)
    # A constant map stays constant.
    np.testing.assert_allclose(POOLING["blur"](np.full((1, 6, 6, 1), 2.0)), 2.0, rtol=1e-6)


@pytest.mark.parametrize("name", list(POOLING))
def test_gradients_are_finite_on_dead_relus(name):
    x = np.zeros((1, 4, 4, 2), np.float32)
    g = jax.grad(lambda z: POOLING[name](z).sum())(x)
    assert np.isfinite(np.asarray(g)).all()
