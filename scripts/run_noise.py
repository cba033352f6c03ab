"""Run noise of the verdicts' runs (``make run-noise``): the size check's 8 pairs run again under ``seed=1`` in
batches of another size, beside their ``seed=0`` runs of ``make verdicts``, and the pooled SD of log distance
between the replicates (``nstjax.stats.noise.run_noise``) written to docs/results/run_noise.json.

With ``init=content`` (the default, and the benchmark's) the seed draws nothing: the replicates differ only by the
batch they ran in (float32 sums in another order), which is the noise a verdict's runs carry. ``--init noise``
measures the paper's white-noise start instead, where the seed draws the starting image.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from datetime import date
from pathlib import Path

import nstjax
from nstjax.stats.noise import run_noise

ROOT = Path(__file__).resolve().parent.parent
B = "data/benchmark"
STYLES = [f"{B}/styles/hokusai_great_wave.jpg", f"{B}/styles/van_gogh_starry_night.jpg", f"{B}/styles/durer_lion.jpg"]
STYLES += ["data/images/the_scream.jpg"]
CONTENTS = ["data/images/tubingen.jpg", f"{B}/contents/monument_gateway_of_india.jpg"]
RATIOS = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 1e-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-dir", default="outputs/verdict/runs")
    parser.add_argument("--init", default="content", choices=["content", "noise"])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "run_noise.json")
    args = parser.parse_args()
    rows = []
    for seed, batch in ((0, 24), (1, 6)):
        result = nstjax.compare(
            ["pooling=max", "pooling=avg"],
            RATIOS,
            [str(ROOT / c) for c in CONTENTS],
            [str(ROOT / s) for s in STYLES],
            out_dir=f"outputs/verdict/noise_seed{seed}",
            runs_dir=args.runs_dir,
            max_batch=batch,
            crop="4:3",
            image_size=64,
            steps=50,
            seed=seed,
            init=args.init,
        )
        rows += [dict(r, seed=seed) for r in result["rows"]]
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    cpu = next(line.split(":", 1)[1].strip() for line in lscpu.splitlines() if line.startswith("Model name"))
    record = {
        "what": "pooled SD of log distance between replicate seeds at the same variant, pair and ratio",
        "init": args.init,
        "pairs": len(CONTENTS) * len(STYLES),
        "ratios": RATIOS,
        "noise": run_noise(rows, ("style_gram", "style_swd")),
        "cpu": cpu,
        "date": date.today().isoformat(),
        "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip(),
    }
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record["noise"], indent=1))


if __name__ == "__main__":
    main()
