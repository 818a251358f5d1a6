"""Unit tests of cloudflare_dns_zones: one plan across zones, thresholds per zone and per run."""

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.alorig.platform.plugins.modules import cloudflare_dns_zones

from cfunit_support import TOKEN, FakeCloudflare

MARK = "managed-by: alorig-ansible"
IP = "203.0.113.10"
ZONES = ["a.test", "b.test", "c.test"]


class Exit(Exception):
    def __init__(self, result, failed):
        super().__init__(result.get("msg"))
        self.result = result
        self.failed = failed


@pytest.fixture(autouse=True)
def capture_exit(monkeypatch):
    warnings = []

    def exit_json(self, **kwargs):
        kwargs["warnings"] = warnings
        raise Exit(kwargs, False)

    def fail_json(self, msg, **kwargs):
        kwargs["msg"] = msg
        raise Exit(kwargs, True)

    monkeypatch.setattr(cloudflare_dns_zones.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(cloudflare_dns_zones.AnsibleModule, "fail_json", fail_json)
    monkeypatch.setattr(cloudflare_dns_zones.AnsibleModule, "warn", lambda self, msg: warnings.append(msg))


@pytest.fixture
def api():
    fake = FakeCloudflare(token=TOKEN, zones=ZONES).start()
    try:
        yield fake
    finally:
        fake.stop()


def hosts(zone, count, content=IP):
    return {"zone": zone, "records": [{"name": "h%d" % i, "type": "A", "content": content, "ttl": 1,
                                       "proxied": True} for i in range(count)]}


def run(api, zones, check=False, diff=False, **params):
    args = dict(api_token=TOKEN, api_base_url=api.base_url, zones=zones, max_retries=2,
                _ansible_check_mode=check, _ansible_diff=diff)
    args.update(params)
    with patch_module_args(args):
        with pytest.raises(Exit) as exc:
            cloudflare_dns_zones.main()
    return exc.value


def test_one_plan_shows_every_zone_then_applies_all(api):
    zones = [hosts("a.test", 3), hosts("b.test", 2), {"zone": "c.test", "records": []}]
    plan = run(api, zones, check=True, diff=True)
    assert not plan.failed and plan.result["changed"]
    assert plan.result["summary"] == ["a.test: +3 ~0 -0 (unchanged 0, unmanaged 0, ignored 0)",
                                      "b.test: +2 ~0 -0 (unchanged 0, unmanaged 0, ignored 0)",
                                      "c.test: +0 ~0 -0 (unchanged 0, unmanaged 0, ignored 0)"]
    assert plan.result["counts"]["create"] == 5
    assert [d["after_header"] for d in plan.result["diff"]] == [
        "zone a.test (planned)", "zone b.test (planned)", "zone c.test (planned)"]
    assert sum(len(api.records(z)) for z in ZONES) == 0
    assert api.stats()["requests"] == 6  # lookup + list per zone
    done = run(api, zones)
    assert done.result["changed"] and done.result["zones"]["a.test"]["batches"] == ["batch 1 of 1: 3 posts"]
    api.reset_stats()
    again = run(api, zones)
    assert not again.result["changed"] and again.result["api_requests"] == 6 == api.stats()["requests"]
    json.dumps(again.result)


def test_conflict_in_one_zone_stops_every_zone(api):
    api.seed_records("b.test", [{"name": "h0", "type": "A", "content": "198.51.100.1", "ttl": 300}])
    out = run(api, [hosts("a.test", 3), hosts("b.test", 1)])
    assert out.failed and "zone b.test: 1 record(s) not owned" in out.result["msg"]
    assert "nothing was changed in any zone" in out.result["msg"]
    assert api.records("a.test") == []
    assert "POST /zones/{id}/dns_records/batch" not in api.stats()["by_route"]


def test_invalid_records_in_several_zones_are_all_reported_before_any_request(api):
    zones = [{"zone": "a.test", "records": [{"name": "x.", "type": "A", "content": IP, "ttl": 1, "proxied": True}]},
             {"zone": "b.test", "records": [{"name": "app.a.test", "type": "A", "content": IP, "ttl": 1,
                                             "proxied": True}]}]
    out = run(api, zones)
    assert out.failed and out.result["msg"].startswith("2 invalid record(s), nothing was sent to Cloudflare")
    assert "zone a.test, record x." in out.result["msg"] and "is outside the zone a.test" in out.result["msg"]
    assert "zone b.test, record app.a.test A" in out.result["msg"] and "another zone of this run" in out.result["msg"]
    assert api.stats()["requests"] == 0


def test_a_zone_given_twice_is_refused(api):
    out = run(api, [hosts("a.test", 1), hosts("A.test.", 1)])
    assert out.failed and "zones given more than once" in out.result["msg"]


def test_per_zone_threshold_still_works(api):
    run(api, [hosts("a.test", 12)])
    out = run(api, [hosts("a.test", 2)])
    assert out.failed and "zone a.test: the plan would update 0 and delete 10 of 12" in out.result["msg"]
    out = run(api, [dict(hosts("a.test", 2), max_change_ratio=0.9)])
    assert not out.failed and len(api.records("a.test")) == 2


def test_run_threshold_catches_small_zones_the_per_zone_rule_exempts(api):
    zones = [hosts("a.test", 5), hosts("b.test", 5), hosts("c.test", 5)]
    run(api, zones)
    emptied = [{"zone": "a.test", "records": []}, {"zone": "b.test", "records": []}, hosts("c.test", 5)]
    assert not run(api, emptied, check=True).failed  # no run threshold: each zone is below min_records
    out = run(api, emptied, run_max_change_ratio=0.3)
    assert out.failed and "this run would update 0 and delete 10 of the 15 existing records" in out.result["msg"]
    assert "per zone: a.test 10" not in out.result["msg"] and "a.test 5, b.test 5" in out.result["msg"]
    assert out.result["summary"][0] == "a.test: +0 ~0 -5 (unchanged 0, unmanaged 0, ignored 0)"
    assert len(api.records("a.test")) == 5
    forced = run(api, emptied, run_max_change_ratio=0.3, force=True)
    assert not forced.failed and api.records("a.test") == []
    assert any("forced: this run would" in w for w in forced.result["warnings"])


def test_failure_in_a_later_zone_names_the_zones_applied(api):
    zones = [hosts("a.test", 1), hosts("b.test", 1), hosts("c.test", 1)]
    api.settings(deny_zones=["c.test"])
    out = run(api, zones)
    # c.test cannot even be listed: the plan is incomplete, nothing is changed anywhere
    assert out.failed and "permission refused" in out.result["msg"] and api.records("a.test") == []
    api.settings(deny_zones=[])
    api.add_fault(400, method="POST", path=api.zone_by_name("b.test")["id"] + "/dns_records/batch")
    out = run(api, zones)
    assert out.failed and out.result["changed"]
    assert out.result["msg"].startswith("zone b.test: batch 1 of 1 (1 posts) failed: HTTP 400, 10001")
    assert out.result["msg"].endswith("Zones applied before it: a.test. Zones not attempted: c.test.")
    assert len(api.records("a.test")) == 1 and api.records("b.test") == api.records("c.test") == []
    out = run(api, zones)
    assert not out.failed and out.result["summary"][0].startswith("a.test: +0 ~0 -0 (unchanged 1")
