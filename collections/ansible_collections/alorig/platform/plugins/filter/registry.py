# -*- coding: utf-8 -*-
# Copyright: Alorig platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the registry model (module_utils registry_model and registry)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: registry_model
short_description: Every role input of the Alorig platform, projected from the app registry
description:
  - Validates the app registry, the platform settings, the vault and the inventory, and
    returns the projection every role consumes (Postgres databases and roles, Redis users,
    Caddy sites, app deployment specs with their memory split, monitoring targets, rollout
    steps). See the module_utils C(alorig.platform.registry_model) for the input and the
    output.
  - Fails with every error at once when the input is invalid; each message names the app
    (or the variable) and the key path, never a secret value.
  - The same file provides C(registry_model_errors) (the list of errors, empty when valid),
    C(registry_errors) (the registry alone, for tests and tools),
    C(registry_inventory_errors) (input C(groups); the VPS group must hold at least one
    host) and C(registry_placement) (C(alorig_apps | registry_placement(groups,
    alorig_placement)) gives each app the VPS host it is placed on, defaults applied).
  - The projection is for C(host) (C(inventory_hostname)); a host outside the VPS group
    (the control node, the backup host) gets the projection of the group's first host.
options:
  _input:
    description: A dict with C(apps), C(platform), C(vault), C(groups), C(host), C(roles_path).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Wire the postgres_db role
  ansible.builtin.set_fact:
    postgres_db_databases: "{{ (alorig_registry_inputs | alorig.platform.registry_model).postgres_databases }}"
"""

RETURN = r"""
_value:
  description: The projection (registry_model) or the error messages (registry_model_errors).
  type: raw
"""

from ansible.errors import AnsibleFilterError  # noqa: E402



# The registry's modules are imported by the filters that use them, not with this file:
# Ansible loads every filter file of the collection in each task that uses any of its
# filters, and compiles collection code without a bytecode cache (about 30 ms for these
# modules, in some twenty tasks of a converge that never call these filters).
def _registry():
    from ansible_collections.alorig.platform.plugins.module_utils import registry

    return registry


def _registry_model():
    from ansible_collections.alorig.platform.plugins.module_utils import registry_model

    return registry_model


def _plain(value):
    """Deep copy into plain dict/list/scalars (Ansible may hand lazy or tagged containers)."""
    if isinstance(value, dict):
        return dict((_plain(k), _plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value


def registry_model(inputs):
    errors, projection = _registry_model().build(_plain(inputs))
    if errors:
        raise AnsibleFilterError(
            "The app registry or the inventory is invalid (%d errors); run "
            "playbooks/validate.yml:\n%s" % (len(errors), "\n".join(errors)))
    return projection


def registry_model_errors(inputs):
    errors, _projection = _registry_model().build(_plain(inputs))
    return errors


def registry_errors(apps, platform, secrets=None):
    return _registry().validate_registry(_plain(apps), _plain(platform), _plain(secrets))


def registry_inventory_errors(groups, group="alorig_vps"):
    """Errors of the inventory: ``group`` must hold at least one host."""
    return _registry().validate_inventory(_plain(groups), group)


def registry_placement(apps, groups, placement=None):
    """{app: VPS host} of every app (``alorig_placement``, else the first VPS host)."""
    return _registry_model().placement_of(_plain(apps), _plain(groups), _plain(placement))


class FilterModule(object):
    def filters(self):
        return {
            "registry_model": registry_model,
            "registry_model_errors": registry_model_errors,
            "registry_errors": registry_errors,
            "registry_inventory_errors": registry_inventory_errors,
            "registry_placement": registry_placement,
        }
