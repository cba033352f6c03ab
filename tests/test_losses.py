"""The loss terms against their definitions, written out in numpy."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nstjax.objective import losses


@pytest.fixture
def feats():
    rng = np.random.default_rng(0)
    return {"a": rng.normal(size=(6, 5, 4)).astype(np.float32), "b": rng.normal(size=(3, 2, 8)).astype(np.float32)}


def test_gram_is_f_ft(feats):
    f = feats["a"].reshape(-1, 4).T.astype(np.float64)  # N×M
    np.testing.assert_allclose(losses.gram(jnp.asarray(feats["a"])), f @ f.T, rtol=1e-5)


def test_content_loss_is_half_squared_error(feats):
    rng = np.random.default_rng(1)
    target = {"a": rng.normal(size=(6, 5, 4)).astype(np.float32)}
    expected = 0.5 * np.sum((feats["a"].astype(np.float64) - target["a"]) ** 2)
    assert float(losses.content_loss(feats, target)) == pytest.approx(expected, rel=1e-5)


def test_style_loss_matches_paper_formula(feats):
    rng = np.random.default_rng(2)
    other = {k: rng.normal(size=v.shape).astype(np.float32) for k, v in feats.items()}
    grams = {k: {"second": losses.gram(jnp.asarray(v)) / (v.shape[0] * v.shape[1])} for k, v in other.items()}
    w = {"a": 0.25, "b": 0.75}
    expected = 0.0
    for k, f in feats.items():
        n, m = f.shape[-1], f.shape[0] * f.shape[1]
        fm, om = f.reshape(-1, n).T.astype(np.float64), other[k].reshape(-1, n).T.astype(np.float64)
        expected += w[k] * np.sum((fm @ fm.T - om @ om.T) ** 2) / (4 * n**2 * m**2)
    assert float(losses.style_loss(feats, grams, w)) == pytest.approx(expected, rel=1e-5)
    assert float(losses.style_loss(other, grams, w)) == pytest.approx(0.0, abs=1e-9)


def test_tv_loss_chollet_form():
    x = np.random.default_rng(3).uniform(0, 255, size=(7, 9, 3))
    a = (x[:-1, :-1] - x[1:, :-1]) ** 2
    b = (x[:-1, :-1] - x[:-1, 1:]) ** 2
    assert float(losses.tv_loss(jnp.asarray(x, jnp.float32))) == pytest.approx(np.sum((a + b) ** 1.25), rel=1e-5)
    flat = jnp.full((8, 8, 3), 17.0)
    assert float(losses.tv_loss(flat)) < 1e-10
    assert bool(jnp.all(jnp.isfinite(jax.grad(losses.tv_loss)(flat))))


def test_total_loss_weights_terms(feats):
    image = jnp.ones((4, 4, 3))
    targets = {"a": jnp.zeros_like(feats["a"])}
    grams = {"b": {"second": jnp.zeros((8, 8))}}
    total, terms = losses.total_loss(feats, image, targets, grams, {"b": 1.0}, losses.Weights(2.0, 3.0, 5.0))
    assert set(terms) == {"content", "style", "tv"}
    assert float(total) == pytest.approx(
        2 * float(terms["content"]) + 3 * float(terms["style"]) + 5 * float(terms["tv"]), rel=1e-6
    )
    assert float(terms["content"]) > 0 and float(terms["style"]) > 0
