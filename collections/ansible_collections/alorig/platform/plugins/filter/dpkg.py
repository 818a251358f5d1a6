# -*- coding: utf-8 -*-
# Copyright: Alorig platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over dpkg's output."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: dpkg_installed
short_description: The installed packages of one `dpkg-query` read
description:
  - Parses the output of C(dpkg-query --show --showformat='${db:Status-Abbrev} ${Package}\n'
    [PACKAGE...]) into the names of the packages that are installed (status C(ii)). A package
    half-installed, half-configured or removed with its configuration left (C(iU), C(rc)...)
    is not, and neither is one dpkg does not know (it prints nothing for it on stdout).
  - One cheap read instead of C(ansible.builtin.apt), which takes about a second even when
    every package is there, or C(ansible.builtin.package_facts).
options:
  _input:
    description: The command's standard output lines.
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
missing: "{{ wanted | difference(__dpkg.stdout_lines | alorig.platform.dpkg_installed) }}"
"""

RETURN = r"""
_value:
  description: The installed packages' names.
  type: list
  elements: str
"""


def dpkg_installed(lines):
    installed = []
    for line in lines or []:
        status, _sep, name = line.partition(" ")
        if status == "ii":
            installed.append(name.strip().split(":")[0])
    return installed


class FilterModule(object):
    def filters(self):
        return {"dpkg_installed": dpkg_installed}
