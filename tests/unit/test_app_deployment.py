"""Unit tests of the filter alorig.platform.app_deployment: everything the role alorig_app
derives from one instance, in one evaluation (the compose file, the env file's header, the
release gate, the frontend export, the directories, volumes and image names), and its refusal
of an incomplete instance.

The compose file and the env header were Jinja templates of the role until the derivation
moved into the filter; tests/unit/data keeps those templates so that the files the filter
writes are compared byte for byte with what hosts converged before hold (an upgrade must not
rewrite them)."""

import copy
import json
import sys
from pathlib import Path

import jinja2
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "collections"))
sys.path.insert(0, str(ROOT / "tests"))

from ansible.errors import AnsibleFilterError  # noqa: E402
from ansible_collections.alorig.platform.plugins.filter.app import app_deployment  # noqa: E402
from registry_cases import projection as project  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
DEFAULTS = yaml.safe_load((ROOT / "roles/alorig_app/defaults/main.yml").read_text())


def settings(instance, **changes):
    """The settings as roles/alorig_app/vars/main.yml gives them, from the role's defaults."""
    compose_name = instance["compose_name"]
    values = {
        "tag": "__ALORIG_RELEASE_TAG__", "state_dir": DEFAULTS["alorig_app_state_dir"],
        "gunicorn_workers": 2, "gunicorn_threads": 2, "celery_concurrency": 2,
        "beat_tick_seconds": 5, "project": "alorig-" + compose_name,
        "compose_file": "docker-compose.%s.yml" % compose_name,
        "env_file": compose_name + ".env",
        "restart_policy": DEFAULTS["alorig_app_restart_policy"],
        "bind_address": DEFAULTS["alorig_app_bind_address"],
        "network_name": DEFAULTS["alorig_app_network_name"],
        "healthcheck_interval": DEFAULTS["alorig_app_healthcheck_interval"],
        "healthcheck_timeout": DEFAULTS["alorig_app_healthcheck_timeout"],
        "healthcheck_retries": DEFAULTS["alorig_app_healthcheck_retries"],
        "healthcheck_start_period": DEFAULTS["alorig_app_healthcheck_start_period"],
        "healthcheck_start_interval": DEFAULTS["alorig_app_healthcheck_start_interval"],
        "compose_dir": DEFAULTS["alorig_app_compose_dir"],
        "static_root": DEFAULTS["alorig_app_static_root"],
        "media_owner": DEFAULTS["alorig_app_media_owner"],
        "release_health_timeout": DEFAULTS["alorig_app_release_health_timeout"],
        "managed": "Ansible managed",
        "secret_env_keys": ["DATABASE_URL", "REDIS_URL", "DJANGO_SECRET_KEY"],
    }
    values.update(changes)
    return values


def old_template(name, instance, values, services, volume_names):
    """What the role's Jinja template wrote (Ansible's to_json is json.dumps)."""
    env = jinja2.Environment(keep_trailing_newline=True, trim_blocks=True)
    env.filters["to_json"] = json.dumps
    env.filters["basename"] = lambda path: path.rsplit("/", 1)[-1]
    return env.from_string((DATA / name).read_text()).render(
        ansible_managed=values["managed"], alorig_app_instance=instance,
        __alorig_app_env_file="/opt/alorig/compose/" + values["env_file"],
        __alorig_app_project=values["project"], __alorig_app_services=services,
        __alorig_app_compose_file=values["compose_file"],
        __alorig_app_volume_names=volume_names,
        alorig_app_restart_policy=values["restart_policy"],
        alorig_app_bind_address=values["bind_address"],
        alorig_app_network_name=values["network_name"],
        **dict(("alorig_app_healthcheck_" + k, values["healthcheck_" + k])
               for k in ("interval", "timeout", "retries", "start_period", "start_interval")))


@pytest.mark.parametrize("pooled", [False, True])
def test_every_app_gets_the_files_the_template_wrote(pooled):
    projection = project(lambda v: v.update(pgbouncer_enabled=pooled))
    assert len(projection["apps"]) == 8
    for name, instance in projection["apps"].items():
        values = settings(instance)
        deployment = app_deployment(copy.deepcopy(instance), values)
        volume_names = sorted(v[len(name) + 1:] for v in deployment["volumes"])
        assert deployment["compose"] == old_template(
            "docker-compose.app.yml.j2", instance, values, deployment["services"], volume_names), name
        assert deployment["env_header"] == old_template(
            "app.env.j2", instance, values, deployment["services"], volume_names), name
        document = yaml.safe_load(deployment["compose"])
        assert document["name"] == "alorig-" + instance["compose_name"]
        assert set(document["services"]) == set(c["name"] for c in instance["containers"])


def test_the_compose_document_escapes_dollars_and_binds_ports_to_loopback():
    instance = project()["apps"]["psydge"]
    instance["environment"] = {"PRICE": "5$", "HOOK": "$HOME"}
    document = yaml.safe_load(app_deployment(instance, settings(instance))["compose"])
    backend = document["services"]["psydge_backend"]
    assert backend["environment"]["PRICE"] == "5$$" and backend["environment"]["HOOK"] == "$$HOME"
    assert backend["ports"] == ["127.0.0.1:8012:8012"]
    assert backend["env_file"] == ["psydge.env"]
    assert backend["mem_limit"] == backend["memswap_limit"]
    assert document["networks"]["alorig_net"] == {"name": "alorig_net", "external": True}
    assert all(v["external"] for v in document["volumes"].values())


def test_gate_export_directories_volumes_and_images():
    instance = project()["apps"]["sitebuilder"]
    deployment = app_deployment(instance, settings(instance))
    backend = deployment["backend"]
    gate = deployment["gate"]
    assert gate["service"] == backend["name"] == "sitebuilder_backend"
    assert gate["volumes"] == ["sitebuilder_media:/data/media", "sitebuilder_static:/data/static"]
    assert gate["timeout"] == 120 and gate["memory_mb"] == backend["memory_mb"]
    assert gate["environment"] == backend["environment"]
    assert deployment["image_names"][0] == instance["image"]
    assert len(deployment["image_names"]) == len(set(deployment["image_names"]))
    assert deployment["volumes"] == ["sitebuilder_beat", "sitebuilder_media", "sitebuilder_static"]
    paths = [d["path"] for d in deployment["directories"]]
    assert paths[:2] == ["/opt/alorig/compose", "/opt/alorig/apps/sitebuilder"]
    assert ("/srv/alorig/static/sitebuilder" in paths) == bool(instance.get("static"))
    assert deployment["export"] == ({} if not instance.get("static") else {
        "dir": "/srv/alorig/static/sitebuilder", "command": ["export-frontend", "/export"],
        "environment": {"APP_NAME": "sitebuilder", "FRONTEND_API_BASE": instance["api_base"],
                        "FRONTEND_WS_BASE": instance["ws_base"]}})
    assert [set(s) for s in deployment["service_summaries"]] == \
        [{"name", "image_name", "memory_mb", "port"}] * len(deployment["services"])


@pytest.mark.parametrize("change,message", [
    (lambda i: i.update(enabled="yes"), "enabled is not a boolean"),
    (lambda i: i.update(compose_name="Psydge_1"), "compose_name"),
    (lambda i: i.update(image=""), "image is empty"),
    (lambda i: i.update(containers=[]), "containers is empty"),
    (lambda i: i["containers"][0].update(kind="web"), "container psydge_backend: kind 'web'"),
    (lambda i: i["containers"][1].pop("memory_mb"), "container psydge_channels: memory_mb"),
])
def test_an_incomplete_instance_is_refused_naming_the_app_and_the_key(change, message):
    instance = project()["apps"]["psydge"]
    change(instance)
    with pytest.raises(AnsibleFilterError) as error:
        app_deployment(instance, settings(instance))
    assert "instance psydge is incomplete" in str(error.value) and message in str(error.value)


def test_an_enabled_app_needs_its_database_and_redis_urls_and_loopback_ports():
    instance = project()["apps"]["asms"]
    with pytest.raises(AnsibleFilterError, match="asms is incomplete: alorig_app_secret_env has "
                       "no DATABASE_URL for the app; alorig_app_secret_env has no REDIS_URL"):
        app_deployment(instance, settings(instance, secret_env_keys=["DJANGO_SECRET_KEY"]))
    with pytest.raises(AnsibleFilterError, match="alorig_app_bind_address 0.0.0.0 is not loopback"):
        app_deployment(instance, settings(instance, bind_address="0.0.0.0"))
    instance["enabled"] = False
    assert app_deployment(instance, settings(instance, secret_env_keys=[]))["name"] == "asms"


def test_missing_settings_are_named():
    instance = project()["apps"]["asms"]
    values = settings(instance)
    del values["managed"]
    with pytest.raises(AnsibleFilterError, match="settings lack managed"):
        app_deployment(instance, values)
