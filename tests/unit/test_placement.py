"""Apps placed on several VPS hosts (issue #16, ``alorig_placement``): what the registry model
validates and projects per host, and the DNS records that follow the placement.

The inventory has two VPS hosts, vps1 and vps2 (and the backup host). Each host's
projection runs only the apps placed on it; the deployment specs keep every app (an app
placed elsewhere is disabled here, so its role removes it from this host).
"""

import copy
import sys
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "collections"))
sys.path.insert(0, str(ROOT / "tests"))

from ansible_collections.alorig.platform.plugins.filter.dns import (  # noqa: E402
    dns_registry_hosts,
    dns_zones_from_registry,
)
from ansible_collections.alorig.platform.plugins.filter.registry import (  # noqa: E402
    registry_inventory_errors,
    registry_placement,
)
from ansible_collections.alorig.platform.plugins.module_utils.registry_model import (  # noqa: E402
    build,
    errors_of,
    placement_of,
)
from registry_cases import base_variables, model_inputs, secret_values  # noqa: E402

TWO = {"alorig_vps": ["vps1", "vps2"], "alorig_backup": ["backup"],
       "all": ["vps1", "vps2", "backup"]}
ONE = {"alorig_vps": ["vps1"], "alorig_backup": ["backup"], "all": ["vps1", "backup"]}
FIRST_ADDRESS = "1.2.3.4"
SECOND_ADDRESS = "5.6.7.8"


@pytest.fixture()
def variables():
    return base_variables()


def place(variables, **placement):
    variables["alorig_placement"] = placement
    return variables


def project(variables, host, groups=TWO):
    errors, projection = build(model_inputs(variables, groups=copy.deepcopy(groups), host=host))
    assert errors == []
    return projection


def errors_for(variables, host="vps1", groups=TWO):
    return errors_of(model_inputs(variables, groups=copy.deepcopy(groups), host=host))


def apps_in(projection):
    """The app keys each per-host part of the projection holds."""
    owned_containers = projection["owned"]["containers"]
    return {
        "app_secret_env": sorted(projection["app_secret_env"]),
        "postgres_databases": sorted(d["owner"] for d in projection["postgres_databases"]),
        "postgres_passwords": sorted(projection["postgres_passwords"]),
        "redis_users": sorted(u["name"] for u in projection["redis_users"]),
        "redis_passwords": sorted(projection["redis_passwords"]),
        "caddy_sites": sorted(set(r["app"] for s in projection["caddy_sites"]
                                  for r in s["routes"])),
        "monitor_apps": sorted(a["name"] for a in projection["monitor_apps"]),
        "monitoring": sorted(q["app"] for q in projection["monitoring"]["queues"]),
        "rollout": sorted(r["app"] for r in projection["rollout"]),
        "owned_redis_users": sorted(projection["owned"]["redis_users"]),
        "owned_containers": sorted(set(c for c in owned_containers)),
        "backup": sorted(a["name"] for a in projection["backup"]["apps"]),
        "pgbouncer": sorted(d["app"] for d in projection["pgbouncer"]["databases"]),
    }


# -- the default: every app on the first host ---------------------------------------------

def test_default_placement_is_the_first_host(variables):
    apps = variables["alorig_apps"]
    assert placement_of(apps, TWO, None) == dict((app, "vps1") for app in apps)
    assert placement_of(apps, TWO, {}) == dict((app, "vps1") for app in apps)
    assert placement_of(apps, TWO, {"psydge": "vps2"})["psydge"] == "vps2"
    assert placement_of(apps, {}, None) == dict((app, None) for app in apps)
    # the filter is the same function, on plain copies
    assert registry_placement(apps, TWO, {"psydge": "vps2"}) == \
        placement_of(apps, TWO, {"psydge": "vps2"})
    assert registry_placement(apps, TWO) == placement_of(apps, TWO)


def test_a_single_host_inventory_projects_as_before(variables):
    plain = project(variables, None, ONE)
    assert project(variables, "vps1", ONE) == plain
    assert project(place(copy.deepcopy(variables), psydge="vps1"), "vps1", ONE) == plain
    assert plain["placement"] == {"host": "vps1", "hosts": ["vps1"],
                                  "apps": dict((a, "vps1") for a in variables["alorig_apps"])}
    # without groups (some unit tests) every app is here, as before (and no backup host)
    variables["alorig_backup_enabled"] = False
    errors, bare = build({k: v for k, v in model_inputs(variables).items() if k != "groups"})
    assert errors == []
    assert bare["placement"] == {"host": None, "hosts": [],
                                 "apps": dict((a, None) for a in variables["alorig_apps"])}
    for app, spec in plain["apps"].items():
        assert spec["host"] == "vps1" and spec["placed_here"] is True
        assert spec["enabled"] == spec["registry_enabled"] == variables["alorig_apps"][app]["enabled"]
        assert bare["apps"][app]["host"] is None and bare["apps"][app]["placed_here"] is True
    for key in plain:
        if key not in ("apps", "placement", "backup"):
            assert bare[key] == plain[key], key


def test_the_first_of_two_hosts_runs_everything_by_default(variables):
    one = project(variables, "vps1", ONE)
    first = project(variables, "vps1")
    for key in one:
        if key != "placement":
            assert first[key] == one[key], key
    assert first["placement"]["hosts"] == ["vps1", "vps2"]
    second = project(variables, "vps2")
    assert all(values == [] for values in apps_in(second).values()), apps_in(second)
    assert second["app_roles"] == first["app_roles"]
    for spec in second["apps"].values():
        assert spec["enabled"] is False and spec["placed_here"] is False
        assert spec["host"] == "vps1"


# -- an app on the second host ------------------------------------------------------------

def test_an_app_on_the_second_host_leaves_the_first(variables):
    place(variables, psydge="vps2")
    first = project(variables, "vps1")
    spec = first["apps"]["psydge"]
    assert spec["enabled"] is False and spec["placed_here"] is False
    assert spec["registry_enabled"] is True and spec["host"] == "vps2"
    assert first["apps"]["igny8"]["enabled"] is True and first["apps"]["igny8"]["host"] == "vps1"
    # the app role still runs (it removes the app from this host)
    assert any("psydge" in r["apps"] for r in first["app_roles"])
    for part, apps in apps_in(first).items():
        assert not any(a.startswith("psydge") for a in apps), (part, apps)
    assert "psydge" not in first["app_secret_env"]
    assert "psydge_db" not in first["owned"]["databases"]
    assert "api.psydge.com" not in first["owned"]["caddy_hosts"]
    assert not any(v.startswith("psydge_") for v in first["owned"]["volumes"])
    assert not [h for h in first["monitoring"]["tls_hosts"] if "psydge" in h]
    assert not [rule for group in first["monitoring"]["rules"]["groups"]
                for rule in group["rules"] if "psydge" in str(rule)]


def test_the_second_host_runs_only_its_apps(variables):
    place(variables, psydge="vps2")
    second = project(variables, "vps2")
    for part, apps in apps_in(second).items():
        if part == "owned_containers":
            assert apps and all(c.startswith("psydge_") for c in apps), apps
        else:
            assert apps == ["psydge"], (part, apps)
    assert second["placement"] == {
        "host": "vps2", "hosts": ["vps1", "vps2"],
        "apps": dict((a, "vps2" if a == "psydge" else "vps1") for a in variables["alorig_apps"])}
    assert [s["host"] for s in second["caddy_sites"]] == ["psydge.com", "api.psydge.com",
                                                          "ws.psydge.com"]
    assert second["owned"]["databases"] == ["psydge_db"]
    # the one backup key, named after each host
    assert second["backup"]["client_public_key"].endswith(" alorig-backup@vps2")
    assert project(variables, "vps1")["backup"]["client_public_key"].endswith(" alorig-backup@vps1")
    assert second["apps"]["psydge"]["enabled"] is True
    assert second["apps"]["psydge"]["placed_here"] is True
    for app, spec in second["apps"].items():
        if app != "psydge":
            assert spec["enabled"] is False and spec["host"] == "vps1", app
    # moving an app renumbers nothing: ports, Redis DB, names are the registry's
    first = project(base_variables(), "vps1")
    moved, stayed = second["apps"]["psydge"], first["apps"]["psydge"]
    for key in moved:
        if key not in ("host",):
            assert moved[key] == stayed[key], key
    assert second["app_secret_env"]["psydge"] == first["app_secret_env"]["psydge"]


def test_the_control_node_and_the_backup_host_see_the_first_host(variables):
    place(variables, psydge="vps2")
    first = project(variables, "vps1")
    for host in ("localhost", "backup", None):
        assert project(variables, host) == first, host


def test_the_cache_tells_the_hosts_apart(variables):
    place(variables, psydge="vps2")
    inputs = model_inputs(variables, groups=copy.deepcopy(TWO), host="vps1")
    _e, first = build(inputs)
    inputs["host"] = "vps2"
    _e, second = build(inputs)
    assert first["placement"]["host"] == "vps1" and second["placement"]["host"] == "vps2"
    assert first["rollout"] != second["rollout"]


def test_a_disabled_app_has_a_placement_too(variables):
    variables["alorig_apps"]["psydge"]["enabled"] = False
    place(variables, psydge="vps2")
    second = project(variables, "vps2")
    assert second["apps"]["psydge"]["placed_here"] is True
    assert second["apps"]["psydge"]["enabled"] is False
    assert second["apps"]["psydge"]["registry_enabled"] is False
    assert all(values == [] for values in apps_in(second).values())


# -- per-host sums --------------------------------------------------------------------------

def _heavy_psydge(variables):
    # apps 7272 + 2500 MB: fits on two hosts, not on one (13312 MB)
    variables["alorig_apps"]["psydge"]["ram_budget_mb"] += 2500
    return variables


def test_the_ram_budget_is_per_host(variables):
    _heavy_psydge(variables)
    errors = errors_for(variables, "vps1")
    ram = [e for e in errors if "RAM budget" in e]
    assert len(ram) == 2, errors
    assert all(e.startswith("host vps1: RAM budget: ") for e in ram), ram
    assert "apps 9772 MB" in ram[0] and "largest apps: psydge 4292 MB" in ram[0]
    # nothing placed on vps2: its own sum fits
    assert errors_for(variables, "vps2") == []
    # one app moved: each host's sum fits
    place(variables, psydge="vps2")
    assert errors_for(variables, "vps1") == []
    assert errors_for(variables, "vps2") == []
    # a single-host inventory keeps the messages as they were
    errors = errors_for(_heavy_psydge(base_variables()), "vps1", ONE)
    assert any(e.startswith("RAM budget: apps 9772 MB") for e in errors), errors


def test_the_connection_sum_is_per_host(variables):
    variables["alorig_apps"]["psydge"]["database"]["connection_limit"] = 20
    errors = errors_for(variables, "vps1")
    assert ("host vps1: database connections: the enabled apps' database.connection_limit "
            "values sum to 84, above alorig_thresholds.postgres_connections 80") in errors
    assert errors_for(variables, "localhost") == errors
    place(variables, psydge="vps2")
    assert errors_for(variables, "vps1") == []
    assert errors_for(variables, "vps2") == []
    errors = errors_for(variables, "vps1", ONE)
    assert any("app 'psydge': alorig_placement.psydge 'vps2'" in e for e in errors), errors


# -- invalid placements ---------------------------------------------------------------------

def test_a_placement_on_an_unknown_host(variables):
    place(variables, psydge="vps3")
    errors = errors_for(variables)
    assert ("app 'psydge': alorig_placement.psydge 'vps3' is not a host of the alorig_vps group "
            "(hosts: vps1, vps2)") in errors
    _e, projection = build(model_inputs(variables, groups=copy.deepcopy(TWO), host="vps1"))
    assert projection is None
    for value in (None, 2, ["vps2"]):
        errors = errors_for(place(base_variables(), psydge=value))
        assert any(e.startswith("app 'psydge': alorig_placement.psydge ") and
                   "not a host of the alorig_vps group" in e for e in errors), errors


def test_a_placement_of_an_unknown_app(variables):
    place(variables, psydg="vps2")
    errors = errors_for(variables)
    assert len(errors) == 1, errors
    assert errors[0].startswith("platform: alorig_placement.psydg: no such app in alorig_apps "
                                "(apps: asms, astrotiming, igny8, ")


def test_a_placement_that_is_not_a_dict(variables):
    variables["alorig_placement"] = ["psydge", "vps2"]
    assert errors_for(variables) == [
        "platform: alorig_placement must be a dict of app -> host, got list"]
    variables["alorig_placement"] = "psydge=vps2"
    assert errors_for(variables) == [
        "platform: alorig_placement must be a dict of app -> host, got string"]


def _share_api_alorig_com(variables):
    variables["alorig_apps"]["psydge"]["routes"].append(
        {"host": "api.alorig.com", "path": "/psydge", "kind": "proxy",
         "upstream": "psydge_backend", "port": 8012})
    return variables


def test_apps_sharing_a_route_host_stay_on_one_host(variables):
    _share_api_alorig_com(variables)
    assert errors_for(variables) == []  # both on vps1
    place(variables, psydge="vps2")
    errors = errors_for(variables)
    shared = [e for e in errors if "'api.alorig.com'" in e]
    assert len(shared) == 1, errors
    for fragment in ("app 'sitebuilder'", "routes[1].host", "app 'psydge'", "(routes[3])",
                     "'vps1'", "'vps2'", "one address"):
        assert fragment in shared[0], shared[0]
    # the same error whichever host is validated
    assert errors_for(variables, "vps2") == errors
    place(variables, psydge="vps2", sitebuilder="vps2")
    assert errors_for(variables) == []
    # a disabled app serves no name
    variables = place(_share_api_alorig_com(base_variables()), psydge="vps2")
    variables["alorig_apps"]["sitebuilder"]["enabled"] = False
    assert errors_for(variables) == []


def test_the_inventory_needs_at_least_one_vps_host(variables):
    assert registry_inventory_errors(TWO) == []
    errors = registry_inventory_errors({"alorig_vps": [], "all": []})
    assert errors == ["inventory: group 'alorig_vps' must have at least one host, found 0 "
                      "(the host the apps run on)"]
    assert errors[0] in errors_for(variables, "vps1", {"alorig_vps": [], "all": []})


def test_no_secret_in_the_placement_errors(variables):
    place(_share_api_alorig_com(_heavy_psydge(variables)), psydge="vps3", nope=3)
    text = "\n".join(errors_for(variables))
    for value in secret_values(variables):
        assert value not in text


# -- DNS: each app's names at its host's address ---------------------------------------------

def _records(zones):
    return dict(((z["zone"], r["name"]), r["content"]) for z in zones for r in z["records"])


def test_dns_records_follow_the_placement(variables):
    apps, domains = variables["alorig_apps"], variables["alorig_domains"]
    hosts = placement_of(apps, TWO, {"psydge": "vps2"})
    address = {"vps1": FIRST_ADDRESS, "vps2": SECOND_ADDRESS}
    app_ipv4 = dict((app, address[host]) for app, host in hosts.items())
    zones = dns_zones_from_registry(domains, apps, FIRST_ADDRESS, apex_zones=domains,
                                    wildcard_zones=domains, app_ipv4=app_ipv4)
    records = _records(zones)
    # psydge's route hosts (its apex included: a route host of psydge)
    for name in ("@", "api", "ws"):
        assert records[("psydge.com", name)] == SECOND_ADDRESS, name
    # apex and wildcard records stay on the first host
    assert records[("psydge.com", "*")] == FIRST_ADDRESS
    assert records[("igny8.com", "@")] == FIRST_ADDRESS
    assert records[("igny8.com", "*")] == FIRST_ADDRESS
    for name in ("app", "api", "staging-app"):
        assert records[("igny8.com", name)] == FIRST_ADDRESS
    # without app_ipv4 (or with an app it does not name) everything is at ipv4
    plain = _records(dns_zones_from_registry(domains, apps, FIRST_ADDRESS, apex_zones=domains,
                                             wildcard_zones=domains))
    assert set(plain.values()) == {FIRST_ADDRESS}
    assert set(plain) == set(records)
    partial = _records(dns_zones_from_registry(domains, apps, FIRST_ADDRESS,
                                               app_ipv4={"psydge": SECOND_ADDRESS}))
    assert partial[("psydge.com", "api")] == SECOND_ADDRESS
    assert partial[("igny8.com", "api")] == FIRST_ADDRESS
    # the import's list of registry names does not change
    assert dns_registry_hosts(domains, apps, domains, domains)["psydge.com"] == ["@", "api", "ws", "*"]


@pytest.mark.parametrize("value", ["", None, "  "])
def test_dns_refuses_an_app_without_an_address(variables, value):
    apps, domains = variables["alorig_apps"], variables["alorig_domains"]
    with pytest.raises(AnsibleFilterError, match="app psydge.*alorig_vps_public_ipv4"):
        dns_zones_from_registry(domains, apps, FIRST_ADDRESS,
                                app_ipv4={"igny8": FIRST_ADDRESS, "psydge": value})


def test_dns_refuses_one_name_at_two_addresses(variables):
    apps, domains = variables["alorig_apps"], variables["alorig_domains"]
    _share_api_alorig_com(variables)
    with pytest.raises(AnsibleFilterError, match="api.alorig.com.*psydge, sitebuilder"):
        dns_zones_from_registry(domains, apps, FIRST_ADDRESS,
                                app_ipv4={"psydge": SECOND_ADDRESS})
    zones = dns_zones_from_registry(domains, apps, FIRST_ADDRESS,
                                    app_ipv4={"psydge": SECOND_ADDRESS,
                                              "sitebuilder": SECOND_ADDRESS})
    assert _records(zones)[("alorig.com", "api")] == SECOND_ADDRESS


# -- apps kept on one host (alorig_placement_together) --------------------------------------

SPLIT_STAGING = ("app 'igny8_staging': alorig_placement.igny8_staging alorig_placement puts it on "
                 "host 'vps2' and app 'igny8' on host 'vps1', but alorig_placement_together[0] "
                 "(igny8, igny8_staging) keeps these apps on one host; place them together")


def test_igny8_and_its_staging_are_kept_on_one_host(variables):
    # the platform's default (group_vars/all/platform.yml): the staging refresh copies
    # igny8's database inside one PostgreSQL
    assert variables["alorig_placement_together"] == [["igny8", "igny8_staging"]]
    place(variables, igny8_staging="vps2")
    # every host refuses it: validation stops before any host is contacted
    assert errors_for(variables, "vps1") == [SPLIT_STAGING]
    assert errors_for(variables, "vps2") == [SPLIT_STAGING]
    place(variables, igny8="vps2", igny8_staging="vps2")
    assert errors_for(variables, "vps2") == []
    assert apps_in(project(variables, "vps2"))["postgres_databases"] == ["igny8", "igny8_staging"]


def test_a_disabled_app_of_a_group_may_stay_elsewhere(variables):
    variables["alorig_apps"]["igny8_staging"]["enabled"] = False
    place(variables, igny8_staging="vps2")
    assert errors_for(variables) == []
    variables["alorig_placement_together"] = []
    variables["alorig_apps"]["igny8_staging"]["enabled"] = True
    assert errors_for(variables) == []


def test_a_malformed_group_list_is_refused(variables):
    variables["alorig_placement_together"] = "igny8,igny8_staging"
    assert errors_for(variables) == [
        "platform: alorig_placement_together must be a list of lists of apps that share a host, "
        "got string"]
    variables["alorig_placement_together"] = [["igny8"], ["igny8", "igny8_stagin"]]
    errors = errors_for(variables)
    assert errors[0] == ("platform: alorig_placement_together[0] must be a list of at least two "
                         "apps, got ['igny8']")
    assert errors[1].startswith("platform: alorig_placement_together[1]: no such app in "
                                "alorig_apps: 'igny8_stagin' (apps: asms, ")
    assert len(errors) == 2
