# -*- coding: utf-8 -*-
# Copyright: Alorig platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the postgres_db role."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: postgres_pending
short_description: Which databases and login roles differ from their declaration
description:
  - From one read of the server (roles with their SCRAM verifiers and attributes,
    databases with their owner and whether PUBLIC may connect), the declared
    databases whose login role, database or CONNECT privilege needs the
    community.postgresql modules. Everything else is already as declared, so a converge
    with nothing to do makes no module call per database.
  - A password is checked against the stored SCRAM-SHA-256 verifier (RFC 5802/7677), on
    the control node; a verifier of another kind counts as different.
options:
  _input:
    description: The server's state (the postgresql_query result row's C(state) column).
    type: dict
    required: true
  databases:
    description: The declared databases (C(postgres_db_databases)).
    type: list
    elements: dict
    required: true
  passwords:
    description: Owner or reader -> password (C(postgres_db_passwords)).
    type: dict
    required: true
  readers:
    description: >-
      The declared login roles without a database (C(postgres_db_readers): C(name),
      C(connection_limit), C(member_of)); the read's C(members) holds the predefined roles
      each is granted.
    type: list
    elements: dict
    default: []
"""

EXAMPLES = r"""
__postgres_db_pending: >-
  {{ __postgres_db_state.query_result[0].state
     | alorig.platform.postgres_pending(postgres_db_databases, postgres_db_passwords) }}
"""

RETURN = r"""
_value:
  description: >-
    C(roles), C(databases), C(privileges) -- lists of database names; C(readers) (the
    reader's role differs) and C(memberships) (a predefined role is missing) -- lists of
    reader names.
  type: dict
"""

import base64
import hashlib
import hmac


def scram_matches(password, verifier):
    """Whether ``password`` gives the SCRAM-SHA-256 ``verifier`` PostgreSQL stores."""
    try:
        method, rest = verifier.split("$", 1)
        iterations_salt, keys = rest.split("$", 1)
        iterations, salt = iterations_salt.split(":", 1)
        stored_key, server_key = keys.split(":", 1)
        if method != "SCRAM-SHA-256":
            return False
        salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"),
                                     base64.b64decode(salt), int(iterations))
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        server = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        return (hmac.compare_digest(base64.b64encode(hashlib.sha256(client_key).digest()).decode(),
                                    stored_key)
                and hmac.compare_digest(base64.b64encode(server).decode(), server_key))
    except (AttributeError, ValueError, TypeError):
        return False


def _role_differs(role, connection_limit, password):
    return (role is None or not role.get("login") or role.get("super") or role.get("createdb")
            or role.get("createrole") or role.get("replication")
            or role.get("conn") != int(connection_limit)
            or not scram_matches(str(password), role.get("password") or ""))


def postgres_pending(state, databases, passwords, readers=None):
    state = state or {}
    roles = state.get("roles") or {}
    dbs = state.get("databases") or {}
    members = state.get("members") or {}
    passwords = passwords or {}
    pending = {"roles": [], "databases": [], "privileges": [], "readers": [], "memberships": []}
    for reader in readers or []:
        if _role_differs(roles.get(reader["name"]), reader["connection_limit"],
                         passwords.get(reader["name"], "")):
            pending["readers"].append(reader["name"])
        if not set(reader.get("member_of") or []) <= set(members.get(reader["name"]) or []):
            pending["memberships"].append(reader["name"])
    for db in databases or []:
        if _role_differs(roles.get(db["owner"]), db["connection_limit"],
                         passwords.get(db["owner"], "")):
            pending["roles"].append(db["name"])
        current = dbs.get(db["name"])
        if current is None or current.get("owner") != db["owner"]:
            pending["databases"].append(db["name"])
        if current is None or current.get("public_connect"):
            pending["privileges"].append(db["name"])
    return pending


class FilterModule(object):
    def filters(self):
        return {"postgres_pending": postgres_pending}
