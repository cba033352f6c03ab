"""`nstjax-compare`: variants compared over a benchmark of pairs (``nstjax.run.compare``), keys as ``nstjax``'s."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nstjax.entry.stylize import USER_ERRORS, _split_top, check_overrides, input_errors, quote_path_overrides
from nstjax.run.compare import Comparison, benchmark
from nstjax.run.config import ConfigError

# The comparison's own keys; every other key is a run key applied to all runs.
KEYS = {
    "variants": 'list of run overrides, each a space-separated string; "" = the defaults; the first is the baseline',
    "ratios": "every pair and variant's ratio sweep, e.g. [1e-4,1e-3,1e-2,1e-1] (log-spaced, wide enough to overlap)",
    "contents": "content images (paths, or skimage:NAME); every content is paired with every style",
    "styles": "style images",
    "benchmark": "instead of contents/styles: configs/benchmark/NAME.yaml (paintings: 20 pairs; small: 2 × 2)",
    "out_dir": "where the runs and the outputs go (default outputs/compare); finished runs there are reused",
    "runs_dir": "where the runs go (default OUT_DIR/runs); comparisons that share one share their runs",
    "max_batch": "runs per batch, across pairs and ratios of one shape (default 8; 1: one by one)",
    "crop": "W:H: centre-crop every content to this aspect so all pairs share one compiled program (a benchmark's own)",
    "stats_seed": "seed of the bootstrap and the permutations (default 0)",
    "plan": "true: print the runs, the expected time and the power, run nothing (time and power need pilot=)",
    "pilot": "an earlier comparison's out_dir: its measured seconds per pixel-step and its variance components",
    "effect": "the effect plan= gives the power for, in log style distance (default 0.05, about 5%)",
}

HELP = (
    """nstjax-compare: variants of nstjax compared over (content, style) pairs, at matched content.

Every variant runs a ratio sweep on every pair; each (pair, variant) is a trade-off frontier (yardstick content
distance against style distance), and each variant's style distance minus the baseline's at matched content is
averaged over pairs with a 95% two-way bootstrap interval, a sign-flip p-value and Holm's correction.
Writes OUT_DIR/compare.json, compare.md, frontiers.png and forest.png; the runs go to OUT_DIR/runs.

Usage: nstjax-compare variants=[...] ratios=[...] (benchmark=NAME | contents=[...] styles=[...]) [key=value ...]

Example
  nstjax-compare 'variants=[pooling=max,pooling=avg,"pooling=l2 style_loss=w2"]' ratios=[1e-4,1e-3,1e-2,1e-1] \\
      benchmark=paintings image_size=128 steps=100 out_dir=outputs/poolings

Keys of the comparison
"""
    + "".join(f"  {k:<11} {v}\n" for k, v in KEYS.items())
    + """
Every other key (image_size, steps, init, seed, pooling, logger=wandb, ...) applies to all runs: see nstjax --help.
"""
)


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1].replace("\\" + text[0], text[0])
    return text


def _parse(key: str, value: str) -> Any:
    """A compare key's value in Hydra's syntax (``[a,b]``, numbers, quoted strings)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    if key == "variants" and value.strip().startswith("[") and value.strip().endswith("]"):
        # Variants hold '=' (and spaces, brackets): split at the list's own commas, so they need no quotes.
        inner = value.strip()[1:-1]
        return [_unquote(v) for v in _split_top(inner)] if inner.strip() else []
    try:
        return OverridesParser.create().parse_overrides([f"{key}={value}"])[0].value()
    except HydraException as exc:
        raise ConfigError(f"cannot read {key}={value} ({str(exc).splitlines()[0]})") from None


def _list(key: str, value: Any, kind: type = str) -> list:
    values = value if isinstance(value, list) else [value]
    out: list[Any] = []
    for v in values:
        if kind is float:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ConfigError(f"{key} must be a list of numbers, got {value!r}")
            out.append(float(v))
        else:
            out.append("" if v is None else str(v))
    return out


def build(
    variants: Sequence[str] | None,
    ratios: Sequence[float] | None,
    contents: Sequence[str] | None = None,
    styles: Sequence[str] | None = None,
    benchmark_name: str | None = None,
    out_dir: str | Path = "outputs/compare",
    max_batch: int = 8,
    stats_seed: int = 0,
    overrides: Sequence[str] = (),
    runs_dir: str | Path | None = None,
    crop: str | None = None,
) -> Comparison:
    """A Comparison from the keys, checked (the run overrides' keys too): ConfigError with one line."""
    if not variants:
        raise ConfigError("variants is required: e.g. variants=[pooling=max,pooling=avg] (the first is the baseline)")
    if not ratios:
        raise ConfigError("ratios is required: e.g. ratios=[1e-4,1e-3,1e-2,1e-1]")
    if benchmark_name is not None:
        if contents or styles:
            raise ConfigError("give either benchmark= or contents= and styles=, not both")
        contents, styles, declared = benchmark(str(benchmark_name))
        crop = declared if crop is None else crop
    if not contents or not styles:
        raise ConfigError("give the pairs: contents=[...] styles=[...] (every combination) or benchmark=NAME")
    for key, value in (("max_batch", max_batch), ("stats_seed", stats_seed)):
        if isinstance(value, bool) or not isinstance(value, int) or value < (1 if key == "max_batch" else 0):
            raise ConfigError(f"{key} must be an integer >= {1 if key == 'max_batch' else 0}, got {value!r}")
    try:
        check_overrides(list(overrides))
    except ConfigError as exc:
        if "unknown key" not in str(exc):
            raise
        raise ConfigError(f"{exc}; and the comparison's: {', '.join(KEYS)}") from None
    return Comparison(
        tuple(variants),
        tuple(float(r) for r in ratios),
        tuple(str(c) for c in contents),
        tuple(str(s) for s in styles),
        Path(str(out_dir)).expanduser(),  # as image paths are
        tuple(overrides),
        max_batch,
        None if runs_dir is None else Path(str(runs_dir)).expanduser(),
        stats_seed,
        crop=None if crop is None else str(crop),
    )


def planning_keys(argv: Sequence[str]) -> tuple[dict[str, Any], list[str]]:
    """``plan``, ``pilot`` (read here: a missing or damaged folder is one line) and ``effect``; the other arguments."""
    from nstjax.stats.verdict import DEFAULT_MARGIN

    keys: dict[str, Any] = {"plan": False, "pilot": None, "effect": DEFAULT_MARGIN, "margin": DEFAULT_MARGIN}
    rest, given = [], set()
    for arg in argv:
        key, eq, value = arg.partition("=")
        if not eq or key not in ("plan", "pilot", "effect"):
            rest.append(arg)
            continue
        given.add(key)
        if key == "plan":
            if value.lower() not in ("true", "false"):
                raise ConfigError(f"plan must be true or false, got {value!r}")
            keys["plan"] = value.lower() == "true"
        elif key == "effect":
            parsed = _parse(key, value)
            if isinstance(parsed, bool) or not isinstance(parsed, (int, float)) or parsed <= 0:
                raise ConfigError(f"effect must be a positive number (log style distance), got {value!r}")
            keys["effect"] = float(parsed)
        else:
            from nstjax.run.compare import read_pilot

            keys["pilot"] = read_pilot(value)
    if given & {"pilot", "effect"} and not keys["plan"]:
        raise ConfigError("pilot= and effect= are for plan=true")
    return keys, rest


def from_args(argv: Sequence[str]) -> Comparison:
    """The command line's keys: the comparison's own (``KEYS``), the rest run overrides."""
    keys: dict[str, Any] = {}
    rest = []
    for arg in quote_path_overrides(list(argv)):
        key, eq, value = arg.partition("=")
        if not eq or key not in KEYS:
            rest.append(arg)
            continue
        parsed = _parse(key, value)
        if key in ("variants", "contents", "styles"):
            parsed = _list(key, parsed)
        elif key == "ratios":
            parsed = _list(key, parsed, float)
        keys[key] = parsed
    for arg in rest:
        if "=" not in arg or arg.startswith("-"):
            raise ConfigError(f"expected key=value, got {arg!r} (nstjax-compare --help)")
    return build(
        keys.get("variants"),
        keys.get("ratios"),
        keys.get("contents"),
        keys.get("styles"),
        keys.get("benchmark"),
        keys.get("out_dir", "outputs/compare"),
        keys.get("max_batch", 8),
        keys.get("stats_seed", 0),
        rest,
        keys.get("runs_dir"),
        keys.get("crop"),
    )


def print_forecast(f: dict) -> None:
    """``plan=true``'s report, a line each."""
    print(f"{f['runs']} runs ({f['to_run']} to run): {f['contents']} contents × {f['styles']} styles")
    if f["seconds"] is None:
        print("time: unknown (give pilot=DIR, the out_dir of a comparison that ran runs on this machine)")
    else:
        print(f"time: about {f['seconds'] / 3600:.1f} h on {f['timed_on']} (the pilot's seconds per pixel-step)")
    for metric, p in (f["power"] or {}).items():
        print(
            f"{metric}: power {p['power']:.0%} to detect Δ = {f['effect']:g} (log distance), "
            f"{p['equivalence_power']:.0%} to show equivalence within ±{f['margin']:g} when there is none; "
            f"80% power from Δ = {p['detectable']:.3f} (se {p['se']:.3f}, df {p['df']:.0f})"
        )
    if f["power"] is None:
        print("power: unknown (give pilot=DIR, a comparison's out_dir; the design needs 2+ contents and 2+ styles)")


def main(argv: Sequence[str] | None = None) -> int:
    """Plans the whole comparison first (bad keys and images fail with one ``error:`` line, nothing run), then runs."""
    args = list(sys.argv[1:] if argv is None else argv)
    if {"--help", "-h"} & set(args):
        print(HELP, end="")
        return 0
    from nstjax.run.compare import compare, plan
    from nstjax.run.runner import Interrupted

    try:
        with input_errors():
            forecast_keys, args = planning_keys(args)
            comparison = from_args(args)
            cells = plan(comparison)
    except USER_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted while planning; no run was started", file=sys.stderr)
        return 130
    if forecast_keys["plan"]:
        from nstjax.run.compare import forecast

        pilot = forecast_keys["pilot"]
        print_forecast(
            forecast(cells, len(comparison.variants), pilot, forecast_keys["effect"], forecast_keys["margin"])
        )
        return 0
    from nstjax.objective.compiled import enable_compilation_cache

    enable_compilation_cache()
    try:
        result = compare(comparison, cells=cells)
    except (KeyboardInterrupt, Interrupted) as exc:  # Ctrl-C between batches reaches here as itself
        print(
            str(exc) or "interrupted; finished runs are kept: run the same command again to continue", file=sys.stderr
        )
        return 130
    except USER_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in result["paths"].values():
        print(path)
    return 1 if result["failed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
