#!/usr/bin/env python3
"""The host collector of the Alorig monitoring: what node-exporter cannot see, written in
the Prometheus text format for node-exporter's textfile collector.

Usage: alorig_metrics.py CONFIG_JSON_FILE
CONFIG: {"textfile": ".../alorig.prom", "state_file": ".../state.json",
         "docker_socket": "/var/run/docker.sock", "tls_hosts": ["api.psydge.com", ...],
         "redis": {"host", "port", "user", "password_file"},
         "queues": [{"app": "igny8", "db": 0, "keys": ["igny8:celery", "igny8:video"]}],
         "https_address": "127.0.0.1", "https_port": 443, "tls_interval_seconds": 600}

Per Docker container (labels container and app, from org.alorig.app; "" for the shared
services):
  alorig_container_memory_bytes        memory usage minus inactive file cache (what docker
                                       stats shows), from the container's cgroup (v2 or v1)
  alorig_container_memory_limit_bytes  its memory limit (0 = none)
  alorig_container_oom_kills_total     OOM kills (the cgroup's memory.events oom_kill, kept
                                       across restarts and recreations in the state file)
  alorig_container_restarts_total      Docker's restart count
  alorig_container_running             1 running, 0 otherwise (exited, paused, restarting)
  alorig_container_healthy             1 healthy, 0 starting or unhealthy (only containers
                                       with a health check)
Per Celery queue of each app: alorig_celery_queue_length (labels app, key: LLEN of the key in
the app's Redis DB, 0 when the key does not exist), read as the Redis ACL user of the
monitoring, which may read these keys only.
Per host Caddy serves: alorig_tls_certificate_expiry_timestamp_seconds (probed through
Caddy on the loopback with the host's SNI, at most every tls_interval_seconds).
And alorig_collector_last_run_timestamp_seconds, alorig_collector_errors.

Reads the Docker API on its socket (no docker CLI process per run); standard library only.
"""
import http.client
import json
import os
import socket
import ssl
import sys
import tempfile
import time


class DockerSocket(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=20)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(20)
        self.sock.connect(self.path)


def docker_get(conn, url):
    conn.request("GET", url)
    response = conn.getresponse()
    body = response.read()
    if response.status != 200:
        raise RuntimeError("docker API %s: %d %s" % (url, response.status, body[:200]))
    return json.loads(body)


def read_file(path):
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return None


def cgroup_dir(pid):
    """(version, directory) of a process's memory cgroup (v2 unified, or v1 memory
    controller), or None."""
    text = read_file("/proc/%d/cgroup" % pid) or ""
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3 and "memory" in parts[1].split(","):
            return 1, "/sys/fs/cgroup/memory" + parts[2].strip()
    for line in text.splitlines():
        if line.startswith("0::"):
            return 2, "/sys/fs/cgroup" + line[3:].strip()
    return None


def keyed(text):
    values = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            values[parts[0]] = int(parts[1])
    return values


# version -> (usage file, inactive file cache key in memory.stat, limit file, OOM events file)
CGROUP_FILES = {2: ("memory.current", "inactive_file", "memory.max", "memory.events"),
                1: ("memory.usage_in_bytes", "total_inactive_file", "memory.limit_in_bytes",
                    "memory.oom_control")}
# cgroup v1's "no limit" (PAGE_COUNTER_MAX pages)
V1_UNLIMITED = 1 << 62


def memory_of(found):
    """(usage without inactive file cache, limit, oom_kill count) of a cgroup, or None."""
    version, directory = found
    usage_file, inactive_key, limit_file, events_file = CGROUP_FILES[version]
    current = read_file(os.path.join(directory, usage_file))
    if current is None:
        return None
    stat = keyed(read_file(os.path.join(directory, "memory.stat")))
    events = keyed(read_file(os.path.join(directory, events_file)))
    usage = int(current) - stat.get(inactive_key, 0)
    limit = (read_file(os.path.join(directory, limit_file)) or "max").strip()
    limit = 0 if limit == "max" or not limit.isdigit() or int(limit) >= V1_UNLIMITED else int(limit)
    return max(usage, 0), limit, events.get("oom_kill", 0)


def tls_expiry(host, address, port):
    """notAfter (unix time) of the certificate served for ``host``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((address, port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=host) as tls:
            der = tls.getpeercert(binary_form=True)
    with tempfile.NamedTemporaryFile("w", suffix=".pem") as pem:
        pem.write(ssl.DER_cert_to_PEM_cert(der))
        pem.flush()
        decoded = ssl._ssl._test_decode_cert(pem.name)  # pylint: disable=protected-access
    return int(ssl.cert_time_to_seconds(decoded["notAfter"]))


def redis_command(stream, *args):
    """Send one command (RESP) and read its reply: an int, a string, or RuntimeError."""
    stream.write(b"*%d\r\n" % len(args))
    for arg in args:
        data = str(arg).encode()
        stream.write(b"$%d\r\n%s\r\n" % (len(data), data))
    stream.flush()
    line = stream.readline().rstrip(b"\r\n")
    kind, rest = line[:1], line[1:].decode(errors="replace")
    if kind == b"-":
        raise RuntimeError(rest)
    if kind == b":":
        return int(rest)
    if kind == b"$":
        size = int(rest)
        return None if size < 0 else stream.read(size + 2)[:-2].decode(errors="replace")
    if kind == b"+":
        return rest
    raise RuntimeError("unexpected reply %r" % line[:40])


def queue_lengths(config):
    """[(app, key, length)] of every app's Celery queues."""
    settings = config.get("redis") or {}
    queues = config.get("queues") or []
    if not queues:
        return []
    with open(settings["password_file"]) as handle:
        password = handle.read().strip()
    found = []
    with socket.create_connection((settings.get("host", "127.0.0.1"),
                                   int(settings.get("port", 6379))), timeout=10) as conn:
        stream = conn.makefile("rwb")
        redis_command(stream, "AUTH", settings["user"], password)
        for queue in queues:
            redis_command(stream, "SELECT", int(queue["db"]))
            for key in queue["keys"]:
                found.append((queue["app"], key, redis_command(stream, "LLEN", key)))
    return found


def label(value):
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def collect(config, state, now):
    errors = []
    lines = []
    series = {"memory": [], "limit": [], "oom": [], "restarts": [], "running": [],
              "healthy": []}
    seen = {}
    previous = state.get("containers", {})
    try:
        conn = DockerSocket(config.get("docker_socket", "/var/run/docker.sock"))
        for summary in docker_get(conn, "/containers/json?all=1"):
            info = docker_get(conn, "/containers/%s/json" % summary["Id"])
            name = info["Name"].lstrip("/")
            app = (info.get("Config", {}).get("Labels") or {}).get("org.alorig.app", "")
            tags = 'container="%s",app="%s"' % (label(name), label(app))
            status = info.get("State", {})
            running = status.get("Status") == "running"
            memory = None
            if status.get("Pid"):
                found = cgroup_dir(status["Pid"])
                memory = memory_of(found) if found else None
            record = previous.get(name, {})
            total = record.get("total", 0)
            last = record.get("cgroup_oom", 0)
            if memory is not None:
                usage, limit, oom = memory
                same = record.get("id") == info["Id"] and record.get("started") == \
                    status.get("StartedAt") and oom >= last
                total += oom - last if same else oom
                last = oom
                series["memory"].append((tags, usage))
                series["limit"].append((tags, limit or info.get("HostConfig", {}).get("Memory")
                                        or 0))
            elif status.get("OOMKilled") and status.get("FinishedAt") != record.get("oom_finished"):
                # killed as the container's main process: its cgroup is gone
                total += 1
                record["oom_finished"] = status.get("FinishedAt")
            seen[name] = {"id": info["Id"], "started": status.get("StartedAt"),
                          "cgroup_oom": last if memory is not None else 0, "total": total,
                          "oom_finished": record.get("oom_finished")}
            series["oom"].append((tags, total))
            series["restarts"].append((tags, info.get("RestartCount", 0)))
            series["running"].append((tags, 1 if running else 0))
            health = (status.get("Health") or {}).get("Status")
            if health:
                series["healthy"].append((tags, 1 if health == "healthy" and running else 0))
        conn.close()
    except (OSError, RuntimeError, ValueError, http.client.HTTPException) as exc:
        errors.append("docker: %s" % exc)
        seen = previous
    state["containers"] = seen

    helps = [
        ("memory", "alorig_container_memory_bytes", "gauge",
         "Container memory (usage minus inactive file cache, as docker stats), bytes."),
        ("limit", "alorig_container_memory_limit_bytes", "gauge",
         "Container memory limit, bytes (0: none)."),
        ("oom", "alorig_container_oom_kills_total", "counter",
         "OOM kills in the container since it was first seen."),
        ("restarts", "alorig_container_restarts_total", "counter",
         "Docker restarts of the container."),
        ("running", "alorig_container_running", "gauge", "1 when the container runs."),
        ("healthy", "alorig_container_healthy", "gauge",
         "1 when the container's health check passes, 0 when starting or failing."),
    ]
    for key, metric, kind, text in helps:
        lines += ["# HELP %s %s" % (metric, text), "# TYPE %s %s" % (metric, kind)]
        lines += ["%s{%s} %d" % (metric, tags, value) for tags, value in series[key]]

    lines += ["# HELP alorig_celery_queue_length Tasks waiting in the app's Celery queue.",
              "# TYPE alorig_celery_queue_length gauge"]
    try:
        lines += ['alorig_celery_queue_length{app="%s",key="%s"} %d' % (label(app), label(key), length)
                  for app, key, length in queue_lengths(config)]
    except (OSError, RuntimeError, ValueError, KeyError) as exc:
        errors.append("redis: %s" % exc)

    certs = state.get("certs", {})
    interval = int(config.get("tls_interval_seconds", 600))
    for host in config.get("tls_hosts", []):
        cached = certs.get(host) or {}
        if now - cached.get("checked", 0) < interval and "expiry" in cached:
            continue
        try:
            certs[host] = {"checked": now, "expiry": tls_expiry(
                host, config.get("https_address", "127.0.0.1"), int(config.get("https_port", 443)))}
        except (OSError, ValueError, KeyError, ssl.SSLError) as exc:
            certs[host] = {"checked": now}
            errors.append("tls %s: %s" % (host, exc))
    certs = dict((h, c) for h, c in certs.items() if h in config.get("tls_hosts", []))
    state["certs"] = certs
    lines += ["# HELP alorig_tls_certificate_expiry_timestamp_seconds notAfter of the "
              "certificate Caddy serves for the host.",
              "# TYPE alorig_tls_certificate_expiry_timestamp_seconds gauge"]
    lines += ['alorig_tls_certificate_expiry_timestamp_seconds{host="%s"} %d'
              % (label(h), c["expiry"]) for h, c in sorted(certs.items()) if "expiry" in c]
    lines += ["# HELP alorig_collector_errors Errors of the last run (details in the journal).",
              "# TYPE alorig_collector_errors gauge", "alorig_collector_errors %d" % len(errors),
              "# HELP alorig_collector_last_run_timestamp_seconds When the collector last ran.",
              "# TYPE alorig_collector_last_run_timestamp_seconds gauge",
              "alorig_collector_last_run_timestamp_seconds %d" % now]
    return "\n".join(lines) + "\n", errors


def write_atomic(path, text, mode):
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".alorig-")
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def main():
    with open(sys.argv[1]) as handle:
        config = json.load(handle)
    try:
        with open(config["state_file"]) as handle:
            state = json.load(handle)
    except (OSError, ValueError):
        state = {}
    text, errors = collect(config, state, int(time.time()))
    write_atomic(config["textfile"], text, 0o644)
    write_atomic(config["state_file"], json.dumps(state, sort_keys=True), 0o600)
    for error in errors:
        print(error, file=sys.stderr)


if __name__ == "__main__":
    main()
