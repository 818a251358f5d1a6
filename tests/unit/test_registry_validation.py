"""Unit tests of the registry validation (alorig.platform module_utils ``registry``).

The real registry (group_vars/all/apps.yml + platform.yml) must be valid; every mutation
below must produce an error that names the app and the key path (and the other app for
collisions).
"""

import copy
import sys
from pathlib import Path

import pytest
import yaml
from jinja2.nativetypes import NativeEnvironment

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "collections"))

from ansible_collections.alorig.platform.plugins.module_utils.registry import (  # noqa: E402
    validate_infra_secrets,
    validate_inventory,
    validate_registry,
)



def _render(value, variables):
    """Render ``{{ ... }}`` expressions to native values, as Ansible does before the filter."""
    if isinstance(value, dict):
        return {k: _render(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v, variables) for v in value]
    if isinstance(value, str) and "{{" in value:
        return copy.deepcopy(NativeEnvironment().from_string(value).render(**variables))
    return value


def load_registry():
    platform = yaml.safe_load((ROOT / "group_vars/all/platform.yml").read_text())
    apps_vars = yaml.safe_load((ROOT / "group_vars/all/apps.yml").read_text())
    variables = dict(platform)
    variables.update(apps_vars)
    return _render(apps_vars["alorig_apps"], variables), _render(platform, variables)


def complete_secrets(apps):
    return {app: {name: "test-%s-%s" % (app, name) for name in entry["secrets"]}
            for app, entry in apps.items()}


@pytest.fixture()
def registry():
    apps, platform = load_registry()
    return apps, platform, complete_secrets(apps)


def test_real_registry_is_valid(registry):
    apps, platform, secrets = registry
    assert validate_registry(apps, platform, secrets) == []


def test_real_registry_has_the_seed_figures(registry):
    apps, _platform, _secrets = registry
    assert len(apps) == 8
    ports = sorted(c["port"] for a in apps.values() for c in a["containers"] if "port" in c)
    assert ports == [8011, 8012, 8013, 8014, 8016, 8017, 8018, 8020, 8022, 8031]
    assert sorted(a["redis"]["db"] for a in apps.values()) == list(range(8))


def test_unrendered_template_is_an_error():
    apps = yaml.safe_load((ROOT / "group_vars/all/apps.yml").read_text())["alorig_apps"]
    platform = yaml.safe_load((ROOT / "group_vars/all/platform.yml").read_text())
    errors = validate_registry(apps, platform, complete_secrets(apps))
    assert errors == ["app 'snapify': routes[3].allow_ips is an unrendered template "
                      "'{{ alorig_admin_allowlist | default([]) }}': render it before validation"]


def test_secret_values_never_appear_in_messages(registry):
    apps, platform, secrets = registry
    secrets["psydge"]["db_password"] = ""
    del secrets["asms"]["redis_password"]
    apps["igny8"]["redis_db"] = 3
    errors = validate_registry(apps, platform, secrets)
    text = "\n".join(errors)
    for app_secrets in secrets.values():
        for value in app_secrets.values():
            if value:
                assert value not in text
    assert "app 'psydge': secret 'db_password' in vault_alorig_app_secrets['psydge'] is empty" \
        in errors


def test_every_error_is_reported_not_only_the_first(registry):
    apps, platform, secrets = registry
    apps["psydge"]["redis"]["db"] = 0
    apps["asms"]["backend_port"] = 80
    apps["observer"]["compose_name"] = "Observer"
    errors = validate_registry(apps, platform, secrets)
    assert any("'psydge': redis.db" in e for e in errors)
    assert any("'asms': backend_port 80" in e for e in errors)
    assert any("'observer': compose_name" in e for e in errors)


# --- mutations -------------------------------------------------------------------------
# Each mutation changes (apps, platform, secrets) in place; the expected fragments must all
# appear in ONE error message.


def _container(apps, app, name):
    return next(c for c in apps[app]["containers"] if c["name"] == name)


def _route(apps, app, host):
    return next(r for r in apps[app]["routes"] if r["host"] == host)


def m_duplicate_port(apps, platform, secrets):
    _container(apps, "psydge", "psydge_channels")["port"] = 8014


def m_legacy_reserved_port(apps, platform, secrets):
    platform["alorig_reserved_ports"] = [
        {"ports": "8021-8024", "reason": "legacy IGNY8 dev ports (seed 004)"}]


def m_reserved_port_plain_int(apps, platform, secrets):
    platform["alorig_reserved_ports"] = [8013]


def m_duplicate_redis_db(apps, platform, secrets):
    apps["psydge"]["redis"]["db"] = 0


def m_redis_db_16(apps, platform, secrets):
    apps["astrotiming"]["redis"]["db"] = 16


def m_redis_db_negative(apps, platform, secrets):
    apps["astrotiming"]["redis"]["db"] = -1


def m_redis_db_string(apps, platform, secrets):
    apps["astrotiming"]["redis"]["db"] = "6"


def m_prefix_without_colon(apps, platform, secrets):
    apps["observer"]["redis"]["prefix"] = "observer"


def m_overlapping_prefixes(apps, platform, secrets):
    apps["igny8_staging"]["redis"]["prefix"] = "igny8:staging:"


def m_duplicate_prefix(apps, platform, secrets):
    apps["asms"]["redis"]["prefix"] = "snapify:"


def m_duplicate_database_name(apps, platform, secrets):
    apps["asms"]["database"]["name"] = "igny8_db"


def m_duplicate_database_owner(apps, platform, secrets):
    apps["observer"]["database"]["owner"] = "astrotiming"


def m_database_name_too_long(apps, platform, secrets):
    apps["observer"]["database"]["name"] = "o" * 64


def m_database_owner_postgres(apps, platform, secrets):
    apps["observer"]["database"]["owner"] = "postgres"


def m_connection_limit_zero(apps, platform, secrets):
    apps["observer"]["database"]["connection_limit"] = 0


def m_connection_sum_over_threshold(apps, platform, secrets):
    apps["psydge"]["database"]["connection_limit"] = 40


def m_duplicate_container_across_apps(apps, platform, secrets):
    _container(apps, "igny8_staging", "igny8_staging_celery_beat")["name"] = "igny8_celery_beat"


def m_duplicate_container_within_app(apps, platform, secrets):
    apps["igny8_staging"]["containers"].append(
        {"name": "igny8_staging_celery_beat", "kind": "celery_beat"})


def m_port_reused_within_app(apps, platform, secrets):
    _container(apps, "psydge", "psydge_channels")["port"] = 8012
    _route(apps, "psydge", "ws.psydge.com")["port"] = 8012


def m_overlapping_prefixes_reverse(apps, platform, secrets):
    apps["igny8"]["redis"]["prefix"] = "igny8_staging:old:"


def m_container_name_other_app(apps, platform, secrets):
    _container(apps, "snapify", "snapify_celery_beat")["name"] = "psydge_celery_beat"


def m_container_not_starting_with_app_key(apps, platform, secrets):
    _container(apps, "snapify", "snapify_celery_beat")["name"] = "beat_snapify"


def m_container_looks_like_other_app(apps, platform, secrets):
    _container(apps, "igny8", "igny8_celery_beat")["name"] = "igny8_staging_beat"


def m_container_is_legacy(apps, platform, secrets):
    _container(apps, "igny8", "igny8_celery_video_worker")["name"] = "igny8_marketing"


def m_two_backends(apps, platform, secrets):
    apps["observer"]["containers"].append(
        {"name": "observer_backend2", "kind": "backend", "port": 8019})


def m_no_backend(apps, platform, secrets):
    _container(apps, "observer", "observer_backend")["kind"] = "node"


def m_backend_port_mismatch(apps, platform, secrets):
    _container(apps, "observer", "observer_backend")["port"] = 8019


def m_celery_with_port(apps, platform, secrets):
    _container(apps, "observer", "observer_celery_beat")["port"] = 8040


def m_unknown_container_kind(apps, platform, secrets):
    _container(apps, "observer", "observer_celery_beat")["kind"] = "frontend"


def m_empty_containers(apps, platform, secrets):
    apps["observer"]["containers"] = []


def m_route_host_duplicate(apps, platform, secrets):
    _route(apps, "observer", "api.observeros.app")["host"] = "api.psydge.com"


def m_route_host_and_path_duplicate(apps, platform, secrets):
    apps["asms"]["routes"].append({"host": "alorig.com", "path": "/builder/", "kind": "static"})


def m_route_host_outside_domains(apps, platform, secrets):
    _route(apps, "astrotiming", "astrotiming.com")["host"] = "astrotiming.net"


def m_route_host_malformed(apps, platform, secrets):
    _route(apps, "astrotiming", "astrotiming.com")["host"] = "Astro_Timing..com"


def m_route_bad_kind(apps, platform, secrets):
    _route(apps, "astrotiming", "astrotiming.com")["kind"] = "redirect"


def m_static_route_with_upstream(apps, platform, secrets):
    _route(apps, "astrotiming", "astrotiming.com")["upstream"] = "astrotiming_backend"


def m_proxy_upstream_other_app(apps, platform, secrets):
    _route(apps, "snapify", "api.snapify.pk")["upstream"] = "psydge_backend"


def m_proxy_upstream_unknown(apps, platform, secrets):
    _route(apps, "snapify", "api.snapify.pk")["upstream"] = "snapify_api"


def m_proxy_upstream_port_mismatch(apps, platform, secrets):
    _route(apps, "psydge", "ws.psydge.com")["port"] = 8012


def m_proxy_without_upstream(apps, platform, secrets):
    del _route(apps, "psydge", "ws.psydge.com")["upstream"]


def m_proxy_upstream_celery(apps, platform, secrets):
    _route(apps, "psydge", "ws.psydge.com")["upstream"] = "psydge_celery_worker"


def m_bad_allow_ips_cidr(apps, platform, secrets):
    _route(apps, "snapify", "admin.snapify.pk")["allow_ips"] = ["10.0.0.0/33"]


def m_allow_ips_host_bits(apps, platform, secrets):
    _route(apps, "snapify", "admin.snapify.pk")["allow_ips"] = ["192.0.2.0/24", "10.1.2.3/8"]


def m_missing_secret_enabled(apps, platform, secrets):
    del secrets["asms"]["db_password"]


def m_missing_secret_block_enabled(apps, platform, secrets):
    del secrets["sitebuilder"]


def m_empty_secret_value(apps, platform, secrets):
    secrets["observer"]["django_secret_key"] = ""


def m_secrets_without_db_password(apps, platform, secrets):
    apps["observer"]["secrets"] = ["django_secret_key", "redis_password"]


def m_ram_over_limit(apps, platform, secrets):
    apps["psydge"]["ram_budget_mb"] = 5000


def m_ram_host_smaller(apps, platform, secrets):
    platform["alorig_host_ram_mb"] = 12288


def m_unknown_key_typo(apps, platform, secrets):
    apps["igny8"]["redis_db"] = 3


def m_unknown_nested_key(apps, platform, secrets):
    apps["igny8"]["redis"]["prefx"] = "igny8:"


def m_missing_required_key(apps, platform, secrets):
    del apps["observer"]["rollout_order"]


def m_bad_app_key(apps, platform, secrets):
    apps["New-App"] = apps.pop("asms")


def m_bad_compose_name(apps, platform, secrets):
    apps["observer"]["compose_name"] = "Observer_OS"


def m_duplicate_compose_name(apps, platform, secrets):
    apps["igny8_staging"]["compose_name"] = "igny8"


def m_compose_name_infra(apps, platform, secrets):
    apps["observer"]["compose_name"] = "infra"


def m_git_source_without_version(apps, platform, secrets):
    apps["observer"]["source"] = {"type": "git", "repo": "git@github.com:alorig/observer.git"}


def m_git_source_unpinned(apps, platform, secrets):
    apps["observer"]["source"] = {"type": "git", "repo": "git@github.com:alorig/observer.git",
                                  "version": "main"}


def m_image_source_latest(apps, platform, secrets):
    apps["observer"]["source"] = {"type": "image", "image": "ghcr.io/alorig/observer:latest"}


def m_bad_source_type(apps, platform, secrets):
    apps["observer"]["source"]["type"] = "svn"


def m_duplicate_rollout_order(apps, platform, secrets):
    apps["asms"]["rollout_order"] = 3


def m_port_80_used_by_app(apps, platform, secrets):
    _container(apps, "sitebuilder", "sitebuilder_payload")["port"] = 80
    _route(apps, "sitebuilder", "cms.alorig.com")["port"] = 80
    _route(apps, "sitebuilder", "*.sites.alorig.com")["port"] = 80


def m_port_postgres_used_by_app(apps, platform, secrets):
    apps["asms"]["backend_port"] = 5432
    _container(apps, "asms", "asms_backend")["port"] = 5432
    _route(apps, "asms", "api.schools.alorig.com")["port"] = 5432


def m_port_out_of_range(apps, platform, secrets):
    _container(apps, "psydge", "psydge_channels")["port"] = 70000


def m_enabled_not_bool(apps, platform, secrets):
    apps["observer"]["enabled"] = "yes"


def m_ram_budget_zero(apps, platform, secrets):
    apps["observer"]["ram_budget_mb"] = 0


def m_bad_image_name(apps, platform, secrets):
    apps["observer"]["image"] = "Observer-Backend:1.0"


def m_platform_missing_threshold(apps, platform, secrets):
    del platform["alorig_thresholds"]["postgres_connections"]


def m_platform_headroom_negative(apps, platform, secrets):
    platform["alorig_ram_headroom_mb"] = -1


def m_platform_infra_budget_bad(apps, platform, secrets):
    platform["alorig_infra_ram_budget_mb"]["redis"] = "512M"


def m_media_relative_path(apps, platform, secrets):
    apps["igny8"]["media"] = {"storage": "data/storage"}


def m_media_bad_name(apps, platform, secrets):
    apps["snapify"]["media"] = {"Uploads": "/data/uploads"}


def m_media_not_mapping(apps, platform, secrets):
    apps["psydge"]["media"] = ["/data/uploads"]


def m_app_environment_not_dict(apps, platform, secrets):
    apps["observer"]["environment"] = ["DEBUG=1"]


# (id, mutation, fragments that must all appear in one message)
INVALID = [
    ("media-relative-path", m_media_relative_path,
     ["app 'igny8'", "media.storage", "absolute path", "'data/storage'"]),
    ("media-bad-name", m_media_bad_name, ["app 'snapify'", "media", "'Uploads'"]),
    ("media-not-mapping", m_media_not_mapping, ["app 'psydge'", "media", "non-empty mapping"]),
    ("app-environment-not-dict", m_app_environment_not_dict,
     ["app 'observer'", "environment", "must be a dict"]),
    ("duplicate-port", m_duplicate_port,
     ["app 'snapify': backend_port 8014 is already used by app 'psydge' "
      "(containers[1].port)"]),
    ("legacy-reserved-ports", m_legacy_reserved_port,
     ["app 'asms'", "backend_port 8022", "alorig_reserved_ports[0]", "8021-8024"]),
    ("reserved-port-int", m_reserved_port_plain_int,
     ["app 'psydge'", "containers[1].port 8013", "alorig_reserved_ports[0]"]),
    ("duplicate-redis-db", m_duplicate_redis_db,
     ["app 'psydge': redis.db 0 is already used by app 'igny8' (redis.db)"]),
    ("redis-db-16", m_redis_db_16, ["app 'astrotiming'", "redis.db", "16", "0-15"]),
    ("redis-db-negative", m_redis_db_negative, ["app 'astrotiming'", "redis.db", "-1", "0-15"]),
    ("redis-db-string", m_redis_db_string, ["app 'astrotiming'", "redis.db", "'6'", "0-15"]),
    ("prefix-without-colon", m_prefix_without_colon,
     ["app 'observer'", "redis.prefix", "'observer'", "end with ':'"]),
    ("overlapping-prefixes", m_overlapping_prefixes,
     ["app 'igny8_staging'", "redis.prefix", "'igny8:staging:'", "overlaps",
      "app 'igny8'", "'igny8:*'"]),
    ("duplicate-prefix", m_duplicate_prefix,
     ["app 'asms'", "redis.prefix", "'snapify:'", "already used by app 'snapify'"]),
    ("duplicate-database-name", m_duplicate_database_name,
     ["app 'asms'", "database.name", "'igny8_db'", "already used by app 'igny8'",
      "(database.name)"]),
    ("duplicate-database-owner", m_duplicate_database_owner,
     ["app 'astrotiming'", "database.owner", "'astrotiming'", "already used by app 'observer'"]),
    ("database-name-too-long", m_database_name_too_long,
     ["app 'observer'", "database.name", "63"]),
    ("database-owner-postgres", m_database_owner_postgres,
     ["app 'observer'", "database.owner", "'postgres'", "system role"]),
    ("connection-limit-zero", m_connection_limit_zero,
     ["app 'observer'", "database.connection_limit", "positive"]),
    ("connection-sum", m_connection_sum_over_threshold,
     ["database.connection_limit", "104", "alorig_thresholds.postgres_connections 80"]),
    ("duplicate-container-across-apps", m_duplicate_container_across_apps,
     ["app 'igny8_staging': containers[2].name 'igny8_celery_beat' is already used by "
      "app 'igny8' (containers[3].name)"]),
    ("duplicate-container-within-app", m_duplicate_container_within_app,
     ["app 'igny8_staging'", "containers[3].name", "'igny8_staging_celery_beat'",
      "already used by app 'igny8_staging' (containers[2].name)"]),
    ("port-reused-within-app", m_port_reused_within_app,
     ["app 'psydge': containers[1].port 8012 is already used by app 'psydge' (backend_port)"]),
    ("overlapping-prefixes-reverse", m_overlapping_prefixes_reverse,
     ["app 'igny8_staging'", "redis.prefix", "'igny8_staging:'", "overlaps",
      "'igny8_staging:old:' of app 'igny8'"]),
    ("container-name-of-other-app", m_container_name_other_app,
     ["app 'snapify'", "containers[2].name", "'psydge_celery_beat'", "must start with",
      "'snapify_'"]),
    ("container-not-starting-with-app-key", m_container_not_starting_with_app_key,
     ["app 'snapify'", "containers[2].name", "'beat_snapify'", "must start with the app key"]),
    ("container-looks-like-other-app", m_container_looks_like_other_app,
     ["app 'igny8'", "containers[3].name", "'igny8_staging_beat'",
      "container of app 'igny8_staging'"]),
    ("container-is-legacy", m_container_is_legacy,
     ["app 'igny8'", "containers[2].name", "'igny8_marketing'", "alorig_legacy_containers"]),
    ("two-backends", m_two_backends,
     ["app 'observer'", "containers", "2 containers of kind backend", "containers[3]"]),
    ("no-backend", m_no_backend,
     ["app 'observer'", "containers", "no container of kind backend"]),
    ("backend-port-mismatch", m_backend_port_mismatch,
     ["app 'observer'", "containers[0].port", "8019", "does not match backend_port 8018"]),
    ("celery-with-port", m_celery_with_port,
     ["app 'observer'", "containers[2].port", "celery_beat"]),
    ("unknown-container-kind", m_unknown_container_kind,
     ["app 'observer'", "containers[2].kind", "'frontend'"]),
    ("empty-containers", m_empty_containers,
     ["app 'observer'", "containers", "non-empty list"]),
    ("route-host-duplicate", m_route_host_duplicate,
     ["app 'observer'", "routes[1]", "'api.psydge.com'", "already used by app 'psydge'",
      "(routes[1])"]),
    ("route-host-path-duplicate", m_route_host_and_path_duplicate,
     ["app 'asms'", "routes[2]", "'alorig.com'", "'/builder'",
      "already used by app 'sitebuilder' (routes[0])"]),
    ("route-host-outside-domains", m_route_host_outside_domains,
     ["app 'astrotiming'", "routes[0].host", "'astrotiming.net'", "alorig_domains"]),
    ("route-host-malformed", m_route_host_malformed,
     ["app 'astrotiming'", "routes[0].host", "'Astro_Timing..com'"]),
    ("route-bad-kind", m_route_bad_kind,
     ["app 'astrotiming'", "routes[0].kind", "'redirect'"]),
    ("static-route-with-upstream", m_static_route_with_upstream,
     ["app 'astrotiming'", "routes[0].upstream", "static route"]),
    ("proxy-upstream-other-app", m_proxy_upstream_other_app,
     ["app 'snapify'", "routes[1].upstream", "'psydge_backend'", "container of app 'psydge'"]),
    ("proxy-upstream-unknown", m_proxy_upstream_unknown,
     ["app 'snapify'", "routes[1].upstream", "'snapify_api'", "not a container of app"]),
    ("proxy-upstream-port-mismatch", m_proxy_upstream_port_mismatch,
     ["app 'psydge'", "routes[2].port", "8012", "port 8013 of container 'psydge_channels'"]),
    ("proxy-without-upstream", m_proxy_without_upstream,
     ["app 'psydge'", "routes[2]", "missing required key 'upstream'"]),
    ("proxy-upstream-celery", m_proxy_upstream_celery,
     ["app 'psydge'", "routes[2].upstream", "'psydge_celery_worker'", "serves no port"]),
    ("bad-allow-ips-cidr", m_bad_allow_ips_cidr,
     ["app 'snapify'", "routes[3].allow_ips[0]", "'10.0.0.0/33'"]),
    ("allow-ips-host-bits", m_allow_ips_host_bits,
     ["app 'snapify'", "routes[3].allow_ips[1]", "'10.1.2.3/8'"]),
    ("missing-secret-enabled", m_missing_secret_enabled,
     ["app 'asms': secret 'db_password' missing from vault_alorig_app_secrets['asms']"]),
    ("missing-secret-block", m_missing_secret_block_enabled,
     ["app 'sitebuilder': secret 'payload_secret' missing from "
      "vault_alorig_app_secrets['sitebuilder']"]),
    ("empty-secret", m_empty_secret_value,
     ["app 'observer': secret 'django_secret_key' in vault_alorig_app_secrets['observer'] "
      "is empty"]),
    ("secrets-list-without-db-password", m_secrets_without_db_password,
     ["app 'observer'", "secrets", "'db_password'"]),
    ("ram-over-limit", m_ram_over_limit,
     ["RAM budget: apps 10480 MB + infrastructure 2560 MB + OS 1024 MB = 14064 MB exceeds "
      "13312 MB (host 16384 MB - headroom 3072 MB)", "psydge 5000 MB"]),
    ("ram-host-smaller", m_ram_host_smaller,
     ["RAM budget", "10856 MB exceeds 9216 MB (host 12288 MB - headroom 3072 MB)"]),
    ("unknown-key-typo", m_unknown_key_typo,
     ["app 'igny8'", "redis_db is an unknown key"]),
    ("unknown-nested-key", m_unknown_nested_key,
     ["app 'igny8'", "redis.prefx is an unknown key"]),
    ("missing-required-key", m_missing_required_key,
     ["app 'observer'", "missing required key 'rollout_order'"]),
    ("bad-app-key", m_bad_app_key, ["app 'New-App'", "app key must match"]),
    ("bad-compose-name", m_bad_compose_name,
     ["app 'observer'", "compose_name", "'Observer_OS'"]),
    ("duplicate-compose-name", m_duplicate_compose_name,
     ["app 'igny8_staging'", "compose_name", "'igny8'", "already used by app 'igny8'"]),
    ("compose-name-infra", m_compose_name_infra,
     ["app 'observer'", "compose_name", "docker-compose.infra.yml"]),
    ("git-source-without-version", m_git_source_without_version,
     ["app 'observer'", "source", "missing required key 'version'"]),
    ("git-source-unpinned", m_git_source_unpinned,
     ["app 'observer'", "source.version", "'main'", "not pinned"]),
    ("image-source-latest", m_image_source_latest,
     ["app 'observer'", "source.image", "latest"]),
    ("bad-source-type", m_bad_source_type, ["app 'observer'", "source.type", "'svn'"]),
    ("duplicate-rollout-order", m_duplicate_rollout_order,
     ["app 'asms'", "rollout_order", "3", "already used by app 'psydge' (rollout_order)"]),
    ("port-80-used-by-app", m_port_80_used_by_app,
     ["app 'sitebuilder'", "containers[1].port", "80", "shared infrastructure (Caddy HTTP)"]),
    ("port-5432-used-by-app", m_port_postgres_used_by_app,
     ["app 'asms'", "backend_port", "5432", "shared infrastructure (PostgreSQL)"]),
    ("port-out-of-range", m_port_out_of_range,
     ["app 'psydge'", "containers[1].port", "70000", "1024-65535"]),
    ("enabled-not-bool", m_enabled_not_bool, ["app 'observer'", "enabled", "'yes'"]),
    ("ram-budget-zero", m_ram_budget_zero, ["app 'observer'", "ram_budget_mb", "positive"]),
    ("bad-image-name", m_bad_image_name,
     ["app 'observer'", "image", "'Observer-Backend:1.0'", "without tag"]),
    ("platform-missing-threshold", m_platform_missing_threshold,
     ["platform", "alorig_thresholds.postgres_connections is not defined"]),
    ("platform-headroom-negative", m_platform_headroom_negative,
     ["platform", "alorig_ram_headroom_mb", "non-negative", "-1"]),
    ("platform-infra-budget-bad", m_platform_infra_budget_bad,
     ["platform", "alorig_infra_ram_budget_mb.redis", "'512M'"]),
]


@pytest.mark.parametrize("mutation,fragments", [pytest.param(m, f, id=i) for i, m, f in INVALID])
def test_invalid_registry(registry, mutation, fragments):
    apps, platform, secrets = registry
    mutation(apps, platform, secrets)
    errors = validate_registry(apps, platform, secrets)
    assert errors, "the mutation was not detected"
    matching = [e for e in errors if all(f in e for f in fragments)]
    assert matching, "no single error contains %r; errors:\n%s" % (fragments, "\n".join(errors))


def test_mutation_ids_are_distinct():
    ids = [i for i, _m, _f in INVALID]
    assert len(ids) == len(set(ids)) and len(ids) >= 25


def test_disabled_app_secrets_not_required(registry):
    apps, platform, secrets = registry
    apps["asms"]["enabled"] = False
    del secrets["asms"]
    assert validate_registry(apps, platform, secrets) == []


def test_disabled_app_keeps_its_reservations(registry):
    apps, platform, secrets = registry
    apps["igny8_staging"]["enabled"] = False
    apps["observer"]["redis"]["db"] = 1
    errors = validate_registry(apps, platform, secrets)
    assert "app 'observer': redis.db 1 is already used by app 'igny8_staging' (redis.db)" \
        in errors


def test_disabled_app_not_counted_in_ram(registry):
    apps, platform, secrets = registry
    apps["psydge"]["ram_budget_mb"] = 5000
    apps["psydge"]["enabled"] = False
    del secrets["psydge"]
    assert validate_registry(apps, platform, secrets) == []


def test_missing_secret_error_for_each_enabled_app_only(registry):
    apps, platform, _secrets = registry
    apps["asms"]["enabled"] = False
    errors = validate_registry(apps, platform, {})
    assert not any("'asms'" in e for e in errors)
    assert "app 'igny8': secret 'db_password' missing from vault_alorig_app_secrets['igny8']" \
        in errors


def test_reserved_port_entry_malformed(registry):
    apps, platform, secrets = registry
    platform["alorig_reserved_ports"] = ["8024-8021"]
    errors = validate_registry(apps, platform, secrets)
    assert any("alorig_reserved_ports[0]" in e and "'8024-8021'" in e for e in errors)


def test_reserved_ports_default_is_empty(registry):
    apps, platform, secrets = registry
    platform.pop("alorig_reserved_ports", None)
    assert validate_registry(apps, platform, secrets) == []


def test_new_app_entry_is_checked_like_the_others(registry):
    apps, platform, secrets = registry
    new = copy.deepcopy(apps["asms"])
    apps["asms2"] = new
    secrets["asms2"] = dict(secrets["asms"])
    errors = validate_registry(apps, platform, secrets)
    for fragment in ("compose_name 'asms' is already used by app 'asms'",
                     "rollout_order 8 is already used by app 'asms'",
                     "backend_port 8022 is already used by app 'asms' (backend_port)",
                     "redis.db 7 is already used by app 'asms'",
                     "database.name 'asms_db' is already used by app 'asms'",
                     "containers[0].name 'asms_backend' must start with the app key",
                     "routes[0] host 'schools.alorig.com' path '/' is already used by "
                     "app 'asms' (routes[0])"):
        assert any(e.startswith("app 'asms2': ") and fragment in e for e in errors), \
            "%s\n%s" % (fragment, "\n".join(errors))


def test_registry_must_be_a_dict(registry):
    _apps, platform, secrets = registry
    assert validate_registry([], platform, secrets) == [
        "alorig_apps must be a dict of app key -> entry, got list"]


def test_infra_secrets():
    assert validate_infra_secrets({"vault_postgres_superuser_password": "s3cret",
                                   "vault_redis_admin_password": "x"}) == []
    errors = validate_infra_secrets({"vault_postgres_superuser_password": None,
                                     "vault_redis_admin_password": " "})
    assert errors == ["vault: vault_postgres_superuser_password is not defined",
                      "vault: vault_redis_admin_password is empty"]


@pytest.mark.parametrize("hosts,ok", [([], False), (["vps"], True), (["a", "b"], False)])
def test_inventory(hosts, ok):
    errors = validate_inventory({"alorig_vps": hosts, "all": hosts})
    assert (errors == []) is ok
    if not ok:
        assert "group 'alorig_vps' must have exactly one host, found %d" % len(hosts) in errors[0]


def test_secret_with_a_quote_is_rejected_without_its_value(registry):
    apps, platform, secrets = registry
    secrets["snapify"]["django_secret_key"] = "abc'def-VALUE"
    secrets["observer"]["db_password"] = "line\nbreak-VALUE"
    errors = validate_registry(apps, platform, secrets)
    assert any("app 'snapify'" in e and "'django_secret_key'" in e and "single quote" in e
               for e in errors), errors
    assert any("app 'observer'" in e and "'db_password'" in e for e in errors), errors
    assert not any("VALUE" in e for e in errors)
