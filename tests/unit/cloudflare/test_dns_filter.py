"""The wiring filter builds the role input from the registry."""

import os

import pytest
import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.alorig.platform.plugins.filter.dns import (dns_merge_zones, dns_registry_hosts,
                                                            dns_zones_from_registry)

from cfunit_support import ROOT


def registry():
    with open(os.path.join(ROOT, "group_vars", "all", "apps.yml")) as fh:
        apps = yaml.safe_load(fh)["alorig_apps"]
    with open(os.path.join(ROOT, "group_vars", "all", "platform.yml")) as fh:
        domains = yaml.safe_load(fh)["alorig_domains"]
    return domains, apps


def by_name(zones):
    return {z["zone"]: {(r["name"], r["type"]): r for r in z["records"]} for z in zones}


def test_every_route_host_apex_and_wildcard():
    domains, apps = registry()
    zones = by_name(dns_zones_from_registry(domains, apps, "203.0.113.10", ttl=300,
                                            wildcard_zones=["igny8.com", "alorig.com"], apex_zones=domains))
    assert set(zones) == set(domains)
    igny8 = zones["igny8.com"]
    for name in ("@", "app", "api", "staging-app", "staging-api", "*"):
        assert igny8[(name, "A")]["content"] == "203.0.113.10"
        assert igny8[(name, "A")]["proxied"] is True and igny8[(name, "A")]["ttl"] == 1
    alorig = zones["alorig.com"]
    # two labels below the apex: Universal SSL does not cover them -> DNS-only
    assert alorig[("*.sites", "A")]["proxied"] is False and alorig[("*.sites", "A")]["ttl"] == 300
    assert alorig[("api.schools", "A")]["proxied"] is False
    # allowlisted admin route must see client addresses -> DNS-only
    assert zones["snapify.pk"][("admin", "A")]["proxied"] is False


def test_disabled_app_has_no_records():
    domains, apps = registry()
    apps["astrotiming"]["enabled"] = False
    zones = by_name(dns_zones_from_registry(domains, apps, "203.0.113.10"))
    assert zones["astrotiming.com"] == {}


def test_mail_records_are_never_proxied():
    domains, apps = registry()
    mail = {"igny8.com": [
        {"name": "@", "type": "MX", "content": "mx1.mail.example", "priority": 10, "ttl": 3600},
        {"name": "mail", "type": "A", "content": "198.51.100.25", "proxied": True, "ttl": 3600},
        {"name": "_dmarc", "type": "TXT", "content": "v=DMARC1; p=none"}]}
    zones = by_name(dns_zones_from_registry(domains, apps, "203.0.113.10", ttl=300, mail_records=mail))
    assert zones["igny8.com"][("mail", "A")]["proxied"] is False
    assert zones["igny8.com"][("_dmarc", "TXT")]["ttl"] == 300
    assert "proxied" not in zones["igny8.com"][("@", "MX")]


def test_errors_are_clear():
    domains, apps = registry()
    with pytest.raises(AnsibleFilterError, match="not in alorig_domains"):
        dns_zones_from_registry(domains, apps, "203.0.113.10", extra_records={"other.org": []})
    apps["igny8"]["routes"].append({"host": "app.unknown.org"})
    with pytest.raises(AnsibleFilterError, match="app.unknown.org"):
        dns_zones_from_registry(domains, apps, "203.0.113.10")


def test_merge_zones():
    merged = dns_merge_zones([{"zone": "a.com", "records": [1]}, {"zone": "b.com", "records": []},
                              {"zone": "A.com.", "records": [2], "purge": True}])
    assert merged == [{"zone": "a.com", "records": [1, 2], "purge": True}, {"zone": "b.com", "records": []}]


def test_structured_mail_records_pass_through():
    domains, apps = registry()
    mail = {"igny8.com": [
        {"name": "_submission._tcp", "type": "SRV", "ttl": 3600,
         "data": {"priority": 0, "weight": 1, "port": 587, "target": "mail.igny8.com"}},
        {"name": "_25._tcp.mail", "type": "tlsa", "ttl": 3600,
         "data": {"usage": 3, "selector": 1, "matching_type": 1, "certificate": "ab"}}]}
    zones = by_name(dns_zones_from_registry(domains, apps, "203.0.113.10", mail_records=mail))
    srv = zones["igny8.com"][("_submission._tcp", "SRV")]
    assert srv["data"]["port"] == 587 and "proxied" not in srv and srv["comment"] == "mail"
    assert zones["igny8.com"][("_25._tcp.mail", "TLSA")]["type"] == "TLSA"
    with pytest.raises(AnsibleFilterError, match="type must be one of"):
        dns_zones_from_registry(domains, apps, "203.0.113.10", mail_records={"igny8.com": [
            {"name": "@", "type": "CAA", "data": {"flags": 0, "tag": "issue", "value": "x"}}]})


def test_registry_hosts_are_the_names_pointed_at_the_vps():
    domains, apps = registry()
    hosts = dns_registry_hosts(domains, apps, apex_zones=domains, wildcard_zones=["igny8.com"])
    assert set(hosts) == set(domains)
    assert {"@", "app", "api", "staging-app", "*"} <= set(hosts["igny8.com"])
    assert "*" not in hosts["psydge.com"] and "@" in hosts["psydge.com"]
    apps["astrotiming"]["enabled"] = False
    assert dns_registry_hosts(domains, apps)["astrotiming.com"] == []
