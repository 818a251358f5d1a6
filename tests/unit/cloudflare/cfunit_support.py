"""Shared constants and import paths of the Cloudflare DNS unit tests."""

import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
_COLLECTIONS = os.path.join(ROOT, "collections")
if _COLLECTIONS not in sys.path:
    sys.path.insert(0, _COLLECTIONS)

TOKEN = "unit-test-token-0123456789abcdefghijklmn"  # 40 characters, like a real token


if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from harness.cloudflare_api.server import FakeCloudflare  # noqa: E402
