#!/usr/bin/env python3
"""Collect the Alorig host metrics on the VPS and print them as JSON.

Usage: collect_metrics.py CONFIG_JSON
CONFIG_JSON: {"postgres_container", "redis_container", "redis_admin_user",
              "queues": [{"app", "db", "keys": [...]}]}
              "backup_state_dir" (optional),
              "prometheus_url" (optional, e.g. "http://127.0.0.1:9090"; empty: no history),
              "history_window_hours" (default 24), "history_step_seconds" (default 60)}
Reads only: docker stats/inspect, pg_stat_activity, Redis INFO and LLEN, the
backup tool's result files (backup.json, drill.json, check.json) when configured,
and the RAM history and the alerts from Prometheus's HTTP API when configured
(collect_history: the output's "history"; a failure is one "history: ..." error,
never a failed collection).
"""
import json
import math
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

UNITS = {"b": 1, "kib": 1024, "mib": 1024 ** 2, "gib": 1024 ** 3, "tib": 1024 ** 4,
         "kb": 1000, "mb": 1000 ** 2, "gb": 1000 ** 3, "tb": 1000 ** 4}


def run(cmd, stdin=None, attempts=2):
    """The command's output; a failed command is tried once more after a second (a
    `docker exec` can fail while the daemon is busy) before the error is raised."""
    for attempt in range(attempts):
        proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=120, check=False)
        if proc.returncode == 0:
            return proc.stdout
        if attempt + 1 < attempts:
            time.sleep(1)
    raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd[:4]), proc.returncode,
                                               (proc.stderr.strip() or proc.stdout.strip())[-300:]))


def to_mb(text):
    match = re.match(r"\s*([0-9.]+)\s*([A-Za-z]+)", text)
    if not match:
        return 0.0
    return float(match.group(1)) * UNITS.get(match.group(2).lower(), 1) / 1024 ** 2


# -- the RAM history from Prometheus (the node-exporter textfile collector's gauge) ---------

METRIC = "alorig_container_memory_bytes"
TOTAL = "sum(%s)" % METRIC
PER_APP = 'sum by (app) (%s{app!=""})' % METRIC
# The two trend series of the report: (name, seconds back, step seconds).
SERIES = (("day", 24 * 3600, 300), ("week", 7 * 24 * 3600, 3600))
# Prometheus refuses a range query of more than 11000 points per series.
MAX_POINTS = 10000


class PrometheusError(Exception):
    """A Prometheus API request that failed (unreachable, HTTP error, bad answer)."""


def prometheus_get(base_url, path, params, timeout=10):
    """The "data" of a Prometheus HTTP API answer (GET base_url + path?params)."""
    url = base_url.rstrip("/") + path + ("?" + urllib.parse.urlencode(params) if params else "")
    # Prometheus is on the host's loopback: never through an http_proxy of the environment.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            body = json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        # Prometheus explains a refused query in a JSON body (400, 422, 503).
        try:
            reason = json.loads(exc.read().decode("utf-8")).get("error") or exc.reason
        except (OSError, ValueError, AttributeError):
            reason = exc.reason
        raise PrometheusError("%s: HTTP %d: %s" % (path, exc.code, reason))
    except (OSError, ValueError) as exc:  # URLError, timeout, refused connection, not JSON
        raise PrometheusError("%s: %s" % (path, getattr(exc, "reason", None) or exc))
    if not isinstance(body, dict) or body.get("status") != "success":
        raise PrometheusError("%s: %s" % (path, body.get("error") if isinstance(body, dict) else body))
    return body.get("data")


def duration(seconds):
    """A PromQL duration: 86400 -> 24h, 90 -> 90s."""
    seconds = int(seconds)
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return "%d%s" % (seconds // size, unit)
    return "%ds" % seconds


def bytes_to_mb(value):
    """Bytes (a Prometheus sample value, a string) as MB with one decimal; None for NaN/Inf."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return round(number / 1024 ** 2, 1) if math.isfinite(number) else None


def _instant(data):
    """{app label or "": MB} of an instant query's vector."""
    found = {}
    for item in (data or {}).get("result") or []:
        value = bytes_to_mb((item.get("value") or [None, None])[1])
        if value is not None:
            found[(item.get("metric") or {}).get("app", "")] = value
    return found


def _matrix(data):
    """{app label or "": [[unix_ts, MB], ...]} of a range query's matrix."""
    found = {}
    for item in (data or {}).get("result") or []:
        points = []
        for stamp, value in item.get("values") or []:
            value = bytes_to_mb(value)
            if value is not None:
                points.append([int(float(stamp)), value])
        found[(item.get("metric") or {}).get("app", "")] = points
    return found


def history_queries(window_seconds, step_seconds):
    """The instant PromQL queries: {(figure, scope): query}."""
    sub = "[%s:%s]" % (duration(window_seconds), duration(step_seconds))
    return {("p95_mb", "total"): "quantile_over_time(0.95, %s%s)" % (TOTAL, sub),
            ("max_mb", "total"): "max_over_time(%s%s)" % (TOTAL, sub),
            ("p95_mb", "apps"): "quantile_over_time(0.95, (%s)%s)" % (PER_APP, sub),
            ("max_mb", "apps"): "max_over_time((%s)%s)" % (PER_APP, sub)}


def collect_history(url, window_hours=24, step_seconds=60, timeout=10, now=None):
    """(history, errors): the containers' RAM over the last window_hours from Prometheus
    at url (p95 and max of the total and per app, the coverage, the day and week series)
    and its firing/pending alerts. history is None when Prometheus cannot be queried;
    a query that fails leaves its figure null (or its series empty) and adds an error."""
    errors = []
    try:
        window = float(window_hours)
        step = int(step_seconds)
        if window <= 0 or step <= 0:
            raise ValueError
    except (TypeError, ValueError):
        return None, ["history: history_window_hours (%r) and history_step_seconds (%r) must be positive numbers"
                      % (window_hours, step_seconds)]
    now = time.time() if now is None else float(now)
    window_seconds = int(round(window * 3600))

    def get(path, params):
        return prometheus_get(url, path, params, timeout)

    # The coverage, and whether Prometheus answers at all: the total over the window.
    coverage_step = max(step, int(math.ceil(window_seconds / float(MAX_POINTS))))
    try:
        window_series = _matrix(get("/api/v1/query_range", {
            "query": TOTAL, "start": "%.3f" % (now - window_seconds), "end": "%.3f" % now,
            "step": coverage_step})).get("", [])
    except PrometheusError as exc:
        return None, ["history: %s: %s" % (url, exc)]
    coverage = round((window_series[-1][0] - window_series[0][0]) / 3600.0, 1) if window_series else 0.0

    figures = {}
    for key, query in history_queries(window_seconds, step).items():
        try:
            figures[key] = _instant(get("/api/v1/query", {"query": query, "time": "%.3f" % now}))
        except PrometheusError as exc:
            figures[key] = {}
            errors.append("history: %s: %s" % (query, exc))
    apps = {}
    for name in sorted(set(figures[("p95_mb", "apps")]) | set(figures[("max_mb", "apps")])):
        if name:
            apps[name] = {"p95_mb": figures[("p95_mb", "apps")].get(name),
                          "max_mb": figures[("max_mb", "apps")].get(name)}

    series = {}
    for name, back, series_step in SERIES:
        end = math.floor(now / series_step) * series_step
        series[name] = {"step_seconds": series_step, "end": end, "total": [], "apps": {}}
        for scope, query in (("total", TOTAL), ("apps", PER_APP)):
            try:
                found = _matrix(get("/api/v1/query_range", {"query": query, "start": end - back, "end": end,
                                                            "step": series_step}))
            except PrometheusError as exc:
                errors.append("history: %s series %s: %s" % (name, query, exc))
                continue
            if scope == "total":
                series[name]["total"] = found.get("", [])
            else:
                series[name]["apps"] = dict((app, points) for app, points in sorted(found.items()) if app)

    alerts = []
    try:
        for alert in (get("/api/v1/alerts", {}) or {}).get("alerts") or []:
            if alert.get("state") not in ("firing", "pending"):
                continue
            labels = alert.get("labels") or {}
            alerts.append({"name": labels.get("alertname", ""), "app": labels.get("app", ""),
                           "container": labels.get("container", ""), "state": alert.get("state"),
                           "severity": labels.get("severity", ""),
                           "summary": (alert.get("annotations") or {}).get("summary", ""),
                           "active_at": alert.get("activeAt")})
    except PrometheusError as exc:
        errors.append("history: alerts: %s" % exc)
    alerts.sort(key=lambda a: (a["state"] != "firing", a["name"], a["app"], a["container"]))

    return {"window_hours": int(window) if window.is_integer() else window, "coverage_hours": coverage,
            "total_p95_mb": figures[("p95_mb", "total")].get(""),
            "total_max_mb": figures[("max_mb", "total")].get(""),
            "apps": apps, "series": series, "alerts": alerts}, errors


def main():
    config = json.loads(sys.argv[1])
    errors = []
    containers = {}
    names = run(["docker", "ps", "-a", "--format", "{{.Names}}"]).split()
    if names:
        for info in json.loads(run(["docker", "inspect"] + names)):
            state = info.get("State", {})
            labels = info.get("Config", {}).get("Labels") or {}
            containers[info["Name"].lstrip("/")] = {
                "status": state.get("Status"),
                "health": (state.get("Health") or {}).get("Status"),
                "oom_killed": bool(state.get("OOMKilled")),
                "restart_count": info.get("RestartCount", 0),
                "app": labels.get("org.alorig.app"),
                "limit_mb": round((info.get("HostConfig", {}).get("Memory") or 0) / 1024 ** 2, 1),
                "ram_mb": 0.0,
            }
    for line in run(["docker", "stats", "--no-stream", "--format", "{{json .}}"]).splitlines():
        if not line.strip():
            continue
        stat = json.loads(line)
        name = stat.get("Name", "")
        if name in containers:
            containers[name]["ram_mb"] = round(to_mb(stat.get("MemUsage", "0B").split("/")[0]), 1)

    postgres_connections = None
    try:
        postgres_connections = int(run(["docker", "exec", config["postgres_container"], "psql", "-U", "postgres",
                                        "-Atc", "SELECT count(*) FROM pg_stat_activity"]).strip())
    except (RuntimeError, ValueError) as exc:
        errors.append("postgres: %s" % exc)

    redis_cli = ["docker", "exec", "-i", config["redis_container"], "redis-cli", "--no-auth-warning",
                 "--user", config["redis_admin_user"]]
    redis_memory_mb = None
    try:
        info = run(redis_cli + ["INFO", "memory"])
        used = re.search(r"^used_memory:(\d+)", info, re.M)
        redis_memory_mb = round(int(used.group(1)) / 1024 ** 2, 1) if used else None
        if used is None:
            errors.append("redis: INFO memory has no used_memory: %s" % info.strip()[-200:])
    except RuntimeError as exc:
        errors.append("redis: %s" % exc)

    queues = []
    commands = []
    for item in config.get("queues", []):
        commands.append("SELECT %d" % int(item["db"]))
        for key in item["keys"]:
            commands.append("LLEN %s" % key)
            queues.append({"app": item["app"], "key": key})
    if commands:
        try:
            replies = [r for r in run(redis_cli, stdin="\n".join(commands) + "\n").splitlines()]
            lengths = [r for r in replies if r.strip() != "OK"]
            for queue, length in zip(queues, lengths):
                queue["length"] = int(re.sub(r"\D", "", length) or 0)
        except RuntimeError as exc:
            errors.append("redis queues: %s" % exc)

    # The results of the backup tool (roles/backup): the last backup, drill and check.
    backup = None
    if config.get("backup_state_dir"):
        backup = {}
        for name in ("backup", "drill", "check"):
            try:
                with open("%s/%s.json" % (config["backup_state_dir"], name)) as handle:
                    backup[name] = json.load(handle)
            except (OSError, ValueError):
                backup[name] = None

    output = {"containers": containers, "postgres_connections": postgres_connections,
              "redis_memory_mb": redis_memory_mb, "queues": queues, "errors": errors,
              "backup": backup}
    # The RAM history and the alerts from Prometheus (none configured: no "history" key).
    if config.get("prometheus_url"):
        output["history"], history_errors = collect_history(
            config["prometheus_url"], config.get("history_window_hours") or 24,
            config.get("history_step_seconds") or 60)
        errors.extend(history_errors)
    json.dump(output, sys.stdout, sort_keys=True)


if __name__ == "__main__":
    main()
