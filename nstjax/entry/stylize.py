"""`nstjax`: the Hydra entry point. It builds objects and calls library functions; nothing else."""

from __future__ import annotations

import logging
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # idle OpenBLAS threads spin and steal XLA's two cores
import contextlib
import functools
import re
import shlex
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple, cast

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from nstjax.io.checkpoint import CheckpointError
from nstjax.io.images import ImageError, one_line
from nstjax.io.weights import WeightsError
from nstjax.run.config import CONFIG_DIR, ConfigError, RunConfig, check_folder, validate
from nstjax.run.resources import TooLarge
from nstjax.run.runner import Inputs, RunError, check_resume, interrupts, load_inputs
from nstjax.run.runner import run as stylize_run
from nstjax.run.sharding import job_device, on_device

GROUPS = ("optimizer", "logger")


class InputError(ValueError):
    """Any other error raised while reading or checking a run's inputs; the message is one line for the user."""


USER_ERRORS = (ConfigError, ImageError, WeightsError, RunError, TooLarge, CheckpointError, InputError)
# Keys whose values are file or directory paths: quoted for Hydra before it parses them (``quote_path_overrides``).
# ``contents`` and ``styles`` are nstjax-compare's.
PATH_KEYS = ("content", "style", "style_masks", "contents", "styles", "hydra.run.dir", "hydra.sweep.dir")
# Hydra's sweep functions: a path key's value that is one of these calls is left to Hydra (choice's arguments quoted).
_FUNCTIONS = re.compile(r"(choice|sort|shuffle|range|interval|glob|tag|int|float|str|bool|json_str)\((.*)\)", re.S)


def quote_value(text: str) -> str:
    """``text`` as one of Hydra's quoted strings, which take any character (non-ASCII, spaces, commas,
    brackets): a quote gets a backslash, and so does every backslash that precedes a quote or the end.
    ``${...}`` stays an interpolation, as in any quoted Hydra value."""
    escaped = re.sub(r"(\\*)(?='|$)", lambda m: m.group(1) * 2, text)
    return "'" + escaped.replace("'", "\\'") + "'"


def _split_top(text: str) -> list[str]:
    """``text`` split at the commas outside brackets, parentheses and quoted parts (Hydra's sweep and list
    separators; a path with a comma must be quoted by its user)."""
    parts, depth, quote, start, i = [], 0, None, 0, 0
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = None
        elif c in "'\"" and not text[start:i].strip():  # a quote opens a quoted part only at its start
            quote = c
        elif c in "[(":
            depth += 1
        elif c in "])":
            depth = max(0, depth - 1)
        elif c == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    return parts + [text[start:]]


def _quote_paths(value: str) -> str:
    """A path key's value with each path quoted, keeping Hydra's syntax around them: ``null``, lists
    ``[a,b]``, sweeps ``a,b`` and ``choice(a,b)``, values the user quoted already."""
    parts = _split_top(value)
    if len(parts) > 1:
        return ",".join(_quote_paths(p) for p in parts)
    value = value.strip()  # as Hydra trims unquoted values
    if value in ("", "null") or value[0] in "'\"":
        return value
    if value[0] == "[" and value[-1] == "]":
        return "[" + ",".join(_quote_paths(p) for p in _split_top(value[1:-1]) if p.strip()) + "]"
    call = _FUNCTIONS.fullmatch(value)
    if call:
        return f"choice({_quote_paths(call.group(2))})" if call.group(1) == "choice" else value
    return value if _reads_as_itself(value) else quote_value(value)


@functools.cache
def _parser() -> Any:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create()


def _reads_as_itself(text: str) -> bool:
    """Whether Hydra reads ``text`` unquoted as this very string (``photo.jpg``; not ``照片.jpg``, ``1``, ``true``):
    such values stay as typed, so sweep directories, reports and W&B tags show them unchanged."""
    from hydra.errors import HydraException

    try:
        return _parser().parse_overrides([f"k={text}"])[0].value() == text
    except HydraException:
        return False


def quote_path_overrides(argv: Sequence[str], keys: Iterable[str] = PATH_KEYS) -> list[str]:
    """``argv`` with the values of path keys (``content=照片/我的 照片.jpg``) quoted for Hydra's override grammar,
    which otherwise rejects non-ASCII letters, parentheses and other characters in an unquoted value. Lists,
    sweeps, ``null`` and values already quoted keep their meaning; other arguments pass unchanged."""
    keys = set(keys)
    out = []
    for arg in argv:
        key, eq, value = arg.partition("=")
        if eq and not arg.startswith("-") and key.lstrip("+") in keys:
            arg = f"{key}={_quote_paths(value)}"
        out.append(arg)
    return out


def path_override(key: str, value: Any) -> str:
    """An override of a path key from Python: ``key=null``, ``key='path'`` or ``key=['a','b']``, each path quoted
    whole (a comma or bracket in it is part of the path)."""
    if isinstance(value, (list, tuple)):
        return f"{key}=[{','.join('null' if v is None else quote_value(str(v)) for v in value)}]"
    return f"{key}={'null' if value is None else quote_value(str(value))}"


def _shell_word(arg: str) -> str:
    return f'"{arg}"' if not re.search(r'["$`\\!]', arg) else shlex.quote(arg)


def check_syntax(args: Sequence[str]) -> None:
    """Hydra's override grammar, checked here so that an error is one line that shows the override that works."""
    from hydra.errors import HydraException

    for arg in args:
        if arg.startswith("-") or "=" not in arg:
            continue
        try:
            _parser().parse_overrides([arg])
        except HydraException as exc:
            key, _, value = arg.partition("=")
            reason = str(exc).splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(
                one_line(
                    f"cannot read {arg!r} ({reason}); Hydra needs that value quoted: "
                    f"{_shell_word(f'{key}={quote_value(value.strip())}')}"
                )
            ) from None


@contextlib.contextmanager
def input_errors() -> Iterator[None]:
    """Around reading and checking a run's inputs: an error not already one of ``USER_ERRORS`` (a ValueError,
    OSError or arithmetic error from a check nstjax does not name) becomes an InputError with one line."""
    from hydra.errors import HydraException

    try:
        yield
    except USER_ERRORS:
        raise
    except (ValueError, OSError, ArithmeticError, HydraException) as exc:
        # Hydra's messages are a line, then a caret under it: the first line says it.
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot use these inputs: {one_line(reason)}") from exc


_failures: list[str] = []


def _known_keys() -> tuple[set[str], dict[str, set[str]], dict[str, list[str]]]:
    top = set(OmegaConf.load(CONFIG_DIR / "config.yaml").keys()) - {"defaults"}
    sub = {g: set().union(*(OmegaConf.load(f).keys() for f in (CONFIG_DIR / g).glob("*.yaml"))) for g in GROUPS}
    options = {g: sorted(f.stem for f in (CONFIG_DIR / g).glob("*.yaml")) for g in GROUPS}
    return top, sub, options


def check_overrides(args: list[str]) -> None:
    """Unknown keys, group choices and Hydra's grammar fail here with one line, before Hydra's multi-line messages."""
    check_syntax(args)
    top, sub, options = _known_keys()
    for arg in args:
        if arg.startswith("-") or "=" not in arg or arg[0] in "+~":
            continue
        key, value = arg.split("=", 1)
        root, _, rest = key.partition(".")
        if key in ("hydra.run.dir", "hydra.sweep.dir") and "${" not in value:
            check_folder(key, Path(value))  # Hydra makes it before any of nstjax runs: a traceback otherwise
        if root == "hydra" or root.startswith("hydra/"):
            continue
        if root in GROUPS and not rest:
            for choice in value.split(","):
                if choice not in options[root]:
                    raise ConfigError(f"{root} must be one of {', '.join(options[root])}; got {choice!r}")
        elif root in GROUPS:
            if rest.split(".")[0] not in sub[root]:
                raise ConfigError(f"unknown key {key!r}; {root} has {', '.join(sorted(sub[root]))}")
        elif root not in top or rest and rest not in _block_keys(root):
            raise ConfigError(f"unknown key {key!r}; valid keys: {', '.join(sorted(top | set(GROUPS)))}")


def _block_keys(root: str) -> set[str]:
    """The keys of a block of config.yaml (``mrf: {stride: 2, ...}``); none for a plain key."""
    block = cast(DictConfig, OmegaConf.load(CONFIG_DIR / "config.yaml")).get(root)
    return {str(k) for k in block} if isinstance(block, DictConfig) else set()


def _logger_options(cfg: DictConfig) -> dict | None:
    opts = cast(dict[str, Any], OmegaConf.to_container(cfg.logger, resolve=True))
    if opts.pop("name") != "wandb":
        return None
    hc = HydraConfig.get()
    if hc.mode == RunMode.MULTIRUN:
        opts["group"] = opts.get("group") or Path(hc.sweep.dir).name
        opts["name"] = f"{Path(hc.sweep.dir).name}/{hc.job.num}"
    opts["tags"] = list(opts.get("tags") or []) + [o for o in hc.overrides.task][:64]
    return opts


def _discard_if_empty(out_dir: Path) -> None:
    """Leaves nothing half-written: a job that failed before any work drops its (Hydra-made) directory."""
    if out_dir.is_dir() and all(p.name in (".hydra", "nstjax.log") for p in out_dir.iterdir()):
        shutil.rmtree(out_dir, ignore_errors=True)


def run_job(cfg: DictConfig, out_dir: Path, wandb: dict | None = None) -> dict:
    """What one Hydra job does, importable by tests: validate, load, stylise, write."""
    from nstjax.objective.normalize import params_for

    with input_errors():
        run: RunConfig = validate(cfg)
    with interrupts(run, out_dir):  # Ctrl-C from here on, compiling included: one line that says how to continue
        inputs = read_inputs(run)  # bad images fail before the weights are touched
        check_resume(run, out_dir)  # and so does resume=true with nothing to continue
        params = params_for(run.weights)
        record = cast(dict[str, Any], OmegaConf.to_container(cfg, resolve=True))
        wandb = wandb if wandb is not None else _logger_options(cfg)
        return stylize_run(run, params, out_dir, record, wandb, inputs=inputs)


def read_inputs(run: RunConfig, content: Any = None, styles: Any = None) -> Inputs:
    """``load_inputs`` (``content``, ``styles``: arrays instead of the run's paths) with every error as one line,
    before any work. A coarse-to-fine run's are checked at its first size, the smallest, where it would fail first."""
    from dataclasses import replace

    with input_errors():
        return load_inputs(replace(run, image_size=run.scales[0], scales=None) if run.scales else run, content, styles)


def _report(cfg: DictConfig, out_dir: Path, outcome: dict | Exception) -> dict | None:
    """Prints a job's result or its one-line error (re-raised with debug=true or when not a user error)."""
    if isinstance(outcome, dict):
        print(
            f"{out_dir / 'final.png'}  (loss {outcome['loss']['total']:.4g}, {outcome['steps']} steps, "
            f"{outcome['seconds_optimize']:.1f} s)"
        )
        return outcome
    if cfg.get("debug") or not isinstance(outcome, USER_ERRORS):
        raise outcome
    print(f"error: {one_line(outcome)}", file=sys.stderr)
    _failures.append(f"{out_dir}: {one_line(outcome)}")
    if not (out_dir / "summary.json").exists():
        _discard_if_empty(out_dir)
    return None


def _job_number() -> int | None:
    """A sweep job's number (None for a single run): parallel jobs spread over the local devices by it."""
    hc = HydraConfig.get()
    return int(hc.job.num) if hc.mode == RunMode.MULTIRUN else None


@hydra.main(version_base=None, config_path=str(CONFIG_DIR), config_name="config")
def _app(cfg: DictConfig) -> None:
    logging.getLogger("jax").setLevel(logging.WARNING)  # Hydra sets INFO; jax then reports absent TPUs
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    device = None if cfg.get("shard") == "spatial" else job_device(_job_number())
    outcome: dict | Exception
    try:
        with on_device(device):
            outcome = run_job(cfg, out_dir)
    except USER_ERRORS as exc:
        outcome = exc
    _report(cfg, out_dir, outcome)


class Job(NamedTuple):
    """A Hydra job set up by the batched launcher, to run later."""

    cfg: DictConfig
    out_dir: Path
    run: RunConfig | ConfigError
    wandb: dict | None


def collect_job(cfg: DictConfig) -> Job:
    """Inside a job's Hydra context: everything ``run_job`` reads from Hydra, validated, for later."""
    logging.getLogger("jax").setLevel(logging.WARNING)
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        run: RunConfig | ConfigError = validate(cfg)
    except ConfigError as exc:
        run = exc
    return Job(cfg, out_dir, run, _logger_options(cfg))


def run_collected(jobs: list[Job], max_batch: int) -> dict[str, dict | None]:
    """Runs collected jobs, those that can share a batch (``nstjax.run.batch.group``) as one, at most
    ``max_batch`` at a time; returns each job's summary (None if it failed) by output directory."""
    from nstjax.objective.normalize import params_for
    from nstjax.run.batch import group, stylize_batch

    outcomes: dict[str, dict | None] = {}
    valid = [j for j in jobs if isinstance(j.run, RunConfig)]
    runs = [cast(RunConfig, j.run) for j in valid]  # valid's runs, narrowed for mypy
    for job in jobs:
        if not isinstance(job.run, RunConfig):
            outcomes[str(job.out_dir)] = _report(job.cfg, job.out_dir, job.run)
    for indices in group(runs):
        for start in range(0, len(indices), max_batch):
            picked = indices[start : start + max_batch]
            chunk = [valid[i] for i in picked]
            results: list[dict[str, Any] | Exception]
            try:
                if len(chunk) == 1:
                    results = [run_job(chunk[0].cfg, chunk[0].out_dir, chunk[0].wandb)]
                else:
                    records = [cast(dict[str, Any], OmegaConf.to_container(j.cfg, resolve=True)) for j in chunk]
                    results = stylize_batch(
                        [runs[i] for i in picked],
                        params_for(runs[picked[0]].weights),
                        [j.out_dir for j in chunk],
                        records,
                        [j.wandb for j in chunk],
                    )
            except USER_ERRORS as exc:  # e.g. an unreadable image: every run of the chunk shares it
                results = [exc] * len(chunk)
            for job, outcome in zip(chunk, results, strict=True):
                outcomes[str(job.out_dir)] = _report(job.cfg, job.out_dir, outcome)
    return outcomes


HELP = """nstjax: optimisation-based neural style transfer (Gatys, Ecker & Bethge 2015/2016) in JAX.
A photograph (content) is redrawn in the style of a painting by optimising the image itself with L-BFGS
against VGG19 features: the content's deep activations and the style's feature statistics. Every key
below can be set as key=value and swept with -m; each run writes final.png, summary.json (losses,
timings and the fixed yardstick's metrics) and metrics.jsonl into its directory.

Usage: nstjax [key=value ...]                 one run (outputs/DATE/TIME unless hydra.run.dir=DIR)
       nstjax -m key=a,b [key=c,d ...]        a sweep: one job per combination
       nstjax --hydra-help                    Hydra's own options

Examples
  nstjax content=photo.jpg style=painting.jpg image_size=512 steps=500 hydra.run.dir=out/one
  nstjax -m content=photo.jpg style=painting.jpg pooling=max,avg ratio=1e-4,1e-3,1e-2 hydra.sweep.dir=multirun/ablation
  nstjax-report multirun/ablation --sort style_gram
"""


def help_text() -> str:
    """HELP, the config groups, and every key of configs/config.yaml with its default and its comment."""
    import re

    _, _, options = _known_keys()
    lines = [HELP, "Config groups (group=choice; group.key=value for its settings)"]
    lines += [f"  {g}: {', '.join(options[g])}" for g in GROUPS]
    lines += ["", "Keys (default, meaning)"]
    for line in (CONFIG_DIR / "config.yaml").read_text().splitlines():
        m = re.match(r"^(\w+):\s*(.*?)\s*#\s*(.*)$", line)
        if m and m.group(1) not in ("defaults", "hydra"):
            lines.append(f"  {m.group(1):<20} {m.group(2) or '-':<10} {m.group(3)}")
    return "\n".join(lines) + "\n"


def main() -> None:
    hydra_main(help_text, check_overrides, _app, _failures)


def hydra_main(
    help_text: Callable[[], str],
    check: Callable[[list[str]], None],
    app: Callable[[], None],
    failures: list[str],
    path_keys: Iterable[str] = PATH_KEYS,
) -> None:
    """A Hydra console script's main (``nstjax``, ``nstjax-video``): --help, the keys checked before Hydra
    starts (one ``error:`` line, exit 2), the compilation cache, the app, and exit 1 when a job failed."""
    if {"--help", "-h"} & set(sys.argv[1:]):
        print(help_text(), end="")
        return
    os.environ.setdefault("HYDRA_FULL_ERROR", "0")
    sys.argv[1:] = quote_path_overrides(sys.argv[1:], path_keys)  # Hydra reads sys.argv
    try:
        check(sys.argv[1:])
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    from nstjax.objective.compiled import enable_compilation_cache

    enable_compilation_cache()
    app()
    if failures:
        if {"-m", "--multirun"} & set(sys.argv[1:]):
            print(f"error: {len(failures)} job(s) failed:\n  " + "\n  ".join(failures), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    # `python -m nstjax.entry.stylize` runs this file as __main__; the batched launcher imports the module, and
    # the two must share one module (its failure list decides the exit status).
    from nstjax.entry.stylize import main as _main

    _main()
