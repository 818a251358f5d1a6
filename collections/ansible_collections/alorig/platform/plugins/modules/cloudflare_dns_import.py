#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) Alorig platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: cloudflare_dns_import
short_description: Turn existing zones (BIND zone files or Cloudflare zones) into declared DNS records
version_added: 1.1.0
description:
  - Reads each zone from a BIND zone file (the export every DNS host offers; parsed with dnspython) or
    from the Cloudflare API, and returns its records in the declared form of the cloudflare_dns role,
    the shape of C(alorig_dns_mail_records) and C(alorig_dns_extra_records) in group_vars/all/dns.yml.
  - "Mail records (MX, SPF, DKIM C(*._domainkey), DMARC, MTA-STS, TLS-RPT, BIMI, mail SRV and TLSA,
    autodiscover/autoconfig, the A/AAAA records of the MX hosts) go to RV(mail_records); every other
    record the role manages to RV(extra_records)."
  - "Not declared: A, AAAA and CNAME records at names the registry points at the VPS
    (O(registry_hosts): RV(replaced)); the SOA, the apex NS records, DNSSEC records,
    C(_acme-challenge) and types the role does not manage (RV(not_imported), each with its reason). TTLs
    outside Cloudflare's range are adjusted (RV(notes))."
  - With O(dest), writes the result as a YAML file (yamllint-clean, long TXT values split over lines
    without changing them) for the operator to review and copy into group_vars.
author:
  - Alorig platform contributors
requirements:
  - dnspython (BIND zone files)
  - cloudflare >= 4.0 (Cloudflare zones)
attributes:
  check_mode:
    support: full
    description: Reads the zones, returns the result, does not write O(dest).
  diff_mode:
    support: full
    description: Shows O(dest) before and after.
options:
  zones:
    description: The zones to import.
    type: list
    elements: dict
    required: true
    suboptions:
      zone:
        description: Zone name (Unicode or Punycode).
        type: str
        required: true
      bind_file:
        description: Path of the zone's BIND zone file on the control node. Without it, the zone is read from Cloudflare.
        type: path
  registry_hosts:
    description:
      - Per zone, the names (relative, V(@) for the apex) the registry points at the VPS; their A, AAAA and
        CNAME records are not declared (the output of the C(alorig.platform.dns_registry_hosts) filter).
    type: dict
    default: {}
  api_token:
    description: Cloudflare API token (Zone.Zone Read, Zone.DNS Read) for zones read from Cloudflare.
    type: str
  api_base_url:
    description: Base URL of the Cloudflare v4 API.
    type: str
    default: https://api.cloudflare.com/client/v4
  owner_marker:
    description: Removed from the comments of records read from Cloudflare.
    type: str
    default: 'managed-by: alorig-ansible'
  dest:
    description: YAML file to write (created or replaced when its content differs).
    type: path
  mode:
    description: Permissions of O(dest).
    type: raw
    default: '0644'
  max_retries:
    description: Retries of a read answered with 429 or 5xx.
    type: int
    default: 5
  timeout:
    description: Timeout of one HTTP request in seconds.
    type: float
    default: 30
'''

EXAMPLES = r'''
- name: Import igny8.com from its old DNS host's export, alorig.com from Cloudflare
  alorig.platform.cloudflare_dns_import:
    zones:
      - {zone: igny8.com, bind_file: /tmp/igny8.com.zone}
      - {zone: alorig.com}
    registry_hosts: {igny8.com: ["@", app, api, "*"]}
    api_token: "{{ vault_cloudflare_api_token }}"
    dest: "{{ playbook_dir }}/../dns_import/imported.yml"
'''

RETURN = r'''
mail_records:
  description: Per zone, the mail records in declared form (C(alorig_dns_mail_records)).
  returned: success
  type: dict
extra_records:
  description: Per zone, the other records in declared form (C(alorig_dns_extra_records)).
  returned: success
  type: dict
replaced:
  description: Records left to the registry (one line each, with why).
  returned: success
  type: list
  elements: str
not_imported:
  description: Records not imported (one line each, with why).
  returned: success
  type: list
  elements: str
notes:
  description: Adjustments made (TTLs raised or lowered to Cloudflare's range).
  returned: success
  type: list
  elements: str
content:
  description: The YAML text (written to O(dest) when given).
  returned: success
  type: str
'''

import os
import tempfile
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.text.converters import to_bytes, to_text

from ansible_collections.alorig.platform.plugins.module_utils.cloudflare_dns import to_ascii
from ansible_collections.alorig.platform.plugins.module_utils.cloudflare_dns_api import (
    SDK_IMPORT_ERROR,
    DnsApiError,
    DnsClient,
)
from ansible_collections.alorig.platform.plugins.module_utils.dns_import import (
    ZoneImportError,
    declare,
    records_from_api,
    records_from_bind,
    render_yaml,
)

DNSPYTHON_IMPORT_ERROR = None
try:
    import dns.zone  # noqa: F401  (dnspython)
except ImportError:
    DNSPYTHON_IMPORT_ERROR = traceback.format_exc()


def main():
    module = AnsibleModule(
        argument_spec=dict(
            zones=dict(type='list', elements='dict', required=True, options=dict(
                zone=dict(type='str', required=True),
                bind_file=dict(type='path'),
            )),
            registry_hosts=dict(type='dict', default={}),
            api_token=dict(type='str', no_log=True),
            api_base_url=dict(type='str', default='https://api.cloudflare.com/client/v4'),
            owner_marker=dict(type='str', default='managed-by: alorig-ansible'),
            dest=dict(type='path'),
            mode=dict(type='raw', default='0644'),
            max_retries=dict(type='int', default=5),
            timeout=dict(type='float', default=30),
        ),
        supports_check_mode=True,
    )
    p = module.params
    from_bind = [z for z in p['zones'] if z['bind_file']]
    from_api = [z for z in p['zones'] if not z['bind_file']]
    if from_bind and DNSPYTHON_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib('dnspython'), exception=DNSPYTHON_IMPORT_ERROR)
    if from_api and SDK_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib('cloudflare'), exception=SDK_IMPORT_ERROR)
    if from_api and not p['api_token']:
        module.fail_json(msg='api_token is required to read %s from Cloudflare (or give a bind_file)'
                             % ', '.join(z['zone'] for z in from_api))
    client = DnsClient(p['api_token'], p['api_base_url'], p['max_retries'], p['timeout']) if from_api else None

    imports = []
    for entry in p['zones']:
        try:
            zone = to_ascii(entry['zone'])
        except ValueError as exc:
            module.fail_json(msg='zone %s: %s' % (entry['zone'], exc))
        try:
            if entry['bind_file']:
                try:
                    with open(entry['bind_file'], 'rb') as handle:
                        text = to_text(handle.read(), errors='surrogate_or_strict')
                except (IOError, OSError) as exc:
                    module.fail_json(msg='zone %s: cannot read the zone file %s: %s' % (zone, entry['bind_file'], exc))
                records, skipped = records_from_bind(text, zone)
                source = 'BIND zone file %s' % os.path.basename(entry['bind_file'])
            else:
                zone_id = client.find_zone(zone)
                records, skipped = records_from_api(client.list_records(zone, zone_id), zone, p['owner_marker'])
                source = 'Cloudflare zone %s' % zone_id
        except (ZoneImportError, DnsApiError) as exc:
            module.fail_json(msg=str(exc))
        hosts = p['registry_hosts'].get(zone, p['registry_hosts'].get(entry['zone'], []))
        imports.append((zone, source, declare(records, skipped, zone, hosts)))

    content = render_yaml(imports)
    result = {
        'changed': False,
        'mail_records': dict((zone, r['mail']) for zone, _s, r in imports if r['mail']),
        'extra_records': dict((zone, r['extra']) for zone, _s, r in imports if r['extra']),
        'replaced': [z + ': ' + line for z, _s, r in imports for line in r['replaced']],
        'not_imported': [z + ': ' + line for z, _s, r in imports for line in r['skipped']],
        'notes': [z + ': ' + line for z, _s, r in imports for line in r['notes']],
        'content': content,
    }
    if p['dest']:
        before = None
        if os.path.exists(p['dest']):
            with open(p['dest'], 'rb') as handle:
                before = to_text(handle.read(), errors='surrogate_or_strict')
        if before != content:
            result['changed'] = True
            if module._diff:
                result['diff'] = {'before_header': p['dest'], 'after_header': p['dest'],
                                  'before': before or '', 'after': content}
            if not module.check_mode:
                directory = os.path.dirname(os.path.abspath(p['dest']))
                if not os.path.isdir(directory):
                    os.makedirs(directory)
                fd, tmp = tempfile.mkstemp(dir=directory, prefix='.dns-import-')
                with os.fdopen(fd, 'wb') as handle:
                    handle.write(to_bytes(content))
                module.atomic_move(tmp, p['dest'])
        if not module.check_mode and os.path.exists(p['dest']):
            file_args = module.load_file_common_arguments(dict(path=p['dest'], mode=p['mode']))
            result['changed'] = module.set_fs_attributes_if_different(file_args, result['changed'])
        result['dest'] = p['dest']
    if client is not None:
        result['api_requests'] = client.requests
    module.exit_json(**result)


if __name__ == '__main__':
    main()
