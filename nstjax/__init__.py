"""nstjax: optimisation-based neural style transfer (Gatys, Ecker, Bethge) in JAX."""

import os

from nstjax.machine import xla_cpu_flags  # noqa: E402  (no jax import)

# XLA:CPU's best flags differ between CPU types (YNNPACK's fusions: 15-25% slower than XLA's own kernels on
# a Zen 4, faster on a Zen 3). `nstjax-tune` measures them on this machine; until then the Zen 4 choice.
# Set before JAX starts its CPU backend; flags the user already gave in XLA_FLAGS win.
if "ynn_fusion_type" not in os.environ.get("XLA_FLAGS", "") and os.environ.get("NSTJAX_XLA_FLAGS", "1") != "0":
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + xla_cpu_flags()).strip()

from nstjax.api import Result, compare, extract_features, score, stylize  # noqa: E402

__all__ = ["Result", "compare", "extract_features", "score", "stylize"]
__version__ = "0.2.0"
