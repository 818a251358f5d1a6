"""Shared constants and helpers of the DNS integration tests."""

import json
import os
import re
import sys
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HERE = os.path.dirname(os.path.abspath(__file__))
PLAYBOOK = os.path.join(ROOT, ".venv", "bin", "ansible-playbook")
TOKEN = "integration-token-5f0c2b8e9d0a1b2c3d4e5f"  # 40 characters, like a real token

if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from harness.cloudflare_api.server import FakeCloudflare  # noqa: E402


class Run:
    def __init__(self, proc, result):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.result = result
        match = re.search(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)",
                          proc.stdout)
        self.changed = int(match.group(2)) if match else None
        self.failed = int(match.group(4)) if match else None


def admin(api_obj, method, path, body=None):
    req = urllib.request.Request(api_obj.admin_url + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.load(resp)
