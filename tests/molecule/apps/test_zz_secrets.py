"""Last of the apps scenario: no secret of the vault in any output or argument list.

Every playbook the tests ran (site.yml with drift, check mode and a new app, the
rollout, monitor.yml, releases, Caddy reloads) ran at -vvv with its whole output kept in
the log directory; while the drift was repaired, the VPS's process list was sampled every
0.2 s. tests/secret_scan.py searches all of it for every value of the vault (and its
URL-encoded form); the -vvv EXEC lines are the command lines of every remote command.
"""

import subprocess
import sys

from conftest import EPHEMERAL, LOGS, PROJECT, VAULT, VAULT_PASSWORD


def test_no_vault_value_in_any_log_or_process_list():
    logs = sorted(str(p) for p in LOGS.glob("*.log")) + [str(EPHEMERAL / "ansible.log")]
    names = [p.rsplit("/", 1)[-1] for p in logs]
    assert len(logs) >= 9, names
    # molecule's own runs (converge, idempotence, side effect) log their -vvvv
    # messages there (ANSIBLE_LOG_VERBOSITY=4)
    assert open(EPHEMERAL / "ansible.log", errors="replace").read().count(" EXEC ") > 100
    assert "ps-samples.log" in names, names
    assert any("plan-apply" in n for n in names) and any("rollout" in n for n in names), names
    exec_lines = sum(open(p, errors="replace").read().count(" EXEC ") for p in logs)
    assert exec_lines > 100  # the logs really are -vvv
    run = subprocess.run([sys.executable, str(PROJECT / "tests/secret_scan.py"), "scan", "--vault",
                          str(VAULT), "--password-file", str(VAULT_PASSWORD), *logs],
                         capture_output=True, text=True, check=False,
                         env={"PATH": "%s:/usr/bin:/bin" % (PROJECT / ".venv/bin")})
    assert "scanned" in run.stdout, run.stderr
    assert run.returncode == 0, run.stdout[-4000:]
