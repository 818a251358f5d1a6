"""site.yml's DNS play converged the scenario's local Cloudflare API.

The scenario's stand-in listens on 127.0.0.1:8791 (molecule/default/host_vars);
its /__admin endpoints read the stored records without counting requests.
"""

import json
import urllib.request
from pathlib import Path

import yaml

ADMIN = "http://127.0.0.1:8791/__admin"
ROOT = Path(__file__).resolve().parents[3]
VPS_IPV4 = "127.0.0.1"  # inventories/local/group_vars/all/main.yml


def _records(zone):
    with urllib.request.urlopen(f"{ADMIN}/zones/{zone}/records", timeout=10) as resp:
        body = json.load(resp)
    return body["result"] if isinstance(body, dict) else body


def _route_hosts():
    apps = yaml.safe_load((ROOT / "group_vars/all/apps.yml").read_text())["alorig_apps"]
    return {r["host"] for a in apps.values() if a["enabled"] for r in a["routes"]}


def test_every_route_host_has_an_a_record_to_the_vps():
    zones = yaml.safe_load((ROOT / "group_vars/all/platform.yml").read_text())["alorig_domains"]
    a_records = {}
    for zone in zones:
        for rec in _records(zone):
            if rec["type"] == "A":
                a_records[rec["name"]] = rec["content"]
    missing = sorted(h for h in _route_hosts() if h not in a_records)
    assert not missing
    assert {a_records[h] for h in _route_hosts()} == {VPS_IPV4}


def test_records_carry_the_ownership_marker():
    for rec in _records("psydge.com"):
        assert "managed-by: alorig-ansible" in (rec.get("comment") or "")
