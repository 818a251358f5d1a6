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


# ---------------------------------------------------------------- record types
def srv(name="_submission._tcp", port=587, target="mail.example.com", **kw):
    return dict(name=name, type="SRV", ttl=3600, data=dict(priority=0, weight=1, port=port, target=target), **kw)


def caa(value="letsencrypt.org", tag="issue"):
    return dict(name="@", type="CAA", ttl=3600, data=dict(flags=0, tag=tag, value=value))


def test_data_types_normalise_and_render():
    recs = desired(srv(target="Mail.Example.com."), caa(), dict(name="@", type="HTTPS", ttl=300, data=dict(
        priority=1, target=".", value="alpn=h3,h2  ipv4hint=192.0.2.1")),
        dict(name="_25._tcp.mail", type="TLSA", ttl=300, data=dict(usage=3, selector=1, matching_type=1,
                                                                    certificate="ABCDEF")),
        dict(name="sub", type="DS", ttl=300, data=dict(key_tag="2371", algorithm=13, digest_type=2, digest="1F98")))
    by_type = {r["type"]: r for r in recs}
    assert by_type["SRV"]["data"] == {"priority": 0, "weight": 1, "port": 587, "target": "mail.example.com"}
    assert by_type["SRV"]["content"] == "0 1 587 mail.example.com"
    assert by_type["CAA"]["content"] == '0 issue "letsencrypt.org"'
    assert by_type["HTTPS"]["data"]["value"] == "alpn=h3,h2 ipv4hint=192.0.2.1"
    assert by_type["TLSA"]["data"]["certificate"] == "abcdef"
    assert by_type["DS"]["data"]["key_tag"] == 2371 and by_type["DS"]["data"]["digest"] == "1f98"
    body = cf.api_payload(by_type["SRV"])
    assert "content" not in body and "proxied" not in body and body["data"]["port"] == 587
    assert cf.render(by_type["SRV"]) == "_submission._tcp.example.com 3600 SRV 0 1 587 mail.example.com ; " + MARK


@pytest.mark.parametrize("record,message", [
    (dict(name="_s._tcp", type="SRV", ttl=300, content="0 1 587 mail.example.com"),
     "SRV records are declared with data: {priority, weight, port, target}, not content"),
    (dict(name="_s._tcp", type="SRV", ttl=300), "SRV records are declared with data: {priority, weight, port"),
    (dict(name="_s._tcp", type="SRV", ttl=300, data=dict(priority=0, weight=1, target="x.example.com")),
     "data.port is required"),
    (dict(name="_s._tcp", type="SRV", ttl=300, data=dict(priority=0, weight=1, port=70000, target="x.example")),
     "data.port must be an integer between 0 and 65535, got 70000"),
    (dict(name="_s._tcp", type="SRV", ttl=300, data=dict(priority=0, weight=1, port=5, target="x", prio=1)),
     "data.prio is not a key of SRV data"),
    (dict(name="_s._tcp", type="SRV", ttl=300, priority=5, data=dict(priority=0, weight=1, port=5, target="x")),
     "priority is only for MX records (SRV and HTTPS take it in data.priority)"),
    (dict(name="@", type="CAA", ttl=300, data=dict(flags=0, tag="is sue", value="x")), "data.tag must be a CAA"),
    (dict(name="@", type="CAA", ttl=300, data=dict(flags=256, tag="issue", value="x")),
     "data.flags must be an integer between 0 and 255"),
    (dict(name="x", type="TLSA", ttl=300, data=dict(usage=3, selector=1, matching_type=1, certificate="xyz")),
     "data.certificate must be hexadecimal"),
    (dict(name="x", type="DS", ttl=300, data=dict(key_tag=1, algorithm=1, digest_type=1)), "data.digest is required"),
    (dict(name="x", type="A", ttl=300, proxied=False, data=dict(x=1), content="192.0.2.1"),
     "A records take content, not data"),
    (dict(name="x", type="A", ttl=300, proxied=False, content="192.0.2.300"), "content must be an IPv4 address"),
    (dict(name="x", type="AAAA", ttl=300, proxied=False, content="192.0.2.3"), "content must be an IPv6 address"),
])
def test_data_errors_name_zone_record_and_key(record, message):
    with pytest.raises(cf.RecordError) as err:
        desired(record)
    assert message in str(err.value)
    assert str(err.value).startswith("zone example.com, record %s %s" % (record["name"], record["type"]))


# ------------------------------------------------------------------- names
def test_idn_names_are_punycode_and_match_the_api_form():
    (rec,) = desired(a("bücher"))
    assert rec["name"] == "xn--bcher-kva.example.com"
    have = [existing("1", "xn--bcher-kva.example.com", "A", "203.0.113.10", proxied=True)]
    assert not cf.compute_plan([rec], have, ZONE).changed
    # the zone itself may be given in Unicode or Punycode
    recs = cf.normalize_desired([a("www")], "bücher.example", MARK)
    assert recs[0]["name"] == "www.xn--bcher-kva.example"
    assert cf.zone_name("Bücher.Example.") == cf.zone_name("xn--bcher-kva.example") == "xn--bcher-kva.example"
    assert cf.display_name("xn--bcher-kva.example.com") == "xn--bcher-kva.example.com [bücher.example.com]"
    (cname,) = desired(dict(name="go", type="CNAME", content="Bücher.example.net.", ttl=1, proxied=False))
    assert cname["content"] == "xn--bcher-kva.example.net"


@pytest.mark.parametrize("name,message", [
    ("www.other.org.", "name www.other.org. is outside the zone example.com"),
    ("a" * 64, "has the label"),
    (".".join(["a" * 60] * 4), "is 255 characters long; a DNS name has at most 253"),
    ("a..b", "has an empty label"),
])
def test_bad_names_are_refused(name, message):
    with pytest.raises(cf.RecordError) as err:
        desired(a(name))
    assert message in str(err.value) and "zone example.com" in str(err.value)


def test_absolute_names_inside_the_zone_and_names_of_other_zones():
    assert desired(a("www.example.com."))[0]["name"] == "www.example.com"
    with pytest.raises(cf.RecordError, match="ends with alorig.com, another zone of this run"):
        cf.normalize_desired([a("app.alorig.com")], ZONE, MARK, other_zones=["example.com", "alorig.com"])
    assert cf.normalize_desired([a("app.other.net")], ZONE, MARK, other_zones=["alorig.com"])[0]["name"] == \
        "app.other.net.example.com"


def test_oversize_txt_is_refused_locally():
    ok = desired(dict(name="k", type="TXT", content="x" * 3900, ttl=300))
    assert ok[0]["content"] == "x" * 3900
    with pytest.raises(cf.RecordError, match=r"4\d{3} bytes in DNS wire format; Cloudflare accepts at most 4096"):
        desired(dict(name="k", type="TXT", content="x" * 4080, ttl=300))
    # several TXT values at one name: 8192 characters together at most
    parts = [dict(name="k", type="TXT", content=("%d" % i) + "y" * 3000, ttl=300) for i in range(3)]
    with pytest.raises(cf.RecordError, match="hold 9003 characters; Cloudflare accepts 8192"):
        desired(*parts)


# ---------------------------------------------------------------- ownership
def test_marker_matching_is_exact():
    assert cf.is_managed({"comment": "app igny8 | " + MARK}, MARK)
    assert cf.is_managed({"comment": MARK}, MARK)
    assert not cf.is_managed({"comment": MARK + "-staging"}, MARK)
    assert not cf.is_managed({"comment": "note: " + MARK}, MARK)
    assert not cf.is_managed({"comment": "managed-by: alorig"}, "managed-by: alorig-ansible")
    assert not cf.is_managed({"comment": MARK}, "managed-by: alorig")
    # a block with a shorter marker does not delete another block's records
    have = [existing("1", "app.example.com", "A", "203.0.113.10", proxied=True, comment="managed-by: alorig-ansible")]
    plan = cf.compute_plan([], have, ZONE, marker="managed-by: alorig")
    assert not plan.deletes and [r["id"] for r in plan.unmanaged] == ["1"]
    assert cf.strip_marker("app igny8 | " + MARK, MARK) == "app igny8"
    assert cf.strip_marker(MARK, MARK) is None


# --------------------------------------------------------------- SPF, DMARC
SPF = dict(name="@", type="TXT", content="v=spf1 include:_spf.mail.example -all", ttl=3600)
DMARC = dict(name="_dmarc", type="TXT", content="v=DMARC1; p=quarantine", ttl=3600)


def test_two_declared_spf_records_are_refused():
    with pytest.raises(cf.RecordError, match="2 SPF records are declared at example.com.*RFC 7208"):
        desired(SPF, dict(SPF, content="v=spf1 mx -all"))
    with pytest.raises(cf.RecordError, match="2 DMARC records.*RFC 7489"):
        desired(DMARC, dict(DMARC, content="v=DMARC1; p=none"))


def test_unmanaged_second_spf_is_a_conflict_unless_adopt():
    have = [existing("old", ZONE, "TXT", '"v=spf1 a mx ~all"', ttl=3600, comment=None),
            existing("ver", ZONE, "TXT", "google-site-verification=abc", ttl=3600, comment=None),
            existing("dm", "_dmarc.example.com", "TXT", "v=DMARC1; p=none", ttl=3600, comment=None)]
    plan = cf.compute_plan(desired(SPF, DMARC), have, ZONE)
    reasons = {e["id"]: r for e, _d, r in plan.conflicts}
    assert set(reasons) == {"old", "dm"} and "RFC 7208" in reasons["old"] and "RFC 7489" in reasons["dm"]
    assert [r["id"] for r in plan.unmanaged] == ["ver"]
    plan = cf.compute_plan(desired(SPF, DMARC), have, ZONE, adopt=True)
    assert not plan.conflicts and not plan.creates and not plan.deletes
    assert sorted((e["id"], d["content"]) for e, d, _f in plan.updates) == [
        ("dm", DMARC["content"]), ("old", SPF["content"])]
    assert [r["id"] for r in plan.unmanaged] == ["ver"]


def test_two_unmanaged_spf_without_a_declared_one_are_reported():
    have = [existing("a", ZONE, "TXT", "v=spf1 a -all", comment=None),
            existing("b", ZONE, "TXT", "v=spf1 mx -all", comment=None)]
    plan = cf.compute_plan([], have, ZONE)
    assert not plan.conflicts
    (warning,) = cf.policy_warnings(plan, ZONE)
    assert "example.com has 2 SPF records" in warning


# --------------------------------------------------------------- thresholds
def test_adoption_does_not_count_towards_thresholds():
    have = [existing(str(i), "h%d.example.com" % i, "A", "203.0.113.10", proxied=True, comment=None)
            for i in range(20)]
    plan = cf.compute_plan(desired(*[a("h%d" % i) for i in range(20)]), have, ZONE, adopt=True)
    assert len(plan.updates) == 20 and plan.risky() == 0
    assert cf.threshold_error(plan, ZONE, 20, 0.3) is None


def test_run_threshold_counts_small_zones_together():
    small = []
    for zone in ("a.test", "b.test", "c.test"):
        have = [existing(zone + str(i), "h%d.%s" % (i, zone), "A", "203.0.113.10", proxied=True) for i in range(5)]
        keep = [] if zone != "c.test" else [dict(a("h%d" % i)) for i in range(5)]
        plan = cf.compute_plan(cf.normalize_desired(keep, zone, MARK), have, zone)
        assert cf.threshold_error(plan, zone, 5, 0.3) is None  # each zone is below min_records
        small.append((zone, plan, 5))
    message = cf.run_threshold_error(small, 0.3)
    assert "update 0 and delete 10 of the 15 existing records of its 3 zones" in message
    assert "a.test 5, b.test 5" in message
    assert cf.run_threshold_error(small, 0.7) is None
    assert cf.run_threshold_error(small, None) is None


def test_chunk_state_tells_applied_from_pending():
    have = [existing("1", "old.example.com", "A", "203.0.113.10", proxied=True)]
    plan = cf.compute_plan(desired(a("new"), srv()), have, ZONE)
    (chunk,) = cf.batch_chunks(plan)
    assert cf.chunk_state(chunk, plan) == "pending"
    after = [existing("2", "new.example.com", "A", "203.0.113.10", proxied=True),
             cf.normalize_existing({"id": "3", "name": "_submission._tcp.example.com", "type": "SRV", "ttl": 3600,
                                    "content": "1 587 mail.example.com", "priority": 0, "comment": MARK,
                                    "data": {"priority": 0, "weight": 1, "port": 587, "target": "mail.example.com"}})]
    assert cf.chunk_state(chunk, cf.compute_plan(desired(a("new"), srv()), after, ZONE)) == "applied"
