#!/usr/bin/env bash
# The local platform behind `make up` / `make down`: the local Cloudflare API
# stand-in on loopback and a systemd "VPS" container named alorig-local-vps.
# site.yml is then run against inventories/local by the Makefile.
set -euo pipefail
cd "$(dirname "$0")/.."

VPS_NAME=${VPS_NAME:-alorig-local-vps}
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
    if [[ $(docker inspect -f '{{.State.Running}}' "$VPS_NAME" 2>/dev/null) == true ]]; then
      echo "local VPS $VPS_NAME already running"
    elif docker inspect "$VPS_NAME" >/dev/null 2>&1; then
      bash harness/vps.sh resume "$VPS_NAME"
    else
      bash harness/vps.sh start "$VPS_NAME" --publish 127.0.0.1:8080:80 --publish 127.0.0.1:8443:443
    fi
    ;;
  down)
    cf_down
    bash harness/vps.sh stop "$VPS_NAME"
    ;;
  *)
    echo "usage: $0 up|down|cf-up|cf-down" >&2
    exit 2
    ;;
esac
