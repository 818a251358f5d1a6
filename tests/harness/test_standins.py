"""Contract tests for the harness images (harness/build-images.sh).

The stand-ins replace official images that cannot be pulled here, so these tests check the
behaviour roles rely on: entrypoint environment variables, volumes, users, ports, reloads.
They drive the docker CLI, create only `harnesstest_*` containers/volumes and the network
`harnesstest_net`, talk only to those containers (directly or via ports published on
127.0.0.1) and remove everything afterwards.

Run (images must exist: harness/build-images.sh):
    .venv/bin/pytest tests/harness -v
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
HARNESS = REPO / "harness"
PREFIX = "harnesstest_"
NET = "harnesstest_net"

IMAGES = {
    "postgres": "postgres:16",
    "redis": "redis:7",
    "pgbouncer": "edoburu/pgbouncer:v1.23.1-p3",
    "caddy": "caddy:2",
    "flower": "mher/flower:2.0",
    "portainer": "portainer/portainer-ce:2.21.5",
    "prometheus": "prom/prometheus:v2.53.3",
    "alertmanager": "prom/alertmanager:v0.28.1",
    "node_exporter": "prom/node-exporter:v1.9.0",
    "postgres_exporter": "quay.io/prometheuscommunity/postgres-exporter:v0.17.1",
    "redis_exporter": "oliver006/redis_exporter:v1.69.0",
    "vps": "alorig-vps:trixie",
}
# HARNESSTEST_IMAGE_<KEY>=other:tag runs the contract tests against another image (e.g. a
# deliberately broken variant, to see the tests fail)
IMAGES.update({key: os.environ[f"HARNESSTEST_IMAGE_{key.upper()}"]
               for key in IMAGES if os.environ.get(f"HARNESSTEST_IMAGE_{key.upper()}")})


# --------------------------------------------------------------------------- helpers
def docker(*args: str, check: bool = True, timeout: int = 120, input_text: str | None = None):
    """Run `docker ARGS`; return CompletedProcess (text)."""
    proc = subprocess.run(
        ["docker", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input_text,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"docker {shlex.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def wait_until(predicate, timeout: float = 60, interval: float = 0.5, what: str = "condition"):
    """Poll predicate() (bounded) until it returns a truthy value; return that value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except (AssertionError, OSError, subprocess.SubprocessError) as exc:  # not ready yet
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last result: {last!r}")


class Resources:
    """Containers and volumes created by the tests, removed at the end."""

    def __init__(self) -> None:
        self.containers: list[str] = []
        self.volumes: list[str] = []

    def run(self, name: str, image: str, *args: str, opts: tuple[str, ...] = (), detach=True):
        assert name.startswith(PREFIX)
        docker("rm", "-f", "-v", name, check=False)
        self.containers.append(name)
        cmd = ["run", "--name", name, "--network", NET, *opts, image, *args]
        if detach:
            cmd.insert(1, "-d")
        return docker(*cmd)

    def volume(self, name: str) -> str:
        assert name.startswith(PREFIX)
        docker("volume", "rm", "-f", name, check=False)
        docker("volume", "create", name)
        self.volumes.append(name)
        return name

    def remove(self, name: str) -> None:
        docker("rm", "-f", "-v", name, check=False)

    def cleanup(self) -> None:
        for name in reversed(self.containers):
            docker("rm", "-f", "-v", name, check=False)
        for vol in self.volumes:
            docker("volume", "rm", "-f", vol, check=False)


def exec_(container: str, *cmd: str, check: bool = True, user: str | None = None, timeout: int = 120):
    opts = ["-u", user] if user else []
    return docker("exec", *opts, container, *cmd, check=check, timeout=timeout)


def host_port(container: str, port: int) -> int:
    out = docker("port", container, f"{port}/tcp").stdout.strip().splitlines()[0]
    return int(out.rsplit(":", 1)[1])


def http(url: str, auth: tuple[str, str] | None = None, method: str = "GET", data: dict | None = None):
    """Return (status, body) for a request to a published loopback port."""
    assert url.startswith(("http://127.0.0.1:", "https://127.0.0.1:"))
    body = json.dumps(data).encode() if data is not None else None
    req = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(req, timeout=10, context=ctx) as resp:
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode("utf-8", "replace")


def logs(container: str) -> str:
    proc = docker("logs", container, check=False)
    return proc.stdout + proc.stderr


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def res():
    missing = [img for img in IMAGES.values() if docker("image", "inspect", img, check=False).returncode]
    assert not missing, f"images missing, run harness/build-images.sh first: {missing}"
    docker("network", "rm", NET, check=False)
    docker("network", "create", NET)
    resources = Resources()
    try:
        yield resources
    finally:
        resources.cleanup()
        docker("network", "rm", NET, check=False)


def pg_ready(container: str, user: str, db: str) -> bool:
    # TCP check: during first init the temporary server only listens on the unix socket
    return exec_(container, "pg_isready", "-h", "127.0.0.1", "-U", user, "-d", db, check=False).returncode == 0


def psql(container: str, user: str, db: str, sql: str) -> str:
    return exec_(container, "psql", "-v", "ON_ERROR_STOP=1", "-U", user, "-d", db, "-Atc", sql).stdout.strip()


def remote_psql(res: Resources, host: str, user: str, password: str, db: str, sql: str):
    """psql from a separate client container on the network (TCP, password auth)."""
    return docker(
        "run", "--rm", "--network", NET, "-e", f"PGPASSWORD={password}", "--entrypoint", "psql",
        IMAGES["postgres"], "-h", host, "-U", user, "-d", db, "-Atc", sql, check=False,
    )


# --------------------------------------------------------------------------- postgres
def test_postgres_contract(res: Resources, tmp_path: Path):
    initdir = tmp_path / "initdb"
    initdir.mkdir()
    (initdir / "01-schema.sql").write_text("CREATE TABLE init_marker (src text);\n")
    (initdir / "02-script.sh").write_text(
        '#!/bin/bash\nset -e\npsql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" '
        "-c \"INSERT INTO init_marker VALUES ('sh')\"\n"
    )
    (initdir / "02-script.sh").chmod(0o755)
    initdir.chmod(0o755)
    vol = res.volume("harnesstest_pgdata")
    name = "harnesstest_pg"
    opts = (
        "-e", "POSTGRES_PASSWORD=s3cret-pw", "-e", "POSTGRES_USER=admin", "-e", "POSTGRES_DB=appdb",
        "-v", f"{vol}:/var/lib/postgresql/data", "-v", f"{initdir}:/docker-entrypoint-initdb.d:ro",
    )
    res.run(name, IMAGES["postgres"], "postgres", "-c", "max_connections=37", opts=opts)
    wait_until(lambda: pg_ready(name, "admin", "appdb"), 90, what="postgres ready")

    assert "PostgreSQL init process complete" in logs(name)
    assert psql(name, "admin", "appdb", "SELECT rolsuper FROM pg_roles WHERE rolname = 'admin'") == "t"
    assert psql(name, "admin", "appdb", "SELECT current_database()") == "appdb"
    assert psql(name, "admin", "appdb", "SELECT src FROM init_marker") == "sh"
    assert psql(name, "admin", "appdb", "SHOW max_connections") == "37"
    assert psql(name, "admin", "appdb", "SHOW password_encryption") == "scram-sha-256"
    assert psql(name, "admin", "appdb", "SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid "
                "WHERE rolname = 'admin'") == "t"
    assert psql(name, "admin", "appdb", "SHOW listen_addresses") == "*"
    hba = exec_(name, "cat", "/var/lib/postgresql/data/pg_hba.conf").stdout
    assert "host all all all scram-sha-256" in hba
    assert exec_(name, "cat", "/proc/1/status").stdout.count("Uid:\t999") == 1  # runs as postgres
    for tool in ("psql", "pg_isready", "pg_dump", "pg_restore"):
        exec_(name, "sh", "-c", f"command -v {tool}")

    # scram over TCP from another container: right password works, wrong one fails
    good = remote_psql(res, name, "admin", "s3cret-pw", "appdb", "SELECT 42")
    assert good.returncode == 0 and good.stdout.strip() == "42", good.stderr
    bad = remote_psql(res, name, "admin", "wrong-pw", "appdb", "SELECT 42")
    assert bad.returncode != 0
    assert "password authentication failed" in bad.stderr

    # data persists across container re-creation; init scripts do not run again;
    # first argument starting with '-' is passed to postgres
    psql(name, "admin", "appdb", "INSERT INTO init_marker VALUES ('persisted')")
    docker("stop", "-t", "30", name)
    res.remove(name)
    res.run(name, IMAGES["postgres"], "-c", "max_connections=41", opts=opts)
    wait_until(lambda: pg_ready(name, "admin", "appdb"), 60, what="postgres restart")
    assert "Skipping initialization" in logs(name)
    assert psql(name, "admin", "appdb", "SELECT string_agg(src, ',' ORDER BY src) FROM init_marker") == "persisted,sh"
    assert psql(name, "admin", "appdb", "SHOW max_connections") == "41"


def test_postgres_requires_password(res: Resources):
    proc = docker("run", "--rm", "--name", "harnesstest_pg_nopw", IMAGES["postgres"], check=False, timeout=60)
    assert proc.returncode != 0
    assert "superuser password is not specified" in proc.stderr + proc.stdout


def test_postgres_password_file_and_defaults(res: Resources, tmp_path: Path):
    secret = tmp_path / "pgpw"
    secret.write_text("from-a-file\n")
    secret.chmod(0o644)
    name = "harnesstest_pg_file"
    res.run(name, IMAGES["postgres"], opts=("-e", "POSTGRES_PASSWORD_FILE=/run/secrets/pgpw",
                                            "-v", f"{secret}:/run/secrets/pgpw:ro"))
    wait_until(lambda: pg_ready(name, "postgres", "postgres"), 90, what="postgres ready")
    ok = remote_psql(res, name, "postgres", "from-a-file", "postgres", "SELECT current_user")
    assert ok.returncode == 0 and ok.stdout.strip() == "postgres", ok.stderr
    volumes = json.loads(docker("image", "inspect", "--format", "{{json .Config.Volumes}}", IMAGES["postgres"]).stdout)
    assert "/var/lib/postgresql/data" in volumes
    cfg = json.loads(docker("image", "inspect", "--format", "{{json .Config}}", IMAGES["postgres"]).stdout)
    assert cfg["StopSignal"] == "SIGINT"
    assert "5432/tcp" in cfg["ExposedPorts"]


# --------------------------------------------------------------------------- redis
def redis_cli(host: str, *args: str):
    """redis-cli from a client container on the test network."""
    return docker("run", "--rm", "--network", NET, "--entrypoint", "redis-cli", IMAGES["redis"],
                  "-h", host, *args, check=False)


def test_redis_auth_acl_and_persistence(res: Resources):
    vol = res.volume("harnesstest_redisdata")
    name = "harnesstest_redis_auth"
    opts = ("-v", f"{vol}:/data")
    res.run(name, IMAGES["redis"], "redis-server", "--requirepass", "redis-pw", "--appendonly", "yes", opts=opts)
    wait_until(lambda: "PONG" in exec_(name, "redis-cli", "-a", "redis-pw", "--no-auth-warning", "ping").stdout,
               30, what="redis ready")

    denied = redis_cli(name, "ping")
    assert "NOAUTH" in denied.stdout + denied.stderr
    assert redis_cli(name, "-a", "redis-pw", "--no-auth-warning", "ping").stdout.strip() == "PONG"

    # ACL user limited to its key prefix
    acl = redis_cli(name, "-a", "redis-pw", "--no-auth-warning",
                    "ACL", "SETUSER", "app", "on", ">app-pw", "~app:*", "+@all")
    assert acl.stdout.strip() == "OK", acl.stdout + acl.stderr
    assert redis_cli(name, "--user", "app", "--pass", "app-pw", "--no-auth-warning",
                     "SET", "app:key", "v1").stdout.strip() == "OK"
    noperm = redis_cli(name, "--user", "app", "--pass", "app-pw", "--no-auth-warning", "SET", "other:key", "x")
    assert "NOPERM" in noperm.stdout + noperm.stderr
    wrong = redis_cli(name, "--user", "app", "--pass", "bad", "--no-auth-warning", "ping")
    assert "WRONGPASS" in wrong.stdout + wrong.stderr

    # server runs as redis, AOF written under /data
    status = exec_(name, "cat", "/proc/1/status").stdout
    uid = exec_(name, "id", "-u", "redis").stdout.strip()
    assert f"Uid:\t{uid}\t" in status
    owner = exec_(name, "stat", "-c", "%U", "/data/appendonlydir").stdout.strip()
    assert owner == "redis"
    assert exec_(name, "pwd").stdout.strip() == "/data"

    docker("stop", name)
    res.remove(name)
    res.run(name, IMAGES["redis"], "--requirepass", "redis-pw", "--appendonly", "yes", opts=opts)
    wait_until(lambda: "PONG" in exec_(name, "redis-cli", "-a", "redis-pw", "--no-auth-warning", "ping").stdout,
               30, what="redis restart")
    assert redis_cli(name, "-a", "redis-pw", "--no-auth-warning", "GET", "app:key").stdout.strip() == "v1"


def test_redis_defaults(res: Resources):
    name = "harnesstest_redis_plain"
    res.run(name, IMAGES["redis"])
    wait_until(lambda: "PONG" in exec_(name, "redis-cli", "ping").stdout, 30, what="redis ready")
    # no config file: protected mode off, so another container may connect without a password
    assert redis_cli(name, "ping").stdout.strip() == "PONG"
    assert redis_cli(name, "CONFIG", "GET", "protected-mode").stdout.split() == ["protected-mode", "no"]
    cfg = json.loads(docker("image", "inspect", "--format", "{{json .Config}}", IMAGES["redis"]).stdout)
    assert cfg["Cmd"] == ["redis-server"]
    assert cfg["WorkingDir"] == "/data"
    assert "/data" in cfg["Volumes"]
    assert "6379/tcp" in cfg["ExposedPorts"]


# --------------------------------------------------------------------------- pgbouncer
def test_pgbouncer_pools_with_scram_and_reloads_on_sighup(res: Resources, tmp_path: Path):
    """What roles/pgbouncer relies on: `pgbouncer <ini>` as uid 70 reading a read-only
    /etc/pgbouncer (files 0600 owned by 70), SCRAM from clients and to the server with a
    plain-text auth file, transaction pooling, and SIGHUP re-reading the auth file."""
    server = "harnesstest_pgb_server"
    res.run(server, IMAGES["postgres"], opts=("-e", "POSTGRES_PASSWORD=admin-pw"))
    wait_until(lambda: pg_ready(server, "postgres", "postgres"), 90, what="postgres ready")
    psql(server, "postgres", "postgres", "CREATE ROLE app LOGIN PASSWORD 'app-pw' CONNECTION LIMIT 4")
    psql(server, "postgres", "postgres", "CREATE DATABASE appdb OWNER app")
    conf = tmp_path / "pgbouncer"
    conf.mkdir()
    (conf / "pgbouncer.ini").write_text(
        "[databases]\nappdb = host=%s port=5432 dbname=appdb pool_size=2 max_db_connections=2\n"
        "[pgbouncer]\nlisten_addr = 0.0.0.0\nlisten_port = 6432\nunix_socket_dir =\n"
        "pool_mode = transaction\nauth_type = scram-sha-256\n"
        "auth_file = /etc/pgbouncer/userlist.txt\n" % server)
    (conf / "userlist.txt").write_text('"app" "app-pw"\n')
    for path in (conf, conf / "pgbouncer.ini", conf / "userlist.txt"):
        os.chown(path, 70, 70)
        path.chmod(0o750 if path.is_dir() else 0o600)
    name = "harnesstest_pgbouncer"
    res.run(name, IMAGES["pgbouncer"], "pgbouncer", "/etc/pgbouncer/pgbouncer.ini",
            opts=("--user", "70:70", "-v", f"{conf}:/etc/pgbouncer:ro"))

    def through(password, sql="SELECT current_user || '@' || current_database()"):
        return docker("run", "--rm", "--network", NET, "-e", f"PGPASSWORD={password}",
                      "--entrypoint", "psql", IMAGES["postgres"], "-h", name, "-p", "6432",
                      "-U", "app", "-d", "appdb", "-Atc", sql, check=False)
    wait_until(lambda: through("app-pw").returncode == 0, 30, what="pgbouncer ready")
    assert through("app-pw").stdout.strip() == "app@appdb"
    assert through("wrong-pw").returncode != 0
    # five clients at once, two server connections at most (the pool)
    clients = [subprocess.Popen(["docker", "run", "--rm", "--network", NET, "-e", "PGPASSWORD=app-pw",
                                 "--entrypoint", "psql", IMAGES["postgres"], "-h", name, "-p", "6432",
                                 "-U", "app", "-d", "appdb", "-Atc", "SELECT pg_sleep(3)"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(5)]
    peak = 0
    deadline = time.time() + 30
    while any(c.poll() is None for c in clients) and time.time() < deadline:
        peak = max(peak, int(psql(server, "postgres", "postgres",
                                  "SELECT count(*) FROM pg_stat_activity WHERE usename = 'app'")))
        time.sleep(0.3)
    assert [c.wait(timeout=60) for c in clients] == [0] * 5
    assert 1 <= peak <= 2
    assert exec_(name, "cat", "/proc/1/status").stdout.count("Uid:\t70") == 1
    # a new password in the auth file and the server: SIGHUP, no restart
    psql(server, "postgres", "postgres", "ALTER ROLE app PASSWORD 'new-pw'")
    (conf / "userlist.txt").write_text('"app" "new-pw"\n')
    started = docker("inspect", "--format", "{{.State.StartedAt}}", name).stdout
    docker("kill", "--signal", "HUP", name)
    wait_until(lambda: through("new-pw").returncode == 0, 30, what="pgbouncer reload")
    assert docker("inspect", "--format", "{{.State.StartedAt}}", name).stdout == started


# --------------------------------------------------------------------------- caddy
def test_caddy_serve_validate_reload(res: Resources, tmp_path: Path):
    confdir = tmp_path / "caddy"
    confdir.mkdir()
    confdir.chmod(0o755)
    (confdir / "Caddyfile").write_text(':80 {\n\trespond "config-v1"\n}\n')
    name = "harnesstest_caddy"
    res.run(name, IMAGES["caddy"], opts=("-v", f"{confdir}:/etc/caddy", "-p", "127.0.0.1::80"))
    port = host_port(name, 80)
    status, body = wait_until(lambda: (lambda r: r if r[0] == 200 else None)(http(f"http://127.0.0.1:{port}/")),
                              30, what="caddy serving")
    assert body == "config-v1"

    (confdir / "broken.Caddyfile").write_text(":80 {\n\tthis_is_not_a_directive foo\n")
    bad = exec_(name, "caddy", "validate", "--config", "/etc/caddy/broken.Caddyfile", "--adapter", "caddyfile",
                check=False)
    assert bad.returncode != 0
    good = exec_(name, "caddy", "validate", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile", check=False)
    assert good.returncode == 0, good.stderr

    started = docker("inspect", "-f", "{{.State.StartedAt}}", name).stdout
    (confdir / "Caddyfile").write_text(':80 {\n\trespond "config-v2"\n}\n')
    exec_(name, "caddy", "reload", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile")
    assert http(f"http://127.0.0.1:{port}/") == (200, "config-v2")
    assert docker("inspect", "-f", "{{.State.StartedAt}}", name).stdout == started
    assert docker("inspect", "-f", "{{.RestartCount}}", name).stdout.strip() == "0"


def test_caddy_default_site(res: Resources):
    name = "harnesstest_caddy_default"
    res.run(name, IMAGES["caddy"], opts=("-p", "127.0.0.1::80"))
    port = host_port(name, 80)
    status, body = wait_until(lambda: (lambda r: r if r[0] == 200 else None)(http(f"http://127.0.0.1:{port}/")),
                              30, what="caddy default site")
    assert "Caddy works!" in body
    cfg = json.loads(docker("image", "inspect", "--format", "{{json .Config}}", IMAGES["caddy"]).stdout)
    assert cfg["Cmd"] == ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]
    assert {"XDG_CONFIG_HOME=/config", "XDG_DATA_HOME=/data"} <= set(cfg["Env"])
    assert {"/config", "/data"} <= set(cfg["Volumes"])
    exec_(name, "sh", "-c", "command -v wget && test -x /usr/bin/caddy && test -s /etc/ssl/certs/ca-certificates.crt")


# --------------------------------------------------------------------------- flower
def test_flower_basic_auth_against_redis(res: Resources):
    broker = "harnesstest_flower_broker"
    res.run(broker, IMAGES["redis"])
    wait_until(lambda: "PONG" in exec_(broker, "redis-cli", "ping").stdout, 30, what="broker ready")

    name = "harnesstest_flower"
    res.run(name, IMAGES["flower"], opts=(
        "-e", f"CELERY_BROKER_URL=redis://{broker}:6379/0", "-e", "FLOWER_BASIC_AUTH=ops:flower-pw",
        "-p", "127.0.0.1::5555",
    ))
    port = host_port(name, 5555)
    wait_until(lambda: http(f"http://127.0.0.1:{port}/healthcheck", auth=("ops", "flower-pw"))[0] == 200,
               60, what="flower up")
    assert http(f"http://127.0.0.1:{port}/")[0] == 401
    assert http(f"http://127.0.0.1:{port}/", auth=("ops", "wrong"))[0] == 401
    status, body = http(f"http://127.0.0.1:{port}/broker", auth=("ops", "flower-pw"))
    assert status == 200 and broker in body

    # --broker on the command line (official CMD is `celery flower`)
    name2 = "harnesstest_flower_cli"
    res.run(name2, IMAGES["flower"], "celery", f"--broker=redis://{broker}:6379/1", "flower",
            "--basic-auth=cli:cli-pw", opts=("-p", "127.0.0.1::5555"))
    port2 = host_port(name2, 5555)
    wait_until(lambda: http(f"http://127.0.0.1:{port2}/healthcheck", auth=("cli", "cli-pw"))[0] == 200,
               60, what="flower (cli) up")
    status, body = http(f"http://127.0.0.1:{port2}/broker", auth=("cli", "cli-pw"))
    assert status == 200 and f"{broker}:6379/1" in body
    cfg = json.loads(docker("image", "inspect", "--format", "{{json .Config}}", IMAGES["flower"]).stdout)
    assert cfg["Cmd"] == ["celery", "flower"] and "5555/tcp" in cfg["ExposedPorts"]


# --------------------------------------------------------------------------- portainer
def test_portainer_standin(res: Resources):
    name = "harnesstest_portainer"
    res.run(name, IMAGES["portainer"], "-H", "unix:///var/run/docker.sock",
            opts=("-p", "127.0.0.1::9000", "-p", "127.0.0.1::9443"))
    http_port, https_port = host_port(name, 9000), host_port(name, 9443)
    status, body = wait_until(
        lambda: (lambda r: r if r[0] == 200 else None)(http(f"http://127.0.0.1:{http_port}/api/system/status")),
        30, what="portainer up")
    assert json.loads(body)["Version"] == "2.21.5-standin"
    status, body = http(f"https://127.0.0.1:{https_port}/api/system/status")
    assert status == 200 and json.loads(body)["Version"] == "2.21.5-standin"
    status, body = http(f"http://127.0.0.1:{http_port}/")
    assert status == 200 and "<html" in body.lower()
    base = f"http://127.0.0.1:{http_port}"
    assert http(f"{base}/api/users/admin/check")[0] == 404
    creds = {"Username": "admin", "Password": "a-long-admin-password"}
    assert http(f"{base}/api/users/admin/init", method="POST", data=creds)[0] == 200
    assert http(f"{base}/api/users/admin/init", method="POST", data=creds)[0] == 409
    assert http(f"{base}/api/users/admin/check")[0] == 204
    assert http(f"{base}/api/auth", method="POST", data=creds)[0] == 200
    assert http(f"{base}/api/auth", method="POST", data={**creds, "Password": "nope"})[0] == 422
    cfg = json.loads(docker("image", "inspect", "--format", "{{json .Config}}", IMAGES["portainer"]).stdout)
    assert "/data" in cfg["Volumes"]


# --------------------------------------------------------------------------- monitoring
# The Prometheus stack: Debian builds of the same upstream versions under the production
# names. Each test checks the image configuration a compose file relies on (entrypoint, CMD,
# user, workdir, port), that the container runs as the production user with that entrypoint,
# the upstream version, and /metrics on a port published on 127.0.0.1.
PROM_CMD = ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus",
            "--web.console.libraries=/usr/share/prometheus/console_libraries",
            "--web.console.templates=/usr/share/prometheus/consoles"]
# The smallest command set with which redis_exporter 1.69 (REDIS_EXPORTER_CHECK_SINGLE_KEYS on a
# list) reports redis_up 1 and the key size without an error in its log. Each one is needed:
# without it the exporter logs an error (client|setname, latency|latest, latency|histogram,
# type, memory|usage, llen, select) or reports redis_up 0 (info). Denied silently (the
# exporter only drops those metrics): config|get (redis_config_*), slowlog|len, slowlog|get.
# The command rules role redis_prefix gives the monitoring's read-only user (one source),
# with read access to the one queue key of the test.
REDIS_EXPORTER_ACL = yaml.safe_load(
    (REPO / "roles/redis_prefix/defaults/main.yml").read_text()
)["redis_prefix_reader_commands"] + " %R~app:celery"


def image_config(image: str) -> dict:
    return json.loads(docker("image", "inspect", "--format", "{{json .Config}}", image).stdout)


def version_text(image: str, *args: str) -> str:
    """Output (stdout + stderr) of the image's entrypoint run with ARGS, no network."""
    proc = docker("run", "--rm", "--network", "none", image, *args, timeout=60)
    return proc.stdout + proc.stderr


def proc1_ids(container: str) -> tuple[str, str, str]:
    """(uid, gid, argv[0]) of the container's main process."""
    status = exec_(container, "cat", "/proc/1/status").stdout
    uid = next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:"))
    gid = next(line.split()[1] for line in status.splitlines() if line.startswith("Gid:"))
    argv0 = exec_(container, "cat", "/proc/1/cmdline").stdout.split("\0")[0]
    return uid, gid, argv0


def get_ok(url: str, what: str, timeout: float = 60) -> str:
    """Body of URL once it answers 200 (bounded wait)."""
    status, body = wait_until(lambda: (lambda r: r if r[0] == 200 else None)(http(url)), timeout, what=what)
    return body


def metric_lines(body: str, name: str) -> list[str]:
    return [line for line in body.splitlines() if line.startswith((name + "{", name + " "))]


def log_errors(container: str) -> list[str]:
    return [line for line in logs(container).splitlines()
            if "level=error" in line.lower() or "level=fatal" in line.lower()]


def test_prometheus_config_rules_reload_and_promtool(res: Resources, tmp_path: Path):
    image = IMAGES["prometheus"]
    cfg = image_config(image)
    assert cfg["Entrypoint"] == ["/bin/prometheus"]
    assert cfg["Cmd"] == PROM_CMD
    assert cfg["User"] == "nobody" and cfg["WorkingDir"] == "/prometheus"
    assert "/prometheus" in cfg["Volumes"] and "9090/tcp" in cfg["ExposedPorts"]
    assert "prometheus, version 2.53.3" in version_text(image, "--version")
    # the image's own default configuration is valid; config and data dirs belong to nobody
    default = docker("run", "--rm", "--network", "none", "--entrypoint", "/bin/promtool", image,
                     "check", "config", "/etc/prometheus/prometheus.yml", check=False)
    assert default.returncode == 0, default.stdout + default.stderr
    owners = docker("run", "--rm", "--network", "none", "--entrypoint", "stat", image,
                    "-c", "%u:%g", "/etc/prometheus", "/prometheus").stdout.split()
    assert owners == ["65534:65534", "65534:65534"]

    conf = tmp_path / "prometheus"
    rules = conf / "rules"
    rules.mkdir(parents=True)
    for path in (conf, rules):
        path.chmod(0o755)
    (conf / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 2s\n  evaluation_interval: 1s\n"
        "rule_files:\n  - /etc/prometheus/rules/*.yml\n"
        "scrape_configs:\n  - job_name: prometheus\n    static_configs:\n      - targets: ['localhost:9090']\n")

    def rule_file(alert: str) -> str:
        return (f"groups:\n  - name: harness\n    rules:\n      - alert: {alert}\n"
                "        expr: up{job=\"prometheus\"} == 1\n        labels:\n          severity: info\n")
    (rules / "alerts.yml").write_text(rule_file("HarnessFirst"))
    (rules / "broken.rules").write_text("groups:\n  - name: broken\n    rules:\n      - alert: Broken\n"
                                        "        expr: up ==\n")
    data = res.volume("harnesstest_promdata")
    name = "harnesstest_prometheus"
    res.run(name, image, opts=("-p", "127.0.0.1::9090", "-v", f"{data}:/prometheus",
                               "-v", f"{conf / 'prometheus.yml'}:/etc/prometheus/prometheus.yml:ro",
                               "-v", f"{rules}:/etc/prometheus/rules:ro"))
    base = f"http://127.0.0.1:{host_port(name, 9090)}"
    assert "Ready" in get_ok(f"{base}/-/ready", "prometheus ready")
    assert proc1_ids(name) == ("65534", "65534", "/bin/prometheus")
    assert exec_(name, "stat", "-c", "%U", "/prometheus/wal").stdout.strip() == "nobody"  # TSDB in the volume

    def query_up():
        status, body = http(f"{base}/api/v1/query?query=up%7Bjob%3D%22prometheus%22%7D")
        result = json.loads(body)["data"]["result"] if status == 200 else []
        return result and result[0]["value"][1] == "1"
    wait_until(query_up, 30, what="prometheus scraping itself")

    def alert_names():
        groups = json.loads(http(f"{base}/api/v1/rules")[1])["data"]["groups"]
        return sorted(rule["name"] for group in groups for rule in group["rules"])
    assert alert_names() == ["HarnessFirst"]

    # promtool in the container: rule files and the configuration (which loads the rules)
    ok = exec_(name, "promtool", "check", "rules", "/etc/prometheus/rules/alerts.yml", check=False)
    assert ok.returncode == 0 and "SUCCESS" in ok.stdout + ok.stderr, ok.stdout + ok.stderr
    bad = exec_(name, "promtool", "check", "rules", "/etc/prometheus/rules/broken.rules", check=False)
    assert bad.returncode != 0
    conf_ok = exec_(name, "/bin/promtool", "check", "config", "/etc/prometheus/prometheus.yml", check=False)
    assert conf_ok.returncode == 0, conf_ok.stdout + conf_ok.stderr

    # a changed rule file, SIGHUP: reloaded without a restart
    started = docker("inspect", "--format", "{{.State.StartedAt}}", name).stdout
    (rules / "alerts.yml").write_text(rule_file("HarnessSecond"))
    docker("kill", "--signal", "HUP", name)
    wait_until(lambda: alert_names() == ["HarnessSecond"], 30, what="rules reloaded after SIGHUP")
    metrics = http(f"{base}/metrics")[1]
    assert metric_lines(metrics, "prometheus_config_last_reload_successful") == [
        "prometheus_config_last_reload_successful 1"]
    assert 'version="2.53.3' in metric_lines(metrics, "prometheus_build_info")[0]
    assert docker("inspect", "--format", "{{.State.StartedAt}}", name).stdout == started
    assert docker("inspect", "--format", "{{.RestartCount}}", name).stdout.strip() == "0"
    assert not log_errors(name), logs(name)


def test_alertmanager_config_ready_and_amtool(res: Resources, tmp_path: Path):
    image = IMAGES["alertmanager"]
    cfg = image_config(image)
    assert cfg["Entrypoint"] == ["/bin/alertmanager"]
    assert cfg["Cmd"] == ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"]
    assert cfg["User"] == "nobody" and cfg["WorkingDir"] == "/alertmanager"
    assert "/alertmanager" in cfg["Volumes"] and "9093/tcp" in cfg["ExposedPorts"]
    assert "alertmanager, version 0.28.1" in version_text(image, "--version")
    owners = docker("run", "--rm", "--network", "none", "--entrypoint", "stat", image,
                    "-c", "%u:%g", "/etc/alertmanager", "/alertmanager").stdout.split()
    assert owners == ["65534:65534", "65534:65534"]

    conf = tmp_path / "alertmanager.yml"
    conf.write_text("route:\n  receiver: harness-hook\n  group_by: ['alertname']\n"
                    "receivers:\n  - name: harness-hook\n    webhook_configs:\n"
                    "      - url: 'http://127.0.0.1:5001/'\n")
    broken = tmp_path / "broken.yml"
    broken.write_text("route:\n  receiver: nobody-defined\nreceivers: []\n")
    name = "harnesstest_alertmanager"
    res.run(name, image, opts=("-p", "127.0.0.1::9093",
                               "-v", f"{conf}:/etc/alertmanager/alertmanager.yml:ro",
                               "-v", f"{broken}:/etc/alertmanager/broken.yml:ro"))
    base = f"http://127.0.0.1:{host_port(name, 9093)}"
    get_ok(f"{base}/-/ready", "alertmanager ready")
    assert proc1_ids(name) == ("65534", "65534", "/bin/alertmanager")
    status = json.loads(get_ok(f"{base}/api/v2/status", "alertmanager status"))
    assert status["versionInfo"]["version"].startswith("0.28.1")
    assert "harness-hook" in status["config"]["original"]

    ok = exec_(name, "amtool", "check-config", "/etc/alertmanager/alertmanager.yml", check=False)
    assert ok.returncode == 0 and "SUCCESS" in ok.stdout + ok.stderr, ok.stdout + ok.stderr
    bad = exec_(name, "/bin/amtool", "check-config", "/etc/alertmanager/broken.yml", check=False)
    assert bad.returncode != 0
    # amtool talks to the API: an alert posted with it is listed
    exec_(name, "amtool", "--alertmanager.url=http://127.0.0.1:9093", "alert", "add", "HarnessAlert", "severity=info")
    wait_until(lambda: "HarnessAlert" in exec_(name, "amtool", "--alertmanager.url=http://127.0.0.1:9093",
                                               "alert", "query").stdout, 30, what="amtool alert query")
    metrics = http(f"{base}/metrics")[1]
    assert metric_lines(metrics, "alertmanager_config_last_reload_successful") == [
        "alertmanager_config_last_reload_successful 1"]
    assert not log_errors(name), logs(name)


def test_node_exporter_metrics(res: Resources):
    image = IMAGES["node_exporter"]
    cfg = image_config(image)
    assert cfg["Entrypoint"] == ["/bin/node_exporter"] and not cfg.get("Cmd")
    assert cfg["User"] == "nobody" and cfg.get("WorkingDir", "") in ("", "/")
    assert "9100/tcp" in cfg["ExposedPorts"]
    assert "node_exporter, version 1.9.0" in version_text(image, "--version")
    name = "harnesstest_node_exporter"
    res.run(name, image, "--collector.processes", opts=("-p", "127.0.0.1::9100"))
    body = get_ok(f"http://127.0.0.1:{host_port(name, 9100)}/metrics", "node_exporter metrics")
    uid, gid, _ = proc1_ids(name)
    assert (uid, gid) == ("65534", "65534")
    assert 'version="1.9.0"' in metric_lines(body, "node_exporter_build_info")[0]
    assert metric_lines(body, "node_cpu_seconds_total") and metric_lines(body, "node_memory_MemTotal_bytes")
    assert metric_lines(body, "node_processes_threads")  # arguments reach the exporter
    # upstream's default collectors: no systemd collector (Debian's build enables it)
    assert 'collector="systemd"' not in body
    # enabling it explicitly still works (the flag is not passed twice); it fails without D-Bus
    name2 = "harnesstest_node_exporter_systemd"
    res.run(name2, image, "--collector.systemd", opts=("-p", "127.0.0.1::9100"))
    body2 = get_ok(f"http://127.0.0.1:{host_port(name2, 9100)}/metrics", "node_exporter --collector.systemd")
    assert 'node_scrape_collector_success{collector="systemd"} 0' in body2


def test_postgres_exporter_with_pg_monitor_role(res: Resources, tmp_path: Path):
    image = IMAGES["postgres_exporter"]
    cfg = image_config(image)
    assert cfg["Entrypoint"] == ["/bin/postgres_exporter"] and not cfg.get("Cmd")
    assert cfg["User"] == "nobody" and "9187/tcp" in cfg["ExposedPorts"]
    assert "postgres_exporter, version 0.17.1" in version_text(image, "--version")

    server = "harnesstest_pgexp_db"
    res.run(server, IMAGES["postgres"], opts=("-e", "POSTGRES_PASSWORD=admin-pw"))
    wait_until(lambda: pg_ready(server, "postgres", "postgres"), 90, what="postgres ready")
    psql(server, "postgres", "postgres", "CREATE ROLE metrics LOGIN PASSWORD 'metrics-Pw_42'")
    psql(server, "postgres", "postgres", "GRANT pg_monitor TO metrics")
    assert psql(server, "postgres", "postgres",
                "SELECT string_agg(r.rolname, ',') FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
                "WHERE m.member = 'metrics'::regrole") == "pg_monitor"
    secret = tmp_path / "pg_exporter_password"
    secret.write_text("metrics-Pw_42\n")  # trailing newline: the exporter trims it
    os.chown(secret, 65534, 65534)
    secret.chmod(0o400)
    name = "harnesstest_postgres_exporter"
    res.run(name, image, opts=(
        "-p", "127.0.0.1::9187",
        "-e", f"DATA_SOURCE_URI={server}:5432/postgres?sslmode=disable",
        "-e", "DATA_SOURCE_USER=metrics",
        "-e", "DATA_SOURCE_PASS_FILE=/run/secrets/pg_exporter_password",
        "-v", f"{secret}:/run/secrets/pg_exporter_password:ro",
    ))
    url = f"http://127.0.0.1:{host_port(name, 9187)}/metrics"
    body = wait_until(lambda: (lambda r: r[1] if r[0] == 200 and "\npg_up 1\n" in r[1] else None)(http(url)),
                      30, what="postgres_exporter pg_up 1")
    assert proc1_ids(name) == ("65534", "65534", "/bin/postgres_exporter")
    assert metric_lines(body, "pg_stat_activity_count")
    assert metric_lines(body, "pg_exporter_last_scrape_error") == ["pg_exporter_last_scrape_error 0"]
    failed = [line for line in metric_lines(body, "pg_scrape_collector_success") if line.endswith(" 0")]
    assert not failed, failed
    assert 'version="0.17.1"' in metric_lines(body, "postgres_exporter_build_info")[0]
    assert not log_errors(name), logs(name)


def test_redis_exporter_acl_user_and_single_key(res: Resources):
    image = IMAGES["redis_exporter"]
    cfg = image_config(image)
    assert cfg["Entrypoint"] == ["/redis_exporter"] and not cfg.get("Cmd")
    assert cfg["User"] == "59000:59000" and "9121/tcp" in cfg["ExposedPorts"]
    assert "Redis Metrics Exporter 1.69.0" in version_text(image, "-version")

    server = "harnesstest_redisexp_db"
    res.run(server, IMAGES["redis"], "--requirepass", "admin-pw")
    wait_until(lambda: "PONG" in exec_(server, "redis-cli", "-a", "admin-pw", "--no-auth-warning", "ping").stdout,
               30, what="redis ready")

    def admin(*args: str) -> str:
        return exec_(server, "redis-cli", "-a", "admin-pw", "--no-auth-warning", *args).stdout.strip()
    assert admin("-n", "1", "RPUSH", "app:celery", "t1", "t2", "t3") == "3"
    assert admin("ACL", "SETUSER", "exporter", "reset", "on", ">exporter-pw", *REDIS_EXPORTER_ACL.split()) == "OK"
    admin("ACL", "LOG", "RESET")
    name = "harnesstest_redis_exporter"
    res.run(name, image, opts=(
        "-p", "127.0.0.1::9121",
        "-e", f"REDIS_ADDR=redis://{server}:6379", "-e", "REDIS_USER=exporter", "-e", "REDIS_PASSWORD=exporter-pw",
        "-e", "REDIS_EXPORTER_CHECK_SINGLE_KEYS=db1=app:celery",
    ))
    url = f"http://127.0.0.1:{host_port(name, 9121)}/metrics"
    body = wait_until(lambda: (lambda r: r[1] if r[0] == 200 and "\nredis_up 1\n" in r[1] else None)(http(url)),
                      30, what="redis_exporter redis_up 1")
    assert metric_lines(body, "redis_key_size") == ['redis_key_size{db="db1",key="app:celery"} 3']
    assert proc1_ids(name) == ("59000", "59000", "/redis_exporter")
    # the length is read on every scrape
    admin("-n", "1", "RPUSH", "app:celery", "t4")
    assert metric_lines(http(url)[1], "redis_key_size") == ['redis_key_size{db="db1",key="app:celery"} 4']
    assert not log_errors(name), logs(name)
    # what the user was refused: only the commands the exporter tolerates silently
    acl_log = admin("ACL", "LOG", "100").splitlines()
    denied = {acl_log[i + 1] for i, line in enumerate(acl_log[:-1]) if line == "object"}
    assert denied <= {"config|get", "slowlog|len", "slowlog|get"}, denied


# --------------------------------------------------------------------------- VPS
def test_vps_boots_installs_docker_and_runs_loaded_image(res: Resources):
    subprocess.run([str(HARNESS / "save-images.sh")], check=True, timeout=600, capture_output=True)
    manifest = yaml.safe_load((REPO / ".cache/images/manifest.yml").read_text())
    names = {entry["name"]: entry["path"] for entry in manifest}
    assert names["redis:7"] == "/srv/alorig-images/redis_7.tar"
    assert names["postgres:16"] == "/srv/alorig-images/postgres_16.tar"

    name = "harnesstest_vps"
    subprocess.run([str(HARNESS / "vps.sh"), "stop", name], check=False, capture_output=True, timeout=60)
    try:
        start = subprocess.run([str(HARNESS / "vps.sh"), "start", name], capture_output=True, text=True,
                               timeout=180, check=False)
        assert start.returncode == 0, start.stderr
        state = exec_(name, "systemctl", "is-system-running", check=False).stdout.strip()
        assert state in ("running", "degraded"), exec_(name, "systemctl", "--failed", check=False).stdout
        assert exec_(name, "sh", "-c", "command -v docker", check=False).returncode != 0  # not preinstalled

        # every package a role installs comes from the image's apt cache (--no-download)
        install = exec_(name, "sh", "-c",
                        "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-download "
                        "docker.io docker-compose python3-docker python3-psycopg2 python3-redis "
                        "postgresql-client redis-tools", check=False, timeout=600)
        assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-2000:]
        wait_until(lambda: exec_(name, "docker", "info", check=False).returncode == 0, 60, 1, what="inner docker")
        assert "Docker Compose version" in exec_(name, "docker", "compose", "version").stdout

        loaded = exec_(name, "docker", "load", "-i", "/srv/alorig-images/redis_7.tar", timeout=300)
        assert "redis:7" in loaded.stdout
        exec_(name, "docker", "run", "-d", "--name", "inner_redis", "-m", "64m", "redis:7")
        wait_until(lambda: exec_(name, "docker", "exec", "inner_redis", "redis-cli", "ping",
                                 check=False).stdout.strip() == "PONG", 30, what="nested redis")
        ro = exec_(name, "touch", "/srv/alorig-images/x", check=False)
        assert ro.returncode != 0  # mounted read-only
    finally:
        subprocess.run([str(HARNESS / "vps.sh"), "stop", name], check=False, capture_output=True, timeout=120)
    assert docker("volume", "inspect", f"{name}-docker", check=False).returncode != 0
