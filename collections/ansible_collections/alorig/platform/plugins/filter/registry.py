# -*- coding: utf-8 -*-
# Copyright: Alorig platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that validate the app registry, the vault and the inventory."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: registry_errors
short_description: Every error of the Alorig app registry
description:
  - Checks C(alorig_apps) against the platform figures and the app secrets and returns
    the list of error messages (empty when valid). Each message names the app and the key
    path, and for a collision the other app and its key.
  - The rules are documented in the module_utils C(alorig.platform.registry).
  - Messages contain secret names, never secret values.
  - The same file provides C(registry_infra_secret_errors) (one message per missing or empty
    infrastructure secret, input a dict of variable name to value) and
    C(registry_inventory_errors) (input C(groups); the group C(alorig_vps) must hold exactly
    one host).
options:
  _input:
    description: The registry C(alorig_apps).
    type: dict
    required: true
  platform:
    description: Platform variables keyed by their names (C(alorig_host_ram_mb), ...).
    type: dict
    required: true
  secrets:
    description: C(vault_alorig_app_secrets).
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Check the registry
  ansible.builtin.set_fact:
    registry_errors: >-
      {{ alorig_apps | alorig.platform.registry_errors(platform_inputs,
         vault_alorig_app_secrets | default({})) }}
  no_log: true
"""

RETURN = r"""
_value:
  description: Error messages, empty when the registry is valid.
  type: list
  elements: str
"""

from ansible_collections.alorig.platform.plugins.module_utils.registry import (  # noqa: E402
    validate_infra_secrets,
    validate_inventory,
    validate_registry,
)


def _plain(value):
    """Deep copy into plain dict/list/scalars (Ansible may hand lazy or tagged containers)."""
    if isinstance(value, dict):
        return dict((_plain(k), _plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def registry_errors(apps, platform, secrets=None):
    return validate_registry(_plain(apps), _plain(platform), _plain(secrets))


def registry_infra_secret_errors(values):
    return validate_infra_secrets(_plain(values))


def registry_inventory_errors(groups, group="alorig_vps"):
    return validate_inventory(_plain(groups), group)


class FilterModule(object):
    def filters(self):
        return {
            "registry_errors": registry_errors,
            "registry_infra_secret_errors": registry_infra_secret_errors,
            "registry_inventory_errors": registry_inventory_errors,
        }
