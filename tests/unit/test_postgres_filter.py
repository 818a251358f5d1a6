"""Unit tests of alorig.platform.postgres_pending: what the postgres_db role must converge."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "collections"))

from ansible_collections.alorig.platform.plugins.filter.postgres import (  # noqa: E402
    postgres_pending,
    scram_matches,
)

# Computed by PostgreSQL 17 (the stand-in) for a throwaway role:
# CREATE ROLE scram_probe PASSWORD 'alorig-test-only-password'
VERIFIER = ("SCRAM-SHA-256$4096:sodkMgbGEs1LNqax6iUX7A==$7lEtx+8zS1iO4+yrpGRqbom5KVnC0vLU7XfraFwAmW4="
            ":T2MNu4cbEOpfue+BGrZWpDpq1uqthwQxydgiQmgR+qU=")
PASSWORD = "alorig-test-only-password"
DATABASES = [{"name": "psydge_db", "owner": "psydge", "extensions": [], "connection_limit": 10}]


def _state(**changes):
    role = {"login": True, "super": False, "createdb": False, "createrole": False,
            "replication": False, "conn": 10, "password": VERIFIER}
    db = {"owner": "psydge", "public_connect": False}
    for key, value in changes.items():
        (role if key in role else db)[key] = value
    return {"roles": {"psydge": role}, "databases": {"psydge_db": db}}


def test_scram_verification_against_postgresql():
    assert scram_matches(PASSWORD, VERIFIER)
    assert not scram_matches(PASSWORD + "x", VERIFIER)
    assert not scram_matches(PASSWORD, "md5" + "0" * 32)
    assert not scram_matches(PASSWORD, "")
    assert not scram_matches(PASSWORD, "SCRAM-SHA-256$x")


def test_nothing_pending_when_everything_matches():
    assert postgres_pending(_state(), DATABASES, {"psydge": PASSWORD}) == \
        {"roles": [], "databases": [], "privileges": [], "readers": [], "memberships": []}


def test_each_kind_of_drift_is_pending():
    passwords = {"psydge": PASSWORD}
    assert postgres_pending(_state(conn=-1), DATABASES, passwords)["roles"] == ["psydge_db"]
    assert postgres_pending(_state(super=True), DATABASES, passwords)["roles"] == ["psydge_db"]
    assert postgres_pending(_state(), DATABASES, {"psydge": "rotated"})["roles"] == ["psydge_db"]
    assert postgres_pending(_state(owner="postgres"), DATABASES, passwords)["databases"] == ["psydge_db"]
    assert postgres_pending(_state(public_connect=True), DATABASES, passwords)["privileges"] == ["psydge_db"]
    missing = postgres_pending({"roles": {}, "databases": {}}, DATABASES, passwords)
    assert missing == {"roles": ["psydge_db"], "databases": ["psydge_db"], "privileges": ["psydge_db"],
                       "readers": [], "memberships": []}


READERS = [{"name": "alorig_metrics", "connection_limit": 3, "member_of": ["pg_monitor"]}]


def _reader_state(members=("pg_monitor",), **changes):
    state = _state()
    role = {"login": True, "super": False, "createdb": False, "createrole": False,
            "replication": False, "conn": 3, "password": VERIFIER}
    role.update(changes)
    state["roles"]["alorig_metrics"] = role
    state["members"] = {"alorig_metrics": list(members) if members is not None else None}
    return state


def test_a_reader_as_declared_is_not_pending():
    passwords = {"psydge": PASSWORD, "alorig_metrics": PASSWORD}
    pending = postgres_pending(_reader_state(), DATABASES, passwords, READERS)
    assert pending == {"roles": [], "databases": [], "privileges": [], "readers": [], "memberships": []}
    # another predefined role besides the declared ones is left alone
    assert postgres_pending(_reader_state(members=["pg_monitor", "pg_read_all_stats"]), DATABASES,
                            passwords, READERS)["memberships"] == []


def test_each_kind_of_reader_drift_is_pending():
    passwords = {"psydge": PASSWORD, "alorig_metrics": PASSWORD}
    pending = lambda state, pw=passwords: postgres_pending(state, DATABASES, pw, READERS)  # noqa: E731
    assert pending(_reader_state(conn=10))["readers"] == ["alorig_metrics"]
    assert pending(_reader_state(createrole=True))["readers"] == ["alorig_metrics"]
    assert pending(_reader_state(login=False))["readers"] == ["alorig_metrics"]
    assert pending(_reader_state(), dict(passwords, alorig_metrics="rotated"))["readers"] == ["alorig_metrics"]
    assert pending(_reader_state(members=[]))["memberships"] == ["alorig_metrics"]
    assert pending(_reader_state(members=None))["memberships"] == ["alorig_metrics"]
    # a reader the server does not have: its role and its membership
    fresh = _state()
    assert pending(fresh) == {"roles": [], "databases": [], "privileges": [],
                              "readers": ["alorig_metrics"], "memberships": ["alorig_metrics"]}
    # the owners are not affected by a reader's drift
    assert pending(_reader_state(conn=10))["roles"] == []
