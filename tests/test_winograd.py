"""Winograd F(4×4,3×3) against XLA's direct convolution: values, image gradients, the whole network."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nstjax.model import vgg, winograd
from nstjax.objective import compiled


@pytest.mark.parametrize("h, w, c, k, seed", [(1, 1, 1, 1, 0), (7, 13, 3, 5, 1), (16, 9, 8, 16, 2), (23, 20, 4, 3, 3)])
def test_conv_and_input_gradient_match_direct(h, w, c, k, seed):
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.normal(size=(2, h, w, c)), jnp.float32)
    kernel = jnp.asarray(rng.normal(size=(3, 3, c, k)), jnp.float32)
    t = winograd.transform_kernels(kernel)
    # Jitted as the network runs them (one program each; op by op, every small operation compiled alone took
    # seconds a case).
    conv = {
        "direct": jax.jit(lambda x: vgg.conv_direct(x, kernel)),
        "winograd": jax.jit(lambda x: winograd.conv_winograd(x, t["winograd"], t["winograd_t"])),
    }
    direct, wino = conv["direct"](x), conv["winograd"](x)
    scale = float(jnp.abs(direct).max()) + 1e-6
    assert float(jnp.abs(wino - direct).max()) / scale < 1e-5
    probe = jnp.asarray(rng.normal(size=direct.shape), jnp.float32)
    g_direct, g_wino = (jax.jit(jax.grad(lambda x, f=f: jnp.vdot(f(x), probe)))(x) for f in conv.values())
    assert float(jnp.abs(g_wino - g_direct).max()) / (float(jnp.abs(g_direct).max()) + 1e-6) < 1e-5


def test_plan_follows_the_size_rule():
    assert winograd.plan((256, 256, 3)) == {
        "conv1_2",
        "conv2_1",
        "conv2_2",
        *(f"conv{b}_{i}" for b in (3, 4, 5) for i in range(1, 5)),
    }
    assert "conv2_1" in winograd.plan((384, 512, 3)) and "conv1_2" not in winograd.plan((384, 512, 3))
    assert winograd.plan((128, 128, 3)) == frozenset()  # small images: not worth the compile time
    assert "conv1_1" in winograd.plan((64, 64, 3), every_layer=True)


def test_whole_network_objective_and_gradient_match_direct(params, pair_128):
    content, style = pair_128
    results = {}
    # One set of targets for both (data, not program): what differs is the objective's convolutions.
    targets = compiled.make_targets(params, compiled.Spec(conv="direct"), content, [style])
    for conv in ("direct", "winograd"):
        spec = compiled.Spec(conv=conv)
        x = jnp.asarray(content, jnp.float32) + 10.0
        data = compiled.Data(
            compiled.prepare_params(spec, params, x.shape), targets, compiled.losses.Weights(1.0, 1e3, 0.0)
        )
        results[conv] = compiled.value_and_grad_fn(spec)(data, x)
    (ld, td, gd), (lw, tw, gw) = results["direct"], results["winograd"]
    assert abs(float(lw) - float(ld)) / float(ld) < 1e-4
    for term in ("content", "style"):
        assert abs(float(tw[term]) - float(td[term])) / float(td[term]) < 1e-4
    assert float(jnp.linalg.norm(gw - gd) / jnp.linalg.norm(gd)) < 1e-4
