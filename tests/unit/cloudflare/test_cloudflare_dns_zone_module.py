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


def test_bad_token_names_the_zone(fake_api):
    out = run(fake_api, RECORDS, api_token="wrong-token-xxxxxxxx")
    assert out.failed
    assert "zone example.com" in out.result["msg"] and "401" in out.result["msg"]


def test_missing_zone(fake_api):
    out = run(fake_api, RECORDS, zone="nowhere.example")
    assert out.failed and "zone nowhere.example was not found" in out.result["msg"]


def test_forbidden_batch_names_zone_and_record(fake_api):
    fake_api.add_fault(403, times=1, method="POST", path="batch")
    out = run(fake_api, RECORDS)
    assert out.failed
    assert "zone example.com" in out.result["msg"] and "403" in out.result["msg"]
    assert "app.example.com A" in out.result["msg"]


def test_rate_limit_and_server_errors_are_retried(fake_api):
    fake_api.add_fault(429, times=1, method="GET", path="zones")
    fake_api.add_fault(500, times=2, method="POST", path="batch")
    out = run(fake_api, RECORDS)
    assert not out.failed and out.result["changed"]
    assert out.result["api_requests"] == 6
    assert len(fake_api.records("example.com")) == 3


def test_rate_limit_exhausted_is_clear(fake_api):
    fake_api.add_fault(429, times=10)
    out = run(fake_api, RECORDS, max_retries=1)
    assert out.failed and "rate limited (429)" in out.result["msg"] and "example.com" in out.result["msg"]


def test_result_is_json_serialisable(fake_api):
    out = run(fake_api, RECORDS, diff=True)
    json.dumps(out.result)
