#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) Alorig platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: cloudflare_dns_zones
short_description: Converge several Cloudflare zones with one plan across all of them
version_added: 1.1.0
description:
  - The multi-zone form of M(alorig.platform.cloudflare_dns_zone), with the same record rules
    (ownership marker, adopt, purge, ignore, SPF/DMARC uniqueness, IDN names, structured
    SRV/CAA/HTTPS/TLSA/DS records, local checks before any request, batch recovery).
  - "The run is planned as a whole before anything changes: every zone's declared records are
    validated, every zone is looked up and listed, and the plans of all zones are returned
    together (RV(zones), RV(summary), one diff per zone). Conflicts in any zone, or a threshold
    exceeded in any zone or over the whole run, stop the run before the first change in any zone."
  - "Two thresholds: per zone, O(max_change_ratio) (overridable per zone with
    O(zones[].max_change_ratio)) of that zone's existing records, for zones of at least
    O(min_records_for_ratio) records; over the run, O(run_max_change_ratio) of the existing records
    of all zones together (the small zones that are exempt per zone count here). Updates that only
    add the owner marker (adoption) count in neither. O(force=true) lifts both."
  - Zones are applied one after the other; if one fails, the message names the zones and the
    batches already applied and the zones not attempted.
  - Run it on the control node.
author:
  - Alorig platform contributors
requirements:
  - cloudflare >= 4.0 (tested with 5.9.0)
attributes:
  check_mode:
    support: full
    description: Computes and returns the plan of every zone without changing anything.
  diff_mode:
    support: full
    description: One before/after diff per zone, one line per record.
options:
  api_token:
    description: Cloudflare API token with Zone.Zone Read and Zone.DNS Edit on every zone.
    type: str
    required: true
  api_base_url:
    description: Base URL of the Cloudflare v4 API. Point it at a local stand-in for tests.
    type: str
    default: https://api.cloudflare.com/client/v4
  zones:
    description: The zones and the records this module owns in them. A zone may appear once.
    type: list
    elements: dict
    required: true
    suboptions:
      zone:
        description: Zone name, Unicode or Punycode.
        type: str
        required: true
      records:
        description:
          - The declared records, exactly as O(alorig.platform.cloudflare_dns_zone#module:records)
            (name, type, content or data, ttl, proxied, priority, comment).
          - A relative name ending with another zone of the run (C(app.alorig.com) declared in
            C(igny8.com)) is refused.
        type: list
        elements: dict
        default: []
        suboptions:
          name:
            description: Record name, relative or absolute, Unicode or Punycode; V(@) is the apex.
            type: str
            required: true
          type:
            description: Record type.
            type: str
            required: true
            choices: [A, AAAA, CNAME, MX, TXT, NS, PTR, CAA, DS, HTTPS, SRV, TLSA]
          content:
            description: Content of A, AAAA, CNAME, MX, TXT, NS and PTR records.
            type: str
          data:
            description: Value of CAA, DS, HTTPS, SRV and TLSA records (see M(alorig.platform.cloudflare_dns_zone)).
            type: dict
          ttl:
            description: TTL in seconds, V(1) means automatic.
            type: int
            required: true
          proxied:
            description: Required for A, AAAA and CNAME.
            type: bool
          priority:
            description: MX priority.
            type: int
          comment:
            description: Free comment; the owner marker is appended to it.
            type: str
      purge:
        description: This zone's purge (default O(purge)).
        type: bool
      adopt:
        description: This zone's adopt (default O(adopt)).
        type: bool
      ignore:
        description: This zone's ignore patterns (default O(ignore)).
        type: list
        elements: str
      max_change_ratio:
        description: This zone's threshold (default O(max_change_ratio)).
        type: float
  purge:
    description: Default purge of the zones (delete undeclared unmanaged records).
    type: bool
    default: false
  adopt:
    description: Default adopt of the zones (take over matching unmanaged records).
    type: bool
    default: false
  ignore:
    description: Default name patterns never touched.
    type: list
    elements: str
    default: []
  owner_marker:
    description: Text placed in the comment of every record this module creates or adopts.
    type: str
    default: 'managed-by: alorig-ansible'
  max_change_ratio:
    description: Default per-zone threshold (share 0-1 of a zone's existing records updated or deleted).
    type: float
    default: 0.3
  run_max_change_ratio:
    description:
      - Threshold over the whole run (share 0-1 of the existing records of all zones updated or
        deleted). Unset (null) turns it off.
    type: float
  min_records_for_ratio:
    description: A zone (or, for O(run_max_change_ratio), the run) with fewer existing records is exempt.
    type: int
    default: 10
  force:
    description: Apply even when a threshold is exceeded.
    type: bool
    default: false
  batch_size:
    description: Operations per batch request (Cloudflare Free plans accept 200).
    type: int
    default: 200
  per_page:
    description: Records per page when listing a zone.
    type: int
    default: 5000
  max_retries:
    description: Retries of reads (SDK) and of batches that failed transiently and applied nothing.
    type: int
    default: 5
  timeout:
    description: Timeout of one HTTP request in seconds.
    type: float
    default: 30
notes:
  - An unchanged run costs two requests per zone (lookup, one page of records).
'''

EXAMPLES = r'''
- name: Converge every zone with one plan
  alorig.platform.cloudflare_dns_zones:
    api_token: "{{ vault_cloudflare_api_token }}"
    run_max_change_ratio: 0.3
    zones:
      - zone: igny8.com
        records:
          - {name: app, type: A, content: 203.0.113.10, ttl: 1, proxied: true}
          - {name: "@", type: MX, content: mx1.mailhost.example, priority: 10, ttl: 3600}
      - zone: alorig.com
        adopt: true
        records:
          - {name: "@", type: CAA, ttl: 3600, data: {flags: 0, tag: issue, value: letsencrypt.org}}
  register: dns

- name: Show the plan of every zone
  ansible.builtin.debug:
    msg: "{{ dns.summary }}"
'''

RETURN = r'''
zones:
  description: Per zone (Punycode name) its C(zone_id), C(counts), C(plan) and, after applying, C(batches).
  returned: always when the plans were computed
  type: dict
summary:
  description: "One line per zone: C(zone: +create ~update -delete (unchanged, unmanaged, ignored))."
  returned: always when the plans were computed
  type: list
  elements: str
  sample: ["igny8.com: +2 ~0 -1 (unchanged 9, unmanaged 3, ignored 1)"]
counts:
  description: The counts of all zones added together.
  returned: always when the plans were computed
  type: dict
api_requests:
  description: HTTP requests sent to the API by this task, retries included.
  returned: always
  type: int
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.alorig.platform.plugins.module_utils.cloudflare_dns import (
    RecordError,
    SUPPORTED_TYPES,
    conflict_error,
    normalize_desired,
    plan_as_dict,
    plan_summary,
    policy_warnings,
    run_threshold_error,
    threshold_error,
    to_ascii,
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


class ZonesManager(object):
    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.client = None
        self.result = {'changed': False, 'api_requests': 0}

    def fail(self, msg):
        self.result['api_requests'] = self.client.requests if self.client else 0
        self.module.fail_json(msg=msg, **self.result)

    def setting(self, entry, key):
        return self.p[key] if entry.get(key) is None else entry[key]

    def declared(self):
        """Every zone's records validated before any request; all problems at once."""
        names = []
        for entry in self.p['zones']:
            try:
                names.append(to_ascii(entry['zone']))
            except ValueError as exc:
                self.fail('zone %s: %s' % (entry['zone'], exc))
        twice = sorted(set(n for n in names if names.count(n) > 1))
        if twice:
            self.fail('zones given more than once (merge their records into one entry): %s' % ', '.join(twice))
        runs, errors = [], []
        for entry, name in zip(self.p['zones'], names):
            try:
                desired = normalize_desired(entry['records'], entry['zone'].strip(), self.p['owner_marker'],
                                            self.setting(entry, 'ignore'), other_zones=names)
            except RecordError as exc:
                errors.append(str(exc))
                continue
            runs.append(ZoneRun(name, desired, self.p['owner_marker'], purge=self.setting(entry, 'purge'),
                                adopt=self.setting(entry, 'adopt'), ignore=self.setting(entry, 'ignore'),
                                max_change_ratio=self.setting(entry, 'max_change_ratio')))
        if errors:
            self.fail('%d invalid record(s), nothing was sent to Cloudflare: %s' % (len(errors), '; '.join(errors)))
        return runs

    def run(self):
        runs = self.declared()
        self.client = DnsClient(self.p['api_token'], self.p['api_base_url'], self.p['max_retries'], self.p['timeout'])
        zones, summary, diffs = {}, [], []
        totals = {}
        for zone in runs:
            try:
                plan = zone.read(self.client, self.p['per_page'])
            except DnsApiError as exc:
                self.result.update(zones=zones, summary=summary)
                return self.fail('%s (nothing was changed in any zone)' % exc.message)
            zones[zone.zone] = {'zone_id': zone.zone_id, 'counts': plan.counts(), 'plan': plan_as_dict(plan)}
            summary.append(plan_summary(zone.zone, plan))
            for key, value in plan.counts().items():
                totals[key] = totals.get(key, 0) + value
            diffs.append(zone_diff(zone.zone, zone.existing, plan))
            for warning in policy_warnings(plan, zone.label):
                self.module.warn(warning)
        self.result.update(zones=zones, summary=summary, counts=totals)
        if self.module._diff:
            self.result['diff'] = diffs

        problems = [m for m in (conflict_error(z.plan, z.label) for z in runs) if m]
        if problems:
            return self.fail('%s (nothing was changed in any zone)' % ' | '.join(problems))
        limits = [m for m in (threshold_error(z.plan, z.label, len(z.existing), z.max_change_ratio,
                                              self.p['min_records_for_ratio']) for z in runs) if m]
        whole = run_threshold_error([(z.label, z.plan, len(z.existing)) for z in runs],
                                    self.p['run_max_change_ratio'], self.p['min_records_for_ratio'])
        if whole:
            limits.append(whole)
        if limits and not self.p['force']:
            return self.fail('%s (nothing was changed in any zone)' % ' | '.join(limits))
        for message in limits:
            self.module.warn('forced: ' + message)

        changing = [z for z in runs if z.plan.changed]
        self.result['changed'] = bool(changing)
        if changing and not self.module.check_mode:
            done = []
            for position, zone in enumerate(changing):
                try:
                    zone.apply(self.client, self.p['batch_size'], self.p['max_retries'], self.p['per_page'])
                except DnsApiError as exc:
                    zones[zone.zone]['batches'] = zone.applied
                    self.result['changed'] = bool(done or zone.applied)
                    left = [z.label for z in changing[position + 1:]]
                    return self.fail('%s Zones applied before it: %s. Zones not attempted: %s.' % (
                        exc.message, ', '.join(done) or 'none', ', '.join(left) or 'none'))
                zones[zone.zone]['batches'] = zone.applied
                if zone.recovered:
                    zones[zone.zone]['recovered'] = zone.recovered
                done.append(zone.label)
        self.result['api_requests'] = self.client.requests
        self.module.exit_json(**self.result)


def main():
    zone_spec = dict(
        zone=dict(type='str', required=True),
        records=dict(type='list', elements='dict', default=[], options=record_argument_spec(SUPPORTED_TYPES)),
        purge=dict(type='bool'),
        adopt=dict(type='bool'),
        ignore=dict(type='list', elements='str'),
        max_change_ratio=dict(type='float'),
    )
    argument_spec = connection_argument_spec()
    argument_spec.update(
        zones=dict(type='list', elements='dict', required=True, options=zone_spec),
        purge=dict(type='bool', default=False),
        adopt=dict(type='bool', default=False),
        ignore=dict(type='list', elements='str', default=[]),
        max_change_ratio=dict(type='float', default=0.3),
        run_max_change_ratio=dict(type='float'),
        min_records_for_ratio=dict(type='int', default=10),
        force=dict(type='bool', default=False),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if SDK_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib('cloudflare'), exception=SDK_IMPORT_ERROR)
    marker = module.params['owner_marker']
    if not marker or not marker.strip() or '|' in marker:
        module.fail_json(msg='owner_marker must be non-empty text without "|": it is how the module knows its '
                             'records')
    ZonesManager(module).run()


if __name__ == '__main__':
    main()
