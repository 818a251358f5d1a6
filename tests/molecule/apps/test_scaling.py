"""The seeds' upgrade-trigger actions on the running platform (seed 001 §10).

PgBouncer is switched on by one variable and one converge of site.yml while every app is
polled through Caddy (no failed request; the check-mode plan before it lists exactly what
it changes), then:
* every app's own database connections come from PgBouncer, a Celery task runs in every app,
  and a second converge changes nothing;
* 200 concurrent client connections, 25 from each app's backend container (its own
  DATABASE_URL, so its own login), keep PostgreSQL's own connection count under the alarm
  threshold (sampled while they run; the figures are printed);
* `--tags pgbouncer` with the switch off refuses to remove PgBouncer while apps use it;
then switched off again by one converge, planned and polled the same way, and PgBouncer
is gone.

Also: the Django cache's keys expire (redis.cache_ttl) and Redis runs the declared
eviction policy.
"""

import json
import shlex
import threading
import time

import pytest
import yaml
from conftest import PROJECT, poll_while, run_playbook
from test_apps import ENABLED, PING_ROUTES, curl, post_task, wait_done

PLATFORM = yaml.safe_load((PROJECT / "group_vars/all/platform.yml").read_text())
ALARM = PLATFORM["alorig_thresholds"]["postgres_connections"]
OWNERS = dict((app, cfg["database"]["owner"]) for app, cfg in ENABLED.items())
ON = json.dumps({"alorig_pgbouncer_enabled": True})
CLIENTS_PER_APP = 25


def psql(host, sql):
    out = host.run("docker exec alorig_postgres psql -U postgres -d postgres -Atc %s" % shlex.quote(sql))
    assert out.rc == 0, out.stderr
    return out.stdout.strip()


def poll_targets():
    """(app, URL host, path, ok) per app: its /health/ (database and Redis checks) through
    Caddy; the Site Builder's API route keeps its /builder prefix, which the reference app
    has no URL for, so its answer (404 from Django, not Caddy's 502) is what counts."""
    targets = [(app, url_host, "/health/", lambda code: code == "200") for app, url_host in PING_ROUTES]
    for app in sorted(ENABLED):
        if app not in dict(PING_ROUTES):
            route = next(r for r in ENABLED[app]["routes"] if r["kind"] == "proxy"
                         and r["upstream"] == "%s_backend" % app)
            targets.append((app, route["host"], route["path"].rstrip("/") + "/health/",
                            lambda code: code.isdigit() and 200 <= int(code) < 500))
    return targets


def poll_every_app(host, action):
    """Run action() while every app is requested in turn through Caddy; return (result,
    {app: [(status code, ok)]})."""
    targets = poll_targets()

    def probe():
        answers = []
        for app, url_host, path, ok in targets:
            out = curl(host, url_host, path, "-w", "\n%{http_code}")
            body, _, code = out.stdout.strip().rpartition("\n")
            code = code or "rc=%d" % out.rc
            # a failed answer keeps what it said (the health check names what failed)
            answers.append((app, code if ok(code) else "%s %s" % (code, body[:300]), ok(code)))
        return answers

    result, rounds = poll_while(action, probe)
    codes = dict((app, []) for app, _, _, _ in targets)
    for answers in rounds:
        for app, code, ok in answers:
            codes[app].append((code, ok))
    return result, codes


def assert_no_failed_request(codes):
    counts = dict((app, len(seen)) for app, seen in codes.items())
    failed = dict((app, [c for c, ok in seen if not ok]) for app, seen in codes.items())
    failed = dict((app, f) for app, f in failed.items() if f)
    assert min(counts.values()) >= 5, counts
    assert failed == {}, "failed requests per app: %s (requests per app: %s)" % (failed, counts)


def pgbouncer_address(host):
    return host.check_output("docker inspect -f '{{ (index .NetworkSettings.Networks \"alorig_net\").IPAddress }}'"
                             " alorig_pgbouncer").strip()


def app_connections(host):
    """(login, client address) of every app connection PostgreSQL has now."""
    rows = psql(host, "SELECT usename || ' ' || host(client_addr) FROM pg_stat_activity "
                      "WHERE usename IN (%s)" % ", ".join("'%s'" % o for o in OWNERS.values()))
    return [tuple(r.split()) for r in rows.splitlines() if r]


LOAD = r'''
import json, os, threading, time
import psycopg2
url = os.environ["DATABASE_URL"]
n = %d
barrier = threading.Barrier(n)
done, errors, lock = [], [], threading.Lock()
def client():
    try:
        conn = psycopg2.connect(url, connect_timeout=30)
        barrier.wait(timeout=90)           # all n clients connected at once
        for _ in range(6):
            with conn.cursor() as cur:
                cur.execute("SELECT pg_sleep(0.5)")
            conn.commit()
        conn.close()
        with lock:
            done.append(1)
    except Exception as exc:               # the message, never the URL
        with lock:
            errors.append("%%s: %%s" %% (type(exc).__name__, str(exc).splitlines()[0][:200]))
threads = [threading.Thread(target=client) for _ in range(n)]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps({"ok": len(done), "errors": errors[:3]}))
''' % CLIENTS_PER_APP


def plan_and_switch(host, *args, name):
    """site.yml --check (the plan), then site.yml while every app is polled: the plan
    lists exactly what the run changes."""
    plan = run_playbook("site.yml", "--check", *args, name=name + "-plan")
    assert plan.returncode == 0, plan.failure()
    run, codes = poll_every_app(host, lambda: run_playbook("site.yml", *args, name=name))
    assert run.returncode == 0, run.failure()
    assert plan.changed() == run.changed(), (sorted(plan.changed() ^ run.changed()))
    return run, codes


@pytest.fixture(scope="module")
def switched_on(host):
    return plan_and_switch(host, "-e", ON, name="pgbouncer-on")


def test_switching_pgbouncer_on_is_one_converge_without_a_failed_request(host, switched_on):
    run, codes = switched_on
    assert_no_failed_request(codes)
    info = json.loads(host.check_output("docker inspect alorig_pgbouncer"))[0]
    assert info["State"]["Running"] and "alorig_net" in info["NetworkSettings"]["Networks"]
    assert info["Config"]["User"] == "70:70"
    for name in ("pgbouncer.ini", "userlist.txt"):
        f = host.file("/opt/alorig/pgbouncer/" + name)
        assert (f.mode, f.uid, f.gid) == (0o600, 70, 70), name
    # every published port on loopback only
    for bindings in info["HostConfig"]["PortBindings"].values():
        assert all(b["HostIp"] == "127.0.0.1" for b in bindings)


def test_every_app_reaches_its_database_through_pgbouncer_only(host, switched_on):
    for app in sorted(ENABLED):
        assert post_task(host, app)["id"]  # a request that writes through the pool
    address = pgbouncer_address(host)
    connections = app_connections(host)
    assert {login for login, _ in connections} == set(OWNERS.values()), connections
    assert {addr for _, addr in connections} == {address}, connections
    for app in sorted(ENABLED):
        label = host.check_output("docker inspect -f '{{ index .Config.Labels \"org.alorig.database\" }}' "
                                  "%s_backend" % app).strip()
        assert label == "pgbouncer", app


def test_a_celery_task_runs_in_every_app_through_pgbouncer(host, switched_on):
    tasks = dict((app, post_task(host, app)["id"]) for app in sorted(ENABLED))
    for app, task_id in tasks.items():
        detail = wait_done(host, app, task_id)
        assert detail["status"] == "done" and detail["executed"], (app, detail)


def test_the_second_converge_with_pgbouncer_changes_nothing(switched_on):
    run = run_playbook("site.yml", "-e", ON, name="pgbouncer-on-again")
    assert run.returncode == 0, run.failure()
    assert run.changed() == set(), sorted(run.changed())


def test_200_clients_hold_postgres_under_the_connection_alarm(host, switched_on):
    results, threads = {}, []

    def load(app):
        results[app] = host.run("docker exec -i %s_backend python - <<'EOF'\n%sEOF" % (app, LOAD))

    for app in sorted(ENABLED):
        threads.append(threading.Thread(target=load, args=(app,)))
    samples = []
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        samples.append(int(psql(host, "SELECT count(*) FROM pg_stat_activity "
                                      "WHERE backend_type = 'client backend'")))
        time.sleep(0.5)
    for t in threads:
        t.join()
    outcome = {}
    for app, out in results.items():
        assert out.rc == 0, (app, out.stderr[-2000:])
        outcome[app] = json.loads(out.stdout.strip().splitlines()[-1])
    print("200 clients through PgBouncer: PostgreSQL client connections peak %d, median %d "
          "(alarm %d); %d samples; per app %s"
          % (max(samples), sorted(samples)[len(samples) // 2], ALARM, len(samples),
             dict((a, o["ok"]) for a, o in outcome.items())))
    assert all(o["ok"] == CLIENTS_PER_APP and not o["errors"] for o in outcome.values()), outcome
    assert sum(o["ok"] for o in outcome.values()) == CLIENTS_PER_APP * len(ENABLED) >= 200
    assert len(samples) >= 5
    assert 0 < max(samples) < ALARM, samples


def test_pgbouncer_is_kept_while_apps_use_it(host, switched_on):
    run = run_playbook("playbooks/apps.yml", "--tags", "pgbouncer", name="pgbouncer-off-tags")
    assert run.returncode != 0
    assert "still connect through it" in run.output() and "igny8_backend" in run.output(), run.failure()
    assert json.loads(host.check_output("docker inspect alorig_pgbouncer"))[0]["State"]["Running"]


def test_switching_pgbouncer_off_is_one_converge_without_a_failed_request(host, switched_on):
    run, codes = plan_and_switch(host, name="pgbouncer-off")
    assert_no_failed_request(codes)
    assert {("alorig-molecule-apps", "pgbouncer", "Stop and remove PgBouncer", "")} <= run.changed()
    assert host.run("docker inspect alorig_pgbouncer").rc != 0
    assert not host.file("/opt/alorig/pgbouncer").exists
    assert not host.file("/opt/alorig/compose/docker-compose.pgbouncer.yml").exists
    post_task(host, "psydge")
    assert {login for login, _ in app_connections(host)} >= {OWNERS["psydge"]}
    task = post_task(host, "igny8")
    assert wait_done(host, "igny8", task["id"])["status"] == "done"


# -- Redis: cache expiry and the eviction policy --------------------------------------------

def test_django_cache_keys_expire_and_redis_evicts_only_keys_with_an_expiry(host):
    out = host.run("docker exec observer_backend /app/manage.py shell -c %s" % shlex.quote(
        "from django.core.cache import cache; cache.set('ttl-probe', 1); print('set')"))
    assert out.rc == 0, out.stderr
    admin = "docker exec alorig_redis redis-cli --no-auth-warning --user alorig_admin"
    ttl = int(host.check_output("%s -n %d TTL observer:1:ttl-probe"
                                % (admin, ENABLED["observer"]["redis"]["db"])).strip())
    assert 0 < ttl <= PLATFORM["alorig_redis_cache_ttl"], ttl
    policy = host.check_output("%s CONFIG GET maxmemory-policy" % admin).split()
    assert policy == ["maxmemory-policy", PLATFORM["alorig_redis_maxmemory_policy"]]
