"""Style statistics and conventions: each one's defining property on small inputs."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nstjax.objective import losses
from nstjax.objective.conventions import CONVENTIONS, REFERENCE_RATIO
from nstjax.objective.statistics import STYLE_LOSSES, directions, sliced_w2

KEY = jax.random.PRNGKey(0)


def feats(seed, m=400, n=6, shift=0.0, scale=1.0):
    return jnp.asarray(np.abs(np.random.default_rng(seed).normal(1.0, scale, size=(m, n))) + shift, jnp.float32)


def dist(name, x, y, key=KEY):
    stat = STYLE_LOSSES[name]
    return float(stat.distance(x, stat.mix([stat.describe(y)], [1.0]), None, key))


@pytest.mark.parametrize("name", [n for n, s in STYLE_LOSSES.items() if not s.spatial])  # mrf: its own tests
def test_zero_at_the_targets_own_features_and_positive_elsewhere(name):
    x, y = feats(0), feats(1, shift=0.5)
    assert dist(name, x, x) == pytest.approx(0.0, abs=1e-4 * dist(name, x, y))
    assert dist(name, x, y) > 0


def test_mean_std_ignores_the_order_of_positions():
    x, y = feats(0), feats(1, scale=2.0)
    perm = np.random.default_rng(2).permutation(x.shape[0])
    assert dist("mean_std", x[perm], y) == pytest.approx(dist("mean_std", x, y), rel=1e-5)


def test_w2_matches_the_gaussian_closed_form():
    rng = np.random.default_rng(3)
    n = 4
    mu_a, sd_a, mu_b, sd_b = rng.uniform(1, 3, n), rng.uniform(0.5, 2, n), rng.uniform(1, 3, n), rng.uniform(0.5, 2, n)
    a = jnp.asarray(rng.normal(mu_a, sd_a, size=(200_000, n)), jnp.float32)
    b = jnp.asarray(rng.normal(mu_b, sd_b, size=(200_000, n)), jnp.float32)
    energy = float(np.mean(np.mean(np.asarray(b, np.float64) ** 2, axis=0)))
    closed = (np.sum((mu_a - mu_b) ** 2) + np.sum((sd_a - sd_b) ** 2)) / n  # diagonal covariances
    assert dist("w2", a, b) / energy == pytest.approx(closed, rel=3e-2)


def test_swd_is_zero_for_identical_sets_and_grows_with_a_shift():
    x = feats(4)
    values = [dist("swd", x + s, x) for s in (0.0, 0.5, 1.0, 2.0)]
    assert values[0] == pytest.approx(0.0, abs=1e-6)
    assert values[1] < values[2] < values[3]
    # Quantile matching: a target twice as large (the same values repeated) is the same distribution.
    assert dist("swd", x, jnp.concatenate([x, x])) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("name", ["gram", "mean_std", "w2", "swd"])
def test_blending_two_styles_is_the_statistic_of_their_mixture(name):
    a, b, x = feats(5, shift=0.0), feats(6, shift=1.0), feats(7, shift=0.3)
    stat = STYLE_LOSSES[name]
    mixed = stat.mix([stat.describe(a), stat.describe(b)], [0.5, 0.5])
    union = stat.mix([stat.describe(jnp.concatenate([a, b]))], [1.0])
    assert float(stat.distance(x, mixed, None, KEY)) == pytest.approx(
        float(stat.distance(x, union, None, KEY)), rel=1e-3
    )


def test_sliced_w2_sorted_path_equals_the_quantile_path():
    # Equal counts and weights take one sort; explicit weights take the weighted-quantile path.
    x, y = feats(20), feats(21, shift=0.7)
    d = directions(KEY, x.shape[1])
    uniform = jnp.full((y.shape[0],), 1.0 / y.shape[0])
    assert float(sliced_w2(x, y, None, d)) == pytest.approx(float(sliced_w2(x, y, uniform, d)), rel=1e-6)
    g_fast = jax.grad(lambda z: sliced_w2(z, y, None, d))(x)
    g_quantile = jax.grad(lambda z: sliced_w2(z, y, uniform, d))(x)
    np.testing.assert_allclose(g_fast, g_quantile, rtol=1e-5, atol=1e-7)
    # Two equally weighted copies of y are the same distribution as y.
    assert float(sliced_w2(x, jnp.concatenate([y, y]), None, d)) == pytest.approx(
        float(sliced_w2(x, y, None, d)), rel=1e-5
    )


def test_swd_draws_its_directions_from_the_key():
    x, y = feats(8), feats(9, shift=0.4)
    assert dist("swd", x, y, KEY) == dist("swd", x, y, KEY)
    assert dist("swd", x, y, KEY) != dist("swd", x, y, jax.random.PRNGKey(1))


def test_gradients_are_finite_for_every_statistic():
    x, y = feats(10), feats(11, shift=0.2)
    for name, stat in STYLE_LOSSES.items():
        a, b = (x.reshape(20, 20, -1), y.reshape(20, 20, -1)) if stat.spatial else (x, y)  # mrf reads H×W×C maps
        t = stat.mix([stat.describe(b)], [1.0])
        g = jax.grad(lambda z, stat=stat, t=t: stat.distance(z, t, None, KEY))(a)  # bound now, called at once
        assert bool(jnp.all(jnp.isfinite(g))), name


def test_conventions_pin_each_formula_on_a_tiny_input():
    rng = np.random.default_rng(12)
    f = {
        "relu1_1": rng.normal(size=(3, 4, 64)).astype(np.float32),
        "relu2_1": rng.normal(size=(2, 2, 128)).astype(np.float32),
    }
    p = {k: rng.normal(size=v.shape).astype(np.float32) for k, v in f.items()}
    targets = {k: STYLE_LOSSES["gram"].describe(jnp.asarray(v.reshape(-1, v.shape[-1]))) for k, v in p.items()}
    # Content: paper ½ Σ (F − P)²; reference mean((F − P)²).
    d = f["relu1_1"].astype(np.float64) - p["relu1_1"]
    content = {"relu1_1": jnp.asarray(p["relu1_1"])}
    assert float(losses.content_loss(f, content, "paper")) == pytest.approx(0.5 * np.sum(d**2), rel=1e-5)
    assert float(losses.content_loss(f, content, "reference")) == pytest.approx(np.mean(d**2), rel=1e-5)
    # Style, reference: Σ_l 1e3/N_l² · mean((G/M − A/M)²), the released code's GramMSELoss.
    weights = CONVENTIONS["reference"].layer_weights(tuple(f))
    assert weights == {"relu1_1": 1e3 / 64**2, "relu2_1": 1e3 / 128**2}
    expected = 0.0
    for k, v in f.items():
        fm, pm = v.reshape(-1, v.shape[-1]).astype(np.float64), p[k].reshape(-1, v.shape[-1]).astype(np.float64)
        m = fm.shape[0]
        expected += weights[k] * np.mean((fm.T @ fm / m - pm.T @ pm / m) ** 2)
    ours = losses.style_loss(f, targets, weights, "gram", "reference")
    assert float(ours) == pytest.approx(expected, rel=1e-4)
    # Paper: the same per-layer term is ¼ of it; w_l = 1/L.
    paper_w = CONVENTIONS["paper"].layer_weights(tuple(f))
    assert paper_w == {"relu1_1": 0.5, "relu2_1": 0.5}
    paper = losses.style_loss(f, targets, {k: 1.0 for k in f}, "gram", "paper")
    assert float(paper) == pytest.approx(
        0.25 * float(losses.style_loss(f, targets, {k: 1.0 for k in f}, "gram", "reference")), rel=1e-6
    )
    # Keras example: Σ (F − P)² and Σ_l (1/L) Σ (G − A)² / (4·3²·(H·W)²), H·W the image's pixels.
    assert float(losses.content_loss(f, content, "keras")) == pytest.approx(np.sum(d**2), rel=1e-5)
    pixels = 48 * 48
    keras = 0.0
    for k, v in f.items():
        fm, pm = v.reshape(-1, v.shape[-1]).astype(np.float64), p[k].reshape(-1, v.shape[-1]).astype(np.float64)
        keras += 0.5 * np.sum((fm.T @ fm - pm.T @ pm) ** 2) / (4 * 9 * pixels**2)
    ours = losses.style_loss(f, targets, CONVENTIONS["keras"].layer_weights(tuple(f)), "gram", "keras", pixels=pixels)
    assert float(ours) == pytest.approx(keras, rel=1e-4)
    # β from α and the ratio label: paper α/ratio; reference α·1e-3/ratio (1 at the default ratio).
    assert CONVENTIONS["paper"].beta(2.0, 1e-3) == pytest.approx(2e3)
    assert CONVENTIONS["keras"].beta(0.025, 0.025) == pytest.approx(1.0)
    assert CONVENTIONS["reference"].beta(1.0, REFERENCE_RATIO) == pytest.approx(1.0)
    assert CONVENTIONS["reference"].beta(1.0, 1e-5) == pytest.approx(100.0)
