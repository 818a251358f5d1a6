#!/usr/bin/env bash
# The local platform behind `make up` / `make down`: the local Cloudflare API
# stand-in on loopback and a systemd "VPS" container named alorig-local-vps.
# site.yml is then run against inventories/local by the Makefile.
set -euo pipefail
cd "$(dirname "$0")/.."

VPS_NAME=${VPS_NAME:-alorig-local-vps}
BACKUP_NAME=${BACKUP_NAME:-alorig-local-backup}
# The local network of the VPS and its backup host: names resolve, and the
# fixed subnet keeps clear of the ranges the VPS's own Docker picks.
NET_NAME=${NET_NAME:-alorig-local}
NET_SUBNET=${NET_SUBNET:-10.213.0.0/24}
CF_PORT=${CF_PORT:-8788}
STATE_DIR=${STATE_DIR:-.cache/local-platform}
VENV=${VENV:-.venv}
mkdir -p "$STATE_DIR"

cf_token() {
  "$VENV/bin/ansible-vault" view --vault-password-file inventories/local/vault-password.txt \
    inventories/local/group_vars/all/vault.yml |
    "$VENV/bin/python" -c 'import sys, yaml; print(yaml.safe_load(sys.stdin)["vault_cloudflare_api_token"])'
}

cf_up() {
  local pidfile="$STATE_DIR/cloudflare_api.pid"
  if [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "local Cloudflare API already running on 127.0.0.1:$CF_PORT"
    return
  fi
  local zones=()
  while read -r z; do zones+=(--zone "$z"); done < <(
    "$VENV/bin/python" -c 'import yaml; [print(z) for z in yaml.safe_load(open("group_vars/all/platform.yml"))["alorig_domains"]]')
  # the token by environment: never on a command line
  FAKE_CLOUDFLARE_TOKEN="$(cf_token)" nohup "$VENV/bin/python" harness/cloudflare_api/server.py \
    --host 127.0.0.1 --port "$CF_PORT" --state-file "$STATE_DIR/cloudflare_state.json" "${zones[@]}" \
    >"$STATE_DIR/cloudflare_api.log" 2>&1 &
  echo $! >"$pidfile"
  for _ in $(seq 1 50); do
    if "$VENV/bin/python" -c "import socket; socket.create_connection(('127.0.0.1', $CF_PORT), 1)" 2>/dev/null; then
      echo "local Cloudflare API on http://127.0.0.1:$CF_PORT"
      return
    fi
    sleep 0.2
  done
  echo "local Cloudflare API did not start; see $STATE_DIR/cloudflare_api.log" >&2
  exit 1
}

cf_down() {
  local pidfile="$STATE_DIR/cloudflare_api.pid"
  if [[ -f $pidfile ]]; then
    kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
  fi
}

case "${1:-}" in
  cf-up) cf_up ;;
  cf-down) cf_down ;;
  up)
    cf_up
    docker network inspect "$NET_NAME" >/dev/null 2>&1 ||
      docker network create --subnet "$NET_SUBNET" "$NET_NAME" >/dev/null
    for name in "$VPS_NAME" "$BACKUP_NAME"; do
      if [[ $(docker inspect -f '{{.State.Running}}' "$name" 2>/dev/null) == true ]]; then
        echo "local host $name already running"
      elif docker inspect "$name" >/dev/null 2>&1; then
        bash harness/vps.sh resume "$name"
      elif [[ $name == "$VPS_NAME" ]]; then
        bash harness/vps.sh start "$name" --network "$NET_NAME" \
          --publish 127.0.0.1:8080:80 --publish 127.0.0.1:8443:443
      else
        bash harness/vps.sh start "$name" --network "$NET_NAME"
      fi
      # a VPS started before the network existed joins it
      docker inspect -f '{{json .NetworkSettings.Networks}}' "$name" | grep -q "\"$NET_NAME\"" ||
        docker network connect "$NET_NAME" "$name"
    done
    ;;
  down)
    cf_down
    bash harness/vps.sh stop "$VPS_NAME"
    bash harness/vps.sh stop "$BACKUP_NAME"
    docker network rm "$NET_NAME" >/dev/null 2>&1 || true
    ;;
  *)
    echo "usage: $0 up|down|cf-up|cf-down" >&2
    exit 2
    ;;
esac
