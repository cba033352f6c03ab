"""This machine's identity and what was tuned for it; importable before JAX starts (no jax import).

The tuned choices (``nstjax.objective.tune``) live in ``tune.json`` beside the weights cache, keyed by the CPU model,
its instruction set, the JAX version and the backend, so a plan measured on one machine is never applied
on another, and a second run on the same one does not tune again.
"""

from __future__ import annotations

import json
import os
import platform
from importlib import metadata
from pathlib import Path

ENV_CACHE = "NSTJAX_CACHE"
DEFAULT_XLA_CPU_FLAGS = "--xla_cpu_experimental_ynn_fusion_type="  # measured best on Zen 4 (docs/performance.md)


def cache_dir() -> Path:
    """Where the weights, compiled programs and tuned plans are kept (``NSTJAX_CACHE`` or XDG's cache)."""
    if os.environ.get(ENV_CACHE):
        return Path(os.environ[ENV_CACHE])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "nstjax"


def cpu() -> tuple[str, str]:
    """(model name, instruction set: AVX-512, AVX2, NEON or the architecture)."""
    model, flags = platform.processor() or platform.machine(), ""
    try:
        text = Path("/proc/cpuinfo").read_text()
        model = next((ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("model name")), model)
        flags = next((ln for ln in text.splitlines() if ln.startswith(("flags", "Features"))), "")
    except OSError:
        pass
    words = set(flags.split())
    isa = (
        "AVX-512"
        if "avx512f" in words
        else "AVX2"
        if "avx2" in words
        else "NEON"
        if "asimd" in words or platform.machine() in ("arm64", "aarch64")
        else platform.machine()
    )
    return model, isa


def key(backend: str = "cpu") -> str:
    """What a tuned plan is valid for: CPU model and ISA, JAX version, backend."""
    model, isa = cpu()
    try:
        version = metadata.version("jax")
    except metadata.PackageNotFoundError:
        version = "?"
    return f"{model} | {isa} | jax {version} | {backend}"


def tune_file() -> Path:
    """tune.json beside the weights, or ``NSTJAX_TUNE_FILE``."""
    return Path(os.environ.get("NSTJAX_TUNE_FILE") or cache_dir() / "tune.json")


def tuned() -> dict:
    """This machine's entry of tune.json ({} when never tuned)."""
    try:
        return json.loads(tune_file().read_text()).get(key(), {})
    except (OSError, ValueError):
        return {}


def xla_cpu_flags() -> str:
    """The XLA:CPU flags to start JAX with: the tuned ones, else the default measured on Zen 4."""
    return tuned().get("xla_flags", DEFAULT_XLA_CPU_FLAGS)
