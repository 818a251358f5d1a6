"""Unit tests of plugins/module_utils/cloudflare_dns.py (pure planning logic)."""

import cfunit_support  # noqa: F401  (import paths)
import pytest

from ansible_collections.alorig.platform.plugins.module_utils import cloudflare_dns as cf

ZONE = "example.com"
MARK = cf.DEFAULT_OWNER_MARKER


def desired(*records, **kw):
    return cf.normalize_desired(list(records), ZONE, MARK, kw.get("ignore", ()))


def existing(rid, name, rtype, content, ttl=1, proxied=False, priority=None, comment=MARK):
    return cf.normalize_existing({"id": rid, "name": name, "type": rtype, "content": content, "ttl": ttl,
                                  "proxied": proxied, "priority": priority, "comment": comment})


def a(name, content="203.0.113.10", proxied=True, ttl=1, **kw):
    return dict(name=name, type="A", content=content, ttl=ttl, proxied=proxied, **kw)


def test_fqdn():
    assert cf.fqdn("@", ZONE) == ZONE
    assert cf.fqdn("", ZONE) == ZONE
    assert cf.fqdn("App", ZONE) == "app.example.com"
    assert cf.fqdn("app.example.com.", ZONE) == "app.example.com"
    assert cf.fqdn("*.sites", ZONE) == "*.sites.example.com"


@pytest.mark.parametrize("raw,expected", [
    ('v=spf1 mx -all', 'v=spf1 mx -all'),
    ('"v=spf1 mx -all"', 'v=spf1 mx -all'),
    ('"v=DKIM1; k=rsa; p=AAAA" "BBBB"', 'v=DKIM1; k=rsa; p=AAAABBBB'),
    ('"say \\"hi\\""', 'say "hi"'),
    ('half "quoted" text', 'half "quoted" text'),
])
def test_txt_unquote(raw, expected):
    assert cf.txt_unquote(raw) == expected


def test_normalize_content():
    assert cf.normalize_content("CNAME", "Target.Example.NET.") == "target.example.net"
    assert cf.normalize_content("AAAA", "2001:DB8:0:0::1") == "2001:db8::1"
    assert cf.normalize_content("MX", "MX1.example.com.") == "mx1.example.com"


def test_is_ignored():
    assert cf.is_ignored("_acme-challenge.example.com", ZONE)
    assert cf.is_ignored("_acme-challenge.app.example.com", ZONE)
    assert not cf.is_ignored("app.example.com", ZONE)
    assert cf.is_ignored("legacy-1.example.com", ZONE, ["legacy-*"])


@pytest.mark.parametrize("record,message", [
    (dict(name="x", type="A", content="1.2.3.4", ttl=1), "proxied must be set explicitly"),
    (dict(name="x", type="MX", content="mx.example.com", ttl=300), "need a priority"),
    (dict(name="x", type="TXT", content="t", ttl=300, proxied=True), "cannot be proxied"),
    (dict(name="x", type="TXT", content="t", ttl=5), "ttl 5 must be"),
    (dict(name="x", type="TXT", content="t"), "ttl is required"),
    (dict(name="x", type="LOC", content="t", ttl=1), "not supported"),
    (dict(name="_acme-challenge", type="TXT", content="t", ttl=1), "protected"),
    (dict(name="x", type="TXT", content="t", ttl=1, comment="c" * 90), "characters"),
])
def test_normalize_desired_errors_name_zone_and_record(record, message):
    with pytest.raises(cf.RecordError) as err:
        desired(record)
    assert message in str(err.value)
    assert "zone example.com" in str(err.value)
    assert "record x" in str(err.value) or "_acme-challenge" in str(err.value)


def test_normalize_desired_proxied_forces_auto_ttl_and_marker():
    (rec,) = desired(a("app", ttl=300, comment="app igny8"))
    assert rec["ttl"] == 1
    assert rec["comment"] == "app igny8 | " + MARK
    assert rec["name"] == "app.example.com"


def test_duplicate_declarations_and_cname_exclusivity():
    with pytest.raises(cf.RecordError, match="declared twice"):
        desired(a("app"), a("app"))
    with pytest.raises(cf.RecordError, match="CNAME cannot coexist"):
        desired(a("app"), dict(name="app", type="CNAME", content="x.example.net", ttl=1, proxied=False))


def test_plan_creates_on_empty_zone():
    plan = cf.compute_plan(desired(a("app"), a("@")), [], ZONE)
    assert [r["name"] for r in plan.creates] == ["app.example.com", "example.com"]
    assert not plan.updates and not plan.deletes


def test_plan_noop_and_in_place_update():
    have = [existing("1", "app.example.com", "A", "203.0.113.10", proxied=True)]
    assert not cf.compute_plan(desired(a("app")), have, ZONE).changed
    plan = cf.compute_plan(desired(a("app", content="203.0.113.99")), have, ZONE)
    assert not plan.creates and not plan.deletes
    (before, after, fields) = plan.updates[0]
    assert before["id"] == "1" and after["content"] == "203.0.113.99" and fields == ["content"]


def test_plan_repairs_drifted_attributes():
    have = [existing("1", "app.example.com", "A", "203.0.113.10", proxied=False, ttl=300)]
    plan = cf.compute_plan(desired(a("app")), have, ZONE)
    assert plan.updates[0][2] == ["ttl", "proxied"]


def test_plan_deletes_undeclared_managed_but_keeps_unmanaged():
    have = [existing("1", "old.example.com", "A", "203.0.113.10"),
            existing("2", "hand.example.com", "A", "198.51.100.1", comment="made by hand"),
            existing("3", "bare.example.com", "TXT", "x", comment=None)]
    plan = cf.compute_plan([], have, ZONE)
    assert [r["id"] for r in plan.deletes] == ["1"]
    assert sorted(r["id"] for r in plan.unmanaged) == ["2", "3"]


def test_plan_purge_deletes_unmanaged_but_never_acme():
    have = [existing("2", "hand.example.com", "A", "198.51.100.1", comment=None),
            existing("3", "_acme-challenge.example.com", "TXT", "token", comment=None),
            existing("4", "_acme-challenge.app.example.com", "TXT", "token", comment=MARK)]
    plan = cf.compute_plan([], have, ZONE, purge=True)
    assert [r["id"] for r in plan.deletes] == ["2"]
    assert sorted(r["id"] for r in plan.ignored) == ["3", "4"]


def test_plan_conflict_with_unmanaged_identical_record_unless_adopt():
    have = [existing("9", "app.example.com", "A", "203.0.113.10", proxied=True, comment=None)]
    plan = cf.compute_plan(desired(a("app")), have, ZONE)
    assert plan.conflicts and not plan.changed
    assert "app.example.com" in cf.conflict_error(plan, ZONE)
    plan = cf.compute_plan(desired(a("app")), have, ZONE, adopt=True)
    assert not plan.conflicts
    assert plan.updates[0][2] == ["comment"]


def test_plan_conflict_with_unmanaged_other_value_for_exclusive_types():
    have = [existing("9", "app.example.com", "A", "198.51.100.7", proxied=False, comment=None)]
    plan = cf.compute_plan(desired(a("app")), have, ZONE)
    assert plan.conflicts
    plan = cf.compute_plan(desired(a("app")), have, ZONE, adopt=True)
    assert plan.updates[0][0]["id"] == "9" and "content" in plan.updates[0][2]
    assert not plan.creates and not plan.deletes


def test_plan_multi_value_mx_and_txt_matched_by_content():
    want = desired(dict(name="@", type="MX", content="mx1.example.net", priority=10, ttl=3600),
                   dict(name="@", type="MX", content="mx2.example.net", priority=20, ttl=3600),
                   dict(name="@", type="TXT", content="v=spf1 mx -all", ttl=3600))
    have = [existing("1", ZONE, "MX", "MX2.example.net.", ttl=3600, priority=20),
            existing("2", ZONE, "MX", "mx1.example.net", ttl=3600, priority=10),
            existing("3", ZONE, "TXT", '"v=spf1 mx -all"', ttl=3600),
            existing("4", ZONE, "TXT", "google-site-verification=abc", ttl=3600, comment=None)]
    plan = cf.compute_plan(want, have, ZONE)
    assert not plan.changed, plan.plan if hasattr(plan, "plan") else cf.plan_as_dict(plan)
    assert [r["id"] for r in plan.unmanaged] == ["4"]


def test_plan_cname_blocked_by_unmanaged_a_record():
    want = desired(dict(name="www", type="CNAME", content="example.com", ttl=1, proxied=True))
    have = [existing("5", "www.example.com", "A", "198.51.100.7", comment=None)]
    plan = cf.compute_plan(want, have, ZONE)
    assert plan.conflicts
    plan = cf.compute_plan(want, have, ZONE, adopt=True)
    assert [r["id"] for r in plan.deletes] == ["5"] and len(plan.creates) == 1


def test_threshold():
    have = [existing(str(i), "h%d.example.com" % i, "A", "203.0.113.10", proxied=True) for i in range(20)]
    plan = cf.compute_plan(desired(*[a("h%d" % i) for i in range(10)]), have, ZONE)
    assert len(plan.deletes) == 10
    message = cf.threshold_error(plan, ZONE, len(have), 0.3)
    assert "delete 10 of 20" in message and "example.com" in message
    assert cf.threshold_error(plan, ZONE, len(have), 0.6) is None
    assert cf.threshold_error(plan, ZONE, 5, 0.1) is None  # small zones are exempt


def test_batch_chunks_keep_global_order():
    have = [existing(str(i), "old%d.example.com" % i, "A", "203.0.113.10", proxied=True) for i in range(3)]
    have.append(existing("u", "upd.example.com", "A", "203.0.113.1", proxied=True))
    want = desired(a("upd"), a("new1"), a("new2"))
    plan = cf.compute_plan(want, have, ZONE)
    chunks = cf.batch_chunks(plan, batch_size=2)
    flat = [(kind, body.get("id") or body["name"]) for chunk in chunks for kind, items in chunk.items()
            for body in items]
    assert [k for k, _ in flat] == ["deletes"] * 3 + ["patches"] + ["posts"] * 2
    assert all(sum(len(v) for v in chunk.values()) <= 2 for chunk in chunks)
    assert chunks[1]["patches"][0] == {"id": "u", "name": "upd.example.com", "type": "A",
                                       "content": "203.0.113.10", "ttl": 1, "proxied": True, "comment": MARK}


def test_zone_diff_is_zone_file_text():
    have = [existing("1", "app.example.com", "A", "203.0.113.1", proxied=True)]
    plan = cf.compute_plan(desired(a("app"), dict(name="@", type="TXT", content='v=spf1 -all', ttl=300)),
                           have, ZONE)
    diff = cf.zone_diff(ZONE, have, plan)
    assert "app.example.com 1 A 203.0.113.1 proxied" in diff["before"]
    assert "app.example.com 1 A 203.0.113.10 proxied" in diff["after"]
    assert 'example.com 300 TXT "v=spf1 -all"' in diff["after"]
