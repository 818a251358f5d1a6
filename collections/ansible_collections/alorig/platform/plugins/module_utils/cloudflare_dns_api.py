# -*- coding: utf-8 -*-
# Copyright (c) Alorig platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Cloudflare side of the alorig.platform DNS modules (official SDK).

* ``DnsClient``: the SDK client with explicit credentials (environment
  credentials are ignored), a request counter, zone lookup (IDNA), paginated
  listing, and ``batch`` sent with the SDK's automatic retry turned off.
* ``ZoneRun``: one zone's declared records, plan and application. A batch
  that fails in any way (4xx, 5xx, timeout, lost connection) is followed by a
  re-listing of the zone and a new plan: a batch the API committed before
  failing to answer is recognised as applied, a transient failure is retried
  from the new plan, and a final failure names the batches already applied.
* ``describe_api_error``: the API's whole error chain in one message, with
  what the error means for the operator (malformed token, rejected token,
  missing permission, rate limit...).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time
import traceback

from ansible_collections.alorig.platform.plugins.module_utils.cloudflare_dns import (
    batch_chunks,
    chunk_state,
    compute_plan,
    conflict_error,
    describe_chunk,
    display_name,
    normalize_existing,
    to_ascii,
)

SDK_IMPORT_ERROR = None
try:
    import cloudflare
    import httpx
except ImportError:
    SDK_IMPORT_ERROR = traceback.format_exc()
    cloudflare = None
    httpx = None

MALFORMED_CODES = (6003, 6102, 6103, 6111, 9106)
REJECTED_TOKEN_CODES = (1000, 9103, 9109)


class DnsApiError(Exception):
    """A failed API call, already described for the operator."""

    def __init__(self, message, transient=False, retry_after=None):
        super(DnsApiError, self).__init__(message)
        self.message = message
        self.transient = transient
        self.retry_after = retry_after


def _as_dict(obj):
    if isinstance(obj, dict):
        return obj
    if hasattr(obj, 'model_dump'):
        return obj.model_dump()
    return dict(obj)


def _error_list(exc):
    body = getattr(exc, 'body', None)
    if isinstance(body, dict) and body.get('errors'):
        return [e if isinstance(e, dict) else _as_dict(e) for e in body['errors']]
    return [_as_dict(e) for e in (getattr(exc, 'errors', None) or [])]


def format_errors(errors):
    """``1004: DNS Validation Error [9101: Content for SRV record is invalid...]``: every error
    with its ``error_chain`` (nested chains included)."""
    out = []
    for err in errors or []:
        text = '%s: %s' % (err.get('code'), err.get('message'))
        chain = err.get('error_chain') or []
        if chain:
            text += ' [%s]' % format_errors(chain)
        out.append(text)
    return '; '.join(out)


def _codes(errors):
    codes = set()
    for err in errors or []:
        codes.add(err.get('code'))
        codes |= _codes(err.get('error_chain'))
    return codes


def describe_api_error(exc, what, max_retries=0, base_url=''):
    """A DnsApiError for an SDK exception; ``what`` says what was being done."""
    if isinstance(exc, cloudflare.APITimeoutError):
        return DnsApiError('%s failed: no answer within the timeout (after %d retries)' % (what, max_retries),
                           transient=True)
    if isinstance(exc, cloudflare.APIConnectionError):
        return DnsApiError('%s failed: cannot reach %s (%s)' % (what, base_url, exc), transient=True)
    if not isinstance(exc, cloudflare.APIStatusError):
        return DnsApiError('%s failed: %s' % (what, exc))
    status = exc.status_code
    errors = _error_list(exc)
    chain = format_errors(errors) or str(exc)
    codes = _codes(errors)
    answer = 'HTTP %s, %s' % (status, chain)
    if codes & set(MALFORMED_CODES):
        return DnsApiError(
            '%s failed: the API token is malformed: Cloudflare refused the request headers before looking at any '
            'permission (%s). cloudflare_dns_api_token / api_token must be the API token itself: 40 characters of '
            'letters, digits, "-" and "_" (or a newer cfut_/cfat_ token), not the Global API Key, not the '
            "token's id, and without quotes, spaces or a newline." % (what, answer))
    if codes & set(REJECTED_TOKEN_CODES) or (status == 401 and 10000 in codes):
        return DnsApiError(
            '%s failed: the API token was rejected (%s): Cloudflare does not know it, or it expired, was revoked '
            'or is not allowed from this address. Create a new token and set cloudflare_dns_api_token / '
            'api_token.' % (what, answer))
    if status == 403:
        return DnsApiError(
            '%s failed: permission refused (%s). The token is valid but needs Zone.Zone Read and Zone.DNS Edit on '
            'this zone.' % (what, answer))
    if status == 429:
        retry_after = None
        try:
            retry_after = float(exc.response.headers.get('retry-after'))
        except (TypeError, ValueError, AttributeError):
            pass
        return DnsApiError('%s failed: rate limited (429) after %d retries (%s). Cloudflare allows 1200 requests '
                           'per 5 minutes per user; wait and re-run.' % (what, max_retries, chain),
                           transient=True, retry_after=retry_after)
    if status >= 500 or status in (408, 409):
        return DnsApiError('%s failed: Cloudflare answered %s after %d retries (%s)'
                           % (what, status, max_retries, chain), transient=True)
    return DnsApiError('%s failed: %s' % (what, answer))


class DnsClient(object):
    """The SDK client, with explicit credentials and a request counter."""

    def __init__(self, api_token, base_url, max_retries=5, timeout=30.0):
        self.base_url = base_url
        self.max_retries = max_retries
        self.requests = 0
        http_client = httpx.Client(event_hooks={'request': [self._count]}, timeout=timeout)
        self.cf = cloudflare.Cloudflare(
            api_token=api_token,
            base_url=base_url,
            max_retries=max_retries,
            timeout=timeout,
            http_client=http_client,
        )
        # Batches are never retried by the SDK: a batch committed before its
        # answer was lost must be recognised (re-list), not blindly re-sent.
        self.cf_once = self.cf.with_options(max_retries=0)
        for client in (self.cf, self.cf_once):
            # The SDK fills these from CLOUDFLARE_API_KEY/CLOUDFLARE_EMAIL/...
            # when not given (a copy reads them again), and they outrank the
            # token: only the token may be sent.
            client.api_key = None
            client.api_email = None
            client.user_service_key = None

    def _count(self, request):
        self.requests += 1

    def find_zone(self, zone):
        """The id of ``zone`` (Unicode or Punycode)."""
        name = to_ascii(zone)
        what = 'zone %s: looking up the zone' % display_name(name)
        try:
            page = self.cf.zones.list(name=name, per_page=5)
        except cloudflare.APIError as exc:
            raise describe_api_error(exc, what, self.max_retries, self.base_url)
        zones = [_as_dict(z) for z in (page.result or [])]
        zones = [z for z in zones if to_ascii(str(z.get('name', ''))) == name]
        if not zones:
            raise DnsApiError('zone %s was not found in the Cloudflare account (or the token cannot read it: it needs '
                              'Zone.Zone Read on this zone).' % display_name(name))
        if len(zones) > 1:
            raise DnsApiError('zone %s: %d zones match this name; cannot choose.' % (display_name(name), len(zones)))
        return zones[0]['id']

    def list_records(self, zone, zone_id, per_page=5000):
        """Every record of the zone, one request per page.

        The SDK's iterator only stops on an empty page; result_info.total_pages
        saves that extra request when the API reports it.
        """
        records = []
        page_number = 1
        while page_number <= 100000:
            try:
                page = self.cf.dns.records.list(zone_id=zone_id, page=page_number, per_page=per_page)
            except cloudflare.APIError as exc:
                raise describe_api_error(exc, 'zone %s: listing records (page %d)' % (display_name(zone), page_number),
                                         self.max_retries, self.base_url)
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

    def batch(self, zone_id, chunk, what):
        try:
            self.cf_once.dns.records.batch(zone_id=zone_id, **chunk)
        except cloudflare.APIError as exc:
            raise describe_api_error(exc, what, 0, self.base_url)


def _records_hint(chunk):
    touched = chunk.get('posts', []) + chunk.get('patches', [])
    names = ['%s %s' % (r.get('name'), r.get('type')) for r in touched[:5]]
    if chunk.get('deletes') and len(names) < 5:
        names.extend('delete id %s' % d['id'] for d in chunk['deletes'][:5 - len(names)])
    count = len(touched) + len(chunk.get('deletes', []))
    more = ' (and %d more)' % (count - len(names)) if count > len(names) else ''
    return ' (records: %s%s)' % (', '.join(names), more) if names else ''


class ZoneRun(object):
    """One zone: its declared records, the plan against the API, the apply."""

    def __init__(self, zone, desired, marker, purge=False, adopt=False, ignore=(), max_change_ratio=None):
        self.zone = to_ascii(zone)
        self.label = display_name(self.zone)
        self.desired = desired
        self.marker = marker
        self.purge = purge
        self.adopt = adopt
        self.ignore = list(ignore or [])
        self.max_change_ratio = max_change_ratio
        self.zone_id = None
        self.existing = []
        self.plan = None
        self.applied = []     # descriptions of the batches applied
        self.recovered = []   # what the recovery found out

    def _existing(self, client, per_page):
        records = [normalize_existing(r) for r in client.list_records(self.zone, self.zone_id, per_page)]
        return [r for r in records if r['type'] != 'SOA']

    def _plan(self, existing):
        return compute_plan(self.desired, existing, self.zone, marker=self.marker, purge=self.purge,
                            adopt=self.adopt, ignore=self.ignore)

    def read(self, client, per_page=5000):
        """Look the zone up, list it, plan."""
        self.zone_id = client.find_zone(self.zone)
        self.existing = self._existing(client, per_page)
        self.plan = self._plan(self.existing)
        return self.plan

    def apply(self, client, batch_size=200, max_retries=5, per_page=5000, sleep=time.sleep):
        """Send the plan in batches; after any failure re-list, re-plan and
        either continue (the batch was committed), retry (transient error,
        nothing applied) or raise DnsApiError naming what was applied."""
        plan = self.plan
        chunks = batch_chunks(plan, batch_size)
        failures = 0
        index = 0
        while index < len(chunks):
            chunk = chunks[index]
            number, total = len(self.applied) + 1, len(self.applied) + len(chunks) - index
            what = 'zone %s: batch %d of %d (%s)' % (self.label, number, total, describe_chunk(chunk))
            try:
                client.batch(self.zone_id, chunk, what)
                self.applied.append('batch %d of %d: %s' % (number, total, describe_chunk(chunk)))
                index += 1
                continue
            except DnsApiError as exc:
                error = exc
            try:
                existing = self._existing(client, per_page)
            except DnsApiError as exc:
                raise DnsApiError('%s%s; re-listing the zone to see what was applied failed too: %s. %s'
                                  % (error.message, _records_hint(chunk), exc.message, self.applied_text()))
            new_plan = self._plan(existing)
            message = conflict_error(new_plan, self.label)
            if message:
                raise DnsApiError('%s; the zone changed meanwhile: %s. %s' % (error.message, message,
                                                                           self.applied_text()))
            state = chunk_state(chunk, new_plan)
            if state == 'applied':
                self.applied.append('batch %d of %d: %s (committed although the API answered with an error; '
                                    'confirmed by re-listing the zone)' % (number, total, describe_chunk(chunk)))
                self.recovered.append('%s: %s' % (what, error.message))
            elif state == 'pending' and error.transient and failures < max_retries:
                failures += 1
                self.recovered.append('%s: %s; nothing of it was applied (re-listed), retried' % (what, error.message))
                delay = error.retry_after if error.retry_after is not None else min(2 ** (failures - 1), 30)
                sleep(delay)
            else:
                seen = ('nothing of that batch was applied' if state == 'pending'
                        else 'part of that batch was applied, which the API does not do; check the zone')
                raise DnsApiError('%s%s. Re-listing the zone shows %s. %s %d change(s) remain; fix the cause and '
                                  're-run: the next run plans from the zone as it is.'
                                  % (error.message, _records_hint(chunk), seen, self.applied_text(),
                                     new_plan.size))
            self.existing = existing
            plan = new_plan
            chunks = batch_chunks(plan, batch_size)
            index = 0

    def applied_text(self):
        if not self.applied:
            return 'No batch of zone %s was applied.' % self.label
        return 'Already applied in zone %s: %s.' % (self.label, '; '.join(self.applied))


def record_argument_spec(supported_types):
    """argument_spec of one declared record (both modules)."""
    return dict(
        name=dict(type='str', required=True),
        type=dict(type='str', required=True, choices=list(supported_types)),
        content=dict(type='str'),
        data=dict(type='dict'),
        ttl=dict(type='int', required=True),
        proxied=dict(type='bool'),
        priority=dict(type='int'),
        comment=dict(type='str'),
    )


def connection_argument_spec():
    """Connection and batching options shared by the modules."""
    return dict(
        api_token=dict(type='str', required=True, no_log=True),
        api_base_url=dict(type='str', default='https://api.cloudflare.com/client/v4'),
        owner_marker=dict(type='str', default='managed-by: alorig-ansible'),
        batch_size=dict(type='int', default=200),
        per_page=dict(type='int', default=5000),
        max_retries=dict(type='int', default=5),
        timeout=dict(type='float', default=30),
    )
