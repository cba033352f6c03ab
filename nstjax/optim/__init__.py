"""Optimisers of the image: L-BFGS on the host or in one device loop, and the optax/jaxopt/scipy family."""
