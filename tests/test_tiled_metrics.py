"""The yardstick tile by tile (nstjax.objective.tiled_metrics): the untiled numbers, and what a tiled run records."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import run_job, summary

from nstjax.io import images
from nstjax.objective import metrics, tiled, tiled_metrics

REL = 1e-5  # float32 summation order: measured ≤ 2e-7 on these images (192 px, 16 px tiles)


def _close(tiles: dict, whole: dict, rel: float = REL) -> None:
    assert tiles.keys() == whole.keys()
    for key, value in whole.items():
        assert tiles[key] == pytest.approx(value, rel=rel), (key, tiles[key], value)


def _output(content: np.ndarray, style: np.ndarray) -> np.ndarray:
    """An output-like image: the content with the style's colours and some noise (uint8)."""
    rng = np.random.default_rng(0)
    mixed = 0.6 * content + 0.4 * style + rng.normal(0, 12, content.shape)
    return np.clip(mixed, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def square192(images_dir):
    """tubingen, starry_night and an output at 192×192: with 16 px tiles and the 80 px halo, 2×2 windows of
    176 px, each cut by the image's interior on two sides."""
    content, style = (
        images.resize(images.read(images_dir / n), (192, 192)) for n in ("tubingen.jpg", "starry_night.jpg")
    )
    return _output(content, style), content, style


def test_tiled_scores_are_the_untiled_ones_where_windows_cut_the_image(params, square192):
    out, content, style = square192
    plan = tiled.plan(out.shape, 16, tiled_metrics.LAYERS, metrics.POOLING)
    assert len(plan) == 4 and {(r.size, c.size) for r, c in plan} == {(176, 176)}
    whole = metrics.score(out, content, style, params)
    _close(metrics.score(out, content, style, params, tile=16), whole)
    # The swd projections gathered in chunks of directions (a later chunk reruns the network up to its layers).
    budget = 12 * 2**20  # a third of the 37 MB of projections: the shallow layers chunked, the deep ones whole
    assert tiled_metrics.chunks(out.shape, budget) == {
        "relu1_1": 8,
        "relu2_1": 4,
        "relu3_1": 1,
        "relu4_1": 1,
        "relu5_1": 1,
    }
    network = {k: v for k, v in whole.items() if k != "colour"}
    _close(tiled_metrics.scores(out, content, style, params, 16, budget), network)


def test_an_image_within_one_tile_scores_as_untiled(params, images_dir):
    content, style = (images.read(images_dir / n, (48, 64)) for n in ("tubingen.jpg", "starry_night.jpg"))
    content, style = images.resize(content, (48, 64)), images.resize(style, (48, 64))
    out = _output(content, style)
    assert len(tiled.plan(out.shape, 512, tiled_metrics.LAYERS, metrics.POOLING)) == 1
    _close(metrics.score(out, content, style, params, tile=512), metrics.score(out, content, style, params))


def test_the_yardstick_tile_keeps_to_its_own_pooling_grid():
    # A run's tile follows its layers' grid (8 px up to relu4_x); the yardstick's reaches relu5_1 (16 px).
    assert [tiled_metrics.yardstick_tile(t) for t in (8, 16, 24, 512)] == [16, 16, 32, 512]


def test_a_tiled_run_records_the_tiled_yardstick_equal_to_scoring_its_image_untiled(tmp_path, pair64, monkeypatch):
    calls = []
    real = tiled_metrics.scores
    monkeypatch.setattr(tiled_metrics, "scores", lambda *a, **k: calls.append(a[4]) or real(*a, **k))
    run = tmp_path / "run"
    recorded = run_job(run, *pair64, "style_layers=upto3", "content_layers=[relu3_1]", "tile=16", "steps=2")
    assert recorded["tiling"]["tile"] == 16 and calls == [16]  # the run's tile reached the yardstick
    _close(summary(run)["metrics"], metrics.score_files(run / "final.png", pair64[0][8:], pair64[1][6:]))
