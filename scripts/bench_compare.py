"""Comparisons at the speed of their evaluations (``make bench-compare``): the whole ``nstjax-compare`` command's
pixel-evaluations per second against a bare PyTorch eager loss-and-gradient loop on the same machine.

For each size: a PyTorch eager evaluation of the identical objective (``torch_reference``) at the comparison's
shape is timed, then ``nstjax-compare`` on ``benchmark=small`` (2 × 2 pairs) × 2 poolings × 4 ratios runs whole
(compiling with an empty compilation cache, scoring, statistics, plots) as this checkout has it ("after") and, with
``--before COMMIT``, as that commit had it ("before", from a git worktree), alternating, each in a new folder.

    efficiency = Σ evaluations × pixels × (PyTorch seconds per pixel-evaluation) ÷ the command's wall time

Writes one JSON record (hardware, date, commit, every measurement) to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

VARIANTS = "variants=[pooling=max,pooling=avg]"
RATIOS = "ratios=[1e-4,1e-3,1e-2,1e-1]"


def cpu() -> str:
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    name = fields.get("Model name", platform.processor()).strip()
    return f"{name} (family {fields.get('CPU family', '?').strip()}, model {fields.get('Model', '?').strip()})"


def torch_seconds_per_pixel(size: int, repeats: int) -> dict:
    """A bare PyTorch eager loss-and-gradient evaluation at the comparison's shape (Tübingen at 4:3)."""
    import numpy as np
    import torch
    import torch_reference as tr

    from nstjax.io import images
    from nstjax.io.weights import load_params

    torch.set_num_threads(os.cpu_count() or 1)
    content = images.resize_longest(images.load_image(images.PAPER_IMAGES / "tubingen.jpg"), size)
    style = images.resize(images.load_image(images.PAPER_IMAGES / "starry_night.jpg"), content.shape[:2])
    obj = tr.Objective(load_params(), content, style, pooling="max", alpha=1.0, beta=1e3)
    x = tr.to_tensor(content.astype(np.float32)).requires_grad_(True)
    times = []
    for _ in range(repeats + 1):  # the first warms the allocator
        t0 = time.perf_counter()
        x.grad = None
        loss, _ = obj(x)
        loss.backward()
        times.append(time.perf_counter() - t0)
    best = min(times[1:])
    pixels = content.shape[0] * content.shape[1]
    return {"eval_s": best, "shape": list(content.shape[:2]), "s_per_pixel": best / pixels, "torch": torch.__version__}


def comparison(size: int, steps: int, checkout: Path, extra: list[str]) -> dict:
    """The whole command, wall-clocked, in a fresh folder with an empty compilation cache."""
    with tempfile.TemporaryDirectory(prefix="bench-compare-") as tmp:
        cache = Path(tmp) / "cache"
        cache.mkdir()
        home = Path(os.environ.get("NSTJAX_CACHE", Path.home() / ".cache" / "nstjax"))
        (cache / "vgg19.npz").symlink_to(home / "vgg19.npz")
        env = {**os.environ, "NSTJAX_CACHE": str(cache), "PYTHONPATH": str(checkout), "NSTJAX_TUNE": "0"}
        images_dir = ROOT / "data" / "images"
        pairs = [f"contents=[{images_dir / 'tubingen.jpg'},skimage:astronaut]"]
        pairs += [f"styles=[{images_dir / 'starry_night.jpg'},{images_dir / 'the_scream.jpg'}]"]
        args = [VARIANTS, RATIOS, *pairs, f"image_size={size}", f"steps={steps}", f"out_dir={tmp}/cmp", *extra]
        # The entry point where each checkout has it (nstjax.entry since the console scripts' one package).
        code = (
            "import sys\ntry:\n    from nstjax.entry.compare import main\nexcept ImportError:\n"
            "    from nstjax.compare_cli import main\nsys.exit(main(sys.argv[1:]))"
        )
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if r.returncode != 0:
            raise SystemExit(f"nstjax-compare failed ({checkout}):\n{r.stderr[-3000:]}")
        runs = json.loads((Path(tmp) / "cmp" / "compare.json").read_text())["runs"]
        evaluations = pixel_evaluations = 0
        for row in runs:
            summary = json.loads((Path(tmp) / "cmp" / row["dir"] / "summary.json").read_text())
            h, w = summary["image_size"]
            evaluations += summary["evaluations"]
            pixel_evaluations += summary["evaluations"] * h * w
        programs = sum(1 for p in (cache / "xla").rglob("*") if p.is_file()) if (cache / "xla").exists() else 0
    return {
        "wall_s": wall,
        "runs": len(runs),
        "runs_per_hour": len(runs) / wall * 3600,
        "evaluations": evaluations,
        "pixel_evaluations": pixel_evaluations,
        "programs_compiled": programs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--steps", type=int, nargs="+", default=[60], help="one per size, or one for all")
    parser.add_argument("--before", help="a commit to measure beside this checkout (a git worktree)")
    parser.add_argument("--rounds", type=int, default=1, help="alternations per size")
    parser.add_argument("--max-batch", type=int, default=16)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "throughput.json")
    args = parser.parse_args()
    steps = args.steps * len(args.sizes) if len(args.steps) == 1 else args.steps
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    before_dir = None
    if args.before:
        before_dir = Path(tempfile.mkdtemp(prefix="bench-before-"))
        subprocess.run(["git", "worktree", "add", "--detach", str(before_dir), args.before], cwd=ROOT, check=True)
    record: dict = {
        "what": "nstjax-compare (2 x 2 pairs x 2 poolings x 4 ratios), whole command, against PyTorch eager",
        "cpu": cpu(),
        "cores": os.cpu_count(),
        "date": date.today().isoformat(),
        "commit": commit,
        "before": args.before,
        "sizes": {},
    }
    try:
        for size, n in zip(args.sizes, steps, strict=True):
            rows: dict[str, list] = {"torch": [], "after": [], "before": []}
            for _ in range(args.rounds):
                rows["torch"].append(torch_seconds_per_pixel(size, 3))
                if before_dir is not None:
                    rows["before"].append(comparison(size, n, before_dir, []))
                rows["after"].append(comparison(size, n, ROOT, [f"max_batch={args.max_batch}", "crop=4:3"]))
                rows["torch"].append(torch_seconds_per_pixel(size, 3))
            s_per_pixel = min(t["s_per_pixel"] for t in rows["torch"])
            for kind in ("after", "before"):
                for m in rows[kind]:
                    m["efficiency"] = m["pixel_evaluations"] * s_per_pixel / m["wall_s"]
            record["sizes"][str(size)] = {"steps": n, "torch_s_per_pixel": s_per_pixel, **rows}
            print(json.dumps({size: record["sizes"][str(size)]}, indent=1), flush=True)
    finally:
        if before_dir is not None:
            subprocess.run(["git", "worktree", "remove", "--force", str(before_dir)], cwd=ROOT)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(args.out)


if __name__ == "__main__":
    main()
