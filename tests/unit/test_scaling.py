"""The seeds' upgrade-trigger actions as switches (issue: PgBouncer, worker scaling, Redis
eviction): what the registry model projects for them, what the app containers get, what
PgBouncer's configuration says, and the action the capacity report names for each crossed
threshold."""

import importlib.util
import sys
from pathlib import Path

import jinja2
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "collections"))
sys.path.insert(0, str(ROOT / "tests"))

from ansible_collections.alorig.platform.plugins.filter.app import app_services  # noqa: E402
from ansible_collections.alorig.platform.plugins.module_utils import services_model  # noqa: E402
from registry_cases import projection as project  # noqa: E402

spec = importlib.util.spec_from_file_location(
    "capacity_report", ROOT / "roles/alorig_monitor/files/capacity_report.py")
capacity_report = importlib.util.module_from_spec(spec)
spec.loader.exec_module(capacity_report)

SETTINGS = {"tag": "T", "state_dir": "/opt/alorig/apps", "gunicorn_workers": 2,
            "gunicorn_threads": 2, "celery_concurrency": 2, "beat_tick_seconds": 5}



def worker(variables, app, name):
    return next(c for c in variables["alorig_apps"][app]["containers"] if c["name"] == name)


# -- worker replicas -------------------------------------------------------------------------

def test_replicas_are_containers_of_their_own_everywhere():
    projection = project(lambda v: worker(v, "igny8", "igny8_celery_worker").update(replicas=3))
    names = [c["name"] for c in projection["apps"]["igny8"]["containers"]]
    assert names == ["igny8_backend", "igny8_celery_worker", "igny8_celery_worker_2",
                     "igny8_celery_worker_3", "igny8_celery_video_worker", "igny8_celery_beat"]
    monitor = next(a for a in projection["monitor_apps"] if a["name"] == "igny8")
    assert monitor["containers"] == names
    assert {"igny8_celery_worker_2", "igny8_celery_worker_3"} <= set(projection["owned"]["containers"])
    # the budget split counts every replica and still fits the app's budget
    memory = dict((c["name"], c["memory_mb"]) for c in projection["apps"]["igny8"]["containers"])
    assert memory["igny8_celery_worker"] == memory["igny8_celery_worker_3"]
    assert sum(memory.values()) <= 1200
    # each replica is a Celery worker of its own name on the same queue
    services = dict((s["name"], s) for s in app_services(projection["apps"]["igny8"], SETTINGS))
    assert services["igny8_celery_worker_2"]["environment"]["CELERY_WORKER_NAME"] == \
        "igny8_celery_worker_2@%h"
    assert services["igny8_celery_worker_2"]["environment"]["CELERY_QUEUES"] == "celery"
    assert services["igny8_celery_video_worker"]["environment"]["CELERY_QUEUES"] == "video"


def test_scaling_up_keeps_the_first_container_and_shrinks_the_others_limits():
    one = project()["apps"]["igny8"]["containers"]
    two = project(lambda v: worker(v, "igny8", "igny8_celery_worker").update(replicas=2))
    two = two["apps"]["igny8"]["containers"]
    assert [c["name"] for c in one] == [c["name"] for c in two if c["name"] != "igny8_celery_worker_2"]
    before = dict((c["name"], c["memory_mb"]) for c in one)
    after = dict((c["name"], c["memory_mb"]) for c in two)
    assert after["igny8_backend"] < before["igny8_backend"]


# -- PgBouncer -------------------------------------------------------------------------------

def test_pgbouncer_off_keeps_the_apps_on_postgres():
    projection = project()
    assert projection["pgbouncer"]["enabled"] is False
    for app, env in projection["app_secret_env"].items():
        assert "@alorig_postgres:5432/" in env["DATABASE_URL"], app
        assert env["DATABASE_DIRECT_URL"] == env["DATABASE_URL"]
        assert projection["apps"][app]["database"]["pooled"] is False


def test_pgbouncer_on_points_every_app_at_it_and_keeps_migrations_direct():
    projection = project(lambda v: v.update(alorig_pgbouncer_enabled=True))
    pools = dict((d["app"], d) for d in projection["pgbouncer"]["databases"])
    assert set(pools) == set(projection["app_secret_env"])
    for app, env in projection["app_secret_env"].items():
        database = projection["apps"][app]["database"]
        assert env["DATABASE_URL"].endswith("@alorig_pgbouncer:6432/%s" % database["name"]), app
        assert env["DATABASE_URL"].startswith("postgres://%s:" % database["owner"])
        assert env["DATABASE_DIRECT_URL"].endswith("@alorig_postgres:5432/%s" % database["name"])
        assert database["pooled"] is True
        assert pools[app]["owner"] == database["owner"]
    # default pool: half the role's connection limit, rounded up (igny8: 16, astrotiming: 6)
    assert pools["igny8"]["pool_size"] == 8
    assert pools["astrotiming"]["pool_size"] == 3
    # no secret in the non-secret part
    assert all("password" not in str(d).lower() for d in projection["pgbouncer"]["databases"])


def test_pool_size_is_the_apps_own_when_set():
    projection = project(lambda v: (v.update(alorig_pgbouncer_enabled=True),
                                    v["alorig_apps"]["psydge"]["database"].update(pool_size=9)))
    pools = dict((d["app"], d["pool_size"]) for d in projection["pgbouncer"]["databases"])
    assert pools["psydge"] == 9


def test_app_containers_say_where_their_database_is_and_their_cache_ttl():
    projection = project(lambda v: (v.update(alorig_pgbouncer_enabled=True),
                                    v["alorig_apps"]["observer"]["redis"].update(cache_ttl=60)))
    for service in app_services(projection["apps"]["observer"], SETTINGS):
        assert service["environment"]["DATABASE_POOLING"] == "transaction"
        assert service["environment"]["CACHE_DEFAULT_TIMEOUT"] == "60"
    off = project()
    for service in app_services(off["apps"]["asms"], SETTINGS):
        assert service["environment"]["DATABASE_POOLING"] == "none"
        assert service["environment"]["CACHE_DEFAULT_TIMEOUT"] == "300"


def render(template, **variables):
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(ROOT / "roles/pgbouncer/templates")),
                             keep_trailing_newline=True)
    return env.get_template(template).render(ansible_managed="managed", **variables)


def test_pgbouncer_ini_has_one_pool_per_app_and_no_secret():
    projection = project(lambda v: v.update(alorig_pgbouncer_enabled=True))
    defaults = __import__("yaml").safe_load((ROOT / "roles/pgbouncer/defaults/main.yml").read_text())
    defaults["pgbouncer_databases"] = projection["pgbouncer"]["databases"]
    text = render("pgbouncer.ini.j2", **defaults)
    for pool in projection["pgbouncer"]["databases"]:
        assert ("%s = host=alorig_postgres port=5432 dbname=%s pool_size=%d max_db_connections=%d"
                % (pool["name"], pool["name"], pool["pool_size"], pool["pool_size"])) in text
    assert "pool_mode = transaction" in text
    assert "auth_type = scram-sha-256" in text
    for password in projection["postgres_passwords"].values():
        assert password not in text


# -- Redis eviction ----------------------------------------------------------------------------

def test_redis_policy_and_ttl_defaults():
    projection = project()
    assert projection["redis"] == {"maxmemory_policy": "volatile-lru", "cache_ttl": 300}


@pytest.mark.parametrize("policy", services_model.SAFE_POLICIES)
def test_every_policy_that_keeps_broker_keys_is_accepted(policy):
    assert project(lambda v: v.update(alorig_redis_maxmemory_policy=policy))["redis"][
        "maxmemory_policy"] == policy


@pytest.mark.parametrize("policy", services_model.BROKER_EVICTING_POLICIES)
def test_policies_that_evict_broker_keys_are_refused(policy):
    assert any("Celery broker keys" in e for e in services_model.errors(
        {"alorig_redis_maxmemory_policy": policy}))


# -- the action of each crossed threshold ----------------------------------------------------

THRESHOLDS = {"steady_state_ram_mb": 13312, "oom_kills": 0, "postgres_connections": 80,
              "redis_memory_mb": 2048, "celery_queue_length": 1000}


def report(metrics, actions):
    config = {"apps": [{"name": "igny8", "title": "IGNY8", "ram_budget_mb": 1200,
                        "containers": ["igny8_backend", "igny8_celery_worker"],
                        "queue_keys": ["igny8:celery", "igny8:video"]},
                       {"name": "asms", "title": "ASMS", "ram_budget_mb": 600,
                        "containers": ["asms_backend", "asms_celery_worker"],
                        "queue_keys": ["asms:celery"]}],
              "infra": {}, "thresholds": THRESHOLDS, "upgrade_trigger_mb": 13312,
              "host_ram_mb": 16384, "current_app": "", "generated_at": "now", "actions": actions}
    return capacity_report.build_report(metrics, config)


def test_each_crossed_threshold_names_its_action_and_variable():
    actions = services_model.monitor_actions({})
    metrics = {"containers": {
        "igny8_backend": {"ram_mb": 14000.0, "status": "running"},
        "igny8_celery_worker": {"ram_mb": 10.0, "status": "running"},
        "asms_backend": {"ram_mb": 10.0, "status": "running"},
        "asms_celery_worker": {"ram_mb": 10.0, "status": "running", "oom_killed": True}},
        "postgres_connections": 85, "redis_memory_mb": 2100.0,
        "queues": [{"key": "igny8:video", "length": 1500}, {"key": "asms:celery", "length": 3}]}
    violations = dict((v["metric"], v["action"]) for v in report(metrics, actions)["violations"])
    assert "alorig_pgbouncer_enabled: true" in violations["postgres_connections"]
    assert "replicas" in violations["celery_queue_length"]
    assert violations["celery_queue_length"].endswith("(alorig_apps: igny8)")
    assert "alorig_redis_maxmemory_policy" in violations["redis_memory_mb"]
    assert "redis.cache_ttl" in violations["redis_memory_mb"]
    assert "reduce workers" in violations["oom_kills"]
    assert violations["oom_kills"].endswith("(alorig_apps: asms)")
    assert "move an app" in violations["steady_state_ram_mb"]


def test_with_pgbouncer_on_the_connections_action_is_the_pools():
    actions = services_model.monitor_actions({"alorig_pgbouncer_enabled": True})
    assert "database.pool_size" in actions["postgres_connections"]
    assert "alorig_pgbouncer_enabled: true" not in actions["postgres_connections"]


def test_a_metric_under_its_limit_names_no_action():
    running = {"ram_mb": 10.0, "status": "running"}
    metrics = {"containers": dict((n, running) for n in ("igny8_backend", "igny8_celery_worker",
                                                          "asms_backend", "asms_celery_worker")),
               "postgres_connections": 3, "redis_memory_mb": 1.0, "queues": []}
    assert report(metrics, services_model.monitor_actions({}))["violations"] == []


# -- switches given on the command line (`-e name=value` arrives as a string) ---------------

@pytest.mark.parametrize("word,expected", [("true", True), ("True", True), ("yes", True),
                                           ("false", False), ("no", False), (True, True)])
def test_the_pgbouncer_switch_reads_boolean_words(word, expected):
    platform = {"alorig_pgbouncer_enabled": word, "alorig_shared_ram_budget_mb": {"pgbouncer": 64}}
    assert services_model.errors(platform) == []
    assert services_model.settings(platform)["pgbouncer_enabled"] is expected


@pytest.mark.parametrize("value", ["enable", "1.5", 1, None.__class__])
def test_the_pgbouncer_switch_refuses_anything_else(value):
    errors = services_model.errors({"alorig_pgbouncer_enabled": value})
    assert errors and "alorig_pgbouncer_enabled must be true or false" in errors[0]


def test_numbers_given_as_digit_strings_are_read_as_numbers():
    platform = {"alorig_pgbouncer_max_client_conn": "2000", "alorig_redis_cache_ttl": "60"}
    assert services_model.errors(platform) == []
    values = services_model.settings(platform)
    assert (values["max_client_conn"], values["cache_ttl"]) == (2000, 60)
    assert services_model.errors({"alorig_redis_cache_ttl": "5m"})


def test_a_metric_that_could_not_be_read_says_why_not_an_action():
    running = {"ram_mb": 10.0, "status": "running"}
    metrics = {"containers": dict((n, running) for n in ("igny8_backend", "igny8_celery_worker",
                                                          "asms_backend", "asms_celery_worker")),
               "postgres_connections": 3, "redis_memory_mb": None, "queues": [],
               "errors": ["redis: docker exec alorig_redis redis-cli failed (1): no such container"]}
    violations = report(metrics, services_model.monitor_actions({}))["violations"]
    assert [v["metric"] for v in violations] == ["redis_memory_mb"]
    assert violations[0]["detail"] == ("not measured: redis: docker exec alorig_redis redis-cli "
                                       "failed (1): no such container")
    assert violations[0]["action"] == ""
