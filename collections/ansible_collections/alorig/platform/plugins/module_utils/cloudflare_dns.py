# -*- coding: utf-8 -*-
# Copyright (c) Alorig platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure-Python planning logic of alorig.platform.cloudflare_dns_zone.

Nothing here talks to the network: it normalises records, computes the plan
(creates, updates, deletes) between the declared records of one zone and the
records the Cloudflare API returned, applies the safety rules (ownership
marker, purge, adopt, ``_acme-challenge`` and ignore patterns, change
threshold) and turns a plan into batch payloads and a readable diff.

Ownership rules (documented in the module and the role README):

* A record is *managed* when its comment contains the owner marker.
* Managed records that are no longer declared are deleted (removing a record
  from the configuration removes it from the zone).
* Unmanaged records are never changed or deleted, except
  - ``purge: true``: every unmanaged record that is not declared is deleted;
  - ``adopt: true``: an unmanaged record a declared record matches (same name,
    type and content) is taken over (marker added, attributes fixed); for the
    exclusive types A, AAAA and CNAME the whole name+type RRset is taken over.
* Without adopt, an unmanaged record that a declared record would duplicate or
  that would be served alongside a declared A/AAAA/CNAME is a *conflict*:
  the module stops and names it.
* Names matching ``_acme-challenge`` (any level) or an ignore pattern are never
  touched, not even with purge, and cannot be declared.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import ipaddress
import re

DEFAULT_OWNER_MARKER = 'managed-by: alorig-ansible'
PROXIABLE_TYPES = ('A', 'AAAA', 'CNAME')
# Types whose RRset at a name is taken over as a whole (serving an old value
# next to the declared one would send part of the traffic elsewhere).
EXCLUSIVE_TYPES = ('A', 'AAAA', 'CNAME')
SUPPORTED_TYPES = ('A', 'AAAA', 'CNAME', 'MX', 'TXT', 'NS', 'CAA', 'SRV', 'PTR')
HOSTNAME_TYPES = ('CNAME', 'MX', 'NS', 'PTR')
ALWAYS_IGNORED = ('_acme-challenge', '_acme-challenge.*')
COMMENT_MAX_LENGTH = 100  # Cloudflare Free plan limit
MIN_TTL = 60
MAX_TTL = 86400

_QUOTED_STRINGS = re.compile(r'^\s*"((?:[^"\\]|\\.)*)"((?:\s*"(?:[^"\\]|\\.)*")*)\s*$')
_ONE_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


class RecordError(ValueError):
    """A declared record is invalid; the message names the zone and record."""


def fqdn(name, zone):
    """Return the lower-case absolute name of ``name`` inside ``zone``.

    ``@`` and the empty string mean the apex; a relative name gets the zone
    appended; a trailing dot is dropped.
    """
    zone = zone.strip().rstrip('.').lower()
    name = (name or '@').strip().rstrip('.').lower()
    if name in ('@', ''):
        return zone
    if name == zone or name.endswith('.' + zone):
        return name
    return name + '.' + zone


def txt_unquote(content):
    """Return TXT content without DNS quoting.

    ``"v=spf1 -all"`` and ``"part1" "part2"`` (a long DKIM key split into
    255-byte strings) become ``v=spf1 -all`` and ``part1part2``; content that
    is not entirely made of quoted strings is returned as is.
    """
    if content is None:
        return ''
    text = content.strip()
    if not _QUOTED_STRINGS.match(text):
        return content
    parts = _ONE_QUOTED.findall(text)
    return ''.join(re.sub(r'\\(.)', r'\1', p) for p in parts)


def normalize_content(rtype, content):
    """Return the comparable form of a record's content."""
    content = '' if content is None else str(content)
    if rtype == 'TXT':
        return txt_unquote(content)
    content = content.strip()
    if rtype in HOSTNAME_TYPES:
        return content.rstrip('.').lower()
    if rtype in ('A', 'AAAA'):
        try:
            return str(ipaddress.ip_address(content))
        except ValueError:
            return content
    return content


def is_ignored(name, zone, patterns=()):
    """True when ``name`` must never be touched (``_acme-challenge`` or a pattern)."""
    name = fqdn(name, zone)
    relative = name[:-len(zone) - 1] if name.endswith('.' + zone) else ('@' if name == zone else name)
    labels = relative.split('.')
    if '_acme-challenge' in labels:
        return True
    for pattern in list(ALWAYS_IGNORED) + list(patterns or ()):
        pattern = pattern.lower().rstrip('.')
        if fnmatch.fnmatchcase(relative, pattern) or fnmatch.fnmatchcase(name, pattern):
            return True
    return False


def is_managed(record, marker):
    return bool(marker) and marker in (record.get('comment') or '')


def desired_comment(comment, marker):
    if comment:
        if marker in comment:
            return comment
        return '%s | %s' % (comment, marker)
    return marker


def _record_label(zone, rec):
    return '%s %s %s' % (rec.get('name') or '@', rec.get('type') or '?', rec.get('content') or '')


def normalize_desired(records, zone, marker, ignore=()):
    """Validate and normalise the declared records of ``zone``.

    Returns a list of dicts with keys name, type, content, ttl, proxied,
    priority, comment. Raises RecordError naming the zone and the record.
    """
    result = []
    seen = {}
    for rec in records or []:
        label = _record_label(zone, rec)
        rtype = str(rec.get('type') or '').upper()
        if rtype not in SUPPORTED_TYPES:
            raise RecordError('zone %s, record %s: type %r is not supported (one of %s)'
                              % (zone, label, rec.get('type'), ', '.join(SUPPORTED_TYPES)))
        name = fqdn(rec.get('name'), zone)
        if is_ignored(name, zone, ignore):
            raise RecordError('zone %s, record %s: the name is protected (_acme-challenge or an ignore '
                              'pattern) and cannot be managed' % (zone, label))
        if rec.get('content') in (None, ''):
            raise RecordError('zone %s, record %s: content is required' % (zone, label))
        content = str(rec.get('content'))
        ttl = rec.get('ttl')
        if ttl is None:
            raise RecordError('zone %s, record %s: ttl is required (1 = automatic)' % (zone, label))
        ttl = int(ttl)
        if ttl != 1 and not MIN_TTL <= ttl <= MAX_TTL:
            raise RecordError('zone %s, record %s: ttl %s must be 1 (automatic) or %s-%s'
                              % (zone, label, ttl, MIN_TTL, MAX_TTL))
        proxied = rec.get('proxied')
        if rtype in PROXIABLE_TYPES:
            if proxied is None:
                raise RecordError('zone %s, record %s: proxied must be set explicitly for %s records'
                                  % (zone, label, rtype))
            proxied = bool(proxied)
            if proxied:
                # Cloudflare serves proxied records with an automatic TTL and
                # returns ttl=1 whatever was sent: declare it so to not flap.
                ttl = 1
        else:
            if proxied:
                raise RecordError('zone %s, record %s: %s records cannot be proxied' % (zone, label, rtype))
            proxied = False
        priority = rec.get('priority')
        if rtype == 'MX':
            if priority is None:
                raise RecordError('zone %s, record %s: MX records need a priority' % (zone, label))
            priority = int(priority)
        else:
            priority = None
        comment = desired_comment(rec.get('comment'), marker)
        if len(comment) > COMMENT_MAX_LENGTH:
            raise RecordError('zone %s, record %s: comment with the owner marker is %d characters; '
                              'Cloudflare accepts %d' % (zone, label, len(comment), COMMENT_MAX_LENGTH))
        norm = {
            'name': name,
            'type': rtype,
            'content': content,
            'ttl': ttl,
            'proxied': proxied,
            'priority': priority,
            'comment': comment,
        }
        key = (name, rtype, normalize_content(rtype, content))
        if key in seen:
            raise RecordError('zone %s, record %s: declared twice' % (zone, label))
        seen[key] = True
        result.append(norm)
    cname_names = set(r['name'] for r in result if r['type'] == 'CNAME')
    for rec in result:
        if rec['name'] in cname_names and rec['type'] != 'CNAME':
            raise RecordError('zone %s, record %s: a CNAME cannot coexist with other records at the same name'
                              % (zone, _record_label(zone, rec)))
    return result


def normalize_existing(record):
    """Keep the fields the plan compares from an API record (a dict)."""
    rtype = str(record.get('type') or '').upper()
    return {
        'id': record.get('id'),
        'name': str(record.get('name') or '').rstrip('.').lower(),
        'type': rtype,
        'content': record.get('content') if record.get('content') is not None else '',
        'ttl': int(record.get('ttl') or 1),
        'proxied': bool(record.get('proxied')) if rtype in PROXIABLE_TYPES else False,
        'priority': int(record['priority']) if rtype == 'MX' and record.get('priority') is not None else None,
        'comment': record.get('comment') or None,
    }


def _same_content(rtype, a, b):
    return normalize_content(rtype, a) == normalize_content(rtype, b)


def attributes_differ(desired, existing):
    """Names of the attributes of ``existing`` that differ from ``desired``."""
    fields = []
    if not _same_content(desired['type'], desired['content'], existing['content']):
        fields.append('content')
    if desired['ttl'] != existing['ttl']:
        fields.append('ttl')
    if desired['type'] in PROXIABLE_TYPES and desired['proxied'] != existing['proxied']:
        fields.append('proxied')
    if desired['type'] == 'MX' and desired['priority'] != existing['priority']:
        fields.append('priority')
    if (desired['comment'] or None) != (existing['comment'] or None):
        fields.append('comment')
    return fields


class Plan(object):
    def __init__(self):
        self.creates = []        # desired dicts
        self.updates = []        # (existing, desired, [fields])
        self.deletes = []        # existing dicts
        self.unchanged = []      # existing dicts
        self.unmanaged = []      # existing dicts left alone
        self.ignored = []        # existing dicts protected from any change
        self.conflicts = []      # (existing, desired or None, reason)

    @property
    def changed(self):
        return bool(self.creates or self.updates or self.deletes)

    def counts(self):
        return {
            'create': len(self.creates),
            'update': len(self.updates),
            'delete': len(self.deletes),
            'unchanged': len(self.unchanged),
            'unmanaged': len(self.unmanaged),
            'ignored': len(self.ignored),
        }


def _sort_key(rec):
    return (rec['name'], rec['type'], normalize_content(rec['type'], rec['content']), rec.get('priority') or 0)


def compute_plan(desired, existing, zone, marker=DEFAULT_OWNER_MARKER, purge=False, adopt=False, ignore=()):
    """Compute the plan that turns ``existing`` into ``desired`` for one zone.

    ``desired`` comes from normalize_desired, ``existing`` from
    normalize_existing (API records). Returns a Plan.
    """
    plan = Plan()
    zone = zone.rstrip('.').lower()
    groups = {}
    for rec in existing:
        if is_ignored(rec['name'], zone, ignore):
            plan.ignored.append(rec)
            continue
        groups.setdefault((rec['name'], rec['type']), []).append(rec)
    wanted = {}
    for rec in desired:
        wanted.setdefault((rec['name'], rec['type']), []).append(rec)

    desired_names = set(name for name, _ in wanted)
    handled = set()

    for key in sorted(wanted):
        want = sorted(wanted[key], key=_sort_key)
        have = sorted(groups.get(key, []), key=_sort_key)
        managed = [r for r in have if is_managed(r, marker)]
        unmanaged = [r for r in have if not is_managed(r, marker)]
        rtype = key[1]
        pending = []
        for d in want:
            match = next((r for r in managed if _same_content(rtype, d['content'], r['content'])), None)
            if match is not None:
                managed.remove(match)
                _pair(plan, match, d)
                continue
            match = next((r for r in unmanaged if _same_content(rtype, d['content'], r['content'])), None)
            if match is not None:
                unmanaged.remove(match)
                if adopt or purge:
                    _pair(plan, match, d)
                else:
                    plan.conflicts.append((match, d, 'an identical record exists that is not managed '
                                                     '(no owner marker); set adopt to take it over'))
                continue
            pending.append(d)
        # Reuse leftover managed records (in place update, keeps the id).
        while pending and managed:
            _pair(plan, managed.pop(0), pending.pop(0))
        if rtype in EXCLUSIVE_TYPES and unmanaged:
            if adopt or purge:
                while pending and unmanaged:
                    _pair(plan, unmanaged.pop(0), pending.pop(0))
                plan.deletes.extend(unmanaged)
            else:
                for r in unmanaged:
                    plan.conflicts.append((r, pending[0] if pending else want[0],
                                           'an unmanaged %s record with another value exists at this name; '
                                           'set adopt to replace it' % rtype))
            unmanaged = []
        plan.creates.extend(pending)
        plan.deletes.extend(managed)
        for r in unmanaged:
            if purge:
                plan.deletes.append(r)
            else:
                plan.unmanaged.append(r)
        handled.add(key)

    # CNAME exclusivity against unmanaged records of other types.
    for key, have in sorted(groups.items()):
        if key in handled:
            continue
        name, rtype = key
        for r in sorted(have, key=_sort_key):
            if is_managed(r, marker):
                plan.deletes.append(r)
            elif purge:
                plan.deletes.append(r)
            elif name in desired_names and (rtype == 'CNAME' or (name, 'CNAME') in wanted):
                if adopt:
                    plan.deletes.append(r)
                else:
                    plan.conflicts.append((r, None, 'a CNAME cannot coexist with other records at this name; '
                                                    'set adopt to replace the unmanaged record'))
            else:
                plan.unmanaged.append(r)
    return plan


def _pair(plan, existing, desired):
    fields = attributes_differ(desired, existing)
    if fields:
        plan.updates.append((existing, desired, fields))
    else:
        plan.unchanged.append(existing)


def threshold_error(plan, zone, existing_count, max_change_ratio, min_records=10):
    """Return a refusal message when the plan changes too much of the zone."""
    if max_change_ratio is None or existing_count < max(min_records, 1):
        return None
    touched = len(plan.updates) + len(plan.deletes)
    ratio = float(touched) / existing_count
    if ratio > max_change_ratio:
        return ('zone %s: the plan would update %d and delete %d of %d existing records (%.0f%% > %.0f%% '
                'allowed by max_change_ratio); review it with --check --diff and re-run with force to apply'
                % (zone, len(plan.updates), len(plan.deletes), existing_count, ratio * 100, max_change_ratio * 100))
    return None


def conflict_error(plan, zone):
    if not plan.conflicts:
        return None
    lines = []
    for existing, _desired, reason in plan.conflicts:
        lines.append('%s (id %s): %s' % (render(existing), existing.get('id'), reason))
    return 'zone %s: %d record(s) not owned by this module block the plan: %s' % (
        zone, len(lines), '; '.join(lines))


def api_payload(rec):
    """The JSON body of a create/patch for a normalised desired record."""
    body = {
        'name': rec['name'],
        'type': rec['type'],
        'content': rec['content'],
        'ttl': rec['ttl'],
        'comment': rec['comment'],
    }
    if rec['type'] in PROXIABLE_TYPES:
        body['proxied'] = rec['proxied']
    if rec['type'] == 'MX':
        body['priority'] = rec['priority']
    return body


def batch_chunks(plan, batch_size=200):
    """Split the plan into batch request bodies of at most ``batch_size`` operations.

    The global order deletes, patches, posts is kept across chunks (the API
    applies each batch in that order too).
    """
    ops = [('deletes', {'id': r['id']}) for r in plan.deletes]
    for existing, desired, _fields in plan.updates:
        body = api_payload(desired)
        body['id'] = existing['id']
        ops.append(('patches', body))
    ops.extend(('posts', api_payload(d)) for d in plan.creates)
    chunks = []
    for start in range(0, len(ops), max(int(batch_size), 1)):
        chunk = {}
        for kind, body in ops[start:start + batch_size]:
            chunk.setdefault(kind, []).append(body)
        chunks.append(chunk)
    return chunks


def render(rec):
    """One line per record, like a zone file (plus proxy flag and comment)."""
    parts = [rec['name'], str(rec['ttl']), rec['type']]
    if rec['type'] == 'MX':
        parts.append(str(rec.get('priority')))
    parts.append(rec['content'] if rec['type'] != 'TXT' else '"%s"' % normalize_content('TXT', rec['content']))
    if rec['type'] in PROXIABLE_TYPES:
        parts.append('proxied' if rec['proxied'] else 'dns-only')
    if rec.get('comment'):
        parts.append('; %s' % rec['comment'])
    return ' '.join(parts)


def plan_as_dict(plan):
    """The plan as returned to the user (RETURN: plan)."""
    def public(rec):
        out = dict((k, rec.get(k)) for k in ('id', 'name', 'type', 'content', 'ttl', 'proxied', 'priority', 'comment'))
        if out['id'] is None:
            out.pop('id')
        return out
    return {
        'create': [public(d) for d in plan.creates],
        'update': [{'before': public(e), 'after': public(dict(d, id=e['id'])), 'fields': f}
                   for e, d, f in plan.updates],
        'delete': [public(e) for e in plan.deletes],
    }


def zone_diff(zone, existing, plan):
    """Ansible diff (before/after as zone-file text) of the records in scope."""
    before = sorted(render(r) for r in existing)
    after_records = [r for r in existing]
    gone = set(id(r) for r in plan.deletes) | set(id(e) for e, _d, _f in plan.updates)
    after_records = [r for r in after_records if id(r) not in gone]
    after_records.extend(d for _e, d, _f in plan.updates)
    after_records.extend(plan.creates)
    after = sorted(render(r) for r in after_records)
    return {
        'before_header': 'zone %s (Cloudflare)' % zone,
        'after_header': 'zone %s (planned)' % zone,
        'before': '\n'.join(before) + ('\n' if before else ''),
        'after': '\n'.join(after) + ('\n' if after else ''),
    }
