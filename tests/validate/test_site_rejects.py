"""Every invalid case of tests/registry_cases.py, run through site.yml.

Each case writes the variables a run sees (the registry, the platform settings, a
production vault, with the case's mutation) as extra vars and runs ``site.yml`` against an
inventory whose only VPS uses the docker connection to a container that does not exist:

* the run fails, and one message of the validation names the app (or variable), the key
  path and the reason;
* no task other than the validation's ran: the plays of the infrastructure, DNS and apps
  never started, and no host was ever contacted (no UNREACHABLE);
* no secret value of the vault appears in the output.

The runs go through the real ``ansible-playbook`` code path, forked from warm interpreters
(tests/validate/playbook_runner.py), several at a time.
"""

import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from playbook_runner import PlaybookRunner, runner_python  # noqa: E402
from registry_cases import CASES, VALID, base_variables, secret_values  # noqa: E402

SITE_CASES = [c for c in CASES if not c.unit_only]
MISSING_CONTAINER = "alorigtest_site_no_such_container"
VALIDATION_TASKS = {
    "Fail when the alorig_vps group has no host",
    "Check the registry, the platform figures, the vault and the inventory",
    "Check every role's settings against its argument spec",
    "Project every role's input from the registry model",
    "Fail with every error",
}
WORKERS = max(1, min(3, (os.cpu_count() or 2)))


def _inventory(path):
    path.write_text(yaml.safe_dump({"all": {"children": {
        "alorig_vps": {"hosts": {"alorigtest-vps": {
            "ansible_connection": "community.docker.docker",
            "ansible_host": MISSING_CONTAINER}}},
        "alorig_backup": {"hosts": {"alorigtest-backup": {
            "ansible_connection": "community.docker.docker",
            "ansible_host": MISSING_CONTAINER}}},
        "control": {"hosts": {"localhost": {
            "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}},
    }}}))
    return path


class Outcome:
    def __init__(self, rc, stdout, stderr):
        self.rc = rc
        self.raw = stdout + stderr
        try:
            self.report = json.loads(stdout)
        except ValueError:
            self.report = None

    def tasks(self):
        return [t for p in (self.report or {}).get("plays", []) for t in p["tasks"]]

    def task_names(self):
        return [t["task"]["name"] for t in self.tasks()]

    def errors(self):
        for task in self.tasks():
            if task["task"]["name"] == "Fail with every error":
                for result in task["hosts"].values():
                    if result.get("failed"):
                        return [m for m in result["msg"][1:]]
        return []

    def unreachable(self):
        stats = (self.report or {}).get("stats", {})
        return sum(s.get("unreachable", 0) for s in stats.values())


@pytest.fixture(scope="session")
def outcomes(tmp_path_factory):
    """Run every case (and the valid variants) through site.yml, WORKERS at a time."""
    base = tmp_path_factory.mktemp("site-rejects")
    inventory = _inventory(base / "hosts.yml")
    env = dict(os.environ)
    for key in list(env):
        if key.startswith("ANSIBLE_"):
            del env[key]
    env.update({"ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
                "ANSIBLE_LOCAL_TEMP": str(base / "ansible-tmp"),
                "ANSIBLE_COLLECTIONS_PATH": str(ROOT / "collections"),
                "ANSIBLE_ROLES_PATH": str(ROOT / "roles"),
                "PYTHONWARNINGS": "ignore"})
    python = runner_python(ROOT)
    runners = [PlaybookRunner(python, env) for _ in range(WORKERS)]
    jobs = [(c.id, c.mutate) for c in SITE_CASES] + [("valid-" + n, m) for n, m in VALID]

    def run(index_job):
        index, (case_id, mutate) = index_job
        variables = base_variables()
        mutate(variables)
        case_dir = base / case_id
        case_dir.mkdir()
        extra = case_dir / "vars.json"
        extra.write_text(json.dumps(variables))
        runner = runners[index % WORKERS]
        # --check: even a valid variant must not touch anything (its first
        # connection attempt to the missing VPS is what ends it).
        rc = runner.run(["-i", str(inventory), "site.yml", "-e", "@%s" % extra],
                        ROOT, case_dir / "stdout", case_dir / "stderr")
        outcome = Outcome(rc, (case_dir / "stdout").read_text(),
                          (case_dir / "stderr").read_text())
        return case_id, (outcome, variables)

    try:
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            return dict(pool.map(run, enumerate(jobs)))
    finally:
        for runner in runners:
            runner.close()


@pytest.mark.parametrize("case", SITE_CASES, ids=[c.id for c in SITE_CASES])
def test_site_rejects_before_any_host_is_touched(outcomes, case):
    outcome, variables = outcomes[case.id]
    assert outcome.report is not None, outcome.raw[-3000:]
    assert outcome.rc != 0
    errors = outcome.errors()
    assert errors, outcome.raw[-3000:]
    matching = [e for e in errors if all(f in e for f in case.fragments)]
    assert matching, "no single error contains %r; errors:\n%s" % (case.fragments,
                                                                   "\n".join(errors))
    assert set(outcome.task_names()) <= VALIDATION_TASKS, outcome.task_names()
    assert outcome.unreachable() == 0
    assert MISSING_CONTAINER not in outcome.raw
    for value in secret_values(variables):
        assert value not in outcome.raw


@pytest.mark.parametrize("name", [n for n, _m in VALID])
def test_site_accepts_valid_variants(outcomes, name):
    outcome, _variables = outcomes["valid-" + name]
    assert outcome.report is not None, outcome.raw[-3000:]
    names = outcome.task_names()
    # validation passed, and the run went on to the first host task, which cannot
    # reach the (missing) VPS
    assert "Fail with every error" in names
    assert not outcome.errors(), outcome.errors()
    assert outcome.unreachable() + sum(
        s.get("failures", 0) for s in outcome.report["stats"].values()) > 0
