# -*- coding: utf-8 -*-
# Copyright (c) Alorig platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Existing zones -> the project's declared DNS records (pure, no network).

Sources: a BIND zone file (parsed by dnspython, the export every DNS host
offers) or the records the Cloudflare API lists. Output: per zone the records
in the declared form of ``alorig_dns_mail_records`` / ``alorig_dns_extra_records``
(group_vars/all/dns.yml), the records left to the registry (names it points
at the VPS), and the records not imported with the reason, rendered as a
yamllint-clean YAML file the operator reviews and copies into group_vars.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible_collections.alorig.platform.plugins.module_utils.cloudflare_dns import (
    DATA_SCHEMA,
    MAX_TTL,
    MIN_TTL,
    PROXIABLE_TYPES,
    SUPPORTED_TYPES,
    data_content,
    display_name,
    is_ignored,
    normalize_data,
    normalize_existing,
    policy_kind,
    strip_marker,
    to_ascii,
    txt_unquote,
)

DNSSEC_TYPES = ('DNSKEY', 'RRSIG', 'NSEC', 'NSEC3', 'NSEC3PARAM', 'CDS', 'CDNSKEY')
MAIL_SRV = ('_submission', '_submissions', '_imap', '_imaps', '_pop3', '_pop3s', '_autodiscover', '_jmap', '_smtp')
MAIL_HOSTS = ('mail', 'smtp', 'imap', 'pop', 'pop3', 'mx', 'webmail', 'email', 'autodiscover', 'autoconfig',
              'mta-sts')
MAIL_TXT_LABELS = ('_dmarc', '_mta-sts', '_bimi', '_domainkey')
MAIL_TLSA_PORTS = ('_25', '_465', '_587', '_993', '_995')
KEY_ORDER = ('name', 'type', 'content', 'data', 'priority', 'ttl', 'proxied', 'comment')


class ZoneImportError(ValueError):
    """A zone cannot be imported (unreadable or unparsable file)."""


def _relative(name, zone):
    if name == zone:
        return '@'
    return name[:-len(zone) - 1]


def _record(name, rtype, ttl, content=None, data=None, priority=None, proxied=False, comment=None):
    return {'name': name, 'type': rtype, 'content': content, 'data': data, 'priority': priority,
            'ttl': ttl, 'proxied': proxied, 'comment': comment}


def records_from_bind(text, zone):
    """(records, skipped) of a BIND zone file; names in Punycode, absolute."""
    import dns.exception
    import dns.name
    import dns.rdatatype
    import dns.zone
    zone = to_ascii(zone)
    try:
        parsed = dns.zone.from_text(text, origin=zone + '.', relativize=False, check_origin=False)
    except (dns.exception.DNSException, ValueError, UnicodeError) as exc:
        raise ZoneImportError('zone %s: the zone file cannot be parsed: %s' % (zone, exc))
    records, skipped = [], []
    for name, ttl, rdata in parsed.iterate_rdatas():
        fqdn = name.to_text(omit_final_dot=True).lower()
        rtype = dns.rdatatype.to_text(rdata.rdtype)
        line = '%s %s %s %s' % (fqdn, ttl, rtype, rdata.to_text())
        if not (fqdn == zone or fqdn.endswith('.' + zone)):
            skipped.append((line, 'outside the zone %s' % zone))
            continue
        try:
            rec = _from_rdata(fqdn, rtype, ttl, rdata)
        except (UnicodeError, ValueError) as exc:
            skipped.append((line, 'cannot be read: %s' % exc))
            continue
        if rec is None:
            skipped.append((line, _skip_reason(fqdn, rtype, zone)))
            continue
        records.append(rec)
    return records, skipped


def _host(name):
    import dns.name
    if name == dns.name.root:
        return '.'  # SRV "no service", null MX (RFC 7505)
    return name.to_text(omit_final_dot=True).lower()


def _from_rdata(fqdn, rtype, ttl, rdata):
    ttl = int(ttl)
    if rtype in ('A', 'AAAA'):
        return _record(fqdn, rtype, ttl, content=rdata.address)
    if rtype in ('CNAME', 'NS', 'PTR'):
        return _record(fqdn, rtype, ttl, content=_host(rdata.target))
    if rtype == 'MX':
        return _record(fqdn, rtype, ttl, content=_host(rdata.exchange), priority=int(rdata.preference))
    if rtype == 'TXT':
        return _record(fqdn, rtype, ttl, content=b''.join(rdata.strings).decode('utf-8'))
    if rtype == 'SRV':
        return _record(fqdn, rtype, ttl, data={'priority': int(rdata.priority), 'weight': int(rdata.weight),
                                               'port': int(rdata.port), 'target': _host(rdata.target)})
    if rtype == 'CAA':
        return _record(fqdn, rtype, ttl, data={'flags': int(rdata.flags), 'tag': rdata.tag.decode('ascii'),
                                               'value': rdata.value.decode('utf-8')})
    if rtype == 'HTTPS':
        value = rdata.to_text().split(None, 2)
        return _record(fqdn, rtype, ttl, data={'priority': int(rdata.priority), 'target': _host(rdata.target),
                                               'value': value[2] if len(value) > 2 else ''})
    if rtype == 'TLSA':
        return _record(fqdn, rtype, ttl, data={'usage': int(rdata.usage), 'selector': int(rdata.selector),
                                               'matching_type': int(rdata.mtype), 'certificate': rdata.cert.hex()})
    if rtype == 'DS':
        return _record(fqdn, rtype, ttl, data={'key_tag': int(rdata.key_tag), 'algorithm': int(rdata.algorithm),
                                               'digest_type': int(rdata.digest_type), 'digest': rdata.digest.hex()})
    return None


def _skip_reason(fqdn, rtype, zone):
    if rtype == 'SOA':
        return 'Cloudflare serves its own SOA'
    if rtype == 'NS' and fqdn == zone:
        return "the zone's nameservers become Cloudflare's"
    if rtype in DNSSEC_TYPES:
        return 'DNSSEC records are made by the signing DNS host (enable DNSSEC in Cloudflare)'
    return 'type %s is not managed by the cloudflare_dns role; add it in Cloudflare by hand (it is then left ' \
           'alone as unmanaged)' % rtype


def records_from_api(api_records, zone, marker):
    """(records, skipped) of the records the Cloudflare API listed."""
    zone = to_ascii(zone)
    records, skipped = [], []
    for raw in api_records:
        rec = normalize_existing(raw)
        line = '%s %s %s %s' % (rec['name'], rec['ttl'], rec['type'], rec['content'])
        if rec['type'] not in SUPPORTED_TYPES:
            skipped.append((line, _skip_reason(rec['name'], rec['type'], zone)))
            continue
        if rec['type'] in DATA_SCHEMA:
            data = normalize_data(rec['type'], rec['data'])
            content = None
        else:
            data = None
            content = txt_unquote(rec['content']) if rec['type'] == 'TXT' else rec['content']
        records.append(_record(rec['name'], rec['type'], rec['ttl'], content=content, data=data,
                               priority=rec['priority'], proxied=rec['proxied'],
                               comment=strip_marker(rec['comment'], marker)))
    return records, skipped


def _is_mail(rec, zone, mx_targets):
    rtype = rec['type']
    labels = _relative(rec['name'], zone).split('.')
    if rec['proxied']:
        return False
    if rtype == 'MX':
        return True
    if rtype == 'TXT':
        return policy_kind(rec) is not None or any(label in MAIL_TXT_LABELS for label in labels) \
            or labels[:2] == ['_smtp', '_tls']
    if rtype == 'SRV':
        return labels[0] in MAIL_SRV
    if rtype == 'TLSA':
        return labels[0] in MAIL_TLSA_PORTS
    if rtype == 'CNAME':
        return labels[0] in MAIL_HOSTS or '_domainkey' in labels
    if rtype in ('A', 'AAAA'):
        return rec['name'] in mx_targets or labels[0] in MAIL_HOSTS
    return False


def _declared(rec, zone):
    out = {'name': _relative(rec['name'], zone), 'type': rec['type']}
    if rec['type'] in DATA_SCHEMA:
        out['data'] = dict((key, rec['data'][key]) for key, _kind in DATA_SCHEMA[rec['type']])
    else:
        out['content'] = rec['content']
    if rec['type'] == 'MX':
        out['priority'] = rec['priority']
    out['ttl'] = rec['ttl']
    if rec['type'] in PROXIABLE_TYPES:
        out['proxied'] = bool(rec['proxied'])
    if rec.get('comment'):
        out['comment'] = rec['comment']
    return out


def declare(records, skipped, zone, registry_hosts=()):
    """Sort a zone's records into mail, extra, left to the registry and skipped."""
    zone = to_ascii(zone)
    registry = set(to_ascii('%s.%s' % (h, zone)) if h != '@' else zone for h in registry_hosts or ())
    mx_targets = set(r['content'] for r in records if r['type'] == 'MX')
    mail, extra, replaced, notes = [], [], [], []
    skipped = list(skipped)
    seen = set()
    for rec in sorted(records, key=lambda r: (r['name'] != zone, r['name'], r['type'], str(r['content'] or
                                                                                          r['data']))):
        line = '%s %s %s %s' % (rec['name'], rec['ttl'], rec['type'],
                                rec['content'] if rec['data'] is None else data_content(rec['type'], rec['data']))
        if is_ignored(rec['name'], zone):
            skipped.append((line, '_acme-challenge records are made by the certificate issuer, never declared'))
            continue
        if rec['type'] == 'NS' and rec['name'] == zone:
            skipped.append((line, _skip_reason(rec['name'], 'NS', zone)))
            continue
        if rec['type'] == 'DS' and rec['name'] == zone:
            skipped.append((line, "the zone's own DS record belongs in the parent zone (at the registrar)"))
            continue
        if rec['name'] in registry and rec['type'] in ('A', 'AAAA', 'CNAME'):
            replaced.append('%s: the registry points %s at the VPS%s' % (
                line, _relative(rec['name'], zone),
                ' (an AAAA left next to it would send IPv6 clients to the old server)' if rec['type'] == 'AAAA'
                else ''))
            continue
        key = (rec['name'], rec['type'], rec['content'] if rec['data'] is None else data_content(rec['type'],
                                                                                                 rec['data']))
        if key in seen:
            skipped.append((line, 'a duplicate of the record above'))
            continue
        seen.add(key)
        ttl = rec['ttl']
        if ttl != 1 and ttl < MIN_TTL:
            notes.append('%s: ttl %d raised to %d (the lowest Cloudflare accepts)' % (line, ttl, MIN_TTL))
            ttl = MIN_TTL
        elif ttl > MAX_TTL:
            notes.append('%s: ttl %d lowered to %d (the highest Cloudflare accepts)' % (line, ttl, MAX_TTL))
            ttl = MAX_TTL
        declared = _declared(dict(rec, ttl=ttl), zone)
        (mail if _is_mail(rec, zone, mx_targets) else extra).append(declared)
    return {'mail': mail, 'extra': extra, 'replaced': replaced,
            'skipped': ['%s: %s' % (line, reason) for line, reason in skipped], 'notes': notes}


# ------------------------------------------------------------------- YAML
def _scalar(value):
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, int):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _flow(rec):
    parts = []
    for key in KEY_ORDER:
        if key not in rec:
            continue
        value = rec[key]
        if key == 'type':
            parts.append('type: %s' % value)
        elif key == 'data':
            parts.append('data: {%s}' % ', '.join('%s: %s' % (k, _scalar(v)) for k, v in value.items()))
        else:
            parts.append('%s: %s' % (key, _scalar(value)))
    return '{%s}' % ', '.join(parts)


def _long_string(value, indent, width):
    """A double-quoted YAML scalar over several lines: each line ends with an
    escaped line break, so the lines join without any added character."""
    text = json.dumps(value, ensure_ascii=False)[1:-1]
    lines, current = [], ''
    room = max(width - indent - 2, 40)
    for index, char in enumerate(text):
        current += char
        nxt = text[index + 1] if index + 1 < len(text) else ''
        # never end a line inside an escape, and never start one with a blank
        # (leading blanks of a continuation line are not part of the value)
        if len(current) >= room and nxt and nxt not in ' \t' and not re.search(r'\\(u[0-9a-fA-F]{0,3})?$',
                                                                              current):
            lines.append(current)
            current = ''
    lines.append(current)
    pad = ' ' * indent
    return '"' + ('\\\n' + pad).join(lines) + '"'


def _record_lines(rec, indent, width):
    flow = _flow(rec)
    if indent + 2 + len(flow) <= width:
        return ['%s- %s' % (' ' * indent, flow)]
    out = []
    first = True
    for key in KEY_ORDER:
        if key not in rec:
            continue
        prefix = ' ' * indent + ('- ' if first else '  ')
        first = False
        value = rec[key]
        if key == 'data':
            text = '{%s}' % ', '.join('%s: %s' % (k, _scalar(v)) for k, v in value.items())
            if len(prefix) + 6 + len(text) > width:
                out.append('%sdata:' % prefix)
                for k, v in value.items():
                    item = _scalar(v)
                    if isinstance(v, str) and indent + 6 + len(k) + 2 + len(item) > width:
                        item = _long_string(v, indent + 8, width)
                    out.append('%s%s: %s' % (' ' * (indent + 4), k, item))
                continue
        elif key == 'type':
            text = value
        elif isinstance(value, str) and len(prefix) + len(key) + 2 + len(_scalar(value)) > width:
            text = _long_string(value, indent + 4, width)
        else:
            text = _scalar(value)
        out.append('%s%s: %s' % (prefix, key, text))
    return out


def render_yaml(imports, width=140):
    """The import file: ``imports`` is [(zone, source text, declare() result)]."""
    lines = ['---',
             '# DNS records imported by playbooks/dns_import.yml (alorig.platform.cloudflare_dns_import).']
    for zone, source, _result in imports:
        lines.append('# %s: %s' % (display_name(zone), source))
    lines += ['# Review them, then copy both blocks into group_vars/all/dns.yml (or try them first with',
              '# `-e @<this file>`). Names the registry points at the VPS and records the role does not',
              '# manage are listed at the end, not declared.']
    for variable, part in (('alorig_dns_mail_records', 'mail'), ('alorig_dns_extra_records', 'extra')):
        zones = [(zone, result[part]) for zone, _source, result in imports if result[part]]
        if not zones:
            lines.append('%s: {}' % variable)
            continue
        lines.append('%s:' % variable)
        for zone, records in zones:
            lines.append('  %s:' % _scalar(zone) if not re.match(r'^[a-z0-9.-]+$', zone) else '  %s:' % zone)
            for rec in records:
                lines.extend(_record_lines(rec, 4, width))
    for title, part in (('Left to the registry (not declared here)', 'replaced'),
                        ('Not imported', 'skipped'), ('Adjusted', 'notes')):
        items = [(zone, item) for zone, _source, result in imports for item in result[part]]
        if items:
            lines.append('# %s:' % title)
            for zone, item in items:
                text = '#   %s' % item
                lines.append(text if len(text) <= width else text[:width - 3] + '...')
    return '\n'.join(lines) + '\n'
