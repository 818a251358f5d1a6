"""The local Cloudflare API answers in the documented shapes and enforces the documented rules.

Raw HTTP (urllib) on purpose: these tests see exactly what a client receives.
The same requests made through the SDK's typed parameters are in
test_sdk_contract.py.
"""

import json
import os
import time
import urllib.error
import urllib.request
from urllib.parse import quote

import pytest

from cfunit_support import ROOT, TOKEN

SPEC = os.path.join(ROOT, "tests", "data", "cloudflare-dns-openapi-subset.json")


def call(api, method, path, body=None, token=TOKEN, headers=None, timeout=10):
    all_headers = {"Content-Type": "application/json"}
    if token is not None:
        all_headers["Authorization"] = "Bearer " + token
    all_headers.update(headers or {})
    req = urllib.request.Request(api.base_url + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None, headers=all_headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


def zone_id(api, name="example.com"):
    return call(api, "GET", "/zones?name=" + name)[1]["result"][0]["id"]


def post(api, record):
    return call(api, "POST", "/zones/%s/dns_records" % zone_id(api), record)


def batch(api, body):
    return call(api, "POST", "/zones/%s/dns_records/batch" % zone_id(api), body)


def chain(body):
    """(code, [(code, message) of the chain]) of the first error."""
    err = body["errors"][0]
    return err["code"], [(c["code"], c["message"]) for c in err.get("error_chain", [])]


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


# ------------------------------------------------------------------ tokens
@pytest.mark.parametrize("token", ["nope", "x" * 39, "x" * 41, "with space" + "x" * 30, '"' + "x" * 40 + '"',
                                   "0123456789abcdef0123456789abcdef01234"])  # the last: a Global API Key
def test_malformed_token_is_6003_with_6111_in_its_chain(fake_api, token):
    status, body = call(fake_api, "GET", "/zones", token=token)
    assert status == 400
    assert body == {"success": False, "messages": [], "result": None, "errors": [
        {"code": 6003, "message": "Invalid request headers",
         "error_chain": [{"code": 6111, "message": "Invalid format for Authorization header"}]}]}


def test_well_formed_unknown_token_and_missing_permission_read_differently(fake_api):
    other = "A" * 40
    status, body = call(fake_api, "GET", "/zones", token=other)
    assert (status, body["errors"]) == (403, [{"code": 9109, "message": "Invalid access token"}])
    zid = zone_id(fake_api)
    status, body = call(fake_api, "GET", "/zones/%s/dns_records" % zid, token=other)
    assert (status, body["errors"]) == (401, [{"code": 10000, "message": "Authentication error"}])
    fake_api.settings(deny_zones=["example.com"])  # a valid token without DNS permission on the zone
    status, body = call(fake_api, "GET", "/zones/%s/dns_records" % zid)
    assert (status, body["errors"]) == (403, [{"code": 10000, "message": "Authentication error"}])
    # the newer token formats are well-formed too
    status, body = call(fake_api, "GET", "/zones", token="cfut_" + "b" * 48)
    assert (status, body["errors"][0]["code"]) == (403, 9109)


def test_missing_header_and_global_key_headers(fake_api):
    status, body = call(fake_api, "GET", "/zones", token=None)
    assert (status, body["errors"][0]["code"]) == (400, 9106)
    status, body = call(fake_api, "GET", "/zones", headers={"X-Auth-Key": "k", "X-Auth-Email": "nobody"})
    assert status == 400 and chain(body) == (6003, [(6103, "Invalid format for X-Auth-Key header"),
                                                    (6102, "Invalid format for X-Auth-Email header")])


# ------------------------------------------------------------- record types
def test_srv_and_caa_need_data_content_alone_is_refused_with_a_chain(fake_api):
    for record in ({"name": "_sip._tcp", "type": "SRV", "content": "10 5 5060 sip.example.com", "ttl": 1},
                   {"name": "@", "type": "CAA", "content": '0 issue "letsencrypt.org"', "ttl": 1}):
        status, body = post(fake_api, record)
        code, reasons = chain(body)
        assert (status, code) == (400, 1004) and body["errors"][0]["message"] == "DNS Validation Error"
        assert reasons[0][0] == 9101 and "'data' is required" in reasons[0][1]
    assert fake_api.records("example.com") == []


@pytest.mark.parametrize("rtype,data,content", [
    ("SRV", {"priority": 10, "weight": 5, "port": 5060, "target": "sip.example.com"}, "5 5060 sip.example.com"),
    ("CAA", {"flags": 0, "tag": "issue", "value": "letsencrypt.org"}, '0 issue "letsencrypt.org"'),
    ("HTTPS", {"priority": 1, "target": ".", "value": 'alpn="h3,h2"'}, '1 . alpn="h3,h2"'),
    ("TLSA", {"usage": 3, "selector": 1, "matching_type": 1, "certificate": "ABCDEF01"}, "3 1 1 abcdef01"),
    ("DS", {"key_tag": 2371, "algorithm": 13, "digest_type": 2, "digest": "1F987CC6"}, "2371 13 2 1f987cc6"),
])
def test_data_types_are_stored_with_data_and_a_derived_content(fake_api, rtype, data, content):
    status, body = post(fake_api, {"name": "x", "type": rtype, "data": data, "ttl": 3600})
    assert status == 200, body
    assert body["result"]["content"] == content
    assert body["result"]["data"]["target" if "target" in data else list(data)[0]] is not None
    if rtype == "SRV":
        assert body["result"]["priority"] == 10


@pytest.mark.parametrize("rtype,data,reason", [
    ("SRV", {"priority": 10, "weight": 5, "target": "sip.example.com"}, "data.port of the SRV record is required"),
    ("SRV", {"priority": 10, "weight": 5, "port": 70000, "target": "x.example.com"}, "between 0 and 65535"),
    ("CAA", {"flags": 0, "tag": "issues", "value": "x"}, "Tag must be one of"),
    ("TLSA", {"usage": 3, "selector": 1, "matching_type": 1, "certificate": "xyz"}, "hexadecimal"),
    ("DS", {"key_tag": 1, "algorithm": 256, "digest_type": 2, "digest": "aa"}, "between 0 and 255"),
])
def test_data_is_checked_per_type(fake_api, rtype, data, reason):
    status, body = post(fake_api, {"name": "x", "type": rtype, "data": data, "ttl": 3600})
    code, reasons = chain(body)
    assert (status, code) == (400, 1004) and reason in reasons[0][1]


def test_error_chain_can_be_switched_off_like_the_api_after_its_deprecation(fake_api):
    fake_api.settings(error_chain=False)
    status, body = post(fake_api, {"name": "x", "type": "A", "content": "300.1.1.1", "ttl": 1})
    assert (status, body["errors"]) == (400, [{"code": 9005,
                                               "message": "Content for A record must be a valid IPv4 address."}])


def test_names_are_returned_in_punycode(fake_api):
    status, body = post(fake_api, {"name": "bücher", "type": "A", "content": "192.0.2.1", "ttl": 1})
    assert status == 200 and body["result"]["name"] == "xn--bcher-kva.example.com"
    status, body = post(fake_api, {"name": "www", "type": "CNAME", "content": "Bücher.example.com", "ttl": 1})
    assert body["result"]["content"] == "xn--bcher-kva.example.com"
    zid = zone_id(fake_api)
    page = call(fake_api, "GET", "/zones/%s/dns_records?name=%s" % (zid, quote("bücher.example.com")))[1]
    assert [r["name"] for r in page["result"]] == ["xn--bcher-kva.example.com"]


def test_idn_zone_is_listed_in_punycode(fake_api):
    fake_api.add_zone("bücher.example")
    status, body = call(fake_api, "GET", "/zones?name=xn--bcher-kva.example")
    assert [z["name"] for z in body["result"]] == ["xn--bcher-kva.example"]


def test_a_name_outside_the_zone_is_created_inside_it_as_the_api_does(fake_api):
    # The API reads every name as relative unless it ends with the zone: this
    # is why the module refuses such names before sending them.
    status, body = post(fake_api, {"name": "www.other.org.", "type": "A", "content": "192.0.2.1", "ttl": 1})
    assert status == 200 and body["result"]["name"] == "www.other.org.example.com"


def test_name_and_size_limits(fake_api):
    status, body = post(fake_api, {"name": "a" * 64, "type": "A", "content": "192.0.2.1", "ttl": 1})
    assert chain(body)[0] == 1004 and "labels of at most 63" in chain(body)[1][0][1]
    long_name = ".".join(["a" * 60] * 4)  # 243 + ".example.com" = 255 characters
    status, body = post(fake_api, {"name": long_name, "type": "A", "content": "192.0.2.1", "ttl": 1})
    assert status == 400 and "at most 253" in chain(body)[1][0][1]
    # 4070 bytes of text = 16 strings of at most 255 (+16 length bytes), + name and header: 4113 bytes
    status, body = post(fake_api, {"name": "big", "type": "TXT", "content": "x" * 4070, "ttl": 1})
    assert status == 400 and "4113 bytes in wire format, exceeding the limit of 4096" in chain(body)[1][0][1]
    status, body = post(fake_api, {"name": "big", "type": "TXT", "content": "x" * 4000, "ttl": 1})
    assert status == 200


def test_identical_and_cname_and_ns_conflicts(fake_api):
    rec = {"name": "x", "type": "TXT", "content": "hello", "ttl": 1}
    assert post(fake_api, rec)[0] == 200
    status, body = post(fake_api, rec)
    assert status == 400 and body["errors"][0]["code"] == 81058
    status, body = post(fake_api, {"name": "x", "type": "CNAME", "content": "example.net", "ttl": 1})
    assert body["errors"][0]["code"] == 81053
    assert post(fake_api, {"name": "sub", "type": "NS", "content": "ns1.example.net", "ttl": 3600})[0] == 200
    assert post(fake_api, {"name": "sub", "type": "DS", "ttl": 3600, "data": {
        "key_tag": 1, "algorithm": 13, "digest_type": 2, "digest": "ab"}})[0] == 200
    status, body = post(fake_api, {"name": "sub", "type": "TXT", "content": "t", "ttl": 3600})
    assert body["errors"][0]["code"] == 81056


def test_comment_and_tags_limits_follow_the_plan(fake_api):
    status, body = post(fake_api, {"name": "x", "type": "TXT", "content": "a", "ttl": 1, "comment": "c" * 101})
    assert chain(body)[1][0][0] == 9011
    status, body = post(fake_api, {"name": "x", "type": "TXT", "content": "a", "ttl": 1, "tags": ["a:b"]})
    assert chain(body)[1] == [(9300, "DNS record has 1 tags, exceeding the quota of 0.")]
    fake_api.settings(plan="pro")
    assert post(fake_api, {"name": "x", "type": "TXT", "content": "a", "ttl": 1, "comment": "c" * 101})[0] == 200


# ------------------------------------------------------------------- batch
def test_batch_is_all_or_nothing_and_returns_the_first_error(fake_api):
    status, body = batch(fake_api, {
        "posts": [{"name": "ok", "type": "A", "content": "192.0.2.1", "ttl": 1},
                  {"name": "_sip._tcp", "type": "SRV", "content": "10 5 5060 sip.example.com", "ttl": 1},
                  {"name": "bad", "type": "MX", "content": "mx.example.net", "ttl": 1}]})
    assert status == 400 and chain(body)[0] == 1004 and "SRV" in chain(body)[1][0][1]
    assert fake_api.records("example.com") == []
    status, body = batch(fake_api, {"posts": [{"name": "ok", "type": "A", "content": "192.0.2.1", "ttl": 1}]})
    rid = body["result"]["posts"][0]["id"]
    status, body = batch(fake_api, {
        "deletes": [{"id": rid}],
        "posts": [{"name": "ok", "type": "A", "content": "192.0.2.1", "ttl": 1}]})
    assert status == 200 and body["result"]["deletes"][0]["id"] == rid
    status, body = batch(fake_api, {"deletes": [{"id": "0" * 32}]})
    assert (status, body["errors"][0]["code"]) == (404, 81044)


def test_batch_limit_depends_on_the_plan(fake_api):
    posts = [{"name": "h%d" % i, "type": "A", "content": "192.0.2.1", "ttl": 1} for i in range(201)]
    status, body = batch(fake_api, {"posts": posts})
    assert status == 400 and "limit on this plan is 200" in body["errors"][0]["message"]
    assert fake_api.records("example.com") == []
    assert batch(fake_api, {"posts": posts[:200]})[0] == 200
    fake_api.settings(plan="pro")
    assert batch(fake_api, {"posts": [dict(p, name="p%d" % i) for i, p in enumerate(posts)]})[0] == 200


def test_fault_after_commit_answers_5xx_but_keeps_the_change(fake_api):
    fake_api.add_fault(502, method="POST", path="batch", after_commit=True)
    status, body = batch(fake_api, {"posts": [{"name": "ok", "type": "A", "content": "192.0.2.1", "ttl": 1}]})
    assert (status, body["errors"][0]["code"]) == (502, 10002)
    assert [r["name"] for r in fake_api.records("example.com")] == ["ok.example.com"]


def test_fault_after_commit_with_a_timeout(fake_api):
    fake_api.add_fault(method="POST", path="batch", after_commit=True, timeout=2)
    path = "/zones/%s/dns_records/batch" % zone_id(fake_api)
    started = time.monotonic()
    with pytest.raises(OSError):  # socket timeout: the client gives up before the answer
        call(fake_api, "POST", path, {"posts": [{"name": "ok", "type": "A", "content": "192.0.2.1", "ttl": 1}]},
             timeout=0.5)
    assert time.monotonic() - started < 2
    assert [r["name"] for r in fake_api.records("example.com")] == ["ok.example.com"]


def test_fault_before_processing_changes_nothing(fake_api):
    fake_api.add_fault(500, method="POST", path="batch")
    status, _ = batch(fake_api, {"posts": [{"name": "ok", "type": "A", "content": "192.0.2.1", "ttl": 1}]})
    assert status == 500 and fake_api.records("example.com") == []


# ------------------------------------------------------------------ shapes
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
    result = call(fake_api, "POST", "/zones/%s/dns_records/batch" % zid, {"deletes": [{"id": record["id"]}]})[1]
    assert set(result["result"]) == set(props("dns-records_batch-result"))
    assert set(props("dns-records_batch-request")) == {"deletes", "patches", "puts", "posts"}
