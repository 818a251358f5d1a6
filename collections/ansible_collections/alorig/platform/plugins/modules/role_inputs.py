#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Alorig platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the action plugin alorig.platform.role_inputs (no module code)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: role_inputs
short_description: Check every role's settings against its argument spec, on the control node
description:
  - For each role in O(roles), evaluates the variables named in the role's
    C(meta/argument_specs.yml) (main entry point) as the current host sees them and
    validates them against the spec (types, choices, required sub-options), the way the
    role would at its start, but before any host is contacted.
  - Reports every variable named like a role's setting (the role name and C(_) as a
    prefix, the longest matching role) that the role does not define (a typo or a renamed
    setting, which Ansible would silently ignore).
  - Returns the messages in RV(errors); it never fails by itself. Messages never carry the
    value of an option the spec marks C(no_log).
  - Runs on the control node; it never connects to the host.
version_added: 1.1.0
options:
  roles:
    description: The roles whose settings are validated.
    type: list
    elements: str
    required: true
  roles_path:
    description: Directories holding the roles.
    type: list
    elements: path
    required: true
  ignore_prefixes:
    description: Variable name prefixes that belong to no role (for example C(igny8_old_)).
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
author: Alorig platform contributors
"""

EXAMPLES = r"""
- name: Check the settings of every role of the site
  alorig.platform.role_inputs:
    roles: [alorig_infra, caddy]
    roles_path: "{{ lookup('ansible.builtin.config', 'DEFAULT_ROLES_PATH') }}"
  register: role_inputs
"""

RETURN = r"""
errors:
  description: One message per problem, naming the role and the variable.
  returned: always
  type: list
  elements: str
roles:
  description: The roles checked.
  returned: always
  type: list
  elements: str
"""
