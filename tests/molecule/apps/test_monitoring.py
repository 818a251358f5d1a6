"""The continuous monitoring on the running platform (Prometheus, Alertmanager, the exporters,
the host collector, the alert rules generated from the registry).

* every target is scraped (up == 1), PostgreSQL and Redis answer their exporters, every app
  container's memory and every app's Celery queue have a series;
* a process of an app's worker that exceeds the container's memory is OOM-killed: the OOM
  alert reaches the webhook receiver of the test (on alorig_net), naming the container,
  the app and the seed's action;
* a Celery queue filled past its limit fires after the configured period, not before;
* a threshold changed in the platform settings changes the rule file, Prometheus reloads it
  without a restart (the check-mode plan lists exactly what the run changes), and an alert
  the new limit crosses (certificates expiring within 48 h) fires;
* Prometheus, Alertmanager and the exporters cannot be reached from outside the VPS, and an
  app container cannot reach Prometheus or Alertmanager;
* monitor.yml reads the steady state from the history and draws the trend.
The scenario's periods are short (molecule/apps/host_vars): scrape every 10 s, queue alert
after 20 s.
"""

import json
import shlex
import socket
import subprocess
import time

import pytest
import yaml
from conftest import PROJECT, run_playbook
from test_apps import ENABLED

PLATFORM = yaml.safe_load((PROJECT / "group_vars/all/platform.yml").read_text())
VPS = "alorig-molecule-apps"
WEBHOOK = "alorig_test_webhook"
# The receiver: every POST body Alertmanager sends, with the time it arrived, one JSON
# document per line.
RECEIVER = r'''
import http.server, json, time
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with open("/tmp/alerts.jsonl", "ab") as out:
            out.write(json.dumps({"at": time.time(), "body": json.loads(body)}).encode() + b"\n")
        self.send_response(200)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("0.0.0.0", 8080), H).serve_forever()
'''


def sh(host, cmd):
    out = host.run(cmd)
    assert out.rc == 0, "%s: %s %s" % (cmd, out.stdout, out.stderr)
    return out.stdout


def prom(host, query):
    """The result vector of an instant query."""
    out = sh(host, "curl -sf --max-time 10 --get --data-urlencode %s "
                   "http://127.0.0.1:9090/api/v1/query" % shlex.quote("query=" + query))
    return json.loads(out)["data"]["result"]


def wait_for(what, probe, timeout=120, step=3):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(step)
    raise AssertionError("%s: not seen within %d s (last: %r)" % (what, timeout, last))


@pytest.fixture(scope="module")
def webhook(host):
    """The test's webhook receiver on the monitoring stack's network (the scenario's vault
    URL names it), where Alertmanager can reach it."""
    host.run("docker rm -f %s" % WEBHOOK)
    sh(host, "docker run -d --name %s --network alorig_monitoring --memory 64m --entrypoint python3 "
             "alorig/reference-app:latest -c %s" % (WEBHOOK, shlex.quote(RECEIVER)))

    def received():
        out = host.run("docker exec %s cat /tmp/alerts.jsonl" % WEBHOOK)
        alerts = []
        for line in out.stdout.splitlines() if out.rc == 0 else []:
            message = json.loads(line)
            for alert in message["body"]["alerts"]:
                alerts.append(dict(alert, received_at=message["at"]))
        return alerts
    yield received
    host.run("docker rm -f %s" % WEBHOOK)


def firing(alerts, name, **labels):
    return [a for a in alerts if a["status"] == "firing" and a["labels"]["alertname"] == name
            and all(a["labels"].get(k) == v for k, v in labels.items())]


def test_every_target_is_scraped(host):
    jobs = {"prometheus", "alertmanager", "node", "postgres", "redis"}

    def all_up():
        up = {r["metric"]["job"]: r["value"][1] for r in prom(host, "up")}
        return up if set(up) == jobs and set(up.values()) == {"1"} else None
    wait_for("every target up", all_up)
    assert prom(host, "pg_up")[0]["value"][1] == "1"
    assert prom(host, "redis_up")[0]["value"][1] == "1"
    # the host collector: every app container's memory, under its limit
    # (Prometheus drops an empty label: the shared services have no app)
    memory = wait_for("container memory series", lambda: {
        r["metric"]["container"]: r["metric"].get("app", "")
        for r in prom(host, "alorig_container_memory_bytes")} or None)
    for app, cfg in ENABLED.items():
        for container in cfg["containers"]:
            assert memory.get(container["name"]) == app, container["name"]
    assert prom(host, "alorig_collector_errors")[0]["value"][1] == "0"
    # every Celery queue of every app, read by the monitoring's read-only Redis user
    queues = {(r["metric"]["app"], r["metric"]["key"]) for r in prom(host, "alorig_celery_queue_length")}
    assert {(app, cfg["redis"]["prefix"] + "celery") for app, cfg in ENABLED.items()} <= queues
    assert ("igny8", "igny8:video") in queues
    # Caddy's certificates, and the disk Docker's data lives on (the test VPS's "/" is the
    # container's overlay, which node-exporter leaves out; on a real VPS it is "/")
    certs = prom(host, "alorig_tls_certificate_expiry_timestamp_seconds")
    assert certs and all(float(c["value"][1]) > time.time() + 3600 for c in certs)
    assert prom(host, 'node_filesystem_avail_bytes{mountpoint="/var/lib/docker"}')


def test_exporters_log_in_with_their_own_least_privileged_users(host):
    roles = sh(host, "docker exec alorig_postgres psql -U postgres -Atc "
                     "\"SELECT rolsuper, pg_has_role('alorig_metrics', 'pg_monitor', 'member'), "
                     "rolconnlimit FROM pg_roles WHERE rolname = 'alorig_metrics'\"").strip()
    assert roles == "f|t|3"
    acl = sh(host, "docker exec alorig_redis redis-cli --no-auth-warning --user alorig_admin "
                   "ACL GETUSER alorig_metrics")
    assert "+@all" not in acl and "~*" not in acl.split()
    # the exporter's user cannot read an app's data
    denied = host.run("REDISCLI_AUTH=\"$(cat /etc/alorig/metrics-redis.secret)\" docker exec -e "
                      "REDISCLI_AUTH alorig_redis redis-cli --no-auth-warning --user alorig_metrics "
                      "-n 2 GET psydge:anything")
    assert "NOPERM" in denied.stdout + denied.stderr
    for path in ("/opt/alorig/monitoring/redis-exporter.env",
                 "/etc/alorig/metrics-redis.secret",
                 "/opt/alorig/monitoring/postgres-exporter/password",
                 "/opt/alorig/monitoring/alertmanager/alertmanager.yml"):
        assert host.file(path).mode == 0o600, path


def test_oom_kill_fires_the_alert_to_the_webhook(host, webhook):
    app = "observer"
    container = "observer_celery_worker"
    # a process in the worker's container allocates past the container's limit
    out = host.run("docker exec %s python3 -c 'b = bytearray(2 * 1024 ** 3)'" % container)
    try:
        assert out.rc == 137, (out.rc, out.stderr)
        alert = wait_for("the OOM alert at the webhook", lambda: firing(
            webhook(), "AlorigOomKill", container=container), timeout=120)[0]
        assert alert["labels"]["app"] == app
        assert container in alert["annotations"]["summary"]
        assert app in alert["annotations"]["summary"]
        assert "reduce workers" in alert["annotations"]["action"]
        # the container itself kept running (only the process was killed)
        assert sh(host, "docker inspect -f '{{.State.Status}}' %s" % container).strip() == "running"
    finally:
        # Docker keeps the container's OOMKilled flag until it restarts: monitor.yml (later
        # tests) would report the kill
        host.run("docker restart %s" % container)
    # the kill stays counted across the restart (the collector keeps its own count)
    started = sh(host, "docker inspect -f '{{.State.StartedAt}}' %s" % container).strip()
    wait_for("the collector seeing the restart", lambda: json.loads(
        sh(host, "cat /var/lib/alorig/metrics/.state.json"))["containers"][container]["started"]
        == started, timeout=30, step=1)
    assert 'alorig_container_oom_kills_total{container="%s",app="%s"} 1' % (container, app) in \
        sh(host, "cat /var/lib/alorig/metrics/alorig.prom").splitlines()


def test_celery_queue_alert_fires_after_its_period(host, webhook):
    """igny8's video queue, its worker stopped, filled past the limit: pending first, then
    firing once the queue stayed above the limit for the configured 20 s."""
    limit = PLATFORM["alorig_thresholds"]["celery_queue_length"]
    worker = "igny8_celery_video_worker"
    redis = "docker exec -i alorig_redis redis-cli --no-auth-warning --user alorig_admin -n 0"
    sh(host, "docker stop %s" % worker)
    try:
        sh(host, "seq %d | sed 's/^/RPUSH igny8:video junk/' | %s >/dev/null" % (limit + 50, redis))
        filled = time.time()
        pending = wait_for("the queue alert pending", lambda: [
            r for r in prom(host, 'ALERTS{alertname="AlorigCeleryQueue",app="igny8"}')
            if r["metric"]["alertstate"] == "pending"], timeout=60, step=1)
        assert pending[0]["metric"]["key"] == "igny8:video"
        alert = wait_for("the queue alert at the webhook", lambda: firing(
            webhook(), "AlorigCeleryQueue", app="igny8"), timeout=120)[0]
        assert alert["received_at"] - filled >= 20
        assert alert["labels"]["key"] == "igny8:video"
        assert "alorig_apps: igny8" in alert["annotations"]["action"]
        assert "(limit %d)" % limit in alert["annotations"]["summary"]
    finally:
        host.run("%s DEL igny8:video" % redis)
        host.run("docker start %s" % worker)


def _started(host, container):
    return sh(host, "docker inspect -f '{{.State.StartedAt}}' %s" % container).strip()


def test_threshold_change_reloads_the_rules_without_a_restart(host, webhook):
    thresholds = dict(PLATFORM["alorig_thresholds"], celery_queue_length=900)
    extra = json.dumps({"alorig_thresholds": thresholds, "alorig_monitoring_tls_expiry_hours": 48})
    before = _started(host, "alorig_prometheus")
    plan = run_playbook("site.yml", "--tags", "monitoring", "--check", "-e", extra, name="rules-plan")
    assert plan.returncode == 0, plan.failure()
    run = run_playbook("site.yml", "--tags", "monitoring", "-e", extra, name="rules-change")
    assert run.returncode == 0, run.failure()
    assert plan.changed() == run.changed()
    tasks = {c[2] for c in run.changed()}
    assert any(t.startswith("Write the configuration") for t in tasks), tasks
    assert any(t.startswith("Reload the configuration") for t in tasks), tasks
    rules = host.file("/opt/alorig/monitoring/prometheus/alorig.rules.yml").content_string
    assert "> 900" in rules and "< 48" in rules
    assert _started(host, "alorig_prometheus") == before
    loaded = json.loads(sh(host, "curl -sf http://127.0.0.1:9090/api/v1/rules"))
    exprs = [r["query"] for g in loaded["data"]["groups"] for r in g["rules"]]
    assert any("> 900" in e and "alorig_celery_queue_length" in e for e in exprs)
    # Caddy's local certificates live 12 hours: under the new 48 h limit they fire
    alert = wait_for("the certificate alert at the webhook", lambda: firing(
        webhook(), "AlorigTlsCertificateExpiry"), timeout=120)[0]
    assert alert["labels"]["host"] in alert["annotations"]["summary"]
    back = run_playbook("site.yml", "--tags", "monitoring", name="rules-back")
    assert back.returncode == 0, back.failure()
    assert "> %d" % PLATFORM["alorig_thresholds"]["celery_queue_length"] in \
        host.file("/opt/alorig/monitoring/prometheus/alorig.rules.yml").content_string
    again = run_playbook("site.yml", "--tags", "monitoring", name="rules-idempotent")
    assert again.returncode == 0 and again.changed() == set(), again.changed()


# From an app container: Prometheus and Alertmanager (which would let it read every metric
# or silence alerts) are not on its network; the database exporters are (they reach
# PostgreSQL and Redis there) and only serve their own metrics.
REACH = r'''
import json, socket
out = {}
for target in ("alorig_prometheus:9090", "alorig_alertmanager:9093", "alorig_node_exporter:9100",
               "alorig_postgres_exporter:9187"):
    name, port = target.split(":")
    try:
        socket.create_connection((name, int(port)), timeout=3).close()
        out[target] = "open"
    except OSError as exc:
        out[target] = type(exc).__name__
print(json.dumps(out))
'''


def test_apps_cannot_reach_prometheus_or_alertmanager(host):
    reached = json.loads(sh(host, "docker exec psydge_backend python3 -c %s" % shlex.quote(REACH)))
    assert reached["alorig_prometheus:9090"] != "open", reached
    assert reached["alorig_alertmanager:9093"] != "open", reached
    assert reached["alorig_node_exporter:9100"] != "open", reached
    assert reached["alorig_postgres_exporter:9187"] == "open", reached


def test_monitoring_is_not_reachable_from_outside(host):
    address = subprocess.run(
        ["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", VPS],
        capture_output=True, text=True, check=True).stdout.split()[0]
    for port in (9090, 9093, 9100, 9121, 9187):
        with pytest.raises(OSError):
            socket.create_connection((address, port), timeout=3).close()
    listening = sh(host, "ss -Hltn")
    for port in (9090, 9093):
        bound = [line.split()[3] for line in listening.splitlines()
                 if line.split()[3].endswith(":%d" % port)]
        assert bound and all(b.startswith("127.0.0.1:") for b in bound), bound


def test_monitor_playbook_reads_the_history(tmp_path):
    run = run_playbook("playbooks/monitor.yml", "-e", "alorig_monitor_report_dir=%s" % tmp_path,
                       "-e", "alorig_monitor_history_min_coverage_hours=0.01", name="monitor-history")
    assert run.returncode == 0, run.failure()
    report = json.loads((tmp_path / "capacity.json").read_text())
    assert report["history"]["used"] is True, report["history"]
    assert sorted(report["history"]["apps"]) == sorted(ENABLED)
    steady = next(c for c in report["checks"] if c["metric"] == "steady_state_ram_mb")
    assert steady["value"] == report["history"]["total_p95_mb"]
    trend = (tmp_path / "capacity-trend.svg").read_text()
    assert trend.startswith("<svg") and all(app in trend for app in ENABLED)
