#!/usr/bin/env bash
# The monitoring stack's cost (make bench-monitoring), on the running local platform
# (make up; every app deployed). Printed, never asserted.
#
# Samples `docker stats` of the monitoring containers every BENCH_INTERVAL seconds (10) for
# BENCH_MINUTES (5) and prints each container's memory (min / mean / max, against its
# limit from alorig_shared_ram_budget_mb) and CPU, then Prometheus's own figures: series in
# the head block, samples ingested per second, its data volume on disk, and the disk the
# retention needs at that rate (1.5 bytes per sample, Prometheus's documented average).
#
#   make up && bash bench/monitoring_bench.sh
#   BENCH_MINUTES=30 BENCH_VPS=alorig-local-vps bash bench/monitoring_bench.sh
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VPS="${BENCH_VPS:-alorig-local-vps}"
MINUTES="${BENCH_MINUTES:-5}"
INTERVAL="${BENCH_INTERVAL:-10}"
RETENTION_DAYS="${BENCH_RETENTION_DAYS:-30}"
CONTAINERS="alorig_prometheus alorig_alertmanager alorig_node_exporter alorig_postgres_exporter alorig_redis_exporter"
# shellcheck source=bench/lib.sh
. "$REPO_DIR/bench/lib.sh"

on_vps() { docker exec "$VPS" bash -c "$1"; }
on_vps "docker inspect alorig_prometheus >/dev/null" \
  || { echo "[bench-monitoring] no monitoring stack on $VPS: run make up first" >&2; exit 1; }
prom() { # instant query -> the first value
  on_vps "curl -sf --get --data-urlencode 'query=$1' http://127.0.0.1:9090/api/v1/query" \
    | "$BIN/python" -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "n/a")'
}

samples="$(mktemp)"
trap 'rm -f "$samples"' EXIT
rounds=$(( MINUTES * 60 / INTERVAL ))
echo "[bench-monitoring] $VPS: $rounds samples every $INTERVAL s" >&2
for _ in $(seq "$rounds"); do
  # shellcheck disable=SC2086
  on_vps "docker stats --no-stream --format '{{.Name}} {{.MemUsage}} {{.CPUPerc}}' $CONTAINERS" >>"$samples"
  sleep "$INTERVAL"
done

echo "== monitoring stack on $VPS ($MINUTES min, up since $(on_vps "docker inspect -f '{{.State.StartedAt}}' alorig_prometheus"))"
"$BIN/python" - "$samples" "$REPO_DIR/group_vars/all/platform.yml" <<'PY'
import re, sys, yaml
units = {"KiB": 1 / 1024, "MiB": 1, "GiB": 1024, "B": 1 / 1024 ** 2}
budget = yaml.safe_load(open(sys.argv[2]))["alorig_shared_ram_budget_mb"]
rows = {}
for line in open(sys.argv[1]):
    name, used, _slash, _limit, _unit_or_pct, *rest = line.split()
    m = re.match(r"([0-9.]+)([A-Za-z]+)", used)
    cpu = float(line.split()[-1].rstrip("%"))
    rows.setdefault(name, []).append((float(m.group(1)) * units[m.group(2)], cpu))
print("%-26s %8s %8s %8s %8s %8s" % ("container", "min MB", "mean MB", "max MB", "limit MB", "CPU %"))
total = [0, 0, 0]
for name, values in sorted(rows.items()):
    mem = [v[0] for v in values]
    key = name.replace("alorig_", "")
    stats = (min(mem), sum(mem) / len(mem), max(mem))
    total = [t + s for t, s in zip(total, stats)]
    print("%-26s %8.1f %8.1f %8.1f %8s %8.2f" % (name, *stats, budget.get(key, "?"),
                                               sum(v[1] for v in values) / len(values)))
print("%-26s %8.1f %8.1f %8.1f %8d" % ("total", *total, sum(budget.get(k.replace("alorig_", ""), 0)
                                                            for k in rows)))
PY
series="$(prom 'prometheus_tsdb_head_series')"
rate="$(prom 'rate(prometheus_tsdb_head_samples_appended_total[5m])')"
disk="$(on_vps "du -sm /var/lib/docker/volumes/alorig_prometheus_data/_data | cut -f1")"
echo "Prometheus: $series series, $rate samples/s, ${disk} MB on disk"
awk -v r="$rate" -v d="$RETENTION_DAYS" 'BEGIN { if (r + 0 > 0) printf "retention %d days at this rate: about %.0f MB (1.5 B/sample)\n", d, r * 86400 * d * 1.5 / 1024 / 1024 }'
