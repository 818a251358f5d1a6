# -*- coding: utf-8 -*-
# Copyright (c) Alorig platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure-Python planning logic of the alorig.platform Cloudflare DNS modules.

Nothing here talks to the network: it validates and normalises declared
records, computes the plan (creates, updates, deletes) between the declared
records of one zone and the records the Cloudflare API returned, applies the
safety rules (ownership marker, purge, adopt, SPF/DMARC uniqueness,
``_acme-challenge`` and ignore patterns, change thresholds per zone and per
run) and turns a plan into batch payloads and a readable diff.

Ownership rules (documented in the modules and the role README):

* A record is *managed* when one ``|``-separated part of its comment is
  exactly the owner marker (``app igny8 | managed-by: alorig-ansible``); a
  comment that merely contains the marker text (``managed-by:
  alorig-ansible-old``) is not.
* Managed records that are no longer declared are deleted (removing a record
  from the configuration removes it from the zone).
* Unmanaged records are never changed or deleted, except
  - ``purge: true``: every unmanaged record that is not declared is deleted;
  - ``adopt: true``: an unmanaged record a declared record matches (same name,
    type and value) is taken over (marker added, attributes fixed); for the
    exclusive types A, AAAA and CNAME the whole name+type RRset is taken over,
    and so is an unmanaged SPF (or DMARC) record next to a declared one.
* Without adopt, an unmanaged record that a declared record would duplicate,
  that would be served alongside a declared A/AAAA/CNAME, or that is a second
  SPF/DMARC policy next to a declared one is a *conflict*: the module stops
  and names it.
* Names matching ``_acme-challenge`` (any level) or an ignore pattern are never
  touched, not even with purge, and cannot be declared.

Names: every name is handled in its IDNA (Punycode) form, the form the API
returns, so ``bücher`` and ``xn--bcher-kva`` are the same record.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import ipaddress
import re

try:
    import idna as _idna
except ImportError:  # pragma: no cover - idna comes with httpx (cloudflare SDK)
    _idna = None
import encodings.idna

DEFAULT_OWNER_MARKER = 'managed-by: alorig-ansible'
PROXIABLE_TYPES = ('A', 'AAAA', 'CNAME')
# Types whose RRset at a name is taken over as a whole (serving an old value
# next to the declared one would send part of the traffic elsewhere).
EXCLUSIVE_TYPES = ('A', 'AAAA', 'CNAME')
CONTENT_TYPES = ('A', 'AAAA', 'CNAME', 'MX', 'TXT', 'NS', 'PTR')
# Types the API takes as a structured ``data`` map (their ``content`` is read-only).
DATA_SCHEMA = {
    'SRV': (('priority', 'u16'), ('weight', 'u16'), ('port', 'u16'), ('target', 'target')),
    'CAA': (('flags', 'u8'), ('tag', 'caa_tag'), ('value', 'text')),
    'HTTPS': (('priority', 'u16'), ('target', 'target'), ('value', 'params')),
    'TLSA': (('usage', 'u8'), ('selector', 'u8'), ('matching_type', 'u8'), ('certificate', 'hex')),
    'DS': (('key_tag', 'u16'), ('algorithm', 'u8'), ('digest_type', 'u8'), ('digest', 'hex')),
}
DATA_TYPES = tuple(sorted(DATA_SCHEMA))
SUPPORTED_TYPES = CONTENT_TYPES + DATA_TYPES
HOSTNAME_TYPES = ('CNAME', 'MX', 'NS', 'PTR')
ALWAYS_IGNORED = ('_acme-challenge', '_acme-challenge.*')
COMMENT_MAX_LENGTH = 100  # Cloudflare Free plan limit
MIN_TTL = 60
MAX_TTL = 86400
NAME_MAX_LENGTH = 253     # FQDN without the trailing dot
LABEL_MAX_LENGTH = 63
RECORD_WIRE_MAX = 4096    # Cloudflare: maximum wire format size of one record
RRSET_CONTENT_MAX = 8192  # Cloudflare: combined content of one name+type
_RANGES = {'u8': (0, 255), 'u16': (0, 65535)}

_QUOTED_STRINGS = re.compile(r'^\s*"((?:[^"\\]|\\.)*)"((?:\s*"(?:[^"\\]|\\.)*")*)\s*$')
_ONE_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
_SPF = re.compile(r'^v=spf1(\s|$)', re.IGNORECASE)
_DMARC = re.compile(r'^v=dmarc1\s*(;|$)', re.IGNORECASE)


class RecordError(ValueError):
    """A declared record is invalid; the message names the zone and record."""


# ------------------------------------------------------------------ names
def _label_to_ascii(label):
    if all(ord(ch) < 128 for ch in label):
        return label.lower()
    if _idna is not None:
        return _idna.encode(label, uts46=True).decode('ascii')
    return encodings.idna.ToASCII(label).decode('ascii').lower()


def to_ascii(name):
    """IDNA (Punycode) form of ``name``: lower case, no trailing dot.

    Raises ValueError when a label cannot be encoded.
    """
    name = (name or '').strip().rstrip('.')
    if not name:
        return ''
    try:
        return '.'.join(_label_to_ascii(label) for label in name.split('.'))
    except (UnicodeError, ValueError) as exc:
        raise ValueError('%r is not a valid internationalised name (%s)' % (name, exc))


def to_unicode(name):
    """Readable form of a Punycode name (labels that fail to decode stay as they are)."""
    out = []
    for label in (name or '').split('.'):
        if label.startswith('xn--'):
            try:
                label = _idna.decode(label) if _idna is not None else encodings.idna.ToUnicode(label)
            except (UnicodeError, ValueError):
                pass
        out.append(label)
    return '.'.join(out)


def zone_name(zone):
    """The zone as the API names it (Punycode, lower case)."""
    return to_ascii(zone)


def name_problem(name):
    """Why ``name`` (Punycode FQDN) cannot exist in DNS, or None."""
    if len(name) > NAME_MAX_LENGTH:
        return 'is %d characters long; a DNS name has at most %d' % (len(name), NAME_MAX_LENGTH)
    for label in name.split('.'):
        if not label:
            return 'has an empty label'
        if len(label) > LABEL_MAX_LENGTH:
            return 'has the label %r of %d characters; labels have at most %d' % (
                label, len(label), LABEL_MAX_LENGTH)
    return None


def fqdn(name, zone):
    """Return the lower-case absolute (Punycode) name of ``name`` inside ``zone``.

    ``@`` and the empty string mean the apex; a relative name gets the zone
    appended; a trailing dot is dropped. See record_name for the checked form.
    """
    zone = to_ascii(zone)
    raw = (name or '@').strip()
    if raw in ('@', ''):
        return zone
    name = to_ascii(raw)
    if name == zone or name.endswith('.' + zone):
        return name
    return name + '.' + zone


def record_name(name, zone, other_zones=()):
    """The absolute name of a declared record, or ValueError.

    A name written with a trailing dot is absolute and must be inside the
    zone (``www.other.org.`` in example.com is refused, where the API would
    silently create ``www.other.org.example.com``). A relative name that ends
    with another zone of the same run is refused too: it was meant for that
    zone.
    """
    zone = to_ascii(zone)
    raw = (name or '@').strip()
    if raw in ('@', ''):
        return zone
    absolute = raw.endswith('.')
    ascii_name = to_ascii(raw)
    if ascii_name == zone or ascii_name.endswith('.' + zone):
        result = ascii_name
    elif absolute:
        raise ValueError('%s is outside the zone %s (a name ending with a dot is absolute); declare it in '
                         'its own zone or write it relative to %s' % (raw, zone, zone))
    else:
        for other in other_zones or ():
            other = to_ascii(other)
            if other != zone and (ascii_name == other or ascii_name.endswith('.' + other)):
                raise ValueError('%s ends with %s, another zone of this run: declare it in that zone (or write '
                                 'it with a trailing dot if %s.%s is really meant)' % (raw, other, raw, zone))
        result = ascii_name + '.' + zone
    problem = name_problem(result)
    if problem:
        raise ValueError('%s %s' % (result, problem))
    return result


def display_name(name):
    """``xn--bcher-kva.example.com [bücher.example.com]`` for IDN names."""
    readable = to_unicode(name)
    return name if readable == name else '%s [%s]' % (name, readable)


# ---------------------------------------------------------------- content
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


def _txt_wire_strings(content):
    """Character strings of TXT content as sent: quoted strings, or the text in 255-byte chunks."""
    text = (content or '').strip()
    if _QUOTED_STRINGS.match(text):
        return [re.sub(r'\\(.)', r'\1', p).encode('utf-8') for p in _ONE_QUOTED.findall(text)]
    raw = (content or '').encode('utf-8')
    return [raw[i:i + 255] for i in range(0, len(raw), 255)] or [b'']


def wire_size(name, rtype, content):
    """Bytes of the record in DNS wire format (RFC 1035 §3.2.1): owner name,
    type, class, TTL, RDLENGTH and RDATA (TXT: one length byte per string)."""
    name_len = sum(1 + len(label) for label in name.split('.') if label) + 1
    if rtype == 'TXT':
        rdata = sum(1 + len(s) for s in _txt_wire_strings(content))
    else:
        rdata = len((content or '').encode('utf-8'))
    return name_len + 10 + rdata


def _hostname(value):
    value = (value or '').strip()
    if value == '.':
        return '.'
    try:
        return to_ascii(value)
    except ValueError:
        return value.rstrip('.').lower()


def normalize_data(rtype, data):
    """Canonical form of a ``data`` map (ints, Punycode targets, lower-case hex), lenient."""
    out = {}
    for key, kind in DATA_SCHEMA[rtype]:
        value = (data or {}).get(key)
        if kind in _RANGES:
            try:
                value = int(value)
            except (TypeError, ValueError):
                pass
        elif kind == 'target':
            value = _hostname(value if value is not None else '')
        elif kind == 'caa_tag':
            value = str(value if value is not None else '').lower()
        elif kind == 'hex':
            value = str(value if value is not None else '').lower()
        elif kind == 'params':
            value = ' '.join(str(value if value is not None else '').split())
        else:
            value = '' if value is None else str(value)
        out[key] = value
    return out


def data_content(rtype, data):
    """Zone-file form of a data record, used for matching and display."""
    d = normalize_data(rtype, data)
    if rtype == 'CAA':
        return '%s %s "%s"' % (d['flags'], d['tag'], d['value'])
    return ' '.join(str(d[key]) for key, _kind in DATA_SCHEMA[rtype]).strip()


def _data_from_content(rtype, content, priority=None):
    """Best-effort ``data`` from a record the API returned without it."""
    parts = (content or '').split()
    try:
        if rtype == 'SRV':
            if len(parts) == 3 and priority is not None:
                parts = [priority] + parts
            return dict(zip(('priority', 'weight', 'port', 'target'), parts))
        if rtype == 'CAA':
            flags, tag, value = (content or '').split(None, 2)
            return {'flags': flags, 'tag': tag, 'value': txt_unquote(value)}
        if rtype == 'HTTPS':
            bits = (content or '').split(None, 2)
            return {'priority': bits[0], 'target': bits[1], 'value': bits[2] if len(bits) > 2 else ''}
        keys = [key for key, _kind in DATA_SCHEMA[rtype]]
        return dict(zip(keys, parts))
    except (ValueError, IndexError):
        return {}


def normalize_content(rtype, content):
    """Return the comparable form of a record's content."""
    content = '' if content is None else str(content)
    if rtype == 'TXT':
        return txt_unquote(content)
    content = content.strip()
    if rtype in HOSTNAME_TYPES:
        return _hostname(content)
    if rtype in ('A', 'AAAA'):
        try:
            return str(ipaddress.ip_address(content))
        except ValueError:
            return content
    return content


def value_key(rec):
    """What identifies a record's value: content, or the canonical data."""
    if rec['type'] in DATA_SCHEMA:
        return data_content(rec['type'], rec.get('data'))
    return normalize_content(rec['type'], rec['content'])


def policy_kind(rec):
    """``SPF`` or ``DMARC`` for a TXT record that publishes one, else None."""
    if rec['type'] != 'TXT':
        return None
    text = txt_unquote(rec.get('content')).strip()
    if _SPF.match(text):
        return 'SPF'
    if rec['name'].startswith('_dmarc.') and _DMARC.match(text):
        return 'DMARC'
    return None


POLICY_RULES = {
    'SPF': 'RFC 7208 §4.5: two SPF records at one name are a permanent error, SPF then fails for every message',
    'DMARC': 'RFC 7489 §6.6.3: with two DMARC records at one name receivers apply no policy at all',
}


# -------------------------------------------------------------- ownership
def comment_parts(comment):
    return [part.strip() for part in (comment or '').split('|')]


def is_managed(record, marker):
    """True when one ``|``-separated part of the comment is exactly the marker."""
    return bool(marker) and marker.strip() in comment_parts(record.get('comment'))


def desired_comment(comment, marker):
    if comment:
        if marker.strip() in comment_parts(comment):
            return comment
        return '%s | %s' % (comment, marker)
    return marker


def strip_marker(comment, marker):
    """The comment without the marker part (None when nothing is left)."""
    parts = [p for p in comment_parts(comment) if p and p != (marker or '').strip()]
    return ' | '.join(parts) or None


def is_ignored(name, zone, patterns=()):
    """True when ``name`` must never be touched (``_acme-challenge`` or a pattern)."""
    zone = to_ascii(zone)
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


# ------------------------------------------------------------- validation
def _record_label(rec):
    name = rec.get('name') or '@'
    if rec.get('data') is not None and rec.get('content') in (None, ''):
        return '%s %s' % (name, rec.get('type') or '?')
    return '%s %s %s' % (name, rec.get('type') or '?', rec.get('content') or '')


def _int_in(value, low, high):
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value == int(value):
        value = int(value)
    if isinstance(value, str) and re.match(r'^\s*\d+\s*$', value):
        value = int(value)
    if isinstance(value, int) and low <= value <= high:
        return value
    return None


def validate_data(rtype, data, where):
    """Check a declared ``data`` map; return it clean (ints, Punycode targets).

    ``where`` prefixes every message (zone and record)."""
    keys = [key for key, _kind in DATA_SCHEMA[rtype]]
    if not isinstance(data, dict):
        raise RecordError('%s: %s records are declared with data: {%s}' % (where, rtype, ', '.join(keys)))
    unknown = sorted(set(data) - set(keys))
    if unknown:
        raise RecordError('%s: data.%s is not a key of %s data (expected %s)'
                          % (where, unknown[0], rtype, ', '.join(keys)))
    clean = {}
    for key, kind in DATA_SCHEMA[rtype]:
        value = data.get(key)
        if value is None or (isinstance(value, str) and value == '' and kind != 'params'):
            raise RecordError('%s: data.%s is required for %s records (data needs %s)'
                              % (where, key, rtype, ', '.join(keys)))
        if kind in _RANGES:
            number = _int_in(value, *_RANGES[kind])
            if number is None:
                raise RecordError('%s: data.%s must be an integer between %d and %d, got %r'
                                  % ((where, key) + _RANGES[kind] + (value,)))
            clean[key] = number
        elif kind == 'target':
            text = str(value).strip()
            if text == '.':
                clean[key] = '.'
                continue
            try:
                host = to_ascii(text)
            except ValueError as exc:
                raise RecordError('%s: data.%s: %s' % (where, key, exc))
            problem = name_problem(host)
            if problem:
                raise RecordError('%s: data.%s: %s %s' % (where, key, host, problem))
            clean[key] = host
        elif kind == 'caa_tag':
            if not isinstance(value, str) or not re.match(r'^[A-Za-z0-9]{1,15}$', value):
                raise RecordError('%s: data.tag must be a CAA property tag such as issue, issuewild or iodef '
                                  '(letters and digits, RFC 8659), got %r' % (where, value))
            clean[key] = value.lower()
        elif kind == 'hex':
            if not isinstance(value, str) or not re.match(r'^(?:[0-9A-Fa-f]{2})+$', value):
                raise RecordError('%s: data.%s must be hexadecimal (an even number of 0-9 a-f), got %r'
                                  % (where, key, value))
            clean[key] = value.lower()
        elif kind == 'params':
            if not isinstance(value, str):
                raise RecordError('%s: data.%s must be a string, got %r' % (where, key, value))
            clean[key] = ' '.join(value.split())
        else:
            if not isinstance(value, str):
                raise RecordError('%s: data.%s must be a string, got %r' % (where, key, value))
            clean[key] = value
    return clean


def _validate_content(rtype, content, where):
    if content in (None, ''):
        raise RecordError('%s: content is required for %s records' % (where, rtype))
    content = str(content)
    if rtype == 'A':
        try:
            ipaddress.IPv4Address(content.strip())
        except ValueError:
            raise RecordError('%s: content must be an IPv4 address' % where)
        return content.strip()
    if rtype == 'AAAA':
        try:
            ipaddress.IPv6Address(content.strip())
        except ValueError:
            raise RecordError('%s: content must be an IPv6 address' % where)
        return content.strip()
    if rtype == 'MX' and content.strip() == '.':
        return '.'  # null MX (RFC 7505): the domain accepts no mail
    if rtype in HOSTNAME_TYPES:
        try:
            host = to_ascii(content)
        except ValueError as exc:
            raise RecordError('%s: content: %s' % (where, exc))
        problem = name_problem(host)
        if problem:
            raise RecordError('%s: content %s %s' % (where, host, problem))
        return host
    return content


def normalize_desired(records, zone, marker, ignore=(), other_zones=()):
    """Validate and normalise the declared records of ``zone``.

    Returns a list of dicts with keys name, type, content, data, ttl, proxied,
    priority, comment (names and hostnames in Punycode). Raises RecordError
    naming the zone, the record and the key.
    """
    try:
        zone_ascii = to_ascii(zone)
    except ValueError as exc:
        raise RecordError('zone %s: %s' % (zone, exc))
    result = []
    seen = {}
    for rec in records or []:
        where = 'zone %s, record %s' % (zone, _record_label(rec))
        rtype = str(rec.get('type') or '').upper()
        if rtype not in SUPPORTED_TYPES:
            raise RecordError('%s: type %r is not supported (one of %s)'
                              % (where, rec.get('type'), ', '.join(SUPPORTED_TYPES)))
        try:
            name = record_name(rec.get('name'), zone_ascii, other_zones)
        except ValueError as exc:
            raise RecordError('%s: name %s' % (where, exc))
        if is_ignored(name, zone_ascii, ignore):
            raise RecordError('%s: the name is protected (_acme-challenge or an ignore pattern) and cannot be '
                              'managed' % where)
        data = None
        if rtype in DATA_SCHEMA:
            if rec.get('content') not in (None, ''):
                raise RecordError('%s: %s records are declared with data: {%s}, not content (the API derives '
                                  'content from data)' % (where, rtype, ', '.join(k for k, _ in DATA_SCHEMA[rtype])))
            data = validate_data(rtype, rec.get('data'), where)
            content = data_content(rtype, data)
        else:
            if rec.get('data') not in (None, {}):
                raise RecordError('%s: %s records take content, not data' % (where, rtype))
            content = _validate_content(rtype, rec.get('content'), where)
        ttl = rec.get('ttl')
        if ttl is None:
            raise RecordError('%s: ttl is required (1 = automatic)' % where)
        ttl = int(ttl)
        if ttl != 1 and not MIN_TTL <= ttl <= MAX_TTL:
            raise RecordError('%s: ttl %s must be 1 (automatic) or %s-%s' % (where, ttl, MIN_TTL, MAX_TTL))
        proxied = rec.get('proxied')
        if rtype in PROXIABLE_TYPES:
            if proxied is None:
                raise RecordError('%s: proxied must be set explicitly for %s records' % (where, rtype))
            proxied = bool(proxied)
            if proxied:
                # Cloudflare serves proxied records with an automatic TTL and
                # returns ttl=1 whatever was sent: declare it so to not flap.
                ttl = 1
        else:
            if proxied:
                raise RecordError('%s: %s records cannot be proxied' % (where, rtype))
            proxied = False
        priority = rec.get('priority')
        if rtype == 'MX':
            priority = _int_in(priority, 0, 65535)
            if priority is None:
                raise RecordError('%s: MX records need a priority between 0 and 65535' % where)
        elif priority is not None:
            raise RecordError('%s: priority is only for MX records%s' % (
                where, ' (SRV and HTTPS take it in data.priority)' if rtype in ('SRV', 'HTTPS') else ''))
        comment = desired_comment(rec.get('comment'), marker)
        if len(comment) > COMMENT_MAX_LENGTH:
            raise RecordError('%s: comment with the owner marker is %d characters; Cloudflare accepts %d'
                              % (where, len(comment), COMMENT_MAX_LENGTH))
        size = wire_size(name, rtype, content)
        if size > RECORD_WIRE_MAX:
            raise RecordError('%s: the record is %d bytes in DNS wire format; Cloudflare accepts at most %d per '
                              'record' % (where, size, RECORD_WIRE_MAX))
        norm = {
            'name': name,
            'type': rtype,
            'content': content,
            'data': data,
            'ttl': ttl,
            'proxied': proxied,
            'priority': priority,
            'comment': comment,
        }
        key = (name, rtype, value_key(norm))
        if key in seen:
            raise RecordError('%s: declared twice' % where)
        seen[key] = True
        result.append(norm)
    _check_sets(result, zone)
    return result


def _check_sets(result, zone):
    """Rules across the records of one name: CNAME and NS exclusivity, one
    SPF and one DMARC policy, the combined content limit."""
    by_name = {}
    for rec in result:
        by_name.setdefault(rec['name'], []).append(rec)
    zone_ascii = to_ascii(zone)
    for name, recs in sorted(by_name.items()):
        types = set(r['type'] for r in recs)
        if 'CNAME' in types and len(types) > 1:
            other = [r for r in recs if r['type'] != 'CNAME'][0]
            raise RecordError('zone %s, record %s: a CNAME cannot coexist with other records at the same name'
                              % (zone, _record_label(other)))
        if name != zone_ascii and 'NS' in types and types - set(['NS', 'DS']):
            other = [r for r in recs if r['type'] not in ('NS', 'DS')][0]
            raise RecordError('zone %s, record %s: %s is delegated (NS records); only DS records may sit next to '
                              'them' % (zone, _record_label(other), name))
        for kind in POLICY_RULES:
            policies = [r for r in recs if policy_kind(r) == kind]
            if len(policies) > 1:
                raise RecordError('zone %s, record %s: %d %s records are declared at %s (%s); merge them into one'
                                  % (zone, _record_label(policies[1]), len(policies), kind, name,
                                     POLICY_RULES[kind]))
        for rtype in types:
            total = sum(len(r['content']) for r in recs if r['type'] == rtype)
            if total > RRSET_CONTENT_MAX:
                raise RecordError('zone %s, record %s %s: the %s records at this name hold %d characters; '
                                  'Cloudflare accepts %d per name and type'
                                  % (zone, name, rtype, rtype, total, RRSET_CONTENT_MAX))


def normalize_existing(record):
    """Keep the fields the plan compares from an API record (a dict)."""
    rtype = str(record.get('type') or '').upper()
    data = None
    content = record.get('content') if record.get('content') is not None else ''
    if rtype in DATA_SCHEMA:
        raw = record.get('data')
        if not isinstance(raw, dict) or not raw:
            raw = _data_from_content(rtype, content, record.get('priority'))
        data = normalize_data(rtype, raw)
        content = data_content(rtype, data)
    return {
        'id': record.get('id'),
        'name': to_ascii(str(record.get('name') or '')),
        'type': rtype,
        'content': content,
        'data': data,
        'ttl': int(record.get('ttl') or 1),
        'proxied': bool(record.get('proxied')) if rtype in PROXIABLE_TYPES else False,
        'priority': int(record['priority']) if rtype == 'MX' and record.get('priority') is not None else None,
        'comment': record.get('comment') or None,
    }


def _same_value(a, b):
    return value_key(a) == value_key(b)


def attributes_differ(desired, existing):
    """Names of the attributes of ``existing`` that differ from ``desired``."""
    fields = []
    if not _same_value(desired, existing):
        fields.append('data' if desired['type'] in DATA_SCHEMA else 'content')
    if desired['ttl'] != existing['ttl']:
        fields.append('ttl')
    if desired['type'] in PROXIABLE_TYPES and desired['proxied'] != existing['proxied']:
        fields.append('proxied')
    if desired['type'] == 'MX' and desired['priority'] != existing['priority']:
        fields.append('priority')
    if (desired['comment'] or None) != (existing['comment'] or None):
        fields.append('comment')
    return fields


# ------------------------------------------------------------------- plan
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

    @property
    def size(self):
        return len(self.creates) + len(self.updates) + len(self.deletes)

    def counts(self):
        return {
            'create': len(self.creates),
            'update': len(self.updates),
            'delete': len(self.deletes),
            'unchanged': len(self.unchanged),
            'unmanaged': len(self.unmanaged),
            'ignored': len(self.ignored),
        }

    def risky(self):
        """Updates and deletes a resolver would see (adoption only adds the marker: not counted)."""
        return len(self.deletes) + len([1 for _e, _d, fields in self.updates if fields != ['comment']])


def _sort_key(rec):
    return (rec['name'], rec['type'], value_key(rec), rec.get('priority') or 0)


def _pair_leftovers(plan, existing, pending):
    """Reuse leftover ``existing`` records for ``pending`` declarations (update
    in place, same id), the same policy kind (SPF with SPF) first. Both lists
    are consumed; returns the declarations left without a record."""
    pending = list(pending)
    for desired in list(pending):
        kind = policy_kind(desired)
        if kind is None:
            continue
        match = next((r for r in existing if policy_kind(r) == kind), None)
        if match is not None:
            existing.remove(match)
            pending.remove(desired)
            _pair(plan, match, desired)
    while pending and existing:
        _pair(plan, existing.pop(0), pending.pop(0))
    return pending


def compute_plan(desired, existing, zone, marker=DEFAULT_OWNER_MARKER, purge=False, adopt=False, ignore=()):
    """Compute the plan that turns ``existing`` into ``desired`` for one zone.

    ``desired`` comes from normalize_desired, ``existing`` from
    normalize_existing (API records). Returns a Plan.
    """
    plan = Plan()
    zone = to_ascii(zone)
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
            match = next((r for r in managed if _same_value(d, r)), None)
            if match is not None:
                managed.remove(match)
                _pair(plan, match, d)
                continue
            match = next((r for r in unmanaged if _same_value(d, r)), None)
            if match is not None:
                unmanaged.remove(match)
                if adopt or purge:
                    _pair(plan, match, d)
                else:
                    plan.conflicts.append((match, d, 'an identical record exists that is not managed '
                                                     '(no owner marker); set adopt to take it over'))
                continue
            pending.append(d)
        pending = _pair_leftovers(plan, managed, pending)
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
        kinds = set(policy_kind(d) for d in want) - set([None])
        rivals = [r for r in unmanaged if policy_kind(r) in kinds]
        if rivals:
            unmanaged = [r for r in unmanaged if r not in rivals]
            if adopt or purge:
                candidates = [d for d in pending if policy_kind(d) in kinds]
                unpaired = _pair_leftovers(plan, rivals, candidates)
                pending = [d for d in pending if not any(d is c for c in candidates)
                           or any(d is u for u in unpaired)]
                plan.deletes.extend(rivals)
            else:
                for r in rivals:
                    kind = policy_kind(r)
                    plan.conflicts.append((r, None, 'a second %s record next to the declared one (%s); set adopt '
                                                    'to replace it' % (kind, POLICY_RULES[kind])))
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


def policy_warnings(plan, zone):
    """Duplicate SPF/DMARC policies among records this module leaves alone."""
    seen = {}
    for rec in plan.unmanaged:
        kind = policy_kind(rec)
        if kind:
            seen.setdefault((rec['name'], kind), []).append(rec)
    return ['zone %s: %s has %d %s records (%s); they are not managed here, fix them by hand or declare one and '
            'set adopt' % (zone, name, len(recs), kind, POLICY_RULES[kind])
            for (name, kind), recs in sorted(seen.items()) if len(recs) > 1]


def threshold_error(plan, zone, existing_count, max_change_ratio, min_records=10):
    """Return a refusal message when the plan changes too much of the zone.

    Updates that only add the owner marker (adoption) do not count: DNS
    answers do not change."""
    if max_change_ratio is None or existing_count < max(min_records, 1):
        return None
    touched = plan.risky()
    ratio = float(touched) / existing_count
    if ratio > max_change_ratio:
        return ('zone %s: the plan would update %d and delete %d of %d existing records (%.0f%% > %.0f%% '
                'allowed by max_change_ratio); review it with --check --diff and re-run with force to apply'
                % (zone, touched - len(plan.deletes), len(plan.deletes), existing_count, ratio * 100,
                   max_change_ratio * 100))
    return None


def run_threshold_error(plans, max_change_ratio, min_records=10):
    """The same rule over a whole run: ``plans`` is [(zone, plan, existing_count)]."""
    if max_change_ratio is None:
        return None
    existing = sum(count for _zone, _plan, count in plans)
    if existing < max(min_records, 1):
        return None
    deletes = sum(len(plan.deletes) for _zone, plan, _count in plans)
    touched = sum(plan.risky() for _zone, plan, _count in plans)
    ratio = float(touched) / existing
    if ratio > max_change_ratio:
        parts = ['%s %d' % (zone, plan.risky()) for zone, plan, _count in plans if plan.risky()]
        return ('this run would update %d and delete %d of the %d existing records of its %d zones (%.0f%% > '
                '%.0f%% allowed by run_max_change_ratio; per zone: %s); review it with --check --diff and re-run '
                'with force to apply' % (touched - deletes, deletes, existing, len(plans), ratio * 100,
                                         max_change_ratio * 100, ', '.join(parts)))
    return None


def conflict_error(plan, zone):
    if not plan.conflicts:
        return None
    lines = []
    for existing, _desired, reason in plan.conflicts:
        lines.append('%s (id %s): %s' % (render(existing), existing.get('id'), reason))
    return 'zone %s: %d record(s) not owned by this module block the plan: %s' % (
        zone, len(lines), '; '.join(lines))


# -------------------------------------------------------------- requests
def api_payload(rec):
    """The JSON body of a create/patch for a normalised desired record."""
    body = {
        'name': rec['name'],
        'type': rec['type'],
        'ttl': rec['ttl'],
        'comment': rec['comment'],
    }
    if rec['type'] in DATA_SCHEMA:
        body['data'] = dict(rec['data'])
    else:
        body['content'] = rec['content']
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
    for existing, desired, fields in plan.updates:
        body = api_payload(desired)
        body['id'] = existing['id']
        if 'content' not in fields and 'data' not in fields:
            # A patch keeps what it does not name: the value stays exactly as
            # stored (an adopted TXT keeps its quoting), only the rest changes.
            body.pop('content', None)
            body.pop('data', None)
        ops.append(('patches', body))
    ops.extend(('posts', api_payload(d)) for d in plan.creates)
    chunks = []
    size = max(int(batch_size), 1)
    for start in range(0, len(ops), size):
        chunk = {}
        for kind, body in ops[start:start + size]:
            chunk.setdefault(kind, []).append(body)
        chunks.append(chunk)
    return chunks


def describe_chunk(chunk):
    parts = ['%d %s' % (len(chunk[kind]), kind) for kind in ('deletes', 'patches', 'posts') if chunk.get(kind)]
    return ', '.join(parts) or 'nothing'


def chunk_state(chunk, plan):
    """After a failed batch and a re-plan: ``applied`` when none of the chunk's
    operations is still planned, ``pending`` when all are, else ``partial``."""
    left_deletes = set(r['id'] for r in plan.deletes)
    left_patches = set(e['id'] for e, _d, _f in plan.updates)
    left_posts = set((d['name'], d['type'], value_key(d)) for d in plan.creates)
    still = 0
    total = 0
    for item in chunk.get('deletes', []):
        total += 1
        still += item['id'] in left_deletes
    for item in chunk.get('patches', []):
        total += 1
        still += item['id'] in left_patches
    for item in chunk.get('posts', []):
        total += 1
        rec = {'name': item['name'], 'type': item['type'], 'content': item.get('content'), 'data': item.get('data')}
        still += (item['name'], item['type'], value_key(rec)) in left_posts
    if still == 0:
        return 'applied'
    if still == total:
        return 'pending'
    return 'partial'


# ---------------------------------------------------------------- display
def render(rec):
    """One line per record, like a zone file (plus proxy flag and comment)."""
    parts = [display_name(rec['name']), str(rec['ttl']), rec['type']]
    if rec['type'] == 'MX':
        parts.append(str(rec.get('priority')))
    if rec['type'] == 'TXT':
        parts.append('"%s"' % normalize_content('TXT', rec['content']))
    elif rec['type'] in DATA_SCHEMA:
        parts.append(data_content(rec['type'], rec.get('data')))
    else:
        parts.append(rec['content'])
    if rec['type'] in PROXIABLE_TYPES:
        parts.append('proxied' if rec['proxied'] else 'dns-only')
    if rec.get('comment'):
        parts.append('; %s' % rec['comment'])
    return ' '.join(parts)


def public_record(rec):
    keys = ('id', 'name', 'type', 'content', 'data', 'ttl', 'proxied', 'priority', 'comment')
    out = dict((k, rec.get(k)) for k in keys)
    for key in ('id', 'data', 'priority'):
        if out[key] is None:
            out.pop(key)
    return out


def plan_as_dict(plan):
    """The plan as returned to the user (RETURN: plan)."""
    return {
        'create': [public_record(d) for d in plan.creates],
        'update': [{'before': public_record(e), 'after': public_record(dict(d, id=e['id'])), 'fields': f}
                   for e, d, f in plan.updates],
        'delete': [public_record(e) for e in plan.deletes],
    }


def plan_summary(zone, plan):
    c = plan.counts()
    return '%s: +%d ~%d -%d (unchanged %d, unmanaged %d, ignored %d)' % (
        display_name(zone), c['create'], c['update'], c['delete'], c['unchanged'], c['unmanaged'], c['ignored'])


def zone_diff(zone, existing, plan):
    """Ansible diff (before/after as zone-file text) of the records in scope."""
    before = sorted(render(r) for r in existing)
    gone = set(id(r) for r in plan.deletes) | set(id(e) for e, _d, _f in plan.updates)
    after_records = [r for r in existing if id(r) not in gone]
    after_records.extend(d for _e, d, _f in plan.updates)
    after_records.extend(plan.creates)
    after = sorted(render(r) for r in after_records)
    return {
        'before_header': 'zone %s (Cloudflare)' % display_name(zone),
        'after_header': 'zone %s (planned)' % display_name(zone),
        'before': '\n'.join(before) + ('\n' if before else ''),
        'after': '\n'.join(after) + ('\n' if after else ''),
    }
