#!/usr/bin/env bash
# The checks of `make test`, one at a time or all of them in two lanes at once.
#
#   harness/checks.sh lint | unit | harness | molecule-<scenario>   one check
#   harness/checks.sh all                                         every check (make test)
#
# all: the virtualenv first, then two lanes that run side by side, each check
# after the previous one of its lane:
#   lane 1: lint, unit, (waits for the images) molecule infra, molecule migration
#   lane 2: images (Docker started, stand-in images built or loaded), harness,
#           molecule default, molecule apps
# A molecule scenario alone keeps one of the build machine's two cores busy and the
# other about half (Ansible on the control node, the VPS's own work, waits); the unit
# tests keep both busy. Two lanes finish the suite in about four fifths of the time
# one lane takes (80 instead of 100 minutes on a slow 2-core machine). Each check's
# output goes to the terminal, each line prefixed with the check's name and the time,
# and to .cache/logs/check-<name>.log.
# At the end: each check's result and duration, and the last lines of each failed
# check (a molecule scenario's last lines repeat its failed tasks), so the tail of a CI
# log says what failed whatever the other lane printed after it.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${VENV:-.venv}/bin
# molecule and the tests start ansible-* by name: the virtualenv's, also when this
# script runs outside make
export PATH="$PWD/$BIN:$PATH"
LOG_DIR=${ALORIG_LOG_DIR:-.cache/logs}
export ALORIG_LOG_DIR=$LOG_DIR

check() {
    case "$1" in
        lint) "$BIN/yamllint" --strict . && "$BIN/ansible-lint" --offline ;;
        unit) "$BIN/pytest" -q --durations=10 tests/unit tests/validate tests/dns ;;
        harness) REFAPP_IMAGE=alorig/reference-app:latest \
                 "$BIN/pytest" -q --durations=10 tests/harness tests/reference_app ;;
        images) make --no-print-directory images ;;
        molecule-*) MOLECULE=$BIN/molecule bash harness/molecule-scenario.sh "${1#molecule-}" ;;
        *) echo "checks.sh: unknown check: $1" >&2; return 2 ;;
    esac
}

if [ "${1:-}" != all ]; then
    [ $# -eq 1 ] || { sed -n '2,6p' "$0" >&2; exit 2; }
    check "$1"
    exit $?
fi

mkdir -p "$LOG_DIR"
STATE=$(mktemp -d)
trap 'rm -rf "$STATE"' EXIT
trap 'kill 0; exit 130' INT TERM

make --no-print-directory venv || exit 1

# Each line prefixed with the check's name and the time (UTC) it was printed.
stamp() {
    local line
    while IFS= read -r line || [ -n "$line" ]; do
        TZ=UTC printf '[%s %(%T)T] %s\n' "$1" -1 "$line"
    done
}

# One check of a lane: prefixed output, its log, its result and duration in $STATE.
run_check() {
    local name=$1 start rc secs
    start=$(date +%s)
    echo "=== $name: started at $(date -u +%T)"
    check "$name" 2>&1 | tee "$LOG_DIR/check-$name.log" | stamp "$name"
    rc=${PIPESTATUS[0]}
    secs=$(( $(date +%s) - start ))
    echo "$name $rc $secs" >> "$STATE/results"
    echo "=== $name: rc $rc after $secs s"
    return "$rc"
}

# A lane runs its checks in order and stops at the first that fails. "wait-images"
# waits until lane 2 has the images (and stops the lane if they failed).
lane() {
    local step rc
    for step in "$@"; do
        case "$step" in
            wait-images)
                while [ ! -e "$STATE/images.rc" ]; do sleep 5; done
                [ "$(cat "$STATE/images.rc")" = 0 ] || { echo "=== lane stopped: the images failed"; return 1; } ;;
            images)
                run_check images; rc=$?
                echo "$rc" > "$STATE/images.rc"
                [ "$rc" = 0 ] || return 1 ;;
            *) run_check "$step" || return 1 ;;
        esac
    done
}

# The lanes, as measured on the 2-core build machine (minutes with the other lane
# running): lint 3, unit 16, infra 9, migration 49 (lane 1); images 0-10, harness 4,
# default 12, apps 48 (lane 2). ALORIG_LANE1 / ALORIG_LANE2 run other lists (a subset
# while working on one part, e.g. ALORIG_LANE1="lint unit" ALORIG_LANE2=images).
LANE1=${ALORIG_LANE1:-lint unit wait-images molecule-infra molecule-migration}
LANE2=${ALORIG_LANE2:-images harness molecule-default molecule-apps}
case " $LANE2 " in *" images "*) ;; *) echo 0 > "$STATE/images.rc" ;; esac

start=$(date +%s)
# shellcheck disable=SC2086  # the lanes are word lists
lane $LANE1 &
lane1=$!
# shellcheck disable=SC2086
lane $LANE2 &
lane2=$!
wait "$lane1"; rc1=$?
wait "$lane2"; rc2=$?

echo
echo "=== make test: $(( ($(date +%s) - start) / 60 )) min in all"
failed=()
for name in $LANE1 $LANE2; do
    [ "$name" != wait-images ] || continue
    line=$(grep "^$name " "$STATE/results" 2>/dev/null)
    if [ -z "$line" ]; then
        printf '  %-20s not run (an earlier check of its lane failed)\n' "$name"
        continue
    fi
    read -r _ rc secs <<< "$line"
    printf '  %-20s %s after %d min %02d s\n' "$name" "$([ "$rc" = 0 ] && echo passed || echo "FAILED (rc $rc)")" \
        $((secs / 60)) $((secs % 60))
    [ "$rc" = 0 ] || failed+=("$name")
done
for name in "${failed[@]}"; do
    echo
    echo "=== the last lines of $name (whole log: $LOG_DIR/check-$name.log) ==="
    sed -e 's/\x1b\[[0-9;]*m//g' "$LOG_DIR/check-$name.log" | tail -n 150
done
[ "$rc1" = 0 ] && [ "$rc2" = 0 ]
