#!/usr/bin/env bash
# Build every harness image on the local Docker daemon, with content-hash caching.
#
#   harness/build-images.sh                 # build everything that changed
#   harness/build-images.sh --only redis:7 vps   # only these (full name or short name)
#   HARNESS_FORCE=1 harness/build-images.sh # ignore the cache
#
# Cache rule: each image carries the label alorig.harness.hash = sha256 over its build
# context (paths, modes, contents), its Dockerfile and the ID of its parent image. When an
# image of that name already has that label, it is not rebuilt. Base images
# (alorig-base:<suite>) are keyed on suite + BASE_VERSION below.
# Build logs: .cache/logs/build-<short>.log
set -euo pipefail

BASE_VERSION="2"          # bump to force new debootstrap base images
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
LABEL_KEY="alorig.harness.hash"

HARNESS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$HARNESS_DIR/.." && pwd)"
CACHE_DIR="$REPO_DIR/.cache"
LOG_DIR="$CACHE_DIR/logs"
mkdir -p "$LOG_DIR"

# short name | image name | build context | parent image
IMAGES=(
  "postgres|postgres:16|harness/images/postgres|alorig-base:trixie"
  "redis|redis:7|harness/images/redis|alorig-base:bookworm"
  "pgbouncer|edoburu/pgbouncer:v1.23.1-p3|harness/images/pgbouncer|alorig-base:bookworm"
  "caddy|caddy:2|harness/images/caddy|alorig-base:bookworm"
  "flower|mher/flower:2.0|.cache/build/flower|alorig-base:bookworm"
  "portainer|portainer/portainer-ce:2.21.5|harness/images/portainer|alorig-base:bookworm"
  "prometheus|prom/prometheus:v2.53.3|harness/images/prometheus|alorig-base:trixie"
  "alertmanager|prom/alertmanager:v0.28.1|harness/images/alertmanager|alorig-base:trixie"
  "node-exporter|prom/node-exporter:v1.9.0|harness/images/node-exporter|alorig-base:trixie"
  "postgres-exporter|quay.io/prometheuscommunity/postgres-exporter:v0.17.1|harness/images/postgres-exporter|alorig-base:trixie"
  "redis-exporter|oliver006/redis_exporter:v1.69.0|harness/images/redis-exporter|alorig-base:trixie"
  "vps|alorig-vps:trixie|harness/images/vps|alorig-base:trixie"
  "reference-app|alorig/reference-app:latest|app_sources/reference|alorig-base:bookworm"
)

log() { printf '[build-images] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

ONLY=()
while [ $# -gt 0 ]; do
  case "$1" in
    --only) shift; while [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; do ONLY+=("$1"); shift; done ;;
    -h|--help) sed -n '2,14p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown argument: $1" ;;
  esac
done

selected() { # short name, image name
  [ "${#ONLY[@]}" -eq 0 ] && return 0
  local o
  for o in "${ONLY[@]}"; do
    [ "$o" = "$1" ] || [ "$o" = "$2" ] && return 0
  done
  return 1
}

image_label() { # image -> label value or empty
  docker image inspect --format "{{ index .Config.Labels \"$LABEL_KEY\" }}" "$1" 2>/dev/null || true
}

image_id() { docker image inspect --format '{{.Id}}' "$1" 2>/dev/null || true; }

context_hash() { # dir parent-id -> sha256
  local dir="$1" parent="$2"
  {
    echo "parent=$parent"
    (cd "$dir" && find . \( -name '__pycache__' -o -name '*.pyc' \) -prune -o -type f -printf '%m %p\n' | LC_ALL=C sort)
    (cd "$dir" && find . \( -name '__pycache__' -o -name '*.pyc' \) -prune -o -type f -print0 \
      | LC_ALL=C sort -z | xargs -0 -r sha256sum)
  } | sha256sum | cut -d' ' -f1
}

secs() { date +%s; }

remove_if_dangling() { # old image id, name: drop our own replaced image (only if untagged)
  local old="$1" name="$2"
  [ -n "$old" ] && [ "$old" != "$(image_id "$name")" ] || return 0
  if [ "$(docker image inspect --format '{{len .RepoTags}}' "$old" 2>/dev/null)" = 0 ]; then
    docker rmi "$old" >/dev/null 2>&1 || true
  fi
}

# ---------------------------------------------------------------- base images
build_base() { # suite
  local suite="$1" name="alorig-base:$1" key="$1-$BASE_VERSION"
  if [ -z "${HARNESS_FORCE:-}" ] && [ "$(image_label "$name")" = "$key" ]; then
    log "$name: cached"
    return 0
  fi
  command -v debootstrap >/dev/null 2>&1 || die "debootstrap missing: run harness/docker-up.sh"
  local t0 rootfs old_id logf="$LOG_DIR/build-base-$suite.log"
  old_id="$(image_id "$name")"
  t0=$(secs)
  rootfs="$(mktemp -d "/tmp/alorig-rootfs-$suite.XXXXXX")"
  log "$name: debootstrap $suite (log: $logf)"
  if ! debootstrap --variant=minbase "$suite" "$rootfs" "$DEBIAN_MIRROR" >"$logf" 2>&1; then
    tail -n 20 "$logf" >&2; rm -rf "$rootfs"; die "debootstrap $suite failed"
  fi
  # keep the image small: no .deb cache, no package lists (Dockerfiles run apt-get update),
  # no docs/man pages/translations now or later (like Debian's -slim images)
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/90alorig-slim" <<'CFG'
# alorig harness base image: no docs, man pages or translations
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
CFG
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
  rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
    >"$rootfs/etc/apt/apt.conf.d/90alorig-norecommends"
  tar -C "$rootfs" --numeric-owner -c . \
    | docker import -c "LABEL $LABEL_KEY=$key" -c 'CMD ["bash"]' \
        -c 'ENV LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        -m "debootstrap --variant=minbase $suite" - "$name" >>"$logf" 2>&1 \
    || { rm -rf "$rootfs"; tail -n 20 "$logf" >&2; die "docker import $name failed"; }
  rm -rf "$rootfs"
  remove_if_dangling "$old_id" "$name"
  log "$name: built in $(( $(secs) - t0 )) s"
}

# ---------------------------------------------------------------- preparation steps
prepare_flower() {
  # Wheels are downloaded on the host (HTTPS inside containers fails) into .cache/wheelhouse.
  local req="$HARNESS_DIR/images/flower/requirements.txt" wh="$CACHE_DIR/wheelhouse/flower"
  local stamp="$wh/.requirements.sha256" want
  # target = the image's interpreter (Debian bookworm: CPython 3.11, glibc 2.36, x86_64),
  # whatever python the host has
  local pip_target=(--only-binary=:all: --implementation cp --python-version 3.11
    --abi cp311 --abi abi3 --abi none --platform manylinux_2_36_x86_64
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64
    --platform manylinux2014_x86_64 --platform manylinux_2_5_x86_64
    --platform manylinux1_x86_64 --platform any)
  want="$( { cat "$req"; echo "${pip_target[*]}"; } | sha256sum | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    log "flower: pip download into $wh"
    rm -rf "$wh"; mkdir -p "$wh"
    python3 -m pip download -q --disable-pip-version-check "${pip_target[@]}" \
      -d "$wh" -r "$req" >"$LOG_DIR/pip-flower.log" 2>&1 \
      || { tail -n 20 "$LOG_DIR/pip-flower.log" >&2; die "pip download for flower failed"; }
    echo "$want" >"$stamp"
  fi
  rm -rf "$CACHE_DIR/build/flower"; mkdir -p "$CACHE_DIR/build/flower"
  cp -a "$HARNESS_DIR/images/flower/." "$CACHE_DIR/build/flower/"
  mkdir -p "$CACHE_DIR/build/flower/wheels"
  cp -a "$wh/"*.whl "$CACHE_DIR/build/flower/wheels/"
}

prepare_reference_app() { # returns 1 when the app sources are not there yet
  local dir="$REPO_DIR/app_sources/reference"
  if [ ! -f "$dir/Dockerfile" ]; then
    log "reference-app: SKIPPED: app_sources/reference/Dockerfile not present yet"
    return 1
  fi
  if [ -f "$dir/fetch-wheels.sh" ]; then
    # fetch-wheels.sh is itself cached (stamp = sha256 of requirements.txt)
    (cd "$dir" && bash ./fetch-wheels.sh) >"$LOG_DIR/fetch-wheels-reference.log" 2>&1 \
      || { tail -n 20 "$LOG_DIR/fetch-wheels-reference.log" >&2; die "app_sources/reference/fetch-wheels.sh failed"; }
  fi
  return 0
}

# ---------------------------------------------------------------- derived images
build_image() { # short name context parent
  local short="$1" name="$2" ctx="$REPO_DIR/$3" parent="$4"
  local pid hash t0 old_id logf="$LOG_DIR/build-$short.log" args=()
  pid="$(image_id "$parent")"
  [ -n "$pid" ] || die "$name: parent image $parent missing"
  hash="$(context_hash "$ctx" "$pid")"
  if [ -z "${HARNESS_FORCE:-}" ] && [ "$(image_label "$name")" = "$hash" ]; then
    log "$name: cached"
    return 0
  fi
  [ "$short" = "reference-app" ] && args+=(--build-arg "BASE_IMAGE=$parent")
  old_id="$(image_id "$name")"
  t0=$(secs)
  log "$name: building (log: $logf)"
  if ! docker build --label "$LABEL_KEY=$hash" "${args[@]}" -t "$name" "$ctx" >"$logf" 2>&1; then
    tail -n 30 "$logf" >&2
    die "docker build $name failed"
  fi
  remove_if_dangling "$old_id" "$name"
  log "$name: built in $(( $(secs) - t0 )) s"
}

for o in "${ONLY[@]}"; do
  known=0
  for row in "${IMAGES[@]}"; do
    IFS='|' read -r short name _ _ <<<"$row"
    [ "$o" = "$short" ] || [ "$o" = "$name" ] && known=1
  done
  [ "$known" = 1 ] || die "--only: unknown image '$o' (known: postgres redis pgbouncer caddy flower portainer prometheus alertmanager node-exporter postgres-exporter redis-exporter vps reference-app, or their image names)"
done

T_START=$(secs)
"$HARNESS_DIR/docker-up.sh"
build_base bookworm
build_base trixie

skipped=()
for row in "${IMAGES[@]}"; do
  IFS='|' read -r short name ctx parent <<<"$row"
  selected "$short" "$name" || continue
  case "$short" in
    flower) prepare_flower ;;
    reference-app) prepare_reference_app || { skipped+=("$name"); continue; } ;;
  esac
  build_image "$short" "$name" "$ctx" "$parent"
done

log "done in $(( $(secs) - T_START )) s${skipped:+ (skipped: ${skipped[*]})}"
