"""The platform as an operator meets it, on the apps scenario's converged VPS.

* Redis isolation: an app's Redis user cannot enumerate, inspect or flush anything beyond
  its own keys, while its Celery tasks, beat and cache work (test_apps.py).
* What is deployed is exactly the registry model's projection, and nothing else the
  platform owns.
* Adding an app is one registry entry and its role: it converges, serves, is disabled
  (data kept) and purged.
* A plan the operator can trust: with many kinds of drift made by hand, ``site.yml --check
  --diff`` changes nothing on the host and reports exactly the tasks (and, per app, the
  actions) the real run then changes; the real run repairs every drift and a second run
  changes nothing.
* One app that cannot be repaired does not leave the others unrepaired, and the run's
  failure names it.
"""

import hashlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from conftest import EPHEMERAL, LOGS, PROJECT, VAULT, VAULT_PASSWORD, run_playbook

APPS = yaml.safe_load((PROJECT / "group_vars/all/apps.yml").read_text())["alorig_apps"]
VPS = "alorig-molecule-apps"
CF_API = "http://127.0.0.1:8793/client/v4"


def vault():
    text = subprocess.run([str(PROJECT / ".venv/bin/ansible-vault"), "view", "--vault-password-file",
                           str(VAULT_PASSWORD), str(VAULT)], check=True, capture_output=True,
                          text=True).stdout
    return yaml.safe_load(text)


def sh(host, command):
    out = host.run(command)
    assert out.rc == 0, "%s: %s %s" % (command, out.stdout, out.stderr)
    return out.stdout


def in_app(host, container, code):
    """Python inside an app container, as the app (its REDIS_URL): no secret on a command line."""
    return host.run("docker exec %s python -c %s" % (container, shlex.quote(code)))


# -- Redis isolation -------------------------------------------------------------------

REFUSED = ["SCAN 0", "RANDOMKEY", "INFO keyspace", "INFO", "DBSIZE", "KEYS *", "FUNCTION FLUSH",
           "SCRIPT FLUSH", "FLUSHDB", "FLUSHALL", "CONFIG GET maxmemory", "PUBSUB CHANNELS",
           "CLIENT LIST", "ACL LIST", "MEMORY STATS", "MOVE psydge:x 0", "SWAPDB 0 1",
           "MONITOR", "DEBUG SLEEP 0", "SHUTDOWN", "GET igny8:celery"]

REDIS_PROBE = r'''
import json, os, sys, redis
r = redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=5)
out = {}
for command in json.loads(sys.argv[1]):
    try:
        r.execute_command(*command.split())
        out[command] = "allowed"
    except redis.exceptions.NoPermissionError as exc:
        out[command] = "NOPERM"
    except redis.exceptions.ResponseError as exc:
        out[command] = "error: %s" % exc
print(json.dumps(out))
'''


def test_an_apps_redis_user_sees_and_affects_nothing_beyond_its_keys(host):
    script = "import sys; sys.argv = ['x', %r]\n" % json.dumps(REFUSED) + REDIS_PROBE
    out = in_app(host, "psydge_backend", script)
    assert out.rc == 0, out.stderr
    result = json.loads(out.stdout)
    # Redis refuses DEBUG to every client before the ACL is consulted
    # (enable-debug-command no); ACL DRYRUN below shows the ACL refuses it too.
    debug = result.pop("DEBUG SLEEP 0")
    assert debug == "NOPERM" or "DEBUG command not allowed" in debug, debug
    assert {c: r for c, r in result.items() if r != "NOPERM"} == {}, result
    dryrun = sh(host, "docker exec alorig_redis redis-cli --no-auth-warning --user alorig_admin "
                      "ACL DRYRUN psydge DEBUG SLEEP 0")
    assert "no permissions to run the 'debug' command" in dryrun, dryrun
    allowed = in_app(host, "psydge_backend", "import sys; sys.argv = ['x', %r]\n" % json.dumps(
        ["SET psydge:isolation-probe 1", "GET psydge:isolation-probe", "SELECT 2", "PING",
         "DEL psydge:isolation-probe", "PUBLISH psydge:probe hi"]) + REDIS_PROBE)
    assert set(json.loads(allowed.stdout).values()) == {"allowed"}, allowed.stdout


def test_the_django_cache_works_under_the_acl(host):
    out = host.run("docker exec psydge_backend /app/manage.py shell -c %s" % shlex.quote(
        "from django.core.cache import cache; cache.set('probe', 41, 30); "
        "print(cache.incr('probe'), cache.get_many(['probe']), cache.delete('probe'))"))
    assert out.rc == 0, out.stderr
    # Django's shell may print a line of its own first (the automatic imports).
    assert out.stdout.strip().splitlines()[-1].split()[0] == "42", out.stdout


# -- the deployed state is the projection ----------------------------------------------

@pytest.fixture(scope="module")
def projection(tmp_path_factory):
    path = tmp_path_factory.mktemp("projection") / "projection.json"
    run = run_playbook(str(PROJECT / "tests/molecule/apps/projection.yml"),
                       "-e", "projection_file=%s" % path, name="projection")
    assert run.returncode == 0, run.output()[-3000:]
    return json.loads(path.read_text())


def test_deployed_state_equals_the_projection(host, projection):
    owned = projection["owned"]
    containers = sh(host, "docker ps -a --filter label=org.alorig.app --format '{{.Names}}'").split()
    assert sorted(containers) == owned["containers"]
    running = sh(host, "docker ps --filter label=org.alorig.app --format '{{.Names}}'").split()
    assert sorted(running) == owned["containers"]
    volumes = sh(host, "docker volume ls -q --filter label=org.alorig.app").split()
    assert sorted(volumes) == owned["volumes"]
    files = sh(host, "ls /opt/alorig/compose").split()
    assert sorted(f for f in files if f.startswith("docker-compose.")
                  and f not in ("docker-compose.infra.yml", "docker-compose.caddy.yml",
                                "docker-compose.monitoring.yml")) \
        == owned["compose_files"]
    # the monitoring's exporters log in as a role and a Redis user of their own
    monitoring = projection["monitoring"]
    metrics_users = [monitoring["metrics_user"]] if monitoring["enabled"] else []
    databases = sh(host, "docker exec alorig_postgres psql -U postgres -Atc "
                         "\"SELECT datname FROM pg_database WHERE datname NOT IN "
                         "('postgres', 'template0', 'template1') ORDER BY 1\"").split()
    assert databases == owned["databases"]
    roles = sh(host, "docker exec alorig_postgres psql -U postgres -Atc "
                     "\"SELECT rolname FROM pg_roles WHERE rolname NOT LIKE 'pg\\_%' "
                     "AND rolname <> 'postgres' ORDER BY 1\"").split()
    assert roles == sorted(owned["database_roles"] + metrics_users)
    users = sh(host, "docker exec alorig_redis redis-cli --no-auth-warning --user alorig_admin "
                     "ACL USERS").split()
    assert sorted(users) == sorted(owned["redis_users"] + ["alorig_admin", "default"] + metrics_users)
    config = json.loads(sh(host, "docker exec alorig_caddy wget -qO- http://localhost:2019/config/"))
    hosts = set()
    for server in config["apps"]["http"]["servers"].values():
        for route in server.get("routes", []):
            for match in route.get("match", []):
                hosts.update(match.get("host", []))
    assert sorted(hosts) == owned["caddy_hosts"]
    token = vault()["vault_cloudflare_api_token"]
    for zone in projection["dns_zones"]:
        wanted = sorted((r["name"], r["type"], r["content"]) for r in zone["records"])
        zones = cf_get(token, "/zones?name=%s" % zone["zone"])["result"]
        records = cf_get(token, "/zones/%s/dns_records?per_page=500" % zones[0]["id"])["result"]
        apex = zone["zone"]
        got = sorted((("@" if r["name"] == apex else r["name"][:-len(apex) - 1]), r["type"], r["content"])
                     for r in records if "managed-by: alorig-ansible" in (r.get("comment") or ""))
        assert got == wanted, zone["zone"]


def cf_get(token, path):
    request = urllib.request.Request(CF_API + path, headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def cf_patch(token, path, body):
    request = urllib.request.Request(CF_API + path, data=json.dumps(body).encode(), method="PATCH",
                                     headers={"Authorization": "Bearer " + token,
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


# -- a new app: one registry entry and its role ----------------------------------------

# Its budget fits the reference app: split 4:3:2 (backend, worker, beat), beat gets
# 100 MB (with 300 MB its 66 MB limit sat at the beat's own footprint and the kernel
# killed it now and then).
DEMO = {
    "enabled": True, "title": "Demo", "compose_name": "demo", "rollout_order": 9,
    "ram_budget_mb": 450, "source": {"type": "local", "path": "app_sources/reference"},
    "image": "demo-backend", "backend_port": 8040,
    "database": {"name": "demo_db", "owner": "demo", "extensions": ["uuid-ossp"],
                 "connection_limit": 2},
    "redis": {"db": 8, "prefix": "demo:"},
    "containers": [{"name": "demo_backend", "kind": "backend", "port": 8040},
                   {"name": "demo_celery_worker", "kind": "celery_worker"},
                   {"name": "demo_celery_beat", "kind": "celery_beat"}],
    "routes": [{"host": "demo.alorig.com", "kind": "static"},
               {"host": "api.demo.alorig.com", "kind": "proxy", "upstream": "demo_backend",
                "port": 8040}],
    "secrets": ["django_secret_key", "db_password", "redis_password"],
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The registry with one more app and the vault with its secrets (extra vars), and its
    role copied from roles/astrotiming in a roles directory of its own."""
    base = tmp_path_factory.mktemp("demo")
    roles = base / "roles"
    shutil.copytree(PROJECT / "roles/astrotiming", roles / "demo")
    for path in (roles / "demo").rglob("*.yml"):
        path.write_text(path.read_text().replace("astrotiming", "demo"))
    apps = yaml.safe_load((PROJECT / "group_vars/all/apps.yml").read_text())["alorig_apps"]
    apps["snapify"]["routes"][3]["allow_ips"] = ["127.0.0.1/32", "172.16.0.0/12"]
    apps["demo"] = DEMO
    secrets = vault()["vault_alorig_app_secrets"]
    secrets["demo"] = {"django_secret_key": "demo-django-secret-key-0123456789abcdef",
                       "db_password": "demo-db-password-0123456789",
                       "redis_password": "demo-redis-password-0123456789"}

    def extra(**changes):
        entry = dict(DEMO, **changes)
        path = base / ("vars-%s.json" % hashlib.sha256(json.dumps(changes, sort_keys=True)
                                                          .encode()).hexdigest()[:8])
        path.write_text(json.dumps({"alorig_apps": dict(apps, demo=entry),
                                    "vault_alorig_app_secrets": secrets}))
        os.chmod(path, 0o600)
        return "@%s" % path

    old = os.environ.get("ANSIBLE_ROLES_PATH")
    os.environ["ANSIBLE_ROLES_PATH"] = "%s:%s" % (roles, PROJECT / "roles")
    try:
        yield extra
    finally:
        if old is None:
            del os.environ["ANSIBLE_ROLES_PATH"]
        else:
            os.environ["ANSIBLE_ROLES_PATH"] = old


def test_a_new_app_is_one_registry_entry_and_its_role(host, demo):
    run = run_playbook("site.yml", "-e", demo(), name="demo-add")
    assert run.returncode == 0, run.failure()
    health = json.loads(sh(host, "curl -sk --resolve api.demo.alorig.com:443:127.0.0.1 "
                                 "https://api.demo.alorig.com/health/"))
    assert health == {"status": "ok", "app": "demo", "database": "ok", "redis": "ok"}
    page = sh(host, "curl -sk --resolve demo.alorig.com:443:127.0.0.1 https://demo.alorig.com/config.json")
    assert json.loads(page)["app_name"] == "demo"
    assert "uuid-ossp" in sh(host, "docker exec alorig_postgres psql -U postgres -d demo_db -Atc "
                                   "'SELECT extname FROM pg_extension'")
    assert "demo" in sh(host, "docker exec alorig_redis redis-cli --no-auth-warning --user alorig_admin ACL USERS").split()
    token = vault()["vault_cloudflare_api_token"]
    zone = cf_get(token, "/zones?name=alorig.com")["result"][0]
    names = [r["name"] for r in cf_get(token, "/zones/%s/dns_records?per_page=500" % zone["id"])["result"]]
    assert "api.demo.alorig.com" in names

    off = run_playbook("site.yml", "--tags", "caddy,demo", "-e", demo(enabled=False), name="demo-off")
    assert off.returncode == 0, off.failure()
    assert sh(host, "docker ps -a --filter label=org.alorig.app=demo -q").strip() == ""
    assert sh(host, "docker volume ls -q --filter label=org.alorig.app=demo").split()
    assert sh(host, "docker exec alorig_postgres psql -U postgres -Atc "
                    "\"SELECT count(*) FROM pg_database WHERE datname = 'demo_db'\"").strip() == "1"
    gone = host.run("curl -sk -o /dev/null -w '%{http_code}' --resolve api.demo.alorig.com:443:127.0.0.1 "
                    "https://api.demo.alorig.com/health/").stdout
    assert gone != "200"

    purge = run_playbook("site.yml", "--tags", "caddy,demo", "-e", demo(enabled=False),
                         "-e", "alorig_app_purge_data=true", name="demo-purge")
    assert purge.returncode == 0, purge.failure()
    assert sh(host, "docker volume ls -q --filter label=org.alorig.app=demo").strip() == ""
    assert sh(host, "docker exec alorig_postgres psql -U postgres -Atc "
                    "\"SELECT count(*) FROM pg_database WHERE datname = 'demo_db'\"").strip() == "0"
    assert host.run("test -e /opt/alorig/apps/demo").rc != 0


# -- a plan the operator can trust ----------------------------------------------------

SNAPSHOT = r"""
find /opt/alorig /srv/alorig -type f ! -name 'redis-acl-state.json' -print0 | sort -z | xargs -0 sha256sum
docker ps -a --no-trunc --format '{{.ID}} {{.Names}} {{.State}} {{.Image}}' | sort
docker images --no-trunc --format '{{.Repository}}:{{.Tag}} {{.ID}}' | sort
docker volume ls -q | sort
docker network ls --format '{{.Name}}' | sort
docker exec alorig_postgres psql -U postgres -Atc "SELECT datname, datacl FROM pg_database ORDER BY 1"
docker exec alorig_postgres psql -U postgres -Atc "SELECT rolname, rolconnlimit FROM pg_roles ORDER BY 1"
docker exec alorig_redis redis-cli --no-auth-warning --user alorig_admin ACL LIST | sha256sum
docker exec alorig_caddy wget -qO- http://localhost:2019/config/ | sha256sum
"""

NEXT_IMAGE = "FROM alorig/reference-app:latest\nLABEL org.alorig.test=next\n"


def snapshot(host, token):
    state = sh(host, SNAPSHOT)
    for zone in yaml.safe_load((PROJECT / "group_vars/all/platform.yml").read_text())["alorig_domains"]:
        found = cf_get(token, "/zones?name=%s" % zone)["result"]
        records = cf_get(token, "/zones/%s/dns_records?per_page=500" % found[0]["id"])["result"]
        state += json.dumps(sorted((r["name"], r["type"], r["content"], r.get("proxied"))
                                   for r in records)) + "\n"
    return state


def inject_drift(host, token):
    """Hand-made changes of every kind the plan must show."""
    sh(host, "docker stop observer_celery_beat")
    sh(host, "docker rm -f astrotiming_celery_worker")
    sh(host, "sed -i 's/restart: unless-stopped/restart: always/' /opt/alorig/compose/docker-compose.snapify.yml")
    sh(host, "echo \"HAND_EDIT='1'\" >> /opt/alorig/compose/psydge.env")
    sh(host, "echo '# edited by hand' >> /opt/alorig/caddy/Caddyfile")
    sh(host, "docker exec alorig_redis redis-cli --no-auth-warning --user alorig_admin "
             "ACL SETUSER asms '~*' '+@all'")
    sh(host, "docker exec alorig_postgres psql -U postgres -c 'GRANT CONNECT ON DATABASE psydge_db TO PUBLIC'")
    zone = cf_get(token, "/zones?name=psydge.com")["result"][0]
    record = next(r for r in cf_get(token, "/zones/%s/dns_records?per_page=500" % zone["id"])["result"]
                  if r["name"] == "api.psydge.com" and r["type"] == "A")
    cf_patch(token, "/zones/%s/dns_records/%s" % (zone["id"], record["id"]), {"content": "127.0.0.2"})
    sh(host, "docker update --memory 200m --memory-swap 200m psydge_backend")
    # a shared service's runtime settings: compose sees the same file and would leave it
    sh(host, "docker update --memory 300m --memory-swap 300m alorig_redis")
    sh(host, "rm /srv/alorig/static/observer/index.html")
    sh(host, "docker pause snapify_celery_worker")


EXPECTED_TASKS = [
    ("postgres_db", "Revoke CONNECT on each database from PUBLIC"),
    ("redis_prefix", "Converge Redis's ACL users to the ACL file"),
    ("caddy", "Write Caddy's directories, caddy.env, docker-compose.caddy.yml and the Caddyfile (validated), then start Caddy"),
    ("alorig_infra", "Start the shared services and wait until they are healthy"),
    # one task converges every app of the host: each app that changed is its item
    ("alorig_app", "Converge the apps (release, files, containers)", "observer"),
    ("alorig_app", "Converge the apps (release, files, containers)", "astrotiming"),
    ("alorig_app", "Converge the apps (release, files, containers)", "snapify"),
    ("alorig_app", "Converge the apps (release, files, containers)", "psydge"),
    ("alorig_app", "Converge the apps (release, files, containers)", "igny8_staging"),
]


def test_check_mode_plans_exactly_what_the_run_changes(host):
    token = vault()["vault_cloudflare_api_token"]
    sh(host, "mkdir -p /tmp/next && printf %%s %s > /tmp/next/Dockerfile && "
             "DOCKER_BUILDKIT=0 docker build -q -t alorig/reference-app:next /tmp/next"
             % shlex.quote(NEXT_IMAGE))
    override = json.dumps({"alorig_app_source_overrides": {
        "igny8_staging": {"type": "image", "image": "alorig/reference-app:next"}}})
    inject_drift(host, token)
    before = snapshot(host, token)
    plan = run_playbook("site.yml", "--check", "--diff", "-e", override, name="plan-check")
    assert plan.returncode == 0, plan.failure()
    assert snapshot(host, token) == before, "check mode changed the host"
    assert "PLAN (check mode)" in plan.stdout
    assert "+HAND_EDIT" not in plan.stdout  # the env file's content is never shown

    sampler = subprocess.Popen([sys.executable, str(PROJECT / "tests/secret_scan.py"), "sample",
                                "--container", VPS, "--out", str(LOGS / "ps-samples.log")])
    try:
        real = run_playbook("site.yml", "-e", override, name="plan-apply")
    finally:
        sampler.send_signal(signal.SIGTERM)
        sampler.wait(timeout=30)
    assert real.returncode == 0, real.failure()

    planned, applied = plan.changed(), real.changed()
    assert planned == applied, {"only planned": planned - applied, "only applied": applied - planned,
                                "actions": {t: real.actions().get(t) for _h, _r, t, _i in applied ^ planned}}
    assert plan.actions() == real.actions()
    tasks = {(role, task) for _h, role, task, _i in applied}
    tasks |= {(role, task, item) for _h, role, task, item in applied}
    for expected in EXPECTED_TASKS:
        assert expected in tasks, (expected, sorted(tasks, key=str))
    assert any(role == "cloudflare_dns" for _h, role, _t, _i in applied), applied
    psydge = real.actions()["Converge the apps (release, files, containers): psydge"]
    assert any(a.startswith("recreate psydge_backend (memory limit 200 MB") for a in psydge), psydge
    assert any(a.startswith("write /opt/alorig/compose/psydge.env") for a in psydge), psydge
    snapify = real.actions()["Converge the apps (release, files, containers): snapify"]
    assert "unpause and restart snapify_celery_worker (paused)" in snapify, snapify
    observer = real.actions()["Converge the apps (release, files, containers): observer"]
    assert any(a.startswith("export the frontend") and "missing" in a for a in observer), observer
    assert any(a.startswith("start observer_celery_beat") for a in observer), observer
    staging = real.actions()["Converge the apps (release, files, containers): igny8_staging"]
    assert any(a.startswith("health gate") for a in staging), staging
    infra = real.actions()["Start the shared services and wait until they are healthy"]
    assert infra == ["recreate alorig_redis (memory limit 300 MB, declared 512 MB)"], infra

    # every drift repaired
    for name in ("observer_celery_beat", "astrotiming_celery_worker", "snapify_celery_worker",
                 "psydge_backend", "igny8_staging_backend"):
        info = json.loads(sh(host, "docker inspect %s" % name))[0]
        assert info["State"]["Status"] == "running", name
    memory = json.loads(sh(host, "docker inspect psydge_backend"))[0]["HostConfig"]["Memory"]
    assert memory == 597 * 1024 * 1024
    memory = json.loads(sh(host, "docker inspect alorig_redis"))[0]["HostConfig"]["Memory"]
    assert memory == 512 * 1024 * 1024
    assert host.file("/srv/alorig/static/observer/index.html").exists
    assert "HAND_EDIT" not in sh(host, "cat /opt/alorig/compose/psydge.env")
    assert "edited by hand" not in sh(host, "cat /opt/alorig/caddy/Caddyfile")
    assert "restart: always" not in sh(host, "cat /opt/alorig/compose/docker-compose.snapify.yml")
    scan = in_app(host, "asms_backend", "import sys; sys.argv = ['x', '[\"SCAN 0\"]']\n" + REDIS_PROBE)
    assert json.loads(scan.stdout) == {"SCAN 0": "NOPERM"}
    acl = sh(host, "docker exec alorig_postgres psql -U postgres -Atc "
                   "\"SELECT datacl FROM pg_database WHERE datname = 'psydge_db'\"")
    assert "=c/" not in acl and "=Tc/" not in acl
    image = json.loads(sh(host, "docker inspect igny8_staging_backend"))[0]["Config"]["Image"]
    next_id = sh(host, "docker image inspect -f '{{ .Id }}' alorig/reference-app:next")[7:19]
    assert image == "igny8-backend:%s" % next_id

    # A restart is not drift: Redis lists each user's rules in another order after one
    # (its ACL users must not be reloaded), Docker starts the same containers.
    sh(host, "docker restart alorig_redis")
    again = run_playbook("site.yml", "-e", override, name="plan-again")
    assert again.returncode == 0, again.failure()
    assert again.changed() == set(), again.changed()


# -- one broken app does not block the others -------------------------------------------

def test_one_app_that_cannot_be_repaired_does_not_stop_the_others(host):
    # astrotiming's port taken by a container started by hand, its backend gone;
    # snapify's worker paused; igny8_staging goes back to its registry image.
    sh(host, "docker rm -f astrotiming_backend")
    # a squatter that keeps running (Caddy's image serves its default page), and
    # holds the port before the run starts
    sh(host, "docker run -d --name squatter -p 127.0.0.1:8020:80 caddy:2")
    try:
        held = json.loads(sh(host, "docker inspect squatter"))[0]
        assert held["State"]["Running"], held["State"]
        assert "127.0.0.1:8020" in sh(host, "docker port squatter")
        sh(host, "docker pause snapify_celery_worker")
        # shared services in unusual states: compose alone would fail on or leave them
        sh(host, "docker pause alorig_redis")
        sh(host, "docker stop alorig_caddy")
        run = run_playbook("site.yml", name="broken-app")
        assert run.returncode != 0, (run.actions(), sh(host, "docker ps -a --format '{{.Names}} {{.Status}} {{.Ports}}'"))
        output = run.output()
        assert "1 app(s) could not be converged" in output, output[-4000:]
        assert 'astrotiming (task "Converge the apps (release, files, containers)"' in output, output[-4000:]
        # the apps converged beside it are listed in the run's changes
        assert "Converge the apps (release, files, containers): snapify" in run.actions(), run.actions()
        assert "8020" in output[output.index("could not be converged"):][:3000]
        state = json.loads(sh(host, "docker inspect snapify_celery_worker"))[0]["State"]
        assert state["Status"] == "running"
        infra = run.actions()["Start the shared services and wait until they are healthy"]
        assert "unpause and restart alorig_redis (paused)" in infra, infra
        caddy = run.actions()["Write Caddy's directories, caddy.env, docker-compose.caddy.yml and the Caddyfile (validated), then start Caddy"]
        assert any(a.startswith("start alorig_caddy (exited") for a in caddy), caddy
        for name in ("alorig_redis", "alorig_caddy"):
            assert json.loads(sh(host, "docker inspect %s" % name))[0]["State"]["Status"] == "running"
        image = json.loads(sh(host, "docker inspect igny8_staging_backend"))[0]["Config"]["Image"]
        latest = sh(host, "docker image inspect -f '{{ .Id }}' alorig/reference-app:latest")[7:19]
        assert image == "igny8-backend:%s" % latest
        for url_host in ("api.schools.alorig.com", "api.psydge.com", "api.observeros.app"):
            assert json.loads(sh(host, "curl -sk --resolve %s:443:127.0.0.1 https://%s/health/"
                                 % (url_host, url_host)))["status"] == "ok"
    finally:
        host.run("docker rm -f squatter")
    fixed = run_playbook("site.yml", name="broken-app-fixed")
    assert fixed.returncode == 0, fixed.failure()
    assert json.loads(sh(host, "docker inspect astrotiming_backend"))[0]["State"]["Status"] == "running"
