#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: the Alorig platform authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A role's directories and small configuration files, converged in one round trip."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: config_files
short_description: Converge a role's directories and small configuration files in one module run
description:
  - Compares each declared directory or file (content, owner, group, mode) with the host and
    changes only what differs, in the order given (a directory before the files inside it).
  - One module run instead of one C(ansible.builtin.file), C(copy) or C(template) task per path.
    On a host where nothing differs it only reads (about 0.4 s instead of 0.4-0.8 s per path).
  - Writes are atomic (a temporary file in the same directory, renamed over the old one).
  - Check mode plans the same changes; diff mode shows each changed file's content, except the
    content of a secret file, which is never returned, logged or shown.
  - A file may name a validation command, I(validate), like C(ansible.builtin.template) does.
    The new content is written to a temporary file beside the destination, checked, and
    renamed into place only if the command succeeds. Check mode does not run it.
version_added: "1.0.0"
options:
  units:
    description: >-
      Systemd units whose state to read after the files (one C(systemctl show), returned as
      RV(units_show)): a role that writes a unit reads its state in the same round trip.
    type: list
    elements: str
    default: []
  files:
    description: The paths, converged in this order.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Absolute path.
        type: path
        required: true
      state:
        description: C(directory), C(file) (with I(content) or I(secret_content)) or C(absent).
        type: str
        choices: [directory, file, absent]
        default: file
      content:
        description: The file's content (shown in diff mode).
        type: str
      secret_content:
        description: The file's content when it holds a secret (never shown, never returned).
        type: str
      mode:
        description: Octal mode as a string, for example C("0644"). Required unless I(state=absent).
        type: str
      owner:
        description: User name or numeric uid.
        type: str
        default: root
      group:
        description: Group name or numeric gid.
        type: str
        default: root
      validate:
        description: A command run on the new content before it replaces the file, C(%s)
          standing for the temporary file (for example C(/usr/sbin/sshd -t -f %s)). Split like
          a shell would, but run without a shell. A non-zero exit fails the task and leaves the
          file as it was. Not run in check mode.
        type: str
      force:
        description: When false, an existing file's content is left as it is (its owner, group
          and mode are still converged), like C(ansible.builtin.copy)'s I(force=false).
        type: bool
        default: true
author:
  - Alorig platform authors
"""

EXAMPLES = r"""
- name: Converge journald's drop-in
  alorig.platform.config_files:
    files:
      - {path: /etc/systemd/journald.conf.d, state: directory, mode: "0755"}
      - path: /etc/systemd/journald.conf.d/50-alorig.conf
        mode: "0644"
        content: |
          [Journal]
          SystemMaxUse=500M
  register: __journald_files
  notify: Restart journald   # the handler checks __journald_files.changed_paths
"""

RETURN = r"""
units_show:
  description: >-
    The output of C(systemctl show --property=Id,LoadState,UnitFileState,ActiveState) for
    O(units), read after the files were converged (in check mode, as the host has them).
  returned: when O(units) is given
  type: str
changed_paths:
  description: The paths that were (or in check mode would be) changed.
  returned: always
  type: list
  elements: str
actions:
  description: What was (or would be) done, one line per path; a secret file's content is never in it.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.alorig.platform.plugins.module_utils.config_files import (
    FILE_OPTIONS, converge_files,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            files=dict(type="list", elements="dict", required=True, options=FILE_OPTIONS),
            units=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    module.exit_json(**converge_files(module, module.params["files"], module.params["units"]))


if __name__ == "__main__":
    main()
