#!/usr/bin/env python3
"""A small, stateful stand-in for the Cloudflare v4 DNS API (loopback only).

It answers the parts of the API the project uses, in the shapes Cloudflare
documents (v4 envelope, ``result_info``, error codes):

* ``GET  /zones?name=&page=&per_page=``
* ``GET  /zones/{zone_id}``
* ``GET  /zones/{zone_id}/dns_records`` (filters ``name``, ``type``,
  ``content``; ``page``/``per_page``; a page past the end has an empty result)
* ``POST /zones/{zone_id}/dns_records``
* ``GET|PUT|PATCH|DELETE /zones/{zone_id}/dns_records/{id}``
* ``POST /zones/{zone_id}/dns_records/batch`` (deletes, patches, puts, posts,
  in that order, all or nothing)

Every API call needs ``Authorization: Bearer <token>`` (401, code 10000,
otherwise). The API is served both at ``/client/v4/...`` and at ``/...``.

Test control (never counted, no token) under ``/__admin``:

* ``GET  /__admin/stats`` -> ``{"requests": N, "by_route": {...}, "log": [...]}``
* ``POST /__admin/reset`` -> zero the counters (records are kept)
* ``POST /__admin/zones`` ``{"name": "example.com"}`` -> creates the zone
* ``GET  /__admin/zones/{name}/records`` -> every record of the zone
* ``POST /__admin/zones/{name}/records`` ``[{record}, ...]`` -> adds records
  as given (no validation: quoted TXT, hand-made comments, ...)
* ``PATCH /__admin/zones/{name}/records/{id}`` / ``DELETE`` -> server-side drift
* ``PUT  /__admin/zones/{name}/records`` ``[...]`` -> replaces all records
* ``POST /__admin/faults`` ``{"status": 429, "times": 2, "method": "GET",
  "path": "dns_records"}`` -> the next N matching API calls fail with it
* ``POST /__admin/settings`` ``{"token": "...", "quote_txt": true,
  "deny_zones": ["example.com"]}`` -> change behaviour (quote_txt returns TXT
  content quoted, as zones imported into Cloudflare often have it;
  deny_zones answers 403 for that zone's records)

Run: ``python3 harness/cloudflare_api/server.py --port 8788 --token T
--zone igny8.com --zone alorig.com [--state-file FILE]``.
Import: ``from server import FakeCloudflare; api = FakeCloudflare(token=...);
api.start(port=0); api.base_url``.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import hashlib
import ipaddress
import json
import os
import re
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PROXIABLE = ("A", "AAAA", "CNAME")
TYPES = ("A", "AAAA", "CAA", "CERT", "CNAME", "DNSKEY", "DS", "HTTPS", "LOC", "MX", "NAPTR", "NS",
         "OPENPGPKEY", "PTR", "SMIMEA", "SRV", "SSHFP", "SVCB", "TLSA", "TXT", "URI")
WRITABLE = ("name", "type", "content", "ttl", "proxied", "priority", "comment", "tags", "data", "settings")
ZONE_PER_PAGE_DEFAULT = 20
RECORDS_PER_PAGE_DEFAULT = 100
RECORDS_PER_PAGE_MAX = 5000000
COMMENT_MAX = 100
BATCH_MAX = 200


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _hex_id(seed=None):
    if seed is not None:
        return hashlib.md5(seed.encode()).hexdigest()
    return uuid.uuid4().hex


class ApiError(Exception):
    def __init__(self, status, code, message, headers=None):
        super().__init__(message)
        self.status = status
        self.errors = [{"code": code, "message": message}]
        self.headers = headers or {}


class FakeCloudflare:
    """State, request handling and an HTTP server around them."""

    def __init__(self, token="test-token", zones=(), state_file=None, account="Alorig"):
        self.lock = threading.RLock()
        self.token = token
        self.account = {"id": _hex_id("account:" + account), "name": account}
        self.zones = {}  # id -> zone dict (with "records": {id: record})
        self.faults = []  # [{"status", "times", "method", "path"}]
        self.quote_txt = False
        self.deny_zones = set()
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
        name = name.rstrip(".").lower()
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
        name = name.rstrip(".").lower()
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

    def add_fault(self, status, times=1, method=None, path=None):
        with self.lock:
            self.faults.append({"status": int(status), "times": int(times),
                                "method": (method or "").upper() or None, "path": path or None})

    # ------------------------------------------------------------ records
    @staticmethod
    def _fqdn(name, zone_name):
        name = (name or "@").strip().rstrip(".").lower()
        if name in ("@", ""):
            return zone_name
        if name == zone_name or name.endswith("." + zone_name):
            return name
        return name + "." + zone_name

    def _store(self, zone, rec, rid=None):
        now = _now()
        rid = rid or _hex_id()
        old = zone["records"].get(rid, {})
        stored = {
            "id": rid,
            "zone_id": zone["id"],
            "zone_name": zone["name"],
            "name": rec["name"],
            "type": rec["type"],
            "content": rec.get("content", ""),
            "proxiable": rec["type"] in PROXIABLE,
            "proxied": bool(rec.get("proxied", False)) if rec["type"] in PROXIABLE else False,
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
        if rec["type"] in ("MX", "URI") or rec.get("priority") is not None:
            stored["priority"] = rec.get("priority")
        if rec.get("data") is not None:
            stored["data"] = rec["data"]
        if stored["comment"] != old.get("comment") and stored["comment"]:
            stored["comment_modified_on"] = now
        elif old.get("comment_modified_on") and stored["comment"]:
            stored["comment_modified_on"] = old["comment_modified_on"]
        zone["records"][rid] = stored
        return stored

    def _public(self, rec):
        out = copy.deepcopy(rec)
        if out["type"] == "TXT" and self.quote_txt and not out["content"].startswith('"'):
            out["content"] = '"%s"' % out["content"].replace('"', '\\"')
        return out

    def _validate(self, zone, body, rid=None, partial_of=None):
        """Return the record (a dict) to store, or raise ApiError like the API."""
        rec = dict(partial_of or {})
        for key in WRITABLE:
            if key in body:
                rec[key] = body[key]
        unknown = [k for k in body if k not in WRITABLE and k not in ("id", "zone_id", "zone_name")]
        if unknown:
            pass  # The real API ignores unknown properties.
        rtype = str(rec.get("type") or "").upper()
        if rtype not in TYPES:
            raise ApiError(400, 9000 if not rtype else 1004, "DNS Validation Error: invalid type %r" % rtype)
        rec["type"] = rtype
        if not rec.get("name"):
            raise ApiError(400, 9005, "Content for name is required")
        name = self._fqdn(rec["name"], zone["name"])
        if not (name == zone["name"] or name.endswith("." + zone["name"])):
            raise ApiError(400, 9007, "Record name %s is outside zone %s" % (name, zone["name"]))
        rec["name"] = name
        content = rec.get("content")
        if rtype in ("A", "AAAA", "CNAME", "MX", "TXT", "NS", "PTR") and not content:
            raise ApiError(400, 9005, "Content for %s record is invalid. Must not be empty." % rtype)
        if rtype == "A":
            try:
                ipaddress.IPv4Address(content)
            except ValueError:
                raise ApiError(400, 9005, "Content for A record is invalid. Must be a valid IPv4 address")
        if rtype == "AAAA":
            try:
                ipaddress.IPv6Address(content)
            except ValueError:
                raise ApiError(400, 9005, "Content for AAAA record is invalid. Must be a valid IPv6 address")
        ttl = rec.get("ttl", 1)
        if not isinstance(ttl, int) or isinstance(ttl, bool) or (ttl != 1 and not 60 <= ttl <= 86400):
            raise ApiError(400, 9021, "Invalid TTL. Must be between 60 and 86400 seconds, or 1 for Automatic.")
        rec["ttl"] = ttl
        if rec.get("proxied") and rtype not in PROXIABLE:
            raise ApiError(400, 9004, "This record type cannot be proxied.")
        if rtype == "MX":
            prio = rec.get("priority")
            if not isinstance(prio, int) or isinstance(prio, bool) or not 0 <= prio <= 65535:
                raise ApiError(400, 9005, "MX records require a priority between 0 and 65535.")
        comment = rec.get("comment")
        if comment is not None and not isinstance(comment, str):
            raise ApiError(400, 9005, "comment must be a string")
        if comment and len(comment) > COMMENT_MAX:
            raise ApiError(400, 9011, "DNS record comment too long (maximum %d characters on this plan)."
                           % COMMENT_MAX)
        if rec.get("tags"):
            raise ApiError(400, 9300, "DNS record tags are not available on the Free plan.")
        for other in zone["records"].values():
            if other["id"] == rid:
                continue
            if other["name"] != name:
                continue
            if other["type"] == rtype and other["content"] == rec.get("content") \
                    and other.get("priority") == rec.get("priority") and rtype != "CNAME":
                raise ApiError(400, 81058, "An identical record already exists.")
            if rtype == "CNAME" or other["type"] == "CNAME":
                raise ApiError(400, 81053, "An A, AAAA, or CNAME record with that host already exists. "
                                           "For more details, refer to <https://developers.cloudflare.com/"
                                           "dns/manage-dns-records/troubleshooting/records-with-same-name/>.")
        return rec

    # ------------------------------------------------------------ routing
    def handle(self, method, raw_path, headers, body_bytes):
        """Return (status, payload, extra headers) for one HTTP request."""
        parts = urlsplit(raw_path)
        path = parts.path.rstrip("/") or "/"
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if path.startswith("/__admin"):
            return self._admin(method, path[len("/__admin"):], query, body_bytes)
        if path.startswith("/client/v4"):
            path = path[len("/client/v4"):] or "/"
        route = self._route_name(method, path)
        with self.lock:
            self.requests += 1
            self.by_route[route] = self.by_route.get(route, 0) + 1
            self.log.append("%s %s" % (method, raw_path))
            if len(self.log) > 5000:
                del self.log[:1000]
            fault = self._take_fault(method, path)
        try:
            if fault is not None:
                self._raise_fault(fault)
            auth = headers.get("Authorization") or ""
            if not auth.startswith("Bearer ") or auth[len("Bearer "):] != self.token:
                raise ApiError(401, 10000, "Authentication error")
            try:
                body = json.loads(body_bytes.decode("utf-8")) if body_bytes else None
            except ValueError:
                raise ApiError(400, 6007, "Malformed JSON in request body")
            with self.lock:
                status, payload = self._api(method, path, query, body)
                if method != "GET":
                    self._save()
            return status, payload, {}
        except ApiError as exc:
            return exc.status, {"success": False, "errors": exc.errors, "messages": [], "result": None}, exc.headers

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
            return fault["status"]
        return None

    @staticmethod
    def _raise_fault(status):
        if status == 401:
            raise ApiError(401, 10000, "Authentication error")
        if status == 403:
            raise ApiError(403, 10000, "Authentication error")
        if status == 429:
            raise ApiError(429, 10429, "Rate limited. Please wait and consider throttling your request speed",
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
            return 200, self._page([self._zone_public(z) for z in zones], query, ZONE_PER_PAGE_DEFAULT, 50)
        if len(segs) == 2 and segs[0] == "zones" and method == "GET":
            return 200, self._ok(self._zone_public(self._zone(segs[1])))
        if len(segs) >= 3 and segs[0] == "zones" and segs[2] == "dns_records":
            zone = self._zone(segs[1])
            if len(segs) == 3:
                if method == "GET":
                    return 200, self._list(zone, query)
                if method == "POST":
                    rec = self._validate(zone, body or {})
                    return 200, self._ok(self._public(self._store(zone, rec)))
            if len(segs) == 4 and segs[3] == "batch" and method == "POST":
                return 200, self._ok(self._batch(zone, body or {}))
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
                    new = self._validate(zone, body or {}, rid=rid)
                    return 200, self._ok(self._public(self._store(zone, new, rid)))
                if method == "PATCH":
                    new = self._validate(zone, body or {}, rid=rid, partial_of=rec)
                    return 200, self._ok(self._public(self._store(zone, new, rid)))
        raise ApiError(404 if method == "GET" else 405, 7000, "No route for that URI")

    def _list(self, zone, query):
        items = sorted(zone["records"].values(), key=lambda r: (r["type"], r["name"], r["content"], r["id"]))
        if "name" in query:
            items = [r for r in items if r["name"] == query["name"].rstrip(".").lower()]
        if "type" in query:
            items = [r for r in items if r["type"] == query["type"].upper()]
        if "content" in query:
            items = [r for r in items if r["content"] == query["content"]]
        return self._page([self._public(r) for r in items], query, RECORDS_PER_PAGE_DEFAULT, RECORDS_PER_PAGE_MAX)

    def _batch(self, zone, body):
        """Apply deletes, patches, puts, posts in one transaction."""
        ops = sum(len(body.get(k) or []) for k in ("deletes", "patches", "puts", "posts"))
        if ops > BATCH_MAX:
            raise ApiError(400, 81059, "Batch size exceeds the limit of %d operations on this plan." % BATCH_MAX)
        work = copy.deepcopy(zone)
        result = {"deletes": [], "patches": [], "puts": [], "posts": []}
        try:
            for item in body.get("deletes") or []:
                rid = item.get("id")
                if rid not in work["records"]:
                    raise ApiError(404, 81044, "Record does not exist. (delete %s)" % rid)
                result["deletes"].append(self._public(work["records"].pop(rid)))
            for kind, partial in (("patches", True), ("puts", False)):
                for item in body.get(kind) or []:
                    rid = item.get("id")
                    old = work["records"].get(rid)
                    if old is None:
                        raise ApiError(404, 81044, "Record does not exist. (%s %s)" % (kind[:-2], rid))
                    new = self._validate(work, item, rid=rid, partial_of=old if partial else None)
                    result[kind].append(self._public(self._store(work, new, rid)))
            for item in body.get("posts") or []:
                new = self._validate(work, item)
                result["posts"].append(self._public(self._store(work, new)))
        except ApiError as exc:
            exc.errors[0]["message"] = "Batch rejected, nothing applied: " + exc.errors[0]["message"]
            raise
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
                    self.add_fault(body["status"], body.get("times", 1), body.get("method"), body.get("path"))
                    return 200, {"ok": True}, {}
                if segs == ["settings"] and method == "POST":
                    if "token" in body:
                        self.token = body["token"]
                    if "quote_txt" in body:
                        self.quote_txt = bool(body["quote_txt"])
                    if "deny_zones" in body:
                        self.deny_zones = set(body["deny_zones"] or [])
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
            except KeyError as exc:
                return 404, {"error": "not found: %s" % exc}, {}
        return 404, {"error": "no admin route %s %s" % (method, path)}, {}

    # --------------------------------------------------------------- http
    def start(self, host="127.0.0.1", port=0):
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError("the fake Cloudflare API binds to loopback only")
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "fake-cloudflare/1.0"

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, payload, extra = api.handle(self.command, self.path, self.headers, body)
                data = json.dumps(payload).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in extra.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

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
    parser.add_argument("--token", default=os.environ.get("FAKE_CLOUDFLARE_TOKEN", "local-dev-token"))
    parser.add_argument("--zone", action="append", default=[], help="zone to create (repeatable)")
    parser.add_argument("--state-file", help="JSON file the state is loaded from and saved to")
    args = parser.parse_args(argv)
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
