"""STROTSS's relaxed EMD (remd) with its self-similarity content loss, and the contextual loss (cx): each
one's defining property on small synthetic sets, the config's one-line refusals, and runs from the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import compose_cfg
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.optimize import linear_sum_assignment

from nstjax.objective import content, losses
from nstjax.objective.statistics import STYLE_LOSSES
from nstjax.objective.statistics.cx import contextual_similarity
from nstjax.objective.statistics.remd import columns, cosine_cost, hypercolumns, relaxed_emd
from nstjax.run.config import ConfigError, validate

KEY = jax.random.PRNGKey(0)


def points(seed: int, m: int = 300, n: int = 8, shift: float = 0.0) -> jax.Array:
    return jnp.asarray(np.abs(np.random.default_rng(seed).normal(1.0, 1.0, size=(m, n))) + shift, jnp.float32)


# Each compiled once (op-by-op dispatch would compile every primitive for every new shape).
distance = {
    name: jax.jit(lambda x, t, key, name=name: STYLE_LOSSES[name].distance(x, t, None, key)) for name in ("remd", "cx")
}
describe = {name: jax.jit(STYLE_LOSSES[name].describe) for name in ("remd", "cx")}


def remd(x, y):
    return float(distance["remd"](x, describe["remd"](y), KEY))


def cx(x, y, key=KEY):
    return float(distance["cx"](x, describe["cx"](y), key))


# --- remd ----------------------------------------------------------------------------------------------


def test_relaxed_emd_is_zero_for_identical_sets_and_ignores_the_order_of_positions():
    x, y = points(0), points(1, shift=0.5)
    perm_x, perm_y = np.random.default_rng(2).permutation(x.shape[0]), np.random.default_rng(3).permutation(y.shape[0])
    assert float(relaxed_emd(cosine_cost(x, x))) == pytest.approx(0.0, abs=1e-6)
    assert float(relaxed_emd(cosine_cost(x, y))) > 1e-3
    reordered = float(relaxed_emd(cosine_cost(x[perm_x], y[perm_y])))
    assert reordered == pytest.approx(float(relaxed_emd(cosine_cost(x, y))), rel=1e-6)
    # The whole term (relaxed EMD + moments): zero at the style's own set, whatever the order.
    assert remd(x, x) == pytest.approx(0.0, abs=1e-5 * remd(x, y))
    assert remd(x[perm_x], y) == pytest.approx(remd(x, y), rel=1e-4)


@given(arrays(np.float32, (2, 6, 3), elements=st.floats(-2, 2, width=32)))
def test_relaxed_emd_is_at_most_the_exact_emd(sets):
    cost = np.asarray(cosine_cost(jnp.asarray(sets[0]), jnp.asarray(sets[1])), np.float64)
    rows, cols = linear_sum_assignment(cost)  # equal masses and counts: the optimal plan is a permutation
    exact = cost[rows, cols].mean()
    assert float(relaxed_emd(jnp.asarray(cost, jnp.float32))) <= exact + 1e-5


def test_hypercolumns_read_each_layer_at_the_position_bilinearly():
    rng = np.random.default_rng(4)
    fine = jnp.asarray(rng.normal(size=(8, 8, 2)), jnp.float32)
    ramp = jnp.stack(jnp.meshgrid(jnp.arange(4.0), jnp.arange(4.0), indexing="ij"), -1)  # value = (row, col)
    positions = jnp.asarray([[0.0, 0.0], [3.0, 5.0], [7.0, 7.0], [4.0, 2.0]])
    h = hypercolumns({"relu1_1": fine, "relu2_1": ramp}, positions, (8, 8))
    np.testing.assert_allclose(h[:, :2], fine[positions[:, 0].astype(int), positions[:, 1].astype(int)])
    # Pixel centres aligned: fine row r sits at coarse row (r + 0.5)/2 − 0.5, clamped to the map.
    expected = np.clip((np.asarray(positions) + 0.5) / 2 - 0.5, 0, 3)
    np.testing.assert_allclose(h[:, 2:], expected, atol=1e-6)
    # Output positions come from the key (the same key, the same draw); the style's from a fixed grid.
    maps = {"relu1_1": jnp.asarray(rng.normal(size=(64, 64, 3)), jnp.float32)}
    drawn = jax.jit(columns)
    np.testing.assert_array_equal(drawn(maps, KEY), drawn(maps, KEY))
    assert drawn(maps, KEY).shape == (1024, 3) and columns(maps, None).shape == (4096, 3)
    assert not np.array_equal(drawn(maps, KEY), drawn(maps, jax.random.PRNGKey(1)))


def test_blending_two_styles_is_the_statistic_of_their_union():
    a, b, x = points(5), points(6, shift=1.0), points(7, shift=0.3)
    for name in ("remd", "cx"):
        stat = STYLE_LOSSES[name]
        mixed = stat.mix([describe[name](a), describe[name](b)], [0.5, 0.5])
        union = stat.mix([describe[name](jnp.concatenate([a, b]))], [1.0])
        assert float(distance[name](x, mixed, KEY)) == pytest.approx(float(distance[name](x, union, KEY)), rel=1e-4)


# --- self-similarity content loss ----------------------------------------------------------------------


def test_self_similarity_is_zero_at_the_content_and_ignores_each_positions_norm():
    rng = np.random.default_rng(8)
    p = {"relu4_2": jnp.asarray(np.abs(rng.normal(size=(40, 40, 16))), jnp.float32)}  # 1600 positions: sampled
    other = {"relu4_2": jnp.asarray(np.abs(rng.normal(size=(40, 40, 16))), jnp.float32)}
    loss = jax.jit(lambda f: content.self_similarity(f, p, "paper", KEY))
    assert float(loss(p)) <= 1e-6 * float(loss(other))  # zero but for float32 rounding
    # Cosine distances ignore each position's norm: brighter or darker, the same pattern of alike positions.
    gain = jnp.asarray(rng.uniform(0.2, 5.0, size=(40, 40, 1)), jnp.float32)
    assert float(loss({"relu4_2": p["relu4_2"] * gain})) <= 1e-5 * float(loss(other))
    # In the content term's units: the convention's term of P against zero times SCALE·ℓ_C, ℓ_C in [0, 2].
    ell = float(loss(other)) / (content.SCALE * 0.5 * float(jnp.sum(p["relu4_2"] ** 2)))
    assert 0.0 < ell <= 2.0


# --- cx ------------------------------------------------------------------------------------------------


def test_cx_is_zero_for_identical_sets_and_ignores_the_order_of_positions():
    x, y = points(9), points(10, shift=0.5)
    perm_x = np.random.default_rng(11).permutation(x.shape[0])
    perm_y = np.random.default_rng(12).permutation(y.shape[0])
    assert cx(x, x) == pytest.approx(0.0, abs=1e-4)
    assert cx(x, y) > 0.1
    assert cx(x[perm_x], y[perm_y]) == pytest.approx(cx(x, y), rel=1e-5)


def test_contextual_similarity_on_a_case_known_by_hand():
    # Orthogonal style features, each with an exact copy among the output's: CX_ij is 1 on the copies, CX = 1.
    y = jnp.eye(3)
    mean = jnp.zeros(3)
    assert float(contextual_similarity(y, y, mean)) == pytest.approx(1.0, abs=1e-6)
    # Output feature 0 halfway between style features 0 and 1: d = 1 − 1/√2 to both, 1 to feature 2; its row
    # splits between 0 and 1, so style feature 0's best match is ≈ ½ and CX = (CX_00 + 1 + 1)/3.
    d = 1 - 1 / np.sqrt(2)
    w = np.exp((1 - np.array([d, d, 1.0]) / (d + 1e-5)) / 0.5)
    expected = (w[0] / w.sum() + 2) / 3
    between = y.at[0].set(jnp.asarray([1.0, 1.0, 0.0]))
    assert float(contextual_similarity(between, y, mean)) == pytest.approx(expected, rel=1e-5)


def test_cx_samples_large_layers_from_the_key():
    x, y = points(13, m=5000, n=4), points(14, m=5000, n=4, shift=0.2)  # more than 65² positions
    assert cx(x, y, KEY) == cx(x, y, KEY)
    assert cx(x, y, KEY) != cx(x, y, jax.random.PRNGKey(1))


def test_remd_through_the_objective_is_the_joint_term_of_all_style_layers():
    rng = np.random.default_rng(15)
    feats = {
        "relu1_1": jnp.asarray(np.abs(rng.normal(size=(16, 16, 4))), jnp.float32),
        "relu2_1": jnp.asarray(np.abs(rng.normal(size=(8, 8, 6))), jnp.float32),
    }
    targets = losses.style_summaries(STYLE_LOSSES["remd"], feats, ("relu1_1", "relu2_1"))
    assert list(targets) == ["all_style_layers"] and targets["all_style_layers"]["columns"].shape == (256, 10)
    weights = {"relu1_1": 0.5, "relu2_1": 0.5}
    term_of = jax.jit(lambda f: losses.style_loss(f, targets, weights, "remd", "paper", key=KEY))
    other = {k: v[::-1] + 0.5 for k, v in feats.items()}
    term = float(term_of(other))
    # 256 positions, all read: at the style's own features the two sets are equal.
    assert float(term_of(feats)) == pytest.approx(0.0, abs=1e-5 * term)
    # Paper convention: Σ_l w_l · ¼ = ¼ of SCALE · e² · (ℓ_r + ℓ_m), one term for both layers.
    joint = float(distance["remd"](columns(other, KEY), targets["all_style_layers"], KEY))
    assert term == pytest.approx(0.25 * joint, rel=1e-5)


# --- configuration ---------------------------------------------------------------------------------------


def test_config_keys_and_one_line_refusals():
    assert validate(compose_cfg("style_loss=cx")).spec.style_layers == ("relu3_2", "relu4_2")
    assert validate(compose_cfg("style_loss=cx", "style_layers=[relu4_1]")).spec.style_layers == ("relu4_1",)
    paper = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    assert validate(compose_cfg("style_loss=remd")).spec.style_layers == paper
    assert validate(compose_cfg("content_loss=self_similarity")).spec.content_loss == "self_similarity"
    refusals = [
        (["style_loss=remd", "style_masks=[a.png]"], "style_masks"),
        (["style_loss=cx", "style_masks=[a.png]"], "style_masks"),
        (["style_loss=remd", "style_layer_weights=[1,0,0,0,0]"], "choose style_layers instead"),
        (["content_loss=self_similarity", "optimizer=lbfgsb"], "self_similarity needs fresh random numbers"),
        (["style_loss=cx", "loop=device"], "style_loss=cx draws random numbers per iteration"),
        (["content_loss=l1"], "content_loss must be one of mse, self_similarity"),
    ]
    for overrides, message in refusals:
        with pytest.raises(ConfigError, match=message) as err:
            validate(compose_cfg(*overrides))
        assert "\n" not in str(err.value)


# --- from the CLI ----------------------------------------------------------------------------------------


def cli(tmp_path, *args):
    env = {**os.environ, "WANDB_MODE": "disabled"}
    return subprocess.run(
        [sys.executable, "-m", "nstjax.entry.stylize", *args, "image_size=64", "progress=false"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def logged(run_dir, term: str) -> list[float]:
    return [json.loads(line)[term] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_a_multirun_of_remd_and_cx_lowers_each_style_term(tmp_path, images_dir):
    out = tmp_path / "sweep"
    r = cli(
        tmp_path,
        "-m",
        "style_loss=remd,cx",
        "steps=3",
        f"content={images_dir / 'tubingen.jpg'}",
        f"style={images_dir / 'starry_night.jpg'}",
        f"hydra.sweep.dir={out}",
    )
    assert r.returncode == 0, r.stderr[-3000:]
    seen = set()
    for job in sorted(p for p in out.iterdir() if p.is_dir()):
        summary = json.loads((job / "summary.json").read_text())
        seen.add(summary["config"]["style_loss"])
        style = logged(job, "style")
        assert len(style) == 3 and style[-1] < 0.9 * style[0], (job.name, style)
    assert seen == {"remd", "cx"}


def test_a_self_similarity_run_lowers_its_content_term(tmp_path, images_dir):
    out = tmp_path / "run"
    # Content alone, from white noise: the self-similarity term is the whole objective.
    r = cli(
        tmp_path,
        "content_loss=self_similarity",
        "style_weight=0",
        "init=noise",
        "steps=3",
        f"content={images_dir / 'tubingen.jpg'}",
        f"style={images_dir / 'starry_night.jpg'}",
        f"hydra.run.dir={out}",
    )
    assert r.returncode == 0, r.stderr[-3000:]
    term = logged(out, "content")
    assert len(term) == 3 and term[-1] < 0.9 * term[0], term
