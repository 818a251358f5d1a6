# -*- coding: utf-8 -*-
# Copyright (c) Alorig platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that turn the app registry into cloudflare_dns role input.

``alorig.platform.dns_zones_from_registry`` builds one entry per zone:
route hosts of every enabled app, apex records, wildcard records, the mail
records the operator declares and extra records. ``alorig.platform.
dns_merge_zones`` merges entries that name the same zone (the role calls it,
so ``_auto + _custom`` never converges one zone twice with two record sets).
``alorig.platform.dns_registry_hosts`` lists, per zone, the names the registry
points at the VPS (the DNS import leaves those to the registry).

With several VPS hosts (``alorig_placement``), ``app_ipv4`` gives each app's
route hosts the address of the host the app is placed on.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

MAIL_TYPES = ('MX', 'TXT', 'SRV', 'CNAME', 'A', 'AAAA', 'TLSA')


def _zone_of(host, zones):
    host = host.rstrip('.').lower()
    best = None
    for zone in zones:
        if host == zone or host.endswith('.' + zone):
            if best is None or len(zone) > len(best):
                best = zone
    return best


def _relative(host, zone):
    if host == zone:
        return '@'
    return host[:-len(zone) - 1]


def _depth(host, zone):
    """Labels below the zone apex: app.igny8.com -> 1, a.b.igny8.com -> 2."""
    if host == zone:
        return 0
    return len(_relative(host, zone).split('.'))


def _registry_hosts(domains, apps, apex_zones=None, wildcard_zones=None):
    """(host, zone, source, dns_only, app keys) of every name the registry points at the VPS,
    once each; the app keys are those whose routes name it (none for apex and wildcard)."""
    out = []
    by_host = {}

    def add(host, source, dns_only=False, app=None):
        host = host.rstrip('.').lower()
        zone = _zone_of(host, domains)
        if zone is None:
            raise AnsibleFilterError('dns_zones_from_registry: %s (%s) is in none of alorig_domains %s'
                                     % (host, source, ', '.join(domains)))
        if host in by_host:
            if app is not None and app not in by_host[host]:
                by_host[host].append(app)
            return
        by_host[host] = [app] if app is not None else []
        out.append((host, zone, source, dns_only, by_host[host]))

    for name in sorted(apps or {}):
        app = apps[name] or {}
        if not app.get('enabled', True):
            continue
        for route in app.get('routes') or []:
            # An allowlisted route must see the client's address, which a
            # proxied record replaces with Cloudflare's: keep it DNS-only.
            add(route['host'], 'app %s' % name, dns_only='allow_ips' in route, app=name)
    for zone in apex_zones or []:
        add(zone, 'apex')
    for zone in wildcard_zones or []:
        add('*.' + zone.rstrip('.').lower(), 'wildcard')
    return out


def dns_registry_hosts(domains, apps, apex_zones=None, wildcard_zones=None):
    """{zone: [relative names]} the registry gives an A record to the VPS."""
    domains = [d.rstrip('.').lower() for d in (domains or [])]
    result = dict((d, []) for d in domains)
    for host, zone, _source, _dns_only, _apps in _registry_hosts(domains, apps, apex_zones,
                                                                 wildcard_zones):
        result[zone].append(_relative(host, zone))
    return result


def _app_addresses(app_ipv4):
    """The per-app addresses, checked: app key -> IPv4 (its VPS host's)."""
    if app_ipv4 is None:
        return {}
    if not isinstance(app_ipv4, dict):
        raise AnsibleFilterError('dns_zones_from_registry: app_ipv4 must be a dict of app -> IPv4 '
                                 'address, got %s' % type(app_ipv4).__name__)
    for app, address in app_ipv4.items():
        if not address or not str(address).strip():
            raise AnsibleFilterError('dns_zones_from_registry: app %s: the address of its VPS host is '
                                     'empty (app_ipv4[%r]: the host has no alorig_vps_public_ipv4)'
                                     % (app, app))
    return dict((app, str(address).strip()) for app, address in app_ipv4.items())


def dns_zones_from_registry(domains, apps, ipv4, ttl=1, proxied=True, proxy_deep_names=False,
                            wildcard_zones=None, apex_zones=None, mail_records=None, extra_records=None,
                            zone_settings=None, proxied_overrides=None, app_ipv4=None):
    """Return the list of {zone, records, ...} for the cloudflare_dns role.

    * every route host of every enabled app -> A record to ``app_ipv4[app]``
      (app key -> the public IPv4 of the VPS host the app is placed on), or to
      ``ipv4`` for an app ``app_ipv4`` does not name;
    * every zone in ``apex_zones`` -> apex A record; every zone in
      ``wildcard_zones`` -> ``*.zone`` A record, both to ``ipv4`` (the first
      VPS host);
    * proxied: ``proxied`` unless the name is more than one label below the
      apex (Universal SSL covers the apex and one level only, so such names
      are DNS-only unless ``proxy_deep_names``) or the route has an IP
      allowlist (``allow_ips``: Caddy must see the client address);
      ``proxied_overrides`` per host wins;
    * ``mail_records[zone]``: list of records, never proxied;
    * ``extra_records[zone]``: list of records, as given;
    * ``zone_settings[zone]``: dict merged into the entry (purge, adopt,
      max_change_ratio, ignore).
    """
    domains = [d.rstrip('.').lower() for d in (domains or [])]
    if not ipv4:
        raise AnsibleFilterError('dns_zones_from_registry: the VPS address (alorig_vps_public_ipv4) is empty')
    addresses = _app_addresses(app_ipv4)
    overrides = dict((k.lower(), bool(v)) for k, v in (proxied_overrides or {}).items())
    per_zone = dict((d, []) for d in domains)
    for host, zone, source, dns_only, owners in _registry_hosts(domains, apps, apex_zones,
                                                                wildcard_zones):
        targets = sorted(set(addresses.get(app, ipv4) for app in owners)) or [ipv4]
        if len(targets) > 1:
            raise AnsibleFilterError('dns_zones_from_registry: %s is a route host of apps %s, which '
                                     'are on VPS hosts of different addresses (%s): a name points at '
                                     'one address only' % (host, ', '.join(owners), ', '.join(targets)))
        wanted = overrides.get(host)
        if wanted is None and dns_only:
            wanted = False
        if wanted is None:
            wanted = bool(proxied) and (bool(proxy_deep_names) or _depth(host, zone) <= 1)
        per_zone[zone].append({
            'name': _relative(host, zone),
            'type': 'A',
            'content': targets[0],
            'ttl': 1 if wanted else int(ttl),
            'proxied': bool(wanted),
            'comment': source,
        })

    for source, collection, force_dns_only in (('mail', mail_records, True), ('extra', extra_records, False)):
        for zone, records in (collection or {}).items():
            zone = zone.rstrip('.').lower()
            if zone not in per_zone:
                raise AnsibleFilterError('dns_zones_from_registry: %s records for %s, which is not in '
                                         'alorig_domains' % (source, zone))
            for rec in records or []:
                rec = dict(rec)
                rtype = str(rec.get('type', '')).upper()
                rec['type'] = rtype
                if force_dns_only:
                    if rtype not in MAIL_TYPES:
                        raise AnsibleFilterError('dns_zones_from_registry: mail record %s %s in %s: type must '
                                                 'be one of %s' % (rec.get('name'), rtype, zone, MAIL_TYPES))
                    if rtype in ('A', 'AAAA', 'CNAME'):
                        rec['proxied'] = False  # mail names are never proxied
                    else:
                        rec.pop('proxied', None)
                rec.setdefault('ttl', int(ttl))
                rec.setdefault('comment', source)
                per_zone[zone].append(rec)

    result = []
    for zone in domains:
        entry = {'zone': zone, 'records': per_zone[zone]}
        entry.update((zone_settings or {}).get(zone, {}))
        result.append(entry)
    return result


def dns_merge_zones(zones):
    """Merge entries naming the same zone: records concatenated, later settings win."""
    merged = {}
    order = []
    for entry in zones or []:
        if not isinstance(entry, dict) or not entry.get('zone'):
            raise AnsibleFilterError('dns_merge_zones: every entry needs a zone: %r' % (entry,))
        name = entry['zone'].rstrip('.').lower()
        if name not in merged:
            merged[name] = {'zone': name, 'records': []}
            order.append(name)
        target = merged[name]
        for key, value in entry.items():
            if key == 'records':
                target['records'].extend(value or [])
            elif key != 'zone':
                target[key] = value
    return [merged[name] for name in order]


class FilterModule(object):
    def filters(self):
        return {
            'dns_zones_from_registry': dns_zones_from_registry,
            'dns_merge_zones': dns_merge_zones,
            'dns_registry_hosts': dns_registry_hosts,
        }
