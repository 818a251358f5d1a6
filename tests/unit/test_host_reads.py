"""The module alorig.platform.host_reads, run as Ansible runs it (a subprocess reading its
arguments): every command's return code and output under its name, in one run, never a
change, the same in check mode; must_succeed fails with the command's error."""

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "collections/ansible_collections/alorig/platform/plugins/modules/host_reads.py"


def run(commands, must_succeed=None, check=False):
    args = {"ANSIBLE_MODULE_ARGS": {"commands": commands, "must_succeed": must_succeed or [],
                                    "_ansible_check_mode": check}}
    env = dict(os.environ, PYTHONPATH=str(ROOT / "collections"))
    proc = subprocess.run([sys.executable, str(MODULE)], input=json.dumps(args), text=True,
                          capture_output=True, env=env, check=False)
    return json.loads(proc.stdout)


def test_every_read_by_name_and_nothing_changed(tmp_path):
    marker = tmp_path / "ran"
    result = run({"two": ["sh", "-ec", "echo a; echo b; touch %s" % marker],
                  "fails": ["sh", "-c", "echo oops >&2; exit 4"],
                  "missing": ["alorig-no-such-command", "--x"],
                  "missing_path": ["/usr/sbin/alorig-no-such-daemon", "-T"]})
    assert not result.get("failed") and result["changed"] is False
    reads = result["reads"]
    assert reads["two"] == {"rc": 0, "stdout": "a\nb", "stdout_lines": ["a", "b"], "stderr": ""}
    assert reads["fails"]["rc"] == 4 and reads["fails"]["stderr"] == "oops"
    assert reads["missing"]["rc"] == 127 and "not found" in reads["missing"]["stderr"]
    assert reads["missing_path"]["rc"] == 127 and "not found" in reads["missing_path"]["stderr"]
    assert marker.exists()


def test_check_mode_reads_too(tmp_path):
    result = run({"echo": ["echo", "planned"]}, check=True)
    assert result["reads"]["echo"]["stdout"] == "planned" and result["changed"] is False


def test_must_succeed_fails_with_the_commands_error():
    result = run({"ok": ["true"], "needed": ["sh", "-c", "echo 'no dpkg database' >&2; exit 2"]},
                 must_succeed=["needed"])
    assert result["failed"] and "needed" in result["msg"] and "exited 2" in result["msg"]
    assert "no dpkg database" in result["msg"]
    assert "ok" not in result["msg"].split(":")[0]
    bad = run({"ok": ["true"]}, must_succeed=["typo"])
    assert bad["failed"] and "typo" in bad["msg"]
    empty = run({"nothing": []})
    assert empty["failed"] and "nothing" in empty["msg"]


def _setup_facts(subsets, cwd):
    """What ansible.builtin.setup gathers for these subsets on this machine (unprefixed)."""
    # (the result is JSON, or YAML when ANSIBLE_CALLBACK_RESULT_FORMAT says so: read as YAML)
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible"), "all", "-i", "localhost,", "-c", "local",
         "-e", "ansible_python_interpreter=" + sys.executable, "-m", "ansible.builtin.setup",
         "-a", "gather_subset=!all,!min," + ",".join(subsets)],
        capture_output=True, text=True, check=True, cwd=str(cwd),
        env=dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0"))
    facts = yaml.safe_load(proc.stdout.split("=>", 1)[1])["ansible_facts"]
    return {k[len("ansible_"):]: v for k, v in facts.items() if k.startswith("ansible_")}


def test_facts_are_setups_for_the_same_subsets(tmp_path):
    subsets = ["distribution", "service_mgr", "virtual"]
    args = {"ANSIBLE_MODULE_ARGS": {"commands": {"echo": ["echo", "x"]}, "facts": subsets}}
    env = dict(os.environ, PYTHONPATH=str(ROOT / "collections"))
    proc = subprocess.run([sys.executable, str(MODULE)], input=json.dumps(args), text=True,
                          capture_output=True, env=env, check=True)
    result = json.loads(proc.stdout)
    facts = result["ansible_facts"]
    assert result["reads"]["echo"]["stdout"] == "x" and result["changed"] is False
    setup = _setup_facts(subsets, tmp_path)
    # every fact the roles read, as setup reports it
    for key in ("distribution", "distribution_major_version", "distribution_release",
                "distribution_version", "os_family", "service_mgr", "virtualization_type",
                "virtualization_role"):
        assert key in facts, key
        assert facts[key] == setup[key], key
    # and nothing setup does not report for them
    assert set(facts) <= set(setup)


def test_without_facts_none_are_returned():
    assert "ansible_facts" not in run({"echo": ["echo", "x"]})


def test_an_unknown_facts_subset_is_refused():
    args = {"ANSIBLE_MODULE_ARGS": {"commands": {"echo": ["echo", "x"]}, "facts": ["hardware"]}}
    env = dict(os.environ, PYTHONPATH=str(ROOT / "collections"))
    proc = subprocess.run([sys.executable, str(MODULE)], input=json.dumps(args), text=True,
                          capture_output=True, env=env, check=False)
    result = json.loads(proc.stdout)
    assert result["failed"] and "hardware" in result["msg"]
