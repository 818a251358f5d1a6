"""Integration tests of playbooks/validate.yml.

The inventory's only alorig_vps host uses the docker connection to a container that does
not exist: the validation play must work (pass or fail) without ever connecting to it.
Secrets are passed as plain extra-vars files in a temporary directory (no vault).
"""

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "unit"))

from test_registry_validation import complete_secrets, load_registry  # noqa: E402

sys.path.insert(0, str(ROOT / "tests"))
from registry_cases import INFRA_VAULT, PUBLIC_IPV4, SSH_PRIVATE_KEY, secret_value  # noqa: E402

PLAYBOOK = "playbooks/validate.yml"
MISSING_CONTAINER = "alorigtest_validate_no_such_container"


def _ansible_playbook():
    venv = ROOT / ".venv" / "bin" / "ansible-playbook"
    if venv.exists():
        return str(venv)
    found = shutil.which("ansible-playbook")
    assert found, "ansible-playbook is not installed: run `make venv`"
    return found


def _inventory(tmp_path, vps_hosts=1):
    hosts = {}
    for index in range(vps_hosts):
        hosts["alorigtest-vps-%d" % index] = {
            "ansible_connection": "community.docker.docker",
            "ansible_host": "%s_%d" % (MISSING_CONTAINER, index),
        }
    inventory = {
        "all": {
            "children": {
                "alorig_vps": {"hosts": hosts},
                "alorig_backup": {"hosts": {"alorigtest-backup": {
                    "ansible_connection": "community.docker.docker",
                    "ansible_host": MISSING_CONTAINER + "_backup"}}},
                "control": {"hosts": {"localhost": {
                    "ansible_connection": "local",
                    "ansible_python_interpreter": sys.executable,
                }}},
            }
        }
    }
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(inventory))
    return path


def _secrets(apps):
    # the infrastructure vault with the production-grade values of tests/registry_cases.py
    secrets = {name: secret_value("infra", name) for name in INFRA_VAULT}
    secrets["vault_alorig_app_secrets"] = complete_secrets(apps)
    secrets["vault_backup_passphrase"] = secret_value("backup", "passphrase")
    secrets["vault_backup_ssh_private_key"] = SSH_PRIVATE_KEY
    # Production inventory setting validation requires (read only, never contacted).
    secrets["alorig_vps_public_ipv4"] = PUBLIC_IPV4
    return secrets


def _write(tmp_path, name, data):
    path = tmp_path / name
    path.write_text(json.dumps(data, indent=1))
    return path


def run_validate(tmp_path, extra_files, vps_hosts=1, args=()):
    env = dict(os.environ)
    env.update({
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
    })
    cmd = [_ansible_playbook(), "-i", str(_inventory(tmp_path, vps_hosts)), PLAYBOOK]
    cmd += list(args)
    for path in extra_files:
        cmd += ["-e", "@%s" % path]
    proc = subprocess.run(cmd, cwd=str(ROOT), env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    output = proc.stdout + proc.stderr
    # Never a connection attempt to the (missing) VPS container.
    assert MISSING_CONTAINER not in output, output
    assert "UNREACHABLE" not in output, output
    return proc.returncode, output


@pytest.fixture()
def registry():
    apps, _platform = load_registry()
    return apps


def _assert_no_secret_values(output, secrets):
    values = [v for app in secrets["vault_alorig_app_secrets"].values() for v in app.values()]
    values += [secrets.get(name) for name in INFRA_VAULT] + [secrets["vault_backup_passphrase"]]
    values += [line for line in SSH_PRIVATE_KEY.splitlines() if len(line) >= 16 and "-----" not in line]
    for value in filter(None, values):
        assert value not in output


def test_real_registry_with_complete_secrets_passes(tmp_path, registry):
    secrets = _secrets(registry)
    rc, output = run_validate(tmp_path, [_write(tmp_path, "secrets.json", secrets)])
    assert rc == 0, output
    assert "Valid: 8 apps, the platform, the vault, the inventory" in output
    _assert_no_secret_values(output, secrets)


@pytest.mark.parametrize("args", [(), ("--check", "--diff"), ("--tags", "alorigtest_other")],
                         ids=["plain", "check-diff", "other-tags"])
def test_bad_registry_fails_naming_app_and_key(tmp_path, registry, args):
    bad = copy.deepcopy(registry)
    bad["psydge"]["redis"]["db"] = 0
    bad["snapify"]["containers"][0]["port"] = 8012
    bad["igny8"]["redis_db"] = 3
    secrets = _secrets(registry)
    rc, output = run_validate(tmp_path, [_write(tmp_path, "secrets.json", secrets),
                                         _write(tmp_path, "bad.json", {"alorig_apps": bad})],
                              args=args)
    assert rc != 0, output
    assert "app 'psydge': redis.db 0 is already used by app 'igny8' (redis.db)" in output
    assert "app 'snapify': containers[0].port 8012 is already used by app 'psydge' " \
           "(backend_port)" in output
    assert "app 'igny8': redis_db is an unknown key" in output
    _assert_no_secret_values(output, secrets)


def test_missing_secrets_fail_without_printing_values(tmp_path, registry):
    secrets = _secrets(registry)
    del secrets["vault_alorig_app_secrets"]["asms"]["db_password"]
    del secrets["vault_redis_admin_password"]
    rc, output = run_validate(tmp_path, [_write(tmp_path, "secrets.json", secrets)])
    assert rc != 0, output
    assert "app 'asms': secret 'db_password' missing from vault_alorig_app_secrets['asms']" \
        in output
    assert "vault: vault_redis_admin_password is not defined" in output
    _assert_no_secret_values(output, secrets)


def test_legacy_reserved_ports_collide(tmp_path, registry):
    secrets = _secrets(registry)
    reserved = {"alorig_reserved_ports": [{"ports": "8021-8024",
                                           "reason": "legacy IGNY8 dev ports"}]}
    rc, output = run_validate(tmp_path, [_write(tmp_path, "secrets.json", secrets),
                                         _write(tmp_path, "reserved.json", reserved)])
    assert rc != 0, output
    assert "app 'asms': backend_port 8022 is reserved by alorig_reserved_ports[0] " \
           "(8021-8024: 'legacy IGNY8 dev ports')" in output


def test_inventory_needs_a_vps(tmp_path, registry):
    secrets = _secrets(registry)
    rc, output = run_validate(tmp_path, [_write(tmp_path, "secrets.json", secrets)],
                              vps_hosts=0)
    assert rc != 0, output
    assert "group 'alorig_vps' must have at least one host, found 0" in output


def test_two_vps_hosts_each_validated_with_its_apps(tmp_path, registry):
    """Two hosts: valid with every app on the first; Psydge placed on the second host
    with a RAM figure too small for it fails for that host only, naming it; a placement
    on a host outside the inventory fails naming the app and the key."""
    secrets = _secrets(registry)
    files = [_write(tmp_path, "secrets.json", secrets)]
    rc, output = run_validate(tmp_path, files, vps_hosts=2)
    assert rc == 0, output
    assert "Valid: 8 apps" in output
    placed = {"alorig_placement": {"psydge": "alorigtest-vps-1", "asms": "vps-9"},
              "alorig_host_ram_mb": 4096}
    rc, output = run_validate(tmp_path, files + [_write(tmp_path, "placed.json", placed)],
                              vps_hosts=2)
    assert rc != 0, output
    assert "app 'asms': alorig_placement.asms 'vps-9' is not a host of the alorig_vps group " \
           "(hosts: alorigtest-vps-0, alorigtest-vps-1)" in output
    assert "host alorigtest-vps-1: RAM budget: apps 1792 MB" in output
    assert "host alorigtest-vps-0: RAM budget: apps" in output
    _assert_no_secret_values(output, secrets)
