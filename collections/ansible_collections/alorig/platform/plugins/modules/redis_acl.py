#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Alorig platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: redis_acl
short_description: Converge Redis's ACL users to an ACL file, drift included, check mode honest
description:
  - Writes the ACL file Redis runs with (C(--aclfile)) and loads it with C(ACL LOAD)
    (atomic; an invalid file is refused, the previous file is put back and the module
    fails with Redis's reason).
  - Detects users changed by hand (C(ACL SETUSER)) without loading anything, by comparing
    what C(ACL LIST) returns with what it returned right after the last load (recorded in
    O(state_file), mode 0600). So check mode reports exactly what a run would change.
  - Talks to Redis over its loopback port with a built-in client; the admin password is a
    module argument, never on a command line. Reports user names only, never a rule or a
    password hash.
version_added: 1.1.0
options:
  host:
    description: Address of Redis as the host sees it.
    type: str
    default: 127.0.0.1
  port:
    description: Port of Redis.
    type: int
    default: 6379
  admin_user:
    description: The ACL user allowed to load the file.
    type: str
    required: true
  admin_password:
    description: Its password.
    type: str
    required: true
  aclfile:
    description: The ACL file on the host.
    type: path
    required: true
  content:
    description: The ACL file's content.
    type: str
    required: true
  owner:
    description: uid (and gid) owning the file (the image's redis user).
    type: int
    default: 999
  state_file:
    description: Where the users Redis runs with after the last load are recorded.
    type: path
    required: true
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
author: Alorig platform contributors
"""

EXAMPLES = r"""
- name: Load the ACL users
  alorig.platform.redis_acl:
    admin_user: alorig_admin
    admin_password: "{{ vault_redis_admin_password }}"
    aclfile: /opt/alorig/redis/users.acl
    content: "{{ lookup('ansible.builtin.template', 'users.acl.j2') }}"
    state_file: /opt/alorig/redis/.acl-state.json
  no_log: true
"""

RETURN = r"""
users:
  description: The users that were (or, in check mode, would be) added, changed or removed.
  returned: always
  type: list
  elements: str
reasons:
  description: Why the users are reloaded (file changed, changed by hand).
  returned: always
  type: list
  elements: str
"""

import hashlib
import json

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.alorig.platform.plugins.module_utils.atomic import write_atomic
from ansible_collections.alorig.platform.plugins.module_utils.resp import Connection, RedisError


def _canonical(line):
    """An ACL LIST line with its rules in a fixed order.

    Redis serialises a user's command rules in the order of its command table, which
    changes from one start of the server to the next: the same user reads
    ``+select +type ...`` after a restart and ``+type +select ...`` before it. Sorted, the
    rules compare equal while any rule added or removed by hand still shows.
    """
    parts = line.split()
    return " ".join(parts[:2] + sorted(parts[2:]))


def _users(lines):
    """{user name: sha256 of its ACL LIST line} (rules hashed: they hold password hashes)."""
    result = {}
    for line in lines or []:
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "user":
            result[parts[1]] = hashlib.sha256(_canonical(line).encode("utf-8")).hexdigest()
    return result


def _file_users(content):
    result = {}
    for line in (content or "").splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "user":
            result[parts[1]] = hashlib.sha256(line.encode("utf-8")).hexdigest()
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            host=dict(type="str", default="127.0.0.1"),
            port=dict(type="int", default=6379),
            admin_user=dict(type="str", required=True),
            admin_password=dict(type="str", required=True, no_log=True),
            aclfile=dict(type="path", required=True),
            content=dict(type="str", required=True, no_log=True),
            owner=dict(type="int", default=999),
            state_file=dict(type="path", required=True),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        with open(p["aclfile"]) as handle:
            before = handle.read()
    except (IOError, OSError):
        before = None
    recorded = None
    try:
        with open(p["state_file"]) as handle:
            recorded = json.load(handle)
    except (IOError, OSError, ValueError):
        recorded = None

    try:
        conn = Connection(p["host"], p["port"])
        conn.command("AUTH", p["admin_user"], p["admin_password"])
        running = _users(conn.command("ACL", "LIST"))
    except (OSError, RedisError) as exc:
        module.fail_json(msg="Redis at %s:%d as %s: %s" % (p["host"], p["port"], p["admin_user"],
                                                             exc))

    reasons = []
    users = set()
    if before != p["content"]:
        reasons.append("the ACL file differs")
        old, new = _file_users(before), _file_users(p["content"])
        users |= set(u for u in set(old) | set(new) if old.get(u) != new.get(u))
    if recorded is None:
        reasons.append("no record of the last load")
    elif recorded.get("users") != running:
        reasons.append("users changed by hand since the last load")
        rec = recorded.get("users") or {}
        users |= set(u for u in set(rec) | set(running) if rec.get(u) != running.get(u))
    changed = bool(reasons)
    result = dict(changed=changed, users=sorted(users), reasons=reasons)
    if not changed or module.check_mode:
        module.exit_json(**result)

    write_atomic(p["aclfile"], p["content"], 0o600, p["owner"], p["owner"])
    try:
        conn.command("ACL", "LOAD")
    except RedisError as exc:
        if before is not None:
            write_atomic(p["aclfile"], before, 0o600, p["owner"], p["owner"])
        module.fail_json(msg="Redis refused the ACL file (the previous users stay loaded): %s"
                         % exc, **result)
    conn.close()
    # ACL LOAD closes the connections of every user it changed, this one too.
    try:
        conn = Connection(p["host"], p["port"])
        conn.command("AUTH", p["admin_user"], p["admin_password"])
        after = _users(conn.command("ACL", "LIST"))
        conn.close()
    except (OSError, RedisError) as exc:
        module.fail_json(msg="Redis after ACL LOAD: %s" % exc, **result)
    write_atomic(p["state_file"], json.dumps({"users": after}, sort_keys=True) + "\n", 0o600)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
