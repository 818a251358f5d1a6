"""The local Cloudflare API answers in the documented shapes."""

import json
import os
import urllib.error
import urllib.request

import pytest

from cfunit_support import ROOT, TOKEN

SPEC = os.path.join(ROOT, "tests", "data", "cloudflare-dns-openapi-subset.json")


def call(api, method, path, body=None, token=TOKEN):
    req = urllib.request.Request(api.base_url + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


def zone_id(api):
    return call(api, "GET", "/zones?name=example.com")[1]["result"][0]["id"]


def test_envelope_and_empty_page_past_the_end(fake_api):
    zid = zone_id(fake_api)
    for i in range(3):
        assert call(fake_api, "POST", "/zones/%s/dns_records" % zid,
                    {"name": "h%d" % i, "type": "A", "content": "192.0.2.%d" % i, "ttl": 1})[0] == 200
    status, page = call(fake_api, "GET", "/zones/%s/dns_records?per_page=2&page=2" % zid)
    assert status == 200 and page["success"] and len(page["result"]) == 1
    assert page["result_info"] == {"page": 2, "per_page": 2, "count": 1, "total_count": 3, "total_pages": 2}
    status, page = call(fake_api, "GET", "/zones/%s/dns_records?per_page=2&page=3" % zid)
    assert page["result"] == [] and page["result_info"]["count"] == 0
    status, page = call(fake_api, "GET", "/zones/%s/dns_records?name=h1.example.com&type=A" % zid)
    assert [r["content"] for r in page["result"]] == ["192.0.2.1"]


def test_bad_token_is_401_code_10000(fake_api):
    status, body = call(fake_api, "GET", "/zones", token="nope")
    assert status == 401
    assert body == {"success": False, "errors": [{"code": 10000, "message": "Authentication error"}],
                    "messages": [], "result": None}


def test_batch_is_all_or_nothing(fake_api):
    zid = zone_id(fake_api)
    status, body = call(fake_api, "POST", "/zones/%s/dns_records/batch" % zid, {
        "posts": [{"name": "ok", "type": "A", "content": "192.0.2.1", "ttl": 1},
                  {"name": "bad", "type": "MX", "content": "mx.example.net", "ttl": 1}]})
    assert status == 400 and "nothing applied" in body["errors"][0]["message"]
    assert fake_api.records("example.com") == []
    status, body = call(fake_api, "POST", "/zones/%s/dns_records/batch" % zid, {
        "posts": [{"name": "ok", "type": "A", "content": "192.0.2.1", "ttl": 1}]})
    rid = body["result"]["posts"][0]["id"]
    status, body = call(fake_api, "POST", "/zones/%s/dns_records/batch" % zid, {
        "deletes": [{"id": rid}],
        "posts": [{"name": "ok", "type": "A", "content": "192.0.2.1", "ttl": 1}]})
    assert status == 200 and body["result"]["deletes"][0]["id"] == rid


def test_identical_record_rejected(fake_api):
    zid = zone_id(fake_api)
    rec = {"name": "x", "type": "TXT", "content": "hello", "ttl": 1}
    assert call(fake_api, "POST", "/zones/%s/dns_records" % zid, rec)[0] == 200
    status, body = call(fake_api, "POST", "/zones/%s/dns_records" % zid, rec)
    assert status == 400 and body["errors"][0]["code"] == 81058


def test_record_and_zone_shapes_follow_the_openapi_subset(fake_api):
    spec = json.load(open(SPEC))
    schemas = spec["components"]["schemas"]

    def props(name):
        out = set()
        schema = schemas[name]
        for part in schema.get("allOf", [schema]):
            if "$ref" in part:
                out |= props(part["$ref"].split("/")[-1])
            out |= set(part.get("properties", {}))
        return out

    zid = zone_id(fake_api)
    call(fake_api, "POST", "/zones/%s/dns_records" % zid,
         {"name": "@", "type": "MX", "content": "mx.example.net", "ttl": 300, "priority": 5})
    record = call(fake_api, "GET", "/zones/%s/dns_records" % zid)[1]["result"][0]
    documented = props("dns-records_MXRecord")
    assert {"id", "name", "type", "content", "ttl", "priority", "proxiable", "comment", "tags",
            "created_on", "modified_on", "meta"} <= set(record)
    assert {"id", "name", "type", "content", "ttl", "priority", "comment", "tags"} <= documented
    zone = call(fake_api, "GET", "/zones?name=example.com")[1]["result"][0]
    assert set(schemas["zones_zone"]["required"]) <= set(zone)
    info = call(fake_api, "GET", "/zones/%s/dns_records" % zid)[1]["result_info"]
    assert set(props("dns-records_result_info")) <= set(info)
