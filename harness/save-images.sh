#!/usr/bin/env bash
# Save the stand-in and reference images to .cache/images/<name_with_underscores>.tar so a
# VPS container (harness/vps.sh mounts .cache/images read-only at /srv/alorig-images) can
# `docker load` them (community.docker.docker_image source: load).
# A tar is rewritten only when the image ID changed (sidecar <file>.tar.id).
# Also writes .cache/images/manifest.yml: [{name: "postgres:16", path: "/srv/alorig-images/postgres_16.tar"}, ...]
set -euo pipefail

HARNESS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$HARNESS_DIR/.." && pwd)"
OUT="$REPO_DIR/.cache/images"
MOUNT_POINT="/srv/alorig-images"

IMAGES=(
  "postgres:16"
  "redis:7"
  "edoburu/pgbouncer:v1.23.1-p3"
  "caddy:2"
  "mher/flower:2.0"
  "portainer/portainer-ce:2.21.5"
  "prom/prometheus:v2.53.3"
  "prom/alertmanager:v0.28.1"
  "prom/node-exporter:v1.9.0"
  "quay.io/prometheuscommunity/postgres-exporter:v0.17.1"
  "oliver006/redis_exporter:v1.69.0"
  "alorig/reference-app:latest"
)
OPTIONAL=("alorig/reference-app:latest")

log() { printf '[save-images] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

is_optional() { local o; for o in "${OPTIONAL[@]}"; do [ "$o" = "$1" ] && return 0; done; return 1; }

mkdir -p "$OUT"
manifest="$OUT/manifest.yml.tmp"
{
  echo "---"
  echo "# Written by harness/save-images.sh: images saved for 'docker load' inside the test VPS"
} >"$manifest"
count=0
for image in "${IMAGES[@]}"; do
  file="$(printf '%s' "$image" | tr '/:' '__').tar"
  id="$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)"
  if [ -z "$id" ]; then
    if is_optional "$image"; then
      log "$image: not built, skipped"
      rm -f "$OUT/$file" "$OUT/$file.id"
      continue
    fi
    die "$image: image missing (run harness/build-images.sh)"
  fi
  if [ -f "$OUT/$file" ] && [ "$(cat "$OUT/$file.id" 2>/dev/null)" = "$id" ]; then
    log "$image: up to date"
  else
    log "$image: saving to .cache/images/$file"
    docker save -o "$OUT/$file.tmp" "$image" || { rm -f "$OUT/$file.tmp"; die "docker save $image failed"; }
    chmod 0644 "$OUT/$file.tmp"
    mv -f "$OUT/$file.tmp" "$OUT/$file"
    echo "$id" >"$OUT/$file.id"
  fi
  printf -- '- name: "%s"\n  path: "%s/%s"\n' "$image" "$MOUNT_POINT" "$file" >>"$manifest"
  count=$((count + 1))
done
[ "$count" -gt 0 ] || echo "[]" >>"$manifest"
chmod 0644 "$manifest"
mv -f "$manifest" "$OUT/manifest.yml"
log "manifest: $OUT/manifest.yml ($count images)"
