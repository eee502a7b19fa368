# shellcheck shell=bash
# A private single-node Slurm cluster for tests (sourced by tests/test_slurm.sh): its own munged, slurmctld
# and slurmd, configured by a generated slurm.conf whose state, spool, logs, sockets and munge key all live
# under one folder, on free ports; nothing of /etc/slurm, /etc/munge or /run is used. Clients and daemons talk
# over 127.0.0.1, but the daemons listen on every address: Slurm's NoInAddrAny/NoCtldInAddrAny bind to the
# address this machine's name resolves to (Debian's /etc/hosts says 127.0.1.1), where 127.0.0.1 clients are
# refused. Every message is authenticated with the munge key made for this cluster. The
# node has the machine's CPUs, half its memory and one pretend GPU (gres.conf below).
#
#   slurm_cluster_missing             prints what is not installed ("" when the cluster can run)
#   slurm_cluster_start DIR           starts the daemons, exports SLURM_CONF, waits until the node is idle
#   slurm_cluster_stop                cancels every job, stops the daemons, fails if any process survives
#
# Every process the cluster starts (daemons, slurmstepd, the jobs themselves) carries
# BIASCKA_SLURM_CLUSTER=DIR in its environment, which is how slurm_cluster_stop finds survivors. Each daemon
# also runs under `timeout`, so even a test killed with SIGKILL leaves no daemon behind for long (a job's
# slurmstepd, detached from slurmd, then ends with the job, at the latest at its --time limit).

SLURM_CLUSTER_DIR=""
SLURM_CLUSTER_PGIDS=()
SLURM_CLUSTER_LIFETIME_S=${SLURM_CLUSTER_LIFETIME_S:-1200}  # the hard bound on every daemon's life

slurm_cluster_missing() {
  local tool missing=()
  for tool in munged slurmctld slurmd sbatch squeue scontrol scancel sinfo timeout; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  echo "${missing[*]}"
}

# A TCP port on 127.0.0.1 that nothing is listening on (another test may race us for it; start retries).
_slurm_free_port() {  # [PORT_TO_AVOID]
  local port
  while :; do
    port=$((20000 + RANDOM % 30000))
    [ "$port" = "${1:-}" ] && continue
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
}

_slurm_write_conf() {
  local dir=$1 ctld_port=$2 slurmd_port=$3
  local cpus mem_mb
  cpus=$(nproc)
  mem_mb=$(($(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 / 2))  # half: the rest is the OS's
  cat >"$dir/slurm.conf" <<EOF
ClusterName=biascka-test
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket,cred_expire=10
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
PlugStackConfig=$dir/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
JobRequeue=1
KillWait=5
MinJobAge=300
SlurmctldTimeout=30
SlurmdTimeout=30
SchedulerParameters=sched_interval=2
GresTypes=gpu
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb Gres=gpu:1 State=UNKNOWN
PartitionName=test Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
  : >"$dir/plugstack.conf"
  # One pretend GPU (/dev/null): a job that asks for --gres=gpu:1 gets the variables Slurm sets for a GPU
  # (SLURM_JOB_GPUS, SLURM_GPUS_ON_NODE, CUDA_VISIBLE_DEVICES) but no device.
  echo "NodeName=localhost Name=gpu File=/dev/null" >"$dir/gres.conf"
}

# Runs a daemon in the background under `timeout` (its own process group), tagged, logging to log/NAME.out.
_slurm_daemon() {
  local name=$1
  shift
  timeout -k 5 "$SLURM_CLUSTER_LIFETIME_S" "$@" \
    </dev/null >"$SLURM_CLUSTER_DIR/log/$name.out" 2>&1 &
  SLURM_CLUSTER_PGIDS+=($!)  # timeout makes itself a process group leader
}

_slurm_wait_for() {  # SECONDS DESCRIPTION COMMAND...: polls COMMAND every 0.2 s
  local deadline=$((SECONDS + $1)) what=$2
  shift 2
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      echo "slurm_cluster: timed out waiting for $what; logs:" >&2
      tail -n 20 "$SLURM_CLUSTER_DIR"/log/* >&2
      return 1
    fi
    sleep 0.2
  done
}

_slurm_node_idle() { [ "$(sinfo -h -n localhost -o %T 2>/dev/null)" = idle ]; }

slurm_cluster_start() {
  # slurmctld resolves this machine's own name when it opens its port (even with every address given as
  # 127.0.0.1); say so plainly instead of a daemon log full of getaddrinfo errors.
  if ! getent hosts "$(hostname)" >/dev/null; then
    echo "slurm_cluster: this machine cannot resolve its own name '$(hostname)' (no /etc/hosts entry or" \
      "DNS record), which slurmctld needs; add '127.0.1.1 $(hostname)' to /etc/hosts" >&2
    return 1
  fi
  SLURM_CLUSTER_DIR=$1
  export BIASCKA_SLURM_CLUSTER=$1  # inherited by the daemons and, through sbatch, by every job
  local d=$SLURM_CLUSTER_DIR
  mkdir -p "$d"/{munge,state,spool,run,log}
  chmod 700 "$d" "$d/munge"
  dd if=/dev/urandom of="$d/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$d/munge/munge.key"
  _slurm_daemon munged munged --foreground --force --socket="$d/munge/munge.socket" \
    --key-file="$d/munge/munge.key" --pid-file="$d/munge/munged.pid" --log-file="$d/log/munged.log" \
    --seed-file="$d/munge/munged.seed"
  _slurm_wait_for 20 "munged's socket" test -S "$d/munge/munge.socket" || return 1
  local ctld_port
  ctld_port=$(_slurm_free_port)
  _slurm_write_conf "$d" "$ctld_port" "$(_slurm_free_port "$ctld_port")"
  export SLURM_CONF=$d/slurm.conf
  _slurm_daemon slurmctld slurmctld -D -c -f "$SLURM_CONF"
  _slurm_wait_for 30 "slurmctld" scontrol ping || return 1
  _slurm_daemon slurmd slurmd -D -N localhost -f "$SLURM_CONF"
  _slurm_wait_for 60 "the node to become idle" _slurm_node_idle
}

# PIDs of live processes (other than zombies) tagged with this cluster's folder.
_slurm_tagged_pids() {
  local env pid
  unset BIASCKA_SLURM_CLUSTER  # (called in a subshell) the commands this scan runs are not survivors
  for env in /proc/[0-9]*/environ; do
    pid=${env#/proc/}
    pid=${pid%/environ}
    [ "$pid" = "$$" ] && continue
    grep -qzx "BIASCKA_SLURM_CLUSTER=$SLURM_CLUSTER_DIR" "$env" 2>/dev/null || continue
    [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && continue
    echo "$pid"
  done
}

slurm_cluster_stop() {
  [ -n "$SLURM_CLUSTER_DIR" ] || return 0
  local pgid pids status=0 deadline
  if [ -n "${SLURM_CONF:-}" ]; then  # cancel the jobs first, so slurmd reaps their steps
    scancel --quiet --full --partition=test 2>/dev/null
    deadline=$((SECONDS + 20))
    while [ -n "$(squeue -h -t running,completing,suspended 2>/dev/null)" ] && ((SECONDS < deadline)); do
      sleep 0.5
    done
  fi
  for pgid in "${SLURM_CLUSTER_PGIDS[@]}"; do kill -TERM -- "-$pgid" 2>/dev/null; done
  deadline=$((SECONDS + 15))
  while [ -n "$(_slurm_tagged_pids)" ] && ((SECONDS < deadline)); do sleep 0.5; done
  pids=$(_slurm_tagged_pids)
  if [ -n "$pids" ]; then
    echo "slurm_cluster: processes survived the stop and are killed now:" >&2
    for pid in $pids; do
      echo "  $pid $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" >&2
      kill -KILL "$pid" 2>/dev/null
    done
    status=1
  fi
  for pgid in "${SLURM_CLUSTER_PGIDS[@]}"; do wait "$pgid" 2>/dev/null; done
  SLURM_CLUSTER_PGIDS=()
  SLURM_CLUSTER_DIR=""
  return $status
}
