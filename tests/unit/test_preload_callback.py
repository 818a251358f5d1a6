"""alorig.platform.preload: the plugins the tasks use are loaded once, in the main process.

Ansible forks a worker per task; what the main process loaded before the fork, the worker
does not load again. The test loads the callback through Ansible's plugin loader (as
ansible.cfg enables it), starts a playbook run for it, and checks which plugin modules the
process then holds.
"""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import json, sys
from ansible.plugins.loader import callback_loader, init_plugin_loader

init_plugin_loader([sys.argv[1]])
before = set(sys.modules)
callback = callback_loader.get("alorig.platform.preload")
callback.set_options()
callback.v2_playbook_on_start(None)
print(json.dumps({"type": callback.CALLBACK_TYPE, "needs_enabled": callback.CALLBACK_NEEDS_ENABLED,
                  "loaded": sorted(set(sys.modules) - before)}))
"""


def _run():
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT / "collections")],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.splitlines()[-1])


def test_loads_the_plugins_the_tasks_use_before_the_workers_fork():
    result = _run()
    loaded = set(result["loaded"])
    base = "ansible_collections.alorig.platform.plugins."
    # every filter file of the collection, its template lookup
    for name in ("registry", "app", "postgres", "dns", "dpkg", "systemd", "migration"):
        assert base + "filter." + name in loaded
    assert base + "lookup.template" in loaded
    # the connection plugins of the VPS (SSH) and of the local platform
    assert "ansible_collections.community.docker.plugins.connection.docker" in loaded
    # Ansible's own filters and tests (under the names its Jinja2 plugin loader gives
    # them) and the action plugins of most tasks
    for prefix in ("ansible.plugins.filter.core_", "ansible.plugins.test.core_"):
        assert any(name.startswith(prefix) for name in loaded), prefix
    for name in ("ansible_collections.ansible.builtin.plugins.action.normal",
                 "ansible_collections.ansible.builtin.plugins.action.assert",
                 "ansible_collections.ansible.builtin.plugins.action.set_fact"):
        assert name in loaded, name


def test_runs_only_when_enabled_and_prints_nothing():
    result = _run()
    assert result["type"] == "aggregate"
    assert result["needs_enabled"] is True


def test_ansible_cfg_enables_it():
    cfg = (ROOT / "ansible.cfg").read_text()
    line = next(l for l in cfg.splitlines() if l.startswith("callbacks_enabled"))
    assert "alorig.platform.preload" in line
