"""Shared constants and import paths of the Cloudflare DNS unit tests."""

import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
_COLLECTIONS = os.path.join(ROOT, "collections")
if _COLLECTIONS not in sys.path:
    sys.path.insert(0, _COLLECTIONS)

TOKEN = "unit-test-token-0123456789"


def _load_fake_cloudflare():
    """Import harness/cloudflare_api/server.py under a unique module name."""
    import importlib.util
    name = "alorig_fake_cloudflare_server"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, os.path.join(ROOT, "harness", "cloudflare_api", "server.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name].FakeCloudflare


FakeCloudflare = _load_fake_cloudflare()
