"""Contract tests: the stand-in, the module and the ``cloudflare`` SDK (5.9.0) agree.

The SDK is generated from Cloudflare's OpenAPI description; its TypedDicts
(request parameters) and pydantic models (responses) are the closest thing to
the real API this machine has. These tests make the stand-in unable to drift
from them:

* the stand-in's per-type tables (content or data, data keys, top-level
  priority) are compared with the SDK's parameter types and with the shipped
  OpenAPI subset;
* the module's request bodies are validated against the SDK's parameter types;
* requests built from the SDK's own typed parameters are sent through the SDK
  to the stand-in, and the raw JSON answers are validated against the SDK's
  response models.
"""

import json
import os
import typing

import pydantic
import pytest

from cloudflare import BadRequestError, Cloudflare, PermissionDeniedError
from cloudflare.types.dns import batch_patch_param, record_batch_params, record_batch_response, record_response
from cloudflare.types.dns.caa_record_param import CAARecordParam
from cloudflare.types.dns.ds_record_param import DSRecordParam
from cloudflare.types.dns.https_record_param import HTTPSRecordParam
from cloudflare.types.dns.mx_record_param import MXRecordParam
from cloudflare.types.dns.srv_record_param import SRVRecordParam
from cloudflare.types.dns.tlsa_record_param import TLSARecordParam
from cloudflare.types.dns.txt_record_param import TXTRecordParam
from cloudflare.types.zones.zone import Zone

from cfunit_support import ROOT, TOKEN

from ansible_collections.alorig.platform.plugins.module_utils import cloudflare_dns as cf
from harness.cloudflare_api import server

SPEC = os.path.join(ROOT, "tests", "data", "cloudflare-dns-openapi-subset.json")
POSTS = typing.get_args(record_batch_params.Post)
PATCHES = typing.get_args(batch_patch_param.BatchPatchParam)
MARK = cf.DEFAULT_OWNER_MARKER


def hints(typed_dict):
    return typing.get_type_hints(typed_dict, include_extras=True)


def rtype_of(typed_dict):
    literal = hints(typed_dict)["type"]
    while typing.get_origin(literal) is not typing.Literal:
        literal = typing.get_args(literal)[0]
    return typing.get_args(literal)[0]


def required_keys(typed_dict):
    return {k for k, v in hints(typed_dict).items() if typing.get_origin(v) is typing.Required}


def data_keys(typed_dict):
    data = hints(typed_dict).get("data")
    return set(typing.get_type_hints(data)) if data else None


SDK_TYPES = {rtype_of(t): t for t in POSTS}


def test_stand_in_types_are_the_sdk_types():
    assert set(server.TYPES) == set(SDK_TYPES)


@pytest.mark.parametrize("rtype", sorted(SDK_TYPES))
def test_stand_in_content_or_data_per_type_is_the_sdks(rtype):
    params = SDK_TYPES[rtype]
    keys = set(hints(params))
    assert {"name", "ttl", "type"} <= required_keys(params)
    if data_keys(params) is not None:
        assert rtype in server.DATA_FIELDS and rtype not in server.CONTENT_TYPES
        assert set(server.DATA_FIELDS[rtype]) == data_keys(params)
    else:
        assert rtype in server.CONTENT_TYPES and "content" in keys
    assert ("priority" in keys) == (rtype in server.PRIORITY_TYPES)


def test_stand_in_required_fields_are_the_openapi_subsets():
    schemas = json.load(open(SPEC))["components"]["schemas"]
    checked = 0
    for name, schema in schemas.items():
        if not (name.startswith("dns-records_") and name.endswith("Record") and "required" in schema):
            continue
        rtype = schema["allOf"][0]["properties"]["type"]["enum"][0]
        required = set(schema["required"])
        if rtype in server.DATA_FIELDS:
            assert "data" in required, rtype
            documented = set(schema["allOf"][0]["properties"]["data"]["properties"])
            assert set(server.DATA_FIELDS[rtype]) <= documented, rtype
        else:
            assert "content" in required, rtype
        checked += 1
    assert checked >= 20


@pytest.mark.parametrize("params", [SRVRecordParam, CAARecordParam, HTTPSRecordParam, TLSARecordParam,
                                    DSRecordParam])
def test_module_data_types_have_the_sdks_data_keys(params):
    rtype = rtype_of(params)
    assert [k for k, _kind in cf.DATA_SCHEMA[rtype]] and {k for k, _kind in cf.DATA_SCHEMA[rtype]} == \
        data_keys(params)


DECLARED = [
    {"name": "@", "type": "A", "content": "203.0.113.10", "ttl": 1, "proxied": True},
    {"name": "v6", "type": "AAAA", "content": "2001:db8::1", "ttl": 300, "proxied": False},
    {"name": "www", "type": "CNAME", "content": "example.com", "ttl": 1, "proxied": True},
    {"name": "@", "type": "MX", "content": "mx1.example.net", "priority": 10, "ttl": 3600},
    {"name": "@", "type": "TXT", "content": "v=spf1 mx -all", "ttl": 3600},
    {"name": "sub", "type": "NS", "content": "ns1.example.net", "ttl": 3600},
    {"name": "1", "type": "PTR", "content": "host.example.com", "ttl": 3600},
    {"name": "_submission._tcp", "type": "SRV", "ttl": 3600,
     "data": {"priority": 0, "weight": 1, "port": 587, "target": "mail.example.com"}},
    {"name": "@", "type": "CAA", "ttl": 3600, "data": {"flags": 0, "tag": "issue", "value": "letsencrypt.org"}},
    {"name": "@", "type": "HTTPS", "ttl": 3600, "data": {"priority": 1, "target": ".", "value": "alpn=h3,h2"}},
    {"name": "_25._tcp.mail", "type": "TLSA", "ttl": 3600,
     "data": {"usage": 3, "selector": 1, "matching_type": 1, "certificate": "0123456789abcdef"}},
    {"name": "sub", "type": "DS", "ttl": 3600,
     "data": {"key_tag": 2371, "algorithm": 13, "digest_type": 2, "digest": "1f987cc6"}},
    {"name": "bücher", "type": "A", "content": "203.0.113.10", "ttl": 1, "proxied": True},
]


def payloads():
    return [cf.api_payload(r) for r in cf.normalize_desired(DECLARED, "example.com", MARK)]


def test_declared_covers_every_type_the_module_supports():
    assert {r["type"] for r in DECLARED} == set(cf.SUPPORTED_TYPES)


@pytest.mark.parametrize("body", payloads(), ids=lambda b: b["type"] + " " + b["name"])
def test_module_bodies_are_valid_sdk_params(body):
    params = SDK_TYPES[body["type"]]
    assert set(body) <= set(hints(params)), "keys the SDK type does not have"
    assert required_keys(params) <= set(body)
    assert body["name"].isascii(), "names are sent in Punycode"
    pydantic.TypeAdapter(params).validate_python(body, strict=True)
    patch = dict(body, id="0" * 32)
    patch_type = [t for t in PATCHES if rtype_of(t) == body["type"]][0]
    pydantic.TypeAdapter(patch_type).validate_python(patch, strict=True)


@pytest.fixture
def sdk(fake_api):
    client = Cloudflare(api_token=TOKEN, base_url=fake_api.base_url, max_retries=0)
    client.api_key = client.api_email = client.user_service_key = None
    return client


def zone_id(sdk, name="example.com"):
    return sdk.zones.list(name=name).result[0].id


def test_sdk_typed_requests_are_accepted_and_answers_validate(fake_api, sdk):
    zid = zone_id(sdk)
    typed = [
        SRVRecordParam(name="_sip._tcp.example.com", ttl=3600, type="SRV",
                       data={"priority": 10, "weight": 5, "port": 5060, "target": "sip.example.com"}),
        CAARecordParam(name="example.com", ttl=3600, type="CAA",
                       data={"flags": 0, "tag": "iodef", "value": "mailto:ca@example.com"}),
        HTTPSRecordParam(name="example.com", ttl=3600, type="HTTPS",
                         data={"priority": 1, "target": ".", "value": "alpn=h2"}),
        TLSARecordParam(name="_443._tcp.example.com", ttl=3600, type="TLSA",
                        data={"usage": 3, "selector": 1, "matching_type": 1, "certificate": "abcdef"}),
        DSRecordParam(name="sub.example.com", ttl=3600, type="DS",
                      data={"key_tag": 1, "algorithm": 13, "digest_type": 2, "digest": "abcdef"}),
        MXRecordParam(name="example.com", ttl=3600, type="MX", content="mx.example.net", priority=10),
        TXTRecordParam(name="_dmarc.example.com", ttl=3600, type="TXT", content="v=DMARC1; p=none"),
    ]
    created = sdk.dns.records.create(zone_id=zid, **typed[0])
    assert created.type == "SRV" and created.data.port == 5060
    raw = sdk.dns.records.with_raw_response.batch(zone_id=zid, posts=typed[1:] + payloads()).http_response.json()
    assert raw["success"]
    answer = pydantic.TypeAdapter(record_batch_response.RecordBatchResponse).validate_python(raw["result"])
    assert len(answer.posts) == len(typed) - 1 + len(payloads())
    listed = list(sdk.dns.records.list(zone_id=zid, per_page=4))  # the SDK's own pagination
    assert len(listed) == len(typed) + len(payloads())
    raw_page = sdk.dns.records.with_raw_response.list(zone_id=zid).http_response.json()
    adapter = pydantic.TypeAdapter(record_response.RecordResponse)
    for item in raw_page["result"]:
        assert type(adapter.validate_python(item)).__name__.startswith(item["type"])
    raw_zone = sdk.zones.with_raw_response.list(name="example.com").http_response.json()["result"][0]
    pydantic.TypeAdapter(Zone).validate_python(raw_zone)


def test_sdk_sees_the_error_chain(sdk):
    zid = zone_id(sdk)
    # What the module used to send for SRV: content only.
    with pytest.raises(BadRequestError) as err:
        sdk.dns.records.batch(zone_id=zid, posts=[{"name": "_sip._tcp.example.com", "type": "SRV", "ttl": 1,
                                                    "content": "10 5 5060 sip.example.com"}])
    assert err.value.errors[0].code == 1004
    assert err.value.body["errors"][0]["error_chain"][0]["code"] == 9101


def test_sdk_auth_errors(fake_api):
    malformed = Cloudflare(api_token="not-a-token", base_url=fake_api.base_url, max_retries=0)
    malformed.api_key = malformed.api_email = None
    with pytest.raises(BadRequestError) as err:
        malformed.zones.list(name="example.com")
    assert err.value.body["errors"][0]["error_chain"][0]["code"] == 6111
    unknown = Cloudflare(api_token="Z" * 40, base_url=fake_api.base_url, max_retries=0)
    unknown.api_key = unknown.api_email = None
    with pytest.raises(PermissionDeniedError) as err:
        unknown.zones.list(name="example.com")
    assert err.value.errors[0].code == 9109
