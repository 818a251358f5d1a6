#!/usr/bin/env bash
# Site benchmark (make bench-site): on a fresh VPS container, time
#   1. the cold converge of the whole site (infrastructure + apps; the
#      Cloudflare DNS play is left out: it talks to no VPS),
#   2. a no-op converge (and print its changed count),
#   3. the floor: `docker compose up -d` over the same rendered compose files
#      plus `caddy validate`, run directly on the VPS;
# then print the three figures and the ratio no-op / floor. Printed, not asserted.
# Needs the harness images (make images). Env: BENCH_VPS (container name).
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VPS="${BENCH_VPS:-alorig-bench-site}"
BIN="$REPO_DIR/.venv/bin"
WORK="$(mktemp -d /tmp/alorig-bench-site.XXXXXX)"
export ANSIBLE_CONFIG="$REPO_DIR/ansible.cfg"
export ANSIBLE_VAULT_PASSWORD_FILE="$REPO_DIR/inventories/local/vault-password.txt"
export ANSIBLE_NOCOLOR=1 PATH="$BIN:$PATH"

cleanup() {
  bash "$REPO_DIR/harness/vps.sh" stop "$VPS" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# An inventory for the bench VPS: the local group_vars, the scenario's host values.
mkdir -p "$WORK/inventory/host_vars"
cat >"$WORK/inventory/hosts.yml" <<INV
all:
  children:
    alorig_vps:
      hosts:
        $VPS:
          ansible_connection: community.docker.docker
          ansible_host: $VPS
          ansible_user: root
    igny8_old:
      hosts: {}
    control:
      hosts:
        localhost:
          ansible_connection: local
          ansible_python_interpreter: "{{ ansible_playbook_python }}"
INV
ln -s "$REPO_DIR/inventories/local/group_vars" "$WORK/inventory/group_vars"
cp "$REPO_DIR/molecule/apps/host_vars/alorig-molecule-apps.yml" "$WORK/inventory/host_vars/$VPS.yml"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

bash "$REPO_DIR/harness/vps.sh" stop "$VPS" >/dev/null 2>&1 || true
bash "$REPO_DIR/harness/vps.sh" start "$VPS"

converge() {
  (cd "$REPO_DIR" && "$BIN/ansible-playbook" -i "$WORK/inventory/hosts.yml" site.yml --skip-tags dns) >"$1" 2>&1
}

echo "[bench-site] cold converge (infrastructure + 8 apps) ..." >&2
t0=$(now); converge "$WORK/cold.log" || { tail -40 "$WORK/cold.log"; exit 1; }; t1=$(now)
cold=$(elapsed "$t0" "$t1")

echo "[bench-site] no-op converge ..." >&2
t0=$(now); converge "$WORK/noop.log" || { tail -40 "$WORK/noop.log"; exit 1; }; t1=$(now)
noop=$(elapsed "$t0" "$t1")
changed=$(grep -E "^$VPS +:" "$WORK/noop.log" | sed -E 's/.*changed=([0-9]+).*/\1/' | tail -1)

echo "[bench-site] floor: docker compose up -d over the rendered files + caddy validate ..." >&2
t0=$(now)
docker exec "$VPS" sh -c '
  set -e
  for f in /opt/alorig/compose/docker-compose.*.yml; do docker compose -f "$f" up -d --quiet-pull >/dev/null 2>&1; done
  docker exec alorig_caddy caddy validate --config /etc/caddy/Caddyfile --adapter caddyfile >/dev/null 2>&1'
t1=$(now)
floor=$(elapsed "$t0" "$t1")

ratio=$(awk -v a="$noop" -v b="$floor" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }')
printf '\nsite benchmark (%s compose files)\n' "$(docker exec "$VPS" sh -c 'ls /opt/alorig/compose/docker-compose.*.yml | wc -l')"
printf '  cold converge      %8ss\n' "$cold"
printf '  no-op converge     %8ss  (changed=%s)\n' "$noop" "${changed:-?}"
printf '  floor (compose up + caddy validate) %8ss\n' "$floor"
printf '  ratio no-op/floor  %8s\n' "$ratio"
