#!/usr/bin/env bash
# Backup benchmark (make bench-backup), on a fresh VPS container and a fresh backup host
# container. Printed, never asserted.
#
# The VPS is converged with the shared infrastructure and the backups (playbooks/infra.yml
# and playbooks/backup.yml); then a test data set goes into igny8: BENCH_ROWS rows (default
# 200,000) in one table and BENCH_MEDIA_MB of media files (default 50, in 1 MB files).
# Timed: the first backup with that data (everything travels), a second backup with nothing
# changed (Borg's deduplication), a restore of igny8 into a scratch database (extract,
# pg_restore, per-table checksums), an in-place restore (database and media), and the
# drill over every app. Printed: those times, the data set's size, the repository's size.
#
#   bash bench/backup_bench.sh
#   BENCH_ROWS=1000000 BENCH_MEDIA_MB=200 bash bench/backup_bench.sh
# Needs the harness images (make images). BENCH_KEEP=1 keeps the containers afterwards.
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VPS="${BENCH_VPS:-alorig-bench-backup-vps}"
BACKUP="${BENCH_BACKUP:-alorig-bench-backup-host}"
NET="alorig-bench-backup"
ROWS="${BENCH_ROWS:-200000}"
MEDIA_MB="${BENCH_MEDIA_MB:-50}"
WORK="$(mktemp -d /tmp/alorig-bench-backup.XXXXXX)"
# shellcheck source=bench/lib.sh
. "$REPO_DIR/bench/lib.sh"

cleanup() {
  if [ -n "${BENCH_KEEP:-}" ]; then echo "[bench-backup] kept $VPS, $BACKUP and $NET" >&2; rm -rf "$WORK"; return; fi
  bash "$REPO_DIR/harness/vps.sh" stop "$VPS" >/dev/null 2>&1 || true
  bash "$REPO_DIR/harness/vps.sh" stop "$BACKUP" >/dev/null 2>&1 || true
  docker network rm "$NET" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

write_inventory "$WORK/inventory" "$VPS" "$BACKUP"
cp "$REPO_DIR/molecule/infra/host_vars/alorig-molecule-infra.yml" "$WORK/inventory/host_vars/$VPS.yml"
cat >"$WORK/site.yml" <<PLAY
- name: Shared infrastructure
  ansible.builtin.import_playbook: $REPO_DIR/playbooks/infra.yml
- name: Backups
  ansible.builtin.import_playbook: $REPO_DIR/playbooks/backup.yml
PLAY

timed() { # command... -> prints seconds
  local t0 t1
  t0=$(now); "$@" >"$WORK/step.log" 2>&1 || { tail -30 "$WORK/step.log" >&2; exit 1; }; t1=$(now)
  elapsed "$t0" "$t1"
}
on_vps() { docker exec "$VPS" bash -c "$1"; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }

echo "[bench-backup] fresh VPS and backup host ..." >&2
for name in "$VPS" "$BACKUP"; do bash "$REPO_DIR/harness/vps.sh" stop "$name" >/dev/null 2>&1 || true; done
docker network rm "$NET" >/dev/null 2>&1 || true
docker network create --subnet 10.214.9.0/24 "$NET" >/dev/null
bash "$REPO_DIR/harness/vps.sh" start "$VPS" --network "$NET" >/dev/null
bash "$REPO_DIR/harness/vps.sh" start "$BACKUP" --network "$NET" >/dev/null

echo "[bench-backup] converge: shared infrastructure and backups ..." >&2
converge=$(timed "$BIN/ansible-playbook" -i "$WORK/inventory/hosts.yml" "$WORK/site.yml")

echo "[bench-backup] test data set: $ROWS rows and $MEDIA_MB MB of media in igny8 ..." >&2
on_vps "docker exec alorig_postgres psql -q -U postgres -d igny8_db -v ON_ERROR_STOP=1 -c \"
  CREATE TABLE bench_orders (id bigint PRIMARY KEY, customer text, amount numeric(12,2), note text,
                             created timestamptz);
  INSERT INTO bench_orders SELECT g, 'customer-' || (g % 5000), (g % 100000) / 100.0,
         md5(g::text) || md5((g * 7)::text), now() - (g || ' minutes')::interval
  FROM generate_series(1, $ROWS) g;\""
on_vps "mkdir -p /opt/alorig/apps/igny8/storage/bench && for i in \$(seq 1 $MEDIA_MB); do
          head -c 1048576 /dev/urandom > /opt/alorig/apps/igny8/storage/bench/file-\$i.bin; done"
table_bytes=$(on_vps "docker exec alorig_postgres psql -At -U postgres -d igny8_db -c \"SELECT pg_total_relation_size('bench_orders')\"")

echo "[bench-backup] first backup with the data set ..." >&2
first=$(timed docker exec "$VPS" systemctl start alorig-backup.service)
dump_bytes=$(on_vps "python3 -c 'import json; print(json.load(open(\"/var/lib/alorig/backup/backup.json\"))[\"last_success\"][\"apps\"][\"igny8\"][\"dump_bytes\"])'")
echo "[bench-backup] second backup, nothing changed ..." >&2
second=$(timed docker exec "$VPS" systemctl start alorig-backup.service)
repo_bytes=$(on_vps "python3 -c 'import json; print(json.load(open(\"/var/lib/alorig/backup/backup.json\"))[\"last_success\"][\"repository_bytes\"])'")
repo_disk=$(docker exec "$BACKUP" du -sb "/srv/borg/$VPS" | cut -f1)

echo "[bench-backup] restore igny8 into a scratch database ..." >&2
scratch=$(timed docker exec "$VPS" alorig-backup restore --app igny8 --target scratch)
echo "[bench-backup] restore igny8 in place ..." >&2
in_place=$(timed "$BIN/ansible-playbook" -i "$WORK/inventory/hosts.yml" "$REPO_DIR/playbooks/restore.yml" \
           -e app=igny8 -e target=in_place -e confirm=igny8)
rows_after=$(on_vps "docker exec alorig_postgres psql -At -U postgres -d igny8_db -c 'SELECT count(*) FROM bench_orders'")
echo "[bench-backup] drill over every app ..." >&2
drill=$(timed docker exec "$VPS" systemctl start alorig-backup-drill.service)

cat <<REPORT

Backup benchmark (2-core machine; VPS and backup host are containers on one network)
  data set:  bench_orders $ROWS rows ($(mb "$table_bytes") MB in PostgreSQL), $MEDIA_MB MB media
  converge (infrastructure + backups, first empty backup):  ${converge} s
  first backup with the data set:        ${first} s   (igny8 dump $(mb "$dump_bytes") MB)
  second backup, nothing changed:        ${second} s
  repository size:                       $(mb "$repo_bytes") MB unique compressed (Borg), $(mb "$repo_disk") MB on the backup host's disk
  restore igny8 into a scratch database: ${scratch} s   (extract + pg_restore + per-table checksums)
  restore igny8 in place (playbook):     ${in_place} s   (stop, database + media, verify, start; $rows_after rows after)
  drill, 8 apps:                         ${drill} s
REPORT
