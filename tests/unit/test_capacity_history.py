"""The RAM history of the capacity report: collect_metrics.py queries Prometheus (here a
tiny HTTP server in the test answering /api/v1/query, /api/v1/query_range and
/api/v1/alerts with canned data in Prometheus's JSON format), and capacity_report.py
gates on the p95 when there are enough hours of it, checks each app's p95 against its
budget, copies the alerts and draws the trend picture."""

import importlib.util
import json
import socket
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]
FILES = ROOT / "roles/alorig_monitor/files"


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


collect_metrics = _load("collect_metrics_history", FILES / "collect_metrics.py")
capacity_report = _load("capacity_report_history", FILES / "capacity_report.py")

MB = 1024 ** 2
NOW = 1699999200  # a multiple of 300 and 3600: the series end exactly here
COVERED = 19080   # 5.3 h of samples in the 24 h window


# -- a Prometheus stand-in ---------------------------------------------------------------------

def _vector(values):
    return {"resultType": "vector",
            "result": [{"metric": labels, "value": [NOW, str(value)]} for labels, value in values]}


def _matrix(series):
    return {"resultType": "matrix",
            "result": [{"metric": labels, "values": [[t, str(v)] for t, v in points]} for labels, points in series]}


def _answer(path, params):
    """(HTTP status, body) of the canned Prometheus."""
    query = params.get("query", "")
    per_app = "by (app)" in query
    if path == "/api/v1/query":
        if query.startswith("quantile_over_time(0.95"):
            data = _vector([({"app": "psydge"}, 1500 * MB), ({"app": "snapify"}, 700 * MB)] if per_app
                           else [({}, 4321.3 * MB)])
        elif query.startswith("max_over_time("):
            data = _vector([({"app": "psydge"}, 1700 * MB), ({"app": "snapify"}, 750 * MB)] if per_app
                           else [({}, 5000 * MB)])
        else:
            return 400, {"status": "error", "errorType": "bad_data", "error": "unexpected query %s" % query}
        return 200, {"status": "success", "data": data}
    if path == "/api/v1/query_range":
        start, end, step = float(params["start"]), float(params["end"]), int(params["step"])
        if step == 60:  # the coverage of the window: samples only in its last 5.3 h, with a gap
            points = [(t, 4000 * MB) for t in range(NOW - COVERED, NOW - 7200, 60)] + \
                     [(t, 4100 * MB) for t in range(NOW - 3600, NOW + 1, 60)]
        else:
            points = [(t, 4000 * MB + (t % 7) * MB) for t in range(int(start), int(end) + 1, step)]
        if per_app:
            series = [({"app": "psydge"}, [(t, 1400 * MB) for t, _v in points]),
                      ({"app": "snapify"}, [(t, 650 * MB) for t, _v in points]),
                      ({"app": "nan"}, [(points[0][0], "NaN")])]
        else:
            series = [({}, points)]
        return 200, {"status": "success", "data": _matrix(series)}
    if path == "/api/v1/alerts":
        def alert(name, state, app, container, summary):
            return {"labels": {"alertname": name, "app": app, "container": container, "severity": "warning",
                               "threshold": "1792"},
                    "annotations": {"summary": summary}, "state": state, "activeAt": "2023-11-14T21:00:00Z",
                    "value": "1.9e+09"}
        return 200, {"status": "success", "data": {"alerts": [
            alert("AppRamAboveBudget", "pending", "snapify", "snapify_backend", "snapify above its budget"),
            alert("ContainerRamHigh", "firing", "psydge", "psydge_backend", "psydge_backend <RAM> & rising"),
            alert("Old", "inactive", "", "", "not reported")]}}
    return 404, {"status": "error", "error": "not found"}


class Prometheus(BaseHTTPRequestHandler):
    requests = None      # [(path, params)], set per server
    broken = ()          # paths answering 503 with Prometheus's error body

    def do_GET(self):  # noqa: N802 (http.server's name)
        url = urlparse(self.path)
        params = dict((k, v[0]) for k, v in parse_qs(url.query).items())
        self.requests.append((url.path, params))
        if url.path in self.broken:
            status, body = 503, {"status": "error", "errorType": "unavailable", "error": "rule manager not ready"}
        else:
            status, body = _answer(url.path, params)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def prometheus():
    """Start the stand-in; yields a function (broken paths) -> (url, requests)."""
    servers = []

    def start(broken=()):
        handler = type("Handler", (Prometheus,), {"requests": [], "broken": tuple(broken)})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return "http://127.0.0.1:%d" % server.server_address[1], handler.requests

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- collect_metrics.collect_history -----------------------------------------------------------

def test_history_figures_series_coverage_and_alerts(prometheus):
    url, requests = prometheus()
    history, errors = collect_metrics.collect_history(url + "/", 24, 60, now=NOW)
    assert errors == []
    assert history["window_hours"] == 24
    assert history["coverage_hours"] == 5.3
    assert history["total_p95_mb"] == 4321.3
    assert history["total_max_mb"] == 5000.0
    assert history["apps"] == {"psydge": {"p95_mb": 1500.0, "max_mb": 1700.0},
                               "snapify": {"p95_mb": 700.0, "max_mb": 750.0}}
    day, week = history["series"]["day"], history["series"]["week"]
    assert (day["step_seconds"], day["end"], week["step_seconds"], week["end"]) == (300, NOW, 3600, NOW)
    assert day["total"][0] == [NOW - 86400, round((4000 * MB + ((NOW - 86400) % 7) * MB) / MB, 1)]
    assert day["total"][-1][0] == NOW and len(day["total"]) == 289
    assert len(week["total"]) == 169 and week["total"][0][0] == NOW - 7 * 86400
    assert sorted(day["apps"]) == ["nan", "psydge", "snapify"]
    assert day["apps"]["nan"] == []  # NaN samples are dropped
    assert day["apps"]["snapify"][0] == [NOW - 86400, 650.0]
    # firing first, inactive dropped, text as Prometheus gave it
    assert history["alerts"] == [
        {"name": "ContainerRamHigh", "app": "psydge", "container": "psydge_backend", "state": "firing",
         "severity": "warning", "summary": "psydge_backend <RAM> & rising", "active_at": "2023-11-14T21:00:00Z"},
        {"name": "AppRamAboveBudget", "app": "snapify", "container": "snapify_backend", "state": "pending",
         "severity": "warning", "summary": "snapify above its budget", "active_at": "2023-11-14T21:00:00Z"}]
    # the queries: subqueries over the window at the step, evaluated at the same instant
    instant = [p for path, p in requests if path == "/api/v1/query"]
    assert {p["query"] for p in instant} == {
        "quantile_over_time(0.95, sum(alorig_container_memory_bytes)[24h:1m])",
        "max_over_time(sum(alorig_container_memory_bytes)[24h:1m])",
        'quantile_over_time(0.95, (sum by (app) (alorig_container_memory_bytes{app!=""}))[24h:1m])',
        'max_over_time((sum by (app) (alorig_container_memory_bytes{app!=""}))[24h:1m])'}
    assert {float(p["time"]) for p in instant} == {NOW}
    ranges = [(p["query"], int(p["step"]), float(p["end"]) - float(p["start"]))
              for path, p in requests if path == "/api/v1/query_range"]
    assert ("sum(alorig_container_memory_bytes)", 60, 86400.0) in ranges
    assert ("sum(alorig_container_memory_bytes)", 3600, 7 * 86400.0) in ranges
    assert ('sum by (app) (alorig_container_memory_bytes{app!=""})', 300, 86400.0) in ranges


def test_window_and_step_come_from_the_config(prometheus):
    url, requests = prometheus()
    history, errors = collect_metrics.collect_history(url, "6", "30", now=NOW)
    assert errors == [] and history["window_hours"] == 6
    queries = [p["query"] for path, p in requests if path == "/api/v1/query"]
    assert "max_over_time(sum(alorig_container_memory_bytes)[6h:30s])" in queries
    coverage = next(p for path, p in requests if path == "/api/v1/query_range")
    assert (int(coverage["step"]), float(coverage["end"]) - float(coverage["start"])) == (30, 6 * 3600.0)


def test_unreachable_prometheus_gives_no_history_and_an_error():
    url = "http://127.0.0.1:%d" % _free_port()
    history, errors = collect_metrics.collect_history(url, 24, 60, timeout=2, now=NOW)
    assert history is None
    assert len(errors) == 1 and errors[0].startswith("history: %s: /api/v1/query_range: " % url)


def test_a_failing_query_leaves_its_part_empty_and_says_why(prometheus):
    url, _requests = prometheus(broken=["/api/v1/alerts"])
    history, errors = collect_metrics.collect_history(url, 24, 60, now=NOW)
    assert history["alerts"] == [] and history["total_p95_mb"] is not None
    assert errors == ["history: alerts: /api/v1/alerts: HTTP 503: rule manager not ready"]


def test_bad_window_is_an_error_not_a_crash():
    history, errors = collect_metrics.collect_history("http://127.0.0.1:1", "a day", 60)
    assert history is None and errors[0].startswith("history: history_window_hours")


DOCKER = {
    ("docker", "ps"): "psydge_backend\n",
    ("docker", "inspect"): json.dumps([{"Name": "/psydge_backend", "State": {"Status": "running"},
                                        "Config": {"Labels": {"org.alorig.app": "psydge"}}}]),
    ("docker", "stats"): json.dumps({"Name": "psydge_backend", "MemUsage": "1.5GiB / 2GiB"}) + "\n",
    ("docker", "exec"): "3\n",
}


def _collect(monkeypatch, capsys, config):
    """collect_metrics.main with docker answered by DOCKER (the host is not here)."""
    monkeypatch.setattr(collect_metrics, "run", lambda cmd, stdin=None, attempts=2: DOCKER[tuple(cmd[:2])])
    monkeypatch.setattr(sys, "argv", ["collect_metrics.py", json.dumps(config)])
    collect_metrics.main()
    return json.loads(capsys.readouterr().out)


BASE_COLLECT = {"postgres_container": "alorig_postgres", "redis_container": "alorig_redis",
                "redis_admin_user": "alorig_admin", "queues": []}


def test_the_cli_adds_history_only_with_a_prometheus_url(prometheus, monkeypatch, capsys):
    without = _collect(monkeypatch, capsys, dict(BASE_COLLECT, prometheus_url=""))
    assert "history" not in without and without["containers"]["psydge_backend"]["ram_mb"] == 1536.0
    url, _requests = prometheus()
    found = _collect(monkeypatch, capsys, dict(BASE_COLLECT, prometheus_url=url, history_window_hours=24))
    assert found["history"]["coverage_hours"] == 5.3 and found["history"]["apps"]["psydge"]["p95_mb"] == 1500.0
    down = _collect(monkeypatch, capsys, dict(BASE_COLLECT, prometheus_url="http://127.0.0.1:%d" % _free_port()))
    assert down["history"] is None
    assert [e for e in down["errors"] if e.startswith("history: ")]


# -- capacity_report ---------------------------------------------------------------------------

THRESHOLDS = {"steady_state_ram_mb": 13312, "oom_kills": 0, "postgres_connections": 80,
              "redis_memory_mb": 2048, "celery_queue_length": 1000}
ACTIONS = {"oom_kills": "reduce workers: lower the killed container's concurrency or replicas in "
                        "alorig_apps, or raise its app's ram_budget_mb",
           "steady_state_ram_mb": "upgrade the VPS or move an app to its own host"}
SAMPLE = {"containers": {"psydge_backend": {"ram_mb": 1000.0, "status": "running"},
                         "snapify_backend": {"ram_mb": 300.0, "status": "running"},
                         "alorig_postgres": {"ram_mb": 100.0, "status": "running"}},
          "postgres_connections": 5, "redis_memory_mb": 3.0, "queues": [], "errors": []}
ALERTS = [{"name": "ContainerRamHigh", "app": "psydge", "container": "psydge_backend", "state": "firing",
           "severity": "warning", "summary": "psydge_backend <RAM> & rising", "active_at": None}]


def config(**extra):
    base = {"apps": [{"name": "psydge", "title": "Psydge", "ram_budget_mb": 1792, "containers": ["psydge_backend"]},
                     {"name": "snapify", "title": "Snap & Ify", "ram_budget_mb": 600,
                      "containers": ["snapify_backend"]}],
            "infra": {"alorig_postgres": 1536}, "thresholds": THRESHOLDS, "upgrade_trigger_mb": 13312,
            "host_ram_mb": 16384, "current_app": "", "generated_at": "2023-11-14T22:13:20", "actions": ACTIONS}
    base.update(extra)
    return base


def history(coverage=5.3, total_p95=4321.0, snapify_p95=500.0):
    day = [[NOW - 86400 + i * 300, 1400.0 + i] for i in range(289)]
    return {"window_hours": 24, "coverage_hours": coverage, "total_p95_mb": total_p95, "total_max_mb": 5000.0,
            "apps": {"psydge": {"p95_mb": 1500.0, "max_mb": 1700.0},
                     "snapify": {"p95_mb": snapify_p95, "max_mb": 750.0}},
            "series": {"day": {"step_seconds": 300, "total": day,
                               "apps": {"psydge": [[t, 1000.0] for t, _v in day],
                                        "snapify": [[t, 300.0] for t, _v in day[:100] + day[150:]]}},
                       "week": {"step_seconds": 3600, "total": [[NOW - 3600, 1400.0], [NOW, 1410.0]], "apps": {}}},
            "alerts": ALERTS}


def metrics(found=None, errors=()):
    sample = dict(SAMPLE, errors=list(errors))
    if found is not None or errors:
        sample["history"] = found
    return sample


def steady(report):
    return next(c for c in report["checks"] if c["metric"] == "steady_state_ram_mb")


def test_with_enough_history_the_steady_state_is_the_p95():
    report = capacity_report.build_report(metrics(history(total_p95=14000.0)), config())
    assert report["history"]["used"] is True
    assert report["history"]["reason"] == "p95 over the last 24 h (Prometheus, 5.3 h of history)"
    assert (steady(report)["value"], steady(report)["ok"]) == (14000.0, False)
    assert report["total_ram_mb"] == 1400.0  # the sample is still reported
    violation = next(v for v in report["violations"] if v["metric"] == "steady_state_ram_mb")
    assert violation["value"] == 14000.0
    assert violation["detail"] == "p95 over the last 24 h (Prometheus, 5.3 h of history); sample now 1400 MB"
    assert violation["action"] == ACTIONS["steady_state_ram_mb"]
    assert report["history"]["apps"]["psydge"] == {"p95_mb": 1500.0, "max_mb": 1700.0}
    assert report["history"]["total_p95_mb"] == 14000.0 and report["history"]["coverage_hours"] == 5.3


def test_too_little_history_keeps_the_sample():
    report = capacity_report.build_report(metrics(history(coverage=0.4, total_p95=14000.0, snapify_p95=900.0)),
                                          config(history_min_coverage_hours=1))
    assert report["history"]["used"] is False
    assert report["history"]["reason"] == "only 0.4 h of history (min 1 h)"
    assert (steady(report)["value"], steady(report)["ok"]) == (1400.0, True)
    assert not [c for c in report["checks"] if c["metric"] == "app_ram_p95_mb"]
    assert report["violations"] == []
    # a higher minimum is read from the config (a string when Ansible templated it)
    longer = capacity_report.build_report(metrics(history(coverage=5.3)), config(history_min_coverage_hours="6"))
    assert longer["history"]["reason"] == "only 5.3 h of history (min 6 h)"


def test_the_sample_says_why_there_is_no_history():
    cases = [(metrics(), "no Prometheus configured"),
             (metrics(None, ["history: http://127.0.0.1:9090: /api/v1/query_range: Connection refused"]),
              "http://127.0.0.1:9090: /api/v1/query_range: Connection refused")]
    for found, why in cases:
        report = capacity_report.build_report(found, config(thresholds=dict(THRESHOLDS, steady_state_ram_mb=1000)))
        assert report["history"]["used"] is False and report["history"]["reason"] == why
        assert report["alerts"] == []
        violation = report["violations"][0]
        assert (violation["metric"], violation["value"]) == ("steady_state_ram_mb", 1400.0)
        assert violation["detail"] == "sample (no history: %s)" % why


def test_history_errors_are_not_blamed_for_an_unread_service():
    found = dict(metrics(None, ["history: http://127.0.0.1:9090: refused", "redis: no such container"]),
                 redis_memory_mb=None)
    violation = capacity_report.build_report(found, config())["violations"][0]
    assert violation == {"metric": "redis_memory_mb", "value": None, "limit": 2048, "app": "",
                         "detail": "not measured: redis: no such container", "action": ""}


def test_an_app_p95_above_its_budget_is_a_violation_naming_the_app():
    report = capacity_report.build_report(metrics(history(snapify_p95=700.0)), config(current_app="psydge"))
    checks = [c for c in report["checks"] if c["metric"] == "app_ram_p95_mb"]
    assert checks == [{"metric": "app_ram_p95_mb", "value": 1500.0, "limit": 1792, "ok": True, "app": "psydge"},
                      {"metric": "app_ram_p95_mb", "value": 700.0, "limit": 600, "ok": False, "app": "snapify"}]
    assert report["violations"] == [{
        "metric": "app_ram_p95_mb", "value": 700.0, "limit": 600, "detail": "app snapify", "app": "psydge",
        "action": ACTIONS["oom_kills"] + " (alorig_apps: snapify)"}]
    # an action of its own wins over the OOM kills' one
    own = dict(ACTIONS, app_ram_p95_mb="raise the app's ram_budget_mb or lower its workers")
    violation = capacity_report.build_report(metrics(history(snapify_p95=700.0)), config(actions=own))["violations"][0]
    assert violation["action"] == "raise the app's ram_budget_mb or lower its workers (alorig_apps: snapify)"


def test_alerts_are_copied_never_a_violation():
    report = capacity_report.build_report(metrics(history()), config())
    assert report["alerts"] == ALERTS
    assert report["violations"] == []


def test_the_collected_history_feeds_the_report(prometheus):
    url, _requests = prometheus()
    found, errors = collect_metrics.collect_history(url, 24, 60, now=NOW)
    report = capacity_report.build_report(metrics(found, errors), config())
    assert report["history"]["used"] is True
    assert [(v["metric"], v["detail"]) for v in report["violations"]] == [("app_ram_p95_mb", "app snapify")]
    assert [a["name"] for a in report["alerts"]] == ["ContainerRamHigh", "AppRamAboveBudget"]


def _texts(path):
    root = ET.parse(str(path)).getroot()  # well-formed, or this raises
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return ["".join(node.itertext()) for node in root.iter("{http://www.w3.org/2000/svg}text")]


def _run(tmp_path, found, **extra):
    (tmp_path / "metrics.json").write_text(json.dumps(found))
    (tmp_path / "config.json").write_text(json.dumps(config(**extra)))
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(FILES / "capacity_report.py"), str(tmp_path / "metrics.json"),
                           str(tmp_path / "config.json"), str(out)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return out, json.loads(proc.stdout)


def test_the_trend_picture_names_each_app_and_the_trigger(tmp_path):
    out, report = _run(tmp_path, metrics(history()), current_app="psydge",
                       thresholds=dict(THRESHOLDS, steady_state_ram_mb=12288))
    assert sorted(p.name for p in out.iterdir()) == [
        "capacity-after-psydge.json", "capacity-after-psydge.svg", "capacity-trend-after-psydge.svg",
        "capacity-trend.svg", "capacity.json", "capacity.svg"]
    assert (out / "capacity-trend.svg").read_text() == (out / "capacity-trend-after-psydge.svg").read_text()
    texts = _texts(out / "capacity-trend.svg")
    joined = "\n".join(texts)
    assert texts[0] == "Alorig VPS RAM trend after psydge"
    assert "Last 24 h" in texts and "Last 7 days" in texts
    assert texts.count("upgrade trigger 13312 MB") == 2 and texts.count("steady-state limit 12288 MB") == 2
    assert texts.count("Psydge (psydge)") == 2 and texts.count("Snap & Ify (snapify)") == 2
    assert "budget 1792 MB" in texts and "budget 600 MB" in texts
    assert "p95 over the last 24 h (Prometheus, 5.3 h of history)" in joined
    assert "FIRING ContainerRamHigh (psydge/psydge_backend): psydge_backend <RAM> & rising" in texts
    assert "no data" in texts  # the week has no per-app series
    # lines: the day's total, psydge, snapify in two (the gap in its series), the week's total
    root = ET.parse(str(out / "capacity-trend.svg")).getroot()
    assert len(root.findall("{http://www.w3.org/2000/svg}polyline")) == 1 + 1 + 2 + 1
    assert report["history"]["used"] is True and report["alerts"] == ALERTS
    assert "steady state (p95 over 24 h): 4321 MB" in "\n".join(_texts(out / "capacity.svg"))


def test_without_history_the_trend_picture_says_so(tmp_path):
    out, report = _run(tmp_path, metrics())
    assert sorted(p.name for p in out.iterdir()) == ["capacity-trend.svg", "capacity.json", "capacity.svg"]
    assert _texts(out / "capacity-trend.svg") == ["Alorig VPS RAM trend: no history - no Prometheus configured"]
    assert report["history"] == {"used": False, "reason": "no Prometheus configured", "window_hours": None,
                                 "coverage_hours": None, "min_coverage_hours": 1.0, "total_p95_mb": None,
                                 "total_max_mb": None, "apps": {}}
    empty = dict(history(coverage=0.0, total_p95=None), series={"day": {"step_seconds": 300, "total": [], "apps": {}}})
    out, report = _run(tmp_path, metrics(empty))
    assert report["history"]["reason"] == "only 0 h of history (min 1 h)"
    assert _texts(out / "capacity-trend.svg") == [
        "Alorig VPS RAM trend: no history - no samples in Prometheus yet (only 0 h of history (min 1 h))"]
