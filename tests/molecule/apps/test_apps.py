"""Verify the apps (playbooks/apps.yml) on a fresh VPS container.

Runs after: converge, idempotence, asms disabled and removed, a rollout
stopped by a lowered RAM limit (side_effect), converge (everything back),
idempotence. Every HTTP request goes to the VPS's own loopback through Caddy
over HTTPS (curl --resolve host:443:127.0.0.1, tls internal), from inside
the VPS (testinfra `host`).
"""

import base64
import json
import os
import re
import shlex
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from conftest import PROJECT, poll_while, run_playbook

APPS = yaml.safe_load((PROJECT / "group_vars/all/apps.yml").read_text())["alorig_apps"]
ENABLED = {k: v for k, v in APPS.items() if v["enabled"]}
CONTAINERS = [(app, c) for app, cfg in ENABLED.items() for c in cfg["containers"]]
# Routes answered by the app's Django backend at /api/ping/ (no path prefix, no rewrite).
PING_ROUTES = [(app, r["host"]) for app, cfg in ENABLED.items() for r in cfg["routes"]
               if r["kind"] == "proxy" and "path" not in r and "upstream_path" not in r
               and r["upstream"].endswith("_backend")]
STATIC_ROUTES = [(app, r["host"], r.get("path", "")) for app, cfg in ENABLED.items()
                 for r in cfg["routes"] if r["kind"] == "static" and "allow_ips" not in r]


def api_host(app):
    return next((h for a, h in PING_ROUTES if a == app), None)


def curl(host, url_host, path, *extra):
    cmd = ["curl", "-sk", "--max-time", "15", "--resolve", "%s:443:127.0.0.1" % url_host,
           *extra, "https://%s%s" % (url_host, path)]
    return host.run(" ".join(shlex.quote(c) for c in cmd))


def get_json(host, url_host, path, *extra):
    out = curl(host, url_host, path, *extra)
    assert out.rc == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.parametrize("app,container", CONTAINERS, ids=[c["name"] for _, c in CONTAINERS])
def test_container_running_healthy_limited(host, app, container):
    info = json.loads(host.check_output("docker inspect %s" % container["name"]))[0]
    assert info["State"]["Running"]
    assert info["State"]["Health"]["Status"] == "healthy"
    assert not info["State"]["OOMKilled"]
    assert info["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert 0 < info["HostConfig"]["Memory"] <= APPS[app]["ram_budget_mb"] * 1024 * 1024
    assert "alorig_net" in info["NetworkSettings"]["Networks"]
    for bindings in (info["HostConfig"]["PortBindings"] or {}).values():
        assert all(b["HostIp"] == "127.0.0.1" for b in bindings)
    if "port" in container:
        assert info["HostConfig"]["PortBindings"]["%d/tcp" % container["port"]][0]["HostIp"] == "127.0.0.1"


@pytest.mark.parametrize("app", sorted(ENABLED))
def test_memory_limits_within_budget_and_compose_file(host, app):
    names = " ".join(c["name"] for c in ENABLED[app]["containers"])
    limits = host.check_output("docker inspect -f '{{ .HostConfig.Memory }}' %s" % names).split()
    assert sum(int(x) for x in limits) <= ENABLED[app]["ram_budget_mb"] * 1024 * 1024
    compose = host.file("/opt/alorig/compose/docker-compose.%s.yml" % ENABLED[app]["compose_name"])
    assert compose.exists and compose.mode == 0o600
    assert "external: true" in compose.content_string


@pytest.mark.parametrize("app", sorted(ENABLED))
def test_secrets_only_in_the_env_file(host, app):
    name = ENABLED[app]["compose_name"]
    compose = host.file("/opt/alorig/compose/docker-compose.%s.yml" % name).content_string
    env_file = host.file("/opt/alorig/compose/%s.env" % name)
    for secret in ("DATABASE_URL:", "REDIS_URL:", "DJANGO_SECRET_KEY:", "postgres://", "redis://"):
        assert secret not in compose
    assert "env_file: [%s.env]" % name in compose
    assert env_file.mode == 0o600 and env_file.user == "root"
    keys = {line.split("=", 1)[0] for line in env_file.content_string.splitlines()
            if line and not line.startswith("#")}
    assert {"DATABASE_URL", "REDIS_URL", "DJANGO_SECRET_KEY"} <= keys
    backend = next(c["name"] for c in ENABLED[app]["containers"] if c["kind"] == "backend")
    env = json.loads(host.check_output("docker inspect -f '{{ json .Config.Env }}' %s" % backend))
    database_url = next(e.split("=", 1)[1] for e in env if e.startswith("DATABASE_URL="))
    assert database_url.startswith("postgres") and "'" not in database_url


@pytest.mark.parametrize("app,url_host", PING_ROUTES, ids=[h for _, h in PING_ROUTES])
def test_api_route_reaches_the_right_backend(host, app, url_host):
    ping = get_json(host, url_host, "/api/ping/")
    assert ping["app"] == app
    assert ping["host"] == url_host
    health = get_json(host, url_host, "/health/")
    assert health == {"status": "ok", "app": app, "database": "ok", "redis": "ok"}


@pytest.mark.parametrize("app,url_host,path", STATIC_ROUTES, ids=[h + p for _, h, p in STATIC_ROUTES])
def test_static_route_serves_the_exported_frontend(host, app, url_host, path):
    page = curl(host, url_host, path + "/", "-w", "\n%{http_code}")
    assert page.stdout.rstrip().endswith("200")
    assert "<html" in page.stdout.lower()
    config = get_json(host, url_host, path + "/config.json")
    assert config["app_name"] == app


def test_snapify_api_rewrite_and_payload_routes(host):
    assert get_json(host, "api.snapify.pk", "/ping/")["app"] == "snapify"
    assert get_json(host, "cms.alorig.com", "/health")["service"] == "sitebuilder-payload"
    tenant = get_json(host, "tenant1.sites.alorig.com", "/page")
    assert tenant["host"] == "tenant1.sites.alorig.com"
    assert get_json(host, "ws.psydge.com", "/health/")["app"] == "psydge"
    builder = curl(host, "api.alorig.com", "/builder/api/ping/", "-o", "/dev/null", "-w", "%{http_code}")
    assert builder.stdout in ("200", "404")  # answered by sitebuilder_backend, not Caddy's 502


def app_json(host, app, path, *extra):
    """GET/POST the app's API through Caddy; the Site Builder's API route is
    api.alorig.com/builder (Caddy keeps the prefix, which the reference app
    has no URL for), so its backend is reached on its loopback port."""
    if api_host(app):
        return get_json(host, api_host(app), path, *extra)
    port = ENABLED[app]["backend_port"]
    cmd = ["curl", "-s", "--max-time", "15", *extra, "http://127.0.0.1:%d%s" % (port, path)]
    out = host.run(" ".join(shlex.quote(c) for c in cmd))
    assert out.rc == 0, out.stderr
    return json.loads(out.stdout)


def post_task(host, app, body=None):
    extra = ["-X", "POST", "-H", "Content-Type: application/json", "--data", json.dumps(body or {})]
    return app_json(host, app, "/api/tasks/", *extra)


def wait_done(host, app, task_id):
    detail = {}
    for _ in range(45):
        detail = app_json(host, app, "/api/tasks/%d/" % task_id)
        if detail["status"] == "done":
            return detail
        time.sleep(2)
    return detail


@pytest.mark.parametrize("app", sorted(ENABLED))
def test_celery_task_executed_by_the_apps_worker(host, app):
    task = post_task(host, app)
    detail = wait_done(host, app, task["id"])
    assert detail["status"] == "done", detail
    assert detail["executed"]


def test_igny8_video_queue_runs_on_the_video_worker(host):
    task = post_task(host, "igny8", {"queue": "video"})
    assert task["queue"] == "video"
    detail = wait_done(host, "igny8", task["id"])
    assert detail["status"] == "done", detail
    video_worker_id = host.check_output("docker inspect -f '{{ .Config.Hostname }}' igny8_celery_video_worker")
    assert video_worker_id in detail["worker_hostname"]


@pytest.mark.parametrize("app", sorted(ENABLED))
def test_beat_ticks(host, app):
    first = app_json(host, app, "/api/beat/")
    for _ in range(15):
        time.sleep(2)
        later = app_json(host, app, "/api/beat/")
        if later["ticks"] > first["ticks"]:
            break
    assert later["ticks"] > first["ticks"], (first, later)


WS_CLIENT = r'''
import base64, json, os, select, socket, ssl, struct, sys, time
host = "ws.psydge.com"
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", 443), timeout=15), server_hostname=host)
key = base64.b64encode(os.urandom(16)).decode()
sock.sendall(("GET /ws/echo/ HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nOrigin: https://psydge.com\r\n\r\n" % (host, key)).encode())
head = b""
while b"\r\n\r\n" not in head:
    head += sock.recv(1)
status = head.split(b"\r\n")[0].decode()
def read(n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            sys.exit("connection closed by Caddy")
        data += chunk
    return data
def send(opcode, data):
    mask = os.urandom(4)
    sock.sendall(bytes([0x80 | opcode, 0x80 | len(data)]) + mask
                 + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))
def frame():
    # one server frame; a ping is answered like a browser does
    first, length = read(2)
    length &= 0x7F
    if length == 126:
        length = struct.unpack(">H", read(2))[0]
    elif length == 127:
        length = struct.unpack(">Q", read(8))[0]
    opcode, data = first & 0x0F, read(length)
    if opcode == 9:
        send(0xA, data)
    elif opcode == 8:
        sys.exit("closed by the server: code %s" % (struct.unpack(">H", data[:2])[0] if len(data) >= 2 else "none"))
    return opcode, data
def echo(text):
    send(1, text.encode())
    opcode, data = frame()
    while opcode in (9, 0xA):
        opcode, data = frame()
    return opcode, data.decode()
result = {"status": status, "echo": echo("alorig-echo-test")}
if len(sys.argv) > 1:
    # keep the connection open (answering pings) until the file sys.argv[1]
    # appears, then use it again
    print("ready", flush=True)
    deadline = time.time() + 900
    while not os.path.exists(sys.argv[1]) and time.time() < deadline:
        if sock.pending() or select.select([sock], [], [], 1)[0]:
            opcode, data = frame()
            if opcode not in (9, 0xA):
                sys.exit("unexpected frame while waiting: %s %r" % (opcode, data))
    result["again"] = echo("alorig-echo-again")
print(json.dumps(result))
'''


def test_websocket_echo_through_caddy(host):
    out = host.run("python3 -c %s" % shlex.quote(WS_CLIENT))
    assert out.rc == 0, out.stderr
    result = json.loads(out.stdout)
    assert " 101 " in result["status"] + " "
    opcode, payload = result["echo"]
    assert opcode == 1
    assert "alorig-echo-test" in payload


def _caddy_headers(host):
    return curl(host, "ws.psydge.com", "/health/", "-o", "/dev/null", "-D", "-").stdout


def test_websocket_survives_a_caddy_reload(host):
    """A converge that changes and reloads Caddy while a websocket through it is open leaves it open.

    The converge adds a response header (the new configuration is live: the
    header is served) and Caddy reloads; the websocket opened before the
    reload still echoes afterwards (stream_close_delay,
    caddy_websocket_stream_close_delay). A converge back to the registry
    reloads Caddy again.
    """
    probe = {**yaml.safe_load((PROJECT / "roles/caddy/defaults/main.yml").read_text())["caddy_security_headers"],
             "X-Alorig-Reload-Probe": "1"}
    assert "x-alorig-reload-probe" not in _caddy_headers(host).lower()
    host.run("rm -f /tmp/ws-go /tmp/ws.out /tmp/ws.py")
    host.run("printf '%%s' %s > /tmp/ws.py" % shlex.quote(WS_CLIENT))
    host.run("setsid nohup python3 /tmp/ws.py /tmp/ws-go > /tmp/ws.out 2>&1 < /dev/null &")
    for _ in range(30):
        if "ready" in host.run("cat /tmp/ws.out").stdout:
            break
        time.sleep(1)
    assert "ready" in host.run("cat /tmp/ws.out").stdout, host.run("cat /tmp/ws.out").stdout
    try:
        run = run_playbook("site.yml", "--tags", "caddy", "-e", json.dumps({"caddy_security_headers": probe}),
                           name="caddy-reload-probe")
        assert run.returncode == 0, run.stdout[-3000:]
        assert any(c[1] == "caddy" and c[2].startswith("Reload Caddy") for c in run.changed()), run.changes
        assert "x-alorig-reload-probe: 1" in _caddy_headers(host).lower()
        host.run("touch /tmp/ws-go")
        for _ in range(30):
            out = host.run("tail -n 1 /tmp/ws.out").stdout.strip()
            if out.startswith("{") or "Error" in out or "closed" in out or "unexpected" in out:
                break
            time.sleep(1)
        last = host.run("tail -n 1 /tmp/ws.out").stdout
        assert last.startswith("{"), host.run("cat /tmp/ws.out").stdout
        result = json.loads(last)
        opcode, payload = result["again"]
        assert opcode == 1
        assert "alorig-echo-again" in payload
    finally:
        back = run_playbook("site.yml", "--tags", "caddy", name="caddy-back")
    assert back.returncode == 0, back.stdout[-3000:]
    assert "x-alorig-reload-probe" not in _caddy_headers(host).lower()


def test_monitor_playbook_reports_every_app_under_its_limits(tmp_path):
    run = run_playbook("playbooks/monitor.yml", "-e", "alorig_monitor_report_dir=%s" % tmp_path, name="monitor")
    assert run.returncode == 0, run.stdout[-3000:]
    report = json.loads((tmp_path / "capacity.json").read_text())
    assert report["violations"] == []
    assert sorted(a["name"] for a in report["apps"]) == sorted(ENABLED)
    assert all(a["running"] == a["expected"] for a in report["apps"])
    assert report["postgres_connections"] > 0
    assert report["redis_memory_mb"] > 0
    assert {q["key"] for q in report["queues"]} >= {"igny8:celery", "igny8:video", "psydge:celery"}
    svg = (tmp_path / "capacity.svg").read_text()
    assert svg.startswith("<svg") and "upgrade trigger" in svg


# ------------------------------------------------------------------ releases
# A new image of an app already serving: its backend must pass its health
# check beside the running release before it replaces it, and the switch
# itself costs no failed request through Caddy (caddy_upstream_try_duration).
# Observer OS gets a new image twice: one whose backend never listens (the
# run stops, the running release keeps serving), then a working one (the
# containers are replaced). The fixture puts the reference image back.

RELEASE_APP = "observer"
RELEASE_HOST = "api.observeros.app"
BROKEN_ENTRY = "#!/bin/sh\n[ \"$1\" = backend ] && exec sleep infinity\nexec /app/bin/alorig-app \"$@\"\n"
RELEASE_IMAGES = {
    "next": "FROM alorig/reference-app:latest\nLABEL org.alorig.test=next\n",
    "broken": ("FROM alorig/reference-app:latest\nUSER root\n"
               "RUN echo %s | base64 -d > /usr/local/bin/broken-entry && chmod 0755 /usr/local/bin/broken-entry\n"
               "USER app\nENTRYPOINT [\"/usr/local/bin/broken-entry\"]\n"
               % base64.b64encode(BROKEN_ENTRY.encode()).decode()),
}


def deploy_release(image=None, *extra):
    args = ["-e", json.dumps({"alorig_app_limit": [RELEASE_APP]})]
    if image:
        args += ["-e", json.dumps({"alorig_app_source_override": {"type": "image", "image": image}})]
    return run_playbook("playbooks/apps.yml", *args, *extra, name="release")


def poll_during(host, action):
    """Run action() while requests go to the app's API through Caddy; return (result, status codes)."""
    def probe():
        out = curl(host, RELEASE_HOST, "/health/", "-o", "/dev/null", "-w", "%{http_code}")
        time.sleep(0.2)
        return out.stdout.strip() or "rc=%d" % out.rc
    return poll_while(action, probe)


def backend_state(host):
    info = json.loads(host.check_output("docker inspect %s_backend" % RELEASE_APP))[0]
    compose = host.file("/opt/alorig/compose/docker-compose.%s.yml" % RELEASE_APP).content_string
    release = host.file("/opt/alorig/apps/%s/release" % RELEASE_APP).content_string.strip()
    return info["Id"], info["Config"]["Image"], compose, release


@pytest.fixture(scope="module")
def release_images(host):
    for tag, dockerfile in RELEASE_IMAGES.items():
        host.run("mkdir -p /tmp/release-%s" % tag)
        host.run("printf %%s %s > /tmp/release-%s/Dockerfile" % (shlex.quote(dockerfile), tag))
        out = host.run("DOCKER_BUILDKIT=0 docker build -q -t alorig/reference-app:%s /tmp/release-%s" % (tag, tag))
        assert out.rc == 0, out.stderr
    yield
    run = deploy_release()
    assert run.returncode == 0, run.stdout[-3000:]
    assert backend_state(host)[1].endswith(
        host.check_output("docker image inspect -f '{{ .Id }}' alorig/reference-app:latest")[7:19])


def test_unhealthy_release_stops_and_the_running_one_keeps_serving(host, release_images):
    before = backend_state(host)
    run, codes = poll_during(host, lambda: deploy_release(
        "alorig/reference-app:broken", "-e", "alorig_app_release_health_timeout=15"))
    assert run.returncode != 0
    assert re.search(r"observer: the new release observer-backend:\w+ did not\s+become healthy within 15 s"
                     r"[\s\S]*Nothing was switched: %s keeps serving" % re.escape(before[3]),
                     run.output()), run.output()[-3000:]
    assert backend_state(host) == before
    assert len(codes) >= 10 and set(codes) == {"200"}, codes
    candidate = json.loads(host.check_output("docker inspect %s_candidate" % RELEASE_APP))[0]
    assert not candidate["State"]["Running"] and candidate["State"]["StartedAt"] > "2000"


def test_healthy_release_replaces_the_app_without_a_failed_request(host, release_images):
    before = backend_state(host)
    run, codes = poll_during(host, lambda: deploy_release("alorig/reference-app:next"))
    assert run.returncode == 0, run.stdout[-3000:]
    after = backend_state(host)
    new_id = host.check_output("docker image inspect -f '{{ .Id }}' alorig/reference-app:next")[7:19]
    assert after[0] != before[0] and after[1] == "observer-backend:%s" % new_id
    assert after[3] == "observer-backend:%s" % new_id and new_id in after[2]
    assert host.run("docker inspect %s_candidate" % RELEASE_APP).rc != 0
    # the backend was replaced while the requests went on: none failed
    assert len(codes) >= 10 and set(codes) == {"200"}, codes
