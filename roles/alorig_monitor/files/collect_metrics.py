#!/usr/bin/env python3
"""Collect the Alorig host metrics on the VPS and print them as JSON.

Usage: collect_metrics.py CONFIG_JSON
CONFIG_JSON: {"postgres_container", "redis_container", "redis_admin_user",
              "queues": [{"app", "db", "keys": [...]}]}
              "backup_state_dir" (optional)}
Reads only: docker stats/inspect, pg_stat_activity, Redis INFO and LLEN, and the
backup tool's result files (backup.json, drill.json, check.json) when configured.
"""
import json
import re
import subprocess
import sys
import time

UNITS = {"b": 1, "kib": 1024, "mib": 1024 ** 2, "gib": 1024 ** 3, "tib": 1024 ** 4,
         "kb": 1000, "mb": 1000 ** 2, "gb": 1000 ** 3, "tb": 1000 ** 4}


def run(cmd, stdin=None, attempts=2):
    """The command's output; a failed command is tried once more after a second (a
    `docker exec` can fail while the daemon is busy) before the error is raised."""
    for attempt in range(attempts):
        proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=120, check=False)
        if proc.returncode == 0:
            return proc.stdout
        if attempt + 1 < attempts:
            time.sleep(1)
    raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd[:4]), proc.returncode,
                                               (proc.stderr.strip() or proc.stdout.strip())[-300:]))


def to_mb(text):
    match = re.match(r"\s*([0-9.]+)\s*([A-Za-z]+)", text)
    if not match:
        return 0.0
    return float(match.group(1)) * UNITS.get(match.group(2).lower(), 1) / 1024 ** 2


def main():
    config = json.loads(sys.argv[1])
    errors = []
    containers = {}
    names = run(["docker", "ps", "-a", "--format", "{{.Names}}"]).split()
    if names:
        for info in json.loads(run(["docker", "inspect"] + names)):
            state = info.get("State", {})
            labels = info.get("Config", {}).get("Labels") or {}
            containers[info["Name"].lstrip("/")] = {
                "status": state.get("Status"),
                "health": (state.get("Health") or {}).get("Status"),
                "oom_killed": bool(state.get("OOMKilled")),
                "restart_count": info.get("RestartCount", 0),
                "app": labels.get("org.alorig.app"),
                "limit_mb": round((info.get("HostConfig", {}).get("Memory") or 0) / 1024 ** 2, 1),
                "ram_mb": 0.0,
            }
    for line in run(["docker", "stats", "--no-stream", "--format", "{{json .}}"]).splitlines():
        if not line.strip():
            continue
        stat = json.loads(line)
        name = stat.get("Name", "")
        if name in containers:
            containers[name]["ram_mb"] = round(to_mb(stat.get("MemUsage", "0B").split("/")[0]), 1)

    postgres_connections = None
    try:
        postgres_connections = int(run(["docker", "exec", config["postgres_container"], "psql", "-U", "postgres",
                                        "-Atc", "SELECT count(*) FROM pg_stat_activity"]).strip())
    except (RuntimeError, ValueError) as exc:
        errors.append("postgres: %s" % exc)

    redis_cli = ["docker", "exec", "-i", config["redis_container"], "redis-cli", "--no-auth-warning",
                 "--user", config["redis_admin_user"]]
    redis_memory_mb = None
    try:
        info = run(redis_cli + ["INFO", "memory"])
        used = re.search(r"^used_memory:(\d+)", info, re.M)
        redis_memory_mb = round(int(used.group(1)) / 1024 ** 2, 1) if used else None
        if used is None:
            errors.append("redis: INFO memory has no used_memory: %s" % info.strip()[-200:])
    except RuntimeError as exc:
        errors.append("redis: %s" % exc)

    queues = []
    commands = []
    for item in config.get("queues", []):
        commands.append("SELECT %d" % int(item["db"]))
        for key in item["keys"]:
            commands.append("LLEN %s" % key)
            queues.append({"app": item["app"], "key": key})
    if commands:
        try:
            replies = [r for r in run(redis_cli, stdin="\n".join(commands) + "\n").splitlines()]
            lengths = [r for r in replies if r.strip() != "OK"]
            for queue, length in zip(queues, lengths):
                queue["length"] = int(re.sub(r"\D", "", length) or 0)
        except RuntimeError as exc:
            errors.append("redis queues: %s" % exc)

    # The results of the backup tool (roles/backup): the last backup, drill and check.
    backup = None
    if config.get("backup_state_dir"):
        backup = {}
        for name in ("backup", "drill", "check"):
            try:
                with open("%s/%s.json" % (config["backup_state_dir"], name)) as handle:
                    backup[name] = json.load(handle)
            except (OSError, ValueError):
                backup[name] = None

    json.dump({"containers": containers, "postgres_connections": postgres_connections,
               "redis_memory_mb": redis_memory_mb, "queues": queues, "errors": errors,
               "backup": backup},
              sys.stdout, sort_keys=True)


if __name__ == "__main__":
    main()
