"""The caddy role's check of its sites (tasks/validate_config.yml), run by ansible-playbook on
the control node: complete sites pass; every incomplete site is named in one message."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: The caddy role's checks
      ansible.builtin.include_tasks: %s/roles/caddy/tasks/validate_config.yml
      vars:
        caddy_tls_mode: internal
        caddy_cloudflare_api_token: ""
        __caddy_sites: "{{ sites }}"
""" % ROOT


def run(tmp_path, sites):
    playbook = tmp_path / "check.yml"
    playbook.write_text(PLAYBOOK)
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    return subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), str(playbook),
                           "-i", "localhost,", "-c", "local",
                           "-e", json.dumps({"sites": sites})],
                          capture_output=True, text=True, env=env, cwd=tmp_path, check=False)


def test_complete_sites_pass(tmp_path):
    result = run(tmp_path, [
        {"host": "a.example", "routes": [{"kind": "static", "app": "x"}]},
        {"host": "b.example", "routes": [{"kind": "proxy", "upstream": "u", "port": 1},
                                         {"kind": "websocket", "upstream": "w", "port": 2}]}])
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_incomplete_site_is_named(tmp_path):
    result = run(tmp_path, [
        {"host": "static-no-app.example", "routes": [{"kind": "static"}]},
        {"host": "proxy-no-port.example", "routes": [{"kind": "proxy", "upstream": "u"}]},
        {"host": "ws-no-upstream.example", "routes": [{"kind": "websocket", "port": 2}]},
        {"host": "no-routes.example", "routes": []},
        {"host": "bad-kind.example", "routes": [{"kind": "ftp", "upstream": "u", "port": 1}]},
        {"host": "fine.example", "routes": [{"kind": "proxy", "upstream": "u", "port": 1}]}])
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert ("Caddy sites static-no-app.example, proxy-no-port.example, ws-no-upstream.example, "
            "no-routes.example, bad-kind.example: every route needs a kind") in out.replace("\n", " ").replace("  ", " "), out
    assert "fine.example" not in out
