"""Unit tests of the registry model (module_utils ``registry_model``): validation of every
input and the projection of every role input.

* every case of tests/registry_cases.py is rejected with one message naming the app (or the
  variable) and the key path, never a secret value; the valid variants are accepted;
* random mutations of the valid input (Hypothesis) are either accepted -- and then projected
  -- or rejected with messages that name where, never a crash;
* the projection of the real registry is what the roles need, and secrets live only in its
  secret parts.
"""

import copy
import json
import re
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "collections"))
sys.path.insert(0, str(ROOT / "tests"))

from ansible_collections.alorig.platform.plugins.module_utils import registry_model  # noqa: E402
from ansible_collections.alorig.platform.plugins.module_utils.registry_model import (  # noqa: E402
    build,
    errors_of,
)
from registry_cases import CASES, VALID, base_variables, model_inputs, secret_values  # noqa: E402

MODEL_CASES = [c for c in CASES if not c.site_only]
# Every message starts with where the problem is.
WHERE_RE = re.compile(r"^(app .+?: \S|platform: \S|vault: \S|(host \S+: )?RAM budget: |"
                      r"(host \S+: )?database connections: |"
                      r"inventory: |alorig_apps |registry model: |vault_alorig_app_secrets )")


@pytest.fixture()
def variables():
    return base_variables()


def test_base_variables_are_valid_for_production(variables):
    assert errors_of(model_inputs(variables)) == []


def test_there_are_at_least_150_invalid_cases():
    assert len(CASES) >= 150
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("case", MODEL_CASES, ids=[c.id for c in MODEL_CASES])
def test_invalid_case_is_rejected_naming_where(variables, case):
    case.mutate(variables)
    errors = errors_of(model_inputs(variables))
    assert errors, "the mutation was not detected"
    matching = [e for e in errors if all(f in e for f in case.fragments)]
    assert matching, "no single error contains %r; errors:\n%s" % (case.fragments, "\n".join(errors))
    for error in errors:
        assert WHERE_RE.match(error), error
        assert "could not be checked" not in error, error
    text = "\n".join(errors)
    for value in secret_values(variables):
        assert value not in text
    _errors, projection = build(model_inputs(variables))
    assert projection is None


@pytest.mark.parametrize("name,mutate", VALID, ids=[v[0] for v in VALID])
def test_valid_variant_is_accepted_and_projected(variables, name, mutate):
    mutate(variables)
    errors, projection = build(model_inputs(variables))
    assert errors == []
    assert projection["apps"]
    json.dumps(projection)


def test_uuid_ossp_reaches_the_postgres_projection(variables):
    variables["alorig_apps"]["snapify"]["database"]["extensions"] = ["uuid-ossp"]
    _errors, projection = build(model_inputs(variables))
    snapify = next(d for d in projection["postgres_databases"] if d["owner"] == "snapify")
    assert snapify["extensions"] == ["uuid-ossp"]


# -- the projection ---------------------------------------------------------------------

@pytest.fixture()
def projection(variables):
    errors, projection = build(model_inputs(variables))
    assert errors == []
    return projection


def test_memory_split_fills_each_budget(projection):
    for app, spec in projection["apps"].items():
        total = sum(c["memory_mb"] for c in spec["containers"])
        assert spec["ram_budget_mb"] - len(spec["containers"]) <= total <= spec["ram_budget_mb"], app
        assert all(c["memory_mb"] >= 6 for c in spec["containers"])
    psydge = dict((c["name"], c["memory_mb"]) for c in projection["apps"]["psydge"]["containers"])
    # backend 4, channels 3, worker 3, beat 2 of 1792 MB
    assert psydge == {"psydge_backend": 597, "psydge_channels": 448,
                      "psydge_celery_worker": 448, "psydge_celery_beat": 298}


def test_explicit_memory_is_kept_and_the_rest_split(variables):
    variables["alorig_apps"]["snapify"]["containers"][2]["memory_mb"] = 100
    _errors, projection = build(model_inputs(variables))
    snapify = dict((c["name"], c["memory_mb"]) for c in projection["apps"]["snapify"]["containers"])
    assert snapify == {"snapify_backend": 342, "snapify_celery_worker": 257, "snapify_celery_beat": 100}


def test_app_roles_in_rollout_order_with_their_apps(projection):
    assert projection["app_roles"] == [
        {"role": "igny8", "apps": ["igny8", "igny8_staging"]},
        {"role": "psydge", "apps": ["psydge"]}, {"role": "snapify", "apps": ["snapify"]},
        {"role": "sitebuilder", "apps": ["sitebuilder"]}, {"role": "observer", "apps": ["observer"]},
        {"role": "astrotiming", "apps": ["astrotiming"]}, {"role": "asms", "apps": ["asms"]}]
    assert [s["app"] for s in projection["rollout"]] == [
        "igny8", "igny8_staging", "psydge", "snapify", "sitebuilder", "observer", "astrotiming",
        "asms"]
    assert projection["rollout"][1]["role"] == "igny8"


def test_a_new_app_with_a_role_is_projected_everywhere(variables):
    from registry_cases import _new_app
    _new_app(variables, "newshop", routes=[{"host": "shop.alorig.com", "kind": "static"},
                                            {"host": "api.shop.alorig.com", "kind": "proxy",
                                             "upstream": "newshop_backend", "port": 8090}])
    del variables["alorig_apps"]["newshop"]["role"]
    # its own role: the model looks it up under roles_path
    roles = ROOT / "roles"
    inputs = model_inputs(variables)
    inputs["roles_path"] = [str(roles)]
    assert any("no role named 'newshop'" in e for e in errors_of(inputs))
    variables["alorig_apps"]["newshop"]["role"] = "astrotiming"
    _errors, projection = build(model_inputs(variables))
    assert _errors == []
    assert {"role": "astrotiming", "apps": ["astrotiming", "newshop"]} in projection["app_roles"]
    assert "newshop" in [u["name"] for u in projection["redis_users"]]
    assert "newshop_db" in [d["name"] for d in projection["postgres_databases"]]
    assert "shop.alorig.com" in [s["host"] for s in projection["caddy_sites"]]
    assert projection["monitor_apps"][-1]["name"] == "newshop"
    assert projection["app_secret_env"]["newshop"]["DATABASE_URL"].startswith("postgres://newshop:")


def test_disabled_app_keeps_its_spec_but_nothing_else(variables):
    variables["alorig_apps"]["asms"]["enabled"] = False
    _errors, projection = build(model_inputs(variables))
    assert projection["apps"]["asms"]["enabled"] is False
    assert "asms" not in projection["app_secret_env"]
    assert "asms" not in [u["name"] for u in projection["redis_users"]]
    assert "asms_db" not in [d["name"] for d in projection["postgres_databases"]]
    assert "schools.alorig.com" not in [s["host"] for s in projection["caddy_sites"]]
    assert "asms" not in [s["app"] for s in projection["rollout"]]
    assert {"role": "asms", "apps": ["asms"]} in projection["app_roles"]


def test_connection_urls_and_secret_environment(variables, projection):
    secrets = variables["vault_alorig_app_secrets"]
    env = projection["app_secret_env"]["sitebuilder"]
    assert env["DATABASE_URL"] == "postgres://sitebuilder:%s@alorig_postgres:5432/sitebuilder_db" \
        % secrets["sitebuilder"]["db_password"]
    assert env["REDIS_URL"] == "redis://sitebuilder:%s@alorig_redis:6379/4" \
        % secrets["sitebuilder"]["redis_password"]
    assert env["PAYLOAD_SECRET"] == secrets["sitebuilder"]["payload_secret"]
    assert env["DJANGO_SECRET_KEY"] == secrets["sitebuilder"]["django_secret_key"]
    assert projection["postgres_passwords"]["sitebuilder"] == secrets["sitebuilder"]["db_password"]
    assert projection["redis_passwords"]["sitebuilder"] == secrets["sitebuilder"]["redis_password"]


def test_url_special_characters_are_encoded(variables):
    variables["vault_alorig_app_secrets"]["psydge"]["db_password"] = "p@ss/w:rd%?#-0123456789"
    _errors, projection = build(model_inputs(variables))
    url = projection["app_secret_env"]["psydge"]["DATABASE_URL"]
    assert url.startswith("postgres://psydge:p%40ss%2Fw%3Ard%25%3F%23-0123456789@alorig_postgres")


def test_secrets_only_in_the_secret_parts(variables, projection):
    public = dict((k, v) for k, v in projection.items()
                  if k not in ("app_secret_env", "postgres_passwords", "redis_passwords"))
    text = json.dumps(public)
    for value in secret_values(variables):
        assert value not in text


def test_caddy_sites_and_routes(projection):
    sites = dict((s["host"], s["routes"]) for s in projection["caddy_sites"])
    assert sites["api.alorig.com"] == [{"host": "api.alorig.com", "path": "/builder", "kind": "proxy",
                                        "upstream": "sitebuilder_backend", "port": 8016,
                                        "app": "sitebuilder"}]
    assert sites["admin.snapify.pk"][0]["allow_ips"] == ["198.51.100.0/24"]
    assert len(sites) == 21


def test_monitor_apps_smoke_tests(projection):
    sitebuilder = next(a for a in projection["monitor_apps"] if a["name"] == "sitebuilder")
    assert sitebuilder["smoke"] == [
        {"path": "/builder/", "max_status": 299, "host": "alorig.com", "sni": "alorig.com"},
        {"path": "/builder/", "max_status": 499, "host": "api.alorig.com", "sni": "api.alorig.com"},
        {"path": "/health", "max_status": 299, "host": "cms.alorig.com", "sni": "cms.alorig.com"},
        {"path": "/health", "max_status": 299, "host": "*.sites.alorig.com",
         "sni": "smoke.sites.alorig.com"}]
    igny8 = next(a for a in projection["monitor_apps"] if a["name"] == "igny8")
    assert igny8["queue_keys"] == ["igny8:celery", "igny8:video"]


def test_owned_lists_what_the_platform_creates(projection):
    owned = projection["owned"]
    assert len(owned["containers"]) == 27
    assert owned["redis_users"] == sorted(["igny8", "igny8_staging", "psydge", "snapify",
                                           "sitebuilder", "observer", "astrotiming", "asms"])
    assert "igny8_beat" in owned["volumes"] and "sitebuilder_static" in owned["volumes"]


def test_build_is_cached_and_returns_copies(variables):
    inputs = model_inputs(variables)
    _e, first = build(inputs)
    first["apps"]["psydge"]["title"] = "changed by a caller"
    _e, second = build(inputs)
    assert second["apps"]["psydge"]["title"] == "Psydge"


# -- never a crash: random mutations of the valid input -------------------------------

JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-10 ** 6, max_value=10 ** 6)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12)
    | st.sampled_from(["", "/", "*.x.com", "igny8:", "psydge_backend", "{{ x }}", "0.0.0.0/0",
                       "backend", "static", "proxy", "celery_worker", "local", "8012"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.text(max_size=8) | st.sampled_from(["name", "kind", "port", "host", "path", "db"]),
        children, max_size=3),
    max_leaves=6)


def _paths(node, prefix=()):
    """Every path to a value under node (dict keys, list indexes)."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, prefix + (index,))


BASE = base_variables()
ALL_PATHS = [p for p in _paths(BASE) if p]


def _apply(variables, path, action, value):
    parent = variables
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if action == "replace":
        parent[last] = value
    elif action == "delete":
        del parent[last]
    elif action == "add" and isinstance(parent[last], dict):
        parent[last]["zz_%s" % type(value).__name__] = value
    elif action == "add" and isinstance(parent[last], list):
        parent[last].append(value)
    elif action == "duplicate" and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[last]))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(ALL_PATHS),
                          st.sampled_from(["replace", "replace", "delete", "add", "duplicate"]),
                          JSONISH), min_size=1, max_size=3))
def test_random_mutations_never_crash(mutations):
    variables = copy.deepcopy(BASE)
    for path, action, value in mutations:
        try:
            _apply(variables, path, action, value)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or replaced the path
    registry_model._CACHE.clear()
    errors, projection = build(model_inputs(variables))
    for error in errors:
        assert isinstance(error, str)
        assert WHERE_RE.match(error), error
        assert "could not be checked" not in error, error
    if not errors:
        json.dumps(projection)
