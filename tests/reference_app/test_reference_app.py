"""End-to-end tests of the Alorig reference app image (app_sources/reference).

Runs PostgreSQL + Redis stand-ins and every container kind of the app
(migrate, backend, worker, beat, channels, payload) on a private Docker network
`refapptest_net`, then checks the behaviour the deploy roles rely on.
Every container/network/image created here is named `refapptest_*`/`refapptest-*`
and removed at the end (images are kept as a cache).

Environment:
  REFAPP_IMAGE      use this image instead of building refapptest-app:latest
  REFAPP_BASE_IMAGE base for the build (default: alorig-base:bookworm, else
                    refapp-base:bookworm)
  REFAPP_KEEP=1     keep the containers after the run (debugging)
  REFAPP_FORCE_STANDINS=1  build/use refapptest-postgres/-redis even when
                    postgres:16/redis:7 exist

Run: .venv/bin/pytest -v tests/reference_app
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
APP_SRC = REPO / "app_sources" / "reference"
STANDINS = Path(__file__).resolve().parent / "standins"

PREFIX = "refapptest_"
NET = "refapptest_net"
APP = "refapp"
KEY_PREFIX = "refapp:"
REDIS_DB = 5
REDIS_ADMIN_PW = "refapptest-admin-" + uuid.uuid4().hex[:8]
REDIS_APP_PW = "refapptest-app-" + uuid.uuid4().hex[:8]
REDIS_MIN_PW = "refapptest-min-" + uuid.uuid4().hex[:8]
PG_PW = "refapptest-pg-" + uuid.uuid4().hex[:8]

# The ACL contract for the redis role (see app_sources/README.md).
APP_ACL = [
    "reset", "on", f">{REDIS_APP_PW}",
    f"~{KEY_PREFIX}*", f"&{KEY_PREFIX}*", f"&{KEY_PREFIX}/{REDIS_DB}.celery.pidbox",
    "+@all", "-@dangerous",
]
# Minimal variant: only prefix patterns; needs CELERY_WORKER_ENABLE_REMOTE_CONTROL=false.
MIN_ACL = [
    "reset", "on", f">{REDIS_MIN_PW}",
    f"~{KEY_PREFIX}*", f"&{KEY_PREFIX}*", "+@all", "-@dangerous",
]

WAIT = 90  # seconds, upper bound of every wait loop


def sh(*args, check=True, timeout=600, **kw):
    res = subprocess.run(
        list(args), capture_output=True, text=True, timeout=timeout, check=False, **kw
    )
    if check and res.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} -> rc {res.returncode}\nstdout:\n{res.stdout[-3000:]}\n"
            f"stderr:\n{res.stderr[-3000:]}"
        )
    return res


def image_exists(name):
    return sh("docker", "image", "inspect", name, check=False).returncode == 0


def http(url, method="GET", body=None, headers=None, timeout=10):
    req = urllib.request.Request(url, method=method, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            return res.status, json.loads(res.read() or b"{}")
    except urllib.error.HTTPError as err:
        raw = err.read()
        try:
            return err.code, json.loads(raw or b"{}")
        except ValueError:
            return err.code, {"raw": raw.decode(errors="replace")}


def wait_for(what, fn, timeout=WAIT, interval=1.0):
    """Call fn until it returns a truthy value; bounded by timeout and count."""
    last = None
    for _ in range(int(timeout / interval) + 1):
        try:
            last = fn()
            if last:
                return last
        except (OSError, urllib.error.URLError, ConnectionError, ValueError) as exc:
            last = exc
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last result: {last!r}")


def base_image():
    wanted = os.environ.get("REFAPP_BASE_IMAGE")
    if wanted:
        return wanted
    for name in ("alorig-base:bookworm", "refapp-base:bookworm"):
        if image_exists(name):
            return name
    if not shutil.which("debootstrap"):
        pytest.skip("no base image and no debootstrap to make one")
    rootfs = "/tmp/refapptest-rootfs"
    sh("rm", "-rf", rootfs)
    sh("debootstrap", "--variant=minbase", "bookworm", rootfs, "http://deb.debian.org/debian",
       timeout=900)
    sh("sh", "-c", f"tar -C {rootfs} -c . | docker import - refapp-base:bookworm")
    sh("rm", "-rf", rootfs)
    return "refapp-base:bookworm"


def standin(official, fallback, context):
    if os.environ.get("REFAPP_FORCE_STANDINS") != "1" and image_exists(official):
        return official
    if not image_exists(fallback):
        sh("docker", "build", "-q", "-t", fallback, "--build-arg",
           f"BASE_IMAGE={base_image()}", str(context), timeout=900)
    return fallback


def redis_cli(*args, db=None):
    cmd = ["docker", "exec", f"{PREFIX}redis", "redis-cli", "--no-auth-warning",
           "-a", REDIS_ADMIN_PW]
    if db is not None:
        cmd += ["-n", str(db)]
    return sh(*cmd, *args).stdout


def app_env(**overrides):
    env = {
        "APP_NAME": APP,
        "DJANGO_SECRET_KEY": "refapptest-" + "k" * 50,
        "DJANGO_ALLOWED_HOSTS": "*",
        "DJANGO_DEBUG": "false",
        "DATABASE_URL": f"postgres://{APP}:{PG_PW}@{PREFIX}postgres:5432/{APP}_db",
        "REDIS_URL": f"redis://{APP}:{REDIS_APP_PW}@{PREFIX}redis:6379/{REDIS_DB}",
        "REDIS_KEY_PREFIX": KEY_PREFIX,
        "PORT": "8000",
        "CELERY_BEAT_TICK_SECONDS": "2",
    }
    env.update(overrides)
    return env


def env_args(env):
    out = []
    for key, value in env.items():
        out += ["-e", f"{key}={value}"]
    return out


def run_app(image, name, command, *, port=None, env=None, extra=()):
    args = ["docker", "run", "-d", "--name", f"{PREFIX}{name}", "--network", NET,
            "--hostname", f"{PREFIX}{name}", *env_args(env or app_env())]
    if port:
        args += ["-p", f"127.0.0.1::{port}"]
    sh(*args, *extra, image, *command)
    if port:
        mapping = sh("docker", "port", f"{PREFIX}{name}", f"{port}/tcp").stdout.split()[0]
        return "http://" + mapping.replace("0.0.0.0", "127.0.0.1")
    return None


def remove_ours():
    names = sh("docker", "ps", "-aq", "--filter", f"name=^{PREFIX}").stdout.split()
    if names:
        sh("docker", "rm", "-f", *names, check=False)
    sh("docker", "network", "rm", NET, check=False)


@pytest.fixture(scope="module")
def image():
    if not shutil.which("docker") or sh("docker", "info", check=False).returncode != 0:
        pytest.skip("docker daemon not available")
    wanted = os.environ.get("REFAPP_IMAGE")
    if wanted:
        return wanted
    sh(str(APP_SRC / "fetch-wheels.sh"), timeout=900)
    sh("docker", "build", "-q", "-t", "refapptest-app:latest", "--build-arg",
       f"BASE_IMAGE={base_image()}", str(APP_SRC), timeout=1800)
    return "refapptest-app:latest"


@pytest.fixture(scope="module")
def stack(image):
    remove_ours()
    sh("docker", "network", "create", NET)
    urls = {}
    try:
        redis_image = standin("redis:7", "refapptest-redis", STANDINS / "redis")
        pg_image = standin("postgres:16", "refapptest-postgres", STANDINS / "postgres")
        sh("docker", "run", "-d", "--name", f"{PREFIX}redis", "--network", NET, redis_image,
           "redis-server", "--requirepass", REDIS_ADMIN_PW, "--protected-mode", "no")
        sh("docker", "run", "-d", "--name", f"{PREFIX}postgres", "--network", NET,
           "-e", f"POSTGRES_USER={APP}", "-e", f"POSTGRES_PASSWORD={PG_PW}",
           "-e", f"POSTGRES_DB={APP}_db", pg_image)
        wait_for("redis", lambda: "PONG" in redis_cli("PING"))
        redis_cli("ACL", "SETUSER", APP, *APP_ACL)
        redis_cli("ACL", "SETUSER", f"{APP}_min", *MIN_ACL)
        redis_cli("ACL", "LOG", "RESET")
        wait_for("postgres", lambda: sh(
            "docker", "exec", f"{PREFIX}postgres", "pg_isready", "-h", "127.0.0.1",
            "-U", APP, "-d", f"{APP}_db", check=False).returncode == 0)

        # migrate: the first run has postgres still finishing its init on some
        # images, so retry a bounded number of times.
        def migrate():
            res = sh("docker", "run", "--rm", "--network", NET, *env_args(app_env()),
                     image, "migrate", check=False, timeout=300)
            return res if res.returncode == 0 else None
        urls["migrate_output"] = wait_for("migrate", migrate, timeout=60, interval=3).stdout

        urls["backend"] = run_app(image, "backend", ["backend"], port=8000)
        run_app(image, "worker", ["worker"])
        run_app(image, "beat", ["beat"])
        run_app(image, "channels", ["channels"], port=8000)
        urls["channels"] = sh("docker", "port", f"{PREFIX}channels", "8000/tcp").stdout.split()[0]
        urls["channels"] = "http://" + urls["channels"].replace("0.0.0.0", "127.0.0.1")
        urls["payload"] = run_app(image, "payload", ["payload"], port=3000,
                                  env={"APP_NAME": APP, "PORT": "3000"})
        # A worker for a second queue, logged in as the minimal ACL user with
        # remote control off: proves the fallback contract.
        run_app(image, "worker_video", ["worker"], env=app_env(
            REDIS_URL=f"redis://{APP}_min:{REDIS_MIN_PW}@{PREFIX}redis:6379/{REDIS_DB}",
            CELERY_QUEUES="video",
            CELERY_WORKER_ENABLE_REMOTE_CONTROL="false"))
        wait_for("backend /health/", lambda: http(urls["backend"] + "/health/")[0] == 200)
        yield urls
    finally:
        if os.environ.get("REFAPP_KEEP") != "1":
            for name in ("backend", "worker", "worker_video", "beat", "channels", "payload"):
                logs = sh("docker", "logs", "--tail", "30", f"{PREFIX}{name}", check=False)
                print(f"---- {name} ----\n{logs.stdout[-2000:]}{logs.stderr[-2000:]}")
            remove_ours()


def test_migrate_did_real_work_and_is_idempotent(stack, image):
    assert "Applying core.0001_initial... OK" in stack["migrate_output"]
    again = sh("docker", "run", "--rm", "--network", NET, *env_args(app_env()), image, "migrate")
    assert "No migrations to apply" in again.stdout


def test_health_ok(stack):
    status, body = http(stack["backend"] + "/health/")
    assert status == 200
    assert body == {"status": "ok", "app": APP, "database": "ok", "redis": "ok"}


def test_ping_reports_app_and_hostname(stack):
    status, body = http(stack["backend"] + "/api/ping/", headers={"Host": "api.example.test"})
    assert status == 200
    assert body["app"] == APP
    assert body["hostname"] == f"{PREFIX}backend"
    assert body["host"] == "api.example.test"


def test_task_is_executed_by_worker(stack):
    status, body = http(stack["backend"] + "/api/tasks/", method="POST", body=b"{}")
    assert status == 202
    task_id = body["id"]
    done = wait_for("task execution", lambda: (
        lambda r: r[1] if r[1].get("executed") else None)(
            http(f"{stack['backend']}/api/tasks/{task_id}/")))
    assert done["status"] == "done"
    assert done["worker_hostname"] == f"{PREFIX}worker"


def test_task_on_second_queue_with_minimal_acl_worker(stack):
    status, body = http(stack["backend"] + "/api/tasks/", method="POST",
                        body=json.dumps({"queue": "video"}).encode())
    assert status == 202
    done = wait_for("video task execution", lambda: (
        lambda r: r[1] if r[1].get("executed") else None)(
            http(f"{stack['backend']}/api/tasks/{body['id']}/")))
    assert done["worker_hostname"] == f"{PREFIX}worker_video"


def test_unknown_task_is_404(stack):
    status, _ = http(stack["backend"] + "/api/tasks/999999/")
    assert status == 404


def test_beat_ticks_at_least_twice(stack):
    first = wait_for("first beat tick", lambda: (
        lambda r: r[1] if r[1].get("ticks", 0) >= 1 else None)(
            http(stack["backend"] + "/api/beat/")))
    later = wait_for("two more beat ticks", lambda: (
        lambda r: r[1] if r[1].get("ticks", 0) >= first["ticks"] + 2 else None)(
            http(stack["backend"] + "/api/beat/")))
    assert later["last_tick"] is not None
    assert later["cache_last_tick"] is not None


def test_celery_remote_control_works_under_prefix(stack):
    res = sh("docker", "exec", f"{PREFIX}worker", "celery", "-A", "config", "inspect", "ping",
             "--timeout", "10", timeout=120)
    assert "pong" in res.stdout


def test_healthcheck_worker_command(stack):
    res = sh("docker", "exec", f"{PREFIX}worker", "alorig-app", "healthcheck-worker",
             timeout=120)
    assert "pong" in res.stdout


def test_websocket_echo_through_daphne(stack):
    websockets_sync = pytest.importorskip("websockets.sync.client")
    ws_url = stack["channels"].replace("http://", "ws://") + "/ws/echo/"
    message = "hello from refapptest " + uuid.uuid4().hex

    def roundtrip():
        with websockets_sync.connect(ws_url, open_timeout=10, close_timeout=5) as ws:
            ws.send(message)
            return ws.recv(timeout=10)

    assert wait_for("websocket echo", roundtrip, timeout=30) == message


def test_channels_serves_health_over_asgi(stack):
    status, body = http(stack["channels"] + "/health/")
    assert status == 200
    assert body["database"] == "ok" and body["redis"] == "ok"


def test_payload_answers_with_host_header(stack):
    status, body = http(stack["payload"] + "/health")
    assert status == 200 and body["status"] == "ok"
    status, body = http(stack["payload"] + "/", headers={"Host": "shop1.sites.alorig.com"})
    assert status == 200
    assert body["host"] == "shop1.sites.alorig.com"
    assert body["service"] == f"{APP}-payload"


def test_smoke_command_inside_backend(stack):
    res = sh("docker", "exec", f"{PREFIX}backend", "alorig-app", "smoke", "--task", "--beat",
             "--timeout", "60", timeout=180)
    assert "smoke: all checks passed" in res.stdout


def test_healthcheck_command(stack):
    for name in ("backend", "channels"):
        assert sh("docker", "exec", f"{PREFIX}{name}", "alorig-app", "healthcheck").returncode == 0
    res = sh("docker", "exec", f"{PREFIX}payload", "alorig-app", "healthcheck", "/health")
    assert res.returncode == 0


def test_check_deploy_and_collectstatic(stack, image):
    res = sh("docker", "run", "--rm", "--network", NET, *env_args(app_env()), image, "check")
    assert "no issues" in res.stdout
    res = sh("docker", "run", "--rm", *env_args(app_env()), "--entrypoint", "sh", image, "-c",
             "alorig-app collectstatic >/dev/null && test -s /data/static/admin/css/base.css"
             " && echo STATIC_OK")
    assert "STATIC_OK" in res.stdout


def test_export_frontend(stack, image, tmp_path):
    out = tmp_path / "site"
    out.mkdir()
    out.chmod(0o777)
    sh("docker", "run", "--rm", "-v", f"{out}:/export", "-e", f"APP_NAME={APP}",
       "-e", "FRONTEND_API_BASE=https://api.example.test", image, "export-frontend", "/export")
    html = (out / "index.html").read_text()
    scripts = list((out / "assets").glob("app.*.js"))
    assert len(scripts) == 1 and f"/assets/{scripts[0].name}" in html
    config = json.loads((out / "config.json").read_text())
    assert config["app_name"] == APP
    assert config["api_base"] == "https://api.example.test"


def test_health_503_when_redis_credentials_are_wrong(stack, image):
    url = run_app(image, "backend_badredis", ["backend"], port=8000, env=app_env(
        REDIS_URL=f"redis://{APP}:wrong-password@{PREFIX}redis:6379/{REDIS_DB}"))
    status, body = wait_for("bad-redis backend answering", lambda: (
        lambda r: r if r[0] in (200, 503) else None)(http(url + "/health/")))
    assert status == 503
    assert body["status"] == "error"
    assert body["database"] == "ok"
    assert body["redis"].startswith("error:")


def test_health_503_when_database_is_unreachable(stack, image):
    url = run_app(image, "backend_baddb", ["backend"], port=8000, env=app_env(
        DATABASE_URL=f"postgres://{APP}:wrong@{PREFIX}postgres:5432/{APP}_db"))
    status, body = wait_for("bad-db backend answering", lambda: (
        lambda r: r if r[0] in (200, 503) else None)(http(url + "/health/")))
    assert status == 503
    assert body["database"].startswith("error:")
    assert body["redis"] == "ok"


def test_zz_every_redis_key_is_under_the_prefix(stack):
    # Runs last (zz): by now the app, cache, broker, result backend, beat and
    # remote control have all written to Redis.
    keys = []
    for db in range(16):
        keys += [(db, k) for k in redis_cli("--scan", db=db).split()]
    assert keys, "expected the app to have written keys"
    assert {db for db, _ in keys} == {REDIS_DB}
    outside = [k for _, k in keys if not k.startswith(KEY_PREFIX)]
    assert outside == []
    kinds = {k.split(":")[1].split("-")[0].split(".")[0] for _, k in keys}
    assert "_kombu" in kinds  # broker bindings
    assert "1" in kinds  # Django cache (refapp:1:beat:last_tick)


def test_zz_no_acl_denials_for_the_app_users(stack):
    log = redis_cli("ACL", "LOG", "50")
    lines = log.split()
    denied_users = {lines[i + 1] for i, word in enumerate(lines[:-1]) if word == "username"}
    # The bad-password backend causes auth failures only (reason "auth").
    reasons = {lines[i + 1] for i, word in enumerate(lines[:-1]) if word == "reason"}
    assert reasons <= {"auth"}, f"ACL denials: {log}"
    assert denied_users <= {APP}
