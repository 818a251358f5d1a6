# -*- coding: utf-8 -*-
# Copyright: Alorig platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over systemd's output."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: systemd_units
short_description: The units of one `systemctl show` read, by name
description:
  - Parses the output of C(systemctl show --property=Id,LoadState,UnitFileState,ActiveState
    UNIT...) (one block of C(key=value) lines per unit, blocks separated by an empty line)
    into a dictionary keyed by each unit's Id (C(ssh.service)) and, for a service, also by
    its short name (C(ssh)).
  - A unit that is not installed is there with C(LoadState=not-found).
options:
  _input:
    description: The command's standard output.
    type: str
    required: true
"""

EXAMPLES = r"""
units: "{{ __read.stdout | alorig.platform.systemd_units }}"
enabled: "{{ units['ssh'].UnitFileState == 'enabled' }}"
"""

RETURN = r"""
_value:
  description: Each unit's properties by name.
  type: dict
"""


def systemd_units(text):
    units = {}
    for block in (text or "").strip().split("\n\n"):
        props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        name = props.get("Id")
        if not name:
            continue
        units[name] = props
        if name.endswith(".service"):
            units[name[:-len(".service")]] = props
    return units


class FilterModule(object):
    def filters(self):
        return {"systemd_units": systemd_units}
