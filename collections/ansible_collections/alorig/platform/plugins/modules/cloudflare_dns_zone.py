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
  - Uses the official C(cloudflare) Python SDK (5.x). Credentials are passed explicitly, so
    C(CLOUDFLARE_EMAIL)/C(CLOUDFLARE_API_KEY) in the environment are ignored.
  - Only records carrying the O(owner_marker) in their comment are managed. A managed
    record that is no longer declared is deleted. Unmanaged records are left alone unless
    O(purge=true), or taken over with O(adopt=true).
  - Names under C(_acme-challenge) and names matching O(ignore) are never touched.
  - A plan that updates or deletes more than O(max_change_ratio) of the zone's existing
    records is refused unless O(force=true).
  - TXT content is compared without DNS quoting (C("a" "b") equals C(ab)), so SPF and DKIM
    records do not flap between runs. Hostnames are compared case-insensitively without
    the trailing dot; IPv6 addresses in canonical form.
  - 429 and 5xx answers are retried by the SDK with exponential backoff (honouring
    C(Retry-After)) up to O(max_retries) times.
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
    description: Name of the zone (for example V(example.com)).
    type: str
    required: true
  records:
    description:
      - The records this module owns in the zone. Records of the same name and type with
        several values (MX, TXT) are matched by content, so each value is one list item.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Record name, relative to the zone or absolute; V(@) is the apex.
        type: str
        required: true
      type:
        description: Record type.
        type: str
        required: true
        choices: [A, AAAA, CNAME, MX, TXT, NS, CAA, SRV, PTR]
      content:
        description: Record content (address, target hostname, text).
        type: str
        required: true
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
        description: MX priority (required for MX).
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
        content), and for A, AAAA and CNAME the whole name+type record set.
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
    description: Retries of a request answered with 429, 408, 409 or 5xx (exponential backoff).
    type: int
    default: 5
  timeout:
    description: Timeout of one HTTP request in seconds.
    type: float
    default: 30
notes:
  - The number of HTTP requests the module made is returned in RV(api_requests). An
    unchanged zone costs two requests when it fits in one page (zone lookup and one list
    page); a change costs one more per batch.
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
api_requests:
  description: HTTP requests sent to the API by this task, retries included.
  returned: always
  type: int
  sample: 2
'''

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.alorig.platform.plugins.module_utils.cloudflare_dns import (
    RecordError,
    SUPPORTED_TYPES,
    batch_chunks,
    compute_plan,
    conflict_error,
    normalize_desired,
    normalize_existing,
    plan_as_dict,
    threshold_error,
    zone_diff,
)

CLOUDFLARE_IMPORT_ERROR = None
try:
    import cloudflare
    import httpx
except ImportError:
    CLOUDFLARE_IMPORT_ERROR = traceback.format_exc()


def _as_dict(obj):
    if isinstance(obj, dict):
        return obj
    if hasattr(obj, 'model_dump'):
        return obj.model_dump()
    return dict(obj)


def _api_messages(exc):
    body = getattr(exc, 'body', None)
    errors = []
    if isinstance(body, dict):
        errors = body.get('errors') or []
    if not errors:
        errors = getattr(exc, 'errors', None) or []
    out = []
    for err in errors:
        err = _as_dict(err) if not isinstance(err, dict) else err
        out.append('%s: %s' % (err.get('code'), err.get('message')))
    return '; '.join(out) or str(exc)


class CloudflareZoneManager(object):
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.zone = self.params['zone'].strip().rstrip('.').lower()
        self.requests = 0
        self.result = {'changed': False, 'api_requests': 0}

    def _count(self, request):
        self.requests += 1

    def client(self):
        http_client = httpx.Client(event_hooks={'request': [self._count]},
                                   timeout=self.params['timeout'])
        client = cloudflare.Cloudflare(
            api_token=self.params['api_token'],
            base_url=self.params['api_base_url'],
            max_retries=self.params['max_retries'],
            timeout=self.params['timeout'],
            http_client=http_client,
        )
        # The SDK fills these from CLOUDFLARE_API_KEY/CLOUDFLARE_EMAIL/... when
        # not given, and they outrank the token: only the token may be sent.
        client.api_key = None
        client.api_email = None
        client.user_service_key = None
        return client

    def fail(self, msg, **kwargs):
        self.result['api_requests'] = self.requests
        self.result.update(kwargs)
        self.module.fail_json(msg=msg, **self.result)

    def api_error(self, exc, action, records=None):
        what = 'zone %s: %s' % (self.zone, action)
        if records:
            names = ['%s %s' % (r.get('name'), r.get('type')) for r in records[:5]]
            more = ' (and %d more)' % (len(records) - 5) if len(records) > 5 else ''
            what += ' (records: %s%s)' % (', '.join(names), more)
        if isinstance(exc, cloudflare.AuthenticationError):
            return self.fail('%s failed: the API token was rejected (401, %s). Check '
                             'cloudflare_dns_api_token / api_token.' % (what, _api_messages(exc)))
        if isinstance(exc, cloudflare.PermissionDeniedError):
            return self.fail('%s failed: permission refused (403, %s). The token needs Zone.Zone Read '
                             'and Zone.DNS Edit on this zone.' % (what, _api_messages(exc)))
        if isinstance(exc, cloudflare.RateLimitError):
            return self.fail('%s failed: rate limited (429) after %d retries (%s). Cloudflare allows '
                             '1200 requests per 5 minutes per user; wait and re-run.'
                             % (what, self.params['max_retries'], _api_messages(exc)))
        if isinstance(exc, cloudflare.InternalServerError):
            return self.fail('%s failed: Cloudflare answered %s after %d retries (%s).'
                             % (what, getattr(exc, 'status_code', '5xx'), self.params['max_retries'],
                                _api_messages(exc)))
        if isinstance(exc, cloudflare.APIStatusError):
            return self.fail('%s failed: HTTP %s (%s).' % (what, exc.status_code, _api_messages(exc)))
        if isinstance(exc, cloudflare.APITimeoutError):
            return self.fail('%s failed: request timed out after %d retries.' % (what, self.params['max_retries']))
        if isinstance(exc, cloudflare.APIConnectionError):
            return self.fail('%s failed: cannot reach %s (%s).' % (what, self.params['api_base_url'], exc))
        return self.fail('%s failed: %s' % (what, exc))

    def find_zone(self, cf):
        try:
            page = cf.zones.list(name=self.zone, per_page=5)
        except cloudflare.APIError as exc:
            return self.api_error(exc, 'looking up the zone')
        zones = [_as_dict(z) for z in (page.result or [])]
        zones = [z for z in zones if str(z.get('name', '')).lower() == self.zone]
        if not zones:
            return self.fail('zone %s was not found in the Cloudflare account (or the token cannot read it: '
                             'it needs Zone.Zone Read on this zone).' % self.zone)
        if len(zones) > 1:
            return self.fail('zone %s: %d zones match this name; cannot choose.' % (self.zone, len(zones)))
        return zones[0]['id']

    def list_records(self, cf, zone_id):
        """Every record of the zone, one request per page.

        The SDK's iterator only stops on an empty page; result_info.total_pages
        saves that extra request when the API reports it.
        """
        records = []
        page_number = 1
        per_page = self.params['per_page']
        while page_number <= 100000:
            try:
                page = cf.dns.records.list(zone_id=zone_id, page=page_number, per_page=per_page)
            except cloudflare.APIError as exc:
                return self.api_error(exc, 'listing records (page %d)' % page_number)
            items = [_as_dict(r) for r in (page.result or [])]
            records.extend(items)
            if not items:
                break
            info = getattr(page, 'result_info', None)
            info = _as_dict(info) if info is not None else {}
            extra = _as_dict(getattr(page, 'model_extra', None) or {}).get('result_info') or {}
            total_pages = info.get('total_pages', extra.get('total_pages'))
            total_count = info.get('total_count', extra.get('total_count'))
            if total_pages is not None and page_number >= int(total_pages):
                break
            if total_pages is None and total_count is not None and len(records) >= int(total_count):
                break
            page_number += 1
        return records

    def apply(self, cf, zone_id, plan):
        for chunk in batch_chunks(plan, self.params['batch_size']):
            try:
                cf.dns.records.batch(zone_id=zone_id, **chunk)
            except cloudflare.APIError as exc:
                touched = chunk.get('posts', []) + chunk.get('patches', []) + [
                    {'name': 'id ' + d['id'], 'type': ''} for d in chunk.get('deletes', [])]
                return self.api_error(exc, 'applying a batch of %d changes' % sum(len(v) for v in chunk.values()),
                                      records=touched)

    def run(self):
        p = self.params
        try:
            desired = normalize_desired(p['records'], self.zone, p['owner_marker'], p['ignore'])
        except RecordError as exc:
            return self.fail(str(exc))
        cf = self.client()
        zone_id = self.find_zone(cf)
        self.result['zone_id'] = zone_id
        existing = [normalize_existing(r) for r in self.list_records(cf, zone_id)]
        existing = [r for r in existing if r['type'] != 'SOA']
        plan = compute_plan(desired, existing, self.zone, marker=p['owner_marker'], purge=p['purge'],
                            adopt=p['adopt'], ignore=p['ignore'])
        self.result['plan'] = plan_as_dict(plan)
        self.result['counts'] = plan.counts()
        if self.module._diff:
            self.result['diff'] = zone_diff(self.zone, existing, plan)
        message = conflict_error(plan, self.zone)
        if message:
            return self.fail(message)
        message = threshold_error(plan, self.zone, len(existing), p['max_change_ratio'], p['min_records_for_ratio'])
        if message and not p['force']:
            return self.fail(message)
        if message:
            self.module.warn('forced: ' + message)
        self.result['changed'] = plan.changed
        if plan.changed and not self.module.check_mode:
            self.apply(cf, zone_id, plan)
        self.result['api_requests'] = self.requests
        self.module.exit_json(**self.result)


def main():
    record_spec = dict(
        name=dict(type='str', required=True),
        type=dict(type='str', required=True, choices=list(SUPPORTED_TYPES)),
        content=dict(type='str', required=True),
        ttl=dict(type='int', required=True),
        proxied=dict(type='bool'),
        priority=dict(type='int'),
        comment=dict(type='str'),
    )
    module = AnsibleModule(
        argument_spec=dict(
            api_token=dict(type='str', required=True, no_log=True),
            api_base_url=dict(type='str', default='https://api.cloudflare.com/client/v4'),
            zone=dict(type='str', required=True),
            records=dict(type='list', elements='dict', default=[], options=record_spec),
            purge=dict(type='bool', default=False),
            adopt=dict(type='bool', default=False),
            ignore=dict(type='list', elements='str', default=[]),
            owner_marker=dict(type='str', default='managed-by: alorig-ansible'),
            max_change_ratio=dict(type='float', default=0.3),
            min_records_for_ratio=dict(type='int', default=10),
            force=dict(type='bool', default=False),
            batch_size=dict(type='int', default=200),
            per_page=dict(type='int', default=5000),
            max_retries=dict(type='int', default=5),
            timeout=dict(type='float', default=30),
        ),
        supports_check_mode=True,
    )
    if CLOUDFLARE_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib('cloudflare'), exception=CLOUDFLARE_IMPORT_ERROR)
    if not module.params['owner_marker']:
        module.fail_json(msg='owner_marker must not be empty: it is how the module knows its records')
    CloudflareZoneManager(module).run()


if __name__ == '__main__':
    main()
