#!/usr/bin/env bash
# Start or stop a fresh "VPS" container (alorig-vps:trixie, systemd as PID 1, can run Docker).
#
#   harness/vps.sh start NAME [--publish HOSTPORT:PORT ...] [--network NET] [--image IMAGE]
#   harness/vps.sh resume NAME
#   harness/vps.sh stop NAME
#
# start: container NAME (hostname NAME), docker volume NAME-docker at /var/lib/docker,
#        .cache/images bind-mounted read-only at /srv/alorig-images, waits (bounded) until
#        `systemctl is-system-running` says running or degraded. Fails if NAME exists.
# resume: boots a stopped container NAME again (its state is kept).
# stop:  removes the container and its NAME-docker volume.
set -euo pipefail

HARNESS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$HARNESS_DIR/.." && pwd)"
IMAGES_DIR="$REPO_DIR/.cache/images"
BOOT_TIMEOUT="${VPS_BOOT_TIMEOUT:-90}"

log() { printf '[vps] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
usage() { sed -n '2,12p' "${BASH_SOURCE[0]}" >&2; exit 2; }

[ $# -ge 2 ] || usage
action="$1" name="$2"; shift 2
[[ "$name" =~ ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$ ]] || die "bad container name: $name"

wait_systemd() { # wait until systemd in container $name is up (bounded)
  local state=""
  for _ in $(seq 1 "$BOOT_TIMEOUT"); do
    state="$(docker exec "$name" systemctl is-system-running 2>/dev/null || true)"
    case "$state" in
      running|degraded) break ;;
    esac
    if [ "$(docker inspect -f '{{.State.Running}}' "$name" 2>/dev/null)" != true ]; then
      docker logs --tail 30 "$name" >&2 || true
      die "container $name exited during boot"
    fi
    sleep 1
  done
  case "$state" in
    running|degraded) log "$name: systemd $state" ;;
    *) docker logs --tail 30 "$name" >&2 || true
       die "$name: systemd not up after ${BOOT_TIMEOUT}s (state: ${state:-unknown})" ;;
  esac
}

case "$action" in
  start)
    image="alorig-vps:trixie"
    extra=()
    while [ $# -gt 0 ]; do
      case "$1" in
        --publish|-p) [ $# -ge 2 ] || usage; extra+=(--publish "$2"); shift 2 ;;
        --network) [ $# -ge 2 ] || usage; extra+=(--network "$2"); shift 2 ;;
        --image) [ $# -ge 2 ] || usage; image="$2"; shift 2 ;;
        *) die "unknown option: $1" ;;
      esac
    done
    docker image inspect "$image" >/dev/null 2>&1 || die "image $image missing (run harness/build-images.sh --only vps)"
    if docker container inspect "$name" >/dev/null 2>&1; then
      die "container $name already exists (harness/vps.sh stop $name)"
    fi
    mkdir -p "$IMAGES_DIR"
    docker volume create "$name-docker" >/dev/null
    # IPv6 on, as on a VPS: Docker disables it in containers of IPv4-only
    # networks, and the VPS's own Docker daemon then publishes ports on IPv4
    # only (no [::]:80 for Caddy), which no production host would show.
    docker run -d --name "$name" --hostname "$name" \
      --sysctl net.ipv6.conf.all.disable_ipv6=0 --sysctl net.ipv6.conf.default.disable_ipv6=0 \
      --sysctl net.ipv6.conf.lo.disable_ipv6=0 \
      --cap-add ALL --cap-drop SYS_RESOURCE \
      --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
      --security-opt systempaths=unconfined --cgroupns=host \
      -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock \
      -v "$name-docker:/var/lib/docker" \
      -v "$IMAGES_DIR:/srv/alorig-images:ro" \
      "${extra[@]}" "$image" >/dev/null || die "docker run $name failed"
    wait_systemd
    ;;
  resume)
    # a stopped VPS container (after a reboot or a daemon restart): boot it again
    [ $# -eq 0 ] || usage
    docker container inspect "$name" >/dev/null 2>&1 || die "container $name does not exist"
    docker start "$name" >/dev/null || die "docker start $name failed"
    wait_systemd
    ;;
  stop)
    [ $# -eq 0 ] || usage
    # A container paused inside the VPS (a drift test) sits in a frozen cgroup:
    # its processes never die, the VPS's PID 1 waits for them forever and the
    # VPS container can no longer be removed. Unpause them first.
    timeout 60 docker exec "$name" sh -c \
      'docker ps -q --filter status=paused | xargs -r docker unpause' >/dev/null 2>&1 || true
    docker rm -f -v "$name" >/dev/null 2>&1 || true
    if docker container inspect "$name" >/dev/null 2>&1; then
      die "container $name could not be removed (docker rm -f $name says why)"
    fi
    docker volume rm "$name-docker" >/dev/null 2>&1 || true
    log "$name: removed"
    ;;
  *) usage ;;
esac
