"""Integration: the role's plan across zones, and playbooks/dns_import.yml, with ansible-playbook.

The stand-in runs on a free loopback port; nothing leaves 127.0.0.1.
"""

import os

import yaml

from cfdns_support import HERE, ROOT, TOKEN, FakeCloudflare

ROLE = os.path.join(HERE, "playbooks", "role.yml")
IMPORT = os.path.join(ROOT, "playbooks", "dns_import.yml")
LOCAL = ["-i", os.path.join(ROOT, "inventories", "local", "hosts.yml"),
         "--vault-password-file", os.path.join(ROOT, "inventories", "local", "vault-password.txt")]
IP = "203.0.113.10"
MARK = "managed-by: alorig-ansible"


def hosts(zone, count):
    return {"zone": zone, "records": [{"name": "h%d" % i, "type": "A", "content": IP, "ttl": 1, "proxied": True}
                                      for i in range(count)]}


def test_one_plan_for_every_zone_and_a_run_threshold(playbook):
    zones = ["a.test", "b.test", "c.test"]
    fake = FakeCloudflare(token=TOKEN, zones=zones).start()
    try:
        base = {"cloudflare_dns_api_token": TOKEN, "cloudflare_dns_api_base_url": fake.base_url}
        full = dict(base, cloudflare_dns_zones=[hosts(z, 5) for z in zones])
        plan = playbook(ROLE, full, ["--check", "--diff"])
        assert plan.rc == 0 and plan.changed == 1, plan.stdout
        for zone in zones:  # one task, every zone's plan
            assert "+++ after: zone %s (planned)" % zone in plan.stdout
            assert "%s: +5 ~0 -0" % zone in plan.stdout
        assert sum(len(fake.records(z)) for z in zones) == 0
        assert playbook(ROLE, full).changed == 1
        # Two zones emptied: each is below cloudflare_dns_min_records_for_ratio
        # (exempt per zone), but 10 of the run's 15 records would go.
        emptied = dict(base, cloudflare_dns_zones=[{"zone": "a.test", "records": []},
                                                   {"zone": "b.test", "records": []}, hosts("c.test", 5)])
        run = playbook(ROLE, emptied)
        assert run.rc != 0, run.stdout
        assert "this run would update 0 and delete 10 of the 15 existing records of its 3 zones" in run.stdout
        assert "nothing was changed in any zone" in run.stdout
        assert len(fake.records("a.test")) == 5
        run = playbook(ROLE, dict(emptied, cloudflare_dns_run_max_change_ratio=1))
        assert run.rc == 0 and run.changed == 1, run.stdout
        assert fake.records("a.test") == [] and len(fake.records("c.test")) == 5
        assert TOKEN not in run.stdout
    finally:
        fake.stop()


ZONE_FILE = """$ORIGIN igny8.com.
$TTL 3600
@   IN SOA ns1.oldhost.example. hostmaster.igny8.com. ( 2024010101 7200 3600 1209600 300 )
@   IN NS  ns1.oldhost.example.
@   IN A   198.51.100.20
app IN A   198.51.100.20
@   IN MX 10 mx1.mailhost.example.
@   IN TXT "v=spf1 a mx include:_spf.mailhost.example ~all"
default._domainkey IN TXT ( "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAx%s" "%sIDAQAB" )
_dmarc IN TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc@igny8.com"
_submission._tcp IN SRV 0 1 587 mail.igny8.com.
mail IN A 198.51.100.25
@ IN CAA 0 issue "letsencrypt.org"
_acme-challenge IN TXT "token"
""" % ("Q" * 150, "R" * 150)


def test_import_playbook_bind_and_cloudflare_then_converge(playbook, tmp_path):
    fake = FakeCloudflare(token=TOKEN, zones=["igny8.com"]).start()
    try:
        zone_file = tmp_path / "igny8.com.zone"
        zone_file.write_text(ZONE_FILE)
        dest = tmp_path / "imported.yml"
        extra = {"dns_import_zone": "igny8.com", "dns_import_bind_file": str(zone_file), "dns_import_dest": str(dest)}
        check = playbook(IMPORT, extra, LOCAL + ["--check"])
        assert check.rc == 0 and check.changed == 1 and not dest.exists(), check.stdout
        run = playbook(IMPORT, extra, LOCAL)
        assert run.rc == 0 and run.changed == 1, run.stdout + run.stderr
        assert "mail records: 6, other records: 1" in run.stdout
        imported = yaml.safe_load(dest.read_text())
        mail = imported["alorig_dns_mail_records"]["igny8.com"]
        extra_records = imported["alorig_dns_extra_records"]["igny8.com"]
        assert sorted(r["type"] for r in mail) == ["A", "MX", "SRV", "TXT", "TXT", "TXT"]
        assert extra_records == [{"name": "@", "type": "CAA", "ttl": 3600,
                                  "data": {"flags": 0, "tag": "issue", "value": "letsencrypt.org"}}]
        text = dest.read_text()
        assert "the registry points @ at the VPS" in text and "the registry points app at the VPS" in text
        assert playbook(IMPORT, extra, LOCAL).changed == 0

        # Converge the imported records: the first run creates them, the next changes nothing.
        role_vars = {"cloudflare_dns_api_token": TOKEN, "cloudflare_dns_api_base_url": fake.base_url,
                     "cloudflare_dns_zones": [{"zone": "igny8.com", "records": mail + extra_records}]}
        assert playbook(ROLE, role_vars).changed == 1
        again = playbook(ROLE, role_vars)
        assert again.rc == 0 and again.changed == 0, again.stdout

        # The same zone read back from Cloudflare gives the same declaration.
        back = tmp_path / "back.yml"
        run = playbook(IMPORT, {"dns_import_zone": "igny8.com", "dns_import_dest": str(back),
                                "vault_cloudflare_api_token": TOKEN, "cloudflare_dns_api_base_url": fake.base_url},
                       LOCAL)
        assert run.rc == 0, run.stdout + run.stderr
        assert TOKEN not in run.stdout
        reread = yaml.safe_load(back.read_text())
        assert reread["alorig_dns_mail_records"] == imported["alorig_dns_mail_records"]
        assert reread["alorig_dns_extra_records"] == imported["alorig_dns_extra_records"]
        assert "# igny8.com: Cloudflare zone" in back.read_text()
    finally:
        fake.stop()


def test_import_playbook_rejects_a_zone_outside_the_registry(playbook, tmp_path):
    run = playbook(IMPORT, {"dns_import_zone": "other.org", "dns_import_dest": str(tmp_path / "x.yml")}, LOCAL)
    assert run.rc != 0 and "every zone must be one of alorig_domains" in run.stdout
    assert not (tmp_path / "x.yml").exists()
