"""Integration fixtures: the fake Cloudflare API on a free loopback port and ansible-playbook."""

import json
import os
import subprocess

import pytest

from cfdns_support import HERE, PLAYBOOK, ROOT, TOKEN, FakeCloudflare, Run


@pytest.fixture
def api():
    fake = FakeCloudflare(token=TOKEN, zones=["example.com"]).start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def playbook(tmp_path):
    """Run a playbook with extra vars; returns a Run (rc, stdout, recap counts, saved result)."""

    def run(path, extra=None, args=(), timeout=300):
        result_file = tmp_path / "result.json"
        if result_file.exists():
            result_file.unlink()
        vars_file = tmp_path / "extra.json"
        variables = dict(extra or {})
        variables.setdefault("test_result_file", str(result_file))
        vars_file.write_text(json.dumps(variables))
        env = dict(os.environ, ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1", PY_COLORS="0",
                   ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))
        for key in ("CLOUDFLARE_API_TOKEN", "CLOUDFLARE_API_KEY", "CLOUDFLARE_EMAIL"):
            env.pop(key, None)
        cmd = [PLAYBOOK, "-i", os.path.join(HERE, "inventory.yml"), path, "-e", "@" + str(vars_file)]
        cmd += list(args)
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
        result = json.loads(result_file.read_text()) if result_file.exists() else None
        return Run(proc, result)

    return run
