# -*- coding: utf-8 -*-
# Copyright: Alorig platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin alorig.platform.role_inputs: every role's settings checked up front.

Runs on the control node only (it never contacts a host). See the module documentation
(plugins/modules/role_inputs.py).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib
import os

import yaml

# libyaml's loader when PyYAML has it (the argument specs of every role are read on each
# run: about ten times faster than the pure-Python one)
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

from ansible.errors import AnsibleError
from ansible.module_utils.basic import remove_values
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase


def _role_specs(roles_path):
    """{role name: options of its main entry point} for every role under roles_path."""
    specs = {}
    for base in roles_path or []:
        if not os.path.isdir(base):
            continue
        for name in sorted(os.listdir(base)):
            if name in specs:
                continue
            path = os.path.join(base, name, "meta", "argument_specs.yml")
            if not os.path.isfile(path):
                continue
            with open(path) as handle:
                data = yaml.load(handle, Loader=_SafeLoader) or {}  # noqa: S506 (a safe loader)
            main = (data.get("argument_specs") or {}).get("main") or {}
            specs[name] = main.get("options") or {}
    return specs


def _owner(variable, roles):
    """The role whose prefix (name + '_') is the longest one ``variable`` starts with."""
    owners = [r for r in roles if variable.startswith(r + "_")]
    return max(owners, key=len) if owners else None


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("roles", "roles_path", "ignore_prefixes"))
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        task_vars = task_vars or {}
        args = self._task.args
        wanted = list(args.get("roles") or [])
        roles_path = args.get("roles_path") or []
        if isinstance(roles_path, str):
            roles_path = roles_path.split(os.pathsep)
        ignore = tuple(args.get("ignore_prefixes") or ())
        specs = _role_specs(roles_path)
        errors = []

        for role in wanted:
            if role not in specs:
                errors.append("role %s: no meta/argument_specs.yml under %s"
                              % (role, ", ".join(roles_path)))
                continue
            # The caller sets the required top-level options when it runs the role
            # (alorig_app_instance): only their form is checked here.
            options = dict((k, dict((kk, vv) for kk, vv in v.items() if kk != "required"))
                           for k, v in specs[role].items())
            provided = {}
            for name in options:
                if name not in task_vars:
                    continue
                try:
                    provided[name] = self._templar.template(task_vars[name])
                except AnsibleError as exc:
                    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                    errors.append("role %s: %s cannot be evaluated: %s" % (role, name, message))
            validation = ArgumentSpecValidator(options).validate(provided)
            no_log_values = validation._no_log_values
            for message in validation.error_messages:
                errors.append("role %s: %s" % (role, remove_values(message, no_log_values)))

        # A variable named like a role's option that the role does not have: a typo
        # (caddy_tls_mod) or a renamed setting, which would be silently ignored.
        roles = sorted(specs)
        for name in sorted(task_vars):
            if not isinstance(name, str) or name.startswith(ignore):
                continue
            role = _owner(name, roles)
            if role is None or name in specs[role]:
                continue
            close = difflib.get_close_matches(name, list(specs[role]), n=1, cutoff=0.8)
            errors.append("role %s: %s is not a setting of the role%s (see roles/%s/README.md)"
                          % (role, name, (", did you mean %s?" % close[0]) if close else "",
                             role))

        result["changed"] = False
        result["errors"] = errors
        result["roles"] = wanted
        return result
