"""style_loss=mrf (Li & Wand 2016) and style_loss=hist (Risser et al. 2017): each one's defining property
on small synthetic inputs whose answer is known, their configuration, and short real runs (64 px)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import compose_cfg

from nstjax.objective.statistics import STYLE_LOSSES
from nstjax.objective.statistics.base import at_layer
from nstjax.objective.statistics.hist import GRAM_HIST, remap, target_values
from nstjax.objective.statistics.moments import GRAM
from nstjax.objective.statistics.mrf import copies, mrf, nearest, patches
from nstjax.run.config import ConfigError, validate


def relu_map(seed: int, h: int, w: int, c: int = 4) -> jax.Array:
    """A feature map like a ReLU layer's: non-negative, with some exact zeros."""
    x = np.random.default_rng(seed).normal(0.3, 1.0, size=(h, w, c))
    return jnp.asarray(np.maximum(x, 0.0), jnp.float32)


def im2col(f: np.ndarray, stride: int = 1) -> np.ndarray:
    """3×3 patches by explicit loops (row, column, channel order): the brute-force reference."""
    f = np.asarray(f, np.float64)
    h, w = f.shape[0] - 2, f.shape[1] - 2
    return np.stack([f[i : i + 3, j : j + 3].reshape(-1) for i in range(0, h, stride) for j in range(0, w, stride)])


def brute_nearest(x: np.ndarray, style: np.ndarray, stride: int) -> np.ndarray:
    out, bank = im2col(x), im2col(style, stride)
    cos = (out @ bank.T) / (np.linalg.norm(out, axis=1)[:, None] * np.linalg.norm(bank, axis=1)[None, :] + 1e-12)
    return np.argmax(cos, axis=1)


# --- mrf ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stride", [1, 2])
def test_mrf_matches_are_the_brute_force_argmax_of_cosine_similarity(stride):
    x, style = relu_map(0, 9, 11), relu_map(1, 10, 8)
    t = mrf(stride=stride).describe(style)
    want = brute_nearest(np.asarray(x), np.asarray(style), stride)
    got = np.asarray(nearest(x, t["patches"], t["inv_norm"])).reshape(-1)
    np.testing.assert_array_equal(got, want)
    # Chunked by output rows (one row per chunk here): the same matches.
    tiny = np.asarray(nearest(x, t["patches"], t["inv_norm"], chunk_bytes=1)).reshape(-1)
    np.testing.assert_array_equal(tiny, want)


def test_mrf_is_zero_when_the_output_is_the_style_and_positive_otherwise():
    style = relu_map(2, 12, 10)
    t = mrf(stride=1).describe(style)
    assert float(mrf().distance(style, t)) == 0.0
    other = float(mrf().distance(relu_map(3, 12, 10), t))
    assert other > 1e-3 * float(t["energy"]) ** 2


def test_mrf_gradient_is_that_of_the_patch_energy_with_the_match_frozen():
    x, style = relu_map(4, 9, 10), relu_map(5, 8, 9)
    stat = mrf(stride=1)
    t = stat.describe(style)
    nn = brute_nearest(np.asarray(x), np.asarray(style), 1)
    frozen = jnp.asarray(im2col(np.asarray(style))[nn], jnp.float32)  # Ψ_NN(i)(x_s), constant
    p, d = frozen.shape
    scale = float(t["energy"]) / (p * d)  # the statistic's units: e · mean over patches and entries

    def energy(z):
        return scale * jnp.sum(jnp.square(patches(z).reshape(p, d) - frozen))

    assert float(stat.distance(x, t)) == pytest.approx(float(energy(x)), rel=1e-5)
    np.testing.assert_allclose(jax.grad(lambda z: stat.distance(z, t))(x), jax.grad(energy)(x), rtol=1e-4, atol=1e-7)


def test_mrf_several_styles_match_in_the_union_of_their_patches():
    a, b = relu_map(6, 10, 10), relu_map(7, 9, 11)
    stat = mrf(stride=1)
    union = stat.mix([stat.describe(a), stat.describe(b)], [0.5, 0.5])
    # The output equal to either style finds its own patches in the union.
    assert float(stat.distance(a, union)) == 0.0 and float(stat.distance(b, union)) == 0.0
    assert float(stat.distance(a, stat.describe(b))) > 0.0


def test_mrf_style_copies_are_rotated_in_7_5_degree_steps_cropped_to_valid_pixels_and_scaled_by_1_05():
    flat = np.full((80, 120, 3), 200, np.uint8)
    out = copies(flat, rotations=1, scales=1)
    assert len(out) == 9
    assert out[4].shape == flat.shape  # k = 0, j = 0: the style itself
    for image in out:  # no blank corners: every pixel comes from inside the rotated image
        assert image.min() >= 195, image.min()
    assert out[3].shape[1] == round(120 / 1.05) and out[5].shape[1] == round(120 * 1.05)
    # A 7.5° turn of a 120×80 image keeps the largest inscribed rectangle, by hand (s = sin 7.5°, c = cos 7.5°):
    # (120c − 80s)/(c² − s²) = 112.4 wide, (80c − 120s)/(c² − s²) = 65.9 high.
    assert out[1].shape[:2] == (65, 112) and out[7].shape[:2] == (65, 112)


def test_mrf_too_small_for_a_patch_is_one_clear_error():
    from nstjax.io.images import ImageError

    stat = mrf()
    with pytest.raises(ImageError, match="the style image has none"):
        stat.distance(relu_map(11, 6, 6), stat.describe(relu_map(12, 2, 5)))
    with pytest.raises(ImageError, match="the output has 2×4 positions"):
        stat.distance(relu_map(13, 4, 2), stat.describe(relu_map(14, 6, 6)))


# --- hist --------------------------------------------------------------------------------------------


def test_hist_remap_puts_the_targets_sorted_values_in_the_samples_rank_order():
    rng = np.random.default_rng(8)
    x = jnp.asarray(rng.normal(size=(50, 3)), jnp.float32)
    target = np.sort(rng.exponential(size=(50, 3)), axis=0).astype(np.float32)
    r = np.asarray(remap(x, jnp.asarray(target.T)))  # the target as rows: each channel's sorted values
    np.testing.assert_array_equal(np.sort(r, axis=0), target)  # exactly the target's values
    np.testing.assert_array_equal(np.argsort(r, axis=0), np.argsort(np.asarray(x), axis=0))  # in x's order


def test_hist_remap_interpolates_quantiles_when_the_counts_differ():
    target = jnp.asarray(np.arange(7, dtype=np.float32)[None, :])  # one channel: values 0..6 at levels (j + ½)/7
    # Three samples take levels 1/6, 1/2, 5/6: positions 7·level − ½ = 2/3, 3, 16/3 along 0..6.
    np.testing.assert_allclose(np.asarray(target_values(target, 3))[0], [2 / 3, 3.0, 16 / 3], rtol=1e-6)
    x = jnp.asarray([[5.0], [-1.0], [2.0]])
    np.testing.assert_allclose(np.asarray(remap(x, target))[:, 0], [16 / 3, 2 / 3, 3.0], rtol=1e-6)


def test_hist_is_zero_at_the_style_and_its_gradient_does_not_pass_through_the_remap():
    rng = np.random.default_rng(9)
    style = jnp.asarray(np.abs(rng.normal(1.0, 1.0, size=(60, 4))), jnp.float32)
    x = jnp.asarray(np.abs(rng.normal(0.5, 2.0, size=(60, 4))), jnp.float32)
    t = GRAM_HIST.describe(style)
    assert float(GRAM_HIST.distance(style, t)) == 0.0
    e = float(np.mean(np.asarray(style) ** 2))
    r = np.asarray(remap(x, t["sorted"]))
    want = 2 * e / x.size * (np.asarray(x) - r)  # ∂/∂O of e · mean (O − R)², R a constant
    got = jax.grad(lambda z: GRAM_HIST.distance(z, t) - GRAM.distance(z, t))(x)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-7)
    hist_term = float(GRAM_HIST.distance(x, t) - GRAM.distance(x, t))
    assert hist_term == pytest.approx(e * np.mean((np.asarray(x) - r) ** 2), rel=1e-5)


def test_hist_adds_histograms_at_relu1_1_and_relu4_1_only_and_mixes_styles_as_their_union():
    hist = STYLE_LOSSES["hist"]
    assert [at_layer(hist, n) is GRAM_HIST for n in ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")] == [
        True,
        False,
        False,
        True,
        False,
    ]
    rng = np.random.default_rng(10)
    a, b = (jnp.asarray(np.abs(rng.normal(m, 1.0, size=(40, 3))), jnp.float32) for m in (0.0, 2.0))
    mixed = GRAM_HIST.mix([GRAM_HIST.describe(a), GRAM_HIST.describe(b)], [0.5, 0.5])
    union = GRAM_HIST.describe(jnp.concatenate([a, b]))
    x = jnp.asarray(np.abs(rng.normal(1.0, 1.0, size=(80, 3))), jnp.float32)
    assert float(GRAM_HIST.distance(x, mixed)) == pytest.approx(float(GRAM_HIST.distance(x, union)), rel=1e-4)


# --- configuration -----------------------------------------------------------------------------------


def test_config_mrf_defaults_its_papers_layers_and_checks_its_keys(images_dir):
    run = validate(compose_cfg("style_loss=mrf"))
    assert run.spec.style_layers == ("relu3_1", "relu4_1")
    assert dict(run.spec.style_options) == {"stride": 2, "rotations": 0, "scales": 0}
    assert validate(compose_cfg("style_loss=mrf", "style_layers=[relu4_1]")).spec.style_layers == ("relu4_1",)
    assert dict(validate(compose_cfg("style_loss=mrf", "mrf.stride=1")).spec.style_options)["stride"] == 1
    assert validate(compose_cfg("style_loss=gram", "mrf.stride=1")).spec.style_options == ()
    for bad, says in [
        ("mrf.stride=0", "mrf.stride must be an integer >= 1"),
        ("mrf.rotations=-1", "mrf.rotations must be an integer >= 0"),
        ("mrf.scales=1.5", "mrf.scales must be an integer >= 0"),
    ]:
        with pytest.raises(ConfigError, match=says):
            validate(compose_cfg("style_loss=mrf", bad))
    style = str(images_dir / "starry_night.jpg")
    for loss in ("mrf", "hist"):
        with pytest.raises(ConfigError, match="style_masks works with"):
            validate(compose_cfg(f"style_loss={loss}", f"style=[{style},{style}]", f"style_masks=[{style},{style}]"))
    with pytest.raises(ConfigError, match="style_blend weights mean nothing"):
        validate(compose_cfg("style_loss=mrf", f"style=[{style},{style}]", "style_blend=[0.7,0.3]"))
    blended = validate(compose_cfg("style_loss=hist", f"style=[{style},{style}]", "style_blend=[0.7,0.3]"))
    assert blended.style_blend == (0.7, 0.3)


# --- real runs (64 px) -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small(images_dir) -> list[str]:
    """tubingen in the style of starry_night at 64 px."""
    return [
        f"content={images_dir / 'tubingen.jpg'}",
        f"style={images_dir / 'starry_night.jpg'}",
        "image_size=64",
        "progress=false",
    ]


@pytest.mark.parametrize("loss", ["mrf", "hist"])
def test_each_lowers_its_own_style_term(tmp_path, params, small, loss):
    import json

    from nstjax.run.runner import run

    run(validate(compose_cfg(*small, f"style_loss={loss}", "steps=6")), params, tmp_path)
    styles = [json.loads(line)["style"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert styles[-1] < 0.7 * styles[0], styles


@pytest.mark.parametrize("loss", ["mrf", "hist"])
def test_batched_sweep_evaluates_each_run_as_alone(params, small, loss):
    from nstjax.objective import compiled
    from nstjax.run import batch
    from nstjax.run.runner import load_inputs, prepare

    runs = [
        validate(compose_cfg(*small, f"style_loss={loss}", f"ratio={r}", "init=noise", f"seed={s}"))
        for r, s in ((1e-3, 0), (1e-2, 1))
    ]
    assert batch.batch_key(runs[0]) is not None and batch.group(runs) == [[0, 1]]
    inputs = load_inputs(runs[0])
    problems = [prepare(r, params, inputs) for r in runs]
    fg = batch.value_and_grad_fn(problems[0].spec)
    totals, _, grads = fg(batch.stack_data(problems), jnp.stack([p.x0 for p in problems]))
    for i, p in enumerate(problems):
        total, _, grad = compiled.value_and_grad_fn(p.spec)(p.data, p.x0)
        assert float(totals[i]) == pytest.approx(float(total), rel=1e-4)
        np.testing.assert_allclose(grads[i], grad, rtol=1e-3, atol=1e-3 * float(jnp.abs(grad).max()))
