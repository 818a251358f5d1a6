"""Unit tests of the registry validation (alorig.platform module_utils ``registry``).

The real registry (group_vars/all/apps.yml + platform.yml) must be valid; every mutation
below must produce an error that names the app and the key path (and the other app for
collisions).
"""

import copy
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "collections"))
sys.path.insert(0, str(ROOT / "tests"))

from ansible_collections.alorig.platform.plugins.module_utils.registry import (  # noqa: E402
    validate_infra_secrets,
    validate_inventory,
    validate_registry,
)
from registry_cases import (  # noqa: E402
    OLD_CASES as INVALID,
    complete_secrets,
    load_registry,
)


@pytest.fixture()
def registry():
    apps, platform = load_registry()
    return apps, platform, complete_secrets(apps)


def test_real_registry_is_valid(registry):
    apps, platform, secrets = registry
    assert validate_registry(apps, platform, secrets) == []


def test_real_registry_has_the_seed_figures(registry):
    apps, _platform, _secrets = registry
    assert len(apps) == 8
    ports = sorted(c["port"] for a in apps.values() for c in a["containers"] if "port" in c)
    assert ports == [8011, 8012, 8013, 8014, 8016, 8017, 8018, 8020, 8022, 8031]
    assert sorted(a["redis"]["db"] for a in apps.values()) == list(range(8))


def test_unrendered_template_is_an_error():
    apps = yaml.safe_load((ROOT / "group_vars/all/apps.yml").read_text())["alorig_apps"]
    platform = yaml.safe_load((ROOT / "group_vars/all/platform.yml").read_text())
    errors = validate_registry(apps, platform, complete_secrets(apps))
    assert errors == ["app 'snapify': routes[3].allow_ips is an unrendered template "
                      "'{{ alorig_admin_allowlist | default([]) }}': render it before validation"]


def test_secret_values_never_appear_in_messages(registry):
    apps, platform, secrets = registry
    secrets["psydge"]["db_password"] = ""
    del secrets["asms"]["redis_password"]
    apps["igny8"]["redis_db"] = 3
    errors = validate_registry(apps, platform, secrets)
    text = "\n".join(errors)
    for app_secrets in secrets.values():
        for value in app_secrets.values():
            if value:
                assert value not in text
    assert "app 'psydge': secret 'db_password' in vault_alorig_app_secrets['psydge'] is empty" \
        in errors


def test_every_error_is_reported_not_only_the_first(registry):
    apps, platform, secrets = registry
    apps["psydge"]["redis"]["db"] = 0
    apps["asms"]["backend_port"] = 80
    apps["observer"]["compose_name"] = "Observer"
    errors = validate_registry(apps, platform, secrets)
    assert any("'psydge': redis.db" in e for e in errors)
    assert any("'asms': backend_port 80" in e for e in errors)
    assert any("'observer': compose_name" in e for e in errors)


# --- mutations -------------------------------------------------------------------------
# Each mutation changes (apps, platform, secrets) in place; the expected fragments must all
# appear in ONE error message.


@pytest.mark.parametrize("mutation,fragments", [pytest.param(m, f, id=i) for i, m, f in INVALID])
def test_invalid_registry(registry, mutation, fragments):
    apps, platform, secrets = registry
    mutation(apps, platform, secrets)
    errors = validate_registry(apps, platform, secrets)
    assert errors, "the mutation was not detected"
    matching = [e for e in errors if all(f in e for f in fragments)]
    assert matching, "no single error contains %r; errors:\n%s" % (fragments, "\n".join(errors))


def test_mutation_ids_are_distinct():
    ids = [i for i, _m, _f in INVALID]
    assert len(ids) == len(set(ids)) and len(ids) >= 25


def test_disabled_app_secrets_not_required(registry):
    apps, platform, secrets = registry
    apps["asms"]["enabled"] = False
    del secrets["asms"]
    assert validate_registry(apps, platform, secrets) == []


def test_disabled_app_keeps_its_reservations(registry):
    apps, platform, secrets = registry
    apps["igny8_staging"]["enabled"] = False
    apps["observer"]["redis"]["db"] = 1
    errors = validate_registry(apps, platform, secrets)
    assert "app 'observer': redis.db 1 is already used by app 'igny8_staging' (redis.db)" \
        in errors


def test_disabled_app_not_counted_in_ram(registry):
    apps, platform, secrets = registry
    apps["psydge"]["ram_budget_mb"] = 5000
    apps["psydge"]["enabled"] = False
    del secrets["psydge"]
    assert validate_registry(apps, platform, secrets) == []


def test_missing_secret_error_for_each_enabled_app_only(registry):
    apps, platform, _secrets = registry
    apps["asms"]["enabled"] = False
    errors = validate_registry(apps, platform, {})
    assert not any("'asms'" in e for e in errors)
    assert "app 'igny8': secret 'db_password' missing from vault_alorig_app_secrets['igny8']" \
        in errors


def test_reserved_port_entry_malformed(registry):
    apps, platform, secrets = registry
    platform["alorig_reserved_ports"] = ["8024-8021"]
    errors = validate_registry(apps, platform, secrets)
    assert any("alorig_reserved_ports[0]" in e and "'8024-8021'" in e for e in errors)


def test_reserved_ports_default_is_empty(registry):
    apps, platform, secrets = registry
    platform.pop("alorig_reserved_ports", None)
    assert validate_registry(apps, platform, secrets) == []


def test_new_app_entry_is_checked_like_the_others(registry):
    apps, platform, secrets = registry
    new = copy.deepcopy(apps["asms"])
    apps["asms2"] = new
    secrets["asms2"] = dict(secrets["asms"])
    errors = validate_registry(apps, platform, secrets)
    for fragment in ("compose_name 'asms' is already used by app 'asms'",
                     "rollout_order 8 is already used by app 'asms'",
                     "backend_port 8022 is already used by app 'asms' (backend_port)",
                     "redis.db 7 is already used by app 'asms'",
                     "database.name 'asms_db' is already used by app 'asms'",
                     "containers[0].name 'asms_backend' must start with the app key",
                     "routes[0] host 'schools.alorig.com' path '/' is already used by "
                     "app 'asms' (routes[0])"):
        assert any(e.startswith("app 'asms2': ") and fragment in e for e in errors), \
            "%s\n%s" % (fragment, "\n".join(errors))


def test_registry_must_be_a_dict(registry):
    _apps, platform, secrets = registry
    assert validate_registry([], platform, secrets) == [
        "alorig_apps must be a dict of app key -> entry, got list"]


def test_infra_secrets():
    assert validate_infra_secrets({"vault_postgres_superuser_password": "s3cret",
                                   "vault_redis_admin_password": "x"}) == []
    errors = validate_infra_secrets({"vault_postgres_superuser_password": None,
                                     "vault_redis_admin_password": " "})
    assert errors == ["vault: vault_postgres_superuser_password is not defined",
                      "vault: vault_redis_admin_password is empty"]


@pytest.mark.parametrize("hosts,ok", [([], False), (["vps"], True), (["a", "b"], True)])
def test_inventory(hosts, ok):
    errors = validate_inventory({"alorig_vps": hosts, "all": hosts})
    assert (errors == []) is ok
    if not ok:
        assert "group 'alorig_vps' must have at least one host, found 0" in errors[0]


def test_inventory_without_the_group():
    assert validate_inventory({"all": ["vps"]}) == [
        "inventory: group 'alorig_vps' must have at least one host, found 0 (the host the "
        "apps run on)"]


def test_secret_with_a_quote_is_rejected_without_its_value(registry):
    apps, platform, secrets = registry
    secrets["snapify"]["django_secret_key"] = "abc'def-VALUE"
    secrets["observer"]["db_password"] = "line\nbreak-VALUE"
    errors = validate_registry(apps, platform, secrets)
    assert any("app 'snapify'" in e and "'django_secret_key'" in e and "single quote" in e
               for e in errors), errors
    assert any("app 'observer'" in e and "'db_password'" in e for e in errors), errors
    assert not any("VALUE" in e for e in errors)
