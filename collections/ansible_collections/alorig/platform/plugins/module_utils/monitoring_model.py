# -*- coding: utf-8 -*-
# Copyright: Alorig platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The continuous monitoring: the part of the registry model that validates its settings and
projects the monitoring stack's input, the alert rules included (pure Python, no Ansible
import).

The stack (role ``monitoring``): Prometheus, Alertmanager, node-exporter (with the textfile
the host's collector ``alorig-metrics`` writes: per-container memory, OOM kills, restarts,
health, TLS certificates), postgres-exporter and redis-exporter (each with a login of its
own that can only read what it exports).

Platform settings (group_vars/all/platform.yml or the inventory):

``alorig_monitoring_enabled`` (bool, default true)
    run the stack; false removes it. Needs ``alorig_shared_ram_budget_mb`` entries for
    ``prometheus``, ``alertmanager``, ``node_exporter``, ``postgres_exporter`` and
    ``redis_exporter`` (their memory limits, counted in the RAM budget), and the vault's
    ``vault_monitoring_postgres_password`` and ``vault_monitoring_redis_password``.
``alorig_monitoring_retention_days`` (1-3650, default 30) / ``alorig_monitoring_retention_gb``
    (positive, default 5)
    Prometheus keeps the history for that many days, and never more than that many GB.
``alorig_monitoring_scrape_interval_seconds`` (5-300, default 30)
    how often every target is scraped, the rules evaluated and the host collector run.
``alorig_monitoring_alert_for`` (dict, durations such as ``90s``, ``5m``, ``1h``)
    how long a condition must last before its alert fires, per alert (keys in
    :data:`ALERT_FOR`); the keys not given keep their default.
``alorig_monitoring_tls_expiry_hours`` (positive, default 336 = 14 days)
    a certificate Caddy serves that expires sooner fires an alert.
``alorig_monitoring_disk_free_percent`` (1-90, default 10)
    a filesystem with less free space fires an alert.
``alorig_monitoring_restart_loop`` (positive, default 3)
    restarts of one container within 15 minutes that fire an alert.
``alorig_alert_webhooks`` (list of names, default [])
    Alertmanager posts every alert to each one; the URL of each is the vault's
    ``vault_alert_webhook_urls[name]`` (webhook URLs often carry a token).
``alorig_alert_email`` (dict or none)
    ``to``, ``from``, ``smarthost`` (host:port) and optionally ``username``, whose password
    is the vault's ``vault_alert_smtp_password``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.alorig.platform.plugins.module_utils.services_model import (
    as_bool,
    as_int,
    monitor_actions,
)

CONTAINERS = {
    "prometheus": "alorig_prometheus",
    "alertmanager": "alorig_alertmanager",
    "node_exporter": "alorig_node_exporter",
    "postgres_exporter": "alorig_postgres_exporter",
    "redis_exporter": "alorig_redis_exporter",
}
# alorig_shared_ram_budget_mb keys the stack needs (one memory limit per container).
BUDGET_KEYS = tuple(sorted(CONTAINERS))
PROMETHEUS_PORT = 9090
ALERTMANAGER_PORT = 9093
# The exporters' own logins (PostgreSQL role, Redis ACL user).
METRICS_USER = "alorig_metrics"
# the connection limit of its PostgreSQL login (postgres-exporter holds one at a time)
POSTGRES_READER_CONNECTIONS = 3
VAULT_SECRETS = ("vault_monitoring_postgres_password", "vault_monitoring_redis_password")

# How long a condition lasts before its alert fires, per alert.
ALERT_FOR = {
    "steady_state_ram_mb": "1h",
    "app_ram": "1h",
    "postgres_connections": "5m",
    "redis_memory_mb": "10m",
    "celery_queue_length": "5m",
    "unhealthy": "2m",
    "disk": "10m",
    "target_down": "5m",
}
DURATION_RE = re.compile(r"^[0-9]+[smhd]$")
WEBHOOK_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
SMARTHOST_RE = re.compile(r"^[A-Za-z0-9.-]+:[0-9]{1,5}$")
EMAIL_RE = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")
EMAIL_KEYS = ("to", "from", "smarthost", "username")

DEFAULTS = {
    "alorig_monitoring_enabled": True,
    "alorig_monitoring_retention_days": 30,
    "alorig_monitoring_retention_gb": 5,
    "alorig_monitoring_scrape_interval_seconds": 30,
    "alorig_monitoring_tls_expiry_hours": 336,
    "alorig_monitoring_disk_free_percent": 10,
    "alorig_monitoring_restart_loop": 3,
}
INT_RANGES = {
    "alorig_monitoring_retention_days": (1, 3650),
    "alorig_monitoring_retention_gb": (1, 10000),
    "alorig_monitoring_scrape_interval_seconds": (5, 300),
    "alorig_monitoring_tls_expiry_hours": (1, 24 * 365),
    "alorig_monitoring_disk_free_percent": (1, 90),
    "alorig_monitoring_restart_loop": (1, 1000),
}

# The seed's action (or the operator's) for the alerts services_model has none for.
EXTRA_ACTIONS = {
    "postgres_down": "PostgreSQL does not answer: docker logs alorig_postgres",
    "redis_down": "Redis does not answer: docker logs alorig_redis",
    "restart_loop": "the container keeps restarting: docker logs <container>, then converge",
    "unhealthy": ("the container fails its health check or is not running: docker logs "
                  "<container>; converge repairs a stopped or paused one"),
    "tls_expiry": ("Caddy did not renew the certificate: docker logs alorig_caddy (DNS-01 "
                   "through Cloudflare: check vault_cloudflare_api_token)"),
    "disk": "free disk space (docker system prune, old backups, logs) or grow the disk",
    "target_down": ("a monitoring target does not answer: docker ps -a --filter "
                    "name=alorig_; converge repairs it"),
    "collector": ("the host collector stopped: systemctl status alorig-metrics.timer "
                  "alorig-metrics.service"),
}


def _get(platform, name):
    value = platform.get(name)
    return DEFAULTS.get(name) if value is None else value


def enabled(platform):
    """Whether the stack runs (valid input)."""
    return bool(as_bool(_get(platform, "alorig_monitoring_enabled")))


def alert_for(platform):
    """The durations per alert, defaults completed."""
    values = dict(ALERT_FOR)
    given = platform.get("alorig_monitoring_alert_for")
    if isinstance(given, dict):
        values.update((k, str(v)) for k, v in given.items())
    return values


def errors(platform, vault):
    """Every error of the monitoring settings (messages name the variable, never a secret)."""
    found = []
    switch = platform.get("alorig_monitoring_enabled")
    if switch is not None and as_bool(switch) is None:
        found.append("platform: alorig_monitoring_enabled must be true or false, got %r"
                     % (switch,))
    for name, (low, high) in sorted(INT_RANGES.items()):
        value = platform.get(name)
        if value is None:
            continue
        number = as_int(value)
        if number is None or isinstance(value, bool) or not low <= number <= high:
            found.append("platform: %s must be an integer from %d to %d, got %r"
                         % (name, low, high, value))
    given = platform.get("alorig_monitoring_alert_for")
    if given is not None:
        if not isinstance(given, dict):
            found.append("platform: alorig_monitoring_alert_for must be a dict of alert -> "
                         "duration, got %s" % type(given).__name__)
        else:
            for key, value in sorted(given.items(), key=lambda kv: str(kv[0])):
                if key not in ALERT_FOR:
                    found.append("platform: alorig_monitoring_alert_for.%s is not an alert; "
                                 "the alerts are %s" % (key, ", ".join(sorted(ALERT_FOR))))
                elif not isinstance(value, str) or not DURATION_RE.match(value):
                    found.append("platform: alorig_monitoring_alert_for.%s must be a duration "
                                 "such as 90s, 5m, 1h or 1d, got %r" % (key, value))
    found += _receiver_errors(platform, vault or {})
    if (True if switch is None else as_bool(switch)) is not True:
        return found
    budget = platform.get("alorig_shared_ram_budget_mb")
    if isinstance(budget, dict):
        missing = [k for k in BUDGET_KEYS if k not in budget]
        if missing:
            found.append("platform: alorig_monitoring_enabled is true but "
                         "alorig_shared_ram_budget_mb has no %s (the monitoring containers' "
                         "memory limits, counted in the RAM budget)" % ", ".join(missing))
    return found


def _receiver_errors(platform, vault):
    found = []
    hooks = platform.get("alorig_alert_webhooks")
    urls = vault.get("vault_alert_webhook_urls")
    if hooks is not None:
        if not isinstance(hooks, list):
            found.append("platform: alorig_alert_webhooks must be a list of names, got %s"
                         % type(hooks).__name__)
            hooks = []
        if urls is not None and not isinstance(urls, dict):
            found.append("vault: vault_alert_webhook_urls must be a dict of name -> URL")
            urls = {}
        urls = urls or {}
        seen = set()
        for name in hooks:
            if not isinstance(name, str) or not WEBHOOK_NAME_RE.match(name):
                found.append("platform: alorig_alert_webhooks: %r is not a name (lower case "
                             "letters, digits, - and _)" % (name,))
                continue
            if name in seen:
                found.append("platform: alorig_alert_webhooks lists %s twice" % name)
            seen.add(name)
            url = urls.get(name)
            if url is None:
                found.append("vault: vault_alert_webhook_urls.%s is not defined (the URL of "
                             "alorig_alert_webhooks' %s)" % (name, name))
            elif not isinstance(url, str) or not re.match(r"^https?://[^\s'\"]+$", url):
                found.append("vault: vault_alert_webhook_urls.%s must be an http:// or "
                             "https:// URL without spaces or quotes" % name)
    email = platform.get("alorig_alert_email")
    if email is not None:
        if not isinstance(email, dict):
            found.append("platform: alorig_alert_email must be a dict (to, from, smarthost, "
                         "username), got %s" % type(email).__name__)
            return found
        for key in sorted(email):
            if key not in EMAIL_KEYS:
                found.append("platform: alorig_alert_email.%s is not a key; the keys are %s"
                             % (key, ", ".join(EMAIL_KEYS)))
        for key in ("to", "from"):
            value = email.get(key)
            if value is None:
                found.append("platform: alorig_alert_email.%s is not defined" % key)
            elif not isinstance(value, str) or not EMAIL_RE.match(value):
                found.append("platform: alorig_alert_email.%s must be one e-mail address, "
                             "got %r" % (key, value))
        smarthost = email.get("smarthost")
        if smarthost is None:
            found.append("platform: alorig_alert_email.smarthost is not defined (host:port "
                         "of the mail relay)")
        elif not isinstance(smarthost, str) or not SMARTHOST_RE.match(smarthost):
            found.append("platform: alorig_alert_email.smarthost must be host:port, got %r"
                         % (smarthost,))
        if email.get("username") is not None:
            password = vault.get("vault_alert_smtp_password")
            if not isinstance(password, str) or not password.strip():
                found.append("vault: vault_alert_smtp_password is not defined (the password "
                             "of alorig_alert_email.username)")
    return found


def _quote(text):
    return '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"')


def _rule(name, expr, duration, threshold, summary, action, labels=None):
    rule = {"alert": name, "expr": expr}
    if duration:
        rule["for"] = duration
    rule["labels"] = dict({"severity": "warning", "threshold": threshold}, **(labels or {}))
    rule["annotations"] = {"summary": summary, "action": action}
    return rule


def rules(platform, apps):
    """The Prometheus rule file (a dict) for the enabled ``apps`` (``monitor_app`` items:
    name, ram_budget_mb, redis_db, queue_keys)."""
    thresholds = platform.get("alorig_thresholds") or {}
    waits = alert_for(platform)
    actions = dict(monitor_actions(platform))
    actions.update(EXTRA_ACTIONS)
    actions["app_ram"] = actions["app_ram_p95_mb"]
    steady = thresholds.get("steady_state_ram_mb")
    value = "{{ $value | printf \"%.0f\" }}"
    out = [
        _rule("AlorigSteadyStateRam",
              "sum(alorig_container_memory_bytes) / 1048576 > %d" % steady,
              waits["steady_state_ram_mb"], "steady_state_ram_mb",
              "RAM of all containers %s MB above the upgrade trigger %d MB for %s"
              % (value, steady, waits["steady_state_ram_mb"]),
              actions["steady_state_ram_mb"]),
    ]
    for app in apps:
        out.append(_rule(
            "AlorigAppRamOverBudget",
            "sum(alorig_container_memory_bytes{app=%s}) / 1048576 > %d"
            % (_quote(app["name"]), app["ram_budget_mb"]),
            waits["app_ram"], "app_ram",
            "app %s: RAM %s MB above its budget %d MB for %s"
            % (app["name"], value, app["ram_budget_mb"], waits["app_ram"]),
            actions["app_ram"], {"app": app["name"]}))
    out += [
        _rule("AlorigOomKill",
              "increase(alorig_container_oom_kills_total[15m]) > %d"
              % thresholds.get("oom_kills", 0), None, "oom_kills",
              "OOM kill in {{ $labels.container }} (app {{ $labels.app }}): %s in 15 min "
              "(limit %d)" % ("{{ $value | printf \"%.0f\" }}", thresholds.get("oom_kills", 0)),
              actions["oom_kills"]),
        _rule("AlorigPostgresConnections",
              "sum(pg_stat_activity_count) > %d" % thresholds.get("postgres_connections"),
              waits["postgres_connections"], "postgres_connections",
              "PostgreSQL connections %s above %d for %s"
              % (value, thresholds.get("postgres_connections"),
                 waits["postgres_connections"]),
              actions["postgres_connections"]),
        _rule("AlorigPostgresDown", "pg_up == 0", "1m", "postgres_down",
              "PostgreSQL does not answer postgres-exporter", actions["postgres_down"]),
        _rule("AlorigRedisMemory",
              "redis_memory_used_bytes / 1048576 > %d" % thresholds.get("redis_memory_mb"),
              waits["redis_memory_mb"], "redis_memory_mb",
              "Redis memory %s MB above %d MB for %s"
              % (value, thresholds.get("redis_memory_mb"), waits["redis_memory_mb"]),
              actions["redis_memory_mb"]),
        _rule("AlorigRedisDown", "redis_up == 0", "1m", "redis_down",
              "Redis does not answer redis-exporter", actions["redis_down"]),
    ]
    limit = thresholds.get("celery_queue_length")
    for app in apps:
        if not app.get("queue_keys"):
            continue
        out.append(_rule(
            "AlorigCeleryQueue",
            "alorig_celery_queue_length{app=%s} > %d" % (_quote(app["name"]), limit),
            waits["celery_queue_length"], "celery_queue_length",
            "app %s: Celery queue {{ $labels.key }} holds %s tasks (limit %d) for %s"
            % (app["name"], value, limit, waits["celery_queue_length"]),
            actions["celery_queue_length"] + " (alorig_apps: %s)" % app["name"],
            {"app": app["name"]}))
    restarts = as_int(_get(platform, "alorig_monitoring_restart_loop"))
    tls_hours = as_int(_get(platform, "alorig_monitoring_tls_expiry_hours"))
    disk = as_int(_get(platform, "alorig_monitoring_disk_free_percent"))
    out += [
        _rule("AlorigContainerRestarting",
              "increase(alorig_container_restarts_total[15m]) >= %d" % restarts, None,
              "restart_loop",
              "{{ $labels.container }} (app {{ $labels.app }}) restarted %s times in 15 min "
              "(limit %d)" % (value, restarts), actions["restart_loop"]),
        _rule("AlorigContainerUnhealthy", "alorig_container_healthy == 0", waits["unhealthy"],
              "unhealthy",
              "{{ $labels.container }} (app {{ $labels.app }}) fails its health check for %s"
              % waits["unhealthy"], actions["unhealthy"]),
        _rule("AlorigContainerDown", "alorig_container_running == 0", waits["unhealthy"],
              "unhealthy",
              "{{ $labels.container }} (app {{ $labels.app }}) is not running for %s"
              % waits["unhealthy"], actions["unhealthy"]),
        _rule("AlorigTlsCertificateExpiry",
              "(alorig_tls_certificate_expiry_timestamp_seconds - time()) / 3600 < %d"
              % tls_hours, None, "tls_expiry",
              "the certificate of {{ $labels.host }} expires in %s hours (limit %d)"
              % (value, tls_hours), actions["tls_expiry"]),
        _rule("AlorigDiskFilling",
              '100 * node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs|nsfs|ramfs"}'
              ' / node_filesystem_size_bytes < %d' % disk,
              waits["disk"], "disk",
              "{{ $labels.mountpoint }} has %s %% free (limit %d %%) for %s"
              % (value, disk, waits["disk"]), actions["disk"]),
        _rule("AlorigTargetDown", "up == 0", waits["target_down"], "target_down",
              "monitoring target {{ $labels.job }} does not answer for %s"
              % waits["target_down"], actions["target_down"]),
        _rule("AlorigCollectorStale",
              "time() - alorig_collector_last_run_timestamp_seconds > %d"
              % (10 * as_int(_get(platform, "alorig_monitoring_scrape_interval_seconds"))),
              None, "collector",
              "the host collector last ran %s s ago" % value, actions["collector"]),
    ]
    return {"groups": [{"name": "alorig", "rules": out}]}


def project(platform, apps):
    """The monitoring stack's input (no secret) for the enabled ``apps`` (``monitor_app``
    items with their ``smoke`` hosts)."""
    on = enabled(platform)
    email = platform.get("alorig_alert_email") or None
    tls_hosts = []
    for app in apps:
        for check in app.get("smoke", []):
            if check["sni"] not in tls_hosts:
                tls_hosts.append(check["sni"])
    queues = [{"app": app["name"], "db": app["redis_db"], "keys": list(app["queue_keys"])}
              for app in apps if app.get("queue_keys")]
    read_keys = [key for queue in queues for key in queue["keys"]]
    interval = as_int(_get(platform, "alorig_monitoring_scrape_interval_seconds"))
    return {
        "enabled": on,
        "containers": dict(CONTAINERS),
        "prometheus_port": PROMETHEUS_PORT,
        "alertmanager_port": ALERTMANAGER_PORT,
        "retention_days": as_int(_get(platform, "alorig_monitoring_retention_days")),
        "retention_gb": as_int(_get(platform, "alorig_monitoring_retention_gb")),
        "interval_seconds": interval,
        "metrics_user": METRICS_USER,
        # the Celery queues the host collector reads (LLEN) as the monitoring's ACL user,
        # which may read these keys and nothing else (redis-exporter logs in as it too)
        "queues": queues,
        "redis_readers": [{"name": METRICS_USER, "keys": read_keys}] if on else [],
        # postgres-exporter's login: PostgreSQL's statistics (pg_monitor), a few connections
        "postgres_readers": [{"name": METRICS_USER, "connection_limit": POSTGRES_READER_CONNECTIONS,
                              "member_of": ["pg_monitor"]}] if on else [],
        "tls_hosts": tls_hosts,
        "webhooks": list(platform.get("alorig_alert_webhooks") or []),
        "email": dict(email) if email else None,
        "rules": rules(platform, apps) if on else {"groups": []},
    }
