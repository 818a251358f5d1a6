#!/usr/bin/env bash
# Ensure a working Docker daemon (and debootstrap) on a fresh Debian 12 host, as root.
# Idempotent: does nothing when docker answers and debootstrap is installed.
set -euo pipefail

log() { printf 'docker-up: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root"

need_pkgs=()
command -v dockerd >/dev/null 2>&1 || [ -x /usr/sbin/dockerd ] || need_pkgs+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || need_pkgs+=(debootstrap)

if [ "${#need_pkgs[@]}" -gt 0 ]; then
  log "installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null \
    || die "apt-get install ${need_pkgs[*]} failed"
fi

if docker info >/dev/null 2>&1; then
  exit 0
fi

log "starting dockerd (log: /var/log/dockerd.log)"
nohup /usr/sbin/dockerd >/var/log/dockerd.log 2>&1 &
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    log "dockerd is up"
    exit 0
  fi
  sleep 1
done
tail -n 20 /var/log/dockerd.log >&2 || true
die "dockerd did not answer 'docker info' within 60 s"
