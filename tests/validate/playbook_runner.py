"""Run ansible-playbook many times, fast: the real CLI, forked from a warm interpreter.

``ansible-playbook`` spends most of a validation-only run importing Ansible and loading its
plugins. A runner process imports Ansible once, with the environment the tests set, then
forks one child per run; the child runs ``ansible.cli.playbook.PlaybookCLI`` exactly as the
``ansible-playbook`` command does (same code path, same exit code), with stdout and stderr
written to files. Several runners work in parallel.

The runner talks JSON lines over stdin/stdout:
    request  {"argv": [...], "stdout": path, "stderr": path, "cwd": path}
    response {"rc": int}
"""

import json
import os
import subprocess
import sys
import threading

RUNNER_CODE = r"""
import json, os, sys
from ansible.cli.playbook import PlaybookCLI  # the import is the warm-up
import ansible.plugins.loader as loader
# Warm-up: resolve the plugins every run of site.yml uses, so that each forked
# child finds them in the loaders' caches instead of scanning the collections.
try:
    loader.init_plugin_loader()
    for plugin_loader, names in (
            (loader.inventory_loader, ["yaml", "ini", "host_list", "auto"]),
            (loader.callback_loader, ["ansible.posix.json", "default"]),
            (loader.strategy_loader, ["linear"]),
            (loader.connection_loader, ["local", "community.docker.docker"]),
            (loader.action_loader, ["ansible.builtin.assert", "ansible.builtin.set_fact",
                                    "alorig.platform.role_inputs", "ansible.builtin.normal"]),
            (loader.lookup_loader, ["ansible.builtin.config"]),
            (loader.shell_loader, ["sh"]),
            (loader.become_loader, ["sudo"])):
        for name in names:
            plugin_loader.get(name, class_only=True)
    for plugin_loader in (loader.filter_loader, loader.test_loader):
        list(plugin_loader.all(class_only=True))
    # Not the vars plugins: warmed before the fork, host_group_vars no longer
    # finds the group_vars next to the playbook in the child.
    for name in ("ansible.builtin.assert", "ansible.builtin.set_fact", "alorig.platform.role_inputs"):
        loader.module_loader.find_plugin(name)
except Exception:
    pass
for line in sys.stdin:
    request = json.loads(line)
    pid = os.fork()
    if pid == 0:
        try:
            os.chdir(request["cwd"])
            out = os.open(request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            err = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(out, 1)
            os.dup2(err, 2)
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            sys.stdout = os.fdopen(1, "w", buffering=1)
            sys.stderr = os.fdopen(2, "w", buffering=1)
            rc = PlaybookCLI(request["argv"]).run()
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else 1
        except BaseException as exc:  # the CLI's own handler prints most errors
            import traceback
            traceback.print_exc()
            rc = 250
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(rc if isinstance(rc, int) else 1)
    _, status = os.waitpid(pid, 0)
    rc = os.waitstatus_to_exitcode(status)
    sys.__stdout__.write(json.dumps({"rc": rc}) + "\n")
    sys.__stdout__.flush()
"""


class PlaybookRunner:
    """One warm runner process; ``run()`` is thread-safe (one run at a time per runner)."""

    def __init__(self, python, env):
        self._lock = threading.Lock()
        self._proc = subprocess.Popen([python, "-c", RUNNER_CODE], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, env=env, text=True, bufsize=1)

    def run(self, argv, cwd, stdout_path, stderr_path, timeout=300):
        with self._lock:
            request = {"argv": ["ansible-playbook"] + list(argv), "cwd": str(cwd),
                       "stdout": str(stdout_path), "stderr": str(stderr_path)}
            self._proc.stdin.write(json.dumps(request) + "\n")
            self._proc.stdin.flush()
            line = self._proc.stdout.readline()
            if not line:
                raise RuntimeError("the playbook runner died")
            return json.loads(line)["rc"]

    def close(self):
        if self._proc.poll() is None:
            self._proc.stdin.close()
            self._proc.wait(timeout=30)


def runner_python(root):
    venv = os.path.join(str(root), ".venv", "bin", "python")
    return venv if os.path.exists(venv) else sys.executable
