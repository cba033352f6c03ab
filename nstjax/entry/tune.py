"""`nstjax-tune`: this machine's XLA flags and convolution plans, measured and cached (``nstjax.objective.tune``)."""

from __future__ import annotations

import argparse

import jax

from nstjax import machine
from nstjax.objective.tune import XLA_CANDIDATES, conv_plan, tune_xla


def _sizes(text: str) -> list[int]:
    """``--sizes 256,512``: whole numbers of at least 32 (VGG19 pools five times), else argparse's one-line error."""
    try:
        sizes = [int(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes such as 256,512; got {text!r}") from None
    if min(sizes) < 32:
        raise argparse.ArgumentTypeError(f"sizes must be at least 32 px; got {text!r}")
    return sizes


def main(argv: list[str] | None = None) -> int:
    """``nstjax-tune``: measure this machine's XLA flags and convolution plans, print and cache them."""
    parser = argparse.ArgumentParser(prog="nstjax-tune", description=main.__doc__)
    parser.add_argument(
        "--sizes", default="256,512", type=_sizes, help="image sizes (longest side, 4:3) to plan convolutions for"
    )
    parser.add_argument("--skip-xla", action="store_true", help="keep the XLA flags; plan convolutions only")
    args = parser.parse_args(argv)
    print(f"machine: {machine.key()}")
    if not args.skip_xla and jax.default_backend() == "cpu":
        result = tune_xla()
        for name, t in sorted(result["xla_seconds"].items(), key=lambda kv: kv[1]):
            print(f"  XLA flags {XLA_CANDIDATES[name] or '(defaults)'}: {t:.3f} s/eval at {result['xla_size']} px")
        print(f"chosen XLA flags: {result['xla_flags'] or '(defaults)'} (applied from the next start of nstjax)")
    for size in args.sizes:
        plan = conv_plan((size * 3 // 4, size, 3))
        print(f"{size} px: Winograd for {', '.join(sorted(plan)) or 'no layer'}")
    print(f"cached in {machine.tune_file()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
