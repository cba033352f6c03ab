"""The size check's statistics against known truths: pairs whose Δ keeps its sign and order agree fully; an
unrelated ordering does not."""

from __future__ import annotations

import numpy as np
import pytest

from nstjax.stats.agreement import across_sizes, agreement


def _pairs(values):
    return {(f"c{i % 2}", f"s{i}"): float(v) for i, v in enumerate(values)}


def test_the_same_order_at_another_scale_agrees_in_sign_and_rank():
    a = _pairs([0.1, 0.05, -0.02, 0.3, 0.12, 0.07, -0.01, 0.2])
    b = {k: 2.0 * v + 0.001 for k, v in a.items()}  # twice the effect, same signs and order
    out = agreement(a, b)
    assert out["pairs"] == 8 and out["sign"] == 1.0 and out["spearman"] == pytest.approx(1.0)
    assert out["mean_b"] == pytest.approx(2 * out["mean_a"] + 0.001)


def test_reversed_signs_and_order_disagree_and_only_shared_pairs_count():
    a = _pairs([0.1, 0.2, 0.3, 0.4])
    b = {k: -v for k, v in a.items()}
    b[("c9", "s9")] = 1.0  # a pair only one size has
    out = agreement(a, b)
    assert out["pairs"] == 4 and out["sign"] == 0.0 and out["spearman"] == pytest.approx(-1.0)


def test_independent_orders_have_rho_near_zero_on_average():
    rng = np.random.default_rng(0)
    rhos = [agreement(_pairs(rng.normal(size=12)), _pairs(rng.normal(size=12)))["spearman"] for _ in range(300)]
    assert abs(np.mean(rhos)) < 0.05 and 0.2 < np.std(rhos) < 0.4  # sd of ρ under independence ≈ 1/√11 ≈ 0.30


def test_across_sizes_pairs_every_size_with_every_other():
    def summary(scale):
        pairs = [{"content": "c", "style": f"s{i}", "delta": scale * (i - 1.5)} for i in range(4)]
        return {"comparisons": [{"metric": "style_gram", "variant": "pooling=avg", "per_pair": pairs}]}

    out = across_sizes({64: summary(1.0), 128: summary(2.0), 256: summary(-1.0)}, ["style_gram"])
    table = out["style_gram"]["pooling=avg"]
    assert sorted(table) == ["128-256", "64-128", "64-256"]
    assert table["64-128"]["sign"] == 1.0 and table["64-256"]["sign"] == 0.0 and table["128-256"]["spearman"] == -1.0
