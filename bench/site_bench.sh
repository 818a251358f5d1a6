#!/usr/bin/env bash
# Site benchmark (make bench-site), on fresh VPS containers. Printed, never asserted.
#
# P1  on one VPS: the cold converge of the whole site (infrastructure + the 8
#     app instances; the Cloudflare DNS play is left out: it talks to no VPS),
#     a no-op converge (its changed count printed), and the floor: `docker
#     compose up -d` over the same rendered compose files plus `caddy validate`,
#     run directly on the VPS. Target: no-op <= 45 s and <= 15x the floor.
#     Then a one-app change: a new image for one app (igny8_staging), timed,
#     with the app's own health time (the health gate and compose's wait) shown
#     apart from the rest; once with the whole site.yml, once with
#     `--tags igny8` (that app's role only, as an operator deploys one app).
# P4  growth: the no-op converge with 8, 16 and 32 app instances (synthetic
#     copies of the reference app: one backend each, host RAM and the
#     connection and Redis database limits raised for the benchmark), and the
#     marginal cost per extra app. Target: <= 1 s per extra app.
#
#   bash bench/site_bench.sh            # P1 and P4
#   BENCH_PARTS=p1 bash bench/site_bench.sh
#   BENCH_LOGS=/tmp/bench-logs bash bench/site_bench.sh   # keep the runs' logs
# Needs the harness images (make images). Env: BENCH_VPS (container name).
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VPS="${BENCH_VPS:-alorig-bench-site}"
PARTS="${BENCH_PARTS:-p1 p4}"
WORK="$(mktemp -d /tmp/alorig-bench-site.XXXXXX)"
# shellcheck source=bench/lib.sh
. "$REPO_DIR/bench/lib.sh"

cleanup() {
  bash "$REPO_DIR/harness/vps.sh" stop "$VPS" >/dev/null 2>&1 || true
  if [ -n "${BENCH_LOGS:-}" ]; then mkdir -p "$BENCH_LOGS" && cp "$WORK"/*.log "$BENCH_LOGS"/ 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# An inventory for the bench VPS: the local group_vars, the apps scenario's host values.
write_inventory "$WORK/inventory" "$VPS"
cp "$REPO_DIR/molecule/apps/host_vars/alorig-molecule-apps.yml" "$WORK/inventory/host_vars/$VPS.yml"


fresh_vps() {
  bash "$REPO_DIR/harness/vps.sh" stop "$VPS" >/dev/null 2>&1 || true
  bash "$REPO_DIR/harness/vps.sh" start "$VPS" >/dev/null
}

converge() { # log, extra args...
  local log="$1"; shift
  (cd "$REPO_DIR" && "$BIN/ansible-playbook" -i "$WORK/inventory/hosts.yml" site.yml --skip-tags dns "$@") >"$log" 2>&1
}

changed_of() { grep -E "^$VPS +:" "$1" | sed -E 's/.*changed=([0-9]+).*/\1/' | tail -1; }

timed() { # name, log, extra args... -> prints seconds
  local t0 t1
  t0=$(now); converge "$2" "${@:3}" || { tail -40 "$2" >&2; exit 1; }; t1=$(now)
  elapsed "$t0" "$t1"
}

p1() {
  fresh_vps
  echo "[bench-site] P1: cold converge (infrastructure + 8 apps) ..." >&2
  cold=$(timed cold "$WORK/cold.log")
  echo "[bench-site] P1: no-op converge ..." >&2
  noop=$(timed noop "$WORK/noop.log")
  changed=$(changed_of "$WORK/noop.log")
  echo "[bench-site] P1: floor: docker compose up -d over the rendered files + caddy validate (3 times) ..." >&2
  local t0 t1 i floors=""
  for i in 1 2 3; do
    t0=$(now)
    docker exec "$VPS" sh -c '
      set -e
      cd /opt/alorig/compose
      for f in docker-compose.*.yml; do docker compose -f "$f" up -d --quiet-pull >/dev/null 2>&1; done
      docker exec alorig_caddy caddy validate --config /etc/caddy/Caddyfile --adapter caddyfile >/dev/null 2>&1'
    t1=$(now)
    floors="$floors $(elapsed "$t0" "$t1")"
  done
  # the median of the three: one run alone varies by a third on this machine
  floor=$(printf '%s\n' $floors | sort -n | sed -n 2p)
  echo "[bench-site] P1: a new image for one app (igny8_staging) ..." >&2
  docker exec "$VPS" sh -c 'mkdir -p /tmp/next && printf "FROM alorig/reference-app:latest\nLABEL org.alorig.bench=next\n" > /tmp/next/Dockerfile && DOCKER_BUILDKIT=0 docker build -q -t alorig/reference-app:next /tmp/next >/dev/null'
  one=$(ANSIBLE_CALLBACKS_ENABLED=alorig.platform.changes,alorig.platform.preload,ansible.posix.profile_tasks PROFILE_TASKS_TASK_OUTPUT_LIMIT=200 \
        timed one "$WORK/one.log" \
        -e '{"alorig_app_source_overrides": {"igny8_staging": {"type": "image", "image": "alorig/reference-app:next"}}}')
  # the app's own share: the module run (its migrations, health gate, compose --wait;
  # the module also reads the other seven apps, which differ in nothing)
  app_time=$(grep -E "Converge the apps \(release, files, containers\) -+ " "$WORK/one.log" \
             | sed -E 's/.* ([0-9.]+)s$/\1/' | tail -1)
  # the same change made the way an operator deploys one app: --tags <its role>
  echo "[bench-site] P1: another new image for igny8_staging, with --tags igny8 ..." >&2
  docker exec "$VPS" sh -c 'printf "FROM alorig/reference-app:latest\nLABEL org.alorig.bench=next2\n" > /tmp/next/Dockerfile && DOCKER_BUILDKIT=0 docker build -q -t alorig/reference-app:next2 /tmp/next >/dev/null'
  tagged=$(ANSIBLE_CALLBACKS_ENABLED=alorig.platform.changes,alorig.platform.preload,ansible.posix.profile_tasks PROFILE_TASKS_TASK_OUTPUT_LIMIT=200 \
        timed tagged "$WORK/tagged.log" --tags igny8 \
        -e '{"alorig_app_source_overrides": {"igny8_staging": {"type": "image", "image": "alorig/reference-app:next2"}}}')
  tagged_app=$(grep -E "Converge the apps \(release, files, containers\) -+ " "$WORK/tagged.log" \
             | sed -E 's/.* ([0-9.]+)s$/\1/' | tail -1)
  ratio=$(awk -v a="$noop" -v b="$floor" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }')
  printf '\nP1 site benchmark (%s compose files)\n' "$(docker exec "$VPS" sh -c 'ls /opt/alorig/compose/docker-compose.*.yml | wc -l')"
  printf '  cold converge                          %8ss\n' "$cold"
  printf '  no-op converge                         %8ss  (changed=%s)   target <= 45 s\n' "$noop" "${changed:-?}"
  printf '  floor (compose up + caddy validate)    %8ss  (median of%s)\n' "$floor" "$floors"
  printf '  ratio no-op/floor                      %8s    target <= 15\n' "$ratio"
  printf '  one app with a new image               %8ss  (changed=%s)\n' "$one" "$(changed_of "$WORK/one.log")"
  printf '    of which the app (release, gate, wait) %8ss; the rest %ss   target: the rest <= 30 s\n' \
    "${app_time:-?}" "$(awk -v a="$one" -v b="${app_time:-0}" 'BEGIN { printf "%.1f", a - b }')"
  printf '  the same with --tags igny8              %8ss  (changed=%s)\n' "$tagged" "$(changed_of "$WORK/tagged.log")"
  printf '    of which the app (release, gate, wait) %8ss; the rest %ss   target: the rest <= 30 s\n' \
    "${tagged_app:-?}" "$(awk -v a="$tagged" -v b="${tagged_app:-0}" 'BEGIN { printf "%.1f", a - b }')"
}

synthetic() { # count -> extra vars file with the registry grown to <count> instances
  "$BIN/python" - "$1" "$WORK/apps-$1.json" "$REPO_DIR" <<'PY'
import copy, json, subprocess, sys, yaml
count, out, repo = int(sys.argv[1]), sys.argv[2], sys.argv[3]
apps = yaml.safe_load(open(repo + "/group_vars/all/apps.yml"))["alorig_apps"]
apps["snapify"]["routes"][3]["allow_ips"] = ["127.0.0.1/32"]
vault = yaml.safe_load(subprocess.run(
    [repo + "/.venv/bin/ansible-vault", "view", "--vault-password-file",
     repo + "/inventories/local/vault-password.txt", repo + "/inventories/local/group_vars/all/vault.yml"],
    check=True, capture_output=True, text=True).stdout)
secrets = vault["vault_alorig_app_secrets"]
for n in range(len(apps), count):
    key = "bench%02d" % n
    apps[key] = {
        "enabled": True, "title": key, "compose_name": key, "rollout_order": 100 + n,
        "ram_budget_mb": 160, "role": "astrotiming",
        "source": {"type": "local", "path": "app_sources/reference"},
        "image": key + "-backend", "backend_port": 9100 + n,
        "database": {"name": key + "_db", "owner": key, "extensions": [], "connection_limit": 2},
        "redis": {"db": 16 + n, "prefix": key + ":"},
        "containers": [{"name": key + "_backend", "kind": "backend", "port": 9100 + n}],
        "routes": [{"host": "api.%s.alorig.com" % key, "kind": "proxy",
                    "upstream": key + "_backend", "port": 9100 + n}],
        "secrets": ["django_secret_key", "db_password", "redis_password"],
    }
    secrets[key] = {s: "bench-%s-%s-0123456789" % (key, s) for s in apps[key]["secrets"]}
json.dump({"alorig_apps": apps, "vault_alorig_app_secrets": secrets,
           "alorig_host_ram_mb": 65536, "alorig_redis_databases": 64,
           "alorig_postgres_max_connections": 400,
           "alorig_thresholds": {"steady_state_ram_mb": 60000, "oom_kills": 0,
                                 "postgres_connections": 300, "redis_memory_mb": 2048,
                                 "celery_queue_length": 1000}}, open(out, "w"))
PY
  echo "@$WORK/apps-$1.json"
}

p4() {
  fresh_vps
  local prev_n="" prev_t="" n vars t
  printf '\nP4 growth: no-op converge by number of app instances\n'
  for n in 8 16 32; do
    vars=$(synthetic "$n")
    echo "[bench-site] P4: converge with $n app instances ..." >&2
    timed "cold$n" "$WORK/cold$n.log" -e "$vars" >/dev/null
    echo "[bench-site] P4: no-op converge with $n app instances ..." >&2
    t=$(timed "noop$n" "$WORK/noop$n.log" -e "$vars")
    if [ -n "$prev_n" ]; then
      printf '  %2d apps  no-op %8ss  (changed=%s)  marginal %5.2f s per extra app   target <= 1 s\n' \
        "$n" "$t" "$(changed_of "$WORK/noop$n.log")" "$(awk -v a="$prev_t" -v b="$t" -v m="$prev_n" -v n="$n" 'BEGIN { print (b - a) / (n - m) }')"
    else
      printf '  %2d apps  no-op %8ss  (changed=%s)\n' "$n" "$t" "$(changed_of "$WORK/noop$n.log")"
    fi
    prev_n=$n; prev_t=$t
  done
}

for part in $PARTS; do "$part"; done
