#!/usr/bin/env bash
# The verdicts README states, each a comparison on benchmark=art_core (configs/benchmark/art_core.yaml, declared
# before its runs), published with its record: docs/results/NAME/{compare.json,compare.md,frontiers*.png,forest.png,
# timing.json,provenance.json}. Runs go to outputs/verdict/runs and are reused, so this script resumes where it
# stopped and republishes in seconds once every run exists. Usage: scripts/verdicts.sh [NAME ...]
# Long: on a 2-core CPU the pooling verdict's 1,344 runs take about an hour (docs/comparing.md#verdicts).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
RUNS=${RUNS:-outputs/verdict/runs}
RATIOS='ratios=[1e-4,3e-4,1e-3,3e-3,1e-2,1e-1]'

# NAME -> the comparison's keys (every run: 50 L-BFGS steps at 64 px unless the keys say otherwise).
declare -A KEYS=(
  [pooling_art_core]="variants=[pooling=max,pooling=avg] $RATIOS benchmark=art_core image_size=64 steps=50"
  [pooling_sizes_128]="variants=[pooling=max,pooling=avg] $RATIOS image_size=128 steps=50 styles=SIZE_STYLES contents=SIZE_CONTENTS crop=4:3"
  [pooling_sizes_256]="variants=[pooling=max,pooling=avg] $RATIOS image_size=256 steps=50 styles=SIZE_STYLES contents=SIZE_CONTENTS crop=4:3"
  [pooling_sizes_64]="variants=[pooling=max,pooling=avg] $RATIOS image_size=64 steps=50 styles=SIZE_STYLES contents=SIZE_CONTENTS crop=4:3"
)
# The size check's 8 pairs: 4 styles × 2 contents of art_core, run again at other sizes.
B=data/benchmark
SIZE_STYLES="[$B/styles/hokusai_great_wave.jpg,$B/styles/van_gogh_starry_night.jpg,$B/styles/durer_lion.jpg,data/images/the_scream.jpg]"
SIZE_CONTENTS="[data/images/tubingen.jpg,$B/contents/monument_gateway_of_india.jpg]"

publish() {
  local name=$1 keys=${KEYS[$1]}
  keys=${keys//SIZE_STYLES/$SIZE_STYLES}
  keys=${keys//SIZE_CONTENTS/$SIZE_CONTENTS}
  local out=docs/results/$name start
  start=$(date +%s)
  # shellcheck disable=SC2086  # the keys are words
  $PY -c "import sys; from nstjax.entry.compare import main; sys.exit(main(sys.argv[1:]))" $keys max_batch=24 \
    runs_dir=$RUNS out_dir=$out
  $PY - "$out" "$keys" "$(( $(date +%s) - start ))" <<'PYEOF'
import json, subprocess, sys
from datetime import date
from pathlib import Path
out, keys, seconds = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
lscpu = dict(l.split(":", 1) for l in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines() if ":" in l)
record = {
    "command": f"nstjax-compare {keys} max_batch=24",
    "cpu": f"{lscpu['Model name'].strip()} (family {lscpu['CPU family'].strip()}, model {lscpu['Model'].strip()})",
    "cores": int(lscpu["CPU(s)"]),
    "date": date.today().isoformat(),
    "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
    "seconds_this_invocation": seconds,
    "note": "runs made earlier under the same config are reused; timing.json, when present, is the last invocation that ran runs",
}
(out / "provenance.json").write_text(json.dumps(record, indent=1) + "\n")
PYEOF
}

names=("$@")
[ ${#names[@]} -eq 0 ] && names=(pooling_art_core pooling_sizes_64 pooling_sizes_128 pooling_sizes_256)
for name in "${names[@]}"; do
  publish "$name"
done
$PY scripts/size_agreement.py > /dev/null  # the sizes published so far, compared by sign and rank
