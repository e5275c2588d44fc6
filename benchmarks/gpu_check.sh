#!/usr/bin/env bash
# The GPU check of issue #13 in one go, for a machine with a CUDA GPU: a smoke test (the device
# tests, captured step against eager), the step benchmark of both paper presets, then the Split MNIST
# and Permuted MNIST paper runs. Logs and each run's metrics.json land in OUT (run folders in a
# temporary folder: the Permuted MNIST hypernetwork alone is 0.8 GB).
#
#     bash benchmarks/gpu_check.sh PATH/TO/mnist.npz OUT
set -uo pipefail
DATA=$1
OUT=$2
mkdir -p "$OUT"
RUNS=$(mktemp -d)
trap 'rm -rf "$RUNS"' EXIT
export PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  $PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
  nproc
} 2>&1 | tee "$OUT/env.log"
$PY -m pytest -q -x -p no:cacheprovider tests/core/test_devices.py tests/core/test_masks.py 2>&1 | tee "$OUT/smoke.log"
[ "${PIPESTATUS[0]}" = 0 ] || { echo "smoke test failed"; exit 1; }
for b in split-mnist permuted-mnist; do
  $PY benchmarks/train_speed.py --benchmark $b --data "$DATA" --devices cuda --iters 300 2>&1 | tee "$OUT/speed-$b.log"
done
for b in split-mnist permuted-mnist; do
  timeout "${TRAIN_TIMEOUT:-900}" /usr/bin/time -v $PY -m core train --benchmark $b --preset paper --data "$DATA" --device cuda --seed 1 \
    --out "$RUNS/$b" --quiet 2>&1 | grep -v "^\s\(Page\|Volun\|Invol\|Swaps\|File sys\|Socket\|Signals\|Average\|Minor\|Major\|Percent\|System\|User\|Command\)" \
    | tee "$OUT/train-$b.log"
  cp "$RUNS/$b/metrics.json" "$OUT/metrics-$b.json"  # also after a timeout: saved after every task
done
