# -*- coding: utf-8 -*-
# Copyright: Alorig platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backup part of the registry model: settings, inventory and vault checks, projection.

Pure Python (the ``cryptography`` package ansible-core depends on reads the SSH key).
``errors(platform, vault, groups, environment)`` returns every error, naming the variable
(never a secret's value); ``project(platform, vault, groups, apps)`` returns the role
inputs of roles/backup and roles/backup_server (no secret).

Backups are on when ``alorig_backup_enabled`` is true (the default) and the inventory
group ``alorig_backup`` holds the backup host. A production inventory without a backup
host is an error (set ``alorig_backup_enabled: false`` to run without backups, knowingly);
a local one simply runs without.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

GROUP = "alorig_backup"
VPS_GROUP = "alorig_vps"
RETENTION_KEYS = ("hourly", "daily", "weekly", "monthly", "yearly")
# systemd OnCalendar: a shorthand, or [weekdays] [date] time. The role checks the
# expression with `systemd-analyze calendar` on the host as well.
_SHORTHANDS = ("minutely", "hourly", "daily", "weekly", "monthly", "yearly", "annually",
               "quarterly", "semiannually")
_WEEKDAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)(?:day|sday|nesday|rsday|urday)?"
_CALENDAR_RE = re.compile(
    r"^(?:%(wd)s(?:(?:\.\.|,)%(wd)s)*\s+)?"
    r"(?:[0-9*][0-9*,./~-]*-[0-9*][0-9*,./~-]*(?:-[0-9*][0-9*,./~-]*)?\s+)?"
    r"[0-9*][0-9*,./]*:[0-9*][0-9*,./]*(?::[0-9*][0-9*,./]*)?"
    r"(?:\s+(?:UTC|[A-Za-z]+/[A-Za-z_]+))?$" % {"wd": _WEEKDAY})

DEFAULTS = {
    "alorig_backup_enabled": True,
    "alorig_backup_schedule": "*-*-* 03:15:00",
    "alorig_backup_check_schedule": "Sun *-*-* 05:30:00",
    "alorig_backup_drill_schedule": "Sun *-*-* 06:30:00",
    "alorig_backup_retention": {"daily": 7, "weekly": 4, "monthly": 6},
    "alorig_backup_max_age_hours": 26,
    "alorig_backup_drill_max_age_days": 8,
}


def _typename(value):
    return type(value).__name__ if value is not None else "nothing (null)"


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


_BOOLEANS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}


def setting(platform, name):
    value = platform.get(name)
    if value is None:
        return DEFAULTS.get(name)
    # `-e alorig_backup_enabled=false` arrives as a string
    if name == "alorig_backup_enabled" and isinstance(value, str) and value.lower() in _BOOLEANS:
        return _BOOLEANS[value.lower()]
    return value


def _hosts(groups, group):
    hosts = (groups or {}).get(group) if isinstance(groups, dict) else None
    return [h for h in hosts if isinstance(h, str)] if isinstance(hosts, list) else []


def enabled(platform, groups):
    return setting(platform, "alorig_backup_enabled") is True and bool(_hosts(groups, GROUP))


def _openssh_cipher(data):
    """The cipher name of an OpenSSH private key ("none" when not encrypted), or None."""
    import base64
    import struct
    body = b"".join(line.strip() for line in data.splitlines() if b"-----" not in line)
    try:
        raw = base64.b64decode(body[:len(body) // 4 * 4])
    except ValueError:
        return None
    magic = b"openssh-key-v1\0"
    if not raw.startswith(magic) or len(raw) < len(magic) + 4:
        return None
    (size,) = struct.unpack(">I", raw[len(magic):len(magic) + 4])
    return raw[len(magic) + 4:len(magic) + 4 + size].decode("ascii", "replace")


def load_private_key(text):
    """The cryptography key object of an unencrypted OpenSSH/PEM ed25519, ECDSA or RSA key.

    Raises TypeError for a key protected by a passphrase.
    """
    from cryptography.hazmat.primitives import serialization
    data = text.encode("utf-8")
    if b"BEGIN OPENSSH PRIVATE KEY" in data:
        cipher = _openssh_cipher(data)
        if cipher not in (None, "none"):
            raise TypeError("the key is encrypted")
        return serialization.load_ssh_private_key(data, password=None)
    return serialization.load_pem_private_key(data, password=None)


def public_key(text, comment):
    """The OpenSSH public key line of the private key ``text``."""
    from cryptography.hazmat.primitives import serialization
    key = load_private_key(text)
    line = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                         serialization.PublicFormat.OpenSSH)
    return "%s %s" % (line.decode("ascii"), comment)


def calendar_problem(value):
    if not isinstance(value, str):
        return "must be a systemd calendar expression (a string), got %s" % _typename(value)
    text = value.strip()
    if not text or "\n" in value:
        return "must be a one-line systemd calendar expression, got %r" % value
    if text.lower() in _SHORTHANDS or _CALENDAR_RE.match(text):
        return None
    return ("is not a systemd calendar expression (OnCalendar), got %r; e.g. "
            "'*-*-* 03:15:00' or 'Sun *-*-* 05:30:00'" % value)


def errors(platform, vault, groups, environment, secret_quality=None):
    """Every error of the backup settings, the inventory's backup host and the vault."""
    errs = []
    switch = setting(platform, "alorig_backup_enabled")
    if not isinstance(switch, bool):
        errs.append("platform: alorig_backup_enabled must be true or false, got %r" % (switch,))
        return errs
    hosts = _hosts(groups, GROUP)
    if not switch:
        return errs
    if not hosts:
        if environment == "production":
            errs.append("inventory: group %r has no host: production keeps nightly backups on a "
                        "separate backup host (add it to the inventory), or set "
                        "alorig_backup_enabled: false to run without backups" % GROUP)
        return errs
    if len(hosts) > 1:
        errs.append("inventory: group %r must have exactly one host, found %d (%s)"
                    % (GROUP, len(hosts), ", ".join(hosts)))
    shared = sorted(set(hosts) & set(_hosts(groups, VPS_GROUP)))
    if shared:
        errs.append("inventory: %s is both the VPS and the backup host: backups must be kept "
                    "off the VPS" % ", ".join(shared))

    for name in ("alorig_backup_schedule", "alorig_backup_check_schedule",
                 "alorig_backup_drill_schedule"):
        problem = calendar_problem(setting(platform, name))
        if problem:
            errs.append("platform: %s %s" % (name, problem))
    for name in ("alorig_backup_max_age_hours", "alorig_backup_drill_max_age_days"):
        value = setting(platform, name)
        if not _is_int(value) or value <= 0:
            errs.append("platform: %s must be a positive integer, got %r" % (name, value))
    retention = setting(platform, "alorig_backup_retention")
    if not isinstance(retention, dict) or not retention:
        errs.append("platform: alorig_backup_retention must be a dict like {daily: 7, weekly: 4, "
                    "monthly: 6}, got %s" % _typename(retention))
    else:
        for key in sorted(retention, key=str):
            value = retention[key]
            if key not in RETENTION_KEYS:
                errs.append("platform: alorig_backup_retention.%s is not a retention key (one of "
                            "%s)" % (key, ", ".join(RETENTION_KEYS)))
            elif not _is_int(value) or value < 0:
                errs.append("platform: alorig_backup_retention.%s must be a non-negative "
                            "integer, got %r" % (key, value))
        if all(_is_int(v) and v == 0 for v in retention.values()):
            errs.append("platform: alorig_backup_retention keeps no archive (every count is 0)")

    vault = vault if isinstance(vault, dict) else {}
    passphrase = vault.get("vault_backup_passphrase")
    if passphrase is None:
        errs.append("vault: vault_backup_passphrase is not defined (the Borg repository's "
                    "passphrase)")
    elif not isinstance(passphrase, str) or not passphrase.strip():
        errs.append("vault: vault_backup_passphrase must be a non-empty string")
    elif "\n" in passphrase.strip():
        errs.append("vault: vault_backup_passphrase contains a line break")
    elif secret_quality is not None and secret_quality(passphrase):
        errs.append("vault: vault_backup_passphrase %s" % secret_quality(passphrase))
    key = vault.get("vault_backup_ssh_private_key")
    if key is None:
        errs.append("vault: vault_backup_ssh_private_key is not defined (the SSH key the VPS "
                    "logs in to the backup host with)")
    elif not isinstance(key, str):
        errs.append("vault: vault_backup_ssh_private_key must be a string, got %s"
                    % _typename(key))
    else:
        try:
            load_private_key(key)
        except TypeError:
            errs.append("vault: vault_backup_ssh_private_key is protected by a passphrase: the "
                        "backup timer needs a key without one (the vault encrypts it)")
        except Exception:  # the message of cryptography may quote key material: never show it
            errs.append("vault: vault_backup_ssh_private_key is not a private key in OpenSSH or "
                        "PEM format (paste the whole file, BEGIN and END lines included)")
    return errs


def project(platform, vault, groups, apps, host=None):
    """Role inputs: {enabled, server, client_public_key, apps, schedules, retention, ...}.

    ``apps`` are the apps of the VPS host ``host`` (default: the first VPS host), whose
    name the public key's comment carries."""
    on = enabled(platform, groups)
    result = {
        "enabled": on,
        "server": _hosts(groups, GROUP)[0] if on else "",
        "client_public_key": "",
        "schedule": setting(platform, "alorig_backup_schedule"),
        "check_schedule": setting(platform, "alorig_backup_check_schedule"),
        "drill_schedule": setting(platform, "alorig_backup_drill_schedule"),
        "retention": dict(setting(platform, "alorig_backup_retention")) if on else {},
        "max_age_hours": setting(platform, "alorig_backup_max_age_hours"),
        "drill_max_age_days": setting(platform, "alorig_backup_drill_max_age_days"),
        "apps": [],
    }
    if not on:
        return result
    vps = _hosts(groups, VPS_GROUP)
    name = host if host in vps else (vps[0] if vps else "vps")
    result["client_public_key"] = public_key(vault["vault_backup_ssh_private_key"],
                                             "alorig-backup@%s" % name)
    for app, entry in apps:
        if not entry["enabled"]:
            continue
        result["apps"].append({
            "name": app,
            "title": entry["title"],
            "database": entry["database"]["name"],
            "owner": entry["database"]["owner"],
            "media": sorted((entry.get("media") or {}).keys()),
            "volumes": ["%s_media" % app],
            "containers": [c["name"] for c in entry["containers"]],
            "compose_name": entry["compose_name"],
        })
    return result
