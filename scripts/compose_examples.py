"""Puts run directories' final.png side by side with captions: `compose_examples.py OUT.png DIR:caption ...`."""

import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from PIL import Image  # noqa: E402

out, *cells = sys.argv[1:]
fig, axes = plt.subplots(1, len(cells), figsize=(3.0 * len(cells), 2.7))
for ax, cell in zip(axes, cells, strict=True):
    folder, caption = cell.split(":", 1)
    ax.imshow(Image.open(f"{folder}/final.png"))
    ax.set_title(caption, fontsize=8)
    ax.axis("off")
fig.tight_layout()
fig.savefig(out, dpi=100)
