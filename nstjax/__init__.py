"""nstjax: optimisation-based neural style transfer (Gatys, Ecker, Bethge) in JAX."""

import os

# XLA:CPU hands dots and convolutions to YNNPACK fusions by default; here XLA's own kernels ran the
# objective 15-25% faster (256 and 512 px; the 36 small Winograd matmuls most of all). Set before JAX
# starts its CPU backend; a flag the user already gave wins.
if "ynn_fusion_type" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_experimental_ynn_fusion_type=").strip()

from nstjax.api import Result, extract_features, score, stylize  # noqa: E402

__all__ = ["Result", "extract_features", "score", "stylize"]
__version__ = "0.1.0"
