#!/bin/bash
# Submits the whole grid to Slurm with one command: a job array of SHARDS tasks (scripts/slurm-reproduce.sh;
# task I runs slice I/SHARDS of the grid into OUT/shardI) and a merge job that starts when every task has
# succeeded and writes OUT/merged (table.md, table.csv, table.json, figure1.png, curves.png, report.md).
#
#   GPU partition: DATA_ROOT=/data/disent OUT=/scratch/repro \
#                    scripts/slurm-submit.sh 8 --partition=gpu --gres=gpu:1 --cpus-per-task=8
#   CPU partition: DATA_ROOT=/data/disent OUT=/scratch/repro \
#                    scripts/slurm-submit.sh 8 --partition=cpu --cpus-per-task=16
#
# The options after SHARDS go to sbatch for the array tasks (they override the #SBATCH lines of
# slurm-reproduce.sh); MERGE_SBATCH_ARGS for the merge job (one CPU, no GPU, e.g. "--partition=cpu"). The
# environment (DEVICE, BIASCKA, BIASCKA_REPRODUCE_ARGS; see slurm-reproduce.sh) reaches every job. Logs go to
# OUT/logs/. Prints the two job ids. If a task fails or hits its time limit, the merge job is cancelled;
# running the same command again resubmits both, and the tasks skip every finished run.
set -euo pipefail
usage="usage: DATA_ROOT=DIR OUT=DIR $0 SHARDS [SBATCH_OPTION...]"
[[ ${1:-} =~ ^[1-9][0-9]*$ ]] || { echo "$usage" >&2 && exit 2; }
export SHARDS=$1
shift
: "${DATA_ROOT:?set DATA_ROOT to the folder holding cmnist/, cifar10c/, bffhq/}"
: "${OUT:?set OUT to the output folder}"
if ! command -v sbatch >/dev/null; then
  echo "biascka: error: sbatch: not found (run this on a login node)" >&2
  exit 1
fi
repo=$(cd "$(dirname "$0")/.." && pwd)
DATA_ROOT=$(realpath -m "$DATA_ROOT")  # the jobs may start in another folder
OUT=$(realpath -m "$OUT")
BIASCKA=$(realpath -m "${BIASCKA:-$repo/build/bin/biascka}")
export DATA_ROOT OUT BIASCKA
[ -x "$BIASCKA" ] || { echo "biascka: error: $BIASCKA: not built (cmake --build build)" >&2 && exit 1; }
mkdir -p "$OUT/logs"

array=$(sbatch --parsable --array="0-$((SHARDS - 1))" --output="$OUT/logs/reproduce-%A_%a.log" "$@" \
  "$repo/scripts/slurm-reproduce.sh")
array=${array%%;*}  # --parsable prints "id;cluster" on multi-cluster sites
read -r -a merge_args <<<"${MERGE_SBATCH_ARGS:-}"
merge=$(sbatch --parsable --dependency="afterok:$array" --kill-on-invalid-dep=yes --job-name=biascka-collect \
  --cpus-per-task=1 --mem=8G --time=1:00:00 --output="$OUT/logs/collect-%j.log" "${merge_args[@]}" \
  "$repo/scripts/slurm-reproduce.sh" --collect)
merge=${merge%%;*}
echo "array job $array ($SHARDS tasks), merge job $merge; results in $OUT/merged, logs in $OUT/logs"
