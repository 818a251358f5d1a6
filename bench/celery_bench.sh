#!/usr/bin/env bash
# Celery worker scaling benchmark (make bench-celery), on a fresh VPS container. Printed,
# never asserted.
#
# The VPS gets the shared infrastructure (playbooks/infra.yml) and one app, Observer OS
# (playbooks/apps.yml limited to it), whose celery_worker runs with `replicas: 1`, then with
# `replicas: 2` (the registry key; a converge in between). Each time the workers are
# stopped, BENCH_TASKS tasks (default 2,000) are queued through the app's own code (a
# TaskRun row and core.tasks.record_task_run each), the workers are started, and the time
# until every task is done is measured: once with tasks that only update the database,
# once with tasks that first wait BENCH_WORK_MS (default 50) like a call to an outside
# API. Printed: the drain time and rate of each, and the worker containers' memory
# limits (the app's budget split over the replicas).
#
#   bash bench/celery_bench.sh
#   BENCH_TASKS=5000 BENCH_CONCURRENCY=1 BENCH_WORK_MS=200 bash bench/celery_bench.sh
# Needs the harness images (make images). BENCH_KEEP=1 keeps the container afterwards.
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VPS="${BENCH_VPS:-alorig-bench-celery-vps}"
TASKS="${BENCH_TASKS:-2000}"
CONCURRENCY="${BENCH_CONCURRENCY:-2}"
WORK_MS="${BENCH_WORK_MS:-50}"
APP=observer
WORK="$(mktemp -d /tmp/alorig-bench-celery.XXXXXX)"
# shellcheck source=bench/lib.sh
. "$REPO_DIR/bench/lib.sh"

cleanup() {
  if [ -n "${BENCH_KEEP:-}" ]; then echo "[bench-celery] kept $VPS" >&2; rm -rf "$WORK"; return; fi
  bash "$REPO_DIR/harness/vps.sh" stop "$VPS" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

write_inventory "$WORK/inventory" "$VPS"
cp "$REPO_DIR/molecule/apps/host_vars/alorig-molecule-apps.yml" "$WORK/inventory/host_vars/$VPS.yml"

# The registry with Observer OS's worker at N replicas (extra vars win over group_vars).
registry() { # replicas -> vars file
  "$BIN/python" - "$REPO_DIR/group_vars/all/apps.yml" "$1" "$CONCURRENCY" "$WORK/apps-$1.json" <<'PY'
import json, sys, yaml
apps = yaml.safe_load(open(sys.argv[1]))["alorig_apps"]
worker = next(c for c in apps["observer"]["containers"] if c["kind"] == "celery_worker")
worker["replicas"] = int(sys.argv[2])
worker["concurrency"] = int(sys.argv[3])
json.dump({"alorig_apps": apps, "alorig_app_limit": ["observer"]}, open(sys.argv[4], "w"))
PY
  echo "$WORK/apps-$1.json"
}

timed() { # command... -> prints seconds
  local t0 t1
  t0=$(now); "$@" >"$WORK/step.log" 2>&1 || { tail -30 "$WORK/step.log" >&2; exit 1; }; t1=$(now)
  elapsed "$t0" "$t1"
}
on_vps() { docker exec "$VPS" bash -c "$1"; }
workers() { on_vps "docker ps -a --filter label=org.alorig.app=$APP --filter label=org.alorig.kind=celery_worker --format '{{.Names}}' | sort | xargs"; }
done_count() { on_vps "docker exec alorig_postgres psql -At -U postgres -d observer_db -c \"SELECT count(*) FROM core_taskrun WHERE status = 'done' AND requested_by = 'bench'\""; }

scale() { # replicas: converge Observer OS with that many worker containers
  timed "$BIN/ansible-playbook" -i "$WORK/inventory/hosts.yml" "$REPO_DIR/playbooks/apps.yml" \
    -e "@$(registry "$1")" >/dev/null
}

drain() { # work_ms -> "seconds tasks/s"
  local names t0 t1 count
  names=$(workers)
  on_vps "docker stop $names >/dev/null"
  on_vps "docker exec alorig_postgres psql -q -U postgres -d observer_db -c \"DELETE FROM core_taskrun WHERE requested_by = 'bench'\""
  docker exec -i "$VPS" docker exec -i "${APP}_backend" /app/manage.py shell >/dev/null <<PY
from core.models import TaskRun
from core.tasks import record_task_run
for _ in range($TASKS):
    run = TaskRun.objects.create(queue="celery", requested_by="bench")
    record_task_run.apply_async(args=[run.pk, $1], queue="celery")
PY
  count=$(on_vps "docker exec alorig_postgres psql -At -U postgres -d observer_db -c \"SELECT count(*) FROM core_taskrun WHERE requested_by = 'bench'\"")
  [ "$count" -eq "$TASKS" ] || { echo "[bench-celery] queued $count tasks, not $TASKS" >&2; return 1; }
  t0=$(now)
  on_vps "docker start $names >/dev/null"
  count=0
  while [ "$count" -lt "$TASKS" ]; do
    sleep 0.5; count=$(done_count)
    [ "$(elapsed "$t0" "$(now)" | cut -d. -f1)" -lt 900 ] || { echo "[bench-celery] only $count of $TASKS done after 900 s" >&2; return 1; }
  done
  t1=$(now)
  echo "$(elapsed "$t0" "$t1") $(awk -v n="$TASKS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')"
}

echo "[bench-celery] fresh VPS ..." >&2
bash "$REPO_DIR/harness/vps.sh" stop "$VPS" >/dev/null 2>&1 || true
bash "$REPO_DIR/harness/vps.sh" start "$VPS" >/dev/null
echo "[bench-celery] converge: shared infrastructure ..." >&2
converge=$(timed "$BIN/ansible-playbook" -i "$WORK/inventory/hosts.yml" "$REPO_DIR/playbooks/infra.yml")
results=()
for replicas in 1 2; do
  echo "[bench-celery] $replicas worker container(s) ..." >&2
  scale "$replicas"
  names=$(workers)
  mb=$(on_vps "docker inspect -f '{{ index .Config.Labels \"org.alorig.memory_mb\" }}' ${names%% *}")
  for work in 0 "$WORK_MS"; do
    echo "[bench-celery]   $TASKS tasks of ${work} ms ..." >&2
    result=$(drain "$work")
    results+=("$(printf '  %-48s %-22s %s s  (%s tasks/s)' "$replicas: $names" "${mb} MB each, ${work} ms" ${result})")
  done
done

cat <<REPORT

Celery worker scaling benchmark ($(nproc)-core machine; the VPS is a container)
  app: Observer OS, worker concurrency $CONCURRENCY; $TASKS tasks queued while the workers were
  stopped, timed from starting the workers (their boot included) until the last one is done;
  tasks of 0 ms (database update only) and of $WORK_MS ms (waiting, like a call to an outside API)
  converge (infrastructure): ${converge} s
  replicas: containers                             limit, task             drained in
$(printf '%s\n' "${results[@]}")
REPORT
