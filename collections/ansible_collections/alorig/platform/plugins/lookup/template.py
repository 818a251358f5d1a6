# -*- coding: utf-8 -*-
# Copyright: Alorig platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ansible.builtin.template's lookup without a deep copy of the host's variables."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: template
short_description: A role template rendered as ansible.builtin.template's lookup renders it, for less
description:
  - Renders each template exactly as C(lookup('ansible.builtin.template', ...)) does (the same
    search path, the same template variables, the same Jinja2 options). It is that lookup, subclassed.
  - The only difference is the copy of the variables the template sees. The builtin lookup
    deep-copies every variable of the host for each template it renders, so that the
    template's own variables (C(template_path), O(template_vars)...) do not leak into them.
    With the platform's registry in the host's variables that copy costs about 0.1 s per
    template on the control node, about 2 s of a converge that changes nothing. This lookup
    gives the template a new top-level mapping instead (a shallow copy). The template's own
    variables still land in the copy only, and the values it reads are the host's, unchanged.
options:
  _terms:
    description: The templates, found as ansible.builtin.template's lookup finds them (the
      role's C(templates/) first).
    required: true
  template_vars:
    description: Variables for these templates only, above the host's.
    type: dict
    default: {}
  variable_start_string:
    description: The string that opens an expression.
    type: str
    default: '{{'
  variable_end_string:
    description: The string that closes an expression.
    type: str
    default: '}}'
  comment_start_string:
    description: The string that opens a comment.
    type: str
    default: '{#'
  comment_end_string:
    description: The string that closes a comment.
    type: str
    default: '#}'
  trim_blocks:
    description: Whether the first newline after a block tag is removed.
    type: bool
    default: true
seealso:
  - plugin: ansible.builtin.template
    plugin_type: lookup
"""

EXAMPLES = r"""
content: "{{ lookup('alorig.platform.template', 'Caddyfile.j2') }}"
"""

RETURN = r"""
_raw:
  description: Each template's rendered text.
  type: list
  elements: raw
"""

from ansible.plugins.lookup.template import LookupModule as _BuiltinTemplateLookup


class _ShallowOnDeepcopy(dict):
    """The host's variables, copied one level deep where the builtin lookup deep-copies them."""

    def __deepcopy__(self, memo):
        return dict(self)


class LookupModule(_BuiltinTemplateLookup):

    def run(self, terms, variables=None, **kwargs):
        return super(LookupModule, self).run(terms, variables=_ShallowOnDeepcopy(variables or {}), **kwargs)
