"""docs/video.md's demonstration: a camera pan and zoom over scikit-image's astronaut, stylised frame by frame and
with Ruder et al.'s temporal loss, side by side as docs/figures/video.gif, with the numbers in video.json.

    .venv/bin/python scripts/video_demo.py [out_dir] [frames] [steps] [size]
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image, ImageDraw

from nstjax.io.images import PAPER_IMAGES, save_png
from nstjax.objective.compiled import enable_compilation_cache
from nstjax.objective.normalize import params_for
from nstjax.run.config import validate
from nstjax.run.experiments import compose
from nstjax.video import io, synthetic
from nstjax.video.config import validate_video
from nstjax.video.run import stylize_video

REPO = Path(__file__).resolve().parents[1]


def cpu_name() -> str:
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    name = next((ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Model name")), "")
    return name or platform.processor()


def main(out: Path, count: int, steps: int, size: int) -> None:
    enable_compilation_cache()
    frames, _ = synthetic.clip(skimage.data.astronaut(), count, (size, size), pan=(1.5, 0.5), zoom=1.01)
    clip = out / "input"
    for i, frame in enumerate(frames):
        save_png(frame, clip / f"{i + 1:04d}.png")
    params = params_for("imagenet")
    summaries = {}
    for name, weight in (("frame_by_frame", 0), ("temporal", 200)):
        keys = [f"style={PAPER_IMAGES / 'starry_night.jpg'}", f"image_size={size}", f"steps={steps}", "progress=false"]
        cfg = compose({}, keys)
        run = validate(cfg)
        video = validate_video({"video": str(clip), "temporal_weight": weight, "long_term": [1], "passes": 1}, run)
        record = {**{k: v for k, v in cfg.items()}, "video": str(clip), "temporal_weight": weight}
        t0 = time.perf_counter()
        summaries[name] = stylize_video(run, video, params, out / name, json.loads(json.dumps(record, default=str)))
        print(name, summaries[name]["warping_error"], f"{time.perf_counter() - t0:.0f} s", flush=True)
    panels = []
    for t in range(count):
        row = [frames[t]] + [io.images.load_image(out / n / "frames" / f"{t + 1:04d}.png") for n in summaries]
        panels.append(np.concatenate(row, axis=1))
    labels = ["input (pan and zoom)", "frame by frame", "temporal loss (Ruder et al.)"]
    gif = []
    for panel in panels:
        image = Image.fromarray(panel)
        draw = ImageDraw.Draw(image)
        for i, label in enumerate(labels):
            draw.rectangle((i * size, 0, i * size + 6 * len(label) + 6, 13), fill=(0, 0, 0))
            draw.text((i * size + 3, 1), label, fill=(255, 255, 255))
        gif.append(image)
    figures = REPO / "docs" / "figures"
    gif[0].save(figures / "video.gif", save_all=True, append_images=gif[1:], duration=125, loop=0, optimize=True)
    gif[count // 2].save(out / "middle.png")
    numbers = {
        "cpu": cpu_name(),
        "frames": count,
        "size": size,
        "steps": steps,
        "fps": 8,
        **{
            name: {k: s[k] for k in ("warping_error", "warping_error_input", "seconds_per_frame", "metrics")}
            | {"warping_error_per_frame": [f["warping_error"] for f in s["frames"]]}
            for name, s in summaries.items()
        },
    }
    (figures / "video.json").write_text(json.dumps(numbers, indent=1) + "\n")
    print(json.dumps(numbers, indent=1))


if __name__ == "__main__":
    args = sys.argv[1:]
    main(
        Path(args[0] if args else "outputs/video_demo"),
        int(args[1]) if len(args) > 1 else 24,
        int(args[2]) if len(args) > 2 else 50,
        int(args[3]) if len(args) > 3 else 256,
    )
