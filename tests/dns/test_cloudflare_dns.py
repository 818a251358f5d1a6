"""Integration tests: the module, the role and the wiring against the local Cloudflare API.

Each test starts the fake API on a free loopback port and runs
.venv/bin/ansible-playbook. Nothing leaves 127.0.0.1.
"""

import os

from cfdns_support import HERE, ROOT, TOKEN, FakeCloudflare, admin

MODULE = os.path.join(HERE, "playbooks", "module.yml")
ROLE = os.path.join(HERE, "playbooks", "role.yml")
DNS_PLAYBOOK = os.path.join(ROOT, "playbooks", "dns.yml")
MARK = "managed-by: alorig-ansible"
IP = "203.0.113.10"

RECORDS = [
    {"name": "@", "type": "A", "content": IP, "ttl": 1, "proxied": True},
    {"name": "app", "type": "A", "content": IP, "ttl": 1, "proxied": True},
    {"name": "deep.app", "type": "A", "content": IP, "ttl": 300, "proxied": False},
    {"name": "@", "type": "MX", "content": "mx1.mail.example.net", "priority": 10, "ttl": 3600},
    {"name": "@", "type": "MX", "content": "mx2.mail.example.net", "priority": 20, "ttl": 3600},
    {"name": "@", "type": "TXT", "content": "v=spf1 mx include:_spf.mail.example.net ~all", "ttl": 3600},
    {"name": "default._domainkey", "type": "TXT", "ttl": 3600,
     "content": "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAx" + "A" * 300},
    {"name": "_dmarc", "type": "TXT", "content": "v=DMARC1; p=quarantine; rua=mailto:d@example.com", "ttl": 3600},
]


def module_vars(api, records=RECORDS, **kw):
    out = {"test_token": TOKEN, "test_base_url": api.base_url, "test_zone": "example.com", "test_records": records}
    out.update(kw)
    return out


def converge(api, playbook, records=RECORDS, args=(), **kw):
    api.reset_stats()
    return playbook(MODULE, module_vars(api, records, **kw), args)


def by_key(api):
    return {(r["name"], r["type"], r["content"]): r for r in api.records("example.com")}


def test_plan_apply_reapply(api, playbook):
    plan = converge(api, playbook, args=["--check", "--diff"])
    assert plan.rc == 0, plan.stdout
    assert plan.changed == 1
    assert "+app.example.com 1 A 203.0.113.10 proxied" in plan.stdout
    assert "+example.com 3600 MX 10 mx1.mail.example.net" in plan.stdout
    assert api.records("example.com") == []
    assert api.stats()["requests"] == 2

    apply = converge(api, playbook)
    assert apply.rc == 0 and apply.changed == 1, apply.stdout
    assert apply.result["counts"]["create"] == len(RECORDS)
    assert api.stats()["by_route"] == {"GET /zones": 1, "GET /zones/{id}/dns_records": 1,
                                       "POST /zones/{id}/dns_records/batch": 1}
    assert len(api.records("example.com")) == len(RECORDS)
    assert all(r["comment"] == MARK for r in api.records("example.com"))

    again = converge(api, playbook)
    assert again.rc == 0 and again.changed == 0, again.stdout
    # The no-op costs exactly: zone lookup + one page of records.
    assert api.stats()["requests"] == 2
    assert again.result["api_requests"] == 2

    check = converge(api, playbook, args=["--check", "--diff"])
    assert check.rc == 0 and check.changed == 0


def test_server_side_drift_is_repaired(api, playbook):
    assert converge(api, playbook).rc == 0
    records = by_key(api)
    app = records[("app.example.com", "A", IP)]
    admin(api, "PATCH", "/zones/example.com/records/" + app["id"], {"content": "198.51.100.66", "proxied": False})
    dmarc = [r for r in records.values() if r["name"] == "_dmarc.example.com"][0]
    admin(api, "DELETE", "/zones/example.com/records/" + dmarc["id"])

    repair = converge(api, playbook, args=["--diff"])
    assert repair.rc == 0 and repair.changed == 1, repair.stdout
    assert repair.result["counts"]["update"] == 1 and repair.result["counts"]["create"] == 1
    repaired = by_key(api)[("app.example.com", "A", IP)]
    assert repaired["id"] == app["id"] and repaired["proxied"] is True
    assert ("_dmarc.example.com", "TXT", RECORDS[-1]["content"]) in by_key(api)
    assert converge(api, playbook).changed == 0


def test_unmanaged_and_acme_records_survive(api, playbook):
    api.seed_records("example.com", [
        {"name": "legacy", "type": "A", "content": "198.51.100.1", "ttl": 300, "comment": "made by hand"},
        {"name": "@", "type": "TXT", "content": "google-site-verification=abc", "ttl": 3600},
        {"name": "_acme-challenge", "type": "TXT", "content": "token-1", "ttl": 60},
        {"name": "_acme-challenge.app", "type": "TXT", "content": "token-2", "ttl": 60},
    ])
    run = converge(api, playbook)
    assert run.rc == 0, run.stdout
    names = set(by_key(api))
    assert ("legacy.example.com", "A", "198.51.100.1") in names
    assert ("example.com", "TXT", "google-site-verification=abc") in names
    assert run.result["counts"]["unmanaged"] == 2 and run.result["counts"]["ignored"] == 2

    # Removing a record from the configuration removes it (it is ours) ...
    fewer = [r for r in RECORDS if r["name"] != "_dmarc"]
    run = converge(api, playbook, records=fewer)
    assert run.changed == 1 and run.result["counts"]["delete"] == 1
    # ... purge removes unmanaged records too, never _acme-challenge.
    run = converge(api, playbook, records=fewer, test_purge=True)
    assert run.rc == 0 and run.result["counts"]["delete"] == 2, run.stdout
    left = by_key(api)
    assert ("legacy.example.com", "A", "198.51.100.1") not in left
    assert ("_acme-challenge.example.com", "TXT", "token-1") in left
    assert ("_acme-challenge.app.example.com", "TXT", "token-2") in left


def test_unmanaged_conflict_stops_unless_adopt(api, playbook):
    api.seed_records("example.com", [{"name": "app", "type": "A", "content": "198.51.100.9", "ttl": 1,
                                      "proxied": False}])
    run = converge(api, playbook)
    assert run.rc != 0 and "app.example.com" in run.stdout and "adopt" in run.stdout
    assert api.stats()["by_route"].get("POST /zones/{id}/dns_records/batch") is None
    run = converge(api, playbook, test_adopt=True)
    assert run.rc == 0 and run.changed == 1
    app = [r for r in api.records("example.com") if r["name"] == "app.example.com"]
    assert len(app) == 1 and app[0]["content"] == IP and app[0]["comment"] == MARK


def test_txt_quoting_does_not_flap(api, playbook):
    assert converge(api, playbook).rc == 0
    admin(api, "POST", "/settings", {"quote_txt": True})
    assert all(r["content"].startswith('"') for r in api.records("example.com") if r["type"] == "TXT")
    run = converge(api, playbook)
    assert run.rc == 0 and run.changed == 0, run.stdout
    # (the stand-in quotes like a zone file: a key over 255 bytes is split)
    dkim = [r for r in api.records("example.com") if r["name"] == "default._domainkey.example.com"][0]
    assert '" "' in dkim["content"]
    # A DKIM key stored split into 255-byte strings is the same record.
    admin(api, "POST", "/settings", {"quote_txt": False})
    raw = [r for r in api.records("example.com") if r["id"] == dkim["id"]][0]["content"]
    admin(api, "PATCH", "/zones/example.com/records/" + dkim["id"],
          {"content": '"%s" "%s"' % (raw[:255], raw[255:])})
    assert converge(api, playbook).changed == 0


def test_threshold_refuses_large_deletion_unless_forced(api, playbook):
    many = RECORDS + [{"name": "h%02d" % i, "type": "A", "content": IP, "ttl": 1, "proxied": True}
                      for i in range(12)]
    assert converge(api, playbook, records=many).rc == 0
    run = converge(api, playbook, records=RECORDS)
    assert run.rc != 0
    assert "zone example.com" in run.stdout and "delete 12 of 20" in run.stdout and "force" in run.stdout
    assert len(api.records("example.com")) == 20
    assert "POST /zones/{id}/dns_records/batch" not in api.stats()["by_route"]
    run = converge(api, playbook, records=RECORDS, test_force=True)
    assert run.rc == 0 and run.changed == 1
    assert len(api.records("example.com")) == len(RECORDS)


def test_bad_token_missing_zone_and_forbidden(api, playbook):
    run = playbook(MODULE, dict(module_vars(api), test_token="not-the-token-12345"))
    assert run.rc != 0 and "zone example.com" in run.stdout and "the API token is malformed" in run.stdout
    assert "6111: Invalid format for Authorization header" in run.stdout
    run = playbook(MODULE, dict(module_vars(api), test_token="N" * 40))
    assert run.rc != 0 and "the API token was rejected (HTTP 403, 9109: Invalid access token)" in run.stdout
    assert "N" * 40 not in run.stdout
    run = playbook(MODULE, dict(module_vars(api), test_zone="missing.example"))
    assert run.rc != 0 and "zone missing.example was not found" in run.stdout
    admin(api, "POST", "/faults", {"status": 403, "times": 1, "method": "POST", "path": "batch"})
    run = converge(api, playbook)
    assert run.rc != 0 and "permission refused (HTTP 403, 10000: Authentication error)" in run.stdout
    assert "zone example.com" in run.stdout and "app.example.com A" in run.stdout


def test_rate_limit_and_5xx_are_retried(api, playbook):
    admin(api, "POST", "/faults", {"status": 429, "times": 2, "method": "GET", "path": "dns_records"})
    admin(api, "POST", "/faults", {"status": 503, "times": 1, "method": "POST", "path": "batch"})
    run = converge(api, playbook)
    assert run.rc == 0 and run.changed == 1, run.stdout
    # lookup, listing (two 429s retried by the SDK), the batch (503: not
    # retried blindly), a re-listing showing nothing applied, the batch again
    assert api.stats()["requests"] == 1 + 3 + 1 + 1 + 1
    assert len(api.records("example.com")) == len(RECORDS)


def test_role_merges_zones_and_is_idempotent(api, playbook):
    zones = [{"zone": "example.com", "records": RECORDS[:3]},
             {"zone": "example.com", "records": RECORDS[3:]}]
    extra = {"cloudflare_dns_zones": zones, "cloudflare_dns_api_token": TOKEN,
             "cloudflare_dns_api_base_url": api.base_url}
    run = playbook(ROLE, extra, ["--check", "--diff"])
    assert run.rc == 0 and run.changed == 1 and api.records("example.com") == [], run.stdout
    assert playbook(ROLE, extra).changed == 1
    api.reset_stats()
    run = playbook(ROLE, extra)
    assert run.rc == 0 and run.changed == 0 and api.stats()["requests"] == 2
    assert TOKEN not in run.stdout


def test_role_rejects_bad_input(api, playbook):
    extra = {"cloudflare_dns_zones": [{"zone": "example.com", "records": [{"name": "x", "type": "BOGUS",
                                                                           "content": "y", "ttl": 1}]}],
             "cloudflare_dns_api_token": TOKEN, "cloudflare_dns_api_base_url": api.base_url}
    run = playbook(ROLE, extra)
    assert run.rc != 0 and "BOGUS" in run.stdout
    assert api.stats()["requests"] == 0


# playbooks/dns.yml starts with the registry validation play, which needs the
# VPS group and the vault: borrow them from the local inventory (validation
# never connects to the VPS).
LOCAL = ["-i", os.path.join(ROOT, "inventories", "local", "hosts.yml"),
         "--vault-password-file", os.path.join(ROOT, "inventories", "local", "vault-password.txt")]


def test_site_wiring_plan_apply_noop(playbook):
    """playbooks/dns.yml with the real group_vars wiring converges all six zones."""
    zones = ["igny8.com", "psydge.com", "snapify.pk", "alorig.com", "observeros.app", "astrotiming.com"]
    fake = FakeCloudflare(token=TOKEN, zones=zones).start()
    try:
        extra = {"vault_cloudflare_api_token": TOKEN, "cloudflare_dns_api_base_url": fake.base_url,
                 "alorig_vps_public_ipv4": IP}
        run = playbook(DNS_PLAYBOOK, extra, LOCAL + ["--check", "--diff"])
        assert run.rc == 0 and run.changed == 1, run.stdout + run.stderr
        assert "+*.sites.alorig.com 300 A 203.0.113.10 dns-only" in run.stdout
        assert sum(len(fake.records(z)) for z in zones) == 0
        assert playbook(DNS_PLAYBOOK, extra, LOCAL).rc == 0
        names = {r["name"] for z in zones for r in fake.records(z)}
        for host in ("igny8.com", "app.igny8.com", "staging-api.igny8.com", "*.igny8.com", "*.alorig.com",
                     "*.sites.alorig.com", "api.schools.alorig.com", "ws.psydge.com", "snapify.pk",
                     "observeros.app", "api.astrotiming.com"):
            assert host in names
        fake.reset_stats()
        run = playbook(DNS_PLAYBOOK, extra, LOCAL)
        assert run.rc == 0 and run.changed == 0, run.stdout
        assert fake.stats()["requests"] == 2 * len(zones)
    finally:
        fake.stop()
