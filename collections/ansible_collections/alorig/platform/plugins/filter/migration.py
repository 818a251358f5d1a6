# -*- coding: utf-8 -*-
# Copyright: Alorig platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the IGNY8 migration wiring."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: migration_media
short_description: The old server's media directories mapped to the directories an app mounts
description:
  - Each item of the old server's list (C(name), C(src), ...) gains C(dest)
    (C(<state_dir>/<app>/<name>), the directory the app bind mounts) and C(owner), unless
    the item sets them.
options:
  _input:
    description: The old server's media list (C(igny8_old_media)).
    type: list
    elements: dict
    required: true
  state_dir:
    description: The apps' state directory (C(alorig_app_state_dir)).
    type: str
    required: true
  app:
    description: The app key.
    type: str
    required: true
  owner:
    description: Owner (uid) of the media files.
    type: str
    required: true
"""

EXAMPLES = r"""
app_migration_media: "{{ igny8_old_media | alorig.platform.migration_media(alorig_app_state_dir, 'igny8', '10001') }}"
"""

RETURN = r"""
_value:
  description: The items with C(dest) and C(owner).
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError  # noqa: E402


def migration_media(media, state_dir, app, owner):
    result = []
    for index, item in enumerate(media or []):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise AnsibleFilterError("igny8_old_media[%d] must be a dict with a name and a src"
                                     % index)
        entry = {"dest": "%s/%s/%s" % (str(state_dir).rstrip("/"), app, item["name"]),
                 "owner": str(owner)}
        entry.update(item)
        result.append(entry)
    return result


class FilterModule(object):
    def filters(self):
        return {"migration_media": migration_media}
