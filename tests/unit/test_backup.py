"""Backups: the registry model's backup part (inventory, settings, vault, projection), the
alorig-backup tool's pure parts (manifest comparison, error gist, borgmatic configuration) and
the capacity report's backup checks. The real backups, restores and drills run in the
migration scenario (molecule/migration/verify_backup.yml)."""

import copy
import importlib.machinery
import importlib.util
import json
import sys
from pathlib import Path

import jinja2
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "collections"))
sys.path.insert(0, str(ROOT / "tests"))

from ansible_collections.alorig.platform.plugins.module_utils import backup_model  # noqa: E402
from ansible_collections.alorig.platform.plugins.module_utils.registry_model import (  # noqa: E402
    build, errors_of)
from registry_cases import SSH_PRIVATE_KEY, base_variables, model_inputs  # noqa: E402


def _load(name, path):
    loader = importlib.machinery.SourceFileLoader(name, str(path))
    spec = importlib.util.spec_from_loader(name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


tool = _load("alorig_backup_tool", ROOT / "roles/backup/files/alorig-backup")
report = _load("capacity_report_backup", ROOT / "roles/alorig_monitor/files/capacity_report.py")


@pytest.fixture()
def variables():
    return base_variables()


def _errors(variables, groups=None):
    return errors_of(model_inputs(variables, groups=groups))


# -- the inventory ------------------------------------------------------------------------
def test_production_without_a_backup_host_is_refused(variables):
    errors = _errors(variables, groups={"alorig_vps": ["vps"], "all": ["vps"]})
    assert len(errors) == 1
    assert "group 'alorig_backup' has no host" in errors[0]
    assert "alorig_backup_enabled: false" in errors[0]


def test_production_can_turn_backups_off_knowingly(variables):
    variables["alorig_backup_enabled"] = False
    del variables["vault_backup_passphrase"]
    groups = {"alorig_vps": ["vps"], "all": ["vps"]}
    assert _errors(variables, groups) == []
    errors, projection = build(model_inputs(variables, groups=groups))
    assert errors == [] and projection["backup"]["enabled"] is False


def test_local_without_a_backup_host_runs_without_backups(variables):
    variables.update(alorig_environment="local", alorig_vps_public_ipv4="127.0.0.1")
    groups = {"alorig_vps": ["vps"], "all": ["vps"]}
    errors, projection = build(model_inputs(variables, groups=groups))
    assert errors == []
    assert projection["backup"]["enabled"] is False and projection["backup"]["apps"] == []


@pytest.mark.parametrize("groups, fragment", [
    ({"alorig_vps": ["vps"], "alorig_backup": ["vps"]}, "vps is both the VPS and the backup host"),
    ({"alorig_vps": ["vps"], "alorig_backup": ["b1", "b2"]},
     "group 'alorig_backup' must have exactly one host, found 2 (b1, b2)"),
])
def test_backup_host_mistakes(variables, groups, fragment):
    assert any(fragment in e for e in _errors(variables, groups)), _errors(variables, groups)


# -- settings and vault -------------------------------------------------------------------
@pytest.mark.parametrize("expression", [
    "*-*-* 03:15:00", "Sun *-*-* 05:30:00", "daily", "weekly", "Mon..Fri 02:00", "03:15",
    "*-*-01 04:00:00", "Sat,Sun *-*-* 06:30", "*-*-* 03:15:00 UTC", "Mon *-*-* 00/6:00",
])
def test_calendar_expressions_operators_write_are_accepted(expression):
    assert backup_model.calendar_problem(expression) is None


@pytest.mark.parametrize("expression", ["", "every night", "3am", "0 3 * * *", "Sun\n03:00", 315])
def test_calendar_typos_are_refused(expression):
    assert backup_model.calendar_problem(expression)


def test_retention_that_keeps_nothing_is_refused(variables):
    variables["alorig_backup_retention"] = {"daily": 0, "weekly": 0}
    assert any("keeps no archive" in e for e in _errors(variables))


ENCRYPTED_OPENSSH_KEY = """-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAACmFlczI1Ni1jdHIAAAAGYmNyeXB0AAAAGAAAABBkKqfI3t
-----END OPENSSH PRIVATE KEY-----
"""


@pytest.mark.parametrize("kind", ["pkcs8", "openssh"])
def test_a_passphrase_protected_key_is_refused_without_showing_it(variables, kind):
    from cryptography.hazmat.primitives import serialization
    key = backup_model.load_private_key(SSH_PRIVATE_KEY)
    if kind == "pkcs8":
        protected = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.BestAvailableEncryption(b"pass phrase")).decode()
    else:  # the head of what ssh-keygen -N writes: cipher aes256-ctr, kdf bcrypt
        protected = ENCRYPTED_OPENSSH_KEY
    variables["vault_backup_ssh_private_key"] = protected
    errors = _errors(variables)
    assert any("protected by a passphrase" in e for e in errors), errors
    body = [line for line in protected.splitlines() if "-----" not in line]
    assert not any(line in "\n".join(errors) for line in body)


def test_the_projection_derives_the_public_key_and_lists_the_apps(variables):
    errors, projection = build(model_inputs(variables))
    assert errors == []
    backup = projection["backup"]
    key = backup_model.load_private_key(SSH_PRIVATE_KEY)
    from cryptography.hazmat.primitives import serialization
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH).decode()
    assert backup["client_public_key"] == public + " alorig-backup@vps"
    assert backup["enabled"] and backup["server"] == "backup"
    assert backup["retention"] == {"daily": 7, "weekly": 4, "monthly": 6}
    names = [a["name"] for a in backup["apps"]]
    assert names[:2] == ["igny8", "igny8_staging"] and len(names) == 8
    igny8 = backup["apps"][0]
    assert igny8["database"] == "igny8_db" and igny8["owner"] == "igny8"
    assert igny8["media"] == ["sites-data", "storage"] and igny8["volumes"] == ["igny8_media"]
    # nothing secret in the projection
    text = json.dumps(backup)
    assert variables["vault_backup_passphrase"] not in text
    assert "PRIVATE KEY" not in text


def test_a_disabled_app_is_not_backed_up(variables):
    variables["alorig_apps"]["asms"]["enabled"] = False
    _errors_, projection = build(model_inputs(variables))
    assert "asms" not in [a["name"] for a in projection["backup"]["apps"]]


# -- the tool -----------------------------------------------------------------------------
def test_figures_comparison_names_each_difference():
    recorded = {"public.a": [3, "x"], "public.b": [2, "y"], "public.c": [1, "z"]}
    found = {"public.a": [3, "x"], "public.b": [2, "other"], "public.d": [0, "w"]}
    assert tool.compare_figures(recorded, found) == [
        "public.b checksum differs (2 rows)", "public.c missing", "public.d not in the dump's manifest"]
    assert tool.compare_figures(recorded, {"public.a": [4, "x"], "public.b": [2, "y"],
                                           "public.c": [1, "z"]}) == ["public.a has 4 rows, 3 recorded"]


def test_media_comparison(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "f.bin").write_bytes(b"data")
    (tmp_path / "g.txt").write_text("hello")
    recorded = tool.tree_digest(str(tmp_path))
    assert set(recorded) == {"sub/f.bin", "g.txt"}
    assert tool.compare_media(recorded, str(tmp_path)) == ([], [])
    (tmp_path / "g.txt").write_text("changed")
    (tmp_path / "sub" / "f.bin").unlink()
    assert tool.compare_media(recorded, str(tmp_path)) == (["sub/f.bin"], ["g.txt"])


def test_error_gist_keeps_the_cause_not_the_traceback():
    stderr = "\n".join([
        "Traceback (most recent call last):",
        '  File "/usr/lib/python3/dist-packages/borg/archive.py", line 322, in fetch_many',
        "    raise IntegrityError(args[0].decode())",
        "borg.helpers.errors.IntegrityError: Data integrity error: Segment entry checksum mismatch [segment 10]",
        "offsite: Error running actions for repository",
        "/run/alorig-backup/borgmatic-x.yaml: An error occurred",
        "Need some help? https://torsion.org/borgmatic/#issues"])
    assert tool.gist(stderr) == ("borg.helpers.errors.IntegrityError: Data integrity error: "
                                 "Segment entry checksum mismatch [segment 10]")
    assert "Could not resolve hostname" in tool.gist(
        "Remote: ssh: Could not resolve hostname backup: Name or service not known\nAn error occurred")


def test_borgmatic_configuration_names_files_never_secrets():
    cfg = {"state_dir": "/var/lib/alorig/backup", "borg": {
        "repository": "ssh://borg@backup:22/srv/borg/vps", "archive_prefix": "vps-",
        "passphrase_file": "/etc/alorig/backup/passphrase", "ssh_key_file": "/etc/alorig/backup/ssh_key",
        "known_hosts_file": "/etc/alorig/backup/known_hosts", "retention": {"daily": 7, "monthly": 6}}}
    conf = tool.borgmatic_config(cfg, ["/var/backups/alorig", "/opt/alorig"])
    assert conf["encryption_passcommand"] == "cat /etc/alorig/backup/passphrase"
    assert "-i /etc/alorig/backup/ssh_key" in conf["ssh_command"]
    assert "StrictHostKeyChecking=yes" in conf["ssh_command"] and "BatchMode=yes" in conf["ssh_command"]
    assert "encryption_passphrase" not in conf
    assert (conf["keep_daily"], conf["keep_weekly"], conf["keep_monthly"]) == (7, 0, 6)
    assert conf["repositories"] == [{"path": "ssh://borg@backup:22/srv/borg/vps", "label": "offsite"}]


# -- the capacity report ------------------------------------------------------------------
BASE_CONFIG = {"apps": [], "infra": {}, "thresholds": {
    "steady_state_ram_mb": 13312, "oom_kills": 0, "postgres_connections": 80,
    "redis_memory_mb": 2048, "celery_queue_length": 1000},
    "upgrade_trigger_mb": 13312, "host_ram_mb": 16384, "current_app": "",
    "generated_at": "2026-12-01T12:00:00",
    "backup": {"enabled": True, "max_age_hours": 26, "drill_max_age_days": 8}}
GOOD = {"first_success": "2026-11-20T03:15:00+00:00",
        "last_attempt": {"time": "2026-12-01T03:15:00+00:00", "ok": True, "archive": "vps-1"},
        "last_success": {"time": "2026-12-01T03:15:00+00:00", "archive": "vps-1", "repository_bytes": 10485760,
                         "apps": {"igny8": {"dump_bytes": 1048576, "media_bytes": 2097152, "media_files": 3,
                                            "rows": 100000, "tables": 12}}}}
DRILL = {"time": "2026-11-29T06:30:00+00:00", "ok": True, "apps": {"igny8": {"ok": True}}}


def _report(backup=None, drill=None, config=None, check=None):
    metrics = {"containers": {}, "postgres_connections": 5, "redis_memory_mb": 1.0, "queues": [],
               "backup": {"backup": backup, "drill": drill, "check": check}}
    return report.build_report(metrics, config or copy.deepcopy(BASE_CONFIG))


def _violations(rep):
    return {v["metric"]: v for v in rep["violations"]}


def test_fresh_backups_and_a_passed_drill_pass():
    rep = _report(GOOD, DRILL)
    assert _violations(rep) == {}
    assert rep["backup"]["apps"]["igny8"]["age_hours"] == 8.8
    assert "database dump 1.0 MB (100000 rows), media 2.0 MB (3 files)" in report.svg(rep)


def test_a_stale_backup_fails():
    stale = copy.deepcopy(GOOD)
    stale["last_success"]["time"] = stale["last_attempt"]["time"] = "2026-11-30T08:00:00+00:00"
    violation = _violations(_report(stale, DRILL))["backup_age_hours"]
    assert violation["value"] == 28.0 and violation["limit"] == 26


def test_a_failed_attempt_fails_and_says_why():
    failed = copy.deepcopy(GOOD)
    failed["last_attempt"] = {"time": "2026-12-01T11:00:00+00:00", "ok": False,
                              "error": "borgmatic failed (exit 1): ssh: Could not resolve hostname backup"}
    violation = _violations(_report(failed, DRILL))["backup_age_hours"]
    assert "last backup attempt FAILED" in violation["detail"]
    assert "Could not resolve hostname" in violation["detail"]


def test_a_failed_drill_names_the_app():
    drill = {"time": "2026-11-30T06:30:00+00:00", "ok": False, "apps": {
        "igny8": {"ok": False, "message": "IntegrityError: Segment entry checksum mismatch"},
        "psydge": {"ok": True}}}
    violation = _violations(_report(GOOD, drill))["backup_drill_age_days"]
    assert violation["value"] == "FAILED"
    assert "app igny8: IntegrityError" in violation["detail"] and "psydge" not in violation["detail"]


def test_no_drill_yet_is_fine_only_in_the_first_days():
    assert _violations(_report(GOOD, None)).get("backup_drill_age_days") is not None  # first 11 days ago
    young = copy.deepcopy(GOOD)
    young["first_success"] = "2026-11-28T03:15:00+00:00"
    assert "backup_drill_age_days" not in _violations(_report(young, None))


def test_no_backup_yet_fails_and_backups_off_checks_nothing():
    assert "no backup has succeeded yet" in _violations(_report(None, None))["backup_age_hours"]["detail"]
    config = copy.deepcopy(BASE_CONFIG)
    config["backup"] = {"enabled": False, "max_age_hours": 26, "drill_max_age_days": 8}
    rep = _report(None, None, config)
    assert _violations(rep) == {} and rep["backup"] == {"enabled": False}


def test_an_unreachable_host_is_named_when_borg_loses_sshs_message(monkeypatch, tmp_path):
    cfg = {"runtime_dir": str(tmp_path), "state_dir": str(tmp_path), "borg": {
        "repository": "ssh://borg@backup.example:2222/srv/borg/vps", "archive_prefix": "vps-",
        "passphrase_file": "/p", "ssh_key_file": "/k", "known_hosts_file": "/h", "retention": {"daily": 7}}}
    calls = []

    def fake_run(argv, **kwargs):
        calls.append(argv)
        if argv[0] == "ssh":
            class Proc:
                returncode = 255
                stderr = "ssh: connect to host backup.example port 2222: Connection refused\n"
            return Proc()
        raise tool.Failure("borgmatic failed (exit 1): offsite: Command '(borg create "
                           "ssh://borg@backup.example:2222/srv/borg/vps::x)' returned non-zero exit status 81.")

    monkeypatch.setattr(tool, "run", fake_run)
    monkeypatch.setattr(tool.subprocess, "run", fake_run)
    with tool.Borgmatic(cfg) as borgmatic:
        with pytest.raises(tool.Failure) as failure:
            borgmatic("create", "--json")
    assert "the backup host is unreachable: ssh: connect to host backup.example port 2222: " \
           "Connection refused" in str(failure.value)
    ssh = [c for c in calls if c[0] == "ssh"][0]
    assert ssh[-1] == "borg@backup.example" and ssh[ssh.index("-p") + 1] == "2222"
    assert "BatchMode=yes" in ssh and "-i" in ssh


def test_a_failed_repository_check_fails():
    good = {"time": "2026-11-29T05:30:00+00:00", "ok": True}
    assert _violations(_report(GOOD, DRILL, check=good)) == {}
    bad = {"time": "2026-11-29T05:30:00+00:00", "ok": False,
           "error": "borgmatic failed (exit 1): Data integrity error: Segment entry checksum mismatch"}
    violation = _violations(_report(GOOD, DRILL, check=bad))["backup_repository_check"]
    assert "repository check FAILED" in violation["detail"] and "checksum mismatch" in violation["detail"]


def test_the_check_fails_on_the_warning_borg_ends_errors_found_with(monkeypatch, tmp_path):
    cfg = {"runtime_dir": str(tmp_path), "state_dir": str(tmp_path), "borg": {
        "repository": "ssh://borg@backup:22/srv/borg/vps", "archive_prefix": "vps-",
        "passphrase_file": "/p", "ssh_key_file": "/k", "known_hosts_file": "/h", "retention": {"daily": 7}}}
    seen = {}

    def fake_run(argv, **kwargs):
        with open(argv[argv.index("--config") + 1]) as handle:
            seen.update(json.load(handle))
        raise tool.Failure("borgmatic failed (exit 1): Remote: ID: 9b2a rebuilt index: <not found> | "
                           "Remote: Data integrity error: Segment entry checksum mismatch [segment 2, offset 8]")

    monkeypatch.setattr(tool, "run", fake_run)
    assert tool.cmd_check(cfg, None) == 1
    assert seen["borg_exit_codes"] == [{"code": 1, "treat_as": "error"}]
    result = json.loads((tmp_path / "check.json").read_text())
    assert result["ok"] is False and "checksum mismatch" in result["error"]
    assert "remote: id" not in tool.gist("Remote: ID: 9b2a rebuilt index: <not found>\n"
                                        "Remote: Finished full repository check, errors found.").lower()


def _authorized_keys(clients):
    # Ansible's template module renders with trim_blocks
    env = jinja2.Environment(trim_blocks=True, keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined)
    template = (ROOT / "roles/backup_server/templates/authorized_keys.j2").read_text()
    return env.from_string(template).render(backup_server_base_dir="/srv/borg",
                                            backup_server_clients=clients)


def test_hosts_sharing_a_key_share_one_line_reaching_each_repository():
    """sshd uses the first authorized_keys line matching a key: two VPS hosts with the
    vault's one key get one line allowing both repositories (else the second host's
    backups are refused with "Repository path not allowed")."""
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyMaterial"
    one = _authorized_keys([{"name": "vps1", "public_key": key + " alorig-backup"}])
    assert one.splitlines()[1:] == [
        'restrict,command="borg serve --restrict-to-path /srv/borg/vps1" %s alorig-backup' % key]
    two = _authorized_keys([{"name": "vps1", "public_key": key + " alorig-backup@vps1"},
                            {"name": "vps2", "public_key": key + " alorig-backup@vps2"},
                            {"name": "other", "public_key": "ssh-ed25519 AAAAOther x"}])
    assert two.splitlines()[1:] == [
        'restrict,command="borg serve --restrict-to-path /srv/borg/vps1 '
        '--restrict-to-path /srv/borg/vps2" %s alorig-backup@vps1' % key,
        'restrict,command="borg serve --restrict-to-path /srv/borg/other" ssh-ed25519 AAAAOther x']
