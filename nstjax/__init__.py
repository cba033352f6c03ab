"""nstjax: optimisation-based neural style transfer (Gatys, Ecker, Bethge) in JAX."""

from nstjax.api import extract_features

__all__ = ["extract_features"]
__version__ = "0.1.0"
