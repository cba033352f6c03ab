"""The Python API, as a notebook uses it; and `nstjax --help`."""

from __future__ import annotations

import os
import subprocess
import sys

import jax
import numpy as np
import pytest

import nstjax


def test_stylize_from_a_notebook(tmp_path, pair_128, images_dir, monkeypatch, compilations):
    monkeypatch.chdir(tmp_path)
    content, style = pair_128
    result = nstjax.stylize(content, style, image_size=64, steps=6, pooling="max", ratio=1e-3)
    assert result.image.dtype == np.uint8 and result.image.shape == (48, 64, 3)
    assert [h["step"] for h in result.history] == list(range(1, 7))
    assert result.history[-1]["total"] < result.history[0]["total"]
    assert result.summary["config"]["pooling"] == "max" and result.metrics == result.summary["metrics"]
    assert list(tmp_path.iterdir()) == []  # no out_dir: nothing written
    # Paths work too, files only where asked; the second call (other weights, same shapes) builds no program.
    compilations.clear()
    again = nstjax.stylize(
        images_dir / "tubingen.jpg",
        str(images_dir / "starry_night.jpg"),
        out_dir=tmp_path / "run",
        image_size=64,
        steps=3,
        pooling="max",
        ratio=1e-2,
    )
    assert (tmp_path / "run" / "final.png").exists() and (tmp_path / "run" / "summary.json").exists()
    assert again.summary["loss"]["total"] != result.summary["loss"]["total"]
    assert compilations == [], compilations
    jax.jit(lambda x: x + 1)(np.float32(0))  # the counter sees a program that is new
    assert compilations == ["jit(<lambda>)"], compilations
    # The yardstick of any image.
    scored = nstjax.score(result.image, content, style)
    assert scored == pytest.approx(result.metrics, rel=1e-5)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"pooling": "median"}, "pooling must be one of max, avg, l2, blur"),
        ({"steps": float("inf")}, "steps must be finite"),
        ({"colour": 1}, "unknown key 'colour'"),
    ],
)
def test_bad_overrides_raise_value_error_with_the_cli_message(pair_128, overrides, message):
    content, style = pair_128
    with pytest.raises(ValueError, match=message) as info:
        nstjax.stylize(content, style, **overrides)
    assert "\n" not in str(info.value)


def test_help_shows_usage_examples_groups_and_every_key():
    r = subprocess.run(
        [sys.executable, "-m", "nstjax.entry.stylize", "--help"], capture_output=True, text=True, env={**os.environ}
    )
    assert r.returncode == 0, r.stderr
    text = r.stdout
    assert text.startswith("nstjax: optimisation-based neural style transfer")
    assert "nstjax -m " in text and "nstjax-report " in text and "Examples" in text
    assert "optimizer: adam, jaxopt, lbfgs, lbfgsb, optax_lbfgs" in text
    for key in ("image_size", "ratio", "pooling", "style_loss", "convention", "style_masks", "memory_budget"):
        line = next(ln for ln in text.splitlines() if ln.strip().startswith(key + " "))
        assert len(line.split(None, 2)) == 3, line  # key, default, meaning


def test_the_api_checks_what_the_cli_checks_before_any_work(tmp_path, pair_128, monkeypatch):
    from nstjax.objective import normalize
    from nstjax.run.runner import RunError

    def loaded(*args, **kwargs):
        raise AssertionError("the weights were loaded")

    monkeypatch.setattr(normalize, "params_for", loaded)
    content, style = pair_128
    with pytest.raises(ValueError, match="^style is an empty list; give one image path or several$"):
        nstjax.stylize(content, [])
    taken = tmp_path / "taken"
    taken.write_text("a file")
    for out_dir in (taken, taken / "run"):
        with pytest.raises(ValueError, match=f"^out_dir must be a directory, but {taken} is a file$"):
            nstjax.stylize(content, style, out_dir=out_dir, image_size=64, steps=1)
    with pytest.raises(ValueError, match="^resume=true needs out_dir"):
        nstjax.stylize(content, style, resume=True)
    with pytest.raises(RunError, match=f"^resume=true but there is no checkpoint in {tmp_path / 'new'}$"):
        nstjax.stylize(content, style, out_dir=tmp_path / "new", image_size=64, resume=True)
    assert taken.read_text() == "a file" and sorted(p.name for p in tmp_path.iterdir()) == ["taken"]
