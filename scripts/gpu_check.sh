#!/usr/bin/env bash
# The GPU check behind the GPU numbers in docs/performance.md, run on a lent H100/H200 machine: the benchmark (500 L-BFGS
# iterations at 512 px, nstjax vs PyTorch on the same GPU) and the paper's figures at full settings.
# Expects .gpu/ (git-ignored, carried to the machine): hydra-core/omegaconf/antlr4 wheels in .gpu/whl,
# a weights cache holding conv1_1..conv5_2 (the full file exceeds the 64 MiB transfer) in .gpu/cache,
# and the paper's images in .gpu/images.
set -uo pipefail
OUT=${OUT:-/tmp/out}
mkdir -p /tmp/site "$OUT"
python3 -m pip install -q --no-index --no-deps --no-build-isolation --target /tmp/site .gpu/whl/* || exit 1
export PYTHONPATH=/tmp/site:$PWD NSTJAX_CACHE=$PWD/.gpu/cache NSTJAX_IMAGES=$PWD/.gpu/images PYTHONUNBUFFERED=1
export XLA_PYTHON_CLIENT_PREALLOCATE=false
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -c "import jax, flax, torch; print('jax', jax.__version__, jax.devices(), 'flax', flax.__version__, 'torch', torch.__version__)"
timeout 200 python3 scripts/bench.py --gpu --sizes 512 --iterations 500 --repeats 20 --out "$OUT" 2>&1 | tail -8
for name in ${EXPERIMENTS:-styles content_reconstruction style_reconstruction ratio_layers init pooling_comparison blank_content blank_style black_style}; do
  timeout 150 python3 experiments/$name.py out_dir=/tmp/exp images_dir=$NSTJAX_IMAGES ${EXP_ARGS:-} 2>&1 | tail -2
  (cd /tmp/exp && tar -rf "$OUT/experiments.tar" $name.png $name.json 2>/dev/null)
done
ls -la "$OUT"
