#!/usr/bin/env bash
# End-to-end test of `resweep slurm` on a real one-node Slurm cluster (127.0.0.1).
#
#   bash tests/slurm_e2e.sh PATH/TO/resweep
#
# Installs Debian's slurm-wlm and munge when missing, starts munged, slurmctld and slurmd
# with state and logs in a temporary directory, submits a small sweep as a job array with
# `resweep slurm --submit`, waits for it, and checks that the aggregated tables equal those
# of a local `resweep run` of the same sweep (bitwise on every run metric and step), then
# resubmits and checks that no finished run is redone. It stops the daemons it started, by
# pid. Without root or apt it prints why it is skipped and exits 0: never silently.
set -euo pipefail

BIN=$(realpath "${1:?usage: tests/slurm_e2e.sh PATH/TO/resweep}")
say() { printf 'slurm e2e: %s\n' "$*"; }
skip() { say "SKIPPED: $*"; exit 0; }

[ "$(id -u)" = 0 ] || skip "needs root to start munged, slurmctld and slurmd"
if ! command -v sbatch >/dev/null || ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  command -v apt-get >/dev/null || skip "slurm-wlm and munge are not installed and apt-get is not available"
  say "installing slurm-wlm and munge"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge; } \
    >/tmp/resweep-slurm-apt.log 2>&1 || skip "apt-get install slurm-wlm munge failed (see /tmp/resweep-slurm-apt.log)"
fi

WORK=$(mktemp -d)
STARTED=()
cleanup() {
  local status=$?
  for pid in "${STARTED[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${STARTED[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$status" != 0 ]; then
    say "FAILED; daemon logs:"
    tail -n 20 "$WORK"/*.log 2>/dev/null || true
    for f in "$WORK"/cluster/*/slurm/logs/*; do echo "--- $f"; tail -n 20 "$f"; done 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# munge: reuse a working daemon, else start our own.
if ! (munge -n | unmunge) >/dev/null 2>&1; then
  mkdir -p /run/munge /etc/munge /var/lib/munge /var/log/munge
  chown munge:munge /run/munge /var/lib/munge /var/log/munge
  chmod 0755 /run/munge
  [ -s /etc/munge/munge.key ] || mungekey --create --keyfile=/etc/munge/munge.key
  chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
  mkdir -p "$WORK/munge" && chown munge:munge "$WORK/munge" && chmod 0755 "$WORK"
  setpriv --reuid=munge --regid=munge --init-groups -- munged --foreground \
    --pid-file="$WORK/munge/munged.pid" --log-file="$WORK/munge/munged.log" >"$WORK/munged.out" 2>&1 &
  STARTED+=($!)
  for _ in $(seq 50); do (munge -n | unmunge) >/dev/null 2>&1 && break; sleep 0.1; done
  (munge -n | unmunge) >/dev/null 2>&1 || { say "munged did not start"; exit 1; }
fi

HOST=$(hostname -s)
CPUS=$(nproc)
mkdir -p "$WORK/state" "$WORK/spool"
export SLURM_CONF="$WORK/slurm.conf"
cat >"$SLURM_CONF" <<CONF
ClusterName=resweep-test
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
SlurmctldPort=$((20000 + RANDOM % 20000))
SlurmdPort=$((40000 + RANDOM % 20000))
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/slurmctld.pid
SlurmdPidFile=$WORK/slurmd.pid
SlurmctldLogFile=$WORK/slurmctld.log
SlurmdLogFile=$WORK/slurmd.log
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=2000
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
slurmctld -D -i -f "$SLURM_CONF" >"$WORK/slurmctld.out" 2>&1 &
STARTED+=($!)
slurmd -D -f "$SLURM_CONF" >"$WORK/slurmd.out" 2>&1 &
STARTED+=($!)
for _ in $(seq 100); do
  state=$(sinfo -h -o %T 2>/dev/null | head -n 1 || true)
  [ "$state" = idle ] && break
  sleep 0.2
done
[ "${state:-}" = idle ] || { say "the node did not become idle (state: ${state:-none})"; exit 1; }
say "cluster up on $HOST ($CPUS CPUs)"

cd "$WORK"
cat >sweep.toml <<'TOML'
name = "slurm_e2e"
[model]
depth = 4
width = 16
[train]
batch_size = 32
steps = 60
[task]
eval_size = 128
[probe]
eval_every = 20
probe_every = 30
[execution]
checkpoint_every = 20
[grid]
residual = [false, true]
init_scale = ["1/sqrt(depth)", 1.0]
seed = { start = 0, count = 3 }
TOML

wait_for_queue() {
  for _ in $(seq 600); do
    [ -z "$(squeue -h 2>/dev/null)" ] && return 0
    sleep 0.5
  done
  say "jobs still queued after 300 s:"; squeue; return 1
}

"$BIN" run sweep.toml --runs-dir local --quiet >/dev/null
"$BIN" slurm sweep.toml --tasks 3 --runs-dir cluster --submit
wait_for_queue
test -s cluster/slurm_e2e/tables/runs.parquet || { say "the aggregation job wrote no tables"; exit 1; }
ls cluster/slurm_e2e/slurm/logs/ | grep -q '_2.out' || { say "no log of array task 2"; exit 1; }

q() { "$BIN" query "$1" "$2" --format csv; }
METRICS="SELECT * EXCLUDE (wall_time_s, steps_per_s, finished_at, resumed, git_commit, resweep_version) FROM runs ORDER BY run_id"
STEPS="SELECT * FROM steps ORDER BY run_id, step"
LAYERS="SELECT * FROM layers ORDER BY run_id, step, layer"
for sql in "$METRICS" "$STEPS" "$LAYERS"; do
  if ! diff <(q local/slurm_e2e "$sql") <(q cluster/slurm_e2e "$sql") >/dev/null; then
    say "tables differ between the local run and the Slurm run for: $sql"
    diff <(q local/slurm_e2e "$sql") <(q cluster/slurm_e2e "$sql") | head -n 20
    exit 1
  fi
done
RUNS=$(q cluster/slurm_e2e "SELECT count(*) AS n FROM runs" | tail -n 1)
[ "$RUNS" = 12 ] || { say "expected 12 runs in the tables, found $RUNS"; exit 1; }

# Resubmitting resumes and never redoes finished runs.
before=$(cat cluster/slurm_e2e/runs/*/result.json | sha256sum)
"$BIN" slurm sweep.toml --tasks 3 --runs-dir cluster --submit >/dev/null
wait_for_queue
after=$(cat cluster/slurm_e2e/runs/*/result.json | sha256sum)
[ "$before" = "$after" ] || { say "a resubmission redid finished runs"; exit 1; }
"$BIN" status cluster/slurm_e2e | tail -n 3
say "OK: 12 runs in 3 array tasks equal a local run bitwise; resubmission redid nothing"
