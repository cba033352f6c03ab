"""End to end at 128 px: tubingen in the style of starry_night, 100 L-BFGS steps from the content,
against a straightforward PyTorch L-BFGS of the identical objective."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import compose_cfg
from PIL import Image

from nstjax.entry.stylize import run_job

pytestmark = pytest.mark.slow  # over ~10 s each: `pytest -m 'not slow'` while working; CI runs all

STEPS = 100


@pytest.fixture(scope="module")
def paper_run(tmp_path_factory, images_dir, params):
    out = tmp_path_factory.mktemp("paper_run")
    cfg = compose_cfg(
        f"content={images_dir / 'tubingen.jpg'}",
        f"style={images_dir / 'starry_night.jpg'}",
        "image_size=128",
        f"steps={STEPS}",
        "pooling=avg",
        "ratio=1e-3",
        "tv_weight=0",
        "init=content",
        "optimizer=lbfgs",
        "progress=false",
        "ratio_size=null",
    )  # α = 1 at 128 px: the objective README and torch_reference state
    summary = run_job(cfg, out)
    return out, summary


def test_run_writes_outputs(paper_run, pair_128):
    out, summary = paper_run
    assert json.loads((out / "summary.json").read_text()) == json.loads(json.dumps(summary))
    for key in ("steps", "evaluations", "seconds_compile", "seconds_optimize", "loss", "config"):
        assert key in summary
    assert summary["steps"] == STEPS and summary["evaluations"] >= STEPS
    assert set(summary["loss"]) == {"total", "content", "style", "tv"}
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, STEPS + 1))
    assert all({"total", "content", "style", "tv"} <= set(r) for r in rows)
    assert rows[-1]["total"] == pytest.approx(summary["loss"]["total"])
    image = np.asarray(Image.open(out / "final.png"))
    content = pair_128[0]
    assert image.shape == content.shape and image.dtype == np.uint8
    # Stylised, not a copy of the content: a large mean change, yet the same scene (correlated).
    diff = np.abs(image.astype(float) - content).mean()
    corr = np.corrcoef(image.mean(-1).ravel(), content.mean(-1).ravel())[0, 1]
    assert diff > 15 and corr > 0.3, (diff, corr)


def test_objective_drops(paper_run):
    """Measured: total 7.24e10 -> 3.29e9 (×0.045), style 7.24e7 -> 1.08e6 (×0.015)."""
    out, summary = paper_run
    first = json.loads((out / "metrics.jsonl").read_text().splitlines()[0])
    # The objective at the content image itself: content term 0, style term its full mismatch.
    initial_total, initial_style = 7.2368e10, 7.2368e7
    assert first["total"] < initial_total
    assert summary["loss"]["total"] < 0.06 * initial_total
    assert summary["loss"]["style"] < 0.02 * initial_style
    assert summary["loss"]["content"] > 0  # the image moved away from the content


def test_as_good_as_pytorch_lbfgs(paper_run, params, pair_128):
    """Same objective, same start, 100 iterations of torch.optim.LBFGS (strong Wolfe, history 100), given
    as many evaluations per iteration as nstjax's (25): torch's default budget for the whole run (125) can
    end it before its 100 iterations."""
    import torch_reference  # scripts/; torch is a test extra

    content, style = pair_128
    objective = torch_reference.Objective(params, content, style, pooling="avg", alpha=1.0, beta=1e3)
    x = torch_reference.to_tensor(content)
    initial, _ = objective(x)
    assert float(initial) == pytest.approx(7.2368e10, rel=1e-3)  # both implementations agree at the start
    ref = torch_reference.run_lbfgs(objective, content.astype(np.float32), STEPS, history=100, max_eval=25 * STEPS)
    assert ref["iterations"] == STEPS, ref["iterations"]
    ours = paper_run[1]["loss"]["total"]
    # Measured 3.327e9 (nstjax, 102 evaluations) against 3.294e9 (torch, 108 evaluations) on an AMD EPYC
    # Zen 3; README's first measurement was 3.289e9 against 3.294e9. The two searches take different first
    # steps, so their paths part: ±1% is where they land, and 2% is the tolerance.
    assert ours <= 1.02 * ref["loss"], (ours, ref["loss"])
