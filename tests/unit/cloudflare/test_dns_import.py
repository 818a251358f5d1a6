"""The DNS import: BIND zone files and Cloudflare zones -> declared records, and back.

The round trips converge the imported records with the module against the
stand-in, on a zone seeded with the same records by code independent of the
import (dnspython read directly here, records posted through the public API).
"""

import os

import dns.rdatatype
import dns.zone
import pytest
import yaml
from yamllint import config as yamllint_config
from yamllint import linter

from ansible.module_utils.testing import patch_module_args

from ansible_collections.alorig.platform.plugins.filter.dns import dns_zones_from_registry
from ansible_collections.alorig.platform.plugins.module_utils import dns_import as imp
from ansible_collections.alorig.platform.plugins.modules import cloudflare_dns_import, cloudflare_dns_zone

from cfunit_support import ROOT, TOKEN

MARK = "managed-by: alorig-ansible"
ZONE = "example.com"
REGISTRY = ["@", "app", "api", "*"]
ZONE_FILE = r"""
$ORIGIN example.com.
$TTL 3600
@   IN SOA ns1.oldhost.example. hostmaster.example.com. ( 2024010101 7200 3600 1209600 300 )
@   IN NS  ns1.oldhost.example.
@   IN NS  ns2.oldhost.example.
@   IN A   198.51.100.20
app IN A   198.51.100.20
api 300 IN A 198.51.100.20
www IN CNAME example.com.
@   IN MX 10 mx1.mailhost.example.
@   IN MX 20 mx2.mailhost.example.
@   IN TXT "v=spf1 a mx include:_spf.mailhost.example ~all"
@   IN TXT "google-site-verification=abc123"
default._domainkey IN TXT ( "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAx%s"
  "%sIDAQAB" )
selector1._domainkey IN CNAME selector1-example-com._domainkey.tenant.mailhost.example.
_dmarc IN TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com"
_smtp._tls IN TXT "v=TLSRPTv1; rua=mailto:tls@example.com"
mail 30 IN A 198.51.100.25
autodiscover IN CNAME autodiscover.mailhost.example.
_submission._tcp IN SRV 0 1 587 mail.example.com.
_imaps._tcp IN SRV 0 1 993 mail.example.com.
_sip._tcp IN SRV 10 5 5060 sip.example.com.
@ IN CAA 0 issue "letsencrypt.org"
@ IN CAA 0 iodef "mailto:security@example.com"
_25._tcp.mail IN TLSA 3 1 1 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
sub IN NS ns1.delegated.example.
sub IN DS 2371 13 2 1F987CC6583E92DF0890718C42B7DBB5EA1E7A3BB2B1E0F6E7E2F7F8A9B0C1D2
xn--bcher-kva IN A 198.51.100.30
_acme-challenge IN TXT "token"
@ IN HINFO "x86" "Linux"
""" % ("X" * 150, "Y" * 150)


def parse():
    records, skipped = imp.records_from_bind(ZONE_FILE, ZONE)
    return imp.declare(records, skipped, ZONE, REGISTRY)


def names(records):
    return sorted("%s %s" % (r["name"], r["type"]) for r in records)


def test_bind_file_is_sorted_into_mail_extra_registry_and_skipped():
    result = parse()
    assert names(result["mail"]) == [
        "@ MX", "@ MX", "@ TXT", "_25._tcp.mail TLSA", "_dmarc TXT", "_imaps._tcp SRV", "_smtp._tls TXT",
        "_submission._tcp SRV", "autodiscover CNAME", "default._domainkey TXT", "mail A",
        "selector1._domainkey CNAME"]
    assert names(result["extra"]) == ["@ CAA", "@ CAA", "@ TXT", "_sip._tcp SRV", "sub DS", "sub NS", "www CNAME",
                                      "xn--bcher-kva A"]
    assert [line.split(":")[0] for line in result["replaced"]] == [
        "example.com 3600 A 198.51.100.20", "api.example.com 300 A 198.51.100.20", "app.example.com 3600 A 198.51.100.20"]
    reasons = {line.split(" ")[2]: line for line in result["skipped"]}
    assert "Cloudflare serves its own SOA" in reasons["SOA"]
    assert "nameservers become Cloudflare's" in reasons["NS"]
    assert "type HINFO is not managed" in reasons["HINFO"]
    assert "_acme-challenge records are made by the certificate issuer" in reasons["TXT"]
    assert result["notes"] == ["mail.example.com 30 A 198.51.100.25: ttl 30 raised to 60 (the lowest Cloudflare "
                               "accepts)"]
    dkim = [r for r in result["mail"] if r["name"] == "default._domainkey"][0]
    assert dkim["content"].endswith("X" * 150 + "Y" * 150 + "IDAQAB") and '"' not in dkim["content"]
    srv = [r for r in result["mail"] if r["name"] == "_submission._tcp"][0]
    assert srv == {"name": "_submission._tcp", "type": "SRV", "ttl": 3600,
                   "data": {"priority": 0, "weight": 1, "port": 587, "target": "mail.example.com"}}
    tlsa = [r for r in result["mail"] if r["type"] == "TLSA"][0]
    assert tlsa["data"]["certificate"] == "0123456789abcdef" * 4


def test_the_yaml_file_is_lint_clean_and_loads_back_exactly():
    result = parse()
    text = imp.render_yaml([(ZONE, "BIND zone file example.com.zone", result)])
    conf = yamllint_config.YamlLintConfig(file=os.path.join(ROOT, ".yamllint"))
    problems = list(linter.run(text, conf))
    assert problems == []
    loaded = yaml.safe_load(text)
    assert loaded["alorig_dns_mail_records"][ZONE] == result["mail"]
    assert loaded["alorig_dns_extra_records"][ZONE] == result["extra"]
    assert max(len(line) for line in text.splitlines()) <= 160
    assert "#   api.example.com 300 A 198.51.100.20: the registry points api at the VPS" in text


def test_unparsable_zone_file_is_a_clear_error():
    with pytest.raises(imp.ZoneImportError, match="zone example.com: the zone file cannot be parsed"):
        imp.records_from_bind("@ IN A not-an-address\n", ZONE)


# --------------------------------------------------------------- the module
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

    for module in (cloudflare_dns_import, cloudflare_dns_zone):
        monkeypatch.setattr(module.AnsibleModule, "exit_json", exit_json)
        monkeypatch.setattr(module.AnsibleModule, "fail_json", fail_json)
    monkeypatch.setattr(cloudflare_dns_zone.AnsibleModule, "warn", lambda self, msg: None)


def call(main, args, check=False):
    args = dict(args, _ansible_check_mode=check)
    with patch_module_args(args):
        with pytest.raises(Exit) as exc:
            main()
    return exc.value


def import_bind(tmp_path, check=False, dest="imported.yml"):
    zone_file = tmp_path / "example.com.zone"
    zone_file.write_text(ZONE_FILE)
    return call(cloudflare_dns_import.main, dict(zones=[{"zone": ZONE, "bind_file": str(zone_file)}],
                                                 registry_hosts={ZONE: REGISTRY},
                                                 dest=str(tmp_path / dest)), check=check)


def test_module_writes_the_file_once(tmp_path):
    out = import_bind(tmp_path, check=True)
    assert out.result["changed"] and not (tmp_path / "imported.yml").exists()
    out = import_bind(tmp_path)
    assert not out.failed and out.result["changed"]
    assert yaml.safe_load((tmp_path / "imported.yml").read_text())["alorig_dns_mail_records"] == \
        out.result["mail_records"]
    assert oct((tmp_path / "imported.yml").stat().st_mode & 0o777) == "0o644"
    assert not import_bind(tmp_path).result["changed"]


def test_module_reports_a_missing_file(tmp_path):
    out = call(cloudflare_dns_import.main, dict(zones=[{"zone": ZONE, "bind_file": str(tmp_path / "nope")}]))
    assert out.failed and "zone example.com: cannot read the zone file" in out.result["msg"]


def declared_zone(mail, extra):
    """The records the role would converge for the zone (the group_vars wiring, no app hosts)."""
    (entry,) = dns_zones_from_registry([ZONE], {}, "203.0.113.10", ttl=300, wildcard_zones=[], apex_zones=[],
                                       mail_records={ZONE: mail}, extra_records={ZONE: extra})
    return entry["records"]


def seed_from_zone_file(api):
    """The zone as Cloudflare would hold it after importing the old zone: the
    same records, unmanaged, created through the public API (validated)."""
    parsed = dns.zone.from_text(ZONE_FILE, origin=ZONE + ".", relativize=False)
    posts = []
    for name, ttl, rdata in parsed.iterate_rdatas():
        rtype = dns.rdatatype.to_text(rdata.rdtype)
        fqdn = name.to_text(True)
        body = {"name": fqdn, "type": rtype, "ttl": max(ttl, 60)}
        if rtype in ("A", "AAAA"):
            body.update(content=rdata.address, proxied=False)
        elif rtype == "CNAME":
            body.update(content=rdata.target.to_text(True), proxied=False)
        elif rtype == "NS" and fqdn != ZONE:
            body.update(content=rdata.target.to_text(True))
        elif rtype == "MX":
            body.update(content=rdata.exchange.to_text(True), priority=rdata.preference)
        elif rtype == "TXT":
            body.update(content=" ".join('"%s"' % s.decode() for s in rdata.strings))
        elif rtype == "SRV":
            body.update(data={"priority": rdata.priority, "weight": rdata.weight, "port": rdata.port,
                              "target": rdata.target.to_text(True)})
        elif rtype == "CAA":
            body.update(data={"flags": rdata.flags, "tag": rdata.tag.decode(), "value": rdata.value.decode()})
        elif rtype == "TLSA":
            body.update(data={"usage": rdata.usage, "selector": rdata.selector, "matching_type": rdata.mtype,
                              "certificate": rdata.cert.hex().upper()})
        elif rtype == "DS":
            body.update(data={"key_tag": rdata.key_tag, "algorithm": rdata.algorithm, "digest_type": rdata.digest_type,
                              "digest": rdata.digest.hex().upper()})
        else:
            continue  # SOA, apex NS, HINFO: Cloudflare does not hold them
        posts.append(body)
    from cloudflare import Cloudflare
    client = Cloudflare(api_token=TOKEN, base_url=api.base_url, max_retries=0)
    client.api_key = client.api_email = None
    zone_id = client.zones.list(name=ZONE).result[0].id
    client.dns.records.batch(zone_id=zone_id, posts=posts)
    return len(posts)


def converge(api, records, **kw):
    args = dict(api_token=TOKEN, api_base_url=api.base_url, zone=ZONE, records=records)
    args.update(kw)
    return call(cloudflare_dns_zone.main, args)


def visible(api):
    """What resolvers see: everything but comments and ids."""
    return sorted((r["name"], r["type"], r["content"], r["ttl"], r.get("priority"), r["proxied"])
                  for r in api.records(ZONE))


def test_round_trip_bind_import_then_converge_changes_nothing_dns_serves(fake_api, tmp_path):
    seeded = seed_from_zone_file(fake_api)
    before = visible(fake_api)
    result = import_bind(tmp_path).result
    records = declared_zone(result["mail_records"][ZONE], result["extra_records"][ZONE])
    out = converge(fake_api, records, adopt=True)
    assert not out.failed, out.result.get("msg")
    counts = out.result["counts"]
    assert counts["create"] == counts["delete"] == 0, out.result["plan"]
    assert counts["update"] == len(records)  # the owner marker is added ...
    assert {tuple(u["fields"]) for u in out.result["plan"]["update"]} == {("comment",)}  # ... and nothing else
    assert counts["unmanaged"] + counts["ignored"] == seeded - len(records)  # registry hosts, _acme-challenge
    assert visible(fake_api) == before
    again = converge(fake_api, records, adopt=True)
    assert not again.result["changed"] and again.result["counts"]["unchanged"] == len(records)


def test_round_trip_a_converged_zone_imports_to_the_same_declaration(fake_api, tmp_path):
    result = import_bind(tmp_path).result
    mail, extra = result["mail_records"][ZONE], result["extra_records"][ZONE]
    assert converge(fake_api, declared_zone(mail, extra)).result["changed"]
    fake_api.seed_records(ZONE, [{"name": "app", "type": "A", "content": "203.0.113.10", "ttl": 1, "proxied": True,
                                  "comment": "app igny8 | " + MARK}])
    back = call(cloudflare_dns_import.main, dict(zones=[{"zone": ZONE}], api_token=TOKEN, api_base_url=fake_api.base_url,
                                                registry_hosts={ZONE: REGISTRY}, dest=str(tmp_path / "back.yml")))
    assert not back.failed, back.result.get("msg")
    assert back.result["api_requests"] == 2
    mail_back, extra_back = back.result["mail_records"][ZONE], back.result["extra_records"][ZONE]
    assert all(r.pop("comment") == "mail" for r in mail_back)
    assert all(r.pop("comment") == "extra" for r in extra_back)
    assert sorted(map(repr, mail_back)) == sorted(map(repr, mail))
    assert sorted(map(repr, extra_back)) == sorted(map(repr, extra))
    assert any(line.startswith("example.com: app.example.com 1 A 203.0.113.10") for line in back.result["replaced"])
    app = {"name": "app", "type": "A", "content": "203.0.113.10", "ttl": 1, "proxied": True, "comment": "app igny8"}
    out = converge(fake_api, declared_zone(mail_back, extra_back) + [app])
    assert not out.failed and not out.result["changed"], out.result["plan"]
