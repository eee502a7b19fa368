#!/bin/bash
# A Slurm job array that spreads `biascka reproduce` over N GPUs on any number of machines: task I runs the
# deterministic slice I/N of the grid into its own folder; a last step merges the slices into the same
# tables and figures a single machine would make.
#
#   DATA_ROOT=/data/disent OUT=/scratch/repro sbatch --array=0-7 scripts/slurm-reproduce.sh
#   # when every task is done:
#   build/bin/biascka reproduce --collect /scratch/repro/shard* --out /scratch/repro/merged
#
# A task that is killed (preemption, time limit) can simply be resubmitted: finished runs are skipped and
# an interrupted one resumes from its last checkpoint.
#SBATCH --job-name=biascka-reproduce
#SBATCH --gres=gpu:1
#SBATCH --cpus-per-task=8
#SBATCH --mem=32G
#SBATCH --time=24:00:00
#SBATCH --output=biascka-reproduce-%A_%a.log
set -euo pipefail
: "${DATA_ROOT:?set DATA_ROOT to the folder holding cmnist/, cifar10c/, bffhq/}"
: "${OUT:?set OUT to the output folder}"
cd "${SLURM_SUBMIT_DIR:-$(dirname "$0")/..}"
I=${SLURM_ARRAY_TASK_ID:?submit with --array=0-(N-1)}
N=${SLURM_ARRAY_TASK_COUNT:-$((SLURM_ARRAY_TASK_MAX - SLURM_ARRAY_TASK_MIN + 1))}
exec build/bin/biascka reproduce --data-root "$DATA_ROOT" --device cuda --shard "$I/$N" \
  --out "$OUT/shard$I" --quiet ${BIASCKA_REPRODUCE_ARGS:-}
