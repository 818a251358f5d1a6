#!/usr/bin/env bash
# Run one molecule scenario (make molecule). Its whole output goes to the
# terminal and to .cache/logs/molecule-<scenario>.log; when the scenario fails,
# the failed tasks' results are printed again at the end, after molecule's
# recap, where a CI log that keeps only its tail still shows them.
set -uo pipefail
scenario=$1
molecule=${MOLECULE:-molecule}
log_dir=${ALORIG_LOG_DIR:-.cache/logs}
mkdir -p "$log_dir"
log=$log_dir/molecule-$scenario.log
"$molecule" test -s "$scenario" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 0 ]; then
    echo
    echo "=== molecule scenario $scenario failed (rc $rc); the failed tasks (whole log: $log) ==="
    # each failure line with the lines after it (the task's result and message),
    # colour codes removed; the last ones, where the scenario stopped
    sed -e 's/\x1b\[[0-9;]*m//g' "$log" \
        | grep -n -A 25 -E '^\s*(│\s*)?(fatal: \[|failed: \[|FAILED - RETRYING|ERROR!|E +|FAILED )' \
        | grep -v 'FAILED - RETRYING' | tail -n 150
    echo "=== end of the failed tasks of $scenario ==="
fi
exit "$rc"
