"""Production parity of Caddy: the version, and the production Caddyfile branch.

Production builds Caddy `caddy_build_version` with xcaddy and the caddy-dns/cloudflare
module (roles/caddy/files/Dockerfile). The tests run the `caddy:2` stand-in, Debian's build
of Caddy (harness/images/caddy). These tests check:
  * the stand-in runs exactly the version production pins (the directives the templates use
    are then those of production's Caddy);
  * the production Caddyfile (dns_cloudflare, wildcard sites, `acme_dns cloudflare
    {env.CF_API_TOKEN}`), rendered with the real registry, passes `caddy validate` of the
    stand-in binary with only the DNS provider missing: unmodified it fails on exactly the
    module `dns.providers.cloudflare`, and without its one `acme_dns` line it is valid.
    (A stand-in module could not be compiled in: see the README, "Caddy in tests".)
Only throwaway containers with --network none are started.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CADDY_IMAGE = "caddy:2"
ACME_DNS_LINE = "\tacme_dns cloudflare {env.CF_API_TOKEN}\n"
# a token of the classic Cloudflare format (40 characters), never sent anywhere
FAKE_TOKEN = "A" * 40


def caddy(*args: str, mount: Path | None = None) -> subprocess.CompletedProcess:
    opts = ["--rm", "--network", "none", "-e", f"CF_API_TOKEN={FAKE_TOKEN}"]
    if mount:
        opts += ["-v", f"{mount}:/etc/caddy/Caddyfile:ro"]
    return subprocess.run(["docker", "run", *opts, CADDY_IMAGE, "caddy", *args],
                          capture_output=True, text=True, timeout=120, check=False)


def validate(path: Path) -> subprocess.CompletedProcess:
    return caddy("validate", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile", mount=path)


@pytest.fixture(scope="module")
def production_caddyfile(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("caddy") / "Caddyfile"
    # The production vault is not in the repository: production-grade stand-in
    # values for everything the registry model reads (none reaches the Caddyfile).
    sys.path.insert(0, str(REPO / "tests"))
    from registry_cases import base_variables  # noqa: E402
    variables = base_variables()
    secrets = out.parent / "vault.json"
    secrets.write_text(json.dumps({k: v for k, v in variables.items()
                                   if k.startswith("vault_") or k == "alorig_vps_public_ipv4"}))
    secrets.chmod(0o600)
    res = subprocess.run(
        [str(REPO / ".venv/bin/ansible-playbook"), "-i", str(REPO / "inventories/production"),
         str(REPO / "tests/harness/playbooks/render_production_caddyfile.yml"), "-e", f"out={out}",
         "-e", f"@{secrets}"],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    out.chmod(0o644)
    return out


def test_standin_runs_the_version_production_pins():
    pinned = yaml.safe_load((REPO / "roles/caddy/defaults/main.yml").read_text())["caddy_build_version"]
    dockerfile = (REPO / "roles/caddy/files/Dockerfile").read_text()
    assert f"ARG CADDY_VERSION={pinned}\n" in dockerfile
    version = caddy("version").stdout.split()[0]
    assert version.lstrip("v") == pinned


def test_production_caddyfile_uses_the_production_tls_branch(production_caddyfile):
    text = production_caddyfile.read_text()
    assert text.count(ACME_DNS_LINE) == 1
    # 2.11 removed `auto_https prefer_wildcard` (a managed wildcard is preferred by default)
    assert "prefer_wildcard" not in text
    assert "local_certs" not in text
    zones = yaml.safe_load((REPO / "group_vars/all/platform.yml").read_text())["alorig_domains"]
    for zone in zones:
        assert re.search(rf"^\*\.{re.escape(zone)} {{$", text, re.M), zone
    # the real module's grammar: `cloudflare <api_token>` (one argument)
    assert re.search(r"^\tacme_dns cloudflare \S+$", text, re.M)


def test_only_the_dns_provider_module_is_missing_from_the_standin(production_caddyfile):
    res = validate(production_caddyfile)
    assert res.returncode != 0
    err = res.stdout + res.stderr
    assert "dns.providers.cloudflare" in err, err[-2000:]
    assert "module not registered" in err, err[-2000:]


def test_production_caddyfile_is_valid_without_its_acme_dns_line(production_caddyfile, tmp_path):
    stripped = tmp_path / "Caddyfile"
    stripped.write_text(production_caddyfile.read_text().replace(ACME_DNS_LINE, "", 1))
    stripped.chmod(0o644)
    res = validate(stripped)
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]


def test_validate_catches_a_directive_the_version_lacks(tmp_path):
    """The check above can fail: `auto_https prefer_wildcard` (Caddy 2.9-2.10, which the
    template used until the pin to 2.11) is refused by the pinned version."""
    bad = tmp_path / "Caddyfile"
    bad.write_text("{\n\tauto_https prefer_wildcard\n}\n\nexample.com {\n\trespond ok\n}\n")
    bad.chmod(0o644)
    res = validate(bad)
    assert res.returncode != 0
