#!/usr/bin/env bash
# Regenerates docs/style_controls.png, the style-control examples of docs/getting-started.md (about 6 minutes on
# a 2-core AMD EPYC Zen 4).
set -euo pipefail
I=${NSTJAX_IMAGES:-$(dirname "$0")/../data/images}
OUT=${1:-outputs/readme_examples}
BIN=${BIN:-$(dirname "$0")/../.venv/bin}  # the checkout's virtualenv (make install)
C="content=$I/tubingen.jpg image_size=256 steps=120 progress=false"
mkdir -p "$OUT"
"$BIN/python" - "$OUT" <<'PY'
import sys
import numpy as np
from PIL import Image
m = np.zeros((192, 256), np.uint8); m[:96] = 255
Image.fromarray(m).save(f"{sys.argv[1]}/sky.png"); Image.fromarray(255 - m).save(f"{sys.argv[1]}/town.png")
PY
"$BIN/nstjax" $C style=$I/starry_night.jpg hydra.run.dir=$OUT/plain
"$BIN/nstjax" $C style=$I/starry_night.jpg preserve_color=luminance hydra.run.dir=$OUT/luminance
"$BIN/nstjax" $C "style=[$I/starry_night.jpg,$I/the_scream.jpg]" "style_blend=[0.5,0.5]" hydra.run.dir=$OUT/blend
"$BIN/nstjax" $C "style=[$I/starry_night.jpg,$I/the_scream.jpg]" "style_masks=[$OUT/sky.png,$OUT/town.png]" hydra.run.dir=$OUT/masks
"$BIN/nstjax" $C style=$I/starry_night.jpg weights=normalized hydra.run.dir=$OUT/normalized
"$BIN/python" "$(dirname "$0")/compose_examples.py" docs/style_controls.png \
  "$OUT/plain:starry_night" "$OUT/luminance:preserve_color=luminance" "$OUT/blend:starry_night + the_scream, 0.5/0.5" \
  "$OUT/masks:masks: sky starry_night, town the_scream" "$OUT/normalized:weights=normalized"
# Its record: the commands, the hardware, the date and the commit.
"$BIN/python" - "$C" <<'PY'
import json, subprocess, sys
from datetime import date
lscpu = dict(l.split(":", 1) for l in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines() if ":" in l)
record = {
    "figure": "docs/style_controls.png",
    "runs": ["plain", "preserve_color=luminance", "style_blend=[0.5,0.5]", "style_masks (sky, town)", "weights=normalized"],
    "common": sys.argv[1].split(),
    "hardware": f"{lscpu['Model name'].strip()} (family {lscpu['CPU family'].strip()}, model {lscpu['Model'].strip()}), {lscpu['CPU(s)'].strip()} cores",
    "date": date.today().isoformat(),
    "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
}
open("docs/style_controls.json", "w").write(json.dumps(record, indent=1) + "\n")
PY
