#!/usr/bin/env python3
"""A stateful stand-in for the Cloudflare v4 DNS API (loopback only).

It answers the parts of the API the project uses, in the shapes and with the
rules Cloudflare documents (OpenAPI description, the ``cloudflare`` SDK's
types, the developer docs); README.md lists each rule and its source.

* ``GET  /zones?name=&page=&per_page=``
* ``GET  /zones/{zone_id}``
* ``GET  /zones/{zone_id}/dns_records`` (filters ``name``, ``type``,
  ``content``; ``page``/``per_page``; a page past the end has an empty result)
* ``POST /zones/{zone_id}/dns_records``
* ``GET|PUT|PATCH|DELETE /zones/{zone_id}/dns_records/{id}``
* ``POST /zones/{zone_id}/dns_records/batch`` (deletes, patches, puts, posts,
  in that order, all or nothing, at most 200 operations on the Free plan)

It shares no code with the module it tests (alorig.platform.cloudflare_dns_zone):
the rules are written again here from the documentation, on purpose.

Test control (never counted, no token) under ``/__admin``:

* ``GET  /__admin/stats`` -> ``{"requests": N, "by_route": {...}, "log": [...]}``
* ``POST /__admin/reset`` -> zero the counters and drop pending faults
* ``POST /__admin/zones`` ``{"name": "example.com"}`` -> creates the zone
* ``GET  /__admin/zones/{name}/records`` -> every record of the zone
* ``POST /__admin/zones/{name}/records`` ``[{record}, ...]`` -> adds records
  as given (no validation: quoted TXT, hand-made comments, ...)
* ``PATCH /__admin/zones/{name}/records/{id}`` / ``DELETE`` -> server-side drift
* ``PUT  /__admin/zones/{name}/records`` ``[...]`` -> replaces all records
* ``POST /__admin/faults`` ``{"status": 429, "times": 2, "method": "GET",
  "path": "dns_records"}`` -> the next N matching API calls fail with it;
  ``"after_commit": true`` applies the request first and then answers
  ``status`` (a 5xx), or with ``"timeout": S`` answers only after S seconds
  (the client has given up: the change is committed, the answer lost)
* ``POST /__admin/settings`` ``{"token": "...", "quote_txt": true,
  "deny_zones": ["example.com"], "error_chain": false, "plan": "pro"}``

Run: ``python3 harness/cloudflare_api/server.py --port 8788 --token T
--zone igny8.com --zone alorig.com [--state-file FILE]``.
Import: ``from server import FakeCloudflare; api = FakeCloudflare(token=...);
api.start(port=0); api.base_url``.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import encodings.idna
import hashlib
import ipaddress
import json
import os
import re
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

try:  # IDNA 2008 + UTS 46, as browsers and Cloudflare's dashboard encode names
    import idna as _idna
except ImportError:  # pragma: no cover - the venv has it (httpx needs it)
    _idna = None

PROXIABLE = ("A", "AAAA", "CNAME")
# Types whose value is the ``content`` string (OpenAPI: required type, name,
# content) and types whose value is the structured ``data`` map (OpenAPI:
# required type, name, data; ``content`` is read-only and formatted by the API).
CONTENT_TYPES = ("A", "AAAA", "CNAME", "MX", "NS", "OPENPGPKEY", "PTR", "TXT")
U8, U16 = (0, 255), (0, 65535)
DATA_FIELDS = {
    "CAA": {"flags": U8, "tag": "caa_tag", "value": "text"},
    "CERT": {"type": U16, "key_tag": U16, "algorithm": U8, "certificate": "text"},
    "DNSKEY": {"flags": U16, "protocol": U8, "algorithm": U8, "public_key": "text"},
    "DS": {"key_tag": U16, "algorithm": U8, "digest_type": U8, "digest": "hex"},
    "HTTPS": {"priority": U16, "target": "target", "value": "params"},
    "LOC": {"lat_degrees": (0, 90), "lat_minutes": (0, 59), "lat_seconds": "number", "lat_direction": "text",
            "long_degrees": (0, 180), "long_minutes": (0, 59), "long_seconds": "number",
            "long_direction": "text", "altitude": "number", "size": "number", "precision_horz": "number",
            "precision_vert": "number"},
    "NAPTR": {"order": U16, "preference": U16, "flags": "params", "service": "params", "regex": "params",
              "replacement": "target"},
    "SMIMEA": {"usage": U8, "selector": U8, "matching_type": U8, "certificate": "hex"},
    "SRV": {"priority": U16, "weight": U16, "port": U16, "target": "target"},
    "SSHFP": {"algorithm": U8, "type": U8, "fingerprint": "hex"},
    "SVCB": {"priority": U16, "target": "target", "value": "params"},
    "TLSA": {"usage": U8, "selector": U8, "matching_type": U8, "certificate": "hex"},
    "URI": {"weight": U16, "target": "text"},
}
TYPES = tuple(sorted(CONTENT_TYPES + tuple(DATA_FIELDS)))
PRIORITY_TYPES = ("MX", "URI")  # top-level ``priority`` required
CAA_TAGS = ("issue", "issuewild", "iodef", "issuemail", "issuevmc")
WRITABLE = ("name", "type", "content", "ttl", "proxied", "priority", "comment", "tags", "data", "settings")
ZONE_PER_PAGE_DEFAULT = 20
ZONE_PER_PAGE_MAX = 50
RECORDS_PER_PAGE_DEFAULT = 100
RECORDS_PER_PAGE_MAX = 5000000
PLANS = {  # developers.cloudflare.com: batch size and comment length per plan
    "free": {"batch": 200, "comment": 100, "tags": 0},
    "pro": {"batch": 3500, "comment": 500, "tags": 50},
}
RECORD_WIRE_MAX = 4096      # "Each DNS record has a maximum wire format size of 4,096 bytes"
RRSET_CONTENT_MAX = 8192    # "... same name and type, their combined content length must not exceed 8,192"
NAME_MAX, LABEL_MAX = 253, 63
# Token formats: the 40-character API tokens and the newer prefixed ones
# (cfut_ user tokens, cfat_ account tokens). Anything else in a Bearer header
# is answered 6003/6111 "Invalid format for Authorization header".
TOKEN_FORMATS = (re.compile(r"^[A-Za-z0-9_-]{40}$"), re.compile(r"^cf[au]t_[A-Za-z0-9_-]{40,60}$"))


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _hex_id(seed=None):
    if seed is not None:
        return hashlib.md5(seed.encode()).hexdigest()
    return uuid.uuid4().hex


class ApiError(Exception):
    """An API error: ``errors`` is the v4 list, possibly with an ``error_chain``."""

    def __init__(self, status, code, message, headers=None, chain=None):
        super().__init__(message)
        self.status = status
        error = {"code": code, "message": message}
        if chain:
            error["error_chain"] = [{"code": c, "message": m} for c, m in chain]
        self.errors = [error]
        self.headers = headers or {}


class Invalid(Exception):
    """A DNS validation failure: root cause code and message (wrapped in 1004)."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def _ascii_label(label):
    if all(ord(ch) < 128 for ch in label):
        return label.lower()
    try:
        if _idna is not None:
            return _idna.encode(label, uts46=True).decode("ascii")
        return encodings.idna.ToASCII(label).decode("ascii").lower()
    except (UnicodeError, ValueError) as exc:
        raise Invalid(9000, "DNS name is invalid: label %r cannot be encoded in Punycode (%s)" % (label, exc))


def ascii_name(name):
    """Lower-case Punycode form of a name, without the trailing dot."""
    name = (name or "").strip().rstrip(".")
    if not name:
        return ""
    return ".".join(_ascii_label(label) for label in name.split("."))


def _wire_name_length(name):
    return sum(1 + len(label) for label in name.split(".") if label) + 1


def _txt_strings(content):
    """The character strings of TXT content: quoted strings as given, or the
    unquoted text split in 255-byte strings (the API splits long strings)."""
    text = content.strip()
    if text.startswith('"'):
        parts = re.findall(r'"((?:[^"\\]|\\.)*)"', text)
        if parts and re.fullmatch(r'(\s*"(?:[^"\\]|\\.)*")+\s*', text):
            return [re.sub(r"\\(.)", r"\1", p).encode("utf-8") for p in parts]
    raw = content.encode("utf-8")
    return [raw[i:i + 255] for i in range(0, len(raw), 255)] or [b""]


class FakeCloudflare:
    """State, request handling and an HTTP server around them."""

    def __init__(self, token="test-token-00000000000000000000000000000", zones=(), state_file=None,
                 account="Alorig"):
        self.lock = threading.RLock()
        self.token = token
        self.account = {"id": _hex_id("account:" + account), "name": account}
        self.zones = {}  # id -> zone dict (with "records": {id: record})
        self.faults = []
        self.quote_txt = False
        self.deny_zones = set()
        self.error_chain = True
        self.plan = "free"
        self.requests = 0
        self.by_route = {}
        self.log = []
        self.state_file = state_file
        self.httpd = None
        self.thread = None
        if state_file and os.path.exists(state_file):
            self._load()
        for name in zones:
            self.add_zone(name)

    # ---------------------------------------------------------------- state
    def _load(self):
        with open(self.state_file, encoding="utf-8") as handle:
            data = json.load(handle)
        self.zones = data.get("zones", {})

    def _save(self):
        if not self.state_file:
            return
        tmp = self.state_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump({"zones": self.zones}, handle, indent=1, sort_keys=True)
        os.replace(tmp, self.state_file)

    def add_zone(self, name):
        name = ascii_name(name)
        with self.lock:
            for zone in self.zones.values():
                if zone["name"] == name:
                    return zone
            zone_id = _hex_id("zone:" + name)
            self.zones[zone_id] = {
                "id": zone_id,
                "name": name,
                "status": "active",
                "paused": False,
                "type": "full",
                "development_mode": 0,
                "name_servers": ["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"],
                "original_name_servers": [],
                "original_registrar": None,
                "original_dnshost": None,
                "vanity_name_servers": [],
                "account": dict(self.account),
                "created_on": _now(),
                "modified_on": _now(),
                "activated_on": _now(),
                "meta": {"step": 2, "custom_certificate_quota": 0, "page_rule_quota": 3,
                         "phishing_detected": False},
                "owner": {"id": None, "type": "user", "email": None},
                "permissions": ["#dns_records:edit", "#dns_records:read", "#zone:read"],
                "plan": {"id": "0feeeeeeeeeeeeeeeeeeeeeeeeeeeeee", "name": "Free Website",
                         "price": 0, "currency": "USD", "frequency": "", "is_subscribed": False,
                         "can_subscribe": False, "legacy_id": "free", "legacy_discount": False,
                         "externally_managed": False},
                "records": {},
            }
            self._save()
            return self.zones[zone_id]

    def zone_by_name(self, name):
        name = ascii_name(name)
        with self.lock:
            for zone in self.zones.values():
                if zone["name"] == name:
                    return zone
        raise KeyError(name)

    def records(self, zone_name):
        with self.lock:
            return [self._public(r) for r in self.zone_by_name(zone_name)["records"].values()]

    def seed_records(self, zone_name, records, replace=False):
        """Add records as given, without validation (test setup)."""
        with self.lock:
            zone = self.zone_by_name(zone_name)
            if replace:
                zone["records"] = {}
            out = []
            for rec in records:
                rec = dict(rec)
                rec["name"] = self._fqdn(rec.get("name", "@"), zone["name"])
                rec["type"] = str(rec.get("type") or "").upper()
                if rec.get("data") is not None and not rec.get("content"):
                    rec["content"] = self._format_data(rec["type"], rec["data"])
                stored = self._store(zone, rec, rec.get("id"))
                out.append(self._public(stored))
            self._save()
            return out

    def stats(self):
        with self.lock:
            return {"requests": self.requests, "by_route": dict(self.by_route), "log": list(self.log)}

    def reset_stats(self):
        with self.lock:
            self.requests = 0
            self.by_route = {}
            self.log = []

    def add_fault(self, status=None, times=1, method=None, path=None, after_commit=False, timeout=None):
        with self.lock:
            self.faults.append({"status": int(status) if status else None, "times": int(times),
                                "method": (method or "").upper() or None, "path": path or None,
                                "after_commit": bool(after_commit),
                                "timeout": float(timeout) if timeout else None})

    def settings(self, **changes):
        with self.lock:
            if "token" in changes:
                self.token = changes["token"]
            if "quote_txt" in changes:
                self.quote_txt = bool(changes["quote_txt"])
            if "deny_zones" in changes:
                self.deny_zones = set(ascii_name(z) for z in changes["deny_zones"] or [])
            if "error_chain" in changes:
                self.error_chain = bool(changes["error_chain"])
            if "plan" in changes:
                if changes["plan"] not in PLANS:
                    raise ValueError("plan must be one of %s" % ", ".join(PLANS))
                self.plan = changes["plan"]

    # ------------------------------------------------------------ records
    @staticmethod
    def _fqdn(name, zone_name):
        """The API's reading of a record name: ``@`` is the apex; a name that
        does not end with the zone gets the zone appended, even one written
        with a trailing dot (``www.other.org.`` becomes
        ``www.other.org.<zone>``); Unicode labels are stored in Punycode."""
        name = (name or "@").strip()
        if name in ("@", ""):
            return zone_name
        name = ascii_name(name)
        if name == zone_name or name.endswith("." + zone_name):
            return name
        return name + "." + zone_name

    def _store(self, zone, rec, rid=None):
        now = _now()
        rid = rid or _hex_id()
        old = zone["records"].get(rid, {})
        rtype = rec["type"]
        stored = {
            "id": rid,
            "zone_id": zone["id"],
            "zone_name": zone["name"],
            "name": rec["name"],
            "type": rtype,
            "content": rec.get("content", ""),
            "proxiable": rtype in PROXIABLE,
            "proxied": bool(rec.get("proxied", False)) if rtype in PROXIABLE else False,
            "ttl": int(rec.get("ttl", 1)),
            "settings": rec.get("settings") or {},
            "meta": {},
            "comment": rec.get("comment") or None,
            "tags": list(rec.get("tags") or []),
            "created_on": old.get("created_on", now),
            "modified_on": now,
        }
        if stored["proxied"]:
            stored["ttl"] = 1
        if rtype in PRIORITY_TYPES or rec.get("priority") is not None:
            stored["priority"] = rec.get("priority")
        if rec.get("data") is not None:
            stored["data"] = rec["data"]
        if stored["comment"] and stored["comment"] != old.get("comment"):
            stored["comment_modified_on"] = now
        elif old.get("comment_modified_on") and stored["comment"]:
            stored["comment_modified_on"] = old["comment_modified_on"]
        zone["records"][rid] = stored
        return stored

    def _public(self, rec):
        out = copy.deepcopy(rec)
        if out["type"] == "TXT" and self.quote_txt and not out["content"].startswith('"'):
            strings = _txt_strings(out["content"])
            out["content"] = " ".join('"%s"' % s.decode("utf-8", "replace").replace("\\", "\\\\")
                                      .replace('"', '\\"') for s in strings)
        return out

    @staticmethod
    def _format_data(rtype, data):
        """The read-only ``content`` the API derives from ``data``."""
        d = data or {}
        if rtype == "CAA":
            return '%s %s "%s"' % (d.get("flags"), d.get("tag"), d.get("value"))
        if rtype == "SRV":
            return "%s %s %s" % (d.get("weight"), d.get("port"), d.get("target"))
        if rtype in ("HTTPS", "SVCB"):
            return ("%s %s %s" % (d.get("priority"), d.get("target"), d.get("value") or "")).strip()
        if rtype in ("TLSA", "SMIMEA"):
            return "%s %s %s %s" % (d.get("usage"), d.get("selector"), d.get("matching_type"), d.get("certificate"))
        if rtype == "DS":
            return "%s %s %s %s" % (d.get("key_tag"), d.get("algorithm"), d.get("digest_type"), d.get("digest"))
        if rtype == "CERT":
            return "%s %s %s %s" % (d.get("type"), d.get("key_tag"), d.get("algorithm"), d.get("certificate"))
        if rtype == "DNSKEY":
            return "%s %s %s %s" % (d.get("flags"), d.get("protocol"), d.get("algorithm"), d.get("public_key"))
        if rtype == "SSHFP":
            return "%s %s %s" % (d.get("algorithm"), d.get("type"), d.get("fingerprint"))
        if rtype == "NAPTR":
            return '%s %s "%s" "%s" "%s" %s' % (d.get("order"), d.get("preference"), d.get("flags"),
                                                d.get("service"), d.get("regex"), d.get("replacement"))
        if rtype == "URI":
            return '%s "%s"' % (d.get("weight"), d.get("target"))
        return " ".join("%s" % d[k] for k in sorted(d))

    @staticmethod
    def _check_hostname(value, what, allow_root=False):
        if not isinstance(value, str) or not value.strip():
            raise Invalid(9005, "%s must be a valid hostname." % what)
        if allow_root and value.strip() == ".":
            return "."
        host = ascii_name(value)
        labels = host.split(".")
        if len(host) > NAME_MAX or any(not label or len(label) > LABEL_MAX for label in labels):
            raise Invalid(9005, "%s must be a valid hostname." % what)
        if not all(re.fullmatch(r"[a-z0-9_*]([a-z0-9_-]*[a-z0-9_])?", label) for label in labels):
            raise Invalid(9005, "%s must be a valid hostname." % what)
        return host

    def _check_data(self, rtype, data):
        if not isinstance(data, dict):
            raise Invalid(9101, "Content for %s record is invalid. 'data' is required." % rtype)
        fields = DATA_FIELDS[rtype]
        clean = {}
        for key, rule in fields.items():
            value = data.get(key)
            what = "data.%s of the %s record" % (key, rtype)
            if value is None:
                raise Invalid(9101, "Content for %s record is invalid. %s is required." % (rtype, what))
            if isinstance(rule, tuple):
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) \
                        or not rule[0] <= value <= rule[1]:
                    raise Invalid(9101, "Content for %s record is invalid. %s must be an integer between "
                                        "%d and %d." % (rtype, what, rule[0], rule[1]))
                clean[key] = int(value)
            elif rule == "number":
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise Invalid(9101, "Content for %s record is invalid. %s must be a number." % (rtype, what))
                clean[key] = value
            elif rule == "target":
                clean[key] = self._check_hostname(value, what, allow_root=True)
            elif rule == "caa_tag":
                if value not in CAA_TAGS:
                    raise Invalid(9101, "Content for CAA record is invalid. Tag must be one of %s."
                                  % ", ".join(CAA_TAGS))
                clean[key] = value
            elif rule == "hex":
                if not isinstance(value, str) or not re.fullmatch(r"(?:[0-9a-fA-F]{2})+", value):
                    raise Invalid(9101, "Content for %s record is invalid. %s must be hexadecimal."
                                  % (rtype, what))
                clean[key] = value.lower()
            elif rule == "params":
                if not isinstance(value, str):
                    raise Invalid(9101, "Content for %s record is invalid. %s must be a string." % (rtype, what))
                clean[key] = value
            else:  # text
                if not isinstance(value, str) or not value:
                    raise Invalid(9101, "Content for %s record is invalid. %s must be a non-empty string."
                                  % (rtype, what))
                clean[key] = value
        return clean

    def _check_content(self, rtype, content):
        if not isinstance(content, str) or content == "":
            raise Invalid(9005, "Content for %s record is invalid. Must not be empty." % rtype)
        if rtype == "A":
            try:
                ipaddress.IPv4Address(content)
            except ValueError:
                raise Invalid(9005, "Content for A record must be a valid IPv4 address.")
        elif rtype == "AAAA":
            try:
                ipaddress.IPv6Address(content)
            except ValueError:
                raise Invalid(9005, "Content for AAAA record must be a valid IPv6 address.")
        elif rtype in ("CNAME", "MX", "NS", "PTR"):
            return self._check_hostname(content, "Content for %s record" % rtype, allow_root=(rtype == "MX"))
        return content

    def _validate(self, zone, body, rid=None, partial_of=None):
        """Return the record (a dict) to store, or raise ApiError like the API."""
        try:
            return self._validate_record(zone, body, rid, partial_of)
        except Invalid as exc:
            if self.error_chain:
                raise ApiError(400, 1004, "DNS Validation Error", chain=[(exc.code, exc.message)])
            raise ApiError(400, exc.code, exc.message)

    def _validate_record(self, zone, body, rid, partial_of):
        if not isinstance(body, dict):
            raise Invalid(9000, "A DNS record must be a JSON object.")
        rec = dict(partial_of or {})
        if partial_of and "data" in body and "content" not in body:
            rec.pop("content", None)
        for key in WRITABLE:
            if key in body:
                rec[key] = body[key]
        # Unknown properties are ignored, as the API does.
        rtype = str(rec.get("type") or "").upper()
        if rtype not in TYPES:
            raise Invalid(9000 if not rtype else 9008, "Invalid or missing DNS record type %r." % (rec.get("type"),))
        rec["type"] = rtype
        if not rec.get("name"):
            raise Invalid(9000, "DNS record name is required.")
        name = self._fqdn(rec["name"], zone["name"])
        labels = name.split(".")
        if len(name) > NAME_MAX or any(not label or len(label) > LABEL_MAX for label in labels):
            raise Invalid(9000, "DNS name is invalid: %s (labels of at most %d characters, at most %d in all)."
                          % (name, LABEL_MAX, NAME_MAX))
        rec["name"] = name
        if rtype in DATA_FIELDS:
            rec["data"] = self._check_data(rtype, rec.get("data"))
            if rtype == "SRV":
                rec["priority"] = rec["data"]["priority"]
            rec["content"] = self._format_data(rtype, rec["data"])
        else:
            rec.pop("data", None)
            rec["content"] = self._check_content(rtype, rec.get("content"))
        ttl = rec.get("ttl", 1)
        if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or ttl != int(ttl) \
                or (ttl != 1 and not 60 <= ttl <= 86400):
            raise Invalid(9021, "Invalid TTL. Must be between 60 and 86400 seconds, or 1 for Automatic.")
        rec["ttl"] = int(ttl)
        if rec.get("proxied") and rtype not in PROXIABLE:
            raise Invalid(9004, "This record type cannot be proxied.")
        if rtype in PRIORITY_TYPES:
            prio = rec.get("priority")
            if isinstance(prio, bool) or not isinstance(prio, (int, float)) or prio != int(prio) \
                    or not 0 <= prio <= 65535:
                raise Invalid(9005, "%s records require a priority between 0 and 65535." % rtype)
            rec["priority"] = int(prio)
        limits = PLANS[self.plan]
        comment = rec.get("comment")
        if comment is not None and not isinstance(comment, str):
            raise Invalid(9005, "comment must be a string")
        if comment and len(comment) > limits["comment"]:
            raise Invalid(9011, "DNS record comment is %d characters long, exceeding the limit of %d."
                          % (len(comment), limits["comment"]))
        tags = rec.get("tags") or []
        if len(tags) > limits["tags"]:
            raise Invalid(9300, "DNS record has %d tags, exceeding the quota of %d." % (len(tags), limits["tags"]))
        rdata = (sum(1 + len(s) for s in _txt_strings(rec["content"])) if rtype == "TXT"
                 else len(rec["content"].encode("utf-8")))
        wire = _wire_name_length(name) + 10 + rdata
        if wire > RECORD_WIRE_MAX:
            raise Invalid(9100, "DNS record is %d bytes in wire format, exceeding the limit of %d bytes."
                          % (wire, RECORD_WIRE_MAX))
        same = [o for o in zone["records"].values() if o["id"] != rid and o["name"] == name]
        total = len(rec["content"]) + sum(len(o["content"]) for o in same if o["type"] == rtype)
        if total > RRSET_CONTENT_MAX:
            raise Invalid(9102, "Records with the same name and type have %d characters of content, exceeding "
                                "%d." % (total, RRSET_CONTENT_MAX))
        for other in same:
            if other["type"] == rtype and other["content"] == rec["content"] \
                    and other.get("priority") == rec.get("priority") and rtype != "CNAME":
                raise ApiError(400, 81058, "An identical record already exists.")
            if rtype == "CNAME" or other["type"] == "CNAME":
                raise ApiError(400, 81053, "An A, AAAA, or CNAME record with that host already exists. "
                                           "For more details, refer to <https://developers.cloudflare.com/"
                                           "dns/manage-dns-records/troubleshooting/records-with-same-name/>.")
            if name != zone["name"] and "DS" not in (rtype, other["type"]) \
                    and (rtype == "NS") != (other["type"] == "NS"):
                raise ApiError(400, 81056, "NS records cannot exist on the same name as any other record type.")
        return rec

    # ------------------------------------------------------------ routing
    def handle(self, method, raw_path, headers, body_bytes):
        """Return (status, payload, extra headers, delay seconds) for one request."""
        parts = urlsplit(raw_path)
        path = parts.path.rstrip("/") or "/"
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if path.startswith("/__admin"):
            status, payload, extra = self._admin(method, path[len("/__admin"):], query, body_bytes)
            return status, payload, extra, 0
        if path.startswith("/client/v4"):
            path = path[len("/client/v4"):] or "/"
        route = self._route_name(method, path)
        with self.lock:
            self.requests += 1
            self.by_route[route] = self.by_route.get(route, 0) + 1
            auth_headers = sorted(k for k in headers.keys() if k.lower().startswith("x-auth"))
            self.log.append(" ".join([method, raw_path] + auth_headers))
            if len(self.log) > 5000:
                del self.log[:1000]
            fault = self._take_fault(method, path)
        try:
            if fault is not None and not fault["after_commit"]:
                self._raise_fault(fault["status"])
            self._authenticate(headers, path)
            try:
                body = json.loads(body_bytes.decode("utf-8")) if body_bytes else None
            except ValueError:
                raise ApiError(400, 6007, "Malformed JSON in request body")
            with self.lock:
                status, payload = self._api(method, path, query, body)
                if method != "GET":
                    self._save()
            if fault is not None:  # after_commit: the change stands, the answer is lost
                if fault["timeout"]:
                    return status, payload, {}, fault["timeout"]
                self._raise_fault(fault["status"] or 502)
            return status, payload, {}, 0
        except ApiError as exc:
            return exc.status, {"success": False, "errors": exc.errors, "messages": [], "result": None}, \
                exc.headers, 0

    def _authenticate(self, headers, path):
        if headers.get("X-Auth-Key") is not None or headers.get("X-Auth-Email") is not None:
            chain = []
            if not re.fullmatch(r"[0-9a-f]{37}", headers.get("X-Auth-Key") or ""):
                chain.append((6103, "Invalid format for X-Auth-Key header"))
            if "@" not in (headers.get("X-Auth-Email") or ""):
                chain.append((6102, "Invalid format for X-Auth-Email header"))
            if chain:
                raise ApiError(400, 6003, "Invalid request headers", chain=chain)
            raise ApiError(403, 9103, "Unknown X-Auth-Key or X-Auth-Email")
        auth = headers.get("Authorization")
        if auth is None:
            raise ApiError(400, 9106, "Missing X-Auth-Key, X-Auth-Email or Authorization headers")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
        if token is None or not any(f.match(token) for f in TOKEN_FORMATS):
            raise ApiError(400, 6003, "Invalid request headers",
                           chain=[(6111, "Invalid format for Authorization header")])
        if token != self.token:
            if "/dns_records" in path:
                raise ApiError(401, 10000, "Authentication error")
            raise ApiError(403, 9109, "Invalid access token")

    @staticmethod
    def _route_name(method, path):
        path = re.sub(r"/[0-9a-f]{32}", "/{id}", path)
        return "%s %s" % (method, path)

    def _take_fault(self, method, path):
        for fault in self.faults:
            if fault["times"] <= 0:
                continue
            if fault["method"] and fault["method"] != method:
                continue
            if fault["path"] and fault["path"] not in path:
                continue
            fault["times"] -= 1
            return fault
        return None

    @staticmethod
    def _raise_fault(status):
        if status == 401:
            raise ApiError(401, 10000, "Authentication error")
        if status == 403:
            raise ApiError(403, 10000, "Authentication error")
        if status == 429:
            raise ApiError(429, 971, "Please wait and consider throttling your request speed",
                           headers={"Retry-After": "1"})
        if status >= 500:
            raise ApiError(status, 10002, "An unknown error has occurred")
        raise ApiError(status, 10001, "Injected fault")

    @staticmethod
    def _int(query, key, default, maximum):
        try:
            value = int(float(query.get(key, default)))
        except ValueError:
            raise ApiError(400, 1001, "Invalid %s" % key)
        if value < 1:
            raise ApiError(400, 1001, "Invalid %s: must be at least 1" % key)
        return min(value, maximum)

    def _page(self, items, query, default_per_page, max_per_page):
        page = self._int(query, "page", 1, 10 ** 9)
        per_page = self._int(query, "per_page", default_per_page, max_per_page)
        total = len(items)
        start = (page - 1) * per_page
        chunk = items[start:start + per_page]
        total_pages = (total + per_page - 1) // per_page if total else 0
        info = {"page": page, "per_page": per_page, "count": len(chunk), "total_count": total,
                "total_pages": total_pages}
        return {"success": True, "errors": [], "messages": [], "result": chunk, "result_info": info}

    @staticmethod
    def _ok(result):
        return {"success": True, "errors": [], "messages": [], "result": result}

    def _zone(self, zone_id):
        zone = self.zones.get(zone_id)
        if zone is None:
            raise ApiError(404, 7003, "Could not route to /zones/%s, perhaps your object identifier is invalid?"
                           % zone_id)
        if zone["name"] in self.deny_zones:
            raise ApiError(403, 10000, "Authentication error")
        return zone

    @staticmethod
    def _zone_public(zone):
        return {k: v for k, v in zone.items() if k != "records"}

    def _api(self, method, path, query, body):
        segs = [s for s in path.split("/") if s]
        if segs == ["zones"] and method == "GET":
            zones = sorted(self.zones.values(), key=lambda z: z["name"])
            if "name" in query:
                zones = [z for z in zones if z["name"] == query["name"].lower()]
            return 200, self._page([self._zone_public(z) for z in zones], query, ZONE_PER_PAGE_DEFAULT,
                                   ZONE_PER_PAGE_MAX)
        if len(segs) == 2 and segs[0] == "zones" and method == "GET":
            return 200, self._ok(self._zone_public(self._zone(segs[1])))
        if len(segs) >= 3 and segs[0] == "zones" and segs[2] == "dns_records":
            zone = self._zone(segs[1])
            if len(segs) == 3:
                if method == "GET":
                    return 200, self._list(zone, query)
                if method == "POST":
                    rec = self._validate(zone, body)
                    return 200, self._ok(self._public(self._store(zone, rec)))
            if len(segs) == 4 and segs[3] == "batch" and method == "POST":
                return 200, self._ok(self._batch(zone, body))
            if len(segs) == 4:
                rid = segs[3]
                rec = zone["records"].get(rid)
                if rec is None:
                    raise ApiError(404, 81044, "Record does not exist.")
                if method == "GET":
                    return 200, self._ok(self._public(rec))
                if method == "DELETE":
                    del zone["records"][rid]
                    return 200, self._ok({"id": rid})
                if method == "PUT":
                    new = self._validate(zone, body, rid=rid)
                    return 200, self._ok(self._public(self._store(zone, new, rid)))
                if method == "PATCH":
                    new = self._validate(zone, body, rid=rid, partial_of=rec)
                    return 200, self._ok(self._public(self._store(zone, new, rid)))
        raise ApiError(404 if method == "GET" else 405, 7000, "No route for that URI")

    def _list(self, zone, query):
        items = sorted(zone["records"].values(), key=lambda r: (r["type"], r["name"], r["content"], r["id"]))
        if "name" in query:
            items = [r for r in items if r["name"] == ascii_name(query["name"])]
        if "type" in query:
            items = [r for r in items if r["type"] == query["type"].upper()]
        if "content" in query:
            items = [r for r in items if r["content"] == query["content"]]
        return self._page([self._public(r) for r in items], query, RECORDS_PER_PAGE_DEFAULT, RECORDS_PER_PAGE_MAX)

    def _batch(self, zone, body):
        """Apply deletes, patches, puts, posts in one transaction: the first
        failing operation's error is returned and nothing is applied."""
        if not isinstance(body, dict):
            raise ApiError(400, 1004, "DNS Validation Error", chain=[(9000, "The batch body must be an object.")])
        lists = {}
        for kind in ("deletes", "patches", "puts", "posts"):
            value = body.get(kind) or []
            if not isinstance(value, list):
                raise ApiError(400, 1004, "DNS Validation Error", chain=[(9000, "%s must be a list." % kind)])
            lists[kind] = value
        ops = sum(len(v) for v in lists.values())
        limit = PLANS[self.plan]["batch"]
        if ops > limit:
            raise ApiError(400, 81059, "The batch holds %d operations; the limit on this plan is %d." % (ops, limit))
        work = copy.deepcopy(zone)
        result = {"deletes": [], "patches": [], "puts": [], "posts": []}
        for item in lists["deletes"]:
            rid = item.get("id") if isinstance(item, dict) else None
            if rid not in work["records"]:
                raise ApiError(404, 81044, "Record does not exist.")
            result["deletes"].append(self._public(work["records"].pop(rid)))
        for kind, partial in (("patches", True), ("puts", False)):
            for item in lists[kind]:
                rid = item.get("id") if isinstance(item, dict) else None
                old = work["records"].get(rid)
                if old is None:
                    raise ApiError(404, 81044, "Record does not exist.")
                new = self._validate(work, item, rid=rid, partial_of=old if partial else None)
                result[kind].append(self._public(self._store(work, new, rid)))
        for item in lists["posts"]:
            new = self._validate(work, item)
            result["posts"].append(self._public(self._store(work, new)))
        zone["records"] = work["records"]
        return result

    # -------------------------------------------------------------- admin
    def _admin(self, method, path, query, body_bytes):
        try:
            body = json.loads(body_bytes.decode("utf-8")) if body_bytes else {}
        except ValueError:
            return 400, {"error": "bad json"}, {}
        segs = [s for s in path.split("/") if s]
        with self.lock:
            try:
                if segs == ["stats"] and method == "GET":
                    return 200, self.stats(), {}
                if segs == ["reset"] and method == "POST":
                    self.reset_stats()
                    if body.get("faults", True):
                        self.faults = []
                    return 200, {"ok": True}, {}
                if segs == ["faults"] and method == "POST":
                    self.add_fault(body.get("status"), body.get("times", 1), body.get("method"), body.get("path"),
                                   body.get("after_commit", False), body.get("timeout"))
                    return 200, {"ok": True}, {}
                if segs == ["settings"] and method == "POST":
                    self.settings(**body)
                    return 200, {"ok": True}, {}
                if segs == ["zones"] and method == "POST":
                    zone = self.add_zone(body["name"])
                    return 200, self._zone_public(zone), {}
                if segs == ["zones"] and method == "GET":
                    return 200, [self._zone_public(z) for z in self.zones.values()], {}
                if len(segs) >= 3 and segs[0] == "zones" and segs[2] == "records":
                    zone = self.zone_by_name(segs[1])
                    if len(segs) == 3 and method == "GET":
                        return 200, self.records(segs[1]), {}
                    if len(segs) == 3 and method in ("POST", "PUT"):
                        return 200, self.seed_records(segs[1], body, replace=(method == "PUT")), {}
                    if len(segs) == 4 and method == "PATCH":
                        rec = zone["records"][segs[3]]
                        rec.update({k: v for k, v in body.items() if k in WRITABLE})
                        rec["modified_on"] = _now()
                        self._save()
                        return 200, self._public(rec), {}
                    if len(segs) == 4 and method == "DELETE":
                        del zone["records"][segs[3]]
                        self._save()
                        return 200, {"ok": True}, {}
            except (KeyError, ValueError) as exc:
                return 404, {"error": "not found or invalid: %s" % exc}, {}
        return 404, {"error": "no admin route %s %s" % (method, path)}, {}

    # --------------------------------------------------------------- http
    def start(self, host="127.0.0.1", port=0):
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError("the fake Cloudflare API binds to loopback only")
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "fake-cloudflare/2.0"

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, payload, extra, delay = api.handle(self.command, self.path, self.headers, body)
                if delay:
                    time.sleep(delay)
                data = json.dumps(payload).encode("utf-8")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in extra.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, fmt, *args):  # noqa: D401 - quiet by default
                if os.environ.get("FAKE_CLOUDFLARE_VERBOSE"):
                    sys.stderr.write("fake-cloudflare: " + (fmt % args) + "\n")

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="fake-cloudflare", daemon=True)
        self.thread.start()
        return self

    @property
    def port(self):
        return self.httpd.server_address[1]

    @property
    def base_url(self):
        return "http://127.0.0.1:%d/client/v4" % self.port

    @property
    def admin_url(self):
        return "http://127.0.0.1:%d/__admin" % self.port

    def stop(self):
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None


def main(argv=None):
    parser = argparse.ArgumentParser(description="Local stand-in for the Cloudflare v4 DNS API")
    parser.add_argument("--host", default="127.0.0.1", choices=["127.0.0.1", "::1", "localhost"])
    parser.add_argument("--port", type=int, default=8788)
    parser.add_argument("--token", default=os.environ.get("FAKE_CLOUDFLARE_TOKEN"),
                        help="the one valid API token (40 characters of A-Z a-z 0-9 _ -, or cfut_/cfat_...)")
    parser.add_argument("--zone", action="append", default=[], help="zone to create (repeatable)")
    parser.add_argument("--state-file", help="JSON file the state is loaded from and saved to")
    args = parser.parse_args(argv)
    if not args.token or not any(f.match(args.token) for f in TOKEN_FORMATS):
        parser.error("--token (or FAKE_CLOUDFLARE_TOKEN) must look like a Cloudflare API token: 40 characters "
                     "of A-Z a-z 0-9 _ - (or cfut_/cfat_ followed by 40-60 of them); the real API answers any "
                     "other Bearer value with 6003/6111, so a malformed token here could never work there")
    api = FakeCloudflare(token=args.token, zones=args.zone, state_file=args.state_file)
    api.start(args.host, args.port)
    sys.stderr.write("fake Cloudflare API on %s (zones: %s)\n"
                     % (api.base_url, ", ".join(sorted(z["name"] for z in api.zones.values())) or "none"))
    try:
        api.thread.join()
    except KeyboardInterrupt:
        pass
    finally:
        api.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
