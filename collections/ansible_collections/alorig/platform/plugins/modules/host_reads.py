#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: the Alorig platform authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Several read-only commands of a role, run in one round trip."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: host_reads
short_description: Run a role's read-only commands on the host in one module run
description:
  - Runs each given command (an argument list, no shell) and returns its return code and
    output under its name. One module run instead of one C(ansible.builtin.command) task per
    read, since a task that reaches the host costs about 0.35 s however little it does.
  - Never changes anything (C(changed) is always false) and runs the same in check mode.
  - A command that is not found or exits non-zero is not an error. Its C(rc) says so
    (127 for a command not found) and the role decides. Use I(must_succeed) for a read the
    role cannot do without.
  - Only for commands that read. A command that needs a shell is given as
    C([sh, -ec, "..."]), as with C(ansible.builtin.command).
version_added: "1.2.0"
options:
  commands:
    description: Name to argument list. Each name is a key of C(reads).
    type: dict
    required: true
  must_succeed:
    description: Names whose non-zero return code fails the task (with the command's error).
    type: list
    elements: str
    default: []
  facts:
    description: >-
      Host facts read in the same run, by Ansible's own fact collectors, as
      C(ansible.builtin.setup) with C(gather_subset) set to these subsets only
      (C(distribution), C(service_mgr), C(virtual)), and returned as C(ansible_facts):
      a role that needs them does not pay a fact-gathering round trip of its own.
    type: list
    elements: str
    choices: [distribution, service_mgr, virtual]
    default: []
author:
  - Alorig platform authors
"""

EXAMPLES = r"""
- name: Read the installed packages and the running kernel settings
  alorig.platform.host_reads:
    commands:
      dpkg: [dpkg-query, --show, "--showformat=${db:Status-Abbrev} ${Package}\n"]
      sysctl: [sysctl, -n, net.ipv4.ip_forward]
    must_succeed: [dpkg]
  register: __reads
# __reads.reads.dpkg.stdout_lines, __reads.reads.sysctl.rc ...
"""

RETURN = r"""
reads:
  description: For each name, the command's C(rc), C(stdout), C(stdout_lines) and C(stderr).
  returned: always
  type: dict
ansible_facts:
  description: >-
    With O(facts), the facts of those subsets as C(ansible.builtin.setup) names them
    (C(distribution), C(distribution_major_version), C(distribution_release),
    C(service_mgr), C(virtualization_type), C(virtualization_role)...).
  returned: when O(facts) is given
  type: dict
"""

import os
import platform

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.facts.system.distribution import DistributionFactCollector
from ansible.module_utils.facts.system.service_mgr import ServiceMgrFactCollector
from ansible.module_utils.facts.virtual.linux import LinuxVirtualCollector

# subset -> Ansible's collector of it, in the order setup runs them (the service manager
# looks at the distribution)
_FACT_COLLECTORS = (("distribution", DistributionFactCollector),
                    ("service_mgr", ServiceMgrFactCollector),
                    ("virtual", LinuxVirtualCollector))


def run_reads(module, commands):
    results = {}
    for name in sorted(commands):
        argv = commands[name]
        if not isinstance(argv, list) or not argv or not all(
                isinstance(word, (str, int, float)) for word in argv):
            module.fail_json(msg="host_reads: the command %r must be a non-empty list of words"
                             % name)
        words = [str(word) for word in argv]
        exe = words[0]
        found = os.access(exe, os.X_OK) if "/" in exe else module.get_bin_path(exe) is not None
        if not found:
            # (a package this run installs later, or in check mode one not installed yet)
            results[name] = {"rc": 127, "stdout": "", "stdout_lines": [],
                             "stderr": "%s: command not found" % exe}
            continue
        rc, out, err = module.run_command(words)
        results[name] = {"rc": rc, "stdout": out.rstrip("\n"),
                         "stdout_lines": out.splitlines(), "stderr": err.rstrip("\n")}
    return results


def read_facts(module, subsets):
    """The facts of ``subsets``, collected as setup collects them (unprefixed names)."""
    facts = {}
    collected = {"ansible_system": platform.system()}
    for subset, collector in _FACT_COLLECTORS:
        if subset not in subsets:
            continue
        found = collector().collect(module=module, collected_facts=collected) or {}
        facts.update(found)
        collected.update(("ansible_" + key, value) for key, value in found.items())
    return facts


def main():
    module = AnsibleModule(
        argument_spec=dict(
            commands=dict(type="dict", required=True),
            must_succeed=dict(type="list", elements="str", default=[]),
            facts=dict(type="list", elements="str", default=[],
                       choices=[subset for subset, _collector in _FACT_COLLECTORS]),
        ),
        supports_check_mode=True,
    )
    commands = module.params["commands"]
    unknown = [n for n in module.params["must_succeed"] if n not in commands]
    if unknown:
        module.fail_json(msg="host_reads: must_succeed names %s, which are not in commands"
                         % ", ".join(sorted(unknown)))
    facts = read_facts(module, module.params["facts"])
    results = run_reads(module, commands)
    failed = [n for n in module.params["must_succeed"] if results[n]["rc"] != 0]
    if failed:
        module.fail_json(
            msg="; ".join("%s (%s) exited %d: %s" % (n, " ".join(str(w) for w in commands[n][:3]),
                                                      results[n]["rc"],
                                                      results[n]["stderr"][-500:] or results[n]["stdout"][-500:])
                          for n in failed),
            reads=results)
    if module.params["facts"]:
        module.exit_json(changed=False, reads=results, ansible_facts=facts)
    module.exit_json(changed=False, reads=results)


if __name__ == "__main__":
    main()
