"""Verify the shared infrastructure (playbooks/infra.yml) on a fresh VPS container.

Runs after: converge, idempotence, a refused broken route + drift (side_effect),
converge, idempotence. Every command runs inside the VPS (testinfra `host`),
except the exposure check, which probes from a second container on the outer network
to the VPS container's own address.
"""

import functools
import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[3]))
VPS = "alorig-molecule-infra"

# The registry values these tests rely on (group_vars/all/apps.yml).
APPS = yaml.safe_load((PROJECT / "group_vars/all/apps.yml").read_text())["alorig_apps"]
ENABLED = {k: v for k, v in APPS.items() if v["enabled"]}

MEMORY_MB = {"alorig_postgres": 1536, "alorig_redis": 512, "alorig_portainer": 128, "alorig_caddy": 256}
LOOPBACK_PORTS = {"alorig_postgres": "5432", "alorig_redis": "6379", "alorig_portainer": "9443"}


@pytest.fixture(scope="module")
def vault():
    out = subprocess.run(
        [str(PROJECT / ".venv/bin/ansible-vault"), "view",
         "--vault-password-file", str(PROJECT / "inventories/local/vault-password.txt"),
         str(PROJECT / "inventories/local/group_vars/all/vault.yml")],
        check=True, capture_output=True, text=True,
    ).stdout
    return yaml.safe_load(out)


def psql(host, user, password, db, sql):
    """psql inside alorig_postgres over TCP as user; the password goes by environment."""
    cmd = (f"PGPASSWORD={shlex.quote(password)} docker exec -e PGPASSWORD alorig_postgres "
           f"psql -h 127.0.0.1 -U {user} -d {db} -v ON_ERROR_STOP=1 -Atc {shlex.quote(sql)}")
    return host.run(cmd)


def superuser(host, sql, db="postgres"):
    return host.check_output(
        f"docker exec alorig_postgres psql -U postgres -d {db} -v ON_ERROR_STOP=1 -Atc {shlex.quote(sql)}")


def redis(host, user, password, *args):
    """redis-cli inside alorig_redis as an ACL user; the password goes by environment."""
    cmd = (f"REDISCLI_AUTH={shlex.quote(password)} docker exec -e REDISCLI_AUTH alorig_redis "
           f"redis-cli --no-auth-warning --user {user} " + " ".join(shlex.quote(a) for a in args))
    return host.run(cmd)


def inspect(host, name):
    return json.loads(host.check_output(f"docker inspect {name}"))[0]


def curl(host, hostname, path="/"):
    return host.run(
        f"curl -sk --max-time 10 -o /dev/stdout -w '\\n%{{http_code}}' "
        f"--resolve {hostname}:443:127.0.0.1 https://{hostname}{path}")


# ---------------------------------------------------------------- services up

@pytest.mark.parametrize("name", ["alorig_postgres", "alorig_redis"])
def test_stateful_services_are_healthy(host, name):
    state = inspect(host, name)["State"]
    assert state["Running"]
    assert state["Health"]["Status"] == "healthy"


@pytest.mark.parametrize("name", ["alorig_portainer", "alorig_caddy"])
def test_services_are_running(host, name):
    assert inspect(host, name)["State"]["Running"]


def test_flower_is_off_by_default(host):
    assert host.run("docker inspect alorig_flower").rc != 0


@pytest.mark.parametrize("name,mb", sorted(MEMORY_MB.items()))
def test_memory_limits_from_the_infra_budgets(host, name, mb):
    assert inspect(host, name)["HostConfig"]["Memory"] == mb * 1024 * 1024


@pytest.mark.parametrize("name", sorted(MEMORY_MB))
def test_services_are_on_the_shared_network(host, name):
    assert "alorig_net" in inspect(host, name)["NetworkSettings"]["Networks"]


@pytest.mark.parametrize("name,port", sorted(LOOPBACK_PORTS.items()))
def test_published_ports_bind_to_loopback_only(host, name, port):
    bindings = inspect(host, name)["HostConfig"]["PortBindings"]
    assert bindings[f"{port}/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": port}]
    for spec in bindings.values():
        assert all(b["HostIp"] == "127.0.0.1" for b in spec)


def test_caddy_admin_api_not_published(host):
    bindings = inspect(host, "alorig_caddy")["HostConfig"]["PortBindings"]
    assert set(bindings) == {"80/tcp", "443/tcp", "443/udp"}
    assert not host.socket("tcp://0.0.0.0:2019").is_listening
    assert not host.socket("tcp://127.0.0.1:2019").is_listening


def test_infra_compose_file_is_private(host):
    f = host.file("/opt/alorig/compose/docker-compose.infra.yml")
    assert f.mode == 0o600
    assert f.user == "root"


# ------------------------------------------------------------------ PostgreSQL

def test_postgres_server_settings(host):
    assert superuser(host, "SHOW max_connections") == "100"
    assert superuser(host, "SHOW password_encryption") == "scram-sha-256"
    assert superuser(host, "SHOW shared_buffers") == "384MB"


def test_connection_limits_sum_below_max_connections():
    total = sum(app["database"]["connection_limit"] for app in ENABLED.values())
    assert total <= 80 < 100


@pytest.mark.parametrize("app", sorted(ENABLED))
def test_database_owned_by_its_role_with_its_limit(host, app):
    db = ENABLED[app]["database"]
    owner = superuser(host, f"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{db['name']}'")
    assert owner == db["owner"]
    limit = superuser(host, f"SELECT rolconnlimit FROM pg_roles WHERE rolname = '{db['owner']}'")
    assert int(limit) == db["connection_limit"]
    flags = superuser(host, f"SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = '{db['owner']}'")
    assert flags == "f|f|f"


@pytest.mark.parametrize("app", sorted(ENABLED))
def test_public_cannot_connect(host, app):
    name = ENABLED[app]["database"]["name"]
    assert superuser(host, f"SELECT has_database_privilege('public', '{name}', 'CONNECT')") == "f"


@pytest.mark.parametrize("app", sorted(ENABLED))
def test_app_connects_to_its_own_database(host, vault, app):
    db = ENABLED[app]["database"]
    password = vault["vault_alorig_app_secrets"][app]["db_password"]
    res = psql(host, db["owner"], password, db["name"], "SELECT current_user")
    assert res.rc == 0, res.stderr
    assert res.stdout.strip() == db["owner"]


@pytest.mark.parametrize("app,other", [("psydge", "igny8"), ("igny8", "igny8_staging"), ("snapify", "asms")])
def test_app_cannot_connect_to_another_database(host, vault, app, other):
    password = vault["vault_alorig_app_secrets"][app]["db_password"]
    res = psql(host, ENABLED[app]["database"]["owner"], password, ENABLED[other]["database"]["name"], "SELECT 1")
    assert res.rc != 0
    assert "permission denied for database" in res.stderr


def test_wrong_password_is_refused(host):
    res = psql(host, "igny8", "not-the-password", "igny8_db", "SELECT 1")
    assert res.rc != 0
    assert "password authentication failed" in res.stderr


def test_declared_extensions(host):
    assert "pg_trgm" in superuser(host, "SELECT extname FROM pg_extension", db="snapify_db").split()
    assert "pg_trgm" not in superuser(host, "SELECT extname FROM pg_extension", db="igny8_db").split()


# ----------------------------------------------------------------------- Redis

def test_redis_default_user_is_disabled(host):
    res = host.run("docker exec alorig_redis redis-cli PING")
    assert "PONG" not in res.stdout


def test_redis_persistence_and_memory(host, vault):
    admin = vault["vault_redis_admin_password"]
    cfg = redis(host, "alorig_admin", admin, "CONFIG", "GET", "*").stdout.split("\n")
    pairs = dict(zip(cfg[::2], cfg[1::2]))
    assert pairs["appendonly"] == "yes"
    assert pairs["maxmemory-policy"] == "volatile-lru"
    assert int(pairs["maxmemory"]) == 384 * 1024 * 1024


@pytest.mark.parametrize("app", sorted(ENABLED))
def test_redis_user_limited_to_its_prefix(host, vault, app):
    admin = vault["vault_redis_admin_password"]
    out = redis(host, "alorig_admin", admin, "ACL", "GETUSER", app).stdout.split("\n")
    info = {key: out[out.index(key) + 1] for key in ("keys", "channels", "commands")}
    prefix = ENABLED[app]["redis"]["prefix"]
    assert info["keys"] == f"~{prefix}*"
    db = ENABLED[app]["redis"]["db"]
    # &prefix* plus the literal pidbox channel kombu subscribes to by pattern
    assert info["channels"] == f"&{prefix}* &{prefix}/{db}.celery.pidbox"
    # Redis prints the rules normalised: everything refused, then what is granted
    assert info["commands"].startswith("-@all ")
    assert "+scan" not in info["commands"] and "-scan" in info["commands"]


def test_redis_user_works_on_its_own_prefix(host, vault):
    pwd = vault["vault_alorig_app_secrets"]["igny8"]["redis_password"]
    assert redis(host, "igny8", pwd, "SET", "igny8:test", "1").stdout.strip() == "OK"
    assert redis(host, "igny8", pwd, "GET", "igny8:test").stdout.strip() == "1"
    assert redis(host, "igny8", pwd, "SELECT", "0").stdout.strip() == "OK"
    assert redis(host, "igny8", pwd, "PING").stdout.strip() == "PONG"
    assert redis(host, "igny8", pwd, "PUBLISH", "igny8:events", "x").stdout.strip() == "0"


@pytest.mark.parametrize("args", [
    ("SET", "psydge:test", "1"),
    ("GET", "psydge:test"),
    ("GET", "igny8_staging:test"),
    ("SET", "unprefixed", "1"),
    ("PUBLISH", "psydge:events", "x"),
    ("FLUSHALL",),
    ("CONFIG", "GET", "*"),
    ("ACL", "LIST"),
    ("SCAN", "0"),
    ("INFO", "keyspace"),
    ("FUNCTION", "FLUSH"),
])
def test_redis_user_cannot_touch_other_prefixes_or_admin(host, vault, args):
    pwd = vault["vault_alorig_app_secrets"]["igny8"]["redis_password"]
    out = redis(host, "igny8", pwd, *args).stdout
    assert "NOPERM" in out


# ----------------------------------------------------------------------- Caddy

def test_https_static_route_through_caddy(host):
    res = curl(host, "app.igny8.com")
    body, code = res.stdout.rsplit("\n", 1)
    assert code == "200"
    assert "alorig-infra-test igny8" in body


def test_security_headers(host):
    headers = host.check_output(
        "curl -sk --max-time 10 -D - -o /dev/null --resolve app.igny8.com:443:127.0.0.1 https://app.igny8.com/").lower()
    assert "strict-transport-security: max-age=31536000" in headers
    assert "x-content-type-options: nosniff" in headers
    assert "\nserver:" not in headers


def test_http_redirects_to_https(host):
    out = host.check_output(
        "curl -s --max-time 10 -o /dev/null -w '%{http_code} %{redirect_url}' "
        "--resolve app.igny8.com:80:127.0.0.1 http://app.igny8.com/")
    assert out == "308 https://app.igny8.com/"


def test_every_route_host_has_a_site(host):
    caddyfile = host.file("/opt/alorig/caddy/Caddyfile").content_string
    for app in ENABLED.values():
        for route in app["routes"]:
            assert f"\n{route['host']} {{" in caddyfile


def _caddy_site(host, name):
    """The block of site `name` in the rendered Caddyfile."""
    caddyfile = host.file("/opt/alorig/caddy/Caddyfile").content_string
    return caddyfile.split(f"\n{name} {{", 1)[1].split("\n}", 1)[0]


def test_admin_route_has_an_ip_allowlist(host):
    site = _caddy_site(host, "admin.snapify.pk")
    assert "@alorig_denied not remote_ip 127.0.0.1/32 172.16.0.0/12" in site
    assert "respond @alorig_denied 403" in site


def test_admin_route_answers_an_allowed_address(host):
    # curl on the VPS's loopback reaches Caddy through docker-proxy, from the
    # bridge's 172.16.0.0/12 address, which the test allowlist contains
    code = curl(host, "admin.snapify.pk").stdout.rsplit("\n", 1)[1]
    assert code != "403"


def test_upstream_path_is_rewritten(host):
    site = _caddy_site(host, "api.snapify.pk")
    assert "rewrite * /api{uri}" in site
    assert "reverse_proxy snapify_backend:8014" in site


def test_hand_edit_was_reverted_in_file_and_in_caddy(host):
    assert "handedit" not in host.file("/opt/alorig/caddy/Caddyfile").content_string
    running = host.check_output("docker exec alorig_caddy wget -qO- http://localhost:2019/config/")
    assert "handedit.igny8.com" not in running
    assert "app.igny8.com" in running


# -------------------------------------------------------------------- exposure

def _vps_address():
    out = subprocess.run(
        ["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", VPS],
        check=True, capture_output=True, text=True).stdout.split()
    return out[0]


PROBE_PORTS = [80, 443, 5432, 6379, 9443, 9000, 5555, 2019, 8000]


@functools.lru_cache(maxsize=1)
def _outside_view():
    """Which VPS ports answer from a second container on the outer network."""
    address = _vps_address()
    script = "; ".join(
        f'if timeout 3 bash -c "exec 3<>/dev/tcp/{address}/{port}" 2>/dev/null; '
        f'then echo "{port} open"; else echo "{port} closed"; fi'
        for port in PROBE_PORTS)
    out = subprocess.run(
        ["docker", "run", "--rm", "--network", "bridge", "alorig-base:bookworm", "bash", "-c", script],
        check=True, capture_output=True, text=True, timeout=120).stdout
    return dict(line.split() for line in out.splitlines())


def _answers(address, port):
    assert address == _vps_address()
    return _outside_view()[str(port)] == "open"


@pytest.mark.parametrize("port", [80, 443])
def test_outer_side_reaches_caddy(port):
    assert _answers(_vps_address(), port)


@pytest.mark.parametrize("port", [5432, 6379, 9443, 9000, 5555, 2019, 8000])
def test_outer_side_reaches_nothing_else(port):
    assert not _answers(_vps_address(), port)
