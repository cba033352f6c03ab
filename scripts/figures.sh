#!/usr/bin/env bash
# Regenerates every figure of experiments/ and publishes it in docs/figures, the figures' one place: each experiment
# runs, one process each, in the background-friendly order of cost, into the working folder $OUT (outputs/figures:
# NAME.png, NAME.json and the cells' run directories, reused by a rerun; logs in $OUT.NAME.log), then NAME.png is
# copied as docs/figures/NAME.jpg and NAME.json as docs/figures/NAME.json with the hardware, date and commit added.
# Usage: scripts/figures.sh [key=value ...]   (e.g. image_size=512 steps=500)
# Without arguments: 256 px and 300 steps, the CPU settings of the gallery's figures (docs/reproducing.md).
# EXPERIMENTS="styles init": only those; COPY_ONLY=1: publish experiments already run into $OUT, without running.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
ARGS=("$@")
[ ${#ARGS[@]} -eq 0 ] && ARGS=(image_size=256 steps=300)
OUT=${OUT:-outputs/figures}
mkdir -p "$OUT" docs/figures
COMMIT=$(git rev-parse HEAD 2>/dev/null || echo unknown)
[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && COMMIT="$COMMIT (with uncommitted changes)"
export COMMIT
for name in ${EXPERIMENTS:-content_reconstruction style_reconstruction styles black_style blank_style blank_content ratio_layers init pooling_comparison style_losses normalized methods}; do
  start=$(date +%s)
  extra=()
  case $name in blank_style) extra=(image_size=256) ;; *) extra=("${ARGS[@]}") ;; esac  # blank_style: 20 and 200 steps, as the article
  # COPY_ONLY=1: the experiment already ran into $OUT; only copy its figure and JSON into docs/figures.
  if { [ -n "${COPY_ONLY:-}" ] && [ -f $OUT/$name.json ]; } || $PY experiments/$name.py "${extra[@]}" out_dir=$OUT > $OUT.$name.log 2>&1; then
    $PY - "$OUT" "$name" "$(( $(date +%s) - start ))" <<'PYEOF'
import json, sys
from pathlib import Path
from PIL import Image
out, name, seconds = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
Image.open(out / f"{name}.png").convert("RGB").save(f"docs/figures/{name}.jpg", quality=88)
record = json.loads((out / f"{name}.json").read_text())
if seconds > 10:  # not a COPY_ONLY pass: the experiment ran in this script
    record["seconds_wall"] = seconds
import datetime, os
record["date"] = datetime.datetime.fromtimestamp((out / f"{name}.json").stat().st_mtime, datetime.timezone.utc).strftime("%Y-%m-%d")
record["commit"] = os.environ.get("COMMIT", "unknown")  # the tree that published it (COPY_ONLY: not necessarily the one that ran it)
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown CPU")
flags = open("/proc/cpuinfo").read()
import jax
record["hardware"] = (jax.devices()[0].device_kind if jax.default_backend() != "cpu"
                      else f"{cpu}, {'AVX-512' if 'avx512f' in flags else 'AVX2'}, {jax.device_count()} device(s), {__import__('os').cpu_count()} cores")
Path(f"docs/figures/{name}.json").write_text(json.dumps(record, indent=1))
PYEOF
    echo "$name done in $(( $(date +%s) - start )) s"
  else
    echo "$name FAILED (see $OUT.$name.log)"
  fi
done
