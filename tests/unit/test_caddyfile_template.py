"""The caddy role's Caddyfile template in production (dns_cloudflare) mode.

The test Caddy (Debian's 2.11, no Cloudflare module) runs `tls internal`, so
the molecule scenarios never render this branch; this renders it with Jinja
and checks the wildcard-certificate wiring.
"""

from pathlib import Path

import jinja2
import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "roles/caddy/templates/Caddyfile.j2"


def render(**overrides):
    defaults = yaml.safe_load((ROOT / "roles/caddy/defaults/main.yml").read_text())
    variables = {k: v for k, v in defaults.items() if not isinstance(v, str) or "{{" not in v}
    sites = [
        {"host": "app.igny8.com", "routes": [{"kind": "static", "app": "igny8"}]},
        {"host": "api.igny8.com", "routes": [{"kind": "proxy", "upstream": "igny8_backend", "port": 8011}]},
        {"host": "*.sites.alorig.com", "routes": [{"kind": "proxy", "upstream": "sitebuilder_payload", "port": 8017}]},
    ]
    variables.update(ansible_managed="managed", __caddy_sites=sites,
                     caddy_wildcard_zones=["igny8.com", "alorig.com", "sites.alorig.com"])
    variables.update(overrides)
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=False, undefined=jinja2.StrictUndefined)
    return env.from_string(TEMPLATE.read_text()).render(**variables)


def test_dns_cloudflare_mode_manages_one_wildcard_per_zone():
    out = render(caddy_tls_mode="dns_cloudflare")
    assert "acme_dns cloudflare {env.CF_API_TOKEN}" in out
    # Caddy 2.10+ prefers a managed wildcard by itself; 2.11 (the pinned
    # version) refuses the old `auto_https prefer_wildcard` option
    assert "prefer_wildcard" not in out
    assert "\n*.igny8.com {\n\tabort\n}" in out
    assert "\n*.alorig.com {\n\tabort\n}" in out
    # a route already declares *.sites.alorig.com: no second site for it
    assert out.count("*.sites.alorig.com {") == 1


def test_internal_mode_has_no_wildcard_sites():
    out = render(caddy_tls_mode="internal")
    assert "local_certs" in out
    assert "prefer_wildcard" not in out
    assert "*.igny8.com {" not in out
