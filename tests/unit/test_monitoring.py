"""The continuous monitoring (issue: metrics history, alerts, capacity trend): what the registry
model projects for the monitoring stack, the alert rules it generates from the thresholds and
the apps, and the host collector's output for containers it reads through a Docker API."""

import http.server
import importlib.util
import json
import os
import socketserver
import sys
import threading
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "collections"))
sys.path.insert(0, str(ROOT / "tests"))

from ansible_collections.alorig.platform.plugins.module_utils import monitoring_model  # noqa: E402
from registry_cases import base_variables, projection as project  # noqa: E402

spec = importlib.util.spec_from_file_location(
    "alorig_metrics", ROOT / "roles/monitoring/files/alorig_metrics.py")
alorig_metrics = importlib.util.module_from_spec(spec)
spec.loader.exec_module(alorig_metrics)



def alerts(projection, name):
    return [r for r in projection["monitoring"]["rules"]["groups"][0]["rules"]
            if r["alert"] == name]


def test_projection_is_on_by_default_with_the_exporters_inputs():
    mon = project()["monitoring"]
    assert mon["enabled"] is True
    assert mon["containers"]["prometheus"] == "alorig_prometheus"
    assert mon["interval_seconds"] == 30 and mon["retention_days"] == 30
    # every app's Celery queue, in its own Redis DB, for redis_exporter and its ACL user
    assert {"app": "psydge", "db": 2, "keys": ["psydge:celery"]} in mon["queues"]
    assert mon["redis_readers"][0]["name"] == "alorig_metrics"
    assert "psydge:celery" in mon["redis_readers"][0]["keys"]
    # postgres-exporter's login, created by postgres_db (postgres_db_readers)
    assert mon["postgres_readers"] == [{"name": "alorig_metrics", "connection_limit": 3,
                                        "member_of": ["pg_monitor"]}]
    # certificates: every route host, a wildcard through its smoke label
    assert "api.psydge.com" in mon["tls_hosts"]
    assert not any(h.startswith("*") for h in mon["tls_hosts"])
    # no secret in the projection
    text = json.dumps(mon)
    variables = base_variables()
    for name in ("vault_monitoring_postgres_password", "vault_monitoring_redis_password"):
        assert variables[name] not in text


def test_switched_off_there_is_no_rule_and_no_reader():
    mon = project(lambda v: v.update(alorig_monitoring_enabled="false"))["monitoring"]
    assert mon["enabled"] is False
    assert mon["rules"] == {"groups": []} and mon["redis_readers"] == []
    assert mon["postgres_readers"] == []


def test_rules_name_each_app_with_its_budget_and_queue_keys():
    projection = project()
    budgets = {a["name"]: a["ram_budget_mb"] for a in projection["monitor_apps"]}
    ram = alerts(projection, "AlorigAppRamOverBudget")
    assert sorted(r["labels"]["app"] for r in ram) == sorted(budgets)
    psydge = next(r for r in ram if r["labels"]["app"] == "psydge")
    assert psydge["expr"] == 'sum(alorig_container_memory_bytes{app="psydge"}) / 1048576 > %d' \
        % budgets["psydge"]
    assert psydge["for"] == "1h"
    assert "psydge" in psydge["annotations"]["summary"]
    assert "ram_budget_mb" in psydge["annotations"]["action"]
    queues = alerts(projection, "AlorigCeleryQueue")
    igny8 = next(r for r in queues if r["labels"]["app"] == "igny8")
    assert igny8["expr"] == 'alorig_celery_queue_length{app="igny8"} > 1000'
    assert "alorig_apps: igny8" in igny8["annotations"]["action"]


def test_rules_follow_the_thresholds_and_durations():
    def change(v):
        v["alorig_thresholds"]["postgres_connections"] = 75
        v["alorig_thresholds"]["oom_kills"] = 0
        v["alorig_monitoring_alert_for"] = {"celery_queue_length": "20s"}
        v["alorig_monitoring_tls_expiry_hours"] = 48
    projection = project(change)
    pg = alerts(projection, "AlorigPostgresConnections")[0]
    assert pg["expr"] == "sum(pg_stat_activity_count) > 75" and pg["for"] == "5m"
    assert "alorig_pgbouncer_enabled" in pg["annotations"]["action"]
    assert all(r["for"] == "20s" for r in alerts(projection, "AlorigCeleryQueue"))
    oom = alerts(projection, "AlorigOomKill")[0]
    assert oom["expr"] == "increase(alorig_container_oom_kills_total[15m]) > 0"
    assert "{{ $labels.container }}" in oom["annotations"]["summary"]
    assert "< 48" in alerts(projection, "AlorigTlsCertificateExpiry")[0]["expr"]
    # the default (5m) of the others is kept
    assert alerts(projection, "AlorigRedisMemory")[0]["for"] == "10m"


def test_every_alert_carries_a_threshold_label_and_an_action():
    rules = project()["monitoring"]["rules"]["groups"][0]["rules"]
    names = set(r["alert"] for r in rules)
    for expected in ("AlorigSteadyStateRam", "AlorigOomKill", "AlorigPostgresConnections",
                     "AlorigRedisMemory", "AlorigCeleryQueue", "AlorigContainerRestarting",
                     "AlorigContainerUnhealthy", "AlorigTlsCertificateExpiry",
                     "AlorigDiskFilling", "AlorigTargetDown"):
        assert expected in names
    for rule in rules:
        assert rule["labels"]["threshold"] and rule["annotations"]["action"], rule["alert"]
    # the file is plain YAML Prometheus reads (no Python objects)
    assert yaml.safe_load(yaml.safe_dump({"groups": [{"name": "alorig", "rules": rules}]}))


# -- the host collector --------------------------------------------------------------------

class _UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def _docker_api(path, containers):
    """A Docker API on a unix socket answering /containers/json and /containers/<id>/json."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def address_string(self):
            return "docker"

        def log_message(self, *args):
            pass

        def do_GET(self):
            if self.path.startswith("/containers/json"):
                body = [{"Id": c["Id"]} for c in containers]
            else:
                cid = self.path.split("/")[2]
                body = next(c for c in containers if c["Id"] == cid)
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
    server = _UnixHTTPServer(path, Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _container(cid, name, app, pid=0, status="running", health=None, restarts=0, oom=False):
    state = {"Status": status, "Pid": pid, "StartedAt": "t1", "OOMKilled": oom,
             "FinishedAt": "f1"}
    if health:
        state["Health"] = {"Status": health}
    return {"Id": cid, "Name": "/" + name, "RestartCount": restarts, "State": state,
            "Config": {"Labels": {"org.alorig.app": app} if app else {}},
            "HostConfig": {"Memory": 64 * 1024 * 1024}}


def test_collector_reports_containers_and_keeps_oom_kills(tmp_path):
    sock = str(tmp_path / "docker.sock")
    containers = [
        _container("a1", "psydge_backend", "psydge", pid=os.getpid(), health="healthy"),
        _container("b2", "psydge_celery_worker", "psydge", status="restarting", restarts=4),
        _container("c3", "alorig_redis", "", status="exited", oom=True),
    ]
    server = _docker_api(sock, containers)
    try:
        config = {"docker_socket": sock, "tls_hosts": []}
        state = {}
        text, errors = alorig_metrics.collect(config, state, 1000)
        assert errors == []
        lines = text.splitlines()
        # the running container's memory comes from this process's own cgroup
        assert any(line.startswith('alorig_container_memory_bytes{container="psydge_backend",'
                                   'app="psydge"} ') for line in lines)
        assert 'alorig_container_running{container="psydge_celery_worker",app="psydge"} 0' in lines
        assert 'alorig_container_restarts_total{container="psydge_celery_worker",app="psydge"} 4' \
            in lines
        assert 'alorig_container_healthy{container="psydge_backend",app="psydge"} 1' in lines
        # killed as its main process: counted once, not again on the next run
        assert 'alorig_container_oom_kills_total{container="alorig_redis",app=""} 1' in lines
        text, _ = alorig_metrics.collect(config, state, 1030)
        assert 'alorig_container_oom_kills_total{container="alorig_redis",app=""} 1' \
            in text.splitlines()
        assert "alorig_collector_last_run_timestamp_seconds 1030" in text
        assert "alorig_collector_errors 0" in text
    finally:
        server.shutdown()
        server.server_close()


def test_collector_reports_an_unreachable_docker_as_an_error(tmp_path):
    text, errors = alorig_metrics.collect({"docker_socket": str(tmp_path / "none.sock")}, {}, 5)
    assert errors and errors[0].startswith("docker:")
    assert "alorig_collector_errors 1" in text


@pytest.mark.parametrize("value", ["1h", "90s", "2d"])
def test_durations_accepted(value):
    assert monitoring_model.DURATION_RE.match(value)


def test_collector_reads_each_queue_length_as_the_metrics_user(tmp_path):
    """Against a Redis speaking RESP on a local port: AUTH as the metrics user, then per
    app SELECT of its DB and LLEN of each key (a key that does not exist counts 0)."""
    seen = []
    lengths = {("0", "igny8:celery"): 3, ("2", "psydge:celery"): 1200}

    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            db = "0"
            while True:
                line = self.rfile.readline()
                if not line:
                    return
                args = []
                for _ in range(int(line[1:])):
                    size = int(self.rfile.readline()[1:])
                    args.append(self.rfile.read(size + 2)[:-2].decode())
                seen.append(args)
                if args[0] == "SELECT":
                    db = args[1]
                if args[0] == "LLEN":
                    self.wfile.write(b":%d\r\n" % lengths.get((db, args[1]), 0))
                else:
                    self.wfile.write(b"+OK\r\n")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    secret = tmp_path / "secret"
    secret.write_text("pw-123\n")
    try:
        config = {"docker_socket": str(tmp_path / "none.sock"),
                  "redis": {"host": "127.0.0.1", "port": server.server_address[1],
                            "user": "alorig_metrics", "password_file": str(secret)},
                  "queues": [{"app": "igny8", "db": 0, "keys": ["igny8:celery", "igny8:video"]},
                             {"app": "psydge", "db": 2, "keys": ["psydge:celery"]}]}
        text, errors = alorig_metrics.collect(config, {}, 10)
    finally:
        server.shutdown()
        server.server_close()
    assert seen[0] == ["AUTH", "alorig_metrics", "pw-123"]
    lines = text.splitlines()
    assert 'alorig_celery_queue_length{app="igny8",key="igny8:celery"} 3' in lines
    assert 'alorig_celery_queue_length{app="igny8",key="igny8:video"} 0' in lines
    assert 'alorig_celery_queue_length{app="psydge",key="psydge:celery"} 1200' in lines
    assert [e for e in errors if e.startswith("redis")] == []
