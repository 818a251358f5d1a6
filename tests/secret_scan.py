#!/usr/bin/env python3
"""Scan logs and process-list samples for the vault's secret values.

    secret_scan.py scan --vault FILE --password-file FILE LOG...
        Every value of the vault (strings of 8+ characters, nested ones included), and the
        URL-encoded and SHA-256 forms the platform derives from them, searched in each LOG.
        Lines starting with "<host> EXEC" or "ESTABLISH"/"PUT" (the -vvv command lines) are
        reported as "argv" findings. Prints the secret's NAME, the file and the line number,
        never the value; exits 1 on any finding.

    secret_scan.py sample --container NAME --out FILE [--interval 0.2]
        Appends the argument list of every process of a container (``docker exec NAME ps``)
        to FILE until it receives SIGTERM: run it in the background during a converge, then
        scan FILE.
"""

import argparse
import hashlib
import os
import signal
import subprocess
import sys
import time
import urllib.parse

import yaml


def vault_values(vault_file, password_file):
    vault_cli = os.path.join(os.path.dirname(sys.executable), "ansible-vault")
    if not os.path.exists(vault_cli):
        vault_cli = "ansible-vault"
    text = subprocess.run([vault_cli, "view", "--vault-password-file", password_file,
                           vault_file], check=True, capture_output=True, text=True).stdout
    data = yaml.safe_load(text) or {}
    found = {}

    def walk(prefix, value):
        if isinstance(value, dict):
            for key, sub in value.items():
                walk("%s.%s" % (prefix, key) if prefix else str(key), sub)
        elif isinstance(value, str) and len(value) >= 8:
            found[prefix] = value

    walk("", data)
    forms = {}
    for name, value in found.items():
        forms[value] = name
        # a multi-line secret (an SSH key) leaks line by line too
        if "\n" in value.strip():
            for number, line in enumerate(value.strip().splitlines(), 1):
                line = line.strip()
                if len(line) >= 16 and not line.startswith("-----"):
                    forms[line] = "%s (line %d)" % (name, number)
        encoded = urllib.parse.quote(value, safe="")
        if encoded != value:
            forms[encoded] = name + " (URL-encoded)"
    return forms


def scan(paths, forms):
    findings = []
    for path in paths:
        with open(path, errors="replace") as handle:
            for number, line in enumerate(handle, 1):
                for value, name in forms.items():
                    if value in line:
                        where = "argv" if (" EXEC " in line or "ESTABLISH" in line
                                           or line.startswith("ps:")) else "output"
                        findings.append((path, number, name, where))
    return findings


def sample(container, out, interval):
    running = [True]

    def stop(*_args):
        running[0] = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    count = 0
    with open(out, "a") as handle:
        while running[0]:
            proc = subprocess.run(["docker", "exec", container, "ps", "-eo", "args", "--no-headers"],
                                  capture_output=True, text=True)
            for line in proc.stdout.splitlines():
                handle.write("ps: %s\n" % line)
            handle.flush()
            count += 1
            time.sleep(interval)
    print("sampled the process list %d times" % count)


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("scan")
    s.add_argument("--vault", required=True)
    s.add_argument("--password-file", required=True)
    s.add_argument("logs", nargs="+")
    p = sub.add_parser("sample")
    p.add_argument("--container", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--interval", type=float, default=0.2)
    args = parser.parse_args()
    if args.cmd == "sample":
        sample(args.container, args.out, args.interval)
        return 0
    forms = vault_values(args.vault, args.password_file)
    findings = scan(args.logs, forms)
    names = sorted(set(n for v, n in forms.items()))
    print("scanned %d files for %d secret values (%d forms)" % (len(args.logs), len(names), len(forms)))
    for path, number, name, where in findings:
        print("LEAK (%s): %s in %s line %d" % (where, name, path, number))
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
