# -*- coding: utf-8 -*-
# Copyright: Alorig platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: changes
type: aggregate
short_description: A summary of what a run changed, or in check mode would change, per host and app
description:
  - At the end of a run, lists per host every task that reported a change (with its loop
    item), grouped by role; the app deployments (module C(alorig.platform.app_state), one
    run for several apps) list what they did or would do per app, the app as the item
    (files, containers started, recreated, unpaused, releases), also for the apps that
    changed beside one that failed. In check mode the title says it is the plan.
  - With the environment variable C(ALORIG_CHANGES_FILE) set, also writes the same list as
    JSON to that file (the tests compare the plan of a check run with the real run).
  - Prints task names, item labels and the actions modules report, never a result
    hidden by C(no_log).
  - Prints nothing when the stdout callback writes JSON (C(ansible.posix.json),
    C(ansible.posix.jsonl)), so that its output stays one parseable document.
requirements:
  - enabled in ansible.cfg (C(callbacks_enabled))
"""

import json
import os

from ansible import constants as C
from ansible import context
from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "alorig.platform.changes"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self.changes = []

    def _record(self, result, item=None, actions=None):
        task = result._task
        role = task._role.get_name(include_role_fqcn=False) if task._role else ""
        name = getattr(result, "task_name", None) or task.get_name()
        entry = {"host": result._host.get_name(), "role": role, "task": name}
        res = result._result
        if item is not None:
            entry["item"] = str(item)
        if actions is None:
            actions = res.get("actions")
        if not res.get("_ansible_no_log") and isinstance(actions, list):
            entry["actions"] = [str(a) for a in actions]
        self.changes.append(entry)

    def _record_apps(self, result):
        """A run of several apps (alorig.platform.app_state): one entry per app that
        changed, the app as its item, with its actions. False for another result."""
        res = result._result
        apps = res.get("apps")
        if res.get("_ansible_no_log") or not isinstance(apps, dict):
            return False
        for name, app in apps.items():
            if isinstance(app, dict) and app.get("changed") and not app.get("failed"):
                self._record(result, name, app.get("actions"))
        return True

    def v2_runner_on_ok(self, result):
        if result._result.get("changed") and not result._result.get("results"):
            if not self._record_apps(result):
                self._record(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        # the apps converged beside one that failed did change
        self._record_apps(result)

    def v2_runner_item_on_ok(self, result):
        if result._result.get("changed"):
            item = result._result.get("_ansible_item_label", result._result.get("item"))
            self._record(result, "(censored)" if result._result.get("_ansible_no_log") else item)

    def v2_playbook_on_stats(self, stats):
        check = bool(context.CLIARGS.get("check"))
        path = os.environ.get("ALORIG_CHANGES_FILE")
        if path:
            with open(path, "w") as handle:
                json.dump({"check_mode": check, "changes": self.changes}, handle, indent=1)
        if str(C.DEFAULT_STDOUT_CALLBACK).split(".")[-1] in ("json", "jsonl"):
            return
        title = "PLAN (check mode): what the next run would change" if check \
            else "CHANGES: what this run changed"
        self._display.banner(title)
        if not self.changes:
            self._display.display("nothing")
            return
        by_host = {}
        for entry in self.changes:
            by_host.setdefault(entry["host"], []).append(entry)
        for host in sorted(by_host):
            self._display.display("%s:" % host)
            for entry in by_host[host]:
                label = "%s%s" % ("%s : " % entry["role"] if entry["role"] else "", entry["task"])
                if "item" in entry:
                    label += " (%s)" % entry["item"]
                self._display.display("  - %s" % label)
                for action in entry.get("actions", []):
                    self._display.display("      %s" % action)
