"""The flow methods' endpoint error on clips whose flow is known (docs/video.md's table).

.venv/bin/python scripts/flow_epe.py [size] [method ...]
"""

from __future__ import annotations

import sys
import time

import numpy as np
import skimage.data

from nstjax.video import flow, synthetic

BORDER = 8  # px left out: where the true source lies outside the frame, no method can know it

MOVES = {
    "pan": ((3.0, 1.0), 1.0),
    "zoom": ((0.0, 0.0), 1.03),
    "pan+zoom": ((2.0, -1.0), 1.02),
    "fast pan": ((8.0, 0.0), 1.0),
}


def main(size: int, methods: list[str]) -> None:
    source = skimage.data.astronaut()
    print(f"| clip ({size} px) | " + " | ".join(methods) + " |")
    print("| --- |" + " --- |" * len(methods))
    seconds = dict.fromkeys(methods, 0.0)
    for name, (pan, zoom) in MOVES.items():
        frames, camera = synthetic.clip(source, 4, (size, size), pan, zoom)
        row = []
        for method in methods:
            errors = []
            for t in range(1, 4):
                t0 = time.perf_counter()
                estimated = flow.estimate(frames[t], frames[t - 1], method)
                seconds[method] += (time.perf_counter() - t0) / 12
                true = synthetic.true_flow(camera, (size, size), t, t - 1)
                errors.append(np.linalg.norm(estimated - true, axis=-1)[BORDER:-BORDER, BORDER:-BORDER].mean())
            row.append(f"{np.mean(errors):.3f}")
        print(f"| {name} | " + " | ".join(row) + " |")
    print("| ms a pair | " + " | ".join(f"{1000 * seconds[m]:.0f}" for m in methods) + " |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 256, sys.argv[2:] or list(flow.FLOWS))
