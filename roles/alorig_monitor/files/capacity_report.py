#!/usr/bin/env python3
"""Capacity report of the Alorig VPS: JSON + an SVG picture, from the metrics
collected on the host (collect_metrics.py) and the budgets of the registry.

Usage: capacity_report.py METRICS_JSON CONFIG_JSON OUT_DIR
CONFIG_JSON: {"apps": [{"name", "title", "ram_budget_mb", "containers": [...]}],
              "infra": {"<container>": budget_mb}, "thresholds": {...},
              "upgrade_trigger_mb", "host_ram_mb", "current_app", "generated_at",
              "reboot_required": {"required": bool, "packages": [...]},
              "backup": {"enabled", "max_age_hours", "drill_max_age_days"}}
Writes OUT_DIR/capacity.json and capacity.svg (and capacity-after-<app>.*
when current_app is set); prints the report JSON (with "violations").
Standard library only.
"""
import datetime
import json
import os
import sys
from xml.sax.saxutils import escape


def _age_hours(stamp, generated_at):
    try:
        then = datetime.datetime.fromisoformat(stamp)
        at = datetime.datetime.fromisoformat(generated_at) if generated_at else \
            datetime.datetime.now(datetime.timezone.utc)
    except (TypeError, ValueError):
        return None
    # naive stamps (Ansible's now(utc=true)) are UTC
    then, at = [t if t.tzinfo else t.replace(tzinfo=datetime.timezone.utc) for t in (then, at)]
    return round((at - then).total_seconds() / 3600.0, 1)


def backup_checks(metrics, config):
    """(checks, summary) of the backups: the last good backup's age, the last drill."""
    settings = config.get("backup") or {}
    if not settings.get("enabled"):
        return [], {"enabled": False}
    found = metrics.get("backup") or {}
    state = found.get("backup") or {}
    drill = found.get("drill") or {}
    check = found.get("check") or {}
    now = config.get("generated_at")
    success = state.get("last_success") or {}
    attempt = state.get("last_attempt") or {}
    age = _age_hours(success.get("time"), now) if success else None
    limit = settings["max_age_hours"]
    if attempt and not attempt.get("ok"):
        detail = "last backup attempt FAILED at %s: %s" % (attempt.get("time"), attempt.get("error", "")[-300:])
    elif not success:
        detail = "no backup has succeeded yet"
    else:
        detail = "archive %s" % success.get("archive")
    checks = [("backup_age_hours", age, limit, detail,
               age is not None and age < limit and bool(attempt.get("ok")))]
    drill_limit = settings["drill_max_age_days"]
    first = state.get("first_success")
    if drill:
        drill_age = _age_hours(drill.get("time"), now)
        drill_days = round(drill_age / 24.0, 1) if drill_age is not None else None
        failed = sorted(a for a, r in (drill.get("apps") or {}).items() if not r.get("ok"))
        if drill.get("ok"):
            detail = "drill passed at %s" % drill.get("time")
        else:
            detail = "restore drill FAILED at %s%s%s" % (
                drill.get("time"), (": " + drill["error"]) if drill.get("error") else "",
                "".join("; app %s: %s" % (a, drill["apps"][a].get("message")) for a in failed))
        ok = bool(drill.get("ok")) and drill_days is not None and drill_days < drill_limit
    else:
        # No drill yet: fine while the first backup is younger than the limit.
        first_age = _age_hours(first, now) if first else None
        drill_days = None
        detail = "no drill yet (first backup %s)" % (first or "none")
        ok = first_age is not None and first_age / 24.0 < drill_limit
    checks.append(("backup_drill_age_days", "FAILED" if drill and not drill.get("ok") else drill_days,
                   drill_limit, detail, ok))
    # the weekly `borgmatic check` (repository and archives' consistency)
    if check and not check.get("ok"):
        checks.append(("backup_repository_check", "FAILED", "ok",
                       "repository check FAILED at %s: %s" % (check.get("time"), (check.get("error") or "")[-300:]),
                       False))
    summary = {"enabled": True, "last_success": success.get("time"), "age_hours": age,
               "archive": success.get("archive"), "repository_bytes": success.get("repository_bytes"),
               "last_attempt_ok": attempt.get("ok"), "last_attempt_error": attempt.get("error"),
               "drill": {"time": drill.get("time"), "ok": drill.get("ok"),
                         "apps": drill.get("apps") or {}} if drill else None,
               "check": {"time": check.get("time"), "ok": check.get("ok"), "error": check.get("error")}
               if check else None,
               "apps": dict((name, dict(figures, age_hours=age))
                            for name, figures in (success.get("apps") or {}).items())}
    return checks, summary


# The metrics collect_metrics.py reads from the services (None when it could not).
COLLECTED = ("postgres_connections", "redis_memory_mb")


def owner_of(config, container=None, queue_key=None):
    """The app a container or a Celery queue key belongs to (None when unknown)."""
    for app in config["apps"]:
        if container in app["containers"] or queue_key in app.get("queue_keys", []):
            return app["name"]
    return None


def action_for(metric, config, longest, oom):
    """The seed's action for a crossed threshold (config["actions"], from the registry
    model) with the apps it concerns, or "" for a metric without one."""
    action = (config.get("actions") or {}).get(metric, "")
    apps = []
    if metric == "celery_queue_length":
        apps = [owner_of(config, queue_key=longest.get("key"))]
    elif metric == "oom_kills":
        apps = [owner_of(config, container=name) for name in oom]
    apps = sorted(set(a for a in apps if a))
    if action and apps:
        action += " (alorig_apps: %s)" % ", ".join(apps)
    return action


def build_report(metrics, config):
    containers = metrics.get("containers", {})
    thresholds = config["thresholds"]
    apps = []
    for app in config["apps"]:
        rows = [dict(name=n, **containers[n]) for n in app["containers"] if n in containers]
        apps.append({"name": app["name"], "title": app.get("title", app["name"]),
                     "ram_budget_mb": app["ram_budget_mb"],
                     "ram_mb": round(sum(r["ram_mb"] for r in rows), 1),
                     "running": sum(1 for r in rows if r["status"] == "running"),
                     "expected": len(app["containers"]), "containers": rows})
    infra = [{"name": n, "ram_budget_mb": b, "ram_mb": containers.get(n, {}).get("ram_mb", 0.0)}
             for n, b in sorted(config.get("infra", {}).items()) if n in containers]
    total = round(sum(c["ram_mb"] for c in containers.values()), 1)
    oom = sorted(n for n, c in containers.items() if c.get("oom_killed"))
    longest = max(metrics.get("queues") or [{"key": None, "length": 0}], key=lambda q: q.get("length", 0))
    current = config.get("current_app") or ""
    checks = [
        ("steady_state_ram_mb", total, thresholds["steady_state_ram_mb"], "MB", total < thresholds["steady_state_ram_mb"]),
        ("oom_kills", len(oom), thresholds["oom_kills"], "containers " + (", ".join(oom) or "none"),
         len(oom) <= thresholds["oom_kills"]),
        ("postgres_connections", metrics.get("postgres_connections"), thresholds["postgres_connections"], "",
         metrics.get("postgres_connections") is not None
         and metrics["postgres_connections"] < thresholds["postgres_connections"]),
        ("redis_memory_mb", metrics.get("redis_memory_mb"), thresholds["redis_memory_mb"], "MB",
         metrics.get("redis_memory_mb") is not None and metrics["redis_memory_mb"] < thresholds["redis_memory_mb"]),
        ("celery_queue_length", longest.get("length", 0), thresholds["celery_queue_length"],
         "queue %s" % longest.get("key"), longest.get("length", 0) < thresholds["celery_queue_length"]),
    ]
    extra_checks, backup = backup_checks(metrics, config)
    checks += extra_checks
    # A collected metric that could not be read fails its check: say why, not the action.
    unread = "; ".join(metrics.get("errors") or []) or "no value collected"
    violations = []
    for m, v, lim, d, ok in checks:
        if ok:
            continue
        if v is None and m in COLLECTED:
            d, action = "not measured: " + unread, ""
        else:
            action = action_for(m, config, longest, oom)
        violations.append({"metric": m, "value": v, "limit": lim, "detail": d, "app": current,
                           "action": action})
    for app in apps:
        if app["running"] < app["expected"] and (not current or app["name"] == current):
            violations.append({"metric": "containers_running", "value": app["running"], "limit": app["expected"],
                               "detail": "app %s" % app["name"], "app": current})
    return {"generated_at": config.get("generated_at"), "current_app": current,
            "host_ram_mb": config["host_ram_mb"], "upgrade_trigger_mb": config["upgrade_trigger_mb"],
            "thresholds": thresholds, "total_ram_mb": total,
            "headroom_mb": round(config["upgrade_trigger_mb"] - total, 1),
            "apps": apps, "infra": infra,
            "postgres_connections": metrics.get("postgres_connections"),
            "redis_memory_mb": metrics.get("redis_memory_mb"), "queues": metrics.get("queues", []),
            "oom_killed": oom, "collect_errors": metrics.get("errors", []),
            "backup": backup,
            # informational, never a violation: unattended-upgrades does not reboot
            "reboot_required": config.get("reboot_required") or {"required": False, "packages": []},
            "checks": [{"metric": m, "value": v, "limit": lim, "ok": ok} for m, v, lim, _d, ok in checks],
            "violations": violations}


def _mb(value):
    return "%.1f" % (value / 1024.0 ** 2) if isinstance(value, (int, float)) else "?"


def svg(report):
    """Per-app bars (RAM against budget), then the host total against the trigger."""
    width, left, bar_w, row_h = 900, 210, 560, 26
    rows = report["apps"] + [{"title": "infrastructure", "ram_mb": sum(i["ram_mb"] for i in report["infra"]),
                              "ram_budget_mb": sum(i["ram_budget_mb"] for i in report["infra"])}]
    scale_app = max([r["ram_budget_mb"] for r in rows] + [r["ram_mb"] for r in rows] + [1])
    backup = report.get("backup") or {}
    backup_rows = sorted((backup.get("apps") or {}).items()) if backup.get("enabled") else []
    height = 110 + row_h * len(rows) + 120 + (40 + 18 * len(backup_rows) if backup.get("enabled") else 0)
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">'
           % (width, height),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="10" y="22" font-size="16" font-weight="bold">Alorig VPS capacity%s</text>'
           % escape(" after " + report["current_app"] if report["current_app"] else ""),
           '<text x="10" y="40" fill="#555">%s - total %.0f MB of %d MB host, upgrade trigger %d MB, headroom %.0f MB</text>'
           % (escape(str(report["generated_at"])), report["total_ram_mb"], report["host_ram_mb"],
              report["upgrade_trigger_mb"], report["headroom_mb"]),
           '<text x="10" y="62" font-weight="bold">RAM per app (bar) against its budget (outline)</text>']
    y = 75
    for r in rows:
        budget_w = bar_w * r["ram_budget_mb"] / scale_app
        used_w = bar_w * r["ram_mb"] / scale_app
        color = "#d9534f" if r["ram_mb"] > r["ram_budget_mb"] else "#5cb85c"
        out.append('<text x="10" y="%d">%s</text>' % (y + 15, escape(r["title"])))
        out.append('<rect x="%d" y="%d" width="%.1f" height="18" fill="%s"/>' % (left, y, used_w, color))
        out.append('<rect x="%d" y="%d" width="%.1f" height="18" fill="none" stroke="#333"/>' % (left, y, budget_w))
        out.append('<text x="%d" y="%d">%.0f / %d MB</text>' % (left + max(used_w, budget_w) + 6, y + 14,
                                                               r["ram_mb"], r["ram_budget_mb"]))
        y += row_h
    y += 20
    out.append('<text x="10" y="%d" font-weight="bold">Host total against the %d MB upgrade trigger</text>'
               % (y, report["upgrade_trigger_mb"]))
    y += 12
    scale = max(report["host_ram_mb"], report["total_ram_mb"], 1)
    trig_x = left + bar_w * report["upgrade_trigger_mb"] / scale
    limit = report["thresholds"]["steady_state_ram_mb"]
    out.append('<text x="10" y="%d">all containers</text>' % (y + 20))
    out.append('<rect x="%d" y="%d" width="%.1f" height="24" fill="#eee" stroke="#333"/>' % (left, y + 4, bar_w))
    out.append('<rect x="%d" y="%d" width="%.1f" height="24" fill="%s"/>'
               % (left, y + 4, bar_w * report["total_ram_mb"] / scale,
                  "#d9534f" if report["total_ram_mb"] >= limit else "#337ab7"))
    out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#d9534f" stroke-width="2" stroke-dasharray="6,3"/>'
               % (trig_x, y - 4, trig_x, y + 36))
    out.append('<text x="%.1f" y="%d" fill="#d9534f">upgrade trigger %d MB</text>' % (trig_x - 60, y + 50,
                                                                                      report["upgrade_trigger_mb"]))
    if limit != report["upgrade_trigger_mb"]:
        lim_x = left + bar_w * min(limit, scale) / scale
        out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#f0ad4e" stroke-width="2"/>'
                   % (lim_x, y - 4, lim_x, y + 36))
        out.append('<text x="%.1f" y="%d" fill="#f0ad4e">limit %d MB</text>' % (lim_x + 4, y + 64, limit))
    if backup.get("enabled"):
        y += 90
        out.append('<text x="10" y="%d" font-weight="bold">Backups: last good %s (%s h ago), repository %s MB; '
                   'drill %s</text>' % (y, escape(str(backup.get("last_success"))), backup.get("age_hours"),
                                        _mb(backup.get("repository_bytes")),
                                        escape("passed" if (backup.get("drill") or {}).get("ok")
                                               else "FAILED" if backup.get("drill") else "not run yet")))
        for name, figures in backup_rows:
            y += 18
            out.append('<text x="20" y="%d">%s: database dump %s MB (%s rows), media %s MB (%s files), %s h old</text>'
                       % (y, escape(name), _mb(figures.get("dump_bytes")), figures.get("rows"),
                          _mb(figures.get("media_bytes")), figures.get("media_files"), figures.get("age_hours")))
    out.append('<text x="10" y="%d" fill="#555">PostgreSQL connections %s, Redis %s MB, longest queue %s, OOM kills %d</text>'
               % (height - 10, report["postgres_connections"], report["redis_memory_mb"],
                  max([q.get("length", 0) for q in report["queues"]] + [0]), len(report["oom_killed"])))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write(path, text):
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(path + ".tmp", path)


def main():
    with open(sys.argv[1], encoding="utf-8") as handle:
        metrics = json.load(handle)
    with open(sys.argv[2], encoding="utf-8") as handle:
        config = json.load(handle)
    out_dir = sys.argv[3]
    os.makedirs(out_dir, exist_ok=True)
    report = build_report(metrics, config)
    text = json.dumps(report, indent=2, sort_keys=True) + "\n"
    picture = svg(report)
    names = ["capacity"] + (["capacity-after-" + report["current_app"]] if report["current_app"] else [])
    for name in names:
        write(os.path.join(out_dir, name + ".json"), text)
        write(os.path.join(out_dir, name + ".svg"), picture)
    json.dump(report, sys.stdout, sort_keys=True)


if __name__ == "__main__":
    main()
