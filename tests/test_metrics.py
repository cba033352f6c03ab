"""The yardstick: identities, symmetries, a closed form, parity with the float64 numpy VGG19, and the same
numbers for an image whatever run produced it."""

from __future__ import annotations

import json
import subprocess
import sys

import jax
import numpy as np
import pytest
from helpers import run_job
from PIL import Image
from test_vgg import numpy_vgg19

from nstjax.entry import score as score_cli
from nstjax.io import images
from nstjax.objective import metrics


@pytest.fixture(scope="module")
def trio(pair_128):
    content, style = pair_128
    rng = np.random.default_rng(0)
    other = np.clip(content.astype(int) + rng.integers(-40, 40, content.shape), 0, 255).astype(np.uint8)
    return content, style, other


def test_identities(params, trio):
    content, style, other = trio
    at_content = metrics.score(content, content, style, params)
    at_style = metrics.score(style, content, style, params)
    assert at_content["content_distance"] == 0.0 and at_content["style_gram"] > 0.1
    assert at_style["style_gram"] == pytest.approx(0.0, abs=1e-6)
    assert at_style["style_swd"] == pytest.approx(0.0, abs=1e-3) and at_style["colour"] == pytest.approx(0.0, abs=1e-4)
    noisy = metrics.score(other, content, style, params)
    assert 0.05 < noisy["content_distance"] < 1.0 and noisy["colour"] > 1.0


def test_symmetries(params, trio):
    content, style, other = trio
    # Colour and sliced W2 are distances: symmetric in output and style (same size, same directions).
    a, b = metrics.score(other, content, style, params), metrics.score(style, content, other, params)
    assert a["colour"] == pytest.approx(b["colour"], rel=1e-6)
    assert a["style_swd"] == pytest.approx(b["style_swd"], rel=1e-4)


def test_gaussian_w2_closed_form():
    rng = np.random.default_rng(1)
    a = rng.normal([10, 20, 30], [1, 2, 3], size=(200_000, 3))
    b = rng.normal([12, 20, 27], [2, 2, 1], size=(200_000, 3))
    # Diagonal covariances: W2² = Σ (μ_a − μ_b)² + Σ (σ_a − σ_b)².
    expected = np.sqrt(4 + 0 + 9 + 1 + 0 + 4)
    assert metrics.gaussian_w2(a, b) == pytest.approx(expected, rel=2e-2)
    assert metrics.gaussian_w2(a, a) == pytest.approx(0.0, abs=1e-6)


def test_parity_with_an_independent_float64_computation(params, trio):
    content, style, other = (x[:48, :64] for x in trio)
    ours = metrics.score(other, content, style, params)
    fx, fc, fs = (numpy_vgg19(x, params, "max") for x in (other, content, style))
    content_distance = np.linalg.norm(fx["relu4_2"] - fc["relu4_2"]) / np.linalg.norm(fc["relu4_2"])

    def gram(f):
        f = f.reshape(-1, f.shape[-1])
        return f.T @ f / f.shape[0]

    layers = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    style_gram = np.mean([np.linalg.norm(gram(fx[k]) - gram(fs[k])) / np.linalg.norm(gram(fs[k])) for k in layers])

    def sliced_w2(f, g):
        # N_l unit directions, normal draws from the yardstick's documented seed 0 (written out, not read from
        # nstjax: another seed would move every published style_swd), normalised; W₂ of each projection by
        # sorting (equal counts), squared, averaged over positions and directions.
        f, g = f.reshape(-1, f.shape[-1]), g.reshape(-1, g.shape[-1])
        d = np.asarray(jax.random.normal(jax.random.PRNGKey(0), (f.shape[1],) * 2), np.float64)
        d /= np.linalg.norm(d, axis=0)
        return np.sqrt(np.mean((np.sort(f @ d, axis=0) - np.sort(g @ d, axis=0)) ** 2))

    style_swd = np.mean([sliced_w2(fx[k], fs[k]) for k in layers])
    assert ours["content_distance"] == pytest.approx(content_distance, rel=1e-3)
    assert ours["style_gram"] == pytest.approx(style_gram, rel=1e-3)
    assert ours["style_swd"] == pytest.approx(style_swd, rel=1e-3)


def test_every_run_is_scored_by_the_same_yardstick_and_nstjax_score_reproduces_it(
    tmp_path, images_dir, pair64, host_run_20, capsys
):
    content, style = images_dir / "tubingen.jpg", images_dir / "starry_night.jpg"
    # The shared 64 px run (avg pooling, ImageNet weights), and one under another pooling, network and convention.
    run_job(tmp_path / "l2", *pair64, "steps=3", "pooling=l2", "weights=normalized", "convention=reference")
    scores = {}
    for pooling, out in (("avg", host_run_20), ("l2", tmp_path / "l2")):
        summary = json.loads((out / "summary.json").read_text())
        assert set(summary["metrics"]) == set(metrics.METRICS)
        args = [str(out / "final.png"), "--content", str(content), "--style", str(style)]
        if pooling == "l2":  # nstjax-score's function, in the process that ran under the normalised network
            capsys.readouterr()
            assert score_cli.main(args) == 0
            scored = json.loads(capsys.readouterr().out)
        else:  # and as a command, in a process of its own
            cli = subprocess.run(
                [sys.executable, "-m", "nstjax.entry.score", *args], capture_output=True, text=True, cwd=tmp_path
            )
            assert cli.returncode == 0, cli.stderr
            scored = json.loads(cli.stdout)
        for key in metrics.METRICS:
            assert scored[key] == pytest.approx(summary["metrics"][key], rel=1e-5, abs=1e-6), key
        scores[pooling] = scored
    # The same image gives the same numbers whichever run's config is around it: score one run's output
    # and compare with what the other configuration's process reports for that very file.
    a = np.asarray(Image.open(host_run_20 / "final.png"))
    from nstjax.io import images

    direct = metrics.score(a, images.load_image(content, fit=a.shape[:2]), images.load_image(style, fit=a.shape[:2]))
    assert direct == pytest.approx(scores["avg"], rel=1e-5)


def test_a_pairs_references_are_computed_once_and_score_the_same(pair_128, params, monkeypatch):
    """A comparison scores every run of a pair against the same content and style: their features are kept, so
    a second score runs the network on its own image only, with the numbers of a score from scratch."""
    content, style = (images.resize_longest(a, 64) for a in pair_128)
    rng = np.random.default_rng(0)
    outputs = [rng.integers(0, 256, content.shape, dtype=np.uint8) for _ in range(2)]
    metrics._REFERENCES.clear()
    fresh = [metrics.score(o, content, style, params) for o in outputs]
    metrics._REFERENCES.clear()
    calls = []
    real = metrics.features
    monkeypatch.setattr(metrics, "features", lambda image, p: calls.append(1) or real(image, p))
    kept = [metrics.score(o, content, style, params) for o in outputs]
    assert len(calls) == 4  # the first score: image, content, style; the second: its image only
    assert kept == fresh
