"""VGG19's layer names and the presets users sweep over.

Names are canonical: ``conv{b}_{i}`` before the ReLU, ``relu{b}_{i}`` after it, ``pool{b}`` after block b.
"""

from __future__ import annotations

from collections.abc import Iterable

BLOCKS = ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4))  # (channels, convolutions) per block

CONV_LAYERS = tuple(f"conv{b}_{i}" for b, (_, n) in enumerate(BLOCKS, 1) for i in range(1, n + 1))
CHANNELS = {f"conv{b}_{i}": c for b, (c, n) in enumerate(BLOCKS, 1) for i in range(1, n + 1)}

# Forward order of every named activation.
ORDER: tuple[str, ...] = tuple(
    name
    for b, (_, n) in enumerate(BLOCKS, 1)
    for name in [x for i in range(1, n + 1) for x in (f"conv{b}_{i}", f"relu{b}_{i}")] + [f"pool{b}"]
)
ALL_LAYERS = frozenset(ORDER)

PAPER_STYLE = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
STYLE_PRESETS: dict[str, tuple[str, ...]] = {
    "paper": PAPER_STYLE,
    # The seed article (Keras example): style from block{1..5}_conv1, read after the ReLU as Keras does.
    "keras": PAPER_STYLE,
    # Cumulative subsets of the paper's set: CVPR Fig. 1 (top row) and arXiv Fig. 3 (rows).
    **{f"upto{k}": PAPER_STYLE[:k] for k in range(1, 6)},
    # Single layers.
    **{f"only{k}": (PAPER_STYLE[k - 1],) for k in range(1, 6)},
}
CONTENT_PRESETS: dict[str, tuple[str, ...]] = {
    # The paper's "conv4_2": the authors' Caffe code read it after the in-place ReLU.
    "paper": ("relu4_2",),
    # The seed article's Keras example: block5_conv2.
    "keras": ("relu5_2",),
}


def resolve_layers(
    spec: str | list[str] | tuple[str, ...], presets: dict[str, tuple[str, ...]], what: str
) -> tuple[str, ...]:
    """Turns a preset name or a list of layer names into a tuple of validated layer names."""
    if isinstance(spec, str):
        if spec in presets:
            return presets[spec]
        spec = [spec]
    if not isinstance(spec, (list, tuple)):
        raise ValueError(f"{what} must be a preset ({', '.join(presets)}) or a list of layer names, got {spec!r}")
    layers = tuple(str(s) for s in spec)
    if not layers:
        raise ValueError(f"{what} is empty; give a preset ({', '.join(presets)}) or layer names such as relu4_2")
    for name in layers:
        if name not in ALL_LAYERS:
            raise ValueError(
                f"{what}: unknown layer {name!r}; valid: presets {', '.join(presets)}, or conv/relu{{1..5}}_{{1..4}} "
                f"and pool1..5 (VGG19 has {', '.join(CONV_LAYERS)})"
            )
    return layers


def deepest(layers: Iterable[str]) -> str:
    """The deepest of ``layers`` in the network's order (where a forward pass may stop)."""
    return max(layers, key=ORDER.index)


def channels(layer: str) -> int:
    """N_l: the number of feature maps of ``layer`` (``conv3_2``, ``relu3_2`` and ``pool3`` all have 256)."""
    return BLOCKS[int(layer[4]) - 1][0]  # the block digit follows "conv", "relu" or "pool"
