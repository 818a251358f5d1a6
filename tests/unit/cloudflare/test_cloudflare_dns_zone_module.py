"""Unit tests of the cloudflare_dns_zone module: main() with the SDK pointed at the fake API."""

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.alorig.platform.plugins.modules import cloudflare_dns_zone

from cfunit_support import TOKEN

MARK = "managed-by: alorig-ansible"


class Exit(Exception):
    def __init__(self, result, failed):
        super().__init__(result.get("msg"))
        self.result = result
        self.failed = failed


@pytest.fixture(autouse=True)
def capture_exit(monkeypatch):
    def exit_json(self, **kwargs):
        raise Exit(kwargs, False)

    def fail_json(self, msg, **kwargs):
        kwargs["msg"] = msg
        raise Exit(kwargs, True)

    monkeypatch.setattr(cloudflare_dns_zone.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(cloudflare_dns_zone.AnsibleModule, "fail_json", fail_json)
    monkeypatch.setenv("CLOUDFLARE_API_KEY", "must-not-be-used")
    monkeypatch.setenv("CLOUDFLARE_EMAIL", "nobody@example.com")


def run(api, records, check=False, diff=False, **params):
    args = dict(api_token=TOKEN, api_base_url=api.base_url, zone="example.com", records=records,
                max_retries=3, _ansible_check_mode=check, _ansible_diff=diff)
    args.update(params)
    with patch_module_args(args):
        with pytest.raises(Exit) as exc:
            cloudflare_dns_zone.main()
    return exc.value


RECORDS = [
    {"name": "app", "type": "A", "content": "203.0.113.10", "ttl": 1, "proxied": True},
    {"name": "@", "type": "MX", "content": "mx1.example.net", "priority": 10, "ttl": 3600},
    {"name": "@", "type": "TXT", "content": "v=spf1 mx -all", "ttl": 3600},
]


def test_check_mode_plans_without_creating(fake_api):
    out = run(fake_api, RECORDS, check=True, diff=True)
    assert not out.failed and out.result["changed"]
    assert out.result["counts"]["create"] == 3
    assert "app.example.com 1 A 203.0.113.10 proxied" in out.result["diff"]["after"]
    assert fake_api.records("example.com") == []
    assert fake_api.stats()["requests"] == 2


def test_apply_then_noop_in_two_requests(fake_api):
    out = run(fake_api, RECORDS)
    assert out.result["changed"] and out.result["api_requests"] == 3
    stored = fake_api.records("example.com")
    assert len(stored) == 3 and all(r["comment"] == MARK for r in stored)
    fake_api.reset_stats()
    out = run(fake_api, RECORDS)
    assert not out.result["changed"]
    assert out.result["api_requests"] == 2 == fake_api.stats()["requests"]


def test_env_credentials_are_ignored(fake_api):
    run(fake_api, RECORDS, check=True)
    assert not any("X-Auth" in line for line in fake_api.stats()["log"])


def test_pagination_reads_every_page(fake_api):
    fake_api.seed_records("example.com", [
        {"name": "h%d" % i, "type": "A", "content": "203.0.113.10", "ttl": 1, "proxied": True, "comment": MARK}
        for i in range(7)])
    records = [{"name": "h%d" % i, "type": "A", "content": "203.0.113.10", "ttl": 1, "proxied": True}
               for i in range(7)]
    out = run(fake_api, records, per_page=3)
    assert not out.result["changed"] and out.result["counts"]["unchanged"] == 7
    assert fake_api.stats()["by_route"]["GET /zones/{id}/dns_records"] == 3


def test_bad_tokens_read_differently(fake_api):
    out = run(fake_api, RECORDS, api_token="wrong-token-xxxxxxxx")
    assert out.failed and out.result["api_requests"] == 1
    assert out.result["msg"].startswith("zone example.com: looking up the zone failed: the API token is malformed")
    assert "6003: Invalid request headers [6111: Invalid format for Authorization header]" in out.result["msg"]
    out = run(fake_api, RECORDS, api_token="W" * 40)
    assert out.failed and "the API token was rejected (HTTP 403, 9109: Invalid access token)" in out.result["msg"]
    fake_api.settings(deny_zones=["example.com"])
    out = run(fake_api, RECORDS)
    assert out.failed and "permission refused (HTTP 403, 10000: Authentication error)" in out.result["msg"]
    assert "Zone.DNS Edit" in out.result["msg"]


def test_missing_zone(fake_api):
    out = run(fake_api, RECORDS, zone="nowhere.example")
    assert out.failed and "zone nowhere.example was not found" in out.result["msg"]


def test_forbidden_batch_names_zone_and_record(fake_api):
    fake_api.add_fault(403, times=1, method="POST", path="batch")
    out = run(fake_api, RECORDS)
    assert out.failed
    assert "zone example.com" in out.result["msg"] and "403" in out.result["msg"]
    assert "app.example.com A" in out.result["msg"]


def test_reads_are_retried_by_the_sdk_and_failed_batches_after_a_relist(fake_api):
    fake_api.add_fault(429, times=1, method="GET", path="zones")
    fake_api.add_fault(500, times=1, method="POST", path="batch")
    out = run(fake_api, RECORDS)
    assert not out.failed and out.result["changed"], out.result
    # lookup (429, retried), list, batch (500: nothing applied), re-list, batch
    assert out.result["api_requests"] == 6
    assert fake_api.stats()["by_route"]["POST /zones/{id}/dns_records/batch"] == 2
    assert "nothing of it was applied (re-listed), retried" in out.result["recovered"][0]
    assert len(fake_api.records("example.com")) == 3


def test_rate_limit_exhausted_is_clear(fake_api):
    fake_api.add_fault(429, times=10)
    out = run(fake_api, RECORDS, max_retries=1)
    assert out.failed and "rate limited (429)" in out.result["msg"] and "example.com" in out.result["msg"]


def test_result_is_json_serialisable(fake_api):
    out = run(fake_api, RECORDS, diff=True)
    json.dumps(out.result)


TYPED = RECORDS + [
    {"name": "_submission._tcp", "type": "SRV", "ttl": 3600,
     "data": {"priority": 0, "weight": 1, "port": 587, "target": "mail.example.com"}},
    {"name": "@", "type": "CAA", "ttl": 3600, "data": {"flags": 0, "tag": "issue", "value": "letsencrypt.org"}},
    {"name": "@", "type": "HTTPS", "ttl": 3600, "data": {"priority": 1, "target": ".", "value": "alpn=h3,h2"}},
    {"name": "_25._tcp.mail", "type": "TLSA", "ttl": 3600,
     "data": {"usage": 3, "selector": 1, "matching_type": 1, "certificate": "ABCDEF0123"}},
    {"name": "sub", "type": "NS", "content": "ns1.example.net", "ttl": 3600},
    {"name": "sub", "type": "DS", "ttl": 3600,
     "data": {"key_tag": 2371, "algorithm": 13, "digest_type": 2, "digest": "1F987CC6"}},
    {"name": "bücher", "type": "A", "content": "203.0.113.10", "ttl": 1, "proxied": True},
    {"name": "shop", "type": "CNAME", "content": "Bücher.example.com.", "ttl": 1, "proxied": False},
]


def test_every_record_type_converges_then_stays_unchanged(fake_api):
    out = run(fake_api, TYPED)
    assert not out.failed and out.result["changed"], out.result.get("msg")
    stored = {(r["name"], r["type"]): r for r in fake_api.records("example.com")}
    assert stored[("_submission._tcp.example.com", "SRV")]["data"]["port"] == 587
    assert stored[("example.com", "CAA")]["content"] == '0 issue "letsencrypt.org"'
    assert stored[("xn--bcher-kva.example.com", "A")]["comment"] == MARK
    assert stored[("shop.example.com", "CNAME")]["content"] == "xn--bcher-kva.example.com"
    fake_api.reset_stats()
    out = run(fake_api, TYPED, diff=True)
    assert not out.failed and not out.result["changed"], out.result["plan"]
    assert out.result["counts"]["unchanged"] == len(TYPED) and out.result["api_requests"] == 2
    assert "xn--bcher-kva.example.com [bücher.example.com] 1 A 203.0.113.10 proxied" in out.result["diff"]["after"]


def test_unicode_and_punycode_zone_names_find_the_zone(fake_api):
    fake_api.add_zone("bücher.example")
    records = [{"name": "www", "type": "A", "content": "203.0.113.10", "ttl": 1, "proxied": True}]
    assert run(fake_api, records, zone="Bücher.Example").result["changed"]
    out = run(fake_api, records, zone="xn--bcher-kva.example")
    assert not out.failed and not out.result["changed"]
    assert [r["name"] for r in fake_api.records("xn--bcher-kva.example")] == ["www.xn--bcher-kva.example"]


@pytest.mark.parametrize("record,message", [
    ({"name": "www.other.org.", "type": "A", "content": "203.0.113.10", "ttl": 1, "proxied": True},
     "name www.other.org. is outside the zone example.com"),
    ({"name": "k", "type": "TXT", "content": "x" * 5000, "ttl": 300}, "bytes in DNS wire format"),
    ({"name": "x" * 64, "type": "TXT", "content": "x", "ttl": 300}, "has the label"),
    ({"name": "_s._tcp", "type": "SRV", "ttl": 300, "data": {"priority": 1, "weight": 1, "port": "smtp",
                                                            "target": "x.example.com"}},
     "record _s._tcp SRV: data.port must be an integer between 0 and 65535, got 'smtp'"),
])
def test_bad_records_are_refused_before_any_request(fake_api, record, message):
    out = run(fake_api, RECORDS + [record])
    assert out.failed and message in out.result["msg"] and "zone example.com" in out.result["msg"]
    assert out.result["api_requests"] == 0 and fake_api.stats()["requests"] == 0


def test_batch_committed_then_5xx_is_recognised_as_applied(fake_api):
    fake_api.add_fault(502, method="POST", path="batch", after_commit=True)
    out = run(fake_api, RECORDS)
    assert not out.failed and out.result["changed"], out.result.get("msg")
    assert "committed although the API answered with an error" in out.result["batches"][0]
    assert "502" in out.result["recovered"][0]
    assert fake_api.stats()["by_route"]["POST /zones/{id}/dns_records/batch"] == 1  # never sent twice
    assert len(fake_api.records("example.com")) == 3
    assert not run(fake_api, RECORDS).result["changed"]


def test_batch_committed_then_timeout_is_recognised_as_applied(fake_api):
    fake_api.add_fault(method="POST", path="batch", after_commit=True, timeout=3)
    out = run(fake_api, RECORDS, timeout=1)
    assert not out.failed and out.result["changed"], out.result.get("msg")
    assert "no answer within the timeout" in out.result["recovered"][0]
    assert fake_api.stats()["by_route"]["POST /zones/{id}/dns_records/batch"] == 1
    assert len(fake_api.records("example.com")) == 3


def test_failed_batch_names_what_was_applied_and_the_error_chain(fake_api):
    many = [{"name": "h%d" % i, "type": "A", "content": "203.0.113.10", "ttl": 1, "proxied": True} for i in range(4)]
    # A CAA tag the API refuses (the module only checks the RFC 8659 syntax): the second batch fails.
    bad = {"name": "zz", "type": "CAA", "ttl": 3600, "data": {"flags": 0, "tag": "contactemail", "value": "a@b.c"}}
    out = run(fake_api, many + [bad], batch_size=3)
    msg = out.result["msg"]
    assert out.failed and out.result["changed"], out.result
    assert msg.startswith("zone example.com: batch 2 of 2 (2 posts) failed: HTTP 400, 1004: DNS Validation Error "
                          "[9101: Content for CAA record is invalid. Tag must be one of")
    assert "Re-listing the zone shows nothing of that batch was applied." in msg
    assert "Already applied in zone example.com: batch 1 of 2: 3 posts." in msg
    assert "2 change(s) remain" in msg
    assert out.result["batches"] == ["batch 1 of 2: 3 posts"]
    assert len(fake_api.records("example.com")) == 3


def test_error_chain_or_flat_root_cause_both_read_well(fake_api):
    fake_api.settings(error_chain=False)
    bad = {"name": "@", "type": "CAA", "ttl": 3600, "data": {"flags": 0, "tag": "contactemail", "value": "a@b.c"}}
    out = run(fake_api, [bad])
    assert out.failed and "HTTP 400, 9101: Content for CAA record is invalid" in out.result["msg"]


def test_transient_failures_exhausted_name_the_batch(fake_api):
    fake_api.add_fault(503, times=5, method="POST", path="batch")
    out = run(fake_api, RECORDS, max_retries=1)
    assert out.failed and not out.result["changed"]
    assert "Cloudflare answered 503" in out.result["msg"]
    assert "No batch of zone example.com was applied." in out.result["msg"]
    assert fake_api.stats()["by_route"]["POST /zones/{id}/dns_records/batch"] == 2


def test_spf_conflict_then_adopt(fake_api):
    fake_api.seed_records("example.com", [{"name": "@", "type": "TXT", "content": '"v=spf1 a -all"', "ttl": 3600}])
    out = run(fake_api, RECORDS)
    assert out.failed and "a second SPF record next to the declared one" in out.result["msg"]
    assert fake_api.stats()["by_route"].get("POST /zones/{id}/dns_records/batch") is None
    out = run(fake_api, RECORDS, adopt=True)
    assert not out.failed
    spf = [r for r in fake_api.records("example.com") if r["type"] == "TXT"]
    assert [(r["content"], r["comment"]) for r in spf] == [("v=spf1 mx -all", MARK)]


def test_another_blocks_records_are_not_deleted(fake_api):
    run(fake_api, RECORDS)
    # a second block with a marker that is a substring of the first one's
    out = run(fake_api, [], owner_marker="managed-by: alorig")
    assert not out.failed and not out.result["changed"] and out.result["counts"]["unmanaged"] == 3
