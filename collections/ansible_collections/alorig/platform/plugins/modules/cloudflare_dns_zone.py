#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) Alorig platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: cloudflare_dns_zone
short_description: Converge the DNS records of one Cloudflare zone declaratively
version_added: 1.0.0
description:
  - Looks the zone up, lists its records once (paginated), computes the difference with
    the declared O(records) and applies it with the C(/dns_records/batch) endpoint
    (one transaction per batch of O(batch_size) operations).
  - Several zones in one plan, with a threshold over the whole run, is
    M(alorig.platform.cloudflare_dns_zones) (what the cloudflare_dns role uses).
  - Uses the official C(cloudflare) Python SDK (5.x). Credentials are passed explicitly, so
    C(CLOUDFLARE_EMAIL)/C(CLOUDFLARE_API_KEY) in the environment are ignored.
  - Only records whose comment has the O(owner_marker) as one C(|)-separated part (exactly) are
    managed. A managed record that is no longer declared is deleted. Unmanaged records are left
    alone unless O(purge=true), or taken over with O(adopt=true).
  - At most one SPF record per name and one DMARC record per C(_dmarc) name; an unmanaged second
    one next to a declared one is a conflict (RFC 7208 §4.5, RFC 7489 §6.6.3) unless O(adopt=true),
    which replaces it.
  - Names under C(_acme-challenge) and names matching O(ignore) are never touched.
  - Names and zones may be given in Unicode or Punycode; both are the same record (the API returns
    Punycode).
  - "Every declared record is checked before any request: names outside the zone
    (C(www.other.org.)), names over 253 characters or with labels over 63, records over 4,096
    bytes in wire format, data of SRV/CAA/HTTPS/TLSA/DS records (the error names the zone, the
    record and the key)."
  - A plan that updates or deletes more than O(max_change_ratio) of the zone's existing records is
    refused unless O(force=true) (adding the owner marker to an adopted record does not count).
  - TXT content is compared without DNS quoting (C("a" "b") equals C(ab)), so SPF and DKIM
    records do not flap between runs. Hostnames are compared case-insensitively without
    the trailing dot; IPv6 addresses in canonical form.
  - Reads (zone lookup, listing) are retried by the SDK on 429/5xx with exponential backoff
    (honouring C(Retry-After)) up to O(max_retries) times. Batches are never re-sent blindly;
    after any failure the module re-lists the zone and plans again, so a batch Cloudflare
    committed before its answer was lost (5xx, timeout) counts as applied, and a transient
    failure that applied nothing is retried (up to O(max_retries) times) from the new plan.
  - Run it on the control node (a play on localhost or C(delegate_to=localhost)).
author:
  - Alorig platform contributors
requirements:
  - cloudflare >= 4.0 (tested with 5.9.0)
attributes:
  check_mode:
    support: full
    description: Computes and returns the plan without changing anything.
  diff_mode:
    support: full
    description: Shows the zone's records in scope before and after the plan, one line per record.
options:
  api_token:
    description: Cloudflare API token with Zone.Zone Read and Zone.DNS Edit on the zone.
    type: str
    required: true
  api_base_url:
    description:
      - Base URL of the Cloudflare v4 API. Point it at a local stand-in for tests.
    type: str
    default: https://api.cloudflare.com/client/v4
  zone:
    description: Name of the zone (for example V(example.com)), in Unicode or Punycode.
    type: str
    required: true
  records:
    description:
      - The records this module owns in the zone. Records of the same name and type with
        several values (MX, TXT, CAA, SRV) are matched by value, so each value is one list item.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description:
          - Record name, relative to the zone (V(www), V(_sip._tcp)) or absolute (V(www.example.com)),
            Unicode or Punycode; V(@) is the apex. A name ending with a dot is absolute and must be
            inside the zone.
        type: str
        required: true
      type:
        description: Record type.
        type: str
        required: true
        choices: [A, AAAA, CNAME, MX, TXT, NS, PTR, CAA, DS, HTTPS, SRV, TLSA]
      content:
        description:
          - Record content (address, target hostname, text) of A, AAAA, CNAME, MX, TXT, NS and PTR
            records. Not used by CAA, DS, HTTPS, SRV and TLSA records (see O(records[].data)).
        type: str
      data:
        description:
          - The value of CAA, DS, HTTPS, SRV and TLSA records, as the API takes it.
          - "SRV: C(priority), C(weight), C(port) (0-65535) and C(target) (hostname, or C(.))."
          - "CAA: C(flags) (0-255), C(tag) (V(issue), V(issuewild), V(iodef), ...), C(value)."
          - "HTTPS: C(priority) (0-65535), C(target) (hostname or C(.)), C(value) (SvcParams, e.g. C(alpn=h2,h3))."
          - "TLSA: C(usage), C(selector), C(matching_type) (0-255) and C(certificate) (hex)."
          - "DS: C(key_tag) (0-65535), C(algorithm), C(digest_type) (0-255) and C(digest) (hex)."
        type: dict
      ttl:
        description: TTL in seconds, V(1) means automatic. Proxied records always use V(1).
        type: int
        required: true
      proxied:
        description:
          - Whether Cloudflare proxies the record. Required for A, AAAA and CNAME;
            must be false or unset for every other type.
        type: bool
      priority:
        description: MX priority (required for MX; SRV and HTTPS take theirs in O(records[].data)).
        type: int
      comment:
        description: Free comment; the owner marker is appended to it.
        type: str
  purge:
    description: Also delete unmanaged records that are not declared (never C(_acme-challenge) or O(ignore)).
    type: bool
    default: false
  adopt:
    description:
      - Take over unmanaged records that a declared record matches (same name, type and
        value), for A, AAAA and CNAME the whole name+type record set, and an unmanaged SPF or
        DMARC record next to a declared one (it is replaced).
      - Without it such records are conflicts and the module fails naming them.
    type: bool
    default: false
  ignore:
    description: Name patterns (shell style, relative or absolute) never touched.
    type: list
    elements: str
    default: []
  owner_marker:
    description: Text placed in the comment of every record this module creates or adopts.
    type: str
    default: 'managed-by: alorig-ansible'
  max_change_ratio:
    description:
      - Largest share (0-1) of the zone's existing records a plan may update or delete.
    type: float
    default: 0.3
  min_records_for_ratio:
    description: Zones with fewer existing records than this are not subject to O(max_change_ratio).
    type: int
    default: 10
  force:
    description: Apply a plan even when it exceeds O(max_change_ratio).
    type: bool
    default: false
  batch_size:
    description: Operations per batch request (Cloudflare Free plans accept 200).
    type: int
    default: 200
  per_page:
    description: Records per page when listing the zone.
    type: int
    default: 5000
  max_retries:
    description:
      - Retries of a read answered with 429, 408, 409 or 5xx (by the SDK, exponential backoff), and
        retries of a batch that failed transiently and applied nothing (after re-listing the zone).
    type: int
    default: 5
  timeout:
    description: Timeout of one HTTP request in seconds.
    type: float
    default: 30
notes:
  - The number of HTTP requests the module made is returned in RV(api_requests). An
    unchanged zone costs two requests when it fits in one page (zone lookup and one list
    page); a change costs one more per batch, and a failed batch one more listing.
'''

EXAMPLES = r'''
- name: Converge igny8.com
  alorig.platform.cloudflare_dns_zone:
    api_token: "{{ vault_cloudflare_api_token }}"
    zone: igny8.com
    records:
      - {name: app, type: A, content: 203.0.113.10, ttl: 1, proxied: true}
      - {name: "@", type: MX, content: mail.igny8.com, priority: 10, ttl: 3600}
      - {name: "@", type: TXT, content: "v=spf1 mx -all", ttl: 3600}
      - {name: _dmarc, type: TXT, content: "v=DMARC1; p=quarantine", ttl: 3600}
      - {name: _submission._tcp, type: SRV, ttl: 3600,
         data: {priority: 0, weight: 1, port: 587, target: mail.igny8.com}}
      - {name: "@", type: CAA, ttl: 3600, data: {flags: 0, tag: issue, value: letsencrypt.org}}
      - {name: bücher, type: A, content: 203.0.113.10, ttl: 1, proxied: true}
  delegate_to: localhost

- name: Show what would change (use with --check --diff)
  alorig.platform.cloudflare_dns_zone:
    api_token: "{{ vault_cloudflare_api_token }}"
    zone: alorig.com
    records: "{{ my_records }}"
  check_mode: true
  register: dns_plan

- name: Replace the whole zone, including records created by hand
  alorig.platform.cloudflare_dns_zone:
    api_token: "{{ vault_cloudflare_api_token }}"
    api_base_url: http://127.0.0.1:8788/client/v4
    zone: psydge.com
    records: "{{ my_records }}"
    purge: true
    force: true
'''

RETURN = r'''
zone_id:
  description: Identifier of the zone.
  returned: success
  type: str
  sample: 023e105f4ecef8ad9ca31a8372d0c353
plan:
  description: Records to create, update (before, after, changed fields) and delete.
  returned: always when the plan was computed
  type: dict
  contains:
    create:
      description: Records to create.
      type: list
      elements: dict
    update:
      description: Records to update, with C(before), C(after) and C(fields).
      type: list
      elements: dict
    delete:
      description: Records to delete.
      type: list
      elements: dict
counts:
  description: Number of records per outcome.
  returned: always when the plan was computed
  type: dict
  sample: {create: 1, update: 0, delete: 0, unchanged: 12, unmanaged: 3, ignored: 1}
batches:
  description: The batches applied, in order; a batch committed although its answer was an error says so.
  returned: when changes were applied
  type: list
  elements: str
  sample: ["batch 1 of 1: 2 patches, 1 posts"]
recovered:
  description: Batch failures the module recovered from (re-listing the zone showed them applied, or nothing applied and the retry succeeded).
  returned: when a batch failed and the module recovered
  type: list
  elements: str
api_requests:
  description: HTTP requests sent to the API by this task, retries included.
  returned: always
  type: int
  sample: 2
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.alorig.platform.plugins.module_utils.cloudflare_dns import (
    RecordError,
    SUPPORTED_TYPES,
    conflict_error,
    normalize_desired,
    plan_as_dict,
    policy_warnings,
    threshold_error,
    zone_diff,
)
from ansible_collections.alorig.platform.plugins.module_utils.cloudflare_dns_api import (
    SDK_IMPORT_ERROR,
    DnsApiError,
    DnsClient,
    ZoneRun,
    connection_argument_spec,
    record_argument_spec,
)


def run(module):
    p = module.params
    result = {'changed': False, 'api_requests': 0}
    client = None

    def fail(msg):
        result['api_requests'] = client.requests if client else 0
        module.fail_json(msg=msg, **result)

    try:
        desired = normalize_desired(p['records'], p['zone'].strip(), p['owner_marker'], p['ignore'])
    except RecordError as exc:
        return fail(str(exc))
    zone = ZoneRun(p['zone'], desired, p['owner_marker'], purge=p['purge'], adopt=p['adopt'], ignore=p['ignore'])
    client = DnsClient(p['api_token'], p['api_base_url'], p['max_retries'], p['timeout'])
    try:
        plan = zone.read(client, p['per_page'])
    except DnsApiError as exc:
        return fail(exc.message)
    result['zone_id'] = zone.zone_id
    result['plan'] = plan_as_dict(plan)
    result['counts'] = plan.counts()
    if module._diff:
        result['diff'] = zone_diff(zone.zone, zone.existing, plan)
    for warning in policy_warnings(plan, zone.label):
        module.warn(warning)
    message = conflict_error(plan, zone.label)
    if message:
        return fail(message)
    message = threshold_error(plan, zone.label, len(zone.existing), p['max_change_ratio'], p['min_records_for_ratio'])
    if message and not p['force']:
        return fail(message)
    if message:
        module.warn('forced: ' + message)
    result['changed'] = plan.changed
    if plan.changed and not module.check_mode:
        try:
            zone.apply(client, p['batch_size'], p['max_retries'], p['per_page'])
        except DnsApiError as exc:
            result['changed'] = bool(zone.applied)
            result['batches'] = zone.applied
            result['recovered'] = zone.recovered
            return fail(exc.message)
        result['batches'] = zone.applied
        if zone.recovered:
            result['recovered'] = zone.recovered
    result['api_requests'] = client.requests
    module.exit_json(**result)


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        zone=dict(type='str', required=True),
        records=dict(type='list', elements='dict', default=[], options=record_argument_spec(SUPPORTED_TYPES)),
        purge=dict(type='bool', default=False),
        adopt=dict(type='bool', default=False),
        ignore=dict(type='list', elements='str', default=[]),
        max_change_ratio=dict(type='float', default=0.3),
        min_records_for_ratio=dict(type='int', default=10),
        force=dict(type='bool', default=False),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if SDK_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib('cloudflare'), exception=SDK_IMPORT_ERROR)
    if not module.params['owner_marker'] or not module.params['owner_marker'].strip():
        module.fail_json(msg='owner_marker must not be empty: it is how the module knows its records')
    if '|' in module.params['owner_marker']:
        module.fail_json(msg='owner_marker must not contain "|": it separates the parts of a comment')
    run(module)


if __name__ == '__main__':
    main()
