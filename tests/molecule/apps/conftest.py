"""Helpers shared by the apps scenario's tests: playbook runs from the control node.

Every playbook a test runs goes through ``run_playbook``: at -vvv, its whole output kept
in the scenario's log directory (``<ephemeral>/logs``), and the list of tasks it changed
(or, with --check, would change) written by the callback alorig.platform.changes. The last
test file (test_zz_secrets.py) scans every log for the vault's values.
"""

import itertools
import json
import os
import subprocess
import threading
from pathlib import Path

PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[3]))
EPHEMERAL = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/tmp/alorig-apps-tests"))
LOGS = EPHEMERAL / "logs"
VAULT = PROJECT / "inventories/local/group_vars/all/vault.yml"
VAULT_PASSWORD = PROJECT / "inventories/local/vault-password.txt"
_COUNTER = itertools.count(1)
# testinfra's ansible backend lists the inventory with `ansible-inventory --list`,
# which prints every variable of the inventory, the decrypted vault included, by
# design: with the scenario's ANSIBLE_LOG_PATH inherited, that listing would land
# in the scenario's log. The tests' own runs keep their output in LOGS instead.
os.environ.pop("ANSIBLE_LOG_PATH", None)


class Run:
    def __init__(self, proc, log, changes_file):
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.log = log
        data = json.loads(changes_file.read_text()) if changes_file.exists() else {}
        self.changes = data.get("changes", [])

    def changed(self):
        """The set of (host, role, task, item) the run changed or would change."""
        return {(c["host"], c["role"], c["task"], c.get("item", "")) for c in self.changes}

    def actions(self):
        """Per task with actions: the actions, in order. The app deployments (one task
        for every app of the host) per app, as "<task>: <app>"."""
        return {c["task"] + (": " + c["item"] if c.get("item") else ""): c["actions"]
                for c in self.changes if "actions" in c}

    def output(self):
        return self.stdout + self.stderr

    def failure(self, context=40, limit=12000):
        """What a failed run says about its failures (the -vvv output is too long for
        its tail to show them): each failed task's result, then the ends of stdout
        (the recap) and stderr."""
        parts = []
        for stream in (self.stdout, self.stderr):
            lines = stream.splitlines()
            parts += ["\n".join(lines[i:i + context]) for i, line in enumerate(lines)
                      if line.lstrip().startswith(("fatal: [", "failed: [", "[ERROR]", "ERROR!"))]
        parts += ["--- end of stdout:\n" + "\n".join(self.stdout.splitlines()[-15:]),
                  "--- end of stderr:\n" + "\n".join(self.stderr.splitlines()[-15:])]
        text = "\n...\n".join(parts)
        return "(log: %s)\n%s" % (self.log, text if len(text) <= limit else text[:limit // 2] + "\n[...]\n" + text[-limit // 2:])


def run_playbook(playbook, *args, name=None, verbose=True, timeout=1200):
    """ansible-playbook from the control node against this scenario's inventory."""
    LOGS.mkdir(parents=True, exist_ok=True)
    label = "%02d-%s" % (next(_COUNTER), name or Path(playbook).stem)
    log = LOGS / (label + ".log")
    changes = LOGS / (label + ".changes.json")
    inventory = EPHEMERAL / "inventory"
    cmd = [str(PROJECT / ".venv/bin/ansible-playbook"), "-i", str(inventory), playbook, *args]
    if verbose:
        cmd.append("-vvv")
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ALORIG_CHANGES_FILE=str(changes), ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg"))
    proc = subprocess.run(cmd, cwd=PROJECT, capture_output=True, text=True, timeout=timeout,
                          check=False, env=env)
    log.write_text(proc.stdout + proc.stderr)
    return Run(proc, log, changes)


def poll_while(action, probe):
    """Run action() while probe() is called over and over in a thread; return (action's
    result, [what each probe() returned]). The probe sends the requests a test counts."""
    seen, done = [], threading.Event()

    def poll():
        while not done.is_set():
            seen.append(probe())

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        result = action()
    finally:
        done.set()
        poller.join()
    return result, seen
