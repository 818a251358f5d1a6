"""The module alorig.platform.compose_state with `files`: a role's files, then its containers,
in one module run (as Ansible runs it: a subprocess reading its arguments).

The docker CLI here is a recorder (the module reads Docker through it when DOCKER_HOST is
set): it answers that no container or image exists and records each call, so the tests see
whether and when the module starts the project. The containers themselves are tested by the
molecule scenarios (caddy and the monitoring stack use this option).
"""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "collections/ansible_collections/alorig/platform/plugins/modules/compose_state.py"
SECRET = "s3cret-token-never-shown"

FAKE_DOCKER = r"""#!/usr/bin/env python3
import json, os, sys
with open(os.environ["FAKE_DOCKER_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\n")
args = sys.argv[1:]
if args[:1] in (["container"], ["image"]) and args[1:2] == ["inspect"]:
    print("[]")
sys.exit(0)
"""

COMPOSE = {"services": {"web": {"image": "caddy:2", "container_name": "test_web"}}}


@pytest.fixture
def env(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(FAKE_DOCKER)
    docker.chmod(0o755)
    log = tmp_path / "docker.log"
    log.write_text("")
    return {"PATH": "%s:%s" % (bin_dir, os.environ["PATH"]), "DOCKER_HOST": "unix:///nonexistent",
            "FAKE_DOCKER_LOG": str(log), "PYTHONPATH": str(ROOT / "collections")}, log


def run(env, tmp_path, files, check=False, diff=False, expect_fail=False):
    environ, log = env
    args = {"ANSIBLE_MODULE_ARGS": {
        "files": files, "project": "test", "compose_dir": str(tmp_path),
        "compose_file": "docker-compose.test.yml", "compose": COMPOSE, "digest": "d1",
        "record": str(tmp_path / ".test.applied"), "wait_timeout": 5,
        "_ansible_check_mode": check, "_ansible_diff": diff}}
    proc = subprocess.run([sys.executable, str(MODULE)], input=json.dumps(args), text=True,
                          capture_output=True, env=dict(os.environ, **environ), check=False)
    result = json.loads(proc.stdout)
    assert bool(result.get("failed")) == expect_fail, result
    assert SECRET not in proc.stdout + proc.stderr
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    return result, calls


def owner():
    return {"owner": str(os.getuid()), "group": str(os.getgid())}


def declared(tmp_path, validate=None):
    conf = dict(path=str(tmp_path / "conf/app.conf"), mode="0644", content="listen 80\n", **owner())
    if validate:
        conf["validate"] = validate
    return [
        dict(path=str(tmp_path / "conf"), state="directory", mode="0755", **owner()),
        dict(path=str(tmp_path / "app.env"), mode="0600", secret_content="TOKEN=%s\n" % SECRET,
             **owner()),
        conf,
    ]


def compose_up(calls):
    return [c for c in calls if c[:1] == ["compose"] and "up" in c]


def test_writes_the_files_then_starts_the_project(env, tmp_path):
    result, calls = run(env, tmp_path, declared(tmp_path))
    assert result["changed"] is True
    assert result["changed_paths"] == [str(tmp_path / "conf"), str(tmp_path / "app.env"),
                                       str(tmp_path / "conf/app.conf")]
    # the files' actions first, then the containers'
    assert result["actions"][:3] == [
        "create directory %s" % (tmp_path / "conf"),
        "create %s (secret, content not shown)" % (tmp_path / "app.env"),
        "create %s" % (tmp_path / "conf/app.conf")]
    assert any(a.startswith("create test_web") for a in result["actions"][3:]), result["actions"]
    assert (tmp_path / "conf/app.conf").read_text() == "listen 80\n"
    assert stat.S_IMODE((tmp_path / "app.env").stat().st_mode) == 0o600
    assert len(compose_up(calls)) == 1
    assert json.loads((tmp_path / ".test.applied").read_text())["digest"] == "d1"


def test_check_mode_plans_both_and_changes_nothing(env, tmp_path):
    result, calls = run(env, tmp_path, declared(tmp_path), check=True, diff=True)
    assert result["changed"] is True
    assert len(result["changed_paths"]) == 3
    assert any(a.startswith("create test_web") for a in result["actions"])
    assert not (tmp_path / "conf").exists() and not (tmp_path / "app.env").exists()
    assert compose_up(calls) == []
    # diff mode shows the plain file, never the secret one's content
    shown = json.dumps(result["diff"])
    assert "listen 80" in shown and "(secret content, changed)" in shown


def test_a_file_that_fails_validation_fails_before_any_container(env, tmp_path):
    files = declared(tmp_path, validate="false %s")
    result, calls = run(env, tmp_path, files, expect_fail=True)
    assert "failed to validate" in result["msg"]
    assert not (tmp_path / "conf/app.conf").exists()
    assert calls == []


def test_files_as_declared_leave_only_the_containers_to_compare(env, tmp_path):
    run(env, tmp_path, declared(tmp_path))
    result, _calls = run(env, tmp_path, declared(tmp_path), check=True)
    assert result["changed_paths"] == []
    # (the recorder has no container: the plan still creates it)
    assert all(not a.startswith(("create %s" % tmp_path, "write ")) for a in result["actions"])


def test_without_files_the_result_is_the_containers_alone(env, tmp_path):
    result, calls = run(env, tmp_path, [])
    assert result["changed_paths"] == []
    assert all("test_web" in a or a.startswith("start the project") for a in result["actions"])
    assert len(compose_up(calls)) == 1
