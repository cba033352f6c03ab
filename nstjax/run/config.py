"""Validating a run's configuration before any work, with one-line errors that name the valid choices."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from nstjax.model.layers import CONTENT_PRESETS, STYLE_PRESETS, resolve_layers
from nstjax.model.pooling import POOLING
from nstjax.objective.compiled import Spec, stochastic
from nstjax.objective.content import CONTENT_LOSSES
from nstjax.objective.conventions import CONVENTIONS, size_factor
from nstjax.objective.statistics import STYLE_LOSSES
from nstjax.objective.statistics.base import configured
from nstjax.optim.optimize import OPTIMIZERS

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"  # Hydra's config tree, beside the package

CHOICES = {
    "pooling": tuple(POOLING),
    "init": ("content", "noise", "style"),
    "preserve_color": ("none", "luminance", "histogram"),
    "weights": ("imagenet", "normalized"),
    "conv": ("auto", "direct", "winograd"),
    "style_loss": tuple(STYLE_LOSSES),
    "content_loss": tuple(CONTENT_LOSSES),
    "convention": tuple(CONVENTIONS),
    "shard": ("none", "spatial"),
    "loop": ("auto", "host", "device"),
}


class ConfigError(ValueError):
    """A bad configuration value; the message is one line for the user."""


@dataclass(frozen=True)
class RunConfig:
    content: str | None
    styles: tuple[str | None, ...]
    style_blend: tuple[float, ...]
    style_scale: float
    image_size: int
    steps: int
    spec: Spec
    ratio: float
    content_weight: float
    style_layer_weights: dict[str, float] | None
    tv_weight: float
    init: str
    seed: int
    preserve_color: str
    weights: str
    optimizer: dict[str, Any]
    save_every: int
    checkpoint_every: int
    resume: bool
    progress: bool
    logger: dict[str, Any] = field(default_factory=lambda: {"name": "none"})
    memory_budget: int | None = None

    style_weight_override: float | None = None
    style_masks: tuple[str, ...] | None = None
    scales: tuple[int, ...] | None = None
    shard: str = "none"  # "spatial": the image's rows split over the local devices (nstjax.run.sharding)
    loop: str = "auto"  # host | device (L-BFGS chunks inside jit) | auto: device on accelerators
    loop_chunk: int = 10
    ratio_size: int | None = 512  # longest side at which ``ratio`` has its printed balance (None: raw α)
    tile: int = 0  # the objective tile by tile, in windows of this interior (nstjax.objective.tiled); 0: in one piece
    scale_steps: tuple[int, ...] | None = None  # steps at each size of ``scales`` (``steps`` then the last one's)

    def loop_kind(self) -> str:
        """The loop that runs: ``auto`` is the host loop on CPUs (no round trip to save there) and the device
        loop on GPUs/TPUs with nstjax's L-BFGS."""
        if self.loop != "auto":
            return self.loop
        if self.tile:
            return "host"  # the tiles' passes are driven from Python
        import jax

        return "device" if jax.default_backend() != "cpu" and self.optimizer.get("name") == "lbfgs" else "host"

    @property
    def style_weight(self) -> float:
        """β: ``style_weight`` when given, else from α and ratio by the convention (paper: α / ratio)."""
        if self.style_weight_override is not None:
            return self.style_weight_override
        return CONVENTIONS[self.spec.convention].beta(self.content_weight, self.ratio)

    def content_weight_at(self, shape: tuple[int, int]) -> float:
        """α as the objective uses it for an image of ``shape``: rescaled by ``ratio_size``
        (``nstjax.objective.conventions.size_factor``) so that a ratio's balance does not depend on the size."""
        from nstjax.io.images import longest_side_shape

        h, w = shape[:2]
        reference = None if self.ratio_size is None else math.prod(longest_side_shape((h, w), self.ratio_size))
        return self.content_weight * size_factor(self.spec.convention, h * w, reference)


FLOAT32_MAX = 3.4028234663852886e38  # every weight reaches the compiled objective as float32
INT_MAX = 2**62  # steps, seeds, sizes: anything larger is a typo, and numpy/XLA would overflow on it


def _number(
    cfg: Mapping, key: str, kind: type[int] | type[float] = float, positive: bool = False, nonneg: bool = False
) -> Any:  # an int or a float, as kind
    value = cfg.get(key)
    try:
        if isinstance(value, bool) or value is None:
            raise TypeError
        if (
            isinstance(value, float)
            and not math.isfinite(value)
            or isinstance(value, str)
            and not math.isfinite(float(value))
        ):
            raise ConfigError(f"{key} must be finite, got {value!r}")
        number = kind(value)
        if kind is int and abs(number) <= INT_MAX and number != float(value):
            raise TypeError
    except (TypeError, ValueError, OverflowError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"{key} must be {'an integer' if kind is int else 'a number'}, got {value!r}") from None
    if not math.isfinite(number):
        raise ConfigError(f"{key} must be finite, got {value!r}")
    if abs(number) > (INT_MAX if kind is int else FLOAT32_MAX):
        raise ConfigError(f"{key} is out of range, got {value!r}")
    if positive and number <= 0:
        raise ConfigError(f"{key} must be > 0, got {value!r}")
    if nonneg and number < 0:
        raise ConfigError(f"{key} must be >= 0, got {value!r}")
    return number


def _choice(cfg: Mapping, key: str, default: str | None = None) -> str:
    value = str(cfg.get(key, default))
    if value not in CHOICES[key]:
        raise ConfigError(f"{key} must be one of {', '.join(CHOICES[key])}; got {value!r}")
    return value


def _plain(value: Any) -> Any:
    return OmegaConf.to_container(value, resolve=True) if isinstance(value, (DictConfig, ListConfig)) else value


def validate(cfg: Mapping | DictConfig) -> RunConfig:
    """Checks every key and resolves presets; raises ConfigError (one line) on the first problem."""
    cfg = _plain(cfg) if isinstance(cfg, DictConfig) else dict(cfg)
    style_loss = _choice(cfg, "style_loss", "gram")
    try:
        content_layers = resolve_layers(cfg.get("content_layers", "paper"), CONTENT_PRESETS, "content_layers")
        style_layers = resolve_layers(cfg.get("style_layers", "paper"), STYLE_PRESETS, "style_layers")
        own = STYLE_LOSSES[style_loss].layers  # the style loss's own paper's layers (mrf: relu3_1, relu4_1)
        if cfg.get("style_layers", "paper") == "paper" and own:
            style_layers = own
    except ValueError as exc:
        raise ConfigError(str(exc)) from None

    styles = cfg.get("style")
    styles = tuple(str(s) for s in styles) if isinstance(styles, (list, tuple)) else (styles,)
    if not styles:
        raise ConfigError("style is an empty list; give one image path or several")
    blend = cfg.get("style_blend")
    if blend is None:
        blend = [1.0 / len(styles)] * len(styles)
    if not isinstance(blend, (list, tuple)) or len(blend) != len(styles):
        raise ConfigError(f"style_blend needs one weight per style image ({len(styles)}), got {blend!r}")
    blend = tuple(_number({"style_blend": b}, "style_blend", nonneg=True) for b in blend)
    if sum(blend) <= 0:
        raise ConfigError(f"style_blend must not be all zero, got {list(blend)}")
    if not STYLE_LOSSES[style_loss].blend and len(set(blend)) > 1:
        raise ConfigError(
            f"style_loss={style_loss} matches in the union of the styles, so style_blend weights mean nothing "
            f"to it; leave style_blend null, got {list(blend)}"
        )

    masks = cfg.get("style_masks")
    if masks is not None:
        masks = tuple(str(m) for m in masks) if isinstance(masks, (list, tuple)) else (str(masks),)
        if len(masks) != len(styles):
            raise ConfigError(f"style_masks needs one mask image per style image ({len(styles)}), got {len(masks)}")

    scales = cfg.get("scales")
    if scales == "auto":
        scales = auto_scales(_image_size(cfg))
    elif scales is not None:
        if not isinstance(scales, (list, tuple)) or not scales:
            raise ConfigError(f"scales must be auto or a list of growing sizes such as [128,256,512], got {scales!r}")
        scales = tuple(_image_size({"image_size": v}) for v in scales)
        if list(scales) != sorted(set(scales)):
            raise ConfigError(f"scales must grow strictly, got {list(scales)}")

    lw = cfg.get("style_layer_weights")
    if lw is not None:
        if not isinstance(lw, (list, tuple)) or len(lw) != len(style_layers):
            raise ConfigError(f"style_layer_weights needs one weight per style layer {list(style_layers)}, got {lw!r}")
        lw = {
            k: _number({"style_layer_weights": w}, "style_layer_weights", nonneg=True)
            for k, w in zip(style_layers, lw, strict=True)
        }

    opt = dict(cfg.get("optimizer") or {"name": "lbfgs"})
    if opt.get("name") not in OPTIMIZERS:
        raise ConfigError(f"optimizer must be one of {', '.join(OPTIMIZERS)}; got {opt.get('name')!r}")
    for key in ("history", "max_evals_per_step"):
        if key in opt:
            _number(opt, key, int, positive=True)
    if "lr" in opt:
        _number(opt, "lr", positive=True)

    for key in ("content",):
        if cfg.get(key) is not None and not isinstance(cfg.get(key), str):
            raise ConfigError(f"{key} must be an image path, got {cfg.get(key)!r}")
    budget = cfg.get("memory_budget")
    content_weight = _number(cfg, "content_weight", nonneg=True)
    style_weight = None if cfg.get("style_weight") is None else _number(cfg, "style_weight", nonneg=True)
    if content_weight == 0 and style_weight == 0:
        raise ConfigError("content_weight and style_weight are both 0: nothing to optimise")

    size = _image_size(cfg)  # checked even where scales sets the output size: a bad value is a typo
    steps = _steps(cfg, scales)  # read once: the last size's count, and every size's when a list was given
    run = RunConfig(
        content=cfg.get("content"),
        styles=styles,
        style_blend=blend,
        style_scale=_number(cfg, "style_scale", positive=True),
        # With scales, the last size is the output (configs/config.yaml: `scales=[128,256,512]` alone makes a 512 px
        # image, and runs rely on it): image_size then says what is made, not a different size nobody gets.
        # Refusing a mismatch would break that documented use; the summary's record says the same
        # (runner.stylize_scales).
        image_size=scales[-1] if scales else size,
        steps=steps[-1],
        spec=Spec(
            content_layers,
            style_layers,
            _choice(cfg, "pooling"),
            _choice(cfg, "conv"),
            style_loss,
            _choice(cfg, "convention", "paper"),
            _style_options(cfg, style_loss),
            _choice(cfg, "content_loss", "mse"),
        ),
        ratio=_number(cfg, "ratio", positive=True),
        content_weight=content_weight,
        style_layer_weights=lw,
        tv_weight=_number(cfg, "tv_weight", nonneg=True),
        init=_choice(cfg, "init"),
        seed=_number(cfg, "seed", int, nonneg=True),
        preserve_color=_choice(cfg, "preserve_color"),
        weights=_choice(cfg, "weights"),
        optimizer=opt,
        save_every=_number(cfg, "save_every", int, nonneg=True),
        checkpoint_every=_number(cfg, "checkpoint_every", int, nonneg=True),
        resume=bool(cfg.get("resume", False)),
        progress=bool(cfg.get("progress", True)),
        logger=dict(cfg.get("logger") or {"name": "none"}),
        memory_budget=None if budget is None else _number(cfg, "memory_budget", int, positive=True),
        style_weight_override=style_weight,
        style_masks=masks,
        scales=scales,
        shard=_choice(cfg, "shard", "none"),
        loop=_choice(cfg, "loop", "auto"),
        loop_chunk=_number({"loop_chunk": cfg.get("loop_chunk", 10)}, "loop_chunk", int, positive=True),
        ratio_size=None
        if cfg.get("ratio_size", 512) is None
        else _image_size({"ratio_size": cfg.get("ratio_size", 512)}, "ratio_size"),
        tile=_number({"tile": cfg.get("tile", 0)}, "tile", int, nonneg=True),
        scale_steps=steps if isinstance(cfg.get("steps"), (list, tuple)) else None,
    )
    if run.tile:
        _check_tile(run)
    statistic = STYLE_LOSSES[run.spec.style_loss]
    if masks is not None and not statistic.masks:
        raise ConfigError(f"style_masks works with style_loss=gram only, got style_loss={run.spec.style_loss}")
    drawn = f"style_loss={run.spec.style_loss}" if statistic.stochastic else f"content_loss={run.spec.content_loss}"
    if stochastic(run.spec) and opt["name"] in ("jaxopt", "lbfgsb"):
        raise ConfigError(
            f"{drawn} needs fresh random numbers each iteration; use optimizer=lbfgs, optax_lbfgs or adam"
        )
    if statistic.joint is not None and lw is not None:
        raise ConfigError(
            f"style_loss={run.spec.style_loss} is one term over all style layers' hypercolumns; "
            "choose style_layers instead of style_layer_weights"
        )
    if run.loop == "device":
        if opt["name"] != "lbfgs":
            raise ConfigError(f"loop=device runs nstjax's L-BFGS; use optimizer=lbfgs (got {opt['name']})")
        for key in ("save_every", "checkpoint_every"):
            if getattr(run, key) % run.loop_chunk:
                raise ConfigError(f"{key} must be a multiple of loop_chunk ({run.loop_chunk}) with loop=device")
        if stochastic(run.spec):
            raise ConfigError(f"{drawn} draws random numbers per iteration on the host; use loop=host")
    if run.style_weight > FLOAT32_MAX:
        raise ConfigError(f"ratio is too small: β = content_weight / ratio = {run.style_weight:.3g} overflows float32")
    return run


def auto_scales(size: int, smallest: int = 128) -> tuple[int, ...]:
    """``scales=auto``: sizes a factor √2 apart from ``size`` down to ``smallest`` px, as
    crowsonkb/style-transfer-pytorch's ``gen_scales`` (round(size / 2^(i/2)) while ≥ 128), smallest first."""
    ladder, i, scale = [], 0, size
    while scale >= min(smallest, size):
        ladder.append(scale)
        i += 1
        scale = round(size / 2 ** (i / 2))
    return tuple(sorted(set(ladder)))


def _steps(cfg: Mapping, scales: tuple[int, ...] | None) -> tuple[int, ...]:
    """``steps``: one count (for every size of ``scales``), or a list with one count per size."""
    value = cfg.get("steps")
    if not isinstance(value, (list, tuple)):
        return (_number(cfg, "steps", int, positive=True),)
    if scales is None:
        raise ConfigError(
            f"steps is a list {list(value)} but scales is not set; give one number, or scales with a size per count"
        )
    if len(value) != len(scales):
        raise ConfigError(f"steps needs one count per size of scales {list(scales)}, got {len(value)}: {list(value)}")
    return tuple(_number({"steps": v}, "steps", int, positive=True) for v in value)


def _check_tile(run: RunConfig) -> None:
    """What ``tile=N`` cannot do, each refused in one line."""
    from nstjax.model.layers import deepest
    from nstjax.objective import tiled

    step = tiled.grid(run.spec.layers)
    if run.tile % step:
        raise ConfigError(
            f"tile must be a multiple of {step} (tiles keep to VGG19's pooling grid up to "
            f"{deepest(run.spec.layers)}), got {run.tile}"
        )
    why = tiled.refusal(run.spec)
    if why:
        raise ConfigError(why)
    if run.style_masks is not None:
        raise ConfigError("tile=N does not take style_masks; leave one of them out")
    if run.shard == "spatial":
        raise ConfigError("tile=N and shard=spatial both split the image; choose one")
    if run.loop == "device":
        raise ConfigError("tile=N drives its tiles from the host; use loop=host (or auto)")
    if run.optimizer.get("name") not in ("lbfgs", "jaxopt", "lbfgsb"):
        raise ConfigError(
            f"tile=N needs an optimiser that calls the objective from Python (lbfgs, jaxopt or lbfgsb), "
            f"got optimizer={run.optimizer.get('name')}"
        )


def _style_options(cfg: Mapping, name: str) -> tuple:
    """The keys of the statistic's own config block (``mrf: {stride: 2, ...}``) as sorted (key, value) pairs,
    checked by the statistic itself; () for a statistic without options."""
    import inspect

    statistic, block = STYLE_LOSSES[name], cfg.get(name)
    if statistic.options is None or block is None:
        return ()
    if not isinstance(block, Mapping):
        raise ConfigError(f"{name} must be a block of keys such as {name}.stride=1, got {block!r}")
    known = inspect.signature(statistic.options).parameters
    unknown = sorted(set(block) - set(known))
    if unknown:
        raise ConfigError(f"{name} has no key {unknown[0]!r}; its keys are {', '.join(known)}")
    try:
        configured(statistic, block)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return tuple(sorted(block.items()))


def _image_size(cfg: Mapping, key: str = "image_size") -> int:
    from nstjax.io.images import MIN_SIDE

    size = _number(cfg, key, int, positive=True)
    if size < MIN_SIDE:
        raise ConfigError(f"{key} must be at least {MIN_SIDE} (VGG19 pools five times), got {size}")
    return size


def check_folder(key: str, folder: Path) -> None:
    """ConfigError unless ``folder`` is, or can be made, a directory this process writes in (checked before any
    work: the runs write there only once they start)."""
    existing = next(p for p in (folder.absolute(), *folder.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise ConfigError(f"{key} must be a directory, but {existing} is a file")
    try:  # a probe, removed at once: permissions alone do not say it (root in /proc, a read-only mount)
        tempfile.TemporaryDirectory(dir=existing).cleanup()
    except OSError as exc:
        raise ConfigError(f"{key}: cannot write in {existing} ({exc.strerror})") from None
