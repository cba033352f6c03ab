"""Comparing variants over a benchmark of (content, style) pairs: every variant's ratio sweep on every pair, then
the statistics over pairs (``nstjax.stats.summary``) and the figures (``nstjax.io.compare_plots``).

Each run is a normal run directory, ``DIR/runs/<shared settings>/<variant>/<content>__<style>/ratio_<r>``, reused
when it finished with the same config (``experiments.finished_run``), so an interrupted comparison continues where it
stopped. A variant's runs whose contents share a shape at ``image_size`` run in batches of ``max_batch``, across pairs
and ratios, on one compiled program (``nstjax.run.batch``); ``crop=W:H`` (a benchmark's ``crop:``) centre-crops
every content to one aspect first, so that all pairs share it. The rest (per-iteration random draws, ``w2``) run
one by one. Writes ``DIR/compare.json``,
``compare.md``, ``frontiers.png`` (and ``frontiers_<metric>.png`` for every further metric) and ``forest.png``.
"""

from __future__ import annotations

import re
import shlex
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from nstjax.io import images
from nstjax.io.atomic import write_atomic, write_json
from nstjax.run.config import CONFIG_DIR, ConfigError, RunConfig, check_folder, validate

BENCHMARKS = CONFIG_DIR / "benchmark"  # configs/benchmark/NAME.yaml: contents and styles
REPO = CONFIG_DIR.parent  # a benchmark's relative paths are relative to the repository's root
PER_RUN_KEYS = ("content", "style", "ratio")  # set by the comparison for each run, never by a variant
METRICS = ("style_gram", "style_swd")  # the yardstick's two style distances; each favours its own kind of loss


@dataclass(frozen=True)
class Comparison:
    """What to compare: ``variants`` (each a space-separated set of run overrides, ``""`` = the defaults; the first
    is the baseline) × every (content, style) pair × ``ratios``; ``overrides`` apply to every run."""

    variants: tuple[str, ...]
    ratios: tuple[float, ...]
    contents: tuple[str, ...]
    styles: tuple[str, ...]
    out_dir: Path
    overrides: tuple[
        str, ...
    ] = ()  # Hydra override strings, checked by the caller (``nstjax.entry.stylize.check_overrides``)
    max_batch: int = 8  # runs per batch (1: one by one)
    runs_dir: Path | None = None  # where the runs go (default out_dir/runs); comparisons may share one
    seed: int = 0  # the statistics' bootstrap and permutations
    metrics: tuple[str, ...] = METRICS
    crop: str | None = None  # "W:H": every content centre-cropped to this aspect, so that all pairs share a shape


@dataclass(frozen=True)
class Cell:
    """One run of a comparison."""

    variant: str
    content: str  # the pair's names in tables (``labels``)
    style: str
    ratio: float
    run: RunConfig
    record: dict = field(repr=False)  # the composed config, as summary.json records it
    dir: Path = Path()
    key: str = ""  # what the variant changes in the config (``changes``), its runs' directory name


class Benchmark(NamedTuple):
    """A benchmark's images (relative paths resolved against the repository) and its declared crop."""

    contents: list[str]
    styles: list[str]
    crop: str | None = None


def benchmark(name: str) -> Benchmark:
    """The contents, styles and ``crop`` of ``configs/benchmark/NAME.yaml``."""
    from omegaconf import OmegaConf

    path = BENCHMARKS / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in BENCHMARKS.glob("*.yaml"))
        raise ConfigError(f"benchmark must be one of {', '.join(known)}; got {name!r}")
    spec = OmegaConf.to_container(OmegaConf.load(path))
    if not (isinstance(spec, dict) and isinstance(spec.get("contents"), list) and isinstance(spec.get("styles"), list)):
        raise ConfigError(f"{path} must list contents: [...] and styles: [...]")

    def resolve(source: str) -> str:
        if source.startswith(images.BUNDLED) or Path(source).is_absolute():
            return source
        return str((REPO / source).resolve())

    crop = spec.get("crop")
    return Benchmark(
        [resolve(str(s)) for s in spec["contents"]],
        [resolve(str(s)) for s in spec["styles"]],
        None if crop is None else str(crop),
    )


def parse_crop(crop: str) -> tuple[int, int]:
    """``"4:3"`` → (4, 3), the aspect width : height; ConfigError (one line) otherwise."""
    w, colon, h = str(crop).partition(":")
    if not (colon and w.strip().isdigit() and h.strip().isdigit() and int(w) > 0 and int(h) > 0):
        raise ConfigError(f"crop must be an aspect W:H of positive integers (e.g. 4:3), got {crop!r}")
    return int(w), int(h)


def crop_window(shape: tuple[int, ...], aspect: tuple[int, int]) -> tuple[int, int]:
    """(height, width) of the largest window of an image of ``shape`` whose width : height is ``aspect``."""
    h, w = shape[:2]
    if w * aspect[1] > h * aspect[0]:  # too wide: keep the full height
        return h, max(1, round(h * aspect[0] / aspect[1]))
    return max(1, round(w * aspect[1] / aspect[0])), w


def centre_crop(image: np.ndarray, aspect: tuple[int, int]) -> np.ndarray:
    """The largest centred window of ``image`` whose width : height is ``aspect``."""
    (h, w), (ch, cw) = image.shape[:2], crop_window(image.shape, aspect)
    top, left = (h - ch) // 2, (w - cw) // 2
    return image[top : top + ch, left : left + cw]


def cropped_path(folder: Path, crop: str, name: str) -> Path:
    """Where a content's copy centre-cropped to ``crop`` goes (``write_cropped``)."""
    aspect = parse_crop(crop)
    return folder / f"crop_{aspect[0]}x{aspect[1]}" / f"{name}.png"


def write_cropped(sources: Sequence[str], paths: Sequence[str], crop: str) -> None:
    """Each content centre-cropped to ``crop`` as a PNG at its path (once, lossless: the run resizes it to
    image_size as it would the original), so that every pair of a benchmark optimises one shape."""
    for source, path in zip(sources, paths, strict=True):
        if not Path(path).is_file():
            images.save_png(centre_crop(images.load_image(source), parse_crop(crop)), path)


def canonical(source: str) -> str:
    """An image source as runs record it: a file's absolute path (``skimage:NAME`` as it is; a name only the
    repository's data/ has, ``images.locate``, as its path there)."""
    return source if source.startswith(images.BUNDLED) else str(images.locate(source).resolve())


def labels(sources: Sequence[str]) -> list[str]:
    """Short unique names for images (``coffee`` for ``skimage:coffee``, the file's stem otherwise)."""
    out: list[str] = []
    for source in sources:
        name = source[len(images.BUNDLED) :] if source.startswith(images.BUNDLED) else Path(source).stem
        name = re.sub(r"[^\w.-]+", "_", name) or "image"
        unique, n = name, 1
        while unique in out:
            n += 1
            unique = f"{name}-{n}"
        out.append(unique)
    return out


def variant_overrides(variant: str) -> list[str]:
    """A variant's overrides: ``"pooling=l2 style_loss=w2"`` → ``["pooling=l2", "style_loss=w2"]``."""
    try:
        words = shlex.split(variant)
    except ValueError as exc:
        raise ConfigError(f"variant {variant!r}: {exc}") from None
    for word in words:
        key = word.partition("=")[0].lstrip("+~")
        if "=" not in word:
            raise ConfigError(f"variant {variant!r}: {word!r} is not key=value")
        if key in PER_RUN_KEYS:
            raise ConfigError(
                f"variant {variant!r} sets {key}, which the comparison sets per run (ratios=, contents=, styles=)"
            )
    return words


def changes(record: dict, default: dict, prefix: str = "") -> list[str]:
    """What ``record`` changes in ``default``, as sorted ``key=value`` strings (nested keys dotted)."""
    out = []
    for key in sorted(set(record) | set(default)):
        a, b = record.get(key), default.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += changes(a, b, f"{prefix}{key}.")
        elif a != b:
            value = "null" if a is None else f"[{','.join(map(str, a))}]" if isinstance(a, list) else a
            out.append(f"{prefix}{key}={value}")
    return out


def slug(changed: Sequence[str]) -> str:
    """Changes to a configuration as a directory name: the same changes, however written, get the same one, so
    comparisons that share a ``runs_dir`` share its runs (``pooling=avg`` is the defaults' ``""``)."""
    text = re.sub(r"[^\w=.,+-]+", "_", ",".join(changed)) or "defaults"
    return text if len(text) <= 100 else f"{text[:90]}-{zlib.crc32(text.encode()):08x}"


def check(comparison: Comparison) -> None:
    """The comparison's own keys; ConfigError (one line) on the first problem."""
    c = comparison
    if len(c.variants) < 2:
        raise ConfigError(
            f"variants needs a baseline and at least one variant to compare with it, got {list(c.variants)}"
        )
    names = [" ".join(variant_overrides(v)) for v in c.variants]
    if len(set(names)) < len(names):
        raise ConfigError(f"variants must differ from each other, got {list(c.variants)}")
    if len(c.ratios) < 2 or len(set(c.ratios)) < len(c.ratios) or not all(r > 0 for r in c.ratios):
        raise ConfigError(
            f"ratios needs two or more distinct positive ratios (a frontier per pair), got {list(c.ratios)}"
        )
    if not c.contents or not c.styles:
        raise ConfigError("give the pairs: contents=[...] styles=[...] or benchmark=NAME")
    if c.max_batch < 1:
        raise ConfigError(f"max_batch must be >= 1, got {c.max_batch}")
    if c.crop is not None:
        parse_crop(c.crop)
    for key, folder in (("out_dir", c.out_dir), ("runs_dir", c.runs_dir)):
        if folder is not None:
            check_folder(key, folder)
    for key in (k.partition("=")[0].lstrip("+~") for k in c.overrides):
        if key in PER_RUN_KEYS:
            raise ConfigError(
                f"{key} is set per run by the comparison; use {'ratios' if key == 'ratio' else key + 's'}="
            )


def plan(comparison: Comparison) -> list[Cell]:
    """Every run of the comparison, composed and validated, its images' headers read: a bad key, value or image
    raises ConfigError or ImageError (one line) before any work."""
    from omegaconf import OmegaConf

    from nstjax.run.experiments import compose

    check(comparison)
    for source in dict.fromkeys((*comparison.contents, *comparison.styles)):
        images.image_shape(source)  # a missing or damaged image, named as the user gave it
    content_names, style_names = labels(comparison.contents), labels(comparison.styles)
    # One file written two ways is one run: a relative path is recorded absolute (as benchmarks' are).
    contents, styles = ([canonical(s) for s in sources] for sources in (comparison.contents, comparison.styles))
    shapes = {s: images.image_shape(s) for s in dict.fromkeys((*contents, *styles))}  # headers only
    # The settings every run shares name a level of their own, so comparisons at other settings sharing the
    # runs_dir never write into each other's runs (both would have had a "defaults" variant).
    default = OmegaConf.to_container(compose({}, ["progress=false", *comparison.overrides]), resolve=True)
    plain = OmegaConf.to_container(compose({}, ["progress=false"]), resolve=True)
    assert isinstance(default, dict) and isinstance(plain, dict)
    runs_dir = (comparison.runs_dir or comparison.out_dir / "runs") / slug(changes(default, plain))
    originals = contents
    if comparison.crop is not None:  # the cropped copies are the runs' contents, written once the plan is sound
        aspect = parse_crop(comparison.crop)
        contents = [str(cropped_path(runs_dir.parent / "inputs", comparison.crop, n)) for n in content_names]
        shapes.update({c: crop_window(shapes[o], aspect) for c, o in zip(contents, originals, strict=True)})
    cells: list[Cell] = []
    seen: dict[str, str] = {}
    for variant in comparison.variants:
        cfg = compose({}, ["progress=false", *comparison.overrides, *variant_overrides(variant)])
        base = OmegaConf.to_container(cfg, resolve=True)
        assert isinstance(base, dict)
        key = slug(changes(base, default))
        if key in seen:
            raise ConfigError(f"variants {seen[key]!r} and {variant!r} are the same configuration")
        seen[key] = variant
        for content, c_name in zip(contents, content_names, strict=True):
            for style, s_name in zip(styles, style_names, strict=True):
                for ratio in comparison.ratios:
                    record = {**base, "content": content, "style": style, "ratio": float(ratio)}
                    run = validate(record)
                    folder = runs_dir / key / f"{c_name}__{s_name}" / f"ratio_{ratio:g}"
                    cells.append(Cell(variant, c_name, s_name, float(ratio), run, record, folder, key))
    preflight(cells, comparison.max_batch, shapes)
    if comparison.crop is not None:
        write_cropped(originals, contents, comparison.crop)
    return cells


def preflight(cells: Sequence[Cell], max_batch: int, shapes: dict[str, tuple[int, int]]) -> None:
    """Every run's inputs checked before the first run, from the images' headers (``shapes``: source → (h, w)):
    the output and style sizes against VGG19's minimum and the statistic's (mrf's 3×3 patches), and the memory
    of the largest batch a variant's runs can form. A comparison that would fail run by run fails here with one
    line (ImageError, TooLarge), before anything is written."""
    from nstjax.objective.compiled import check_shapes
    from nstjax.run import batch, resources

    per_variant: dict[str, int] = {}
    for cell in cells:
        per_variant[cell.key] = per_variant.get(cell.key, 0) + 1
    seen: set[tuple[str, str]] = set()
    for cell in cells:
        run = cell.run
        if (cell.key, str(run.content)) in seen:
            continue
        seen.add((cell.key, str(run.content)))
        h, w = images.longest_side_shape(shapes[str(run.content)], run.image_size)
        style = (max(1, round(h * run.style_scale)), max(1, round(w * run.style_scale)))
        for what, (a, b) in (("the content image", (h, w)), ("the style image", style)):
            if min(a, b) < images.MIN_SIDE:
                raise images.ImageError(
                    f"{cell.content} × {cell.style}: {what} at image_size={run.image_size} is {b}×{a} px; "
                    f"VGG19 needs at least {images.MIN_SIDE} px on each side"
                )
        check_shapes(run.spec, (h, w), style)
        size = min(max_batch, per_variant[cell.key]) if batch.batchable(run) else 1
        resources.check_memory((h, w), run, batch=size, style_shape=style)


def _wandb(cell: Cell, out_dir: Path) -> dict | None:
    """W&B options for one run (``logger=wandb``): grouped by the comparison's directory."""
    opts = dict(cell.record.get("logger") or {})
    if opts.pop("name", None) != "wandb":
        return None
    opts["group"] = opts.get("group") or out_dir.name
    opts["name"] = f"{cell.key}/{cell.content}__{cell.style}/ratio_{cell.ratio:g}"
    opts["tags"] = list(opts.get("tags") or []) + ["nstjax-compare"]
    return opts


def run_missing(
    cells: Sequence[Cell],
    out_dir: Path,
    max_batch: int = 8,
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr, flush=True),
) -> dict[str, int]:
    """Runs every cell that has not finished with its config, batched where the runs allow; returns counts of
    runs ``executed``, ``reused`` and ``failed`` (a failed run is reported and left out of the statistics)."""
    from nstjax.io.images import ImageError
    from nstjax.objective.normalize import params_for
    from nstjax.run import batch
    from nstjax.run.experiments import finished_run
    from nstjax.run.resources import TooLarge
    from nstjax.run.runner import Interrupted, RunError

    todo = [c for c in cells if finished_run(c.dir, c.record) is None]
    counts = {"executed": 0, "reused": len(cells) - len(todo), "failed": 0}
    if counts["reused"]:
        log(f"[compare] {counts['reused']} of {len(cells)} runs finished before with the same config: reused")
    done = 0
    # In the plan's order (variant by variant), batches or not: a variant's runs finish together.
    for indices in sorted(batch.group([c.run for c in todo]), key=min):
        for start in range(0, len(indices), max_batch):
            chunk = [todo[i] for i in indices[start : start + max_batch]]
            # Checked again here: another comparison sharing the runs_dir may have finished them meanwhile.
            ready = [c for c in chunk if finished_run(c.dir, c.record) is not None]
            counts["reused"] += len(ready)
            done += len(ready)
            chunk = [c for c in chunk if c not in ready]
            if not chunk:
                continue
            t0 = time.perf_counter()
            outcomes: list[Any]
            try:
                params = params_for(chunk[0].run.weights)
                outcomes = batch.run_many(
                    [c.run for c in chunk],
                    params,
                    [c.dir for c in chunk],
                    [c.record for c in chunk],
                    [_wandb(c, out_dir) for c in chunk],
                )
            except (KeyboardInterrupt, Interrupted):
                outcomes = [Interrupted()]
            except (ImageError, RunError, TooLarge) as exc:  # the chunk shares its size (and one program)
                outcomes = [exc] * len(chunk)
            if any(isinstance(o, Interrupted) for o in outcomes):
                # Ctrl-C ends the comparison, not the run it hit: finished runs stay (a run's outputs are written
                # atomically, so an interrupted one has none and runs again), and nothing is summarised with a gap.
                kept = sum(finished_run(c.dir, c.record) is not None for c in cells)
                raise Interrupted(
                    f"interrupted; {kept} of {len(cells)} runs are finished and kept: run the same command again to "
                    "continue"
                ) from None
            done += len(chunk)
            failed = [o for o in outcomes if isinstance(o, Exception)]
            counts["executed"] += len(chunk)
            counts["failed"] += len(failed)
            head, pairs = chunk[0], len({(c.content, c.style) for c in chunk})
            where = f"{head.content} × {head.style}" if pairs == 1 else f"{pairs} pairs"
            log(
                f"[compare] {done}/{len(todo)}: {head.variant or '(defaults)'} · {where} · "
                f"{len(chunk)} run(s) in {time.perf_counter() - t0:.0f} s"
                + (f"; {len(failed)} failed: {failed[0]}" if failed else "")
            )
    return counts


def rows(cells: Sequence[Cell], out_dir: Path) -> list[dict]:
    """One row per run for ``nstjax.stats.summary.summarize``: the pair, variant, ratio and the yardstick from
    its summary.json (None where the run did not finish), and its directory relative to ``out_dir``."""
    import json
    import os

    out = []
    for cell in cells:
        try:
            summary = json.loads((cell.dir / "summary.json").read_text())
        except (OSError, ValueError):
            summary = {}
        done = summary.get("status") == "done" and summary.get("config") == cell.record
        metrics = (summary.get("metrics") or {}) if done else {}
        out.append(
            {
                "content": cell.content,
                "style": cell.style,
                "variant": cell.variant,
                "ratio": cell.ratio,
                **{k: metrics.get(k) for k in ("content_distance", "style_gram", "style_swd", "colour")},
                "steps": summary.get("steps") if done else None,
                "dir": os.path.relpath(cell.dir, out_dir),
            }
        )
    return out


def write_outputs(
    comparison: Comparison, table: list[dict], summary: dict, timing: dict | None = None
) -> dict[str, Path]:
    """compare.json (the summary, the runs' rows and the settings), compare.md, the frontiers, the forest plot and,
    when runs were executed, timing.json (this machine's seconds per pixel-step: what ``forecast`` reads of a pilot;
    apart, so that a rerun that reuses every run writes compare.json byte for byte again)."""
    from nstjax.io.compare_plots import forest_png, frontiers_png
    from nstjax.stats.summary import to_markdown

    out = comparison.out_dir
    settings = {
        "variants": list(comparison.variants),
        "ratios": list(comparison.ratios),
        "contents": list(comparison.contents),
        "styles": list(comparison.styles),
        "overrides": list(comparison.overrides),
        "crop": comparison.crop,
    }
    paths = {"json": write_json(out / "compare.json", {**summary, "settings": settings, "runs": table})}
    if timing is not None and timing.get("executed"):
        paths["timing"] = write_json(out / "timing.json", timing)
    missing = sum(r["content_distance"] is None for r in table)
    note = (
        f"\n{len(table)} runs: {len(comparison.variants)} variants × {summary['pairs']} pairs × "
        f"{len(comparison.ratios)} ratios ({', '.join(f'{r:g}' for r in comparison.ratios)})"
        + (f", {missing} without a result" if missing else "")
        + (f"; every run: `{' '.join(comparison.overrides)}`" if comparison.overrides else "")
        + ".\n"
    )
    text = to_markdown(summary) + note
    paths["md"] = write_atomic(out / "compare.md", lambda f: f.write(text.encode()))
    for i, metric in enumerate(comparison.metrics):
        paths[f"frontiers_{metric}"] = frontiers_png(
            table, out / ("frontiers.png" if i == 0 else f"frontiers_{metric}.png"), metric
        )
    paths["forest"] = forest_png(summary, out / "forest.png")
    return paths


def compare(
    comparison: Comparison,
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr, flush=True),
    cells: list[Cell] | None = None,
) -> dict[str, Any]:
    """Plans (``plan``: every error before any work), runs what is missing, summarises and writes the outputs.

    Returns {"summary": compare.json's statistics, "rows", "paths", "executed", "reused", "failed", "seconds"}.
    With ``logger=wandb`` each run logs to W&B and the table and figures go to one more W&B run."""
    from nstjax.run.experiments import finished_run
    from nstjax.stats.summary import summarize

    cells = cells if cells is not None else plan(comparison)
    todo = [c for c in cells if finished_run(c.dir, c.record) is None]
    t0 = time.perf_counter()
    counts = run_missing(cells, comparison.out_dir, comparison.max_batch, log)
    seconds = time.perf_counter() - t0
    table = rows(cells, comparison.out_dir)
    summary = summarize(table, comparison.variants[0], comparison.metrics, seed=comparison.seed)
    timing = {"seconds": seconds, "executed": counts["executed"], "pixel_steps": pixel_steps(todo), **machine()}
    paths = write_outputs(comparison, table, summary, timing)
    opts = _wandb(cells[0], comparison.out_dir)
    if opts is not None:
        from nstjax.io.logging import log_comparison

        opts["name"] = f"{comparison.out_dir.name}/compare"
        log_comparison(comparison.out_dir, opts, summary, {k: v for k, v in paths.items() if v.suffix == ".png"})
    log(
        f"[compare] {counts['executed']} runs executed, {counts['reused']} reused, {counts['failed']} failed, "
        f"{seconds / 60:.1f} min; {paths['md']}"
    )
    return {"summary": summary, "rows": table, "paths": paths, **counts, "seconds": seconds}


def pixel_steps(cells: Sequence[Cell]) -> int:
    """Σ steps × pixels over ``cells``: the work a comparison's runs ask for, what its time scales with."""
    from nstjax.run.runner import output_shape

    total = 0
    for cell in cells:
        h, w = output_shape(cell.run)
        total += int(sum(cell.run.steps) if isinstance(cell.run.steps, (list, tuple)) else cell.run.steps) * h * w
    return total


def machine() -> dict[str, Any]:
    """This machine as a timing is only valid for: its CPU's name and its core count."""
    import os
    import platform

    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            name = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), name)
    except OSError:
        pass
    return {"cpu": name, "cores": os.cpu_count()}


def read_pilot(folder: str | Path) -> dict:
    """A finished comparison's folder as a pilot: its compare.json's comparisons and its timing.json (either may be
    missing: that part of the forecast is then unknown); ConfigError (one line) when neither can be read."""
    import json

    folder = Path(folder).expanduser()
    pilot: dict[str, Any] = {"comparisons": [], "timing": None}
    for name, key in (("compare.json", "comparisons"), ("timing.json", "timing")):
        try:
            data = json.loads((folder / name).read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            pilot[key] = data.get("comparisons", []) if key == "comparisons" else data
    if not pilot["comparisons"] and pilot["timing"] is None:
        raise ConfigError(f"pilot={folder}: no readable compare.json or timing.json there")
    return pilot


def forecast(cells: Sequence[Cell], variants: int, pilot: dict | None, effect: float, margin: float) -> dict:
    """What a comparison will cost and can answer, before it runs (``nstjax-compare plan=true``).

    ``pilot``: {"timing": a comparison's timing.json, "comparisons": its compare.json's} (``read_pilot``). Time: the
    runs not yet finished × their steps × pixels, at the seconds per pixel-step the pilot measured (valid for the CPU
    it names). Power: the primary test's, for the design's contents × styles, from the pilot's variance components
    (per metric, its first comparison's) to detect ``effect`` (log style distance) and to show equivalence within
    ``margin`` (``nstjax.stats.power.plan``)."""
    from nstjax.run.experiments import finished_run
    from nstjax.stats.power import plan as power_plan

    todo = [c for c in cells if finished_run(c.dir, c.record) is None]
    out: dict[str, Any] = {
        "runs": len(cells),
        "to_run": len(todo),
        "pairs": len({(c.content, c.style) for c in cells}),
        "contents": len({c.content for c in cells}),
        "styles": len({c.style for c in cells}),
        "seconds": None,
        "power": None,
    }
    if pilot is None:
        return out
    timing = pilot.get("timing") or {}
    if timing.get("pixel_steps"):
        rate = timing["seconds"] / timing["pixel_steps"]
        out["seconds"] = pixel_steps(todo) * rate
        out["timed_on"] = f"{timing.get('cpu')}, {timing.get('cores')} cores"
    firsts: dict[str, dict] = {}  # per metric, the pilot's first comparison with variance components
    for c in pilot.get("comparisons", []):
        if (c.get("variance") or {}).get("residual") is not None:
            firsts.setdefault(c["metric"], c["variance"])
    if firsts and out["contents"] >= 2 and out["styles"] >= 2:
        tests = max(1, (variants - 1) * len(firsts))  # Holm's family: variants × metrics
        out["power"] = {
            metric: power_plan(var, out["contents"], out["styles"], effect, margin, n_tests=tests)
            for metric, var in firsts.items()
        }
        out["effect"], out["margin"] = effect, margin
    return out
