#!/bin/bash
# The cluster path under a real Slurm. A private single-node cluster (tests/support/slurm_cluster.sh: its
# own munged, slurmctld and slurmd, everything under a temporary folder) runs scripts/slurm-submit.sh on the
# tiny reproduce grid of tests/test_reproduce.cpp (tests/support/tiny_grid.h) as a 3-task array with
# DEVICE=cpu and one CPU per task, and the merge job after it. Task 0 is requeued with `scontrol requeue`
# while it trains its second run. Checked:
#   - every task and the merge job end COMPLETED; the merged table.json and every CKA file (cka.csv,
#     cka.npy, cka.png, cka_ci.npy, probes.csv; cka.json up to the output folder it names) are byte-identical to a
#     single-process run of the same grid;
#   - without DEVICE, slurm-reproduce.sh picks cuda for a task given a GPU (the cluster's pretend one) and
#     cpu otherwise;
#   - the requeued task ran twice, its first attempt saved and stopped on Slurm's SIGTERM ("reproduce
#     interrupted"), and the run it had finished before the requeue was not redone;
#   - no process of the cluster is left once it is stopped (the test fails otherwise).
# Usage: test_slurm.sh BIASCKA TINY_GRID_TOOL. Exit 77 (CTest: skipped) where slurm-wlm or munge is absent.
set -uo pipefail
biascka=$1
tiny_grid_tool=$2
repo=$(cd "$(dirname "$0")/.." && pwd)
source "$repo/tests/support/slurm_cluster.sh"

absent=$(slurm_cluster_missing)
if [ -n "$absent" ]; then
  echo "SKIP: Slurm is not installed here (missing: $absent); Debian's slurm-wlm and munge packages" \
    "provide it, and scripts/setup-deps installs them"
  exit 77
fi

unset DEVICE SHARDS MERGE_SBATCH_ARGS BIASCKA_REPRODUCE_ARGS  # the scripts' settings come from this test only
started=$SECONDS
tmp=$(mktemp -d "${TMPDIR:-/tmp}/biascka-slurm.XXXXXX")
out=$tmp/out
reference_pid=""
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ -n "$reference_pid" ]; then kill "$reference_pid" 2>/dev/null && wait "$reference_pid" 2>/dev/null; fi
  if ! slurm_cluster_stop; then
    echo "FAIL: a process of the private cluster outlived its stop" >&2
    status=1
  fi
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
  echo "FAIL: $*" >&2
  for log in "$out"/logs/*.log "$tmp/reference.log"; do
    [ -f "$log" ] && echo "--- $log" >&2 && tail -n 25 "$log" >&2
  done
  exit 1
}

wait_until() {  # SECONDS DESCRIPTION COMMAND...: polls COMMAND every 0.05 s
  local limit=$1 what=$2
  local deadline=$((SECONDS + limit))
  shift 2
  until "$@"; do
    ((SECONDS < deadline)) || fail "timed out after $limit s waiting for $what"
    sleep 0.05
  done
}

# The grid, and the single-process run it must match (in the background, one thread like each task).
flags=$("$tiny_grid_tool" "$tmp/data") || fail "tiny_grid_tool could not build the tiny dataset"
read -r -a grid <<<"$flags"
OMP_NUM_THREADS=1 "$biascka" reproduce --data-root "$tmp/data" --out "$tmp/reference" --workers 1 \
  "${grid[@]}" --quiet >"$tmp/reference.log" 2>&1 &
reference_pid=$!

slurm_cluster_start "$tmp/cluster" || fail "the private Slurm cluster did not start"
echo "private cluster up after $((SECONDS - started)) s ($SLURM_CONF)"

submitted=$(DATA_ROOT=$tmp/data OUT=$out DEVICE=cpu BIASCKA=$biascka BIASCKA_REPRODUCE_ARGS=$flags \
  MERGE_SBATCH_ARGS="--mem=256M --time=10" "$repo/scripts/slurm-submit.sh" 3 --cpus-per-task=1 --mem=1G \
  --time=10) || fail "scripts/slurm-submit.sh failed"
echo "$submitted"
array=$(sed -n 's/^array job \([0-9]*\) .*/\1/p' <<<"$submitted")
merge=$(sed -n 's/.*merge job \([0-9]*\);.*/\1/p' <<<"$submitted")
if [ -z "$array" ] || [ -z "$merge" ]; then fail "no job ids in the output of scripts/slurm-submit.sh"; fi

# Requeue task 0 (grid indices 0 and 3: cmnist/sce/seed0, then cmnist/nll/seed1) while it trains its
# second run's first epoch: its first run's training is finished by then (the CKA of the shard's runs comes
# after all of its training, in one compare pass).
first=$out/shard0/runs/cmnist/sce/seed0
second=$out/shard0/runs/cmnist/nll/seed1
wait_until 240 "task 0 to start its second run" test -f "$second/settings.json"
finished_before=$(stat -c '%i %Y' "$first/summary.json" "$first/last.safetensors") ||
  fail "task 0 started its second run before finishing its first"
[ ! -f "$second/metrics.jsonl" ] || fail "task 0's second run ended an epoch before the test could requeue it"
scontrol requeue "${array}_0" || fail "scontrol requeue ${array}_0 failed"
echo "requeued task ${array}_0 after $((SECONDS - started)) s"

jobs_left() { [ -n "$(squeue -h -j "$array,$merge" 2>/dev/null)" ]; }
no_jobs_left() { ! jobs_left; }
no_jobs_left_at_all() { [ -z "$(squeue -h 2>/dev/null)" ]; }
wait_until 400 "the array and the merge job to finish" no_jobs_left
echo "array and merge done after $((SECONDS - started)) s"

states=$(scontrol -o show job "$array"; scontrol -o show job "$merge")
[ "$(grep -c 'JobState=COMPLETED .*ExitCode=0:0' <<<"$states")" = 4 ] ||
  fail "not every job completed:"$'\n'"$(grep -o '\<JobId=[0-9]*\|JobState=[A-Z_]*' <<<"$states")"

log0=$(ls "$out"/logs/reproduce-"${array}"_0.log) || fail "task 0 left no log"
grep -E 'biascka-reproduce:|interrupted|CANCELLED' "$log0"
if ! grep -q 'restart 0' "$log0" || ! grep -q 'restart 1' "$log0"; then
  fail "task 0 did not run twice (restart 0, then restart 1)"
fi
# Mid-epoch the run saves and says "reproduce interrupted"; in the moment between its settings.json and its
# first step (data loading) there is nothing to save and biascka says it stopped at once. Either is graceful.
grep -Eq 'reproduce interrupted|stopped by SIGTERM' "$log0" || fail "task 0 did not stop gracefully on Slurm's SIGTERM"
[ "$(stat -c '%i %Y' "$first/summary.json" "$first/last.safetensors")" = "$finished_before" ] ||
  fail "the requeued task redid a run it had finished"

# The default device: submitted by hand without DEVICE, with and without a GPU. An empty data root makes
# each task stop right after it has chosen (and logged) its device.
for gpu in yes no; do
  gres=()
  [ $gpu = yes ] && gres=(--gres=gpu:1)
  DATA_ROOT=$tmp/empty OUT=$tmp/detect BIASCKA=$biascka sbatch -Q --array=0 "${gres[@]}" --cpus-per-task=1 \
    --mem=256M --time=5 --output="$out/logs/device-gpu-$gpu.log" "$repo/scripts/slurm-reproduce.sh" ||
    fail "sbatch scripts/slurm-reproduce.sh failed"
done
wait_until 120 "the device jobs to finish" no_jobs_left_at_all
grep -q 'device cuda' "$out/logs/device-gpu-yes.log" || fail "a task given a GPU did not choose cuda"
grep -q 'device cpu' "$out/logs/device-gpu-no.log" || fail "a task without a GPU did not choose cpu"

wait "$reference_pid" || fail "the single-process run failed"
reference_pid=""
cmp "$out/merged/table.json" "$tmp/reference/table.json" ||
  fail "the merged table.json differs from the single-process run's"
compared=0
for ref in "$tmp"/reference/runs/*/*/seed*/cka/{cka.csv,cka.npy,cka.png,cka.json,cka_ci.npy,probes.csv}; do
  rel=${ref#"$tmp"/reference/}
  shard=$(ls -d "$out"/shard*/"$rel" 2>/dev/null)
  if [ "$(wc -l <<<"$shard")" != 1 ] || [ ! -f "$shard" ]; then fail "$rel: not in exactly one shard"; fi
  if [[ $rel == *.json ]]; then  # names its checkpoint: equal up to the output folder
    diff <(sed "s|${shard%"$rel"}|OUT/|g" "$shard") <(sed "s|$tmp/reference/|OUT/|g" "$ref") >&2 ||
      fail "$rel differs from the single-process run's"
  else
    cmp "$shard" "$ref" || fail "$rel differs from the single-process run's"
  fi
  compared=$((compared + 1))
done
[ "$compared" = 24 ] ||
  fail "compared $compared CKA files, expected 24 (cka.csv, npy, png, json, cka_ci.npy, probes.csv; 2 objectives x 2 seeds)"

echo "PASS: Slurm array + requeue + merge equal one process (table.json, $compared CKA files)," \
  "$((SECONDS - started)) s"
