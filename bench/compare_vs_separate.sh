#!/usr/bin/env bash
# `biascka compare` over N models against what it replaces: N separate `biascka cka` runs (each model's own
# matrix) plus the N(N-1)/2 cross-model `cka --checkpoint-b` runs, on the same split, batch and samples.
# Prints the wall time of each side, their ratio, and the largest difference between compare's matrices and
# the separate runs' (own: expected 0, bit for bit; cross: float64 rounding).
#
# Usage: bench/compare_vs_separate.sh [--device cpu|cuda] [--samples N] [--batch B] [--bootstrap R]
#                                      [--layers L] CHECKPOINT...
#   default checkpoints: the six seed-0 models of scripts/demo (demo-out/runs/cmnist/*/seed0)
#   environment: BIASCKA (default build/bin/biascka), DATA (default: the demo's test split), OUT (a scratch
#   folder, default a new temporary one)
set -euo pipefail
cd "$(dirname "$0")/.."
biascka=${BIASCKA:-build/bin/biascka}
device=cpu samples=1000 batch=250 bootstrap=0 layers=all
while [ $# -gt 0 ]; do
  case "$1" in
    --device) device=$2; shift 2 ;;
    --samples) samples=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --bootstrap) bootstrap=$2; shift 2 ;;
    --layers) layers=$2; shift 2 ;;
    *) break ;;
  esac
done
ckpts=("$@")
if [ ${#ckpts[@]} -eq 0 ]; then
  mapfile -t ckpts < <(ls demo-out/runs/cmnist/*/seed0/best.safetensors 2>/dev/null)
  [ ${#ckpts[@]} -ge 2 ] || { echo "no checkpoints given and no demo-out/ (run scripts/demo first)" >&2; exit 2; }
fi
data=${DATA:-$(dirname "$(grep -o '"data": *"[^"]*"' "$(dirname "${ckpts[0]}")/settings.json" | cut -d'"' -f4)")/test}
out=${OUT:-$(mktemp -d)}
common=(--data "$data" --max-samples "$samples" --batch "$batch" --bootstrap "$bootstrap" --layers "$layers"
  --device "$device" --quiet)
n=${#ckpts[@]}
echo "$n models, $data, $samples samples, batch $batch, bootstrap $bootstrap, layers $layers, device $device"

start=$(date +%s.%N)
"$biascka" compare --checkpoints "${ckpts[@]}" "${common[@]}" --pairs all --out "$out/compare" >/dev/null
compare_s=$(awk "BEGIN { print $(date +%s.%N) - $start }")

start=$(date +%s.%N)
for ((a = 0; a < n; a++)); do
  "$biascka" cka --checkpoint "${ckpts[a]}" "${common[@]}" --out "$out/own$a" >/dev/null
done
for ((a = 0; a < n; a++)); do
  for ((b = a + 1; b < n; b++)); do
    "$biascka" cka --checkpoint "${ckpts[a]}" --checkpoint-b "${ckpts[b]}" "${common[@]}" --out "$out/cross$a-$b" \
      >/dev/null
  done
done
separate_s=$(awk "BEGIN { print $(date +%s.%N) - $start }")

# compare's folders are named after the checkpoints' run folders, in order.
mapfile -t names < <(python3 -c "import json,sys; [print(m['name']) for m in json.load(open(sys.argv[1]))['models']]" \
  "$out/compare/compare.json")
own_diff=$(for ((a = 0; a < n; a++)); do cmp -s "$out/own$a/cka.npy" "$out/compare/models/${names[a]}/cka.npy" &&
  echo same || echo differs; done | sort | uniq -c | tr '\n' ' ')
cross_max=$(for ((a = 0; a < n; a++)); do for ((b = a + 1; b < n; b++)); do
  paste -d, <(tail -n +2 "$out/cross$a-$b/cka.csv" | cut -d, -f2-) \
    <(tail -n +2 "$out/compare/pairs/${names[a]}__${names[b]}/cka.csv" | cut -d, -f2-)
done; done | awk -F, '{h = NF / 2; for (i = 1; i <= h; i++) { d = $i - $(i + h); if (d < 0) d = -d; if (d > m) m = d } }
  END { printf "%.3g", m }')
printf 'compare: %.1f s; separate (%d cka + %d cross): %.1f s; speed-up %.2fx\n' "$compare_s" "$n" \
  $((n * (n - 1) / 2)) "$separate_s" "$(awk "BEGIN { print $separate_s / $compare_s }")"
echo "own matrices against the separate runs' cka.npy: $own_diff; cross-model max |difference|: $cross_max"
