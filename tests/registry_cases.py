"""The catalogue of invalid (and valid) inputs, shared by the unit tests of the registry model
(tests/unit) and the tests that run each case through site.yml (tests/validate).

A case mutates a copy of ``base_variables()`` -- the variables a run sees: the registry, the
platform settings, a production vault and inventory settings -- and names the fragments
that must all appear in ONE error message (the app or the variable, the key path, the
reason). ``OLD_CASES`` are the registry cases kept from the first validator;
``CASES`` adds every kind the registry model rejects.
"""

import copy
import hashlib
from pathlib import Path

import yaml
from jinja2.nativetypes import NativeEnvironment

ROOT = Path(__file__).resolve().parents[1]

# The variables of the infrastructure vault (production-grade values in the base).
INFRA_VAULT = ("vault_postgres_superuser_password", "vault_redis_admin_password",
               "vault_cloudflare_api_token", "vault_portainer_admin_password",
               "vault_flower_password", "vault_monitoring_postgres_password",
               "vault_monitoring_redis_password")
PLATFORM_KEYS = ("alorig_environment", "alorig_host_ram_mb", "alorig_ram_headroom_mb",
                 "alorig_shared_ram_budget_mb", "alorig_os_ram_budget_mb", "alorig_thresholds",
                 "alorig_domains", "alorig_reserved_ports", "alorig_legacy_containers",
                 "alorig_postgres_max_connections", "alorig_container_memory_weights",
                 "alorig_redis_databases",
                 "alorig_vps_public_ipv4", "alorig_admin_allowlist",
                 "alorig_infra_portainer_enabled", "alorig_infra_flower_enabled",
                 "alorig_placement", "alorig_placement_together")
PLATFORM_KEYS += ("alorig_backup_enabled", "alorig_backup_schedule", "alorig_backup_check_schedule",
                  "alorig_backup_drill_schedule", "alorig_backup_retention",
                  "alorig_backup_max_age_hours", "alorig_backup_drill_max_age_days")
PLATFORM_KEYS += ("alorig_pgbouncer_enabled", "alorig_pgbouncer_max_client_conn",
                  "alorig_redis_maxmemory_policy", "alorig_redis_cache_ttl")
PLATFORM_KEYS += ("alorig_monitoring_enabled", "alorig_monitoring_retention_days",
                  "alorig_monitoring_retention_gb", "alorig_monitoring_scrape_interval_seconds",
                  "alorig_monitoring_alert_for", "alorig_monitoring_tls_expiry_hours",
                  "alorig_monitoring_disk_free_percent", "alorig_monitoring_restart_loop",
                  "alorig_alert_webhooks", "alorig_alert_email")
# The alerts' receivers (group_vars/all/platform.yml alorig_alert_*).
ALERT_VAULT = ("vault_alert_webhook_urls", "vault_alert_smtp_password")
# The backups' vault (roles/backup): the repository passphrase and the SSH key.
BACKUP_VAULT = ("vault_backup_passphrase", "vault_backup_ssh_private_key")
# A public address that no test ever sends traffic to: validation only reads it.
PUBLIC_IPV4 = "1.2.3.4"
# The base inventory's groups: the VPS and the backup host (production needs one).
GROUPS = {"alorig_vps": ["vps"], "alorig_backup": ["backup"], "all": ["vps", "backup"]}


def ssh_private_key():
    """A fresh ed25519 key in OpenSSH format (the vault's vault_backup_ssh_private_key)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption()).decode("ascii")


SSH_PRIVATE_KEY = ssh_private_key()


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
    """(apps, platform) of group_vars/all, rendered."""
    platform = yaml.safe_load((ROOT / "group_vars/all/platform.yml").read_text())
    apps_vars = yaml.safe_load((ROOT / "group_vars/all/apps.yml").read_text())
    variables = dict(platform)
    variables.update(apps_vars)
    variables["alorig_admin_allowlist"] = ["198.51.100.0/24"]
    return _render(apps_vars["alorig_apps"], variables), _render(platform, variables)


def secret_value(*parts):
    """A deterministic, production-grade secret (32 characters, distinct per name)."""
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:24] + "Xy_-Zq8W"


def complete_secrets(apps):
    return {app: {name: secret_value(app, name) for name in entry["secrets"]}
            for app, entry in apps.items()}


def base_variables():
    """Every variable validation reads, valid for production."""
    apps, platform = load_registry()
    variables = {k: v for k, v in platform.items() if not k.startswith("alorig_validate_")}
    variables["alorig_apps"] = apps
    variables["alorig_environment"] = "production"
    variables["alorig_vps_public_ipv4"] = PUBLIC_IPV4
    variables["alorig_admin_allowlist"] = ["198.51.100.0/24"]
    variables["alorig_infra_portainer_enabled"] = True
    variables["alorig_infra_flower_enabled"] = False
    variables["vault_alorig_app_secrets"] = complete_secrets(apps)
    for name in INFRA_VAULT:
        variables[name] = secret_value("infra", name)
    variables["vault_backup_passphrase"] = secret_value("backup", "passphrase")
    variables["vault_backup_ssh_private_key"] = SSH_PRIVATE_KEY
    return variables


def model_inputs(variables, roles_path=None, groups=None, host=None):
    """The registry model's input, built from the variables as group_vars/all/registry.yml does
    (``host``: the inventory host projected for, left out when None)."""
    platform = dict((k, variables[k]) for k in PLATFORM_KEYS if k in variables)
    vault = dict((k, variables.get(k)) for k in INFRA_VAULT + BACKUP_VAULT + ALERT_VAULT)
    vault["vault_alorig_app_secrets"] = variables.get("vault_alorig_app_secrets")
    inputs = {
        "apps": variables.get("alorig_apps"),
        "platform": platform,
        "vault": vault,
        "groups": groups if groups is not None else copy.deepcopy(GROUPS),
        "roles_path": [str(roles_path or ROOT / "roles")],
    }
    if host is not None:
        inputs["host"] = host
    return inputs


def projection(mutate=None):
    """The registry model's projection of the base variables after ``mutate`` (which must
    leave them valid)."""
    from ansible_collections.alorig.platform.plugins.module_utils.registry_model import build
    variables = base_variables()
    if mutate:
        mutate(variables)
    errors, projected = build(model_inputs(variables))
    assert errors == []
    return projected


def secret_values(variables):
    """Every secret value of the variables (tests assert none is ever printed)."""
    values = [variables.get(k) for k in INFRA_VAULT + BACKUP_VAULT]
    values += [variables.get("vault_alert_smtp_password")]
    values += list((variables.get("vault_alert_webhook_urls") or {}).values())
    for app in (variables.get("vault_alorig_app_secrets") or {}).values():
        if isinstance(app, dict):
            values += list(app.values())
    return [v for v in values if isinstance(v, str) and len(v) >= 8]


# -- the first validator's registry cases (kept) ----------------------------------------
# Each mutation changes (apps, platform, secrets) in place.

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
    platform["alorig_shared_ram_budget_mb"]["redis"] = "512M"


def m_media_relative_path(apps, platform, secrets):
    apps["igny8"]["media"] = {"storage": "data/storage"}


def m_media_bad_name(apps, platform, secrets):
    apps["snapify"]["media"] = {"Uploads": "/data/uploads"}


def m_media_not_mapping(apps, platform, secrets):
    apps["psydge"]["media"] = ["/data/uploads"]


def m_app_environment_not_dict(apps, platform, secrets):
    apps["observer"]["environment"] = ["DEBUG=1"]


# (id, mutation, fragments that must all appear in one message)
OLD_CASES = [
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
     ["RAM budget: apps 10480 MB + infrastructure 3024 MB + OS 1024 MB = 14528 MB exceeds "
      "13312 MB (host 16384 MB - headroom 3072 MB)", "psydge 5000 MB"]),
    ("ram-host-smaller", m_ram_host_smaller,
     ["RAM budget", "11320 MB exceeds 9216 MB (host 12288 MB - headroom 3072 MB)"]),
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
     ["platform", "alorig_shared_ram_budget_mb.redis", "'512M'"]),
]




# -- the registry model's cases ---------------------------------------------------------
# Each takes the variables dict ``v`` (see base_variables) and changes it in place.

def _apps(v):
    return v["alorig_apps"]


def _c(v, app, name):
    return _container(v["alorig_apps"], app, name)


def _r(v, app, host):
    return _route(v["alorig_apps"], app, host)


def _set(path_value):
    """A mutation that sets one value: path is a tuple of keys/indexes under the variables."""
    path, value = path_value

    def mutate(v):
        target = v
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = copy.deepcopy(value)
    return mutate


def _del(*path):
    def mutate(v):
        target = v
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
    return mutate


def _do(*mutations):
    def mutate(v):
        for m in mutations:
            m(v)
    return mutate


A = "alorig_apps"
V = "vault_alorig_app_secrets"


def _new_app(v, key, **changes):
    """A copy of astrotiming under a new key, with free ports, DB, prefix and names."""
    entry = copy.deepcopy(_apps(v)["astrotiming"])
    entry.update({"title": key, "compose_name": key.replace("_", "-"), "rollout_order": 20,
                  "ram_budget_mb": 100, "image": key.replace("_", "-") + "-backend",
                  "backend_port": 8090,
                  "database": {"name": key + "_db", "owner": key, "extensions": [],
                               "connection_limit": 2},
                  "redis": {"db": 9, "prefix": key + ":"},
                  "containers": [{"name": key + "_backend", "kind": "backend", "port": 8090},
                                 {"name": key + "_celery_worker", "kind": "celery_worker"},
                                 {"name": key + "_celery_beat", "kind": "celery_beat"}],
                  "routes": [], "role": "astrotiming"})
    entry.update(changes)
    _apps(v)[key] = entry
    v[V][key] = {name: secret_value(key, name) for name in entry["secrets"]}
    return entry


def _shadow_path(v):
    _apps(v)["asms"]["routes"].append({"host": "api.alorig.com", "path": "/builder/admin",
                                       "kind": "proxy", "upstream": "asms_backend",
                                       "port": 8022})


def _shadow_root(v):
    _apps(v)["asms"]["routes"].append({"host": "api.alorig.com", "kind": "proxy",
                                       "upstream": "asms_backend", "port": 8022})


def _shadow_prefix_no_slash(v):
    _apps(v)["observer"]["routes"].append({"host": "alorig.com", "path": "/builder2",
                                           "kind": "static"})


def _shadow_case(v):
    _apps(v)["observer"]["routes"].append({"host": "alorig.com", "path": "/BUILDER",
                                           "kind": "static"})


def _shadow_wildcard(v):
    _apps(v)["asms"]["routes"].append({"host": "shop.sites.alorig.com", "kind": "static"})


def _shadow_subpath_static_under_api(v):
    _apps(v)["psydge"]["routes"].append({"host": "api.snapify.pk", "path": "/ws",
                                         "kind": "websocket", "upstream": "psydge_channels",
                                         "port": 8013})


def _legacy(name):
    def mutate(v):
        v["alorig_legacy_containers"] = v["alorig_legacy_containers"] + [name]
    return mutate


def _secret(app, name, value):
    def mutate(v):
        v[V][app][name] = value
    return mutate


def _env(app, env, container=None):
    def mutate(v):
        if container is None:
            _apps(v)[app]["environment"] = env
        else:
            _c(v, app, container)["environment"] = env
    return mutate


def _same_secret(v):
    v[V]["psydge"]["db_password"] = v[V]["igny8"]["db_password"]


def _same_infra_secret(v):
    v["vault_redis_admin_password"] = v["vault_postgres_superuser_password"]


def _tiny_budget(v):
    _apps(v)["observer"]["ram_budget_mb"] = 10


def _explicit_memory_all(v):
    _c(v, "observer", "observer_backend")["memory_mb"] = 700


def _explicit_memory_over(v):
    _c(v, "snapify", "snapify_backend")["memory_mb"] = 800


def _explicit_memory_tiny(v):
    _c(v, "snapify", "snapify_celery_beat")["memory_mb"] = 4


def _unknown_role(v):
    _apps(v)["asms"]["role"] = "asms_v2"


def _platform_role(v):
    _apps(v)["asms"]["role"] = "caddy"


def _new_app_without_role(v):
    _new_app(v, "newshop")
    del _apps(v)["newshop"]["role"]


def _vault_unknown_app(v):
    v[V]["psydg"] = {"db_password": secret_value("psydg")}


def _vault_unlisted_secret(v):
    v[V]["observer"]["django_secret"] = secret_value("observer", "typo")


def _two_beats(v):
    _apps(v)["observer"]["containers"].append({"name": "observer_celery_beat2",
                                               "kind": "celery_beat"})


def _media_overlap(v):
    _apps(v)["igny8"]["media"]["sites-data"] = "/data/app/storage/sites"


def _media_volume(v):
    _apps(v)["igny8"]["media"]["storage"] = "/data/media/storage"


def _app_key(old, new):
    def mutate(v):
        _apps(v)[new] = _apps(v).pop(old)
        v[V][new] = v[V].pop(old)
    return mutate


def _flower_on(v):
    v["alorig_infra_flower_enabled"] = True
    del v["vault_flower_password"]


def _portainer_no_password(v):
    v["vault_portainer_admin_password"] = ""


def _none_entry(v):
    _apps(v)["asms"] = None


def _int_app_key(v):
    _apps(v)[42] = _apps(v).pop("asms")


def _secret_list(v):
    v[V]["observer"] = ["a", "b"]


class Case:
    def __init__(self, case_id, mutate, fragments, site_only=False, unit_only=False):
        self.id = case_id
        self.mutate = mutate
        self.fragments = fragments
        self.site_only = site_only   # role settings: checked by role_inputs in site.yml
        self.unit_only = unit_only   # not expressible as extra vars


def _wrap_old(mutation):
    def mutate(v):
        mutation(v["alorig_apps"], v, v["vault_alorig_app_secrets"])
    return mutate


NEW_CASES = [
    # -- malformed values: a mapping or a list where a name is expected ----------------
    Case("title-dict", _set(((A, "psydge", "title"), {"en": "Psydge"})),
         ["app 'psydge'", "title", "non-empty string"]),
    Case("compose-name-list", _set(((A, "psydge", "compose_name"), ["psydge"])),
         ["app 'psydge'", "compose_name", "['psydge']"]),
    Case("image-dict", _set(((A, "psydge", "image"), {"name": "psydge"})),
         ["app 'psydge'", "image", "without tag"]),
    Case("source-list", _set(((A, "psydge", "source"), ["local"])),
         ["app 'psydge'", "source", "must be a dict, got list"]),
    Case("source-type-list", _set(((A, "psydge", "source", "type"), ["local"])),
         ["app 'psydge'", "source.type", "must be one of"]),
    Case("source-path-dict", _set(((A, "psydge", "source", "path"), {"a": 1})),
         ["app 'psydge'", "source.path", "non-empty string"]),
    Case("database-list", _set(((A, "psydge", "database"), ["psydge_db"])),
         ["app 'psydge'", "database", "must be a dict, got list"]),
    Case("database-name-dict", _set(((A, "psydge", "database", "name"), {"n": "x"})),
         ["app 'psydge'", "database.name", "must match"]),
    Case("database-owner-list", _set(((A, "psydge", "database", "owner"), ["psydge"])),
         ["app 'psydge'", "database.owner", "must match"]),
    Case("extensions-string", _set(((A, "snapify", "database", "extensions"), "pg_trgm")),
         ["app 'snapify'", "database.extensions", "must be a list"]),
    Case("extension-dict", _set(((A, "snapify", "database", "extensions"), [{"n": 1}])),
         ["app 'snapify'", "database.extensions[0]", "must match"]),
    Case("connection-limit-string", _set(((A, "psydge", "database", "connection_limit"), "10")),
         ["app 'psydge'", "database.connection_limit", "positive integer", "'10'"]),
    Case("redis-list", _set(((A, "psydge", "redis"), [2, "psydge:"])),
         ["app 'psydge'", "redis", "must be a dict, got list"]),
    Case("redis-prefix-dict", _set(((A, "psydge", "redis", "prefix"), {"p": "psydge:"})),
         ["app 'psydge'", "redis.prefix", "must match"]),
    Case("redis-db-bool", _set(((A, "psydge", "redis", "db"), True)),
         ["app 'psydge'", "redis.db", "True", "0-15"]),
    Case("containers-dict", _set(((A, "psydge", "containers"), {"backend": "psydge_backend"})),
         ["app 'psydge'", "containers", "non-empty list, got dict"]),
    Case("container-string", _set(((A, "psydge", "containers", 3), "psydge_celery_beat")),
         ["app 'psydge'", "containers[3]", "must be a dict, got string"]),
    Case("container-name-dict", _set(((A, "psydge", "containers", 3, "name"), {"n": "x"})),
         ["app 'psydge'", "containers[3].name", "must match"]),
    Case("container-kind-list", _set(((A, "psydge", "containers", 3, "kind"), ["celery_beat"])),
         ["app 'psydge'", "containers[3].kind", "must be one of"]),
    Case("container-command-dict", _set(((A, "psydge", "containers", 3, "command"), {"a": 1})),
         ["app 'psydge'", "containers[3].command", "non-empty string or list"]),
    Case("container-queues-string", _set(((A, "igny8", "containers", 2, "queues"), "video")),
         ["app 'igny8'", "containers[2].queues", "non-empty list of queue names"]),
    Case("container-memory-string", _set(((A, "psydge", "containers", 3, "memory_mb"), "64m")),
         ["app 'psydge'", "containers[3].memory_mb", "positive integer", "'64m'"]),
    Case("container-port-string", _set(((A, "psydge", "containers", 1, "port"), "8013")),
         ["app 'psydge'", "containers[1].port", "must be an integer", "'8013'"]),
    Case("routes-dict", _set(((A, "psydge", "routes"), {"host": "psydge.com"})),
         ["app 'psydge'", "routes", "must be a list, got dict"]),
    Case("route-list", _set(((A, "psydge", "routes", 0), ["psydge.com", "static"])),
         ["app 'psydge'", "routes[0]", "must be a dict, got list"]),
    Case("route-host-list", _set(((A, "psydge", "routes", 0, "host"), ["psydge.com"])),
         ["app 'psydge'", "routes[0].host", "is not a non-empty string"]),
    Case("route-path-dict", _set(((A, "sitebuilder", "routes", 0, "path"), {"p": "/b"})),
         ["app 'sitebuilder'", "routes[0].path", "must start with '/'"]),
    Case("route-upstream-list", _set(((A, "psydge", "routes", 1, "upstream"), ["psydge_backend"])),
         ["app 'psydge'", "routes[1].upstream", "must be the name of a container"]),
    Case("route-upstream-dict", _set(((A, "psydge", "routes", 1, "upstream"), {"c": 1})),
         ["app 'psydge'", "routes[1].upstream", "must be the name of a container"]),
    Case("route-port-string", _set(((A, "psydge", "routes", 1, "port"), "8012")),
         ["app 'psydge'", "routes[1].port", "must be an integer"]),
    Case("route-kind-dict", _set(((A, "psydge", "routes", 1, "kind"), {"k": "proxy"})),
         ["app 'psydge'", "routes[1].kind", "must be one of"]),
    Case("allow-ips-dict", _set(((A, "snapify", "routes", 3, "allow_ips"), {"office": "1.2.3.0/24"})),
         ["app 'snapify'", "routes[3].allow_ips", "must be a list"]),
    Case("allow-ips-item-int", _set(((A, "snapify", "routes", 3, "allow_ips"), [10])),
         ["app 'snapify'", "routes[3].allow_ips[0]", "must be a string"]),
    Case("secrets-dict", _set(((A, "psydge", "secrets"), {"db_password": "x"})),
         ["app 'psydge'", "secrets", "must be a list of secret names"]),
    Case("secret-name-list", _set(((A, "psydge", "secrets", 0), ["django_secret_key"])),
         ["app 'psydge'", "secrets[0]", "must match"]),
    Case("media-value-list", _set(((A, "igny8", "media", "storage"), ["/data/app/storage"])),
         ["app 'igny8'", "media.storage", "absolute path"]),
    Case("environment-value-dict", _env("psydge", {"FEATURES": {"a": 1}}),
         ["app 'psydge'", "environment.FEATURES", "string or a number"]),
    Case("environment-key-bad", _env("psydge", {"not a name": "x"}),
         ["app 'psydge'", "environment", "not an environment variable name"]),
    Case("role-list", _set(((A, "asms", "role"), ["asms"])),
         ["app 'asms'", "role", "must be a role name"]),
    Case("entry-none", _none_entry, ["app 'asms'", "entry must be a dict, got null"]),
    Case("app-key-int", _int_app_key, ["app 42", "app key must match"], unit_only=True),
    Case("vault-app-secrets-list", _secret_list,
         ["app 'observer'", "vault_alorig_app_secrets['observer'] must be a dict"]),
    Case("domains-string", _set((("alorig_domains",), "igny8.com")),
         ["platform", "alorig_domains", "non-empty list", "got string"]),
    Case("thresholds-list", _set((("alorig_thresholds",), [13312, 80])),
         ["platform", "alorig_thresholds must be a dict, got list"]),
    Case("reserved-ports-dict", _set((("alorig_reserved_ports",), {"ports": "8021-8024"})),
         ["platform", "alorig_reserved_ports must be a list, got dict"]),
    Case("legacy-dict", _set((("alorig_legacy_containers",), {"gitea": True})),
         ["platform", "alorig_legacy_containers must be a list", "got dict"]),
    Case("weights-list", _set((("alorig_container_memory_weights",), [4, 3])),
         ["platform", "alorig_container_memory_weights must be a dict"]),
    Case("weights-missing-kind", _del("alorig_container_memory_weights", "node"),
         ["platform", "alorig_container_memory_weights.node is not defined"]),
    Case("redis-databases-zero", _set((("alorig_redis_databases",), 0)),
         ["platform: alorig_redis_databases must be an integer 1-1024"]),
    Case("redis-db-above-databases", _do(_set((("alorig_redis_databases",), 8)),
                                          _set(((A, "asms", "redis", "db"), 8))),
         ["app 'asms'", "redis.db", "0-7"]),
    Case("weights-zero", _set((("alorig_container_memory_weights", "backend"), 0)),
         ["platform", "alorig_container_memory_weights.backend", "positive number"]),
    # -- routes that shadow another app's route ------------------------------------------
    Case("route-longer-path-under-other-app", _shadow_path,
         ["app 'asms'", "routes[2]", "'api.alorig.com'", "'/builder/admin'",
          "overlaps path '/builder' of app 'sitebuilder'"]),
    Case("route-root-over-other-app-path", _shadow_root,
         ["app 'asms'", "routes[2]", "'api.alorig.com'", "overlaps path '/builder'",
          "app 'sitebuilder'"]),
    Case("route-prefix-without-slash", _shadow_prefix_no_slash,
         ["app 'observer'", "routes[2]", "'/builder2'", "overlaps path '/builder'"]),
    Case("route-path-other-case", _shadow_case,
         ["app 'observer'", "routes[2]", "'/BUILDER'", "already used by app 'sitebuilder'"]),
    Case("route-host-under-other-app-wildcard", _shadow_wildcard,
         ["app 'asms'", "routes[2]", "'shop.sites.alorig.com'", "'*.sites.alorig.com'",
          "app 'sitebuilder'"]),
    Case("route-path-under-other-app-root", _shadow_subpath_static_under_api,
         ["app 'psydge'", "routes[3]", "'api.snapify.pk'", "'/ws'", "app 'snapify'"]),
    # -- names the platform uses ---------------------------------------------------------
    Case("app-key-platform", _app_key("asms", "alorig"),
         ["app 'alorig'", "must not be 'alorig'"]),
    Case("app-key-platform-prefix", _app_key("asms", "alorig_schools"),
         ["app 'alorig_schools'", "start with 'alorig_'"]),
    Case("app-key-redis-default", _app_key("asms", "default"),
         ["app 'default'", "Redis's built-in user"]),
    Case("container-candidate", _set(((A, "psydge", "containers", 3, "name"), "psydge_candidate")),
         ["app 'psydge'", "containers[3].name", "'psydge_candidate'", "candidate container"]),
    Case("container-migrate", _set(((A, "psydge", "containers", 3, "name"), "psydge_migrate")),
         ["app 'psydge'", "containers[3].name", "'psydge_migrate'", "migrate container"]),
    Case("container-export", _set(((A, "psydge", "containers", 3, "name"),
                                   "psydge_export_frontend")),
         ["app 'psydge'", "containers[3].name", "export frontend container"]),
    Case("container-too-long", _set(((A, "psydge", "containers", 3, "name"), "psydge_" + "b" * 60)),
         ["app 'psydge'", "containers[3].name", "longer than 63"]),
    Case("compose-name-caddy", _set(((A, "observer", "compose_name"), "caddy")),
         ["app 'observer'", "compose_name", "docker-compose.caddy.yml"]),
    Case("database-template1", _set(((A, "observer", "database", "name"), "template1")),
         ["app 'observer'", "database.name", "system database"]),
    Case("owner-public", _set(((A, "observer", "database", "owner"), "public")),
         ["app 'observer'", "database.owner", "'public'", "system role"]),
    Case("owner-pg-monitor", _set(((A, "observer", "database", "owner"), "pg_monitor")),
         ["app 'observer'", "database.owner", "'pg_monitor'", "system role"]),
    Case("owner-current-user", _set(((A, "observer", "database", "owner"), "current_user")),
         ["app 'observer'", "database.owner", "system role"]),
    Case("owner-platform", _set(((A, "observer", "database", "owner"), "alorig_backup")),
         ["app 'observer'", "database.owner", "platform's namespace"]),
    Case("redis-prefix-platform", _set(((A, "observer", "redis", "prefix"), "alorig:")),
         ["app 'observer'", "redis.prefix", "platform's namespace"]),
    Case("role-platform", _platform_role, ["app 'asms'", "role", "'caddy' is a platform role"]),
    Case("role-unknown", _unknown_role, ["app 'asms'", "role", "'asms_v2' is not a role"]),
    Case("new-app-without-role", _new_app_without_role,
         ["app 'newshop'", "role", "no role named 'newshop'"]),
    # -- the legacy prune list -----------------------------------------------------------
    Case("legacy-shared-redis", _legacy("alorig_redis"),
         ["alorig_legacy_containers[6]", "'alorig_redis'", "shared infrastructure"]),
    Case("legacy-shared-postgres", _legacy("alorig_postgres"),
         ["alorig_legacy_containers[6]", "'alorig_postgres'", "shared infrastructure"]),
    Case("legacy-caddy", _legacy("alorig_caddy"),
         ["alorig_legacy_containers[6]", "'alorig_caddy'"]),
    Case("legacy-app-container", _legacy("psydge_backend"),
         ["app 'psydge'", "containers[0].name", "alorig_legacy_containers[6]"]),
    Case("legacy-one-shot", _legacy("snapify_migrate"),
         ["alorig_legacy_containers[6]", "'snapify_migrate'", "app 'snapify'"]),
    Case("legacy-not-a-name", _legacy("igny8 frontend"),
         ["alorig_legacy_containers[6]", "not a container name"]),
    # -- memory limits -------------------------------------------------------------------
    Case("memory-below-docker-minimum", _explicit_memory_tiny,
         ["app 'snapify'", "containers[2].memory_mb", "Docker's minimum"]),
    Case("memory-above-budget", _explicit_memory_over,
         ["app 'snapify'", "containers[0].memory_mb", "800", "ram_budget_mb 700"]),
    Case("memory-explicit-leaves-nothing", _explicit_memory_all,
         ["app 'observer'", "ram_budget_mb", "leaves nothing", "observer_celery_worker"]),
    Case("memory-split-below-minimum", _tiny_budget,
         ["app 'observer'", "containers[2]", "'observer_celery_beat' would get", "Docker's minimum"]),
    # -- production inputs ---------------------------------------------------------------
    Case("vault-placeholder", _secret("psydge", "db_password", "CHANGE-ME"),
         ["app 'psydge'", "secret 'db_password'", "placeholder"]),
    Case("vault-placeholder-lower", _secret("snapify", "django_secret_key", "changeme-please-0123456789"),
         ["app 'snapify'", "secret 'django_secret_key'", "placeholder"]),
    Case("vault-short", _secret("astrotiming", "redis_password", "hunter2"),
         ["app 'astrotiming'", "secret 'redis_password'", "shorter than 16"]),
    Case("vault-low-entropy", _secret("asms", "redis_password", "aaaaaaaaaaaaaaaaaaab"),
         ["app 'asms'", "secret 'redis_password'", "distinct characters"]),
    Case("vault-reused-across-apps", _same_secret,
         ["vault_alorig_app_secrets['psydge'].db_password", "same value as",
          "vault_alorig_app_secrets['igny8'].db_password"]),
    Case("vault-reused-infra", _same_infra_secret,
         ["vault_redis_admin_password", "same value as", "vault_postgres_superuser_password"]),
    Case("vault-cloudflare-missing", _del("vault_cloudflare_api_token"),
         ["vault: vault_cloudflare_api_token is not defined"]),
    Case("vault-cloudflare-empty", _set((("vault_cloudflare_api_token",), "  ")),
         ["vault: vault_cloudflare_api_token is empty"]),
    Case("vault-cloudflare-space", _set((("vault_cloudflare_api_token",), "abc def ghi jkl mno pqr")),
         ["vault: vault_cloudflare_api_token", "white space"]),
    Case("vault-cloudflare-placeholder", _set((("vault_cloudflare_api_token",), "CHANGE-ME")),
         ["vault: vault_cloudflare_api_token", "placeholder"]),
    Case("vault-postgres-missing", _del("vault_postgres_superuser_password"),
         ["vault: vault_postgres_superuser_password is not defined"]),
    Case("vault-portainer-empty", _portainer_no_password,
         ["vault: vault_portainer_admin_password is empty"]),
    Case("vault-flower-enabled-missing", _flower_on,
         ["vault: vault_flower_password is not defined"]),
    Case("vault-unknown-app", _vault_unknown_app,
         ["vault", "vault_alorig_app_secrets['psydg']", "belongs to no app"]),
    Case("vault-unlisted-secret", _vault_unlisted_secret,
         ["app 'observer'", "'django_secret'", "does not name"]),
    Case("vault-secret-number-short", _secret("observer", "db_password", 12345),
         ["app 'observer'", "secret 'db_password'", "shorter than 16"]),
    Case("ipv4-missing", _set((("alorig_vps_public_ipv4",), None)),
         ["platform: alorig_vps_public_ipv4 is not defined"]),
    Case("ipv4-malformed", _set((("alorig_vps_public_ipv4",), "203.0.113.300")),
         ["platform: alorig_vps_public_ipv4", "'203.0.113.300'", "not an IPv4 address"]),
    Case("ipv4-private", _set((("alorig_vps_public_ipv4",), "10.0.0.5")),
         ["platform: alorig_vps_public_ipv4 10.0.0.5", "not a public address"]),
    Case("ipv4-loopback", _set((("alorig_vps_public_ipv4",), "127.0.0.1")),
         ["platform: alorig_vps_public_ipv4 127.0.0.1", "not a public address"]),
    Case("ipv4-documentation", _set((("alorig_vps_public_ipv4",), "203.0.113.10")),
         ["platform: alorig_vps_public_ipv4 203.0.113.10", "not a public address"]),
    Case("ipv4-is-v6", _set((("alorig_vps_public_ipv4",), "2001:4860::1")),
         ["platform: alorig_vps_public_ipv4", "not an IPv4 address"]),
    Case("allowlist-internet", _set((("alorig_admin_allowlist",), ["0.0.0.0/0"])),
         ["platform: alorig_admin_allowlist[0]", "'0.0.0.0/0'", "whole internet"]),
    Case("allowlist-internet-v6", _set((("alorig_admin_allowlist",), ["198.51.100.0/24", "::/0"])),
         ["platform: alorig_admin_allowlist[1]", "'::/0'", "whole internet"]),
    Case("allowlist-too-wide", _set((("alorig_admin_allowlist",), ["64.0.0.0/2"])),
         ["platform: alorig_admin_allowlist[0]", "'64.0.0.0/2'", "wider than a /8"]),
    Case("allowlist-malformed", _set((("alorig_admin_allowlist",), ["office"])),
         ["platform: alorig_admin_allowlist[0]", "'office'", "not a valid IP"]),
    Case("route-allowlist-internet", _set(((A, "snapify", "routes", 3, "allow_ips"), ["0.0.0.0/0"])),
         ["app 'snapify'", "routes[3].allow_ips[0]", "whole internet"]),
    Case("environment-name", _set((("alorig_environment",), "prod")),
         ["platform: alorig_environment must be one of production, local", "'prod'"]),
    # -- an app's environment re-pointing it at another app's data -----------------------
    Case("env-database-url", _env("psydge", {"DATABASE_URL": "postgres://igny8:x@alorig_postgres/igny8_db"}),
         ["app 'psydge'", "environment.DATABASE_URL", "set by the platform"]),
    Case("env-redis-url", _env("psydge", {"REDIS_URL": "redis://igny8:x@alorig_redis:6379/0"}),
         ["app 'psydge'", "environment.REDIS_URL", "set by the platform"]),
    Case("env-broker-url", _env("psydge", {"CELERY_BROKER_URL": "redis://alorig_redis:6379/0"}),
         ["app 'psydge'", "environment.CELERY_BROKER_URL", "database, Redis or broker"]),
    Case("env-db-host", _env("snapify", {"DB_NAME": "igny8_db"}),
         ["app 'snapify'", "environment.DB_NAME", "database, Redis or broker"]),
    Case("env-pg-vars", _env("snapify", {"PGDATABASE": "igny8_db"}),
         ["app 'snapify'", "environment.PGDATABASE", "database, Redis or broker"]),
    Case("env-key-prefix", _env("snapify", {"REDIS_KEY_PREFIX": "igny8:"}),
         ["app 'snapify'", "environment.REDIS_KEY_PREFIX", "set by the platform"]),
    Case("env-value-url", _env("observer", {"ANALYTICS_DSN": "postgresql://igny8@alorig_postgres/igny8_db"}),
         ["app 'observer'", "environment.ANALYTICS_DSN", "connection URL"]),
    Case("env-value-service", _env("observer", {"STATS_HOST": "alorig_redis"}),
         ["app 'observer'", "environment.STATS_HOST", "shared service"]),
    Case("env-container-level", _env("psydge", {"DATABASE_URL": "postgres://x"}, "psydge_celery_worker"),
         ["app 'psydge'", "containers[2].environment.DATABASE_URL", "set by the platform"]),
    Case("env-secret-key", _env("astrotiming", {"DJANGO_SECRET_KEY": "plain"}),
         ["app 'astrotiming'", "environment.DJANGO_SECRET_KEY", "set by the platform"]),
    Case("secret-named-database-url", _do(
        _set(((A, "astrotiming", "secrets"), ["django_secret_key", "db_password", "redis_password",
                                              "database_url"])),
        _secret("astrotiming", "database_url", secret_value("a", "d"))),
         ["app 'astrotiming'", "secrets[3]", "'database_url'", "DATABASE_URL"]),
    # -- thresholds that contradict the host --------------------------------------------
    Case("threshold-ram-above-host", _set((("alorig_thresholds", "steady_state_ram_mb"), 20000)),
         ["platform: alorig_thresholds.steady_state_ram_mb 20000", "above alorig_host_ram_mb 16384"]),
    Case("threshold-redis-above-host", _set((("alorig_thresholds", "redis_memory_mb"), 32768)),
         ["platform: alorig_thresholds.redis_memory_mb 32768", "above alorig_host_ram_mb"]),
    Case("threshold-postgres-above-max", _set((("alorig_thresholds", "postgres_connections"), 120)),
         ["alorig_thresholds.postgres_connections 120", "alorig_postgres_max_connections 100"]),
    Case("max-connections-below-alarm", _set((("alorig_postgres_max_connections",), 60)),
         ["alorig_thresholds.postgres_connections 80", "alorig_postgres_max_connections 60"]),
    Case("connection-limit-above-max", _do(
        _set((("alorig_thresholds", "postgres_connections"), 300)),
        _set((("alorig_postgres_max_connections",), 400)),
        _set(((A, "igny8", "database", "connection_limit"), 500))),
         ["app 'igny8'", "database.connection_limit", "500", "alorig_postgres_max_connections 400"]),
    # -- other new rules -----------------------------------------------------------------
    Case("two-beats", _two_beats, ["app 'observer'", "containers", "2 celery_beat"]),
    Case("queues-on-backend", _set(((A, "psydge", "containers", 0, "queues"), ["a"])),
         ["app 'psydge'", "containers[0].queues", "only a celery_worker"]),
    Case("media-overlap", _media_overlap,
         ["app 'igny8'", "media.sites-data", "overlaps media.storage"]),
    Case("media-inside-volume", _media_volume,
         ["app 'igny8'", "media.storage", "inside a volume"]),
    Case("media-colon", _set(((A, "igny8", "media", "storage"), "/data/a:b")),
         ["app 'igny8'", "media.storage", "without '..' or ':'"]),
    Case("extension-bad", _set(((A, "snapify", "database", "extensions"), ["pg trgm"])),
         ["app 'snapify'", "database.extensions[0]", "'pg trgm'"]),
    # -- role settings (alorig.platform.role_inputs: site.yml only) ----------------------
    Case("role-setting-choice", _set((("caddy_tls_mode",), "letsencrypt")),
         ["role caddy", "caddy_tls_mode", "letsencrypt"], site_only=True),
    Case("role-setting-typo", _set((("caddy_tls_mod",), "internal")),
         ["role caddy", "caddy_tls_mod is not a setting", "did you mean caddy_tls_mode"],
         site_only=True),
    Case("role-setting-docker-source", _set((("alorig_infra_docker_source",), "docker-repo")),
         ["role alorig_infra", "alorig_infra_docker_source", "docker-repo"], site_only=True),
    Case("role-setting-type", _set((("alorig_app_gunicorn_workers",), "two")),
         ["role alorig_app", "alorig_app_gunicorn_workers", "int"], site_only=True),
    Case("role-setting-stale-name", _set((("alorig_infra_ram_budget_mb",), {"postgres": 1536})),
         ["role alorig_infra", "alorig_infra_ram_budget_mb is not a setting"], site_only=True),
    Case("role-setting-postgres-typo", _set((("postgres_db_conection_budget",), 80)),
         ["role postgres_db", "postgres_db_conection_budget", "did you mean postgres_db_connection_budget"],
         site_only=True),
    Case("role-setting-host-typo", _set((("host_baseline_ssh_permit_rootlogin",), True)),
         ["role host_baseline", "host_baseline_ssh_permit_rootlogin is not a setting",
          "did you mean host_baseline_ssh_permit_root_login"], site_only=True),
    Case("role-setting-host-port", _set((("host_baseline_firewall_extra_tcp_ports",), ["ssh2"])),
         ["role host_baseline", "host_baseline_firewall_extra_tcp_ports", "int"], site_only=True),
    # monitoring's settings too: a bad one used to pass validation and fail only when
    # the monitoring role started, after the host, Docker and the shared services changed
    Case("role-setting-monitoring-type", _set((("monitoring_prometheus_port",), "nine")),
         ["role monitoring", "monitoring_prometheus_port", "int"], site_only=True),
    # -- backups (roles/backup): the operator's settings and the vault ------------------
    Case("backup-retention-typo", _set((("alorig_backup_retention",), {"dayly": 7, "weekly": 4})),
         ["platform: alorig_backup_retention.dayly", "not a retention key"]),
    Case("backup-retention-negative", _set((("alorig_backup_retention",), {"daily": -1})),
         ["alorig_backup_retention.daily", "non-negative integer"]),
    Case("backup-schedule-typo", _set((("alorig_backup_schedule",), "every night at 3")),
         ["platform: alorig_backup_schedule", "not a systemd calendar expression"]),
    Case("backup-drill-schedule-list", _set((("alorig_backup_drill_schedule",), ["Sun 06:30"])),
         ["alorig_backup_drill_schedule", "got list"]),
    Case("backup-max-age-zero", _set((("alorig_backup_max_age_hours",), 0)),
         ["alorig_backup_max_age_hours", "positive integer"]),
    Case("backup-enabled-string", _set((("alorig_backup_enabled",), "enabled")),
         ["alorig_backup_enabled", "true or false"]),
    Case("backup-passphrase-missing", _del("vault_backup_passphrase"),
         ["vault: vault_backup_passphrase is not defined"]),
    Case("backup-passphrase-placeholder", _set((("vault_backup_passphrase",), "CHANGE-ME")),
         ["vault: vault_backup_passphrase", "placeholder"]),
    Case("backup-key-garbage", _set((("vault_backup_ssh_private_key",), "ssh-ed25519 AAAAC3Nza public key pasted")),
         ["vault: vault_backup_ssh_private_key", "not a private key"]),
    # -- the upgrade-trigger switches: PgBouncer, worker scaling, Redis eviction ------------
    Case("pgbouncer-enabled-string", _set((("alorig_pgbouncer_enabled",), "yes please")),
         ["platform: alorig_pgbouncer_enabled", "true or false"]),
    Case("pgbouncer-without-budget", _do(_set((("alorig_pgbouncer_enabled",), True)),
                                         _del("alorig_shared_ram_budget_mb", "pgbouncer")),
         ["alorig_pgbouncer_enabled is true", "alorig_shared_ram_budget_mb.pgbouncer"]),
    Case("pgbouncer-max-client-conn-zero", _set((("alorig_pgbouncer_max_client_conn",), 0)),
         ["alorig_pgbouncer_max_client_conn", "positive integer"]),
    Case("pool-size-at-connection-limit", _set(((A, "psydge", "database", "pool_size"), 10)),
         ["app 'psydge'", "database.pool_size 10", "connection_limit 10", "migrations"]),
    Case("pool-size-typo", _set(((A, "psydge", "database", "poolsize"), 4)),
         ["app 'psydge'", "database.poolsize", "unknown key"]),
    Case("replicas-on-beat", lambda v: _c(v, "snapify", "snapify_celery_beat").update(replicas=2),
         ["app 'snapify'", "replicas", "only a celery_worker", "celery_beat"]),
    Case("replicas-too-many", lambda v: _c(v, "snapify", "snapify_celery_worker").update(replicas=20),
         ["app 'snapify'", "containers[1].replicas", "1-8", "20"]),
    Case("replica-name-clash", lambda v: (
        _c(v, "igny8", "igny8_celery_worker").update(replicas=2),
        _apps(v)["igny8"]["containers"].append({"name": "igny8_celery_worker_2",
                                                 "kind": "celery_worker"})),
         ["app 'igny8'", "'igny8_celery_worker_2' is already used", "replicas"]),
    Case("replicas-over-budget", lambda v: _c(v, "astrotiming", "astrotiming_celery_worker").update(
        replicas=8, memory_mb=60),
         ["app 'astrotiming'", "ram_budget_mb 400", "leaves nothing"]),
    Case("redis-policy-allkeys", _set((("alorig_redis_maxmemory_policy",), "allkeys-lru")),
         ["alorig_redis_maxmemory_policy allkeys-lru", "Celery broker keys", "lost"]),
    Case("redis-policy-typo", _set((("alorig_redis_maxmemory_policy",), "volatile_lru")),
         ["alorig_redis_maxmemory_policy 'volatile_lru'", "not a Redis eviction policy"]),
    Case("cache-ttl-none", _set(((A, "observer", "redis", "cache_ttl"), None)),
         ["app 'observer'", "redis.cache_ttl", "positive integer"]),
    # -- several VPS hosts (alorig_placement; the inventory here has one VPS host) ---------
    Case("placement-unknown-host", _set((("alorig_placement",), {"psydge": "vps9"})),
         ["app 'psydge'", "alorig_placement.psydge", "'vps9'", "not a host of the alorig_vps group"]),
    Case("placement-unknown-app", _set((("alorig_placement",), {"psydg": "vps"})),
         ["platform: alorig_placement.psydg", "no such app in alorig_apps"]),
    Case("placement-together-unknown-app",
         _set((("alorig_placement_together",), [["igny8", "igny8_stagng"]])),
         ["platform: alorig_placement_together[0]", "no such app in alorig_apps", "'igny8_stagng'"]),
    Case("placement-together-not-a-list-of-lists",
         _set((("alorig_placement_together",), ["igny8", "igny8_staging"])),
         ["platform: alorig_placement_together[0]", "list of at least two apps", "'igny8'"]),
    # -- the continuous monitoring (module_utils monitoring_model) -------------------------
    Case("monitoring-enabled-word", _set((("alorig_monitoring_enabled",), "sometimes")),
         ["platform: alorig_monitoring_enabled", "true or false"]),
    Case("monitoring-without-budget", _del("alorig_shared_ram_budget_mb", "prometheus"),
         ["alorig_monitoring_enabled is true", "alorig_shared_ram_budget_mb has no prometheus"]),
    Case("monitoring-password-missing", _del("vault_monitoring_redis_password"),
         ["vault: vault_monitoring_redis_password is not defined"]),
    Case("monitoring-alert-for-typo", _set((("alorig_monitoring_alert_for",),
                                            {"celery_queue": "5m"})),
         ["alorig_monitoring_alert_for.celery_queue is not an alert", "celery_queue_length"]),
    Case("monitoring-alert-for-not-duration", _set((("alorig_monitoring_alert_for",),
                                                    {"steady_state_ram_mb": "1 hour"})),
         ["alorig_monitoring_alert_for.steady_state_ram_mb", "duration", "'1 hour'"]),
    Case("monitoring-interval-too-short", _set((("alorig_monitoring_scrape_interval_seconds",), 1)),
         ["alorig_monitoring_scrape_interval_seconds", "from 5 to 300", "1"]),
    Case("monitoring-webhook-without-url", _set((("alorig_alert_webhooks",), ["ops"])),
         ["vault: vault_alert_webhook_urls.ops is not defined"]),
    Case("monitoring-webhook-url-not-http", _do(
        _set((("alorig_alert_webhooks",), ["ops"])),
        _set((("vault_alert_webhook_urls",), {"ops": "hooks.example.com/x"}))),
         ["vault: vault_alert_webhook_urls.ops", "http:// or https:// URL"]),
    Case("monitoring-email-smarthost", _set((("alorig_alert_email",),
                                             {"to": "ops@alorig.com", "from": "a@alorig.com",
                                              "smarthost": "smtp.example.com"})),
         ["alorig_alert_email.smarthost must be host:port", "'smtp.example.com'"]),
    Case("monitoring-email-password-missing", _set((("alorig_alert_email",),
                                                    {"to": "ops@alorig.com", "from": "a@alorig.com",
                                                     "smarthost": "smtp.example.com:587",
                                                     "username": "a@alorig.com"})),
         ["vault: vault_alert_smtp_password is not defined", "alorig_alert_email.username"]),
]

CASES = [Case(i, _wrap_old(m), f) for i, m, f in OLD_CASES] + NEW_CASES

# Valid variants the model must accept (and project).
VALID = [
    ("extension-uuid-ossp", _set(((A, "snapify", "database", "extensions"), ["pg_trgm", "uuid-ossp"]))),
    ("same-app-root-and-path", lambda v: _apps(v)["sitebuilder"]["routes"].append(
        {"host": "api.alorig.com", "kind": "proxy", "upstream": "sitebuilder_backend",
         "port": 8016})),
    ("path-trailing-slash", _set(((A, "sitebuilder", "routes", 0, "path"), "/builder/"))),
    ("new-app-with-role", lambda v: _new_app(v, "newshop")),
    ("secret-number-long", _secret("observer", "db_password", 98765432109876543210)),
    ("local-loopback", _do(_set((("alorig_environment",), "local")),
                           _set((("alorig_vps_public_ipv4",), "127.0.0.1")),
                           _set((("alorig_admin_allowlist",), ["127.0.0.1/32", "172.16.0.0/12"])))),
    ("env-plain", _env("psydge", {"FEATURE_FLAGS": "a,b", "WORKERS": 3})),
    ("explicit-memory", _set(((A, "snapify", "containers", 2, "memory_mb"), 64))),
    ("disabled-app-without-secrets", _do(_set(((A, "asms", "enabled"), False)),
                                         _del(V, "asms"))),
    ("allowlist-single-address", _set((("alorig_admin_allowlist",), ["198.51.100.7"]))),
    ("pgbouncer-on-with-pools", _do(_set((("alorig_pgbouncer_enabled",), True)),
                                    _set(((A, "psydge", "database", "pool_size"), 9)))),
    ("worker-replicas", lambda v: _c(v, "igny8", "igny8_celery_worker").update(replicas=3)),
    ("monitoring-off-without-its-budget-or-logins", _do(
        _set((("alorig_monitoring_enabled",), False)),
        _del("alorig_shared_ram_budget_mb", "prometheus"),
        _del("vault_monitoring_postgres_password"), _del("vault_monitoring_redis_password"))),
    ("monitoring-receivers", _do(
        _set((("alorig_alert_webhooks",), ["ops", "chat"])),
        _set((("vault_alert_webhook_urls",), {"ops": "https://hooks.example.com/a",
                                              "chat": "http://10.0.0.5:8080/hook"})),
        _set((("alorig_alert_email",), {"to": "ops@alorig.com", "from": "a@alorig.com",
                                        "smarthost": "smtp.example.com:587",
                                        "username": "a@alorig.com"})),
        _set((("vault_alert_smtp_password",), "Smtp-pass-4f9d2c81a7e3b6")),
        _set((("alorig_monitoring_alert_for",), {"celery_queue_length": "90s"})))),
]
