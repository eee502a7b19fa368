#!/bin/bash
# `biascka reproduce` under Slurm, on GPU or CPU nodes. As a task of a job array, task I of N runs the
# deterministic slice I/N of the grid into OUT/shardI; with the argument `--collect` (a job that runs after
# the array) it merges OUT/shard0 … OUT/shard(SHARDS-1) into OUT/merged, the tables and figures a single
# machine would make. scripts/slurm-submit.sh submits both with one command; by hand:
#
#   GPU partition: DATA_ROOT=/data/disent OUT=/scratch/repro \
#                    sbatch --array=0-7 --partition=gpu --gres=gpu:1 scripts/slurm-reproduce.sh
#   CPU partition: DATA_ROOT=/data/disent OUT=/scratch/repro \
#                    sbatch --array=0-7 --partition=cpu --cpus-per-task=16 scripts/slurm-reproduce.sh
#   the merge:     OUT=/scratch/repro SHARDS=8 sbatch --dependency=afterok:JOBID --kill-on-invalid-dep=yes \
#                    --cpus-per-task=1 --mem=8G --time=1:00:00 scripts/slurm-reproduce.sh --collect
#
# Environment: DATA_ROOT and OUT. DEVICE=cuda|cpu (default: cuda when Slurm gave the task a GPU, else cpu).
# SHARDS, the number of slices (default: the array's size; set it when resubmitting only some tasks, e.g.
# SHARDS=8 sbatch --array=3,5 …). BIASCKA, the program (default: build/bin/biascka in the folder sbatch ran
# in). BIASCKA_REPRODUCE_ARGS, more `reproduce` options (e.g. "--datasets cmnist --seeds 1"). CPU threads and
# image-loading workers follow --cpus-per-task. GPUs are asked for on the sbatch line: one per task.
#
# Preemption, requeue and node failure: Slurm sends SIGTERM, biascka saves the current run mid-epoch and
# exits; the task is requeued (--requeue below) and starts again from the top: finished runs are skipped and
# the interrupted one resumes exactly from its checkpoint. A task that failed or hit the time limit is
# resubmitted the same way (the same command again); its log file is appended to, not overwritten.
#SBATCH --job-name=biascka-reproduce
#SBATCH --cpus-per-task=8
#SBATCH --mem=32G
#SBATCH --time=24:00:00
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=biascka-reproduce-%A_%a.log
set -euo pipefail
: "${OUT:?set OUT to the output folder}"
biascka=${BIASCKA:-${SLURM_SUBMIT_DIR:-.}/build/bin/biascka}

if [ "${1:-}" = --collect ]; then
  : "${SHARDS:?set SHARDS to the number of array tasks}"
  shards=()
  for ((i = 0; i < SHARDS; i++)); do shards+=("$OUT/shard$i"); done
  exec "$biascka" reproduce --collect "${shards[@]}" --out "$OUT/merged"
fi

: "${DATA_ROOT:?set DATA_ROOT to the folder holding cmnist/, cifar10c/, bffhq/}"
I=${SLURM_ARRAY_TASK_ID:?submit with sbatch --array=0-(N-1)}
N=${SHARDS:-${SLURM_ARRAY_TASK_COUNT:?submit with sbatch --array=0-(N-1)}}  # SHARDS: resubmitting some tasks

# Slurm sets these when the allocation holds GPUs (--gres=gpu:K, --gpus…), and CUDA_VISIBLE_DEVICES too.
slurm_gave_gpu() { [ -n "${SLURM_JOB_GPUS:-}${SLURM_STEP_GPUS:-}" ] || [ "${SLURM_GPUS_ON_NODE:-0}" -gt 0 ]; }
if [ -z "${DEVICE:-}" ]; then
  DEVICE=cpu
  if slurm_gave_gpu; then DEVICE=cuda; fi
fi
case $DEVICE in
  cuda | cpu) ;;
  *) echo "biascka: error: DEVICE: must be cuda or cpu, got '$DEVICE'" >&2 && exit 2 ;;
esac

workers=()
if [ -n "${SLURM_CPUS_PER_TASK:-}" ]; then
  export OMP_NUM_THREADS=$SLURM_CPUS_PER_TASK  # OpenMP, OpenBLAS and oneDNN threads
  workers=(--workers "$SLURM_CPUS_PER_TASK")
fi
read -r -a extra <<<"${BIASCKA_REPRODUCE_ARGS:-}"  # split on spaces, never glob-expanded ('layer4.*')

echo "biascka-reproduce: task $I/$N on $(hostname), device $DEVICE, ${OMP_NUM_THREADS:-all} CPU threads," \
  "restart ${SLURM_RESTART_COUNT:-0}" >&2
exec "$biascka" reproduce --data-root "$DATA_ROOT" --device "$DEVICE" --shard "$I/$N" --out "$OUT/shard$I" \
  "${workers[@]}" "${extra[@]}"
