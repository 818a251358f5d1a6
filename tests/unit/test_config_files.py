"""The module alorig.platform.config_files, run as Ansible runs it (a subprocess reading its
arguments), on a temporary directory: what it changes, what it plans in check mode, what it
shows in diff mode, and that a secret file's content never leaves it."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "collections/ansible_collections/alorig/platform/plugins/modules/config_files.py"
SECRET = "s3cret-'value'-never-shown"


def run(files, check=False, diff=False, expect_fail=False):
    args = {"ANSIBLE_MODULE_ARGS": {"files": files, "_ansible_check_mode": check,
                                    "_ansible_diff": diff}}
    env = dict(os.environ, PYTHONPATH=str(ROOT / "collections"))
    proc = subprocess.run([sys.executable, str(MODULE)], input=json.dumps(args), text=True,
                          capture_output=True, env=env, check=False)
    result = json.loads(proc.stdout)
    assert bool(result.get("failed")) == expect_fail, result
    assert SECRET not in proc.stdout + proc.stderr
    return result


def owner():
    return {"owner": str(os.getuid()), "group": str(os.getgid())}


@pytest.fixture
def declared(tmp_path):
    return [
        dict(path=str(tmp_path / "conf.d"), state="directory", mode="0750", **owner()),
        dict(path=str(tmp_path / "conf.d/a.conf"), mode="0644", content="a = 1\n", **owner()),
        dict(path=str(tmp_path / "conf.d/secret.env"), mode="0600", secret_content=SECRET + "\n",
             **owner()),
    ]


def test_creates_then_changes_nothing(tmp_path, declared):
    first = run(declared)
    assert first["changed"] and first["changed_paths"] == [d["path"] for d in declared]
    assert (tmp_path / "conf.d/a.conf").read_text() == "a = 1\n"
    assert (tmp_path / "conf.d/secret.env").read_text() == SECRET + "\n"
    assert stat.S_IMODE(os.stat(tmp_path / "conf.d/secret.env").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "conf.d").st_mode) == 0o750
    assert "secret, content not shown" in first["actions"][2]
    again = run(declared)
    assert not again["changed"] and again["actions"] == []


def test_check_mode_plans_what_the_run_does_and_writes_nothing(tmp_path, declared):
    run(declared)
    (tmp_path / "conf.d/a.conf").write_text("a = 2\n")
    os.chmod(tmp_path / "conf.d/secret.env", 0o644)
    (tmp_path / "conf.d/secret.env").write_text("hand edit\n")
    plan = run(declared, check=True, diff=True)
    assert plan["changed_paths"] == [declared[1]["path"], declared[2]["path"]]
    assert (tmp_path / "conf.d/a.conf").read_text() == "a = 2\n"
    assert (tmp_path / "conf.d/secret.env").read_text() == "hand edit\n"
    shown = {d["after_header"]: d for d in plan["diff"]}
    assert shown[declared[1]["path"]]["before"] == "a = 2\n"
    assert shown[declared[1]["path"]]["after"] == "a = 1\n"
    assert "hand edit" not in json.dumps(plan)  # a secret file's old content is not shown either
    real = run(declared)
    assert real["actions"] == plan["actions"]
    assert (tmp_path / "conf.d/secret.env").read_text() == SECRET + "\n"
    assert stat.S_IMODE(os.stat(tmp_path / "conf.d/secret.env").st_mode) == 0o600


def test_mode_only_drift_is_fixed_without_rewriting(tmp_path, declared):
    run(declared)
    os.chmod(tmp_path / "conf.d/a.conf", 0o666)
    inode = os.stat(tmp_path / "conf.d/a.conf").st_ino
    result = run(declared)
    assert result["actions"] == ["fix mode 0644 of %s" % declared[1]["path"]]
    assert os.stat(tmp_path / "conf.d/a.conf").st_ino == inode


def test_force_false_keeps_an_existing_file(tmp_path):
    path = tmp_path / "users.acl"
    path.write_text("owned by another role\n")
    os.chmod(path, 0o644)
    spec = [dict(path=str(path), mode="0600", force=False, secret_content=SECRET, **owner())]
    result = run(spec)
    assert path.read_text() == "owned by another role\n"
    assert result["actions"] == ["fix mode 0600 of %s" % path]
    path.unlink()
    assert run(spec)["actions"] == ["create %s (secret, content not shown)" % path]


def test_absent_removes_and_then_changes_nothing(tmp_path):
    path = tmp_path / "flower.env"
    path.write_text("x\n")
    spec = [dict(path=str(path), state="absent")]
    assert run(spec, check=True)["changed"] and path.exists()
    assert run(spec)["actions"] == ["remove %s" % path] and not path.exists()
    assert not run(spec)["changed"]


@pytest.mark.parametrize("spec,message", [
    (dict(path="/nonexistent-dir-alorig/x.conf", mode="0644", content="x"), "does not exist"),
    (dict(path="/tmp/alorig-x.conf", mode="644x", content="x"), "not an octal string"),
    (dict(path="/tmp/alorig-x.conf", content="x"), "mode is required"),
    (dict(path="/tmp/alorig-x.conf", mode="0644"), "needs content or secret_content"),
])
def test_bad_declarations_fail_naming_the_path(spec, message):
    result = run([spec], expect_fail=True)
    assert result["msg"].startswith(spec["path"]) and message in result["msg"], result["msg"]


def checker(tmp_path, accept):
    """A validation command: accepts a file whose first line is ``accept``, logs what it saw."""
    script = tmp_path / "check.sh"
    script.write_text('#!/bin/sh\necho "$1" >> "%s/checked"\nhead -1 "$1" | grep -qx "%s" '
                      '|| { echo "line 1: bad setting" >&2; exit 3; }\n' % (tmp_path, accept))
    script.chmod(0o755)
    return "%s %%s" % script


def test_validate_checks_the_new_content_before_it_replaces_the_file(tmp_path):
    path = tmp_path / "sshd.conf"
    good = [dict(path=str(path), mode="0644", content="good\n", validate=checker(tmp_path, "good"),
                 **owner())]
    assert run(good)["changed"]
    assert path.read_text() == "good\n"
    checked = (tmp_path / "checked").read_text().split()
    assert len(checked) == 1 and checked[0] != str(path)  # a temporary file, not the target
    assert not os.path.exists(checked[0])
    # unchanged content: no write, no check
    assert not run(good)["changed"]
    assert len((tmp_path / "checked").read_text().split()) == 1
    bad = [dict(good[0], content="bad\n")]
    result = run(bad, expect_fail=True)
    assert "failed to validate, the file is unchanged" in result["msg"]
    assert "line 1: bad setting" in result["msg"] and "exited 3" in result["msg"]
    assert path.read_text() == "good\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["check.sh", "checked", "sshd.conf"]


def test_validate_is_not_run_in_check_mode_and_needs_a_placeholder(tmp_path):
    path = tmp_path / "nft.conf"
    spec = dict(path=str(path), mode="0644", content="bad\n", validate=checker(tmp_path, "good"),
                **owner())
    plan = run([spec], check=True)
    assert plan["changed_paths"] == [str(path)] and not path.exists()
    assert not (tmp_path / "checked").exists()
    result = run([dict(spec, content="good\n", validate="/bin/true")], expect_fail=True)
    assert "has no %s" in result["msg"] and not path.exists()
