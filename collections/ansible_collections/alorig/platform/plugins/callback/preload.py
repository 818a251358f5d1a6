# -*- coding: utf-8 -*-
# Copyright: Alorig platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: preload
type: aggregate
short_description: Loads the plugins every task uses once, before Ansible forks its workers
description:
  - Ansible runs each task of each host in a new worker process forked from the main one,
    and loads there the filters, tests, lookups and action plugins the task uses. The main
    process of a playbook run seldom loads them itself, so every worker reads and compiles
    them again (Ansible compiles a collection's code without a bytecode cache, and loads
    every filter file of a collection to find one of its filters).
  - At the start of the run this callback loads them in the main process (Ansible's filters
    and tests, this collection's filters and lookups, the action plugins the roles use); each
    worker inherits them. It prints nothing and changes nothing else.
  - A speed-up only. When a plugin cannot be loaded here, the run goes on (the worker
    loads it, or reports why it cannot), and C(-vvv) says which.
requirements:
  - enabled in ansible.cfg (C(callbacks_enabled))
"""

from ansible.plugins import loader as plugin_loader
from ansible.plugins.callback import CallbackBase

# one of this collection's filters: loading one loads every filter file of the collection
_COLLECTION_FILTERS = ("alorig.platform.registry_model",)
_LOOKUPS = ("alorig.platform.template",)
_CONNECTIONS = ("ansible.builtin.ssh", "community.docker.docker")
_ACTIONS = ("ansible.builtin.normal", "ansible.builtin.command", "ansible.builtin.assert",
            "ansible.builtin.set_fact", "ansible.builtin.debug", "ansible.builtin.fail")


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "alorig.platform.preload"
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_start(self, playbook):
        try:
            for loader in (plugin_loader.filter_loader, plugin_loader.test_loader):
                list(loader.all(class_only=True))
            for name in _COLLECTION_FILTERS:
                plugin_loader.filter_loader.get(name)
            for name in _LOOKUPS:
                plugin_loader.lookup_loader.get(name, class_only=True)
            for name in _ACTIONS:
                plugin_loader.action_loader.get(name, class_only=True)
            for name in _CONNECTIONS:
                plugin_loader.connection_loader.get(name, class_only=True)
        except Exception as exc:  # a speed-up only: the run goes on without it
            self._display.vvv("alorig.platform.preload: %s" % exc)
