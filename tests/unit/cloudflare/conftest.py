"""Fixtures of the Cloudflare DNS unit tests: the fake API on a free loopback port."""

import pytest

from cfunit_support import TOKEN, FakeCloudflare


@pytest.fixture
def fake_api():
    api = FakeCloudflare(token=TOKEN, zones=["example.com"]).start()
    try:
        yield api
    finally:
        api.stop()
