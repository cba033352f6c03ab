"""Peak RSS and seconds per evaluation of a run with and without ``tile=N``, at print sizes.

Each configuration is a real run (``nstjax`` with ``steps=S``, from the content) in a fresh process that reports
its own peak RSS (VmHWM). The yardstick is left out (``metrics.score`` returns None in the child): it runs once
after the optimisation and would measure its own network, not the run's; ``--yardstick`` keeps it, so that the
peak is the whole run's (a tiled run scores tile by tile, ``nstjax.objective.tiled_metrics``). Seconds per
evaluation: the run's optimisation time over its evaluations (the compile call excluded). A size the memory
guard refuses is recorded with the guard's one-line message and not run.

    python scripts/tiled_memory.py --sizes 1024 2048 3072 --tile 512 --steps 3 [--yardstick] [--out FILE.json]
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
from pathlib import Path

from nstjax.io.images import PAPER_IMAGES

CHILD = r"""
import atexit, json, sys
PEAK = sys.argv[1]
def hwm():
    kb = next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM'))
    open(PEAK, 'w').write(kb)
atexit.register(hwm)
if sys.argv[2] == 'stub':
    from nstjax.objective import metrics
    metrics.score = lambda *a, **k: None  # the run's peak, not the yardstick's network
from nstjax.entry.stylize import main
sys.argv = ['nstjax', *sys.argv[3:]]
main()
"""


def cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def commit() -> str:
    """The repository's HEAD, with "+changes" when the working tree differs from it (what was measured)."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True)
        return head + ("+changes" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def one(size: int, tile: int, steps: int, images: Path, work: Path, extra: list[str], yardstick: bool = False) -> dict:
    out = work / f"s{size}_t{tile}_{len(list(work.iterdir()))}"
    peak = work / f"peak_{out.name}"
    args = [
        f"content={images / 'tubingen.jpg'}",
        f"style={images / 'starry_night.jpg'}",
        f"image_size={size}",
        f"steps={steps}",
        f"tile={tile}",
        "progress=false",
        f"hydra.run.dir={out}",
        *extra,
    ]
    t0 = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-c", CHILD, str(peak), "keep" if yardstick else "stub", *args], capture_output=True, text=True
    )
    wall = time.perf_counter() - t0
    row: dict = {"size": size, "tile": tile, "extra": extra, "wall_s": round(wall, 1)}
    if r.returncode != 0:
        row["refused"] = (r.stderr.strip().splitlines() or ["?"])[-1]
        return row
    summary = json.loads((out / "summary.json").read_text())
    row.update(
        peak_rss_gib=round(int(peak.read_text()) / 2**20, 2),
        image=summary["image_size"],
        evaluations=summary["evaluations"],
        s_per_eval=round(summary["seconds_optimize"] / summary["evaluations"], 2),
        seconds_compile=round(summary["seconds_compile"], 1),
        tiling=summary.get("tiling"),
        metrics=summary.get("metrics"),
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048, 3072])
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--no-untiled", action="store_true", help="only the tiled runs")
    parser.add_argument("--extra", nargs="*", default=[], help="more overrides for every run, e.g. conv=direct")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--yardstick", action="store_true", help="keep the yardstick: the whole run's peak")
    parser.add_argument("--images", type=Path, default=PAPER_IMAGES)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            for tile in (args.tile,) if args.no_untiled else (0, args.tile):
                rows.append(one(size, tile, args.steps, args.images, Path(tmp), args.extra, args.yardstick))
                print(json.dumps(rows[-1]), flush=True)
    result = {
        "cpu": cpu(),
        "cores": os.cpu_count(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "commit": commit(),
        "steps": args.steps,
        "yardstick": args.yardstick,
        "rows": rows,
    }
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
