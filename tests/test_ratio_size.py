"""``ratio_size``: a ratio weighs content against style as at the reference size (512 px), whatever the size.

Under ``convention=paper`` the content term ½ Σ (F − P)² grows with the image's area and the style term
does not, so without ``ratio_size`` one ratio weighs style 16× more at 128 px than at 512 px.
"""

from __future__ import annotations

import jax
import pytest

from nstjax.objective.conventions import size_factor
from nstjax.run.config import ConfigError, validate
from nstjax.run.experiments import compose


def _run(images_dir, size: int, ratio_size: int | None, **extra):
    return validate(
        compose(
            {
                "content": str(images_dir / "tubingen.jpg"),
                "style": str(images_dir / "starry_night.jpg"),
                "image_size": size,
                "ratio": 1e-3,
                "ratio_size": ratio_size,
                "init": "noise",
                "progress": False,
                **extra,
            },
            [],
        )
    )


def test_size_factor_is_the_area_ratio_only_where_content_sums_positions():
    assert size_factor("paper", 128 * 96, 512 * 384) == 16.0
    assert size_factor("keras", 256 * 192, 512 * 384) == 4.0
    assert size_factor("reference", 128 * 96, 512 * 384) == 1.0  # both terms are means: size-free already
    assert size_factor("paper", 128 * 96, None) == 1.0  # ratio_size=null: the raw α


def test_content_weight_is_rescaled_by_the_area_and_style_weight_is_not(images_dir):
    run = _run(images_dir, 128, 512, content_weight=2.0)
    assert run.content_weight_at((96, 128)) == pytest.approx(2.0 * (512 * 384) / (128 * 96))
    assert run.content_weight_at((384, 512)) == pytest.approx(2.0)
    assert run.style_weight == pytest.approx(2.0 / 1e-3)  # β = α / ratio, the printed ratio
    assert _run(images_dir, 128, None, content_weight=2.0).content_weight_at((96, 128)) == 2.0
    assert _run(images_dir, 128, 512, convention="reference").content_weight_at((96, 128)) == 1.0


def test_the_default_is_the_papers_512px():
    assert validate(compose({}, [])).ratio_size == 512


@pytest.mark.parametrize("bad", [0, -5, 8, "big", 1.5])
def test_bad_ratio_size_is_one_line(bad):
    with pytest.raises(ConfigError, match="ratio_size"):
        validate(compose({"ratio_size": bad}, []))


def test_the_balance_at_the_start_matches_512px(images_dir, params):
    """α·content / (β·style) at a white-noise start, at 128, 256 and 512 px. With ``ratio_size=512``
    the smaller sizes are within 20% of 512 px; without it, 128 px is over 8× off."""
    from nstjax.objective import compiled
    from nstjax.run.runner import prepare

    def balance(size: int, ratio_size: int | None) -> float:
        # Shallow layers keep the 512 px forward pass cheap; the area scaling is the same at every layer.
        run = _run(images_dir, size, ratio_size, content_layers=["relu2_2"], style_layers="upto2", conv="direct")
        problem = prepare(run, params)
        _, terms = jax.jit(compiled.loss_fn(run.spec))(problem.data, problem.x0)
        w = problem.data.weights
        return float(w.content * terms["content"] / (w.style * terms["style"]))

    reference = balance(512, 512)
    for size in (128, 256):
        assert balance(size, 512) == pytest.approx(reference, rel=0.2)
    raw = balance(128, None)
    assert raw < reference / 8  # the confound ratio_size removes: style 16× heavier by the weights at 128 px


def test_a_run_uses_the_rescaled_weight(tmp_path, images_dir, params):
    """End to end: at 64 px (48×64), ratio_size=512 is the raw objective with α × 64 (β kept) — the same image,
    and a different one from the raw α (so the key reaches the optimised objective, not only the config)."""
    import numpy as np
    from PIL import Image

    from nstjax.run.batch import stylize_batch

    runs = [
        _run(images_dir, 64, rs, content_weight=cw, style_weight=1e3, steps=5, init="content", conv="direct")
        for rs, cw in ((512, 1.0), (None, 64.0), (None, 1.0))
    ]
    dirs = [tmp_path / name for name in ("scaled", "raw_times_64", "raw")]
    summaries = stylize_batch(runs, params, dirs)
    assert [s["steps"] for s in summaries] == [5, 5, 5]
    scaled, by_hand, raw = (np.asarray(Image.open(d / "final.png"), np.float32) for d in dirs)
    assert np.abs(scaled - by_hand).max() <= 1.0  # equal weights: equal images (PNG rounding)
    assert np.abs(scaled - raw).mean() > 1.0  # 64× less content weight moves the image elsewhere
    assert summaries[0]["loss"]["content"] < summaries[2]["loss"]["content"]
