"""How remd's, cx's and self_similarity's SCALE constants were measured (docs/statistics.md, "remd and cx").

The cosine-based terms are unitless; each is multiplied by SCALE and the style's (content's) energy so that
the paper's ratios keep their meaning. This prints, for the paintings benchmark's styles with tubingen:

* style: Gram's style term over remd's (cx's) at the content image (the start of a run), with the SCALE
  now in the code — a median of 1 means the two start equally weighted;
* content: the mse content term over self_similarity's at the result of a short Gram run (128 px,
  30 steps, ratio 1e-3) — where the content term starts to matter.

    python scripts/scale_remd_cx.py [--size 256]
"""

from __future__ import annotations

import argparse
import statistics

import jax.numpy as jnp
import numpy as np

from nstjax.io import images
from nstjax.io.images import PAPER_IMAGES
from nstjax.io.weights import load_params
from nstjax.objective import compiled, content, losses
from nstjax.run import config, runner
from nstjax.run.experiments import compose

STYLES = ("starry_night", "shipwreck", "the_scream", "composition_vii")


def pair(size: int, style: str):
    c = images.resize_longest(images.load_image(PAPER_IMAGES / "tubingen.jpg"), size)
    return c, images.resize(images.load_image(PAPER_IMAGES / f"{style}.jpg"), c.shape[:2])


def style_term(params, name: str, c: np.ndarray, s: np.ndarray, x: np.ndarray) -> float:
    spec = config.validate(compose({}, [f"style_loss={name}"])).spec
    t = compiled.make_targets(params, spec, c, [s])
    feats = compiled.feature_fn(spec.pooling, spec.layers)(params, jnp.asarray(x, jnp.float32))
    pixels = x.shape[0] * x.shape[1]
    return float(losses.style_loss(feats, t.style, t.layer_weights, name, spec.convention, pixels=pixels))


def content_terms(params, c: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    layers = ("relu4_2",)
    f = compiled.feature_fn("avg", layers)
    p, fx = f(params, jnp.asarray(c, jnp.float32)), f(params, jnp.asarray(x, jnp.float32))
    return float(content.mse(fx, p)), float(content.self_similarity(fx, p))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    params = load_params()
    rows = []
    for style in STYLES:
        c, s = pair(args.size, style)
        gram = style_term(params, "gram", c, s, c)
        ratios = {name: gram / style_term(params, name, c, s, c) for name in ("remd", "cx")}
        small_c, small_s = pair(128, style)
        run = config.validate(compose({"image_size": 128, "steps": 30, "progress": False}, []))
        problem = runner.prepare(run, params, runner.Inputs(small_c, [small_s]))
        import tempfile

        with tempfile.TemporaryDirectory() as out:
            runner.stylize(run, params, out, problem=problem)
        mse, ss = content_terms(params, small_c, np.asarray(problem.result))
        rows.append((style, ratios["remd"], ratios["cx"], mse / ss))
        print(
            f"{style}: gram/remd {ratios['remd']:.3g}, gram/cx {ratios['cx']:.3g}, mse/self_similarity {mse / ss:.3g}",
            flush=True,
        )
    for i, what in enumerate(("gram/remd", "gram/cx", "mse/self_similarity"), 1):
        print(f"median {what}: {statistics.median(r[i] for r in rows):.3g}")


if __name__ == "__main__":
    main()
