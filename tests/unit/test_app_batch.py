"""Unit tests of the one module run that converges every app of a host
(alorig.platform.app_state with several apps): one app that fails does not stop the
others, the failure names the app, and the playbook's record of the failures (filter
alorig.platform.app_failures) names each failed app, or every app when the module failed
before any of them."""

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "collections"))

from ansible.module_utils import basic  # noqa: E402
from ansible.module_utils.testing import patch_module_args  # noqa: E402
from ansible_collections.alorig.platform.plugins.filter.app import app_failures, pick_from  # noqa: E402
from ansible_collections.alorig.platform.plugins.modules import app_state  # noqa: E402


class Exit(Exception):
    def __init__(self, failed, result):
        Exception.__init__(self)
        self.failed, self.result = failed, result


def app(name):
    return {"name": name, "project": "alorig-" + name, "compose_file": "c.yml",
            "compose_content": "services: {}\n", "env_file": name + ".env",
            "state_dir": "/tmp/" + name, "source_image": "ref:latest",
            "image_names": [name + "-backend"], "services": []}


def run_module(monkeypatch, names, converge):
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda self, *a, **k: "/usr/bin/docker")
    monkeypatch.setattr(basic.AnsibleModule, "exit_json",
                        lambda self, **r: (_ for _ in ()).throw(Exit(False, r)))
    monkeypatch.setattr(basic.AnsibleModule, "fail_json",
                        lambda self, **r: (_ for _ in ()).throw(Exit(True, r)))
    monkeypatch.setattr(app_state, "converge", converge)
    args = {"apps": [app(n) for n in names], "compose_dir": "/tmp",
            "network": "alorig_net",
            "secret_envs": {n: {"DJANGO_SECRET_KEY": "s3cr3t-%s-value" % n} for n in names}}
    with patch_module_args(args), pytest.raises(Exit) as caught:
        app_state.main()
    return caught.value


def test_one_failed_app_does_not_stop_the_others(monkeypatch):
    seen = []

    def converge(module, state):
        seen.append((state.name, state.p["secret_env"], state.p["network"]))
        if state.name == "b":
            state.actions.append("write /opt/b.yml")
            raise app_state.AppFailed("the migrations failed")
        return {"changed": state.name == "c", "actions": ["start c_backend"] if state.name == "c" else []}, None

    out = run_module(monkeypatch, ["a", "b", "c"], converge)
    assert [n for n, _s, _net in seen] == ["a", "b", "c"]
    assert seen[0][1] == {"DJANGO_SECRET_KEY": "s3cr3t-a-value"} and seen[0][2] == "alorig_net"
    assert out.failed
    assert out.result["msg"] == "b: the migrations failed"
    assert out.result["failed_apps"] == ["b"]
    assert out.result["apps"]["b"] == {"failed": True, "msg": "the migrations failed",
                                       "changed": True, "actions": ["write /opt/b.yml"]}
    assert out.result["apps"]["c"]["changed"] and not out.result["apps"]["a"]["changed"]
    assert out.result["actions"] == ["b: write /opt/b.yml", "c: start c_backend"]
    assert "s3cr3t" not in json.dumps(out.result)


def test_an_unexpected_error_is_one_apps_failure(monkeypatch):
    def converge(module, state):
        if state.name == "a":
            raise KeyError("nobody")
        return {"changed": False, "actions": []}, None

    out = run_module(monkeypatch, ["a", "b"], converge)
    assert out.failed and out.result["failed_apps"] == ["a"]
    assert out.result["msg"] == "a: KeyError: 'nobody'"
    assert out.result["apps"]["b"] == {"changed": False, "actions": []}


def test_no_failure_exits_with_every_apps_result(monkeypatch):
    out = run_module(monkeypatch, ["a", "b"], lambda m, s: ({"changed": False, "actions": []}, None))
    assert not out.failed and not out.result["changed"] and out.result["failed_apps"] == []


def test_an_app_given_twice_is_refused(monkeypatch):
    out = run_module(monkeypatch, ["a", "a"], lambda m, s: ({"changed": False, "actions": []}, None))
    assert out.failed and out.result["msg"] == "an app is given twice: a, a"


def test_failures_recorded_per_app():
    result = {"msg": "b: boom", "apps": {"a": {"changed": True}, "b": {"failed": True, "msg": "boom"}}}
    assert app_failures(result, "Converge the apps", ["a", "b"]) == [
        {"app": "b", "task": "Converge the apps", "msg": "boom"}]


def test_a_module_failure_before_any_app_names_every_app():
    result = {"msg": "missing required arguments: network"}
    assert app_failures(result, "T", ["a", "b"]) == [
        {"app": "a", "task": "T", "msg": "missing required arguments: network"},
        {"app": "b", "task": "T", "msg": "missing required arguments: network"}]


def test_pick_from_gives_each_app_its_secrets_only():
    secrets = {"a": {"K": "1"}, "b": {"K": "2"}, "c": {"K": "3"}}
    assert pick_from(["a", "c", "d"], secrets) == {"a": {"K": "1"}, "c": {"K": "3"}, "d": {}}


def test_an_incomplete_app_entry_is_refused_before_any_app(monkeypatch):
    def converge(module, state):
        raise AssertionError("no app may be converged")

    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda self, *a, **k: "/usr/bin/docker")
    monkeypatch.setattr(basic.AnsibleModule, "fail_json",
                        lambda self, **r: (_ for _ in ()).throw(Exit(True, r)))
    monkeypatch.setattr(app_state, "converge", converge)
    entry = app("a")
    del entry["source_image"]
    with patch_module_args({"apps": [entry], "compose_dir": "/tmp", "network": "n",
                            "secret_envs": {}}), pytest.raises(Exit) as caught:
        app_state.main()
    assert caught.value.failed and "source_image" in caught.value.result["msg"]
