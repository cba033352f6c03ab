"""The optimisers besides nstjax's L-BFGS (which the rest of the suite runs), each end to end on the 64 px
pair: steps and evaluations counted, the loss lowered; and lbfgsb's box, every pixel in [0, 255]."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import compose_cfg, metrics_lines

from nstjax.objective import compiled
from nstjax.run.config import validate
from nstjax.run.runner import prepare, stylize


def optimise(out_dir, pair64, params, name: str, steps: int = 2):
    """A run from white noise (pixels at both ends of [0, 255]); returns its summary, the optimised image in
    optimisation space (not yet rounded to uint8) and the objective at the start."""
    # The first layer only: what is tested is each optimiser's plumbing, and jaxopt compiles its whole step around
    # the objective (50 s with the paper's layers, 37 s with two blocks, on a 2-core AMD EPYC Zen 3, cold).
    shallow = ["style_layers=[relu1_1]", "content_layers=[relu1_1]"]
    run = validate(compose_cfg(*pair64, *shallow, f"steps={steps}", "init=noise", f"optimizer={name}"))
    problem = prepare(run, params)
    start = float(compiled.value_and_grad_fn(problem.spec)(problem.data, problem.x0)[0])
    summary = stylize(run, params, out_dir, problem=problem)
    return summary, np.asarray(problem.result), start


@pytest.mark.parametrize("name", ["jaxopt", "lbfgsb", "optax_lbfgs"])
def test_optimizer_runs_end_to_end(tmp_path, pair64, params, name):
    summary, x, start = optimise(tmp_path, pair64, params, name)
    lines = [json.loads(line) for line in metrics_lines(tmp_path)]
    assert summary["config"]["optimizer"]["name"] == name and summary["status"] == "done"
    assert summary["steps"] == 2 and [r["step"] for r in lines] == [1, 2]
    evaluations = [r["evaluations"] for r in lines]
    assert 1 <= evaluations[0] < evaluations[1] == summary["evaluations"], evaluations
    # optax reports the loss of the point it started the step from: two steps show one step's decrease.
    assert summary["loss"]["total"] < 0.95 * start, (summary["loss"]["total"], start)
    if name == "lbfgsb":
        assert x.min() >= 0.0 and x.max() <= 255.0, (x.min(), x.max())


def test_without_the_box_the_same_start_leaves_the_pixel_range(tmp_path, pair64, params):
    """What lbfgsb's bound prevents happens here: unconstrained L-BFGS moves pixels out of [0, 255]."""
    _, x, _ = optimise(tmp_path, pair64, params, "lbfgs")
    assert x.min() < 0.0 or x.max() > 255.0, (x.min(), x.max())
