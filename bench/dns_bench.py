#!/usr/bin/env python3
"""Benchmark: alorig.platform.cloudflare_dns_zone vs community.general.cloudflare_dns.

Both converge the same zones (50 and 500 records; no-op and 10% changed)
against the same local Cloudflare API (harness/cloudflare_api/server.py on a
free loopback port) through ansible-playbook. Printed: wall time and the API
requests the server counted. Timings are printed, never asserted.

How community.general.cloudflare_dns reaches the local API: it hard-codes
``cf_api_endpoint = 'https://api.cloudflare.com/client/v4'`` as a class
attribute and has no option for it. The benchmark copies the module from the
installed collection into a temporary library directory, changing only that
one line to the local URL (plain http on 127.0.0.1), and runs the copy as
``cg_cloudflare_dns_local``. Everything else (request logic, pagination,
per-record lookups) is the upstream code of the pinned collection version.

It is used the way its documentation shows: one task per record (a loop),
``solo: true`` so that changing a value replaces the old record instead of
adding a second one (without solo, a changed A/TXT value creates a duplicate).

Usage: .venv/bin/python bench/dns_bench.py [--sizes 50,500] [--skip-general]
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "harness", "cloudflare_api"))

from server import FakeCloudflare  # noqa: E402

TOKEN = "bench-token-7d1e0a93c4-0123456789abcdefg"  # 40 characters, like a real token
MARK = "managed-by: alorig-ansible"
PLAYBOOK_BIN = os.path.join(ROOT, ".venv", "bin", "ansible-playbook")
UPSTREAM_LINE = "cf_api_endpoint = 'https://api.cloudflare.com/client/v4'"

MODULE_PLAY = """---
- name: Converge with alorig.platform.cloudflare_dns_zone
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Converge the zone
      alorig.platform.cloudflare_dns_zone:
        api_token: "{{ bench_token }}"
        api_base_url: "{{ bench_base_url }}"
        zone: "{{ bench_zone }}"
        records: "{{ bench_records }}"
        force: true
"""

GENERAL_PLAY = """---
- name: Converge with community.general.cloudflare_dns (one task per record)
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Converge one record
      cg_cloudflare_dns_local:
        api_token: "{{ bench_token }}"
        zone: "{{ bench_zone }}"
        record: "{{ item.name }}"
        type: "{{ item.type }}"
        value: "{{ item.content }}"
        ttl: "{{ item.ttl }}"
        proxied: "{{ item.proxied | default(false) }}"
        priority: "{{ item.priority | default(1) }}"
        solo: true
      loop: "{{ bench_records }}"
      loop_control:
        label: "{{ item.name }} {{ item.type }}"
"""


def make_records(size):
    records = []
    for i in range(size):
        if i % 10 == 0:
            records.append({"name": "t%03d" % i, "type": "TXT", "content": "verify-%03d" % i, "ttl": 300})
        elif i % 10 == 1:
            records.append({"name": "m%03d" % i, "type": "MX", "content": "mx%03d.mail.example.net" % i,
                            "priority": 10, "ttl": 300})
        else:
            records.append({"name": "h%03d" % i, "type": "A", "content": "203.0.113.%d" % (i % 250 + 1),
                            "ttl": 1, "proxied": True})
    return records


def make_typed_records(size):
    """Every record type the module supports in structured form, and IDN names."""
    records = []
    for i in range(size):
        kind = i % 10
        if kind == 0:
            records.append({"name": "_s%03d._tcp" % i, "type": "SRV", "ttl": 300,
                            "data": {"priority": 10, "weight": 5, "port": 1000 + i, "target": "srv.example.net"}})
        elif kind == 1:
            records.append({"name": "c%03d" % i, "type": "CAA", "ttl": 300,
                            "data": {"flags": 0, "tag": "issue", "value": "ca%03d.example.net" % i}})
        elif kind == 2:
            records.append({"name": "bücher-%03d" % i, "type": "A", "content": "203.0.113.%d" % (i % 250 + 1),
                            "ttl": 1, "proxied": True})
        elif kind == 3:
            records.append({"name": "t%03d" % i, "type": "TXT", "content": "verify-%03d" % i, "ttl": 300})
        else:
            records.append({"name": "h%03d" % i, "type": "A", "content": "203.0.113.%d" % (i % 250 + 1),
                            "ttl": 1, "proxied": True})
    return records


def changed_records(records, share=0.1):
    out = [dict(r) for r in records]
    step = int(round(1 / share))
    for i in range(0, len(out), step):
        rec = out[i + 2] if i + 2 < len(out) else out[i]
        if rec["type"] == "A":
            rec["content"] = "198.51.100.%d" % (i % 250 + 1)
        elif rec["type"] == "TXT":
            rec["content"] += "-v2"
        elif rec["type"] == "SRV":
            rec["data"] = dict(rec["data"], port=rec["data"]["port"] + 1)
        elif rec["type"] == "CAA":
            rec["data"] = dict(rec["data"], value="new-" + rec["data"]["value"])
        else:
            rec["content"] = "new-" + rec["content"]
    return out


def server_form(records, zone, marker):
    out = []
    for rec in records:
        rec = dict(rec)
        rec["name"] = rec["name"] + "." + zone
        if marker:
            rec["comment"] = marker
        out.append(rec)
    return out


def ascii_name(name):
    return ".".join(label.encode("idna").decode() if not label.isascii() else label for label in name.split("."))


def value(rec):
    if rec.get("data") is not None:
        return tuple(sorted((k, str(v)) for k, v in rec["data"].items()))
    return rec["content"]


def patched_general_module(workdir):
    import ansible_collections.community.general.plugins.modules.cloudflare_dns as upstream
    source = open(upstream.__file__, encoding="utf-8").read()
    if source.count(UPSTREAM_LINE) != 1:
        raise SystemExit("community.general.cloudflare_dns no longer has the endpoint line; update the benchmark")
    libdir = os.path.join(workdir, "library")
    os.makedirs(libdir, exist_ok=True)
    return libdir, source


def run_playbook(play, extra, env, workdir):
    vars_file = os.path.join(workdir, "vars.json")
    with open(vars_file, "w", encoding="utf-8") as handle:
        json.dump(extra, handle)
    cmd = [PLAYBOOK_BIN, "-i", "localhost,", "-c", "local", "-e", "ansible_python_interpreter=" + sys.executable,
           "-e", "@" + vars_file, play]
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    wall = time.monotonic() - started
    recap = re.search(r"ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", proc.stdout)
    if proc.returncode != 0 or not recap:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit("playbook failed: %s" % play)
    return wall, int(recap.group(2))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="50,500")
    parser.add_argument("--skip-general", action="store_true", help="only benchmark the alorig module")
    parser.add_argument("--skip-typed", action="store_true", help="skip the SRV/CAA/IDN zone of the alorig module")
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]

    api = FakeCloudflare(token=TOKEN).start()
    workdir = tempfile.mkdtemp(prefix="alorig-dns-bench-")
    module_play = os.path.join(workdir, "module.yml")
    general_play = os.path.join(workdir, "general.yml")
    open(module_play, "w").write(MODULE_PLAY)
    open(general_play, "w").write(GENERAL_PLAY)
    libdir, source = patched_general_module(workdir)
    with open(os.path.join(libdir, "cg_cloudflare_dns_local.py"), "w", encoding="utf-8") as handle:
        handle.write(source.replace(UPSTREAM_LINE, "cf_api_endpoint = '%s'" % api.base_url))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_LIBRARY=libdir,
               ANSIBLE_NOCOLOR="1")
    for key in ("CLOUDFLARE_API_TOKEN", "CLOUDFLARE_API_KEY", "CLOUDFLARE_EMAIL", "CLOUDFLARE_TOKEN"):
        env.pop(key, None)

    tools = [("alorig.platform.cloudflare_dns_zone", module_play, MARK)]
    if not args.skip_general:
        tools.append(("community.general.cloudflare_dns", general_play, None))
    rows = []
    try:
        for size in sizes:
            zone = "bench%d.example" % size
            api.add_zone(zone)
            base = make_records(size)
            changed = changed_records(base)
            runs = [(tool, play, marker, base, changed) for tool, play, marker in tools]
            if not args.skip_typed:
                typed = make_typed_records(size)
                runs.insert(1, ("alorig ... (SRV, CAA, IDN names)", module_play, MARK, typed, changed_records(typed)))
            for tool, play, marker, base, changed in runs:
                for scenario, desired in (("no-op", base), ("10% changed", changed)):
                    api.seed_records(zone, server_form(base, zone, marker), replace=True)
                    api.reset_stats()
                    extra = {"bench_token": TOKEN, "bench_base_url": api.base_url, "bench_zone": zone,
                             "bench_records": desired}
                    wall, changed_tasks = run_playbook(play, extra, env, workdir)
                    stats = api.stats()
                    wanted = sorted((ascii_name(r["name"] + "." + zone), r["type"], value(r)) for r in desired)
                    have = sorted((r["name"], r["type"], value(r)) for r in api.records(zone))
                    correct = "yes" if wanted == have else "NO (%d records, %d wanted)" % (len(have), len(wanted))
                    rows.append({"tool": tool, "records": size, "scenario": scenario, "wall_s": round(wall, 2),
                                 "api_requests": stats["requests"], "changed_tasks": changed_tasks,
                                 "zone_matches": correct, "by_route": stats["by_route"]})
                    print("%-38s %5d %-12s %8.2f s %7d requests  zone matches: %s"
                          % (tool, size, scenario, wall, stats["requests"], correct), flush=True)
    finally:
        api.stop()

    print()
    print("| tool | records | scenario | wall time (s) | API requests | zone matches |")
    print("|---|---:|---|---:|---:|---|")
    for row in rows:
        print("| %s | %d | %s | %.2f | %d | %s |" % (row["tool"], row["records"], row["scenario"], row["wall_s"],
                                                    row["api_requests"], row["zone_matches"]))
    print()
    print("Cloudflare allows 1200 requests per 5 minutes per user.")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(rows, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
