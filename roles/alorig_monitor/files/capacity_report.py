#!/usr/bin/env python3
"""Capacity report of the Alorig VPS: JSON + an SVG picture, from the metrics
collected on the host (collect_metrics.py) and the budgets of the registry.

Usage: capacity_report.py METRICS_JSON CONFIG_JSON OUT_DIR
CONFIG_JSON: {"apps": [{"name", "title", "ram_budget_mb", "containers": [...]}],
              "infra": {"<container>": budget_mb}, "thresholds": {...},
              "upgrade_trigger_mb", "host_ram_mb", "current_app", "generated_at",
              "reboot_required": {"required": bool, "packages": [...]},
              "backup": {"enabled", "max_age_hours", "drill_max_age_days"},
              "history_min_coverage_hours" (default 1)}
With the RAM history from Prometheus (METRICS_JSON's "history", collect_metrics.py)
covering at least history_min_coverage_hours, the steady-state check takes the p95
over the window instead of the sample, and each app's p95 is checked against its
budget (app_ram_p95_mb); the firing/pending alerts are copied (never a violation).
Writes OUT_DIR/capacity.json, capacity.svg and capacity-trend.svg (the last 24 h
and 7 days; and capacity-after-<app>.*, capacity-trend-after-<app>.svg when
current_app is set); prints the report JSON (with "violations").
Standard library only.
"""
import datetime
import json
import math
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


def action_for(metric, config, longest, oom, app=None):
    """The seed's action for a crossed threshold (config["actions"], from the registry
    model) with the apps it concerns, or "" for a metric without one. An app above its
    budget (app_ram_p95_mb) takes the OOM kills' action (fewer workers or a larger
    ram_budget_mb) unless the actions name one of its own."""
    actions = config.get("actions") or {}
    action = actions.get(metric, "")
    apps = []
    if metric == "celery_queue_length":
        apps = [owner_of(config, queue_key=longest.get("key"))]
    elif metric == "oom_kills":
        apps = [owner_of(config, container=name) for name in oom]
    elif metric == "app_ram_p95_mb":
        action = action or actions.get("oom_kills", "")
        apps = [app]
    apps = sorted(set(a for a in apps if a))
    if action and apps:
        action += " (alorig_apps: %s)" % ", ".join(apps)
    return action


def _hours(value):
    """5.3 -> "5.3", 24.0 -> "24"."""
    return "%g" % round(float(value), 1)


def min_coverage_hours(config):
    """config["history_min_coverage_hours"] (default 1; a string when Ansible templated it)."""
    value = config.get("history_min_coverage_hours")
    return 1.0 if value in (None, "") else float(value)


def history_state(metrics, config):
    """(used, reason, history): whether the RAM history collected from Prometheus
    (metrics["history"]) covers enough hours to gate on, why (not), and the history
    (None when there is none)."""
    if "history" not in metrics:
        return False, "no Prometheus configured", None
    history = metrics.get("history")
    failures = [e[len("history: "):] for e in metrics.get("errors") or [] if e.startswith("history: ")]
    if not history:
        return False, "; ".join(failures) or "Prometheus gave no history", None
    minimum = min_coverage_hours(config)
    coverage = history.get("coverage_hours") or 0.0
    if coverage < minimum:
        return False, "only %s h of history (min %s h)" % (_hours(coverage), _hours(minimum)), history
    if history.get("total_p95_mb") is None:
        return False, "Prometheus gave no p95 of the total%s" % ("".join(": " + f for f in failures[:1])), history
    return True, "p95 over the last %s h (Prometheus, %s h of history)" % (
        _hours(history.get("window_hours") or 24), _hours(coverage)), history


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
    # The steady state: the p95 over the history window when Prometheus has enough of it,
    # else the sample taken now.
    used, reason, history = history_state(metrics, config)
    if used:
        steady, steady_detail = history["total_p95_mb"], "%s; sample now %.0f MB" % (reason, total)
    else:
        steady, steady_detail = total, "sample (no history: %s)" % reason
    checks = [
        ("steady_state_ram_mb", steady, thresholds["steady_state_ram_mb"], steady_detail,
         steady < thresholds["steady_state_ram_mb"]),
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
    # Each app's p95 over the history window against its budget (only with enough history).
    history_apps = (history or {}).get("apps") or {}
    if used:
        for app in apps:
            p95 = (history_apps.get(app["name"]) or {}).get("p95_mb")
            if p95 is not None:
                checks.append(("app_ram_p95_mb", p95, app["ram_budget_mb"], "app %s" % app["name"],
                               p95 <= app["ram_budget_mb"], app["name"]))
    extra_checks, backup = backup_checks(metrics, config)
    checks += extra_checks
    # A collected metric that could not be read fails its check: say why, not the action.
    unread = "; ".join(e for e in metrics.get("errors") or [] if not e.startswith("history: ")) \
        or "no value collected"
    violations = []
    for m, v, lim, d, ok, *about in checks:
        if ok:
            continue
        if v is None and m in COLLECTED:
            d, action = "not measured: " + unread, ""
        else:
            action = action_for(m, config, longest, oom, app=about[0] if about else None)
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
            "history": {"used": used, "reason": reason,
                        "window_hours": (history or {}).get("window_hours"),
                        "coverage_hours": (history or {}).get("coverage_hours"),
                        "min_coverage_hours": min_coverage_hours(config),
                        "total_p95_mb": (history or {}).get("total_p95_mb"),
                        "total_max_mb": (history or {}).get("total_max_mb"),
                        "apps": history_apps},
            # informational, never a violation: Alertmanager has already notified them
            "alerts": [a for a in (history or {}).get("alerts") or [] if a.get("state") in ("firing", "pending")],
            "checks": [dict({"metric": m, "value": v, "limit": lim, "ok": ok}, **({"app": about[0]} if about else {}))
                       for m, v, lim, _d, ok, *about in checks],
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
    steady = report.get("history") or {}
    out.append('<text x="10" y="%d" font-weight="bold">Host total against the %d MB upgrade trigger%s</text>'
               % (y, report["upgrade_trigger_mb"],
                  escape(" - steady state (p95 over %s h): %.0f MB"
                         % (_hours(steady.get("window_hours") or 24), steady["total_p95_mb"]))
                  if steady.get("used") else ""))
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


# The trend picture: (series name, title, seconds shown).
PERIODS = (("day", "last 24 h", 24 * 3600), ("week", "last 7 days", 7 * 24 * 3600))


def _utc(stamp):
    return datetime.datetime.fromtimestamp(stamp, datetime.timezone.utc).strftime("%m-%d %H:%M")


def _segments(points, step):
    """The points split where a sample is missing (a gap longer than 1.5 steps)."""
    segments = []
    for point in points:
        if not segments or point[0] - segments[-1][-1][0] > 1.5 * step:
            segments.append([])
        segments[-1].append(point)
    return segments


def _nice(value):
    """The smallest round number (1, 1.2, 1.4 ... 8 times a power of ten) at or above value:
    an axis' top."""
    power = 10 ** math.floor(math.log10(max(value, 1)))
    return next(power * f for f in (1, 1.2, 1.4, 1.6, 2, 2.5, 3, 4, 5, 6, 8, 10) if power * f >= value)


def _chart(out, box, points, step, span, lines, title):
    """A line chart of points ([[unix_ts, MB], ...]) over span = (start, end) in box
    (x, y, width, height), with horizontal lines [(MB, label, colour, dashed)]."""
    x, y, w, h = box
    start, end = span
    top = _nice(max([p[1] for p in points] + [line[0] for line in lines] + [1]) * 1.12)

    def px(stamp):
        return x + w * (stamp - start) / float(max(end - start, 1))

    def py(value):
        return y + h - h * value / top

    out.append('<text x="%d" y="%d" font-weight="bold">%s</text>' % (x, y - 6, escape(title)))
    out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="#fafafa" stroke="#999"/>' % (x, y, w, h))
    for value in (0, top / 2.0, top):
        out.append('<text x="%d" y="%.1f" text-anchor="end" fill="#555">%.0f</text>' % (x - 4, py(value) + 4, value))
    ticks = ((start, "start"), ((start + end) / 2.0, "middle"), (end, "end")) if w > 400 else \
        ((start, "start"), (end, "end"))
    for stamp, anchor in ticks:
        out.append('<text x="%.1f" y="%d" text-anchor="%s" fill="#555">%s</text>'
                   % (px(stamp), y + h + 13, anchor, escape(_utc(stamp) + (" UTC" if stamp == end else ""))))
    above = any(p[1] > line[0] for p in points for line in lines[:1])
    for segment in _segments(points, step):
        if len(segment) == 1:
            out.append('<circle cx="%.1f" cy="%.1f" r="2" fill="%s"/>'
                       % (px(segment[0][0]), py(segment[0][1]), "#d9534f" if above else "#337ab7"))
        else:
            out.append('<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>'
                       % ("#d9534f" if above else "#337ab7",
                          " ".join("%.1f,%.1f" % (px(t), py(v)) for t, v in segment)))
    for number, (value, label, colour, dashed) in enumerate(lines):
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s" stroke-width="1.5"%s/>'
                   % (x, py(value), x + w, py(value), colour, ' stroke-dasharray="6,3"' if dashed else ""))
        # the first label right above its line, the next one left below its own
        out.append('<text x="%d" y="%.1f" text-anchor="%s" fill="%s">%s</text>'
                   % (((x + w - 4, py(value) - 4, "end") if number % 2 == 0 else (x + 4, py(value) + 13, "start"))
                      + (colour, escape(label))))
    if not points:
        out.append('<text x="%.1f" y="%.1f" text-anchor="middle" fill="#999">no data</text>'
                   % (x + w / 2.0, y + h / 2.0))


def trend_svg(report, history):
    """The RAM history (metrics["history"] from collect_metrics.py): for the last 24 h and
    the last 7 days, the host total against the upgrade trigger and the steady-state limit,
    then each app against its budget; the firing/pending alerts below. Without history, one
    line saying why."""
    title = "Alorig VPS RAM trend%s" % (" after " + report["current_app"] if report["current_app"] else "")
    state = report.get("history") or {}
    series = (history or {}).get("series") or {}
    has_points = any((series.get(name) or {}).get("total") or any(((series.get(name) or {}).get("apps") or {}).values())
                     for name, _t, _s in PERIODS)
    if not has_points:
        why = state.get("reason") or "no Prometheus configured"
        if history:
            why = "no samples in Prometheus yet (%s)" % why
        return ('<svg xmlns="http://www.w3.org/2000/svg" width="900" height="40" font-family="sans-serif" '
                'font-size="12">\n<rect width="100%" height="100%" fill="white"/>\n'
                '<text x="10" y="24">' + escape("%s: no history - %s" % (title, why)) + '</text>\n</svg>\n')
    width, left, chart_w, chart_h = 900, 70, 790, 170
    cols, app_w, app_h, app_gap = 3, 230, 80, 60
    app_rows = (len(report["apps"]) + cols - 1) // cols
    period_h = 30 + 30 + chart_h + 40 + app_rows * (app_h + 50) + 10
    alerts = report.get("alerts") or []
    height = 70 + period_h * len(PERIODS) + (30 + 18 * len(alerts) if alerts else 0) + 10
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">'
           % (width, height),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="10" y="22" font-size="16" font-weight="bold">%s</text>' % escape(title),
           '<text x="10" y="40" fill="#555">%s</text>'
           % escape("%s - steady-state check: %s" % (report["generated_at"], state.get("reason")
                                                     if state.get("used") else "sample (no history: %s)"
                                                     % state.get("reason"))),
           '<text x="10" y="56" fill="#555">RAM of the containers (MB, as docker stats counts it) from Prometheus; '
           'a gap is a time without samples</text>']
    trigger = report["upgrade_trigger_mb"]
    limit = report["thresholds"]["steady_state_ram_mb"]
    lines = [(trigger, "upgrade trigger %d MB" % trigger, "#d9534f", True)]
    if limit != trigger:
        lines.append((limit, "steady-state limit %d MB" % limit, "#f0ad4e", False))
    # The charts end when Prometheus was asked (a stalled collector shows as a gap at the end).
    ends = [p[0] for name, _t, _s in PERIODS for p in (series.get(name) or {}).get("total") or []]
    ends += [p[0] for name, _t, _s in PERIODS for points in ((series.get(name) or {}).get("apps") or {}).values()
             for p in points]
    ends += [(series.get(name) or {}).get("end") or 0 for name, _t, _s in PERIODS]
    y = 70
    for name, label, seconds in PERIODS:
        found = series.get(name) or {}
        step = found.get("step_seconds") or 60
        end = found.get("end") or max(ends)
        span = (end - seconds, end)
        y += 30
        out.append('<text x="10" y="%d" font-size="14" font-weight="bold">%s</text>' % (y, escape(label.capitalize())))
        y += 30
        _chart(out, (left, y, chart_w, chart_h), found.get("total") or [], step, span, lines,
               "All containers, %s (one point per %s min)" % (label, step // 60))
        y += chart_h + 40
        for index, app in enumerate(report["apps"]):
            col, row = index % cols, index // cols
            budget = app["ram_budget_mb"]
            named = app["title"] if app["title"] == app["name"] else "%s (%s)" % (app["title"], app["name"])
            _chart(out, (left + col * (app_w + app_gap), y + row * (app_h + 50), app_w, app_h),
                   (found.get("apps") or {}).get(app["name"]) or [], step, span,
                   [(budget, "budget %d MB" % budget, "#333", False)], named)
        y += app_rows * (app_h + 50) + 10
    if alerts:
        y += 30
        out.append('<text x="10" y="%d" font-weight="bold">Alerts in Prometheus (already notified by Alertmanager, '
                   'not a violation)</text>' % y)
        for alert in alerts:
            y += 18
            where = "/".join(part for part in (alert.get("app"), alert.get("container")) if part)
            out.append('<text x="20" y="%d" fill="%s">%s</text>'
                       % (y, "#d9534f" if alert.get("state") == "firing" else "#f0ad4e",
                          escape("%s %s%s: %s" % (str(alert.get("state", "")).upper(), alert.get("name", ""),
                                                  " (%s)" % where if where else "", alert.get("summary", "")))))
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
    trend = trend_svg(report, metrics.get("history"))
    suffix = [""] + (["-after-" + report["current_app"]] if report["current_app"] else [])
    for name in suffix:
        write(os.path.join(out_dir, "capacity" + name + ".json"), text)
        write(os.path.join(out_dir, "capacity" + name + ".svg"), picture)
        write(os.path.join(out_dir, "capacity-trend" + name + ".svg"), trend)
    json.dump(report, sys.stdout, sort_keys=True)


if __name__ == "__main__":
    main()
