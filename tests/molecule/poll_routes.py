#!/usr/bin/env python3
"""Poll routes through a VPS's Caddy over HTTPS until told to stop; write what was seen.

    poll_routes.py --address 10.214.3.5 --route app.igny8.com/ --route api.igny8.com/health/ \
        --stop-file /tmp/stop --out /tmp/poll.json

Each round sends one request per route to ``address``:443 with the route's name as SNI
and Host (as a client resolving the name to that host would), one round every
``--interval`` seconds, until ``--stop-file`` exists. A request fails when it gets no
answer within ``--timeout`` or an answer above ``--max-status``. ``--out`` gets
``{"rounds", "requests", "failed": [{"route", "at", "error"}], "retried": [...], "statuses"}``;
the molecule migration scenario asserts that nothing failed while an app moved away.

A connection the server resets or closes before sending one byte of an answer is retried
once, at once, on a new connection (as HTTP clients retry an idempotent GET whose connection
was dropped): Caddy's graceful reload hands its listening socket over to the new
configuration, and a connection arriving in that instant (a few tens of milliseconds) is
dropped. Each retry is listed in ``retried`` with its first error; a retry that fails too, a
timeout, or an answer above ``--max-status`` is a failure.
Standard library only (runs with the control node's Python).
"""

import argparse
import json
import os
import socket
import ssl
import time


def request(address, name, path, timeout):
    """The status code of GET https://<name><path> sent to address (SNI and Host: name)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # Caddy's local CA in the tests
    with socket.create_connection((address, 443), timeout=timeout) as raw:
        with context.wrap_socket(raw, server_hostname=name) as tls:
            tls.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
                         "User-Agent: alorig-poll\r\n\r\n" % (path, name)).encode("ascii"))
            head = b""
            while b"\r\n" not in head:
                chunk = tls.recv(4096)
                if not chunk:
                    break
                head += chunk
    if not head:
        raise Dropped("no answer: the connection was closed before any byte")
    line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split()
    if len(parts) < 2 or not parts[1].isdigit():
        raise ValueError("no HTTP status line: %r" % line[:80])
    return int(parts[1])


class Dropped(ValueError):
    """The server closed the connection before sending any answer."""


def dropped(exc):
    """A connection reset or closed before any byte of an answer (not a timeout)."""
    return isinstance(exc, (ConnectionResetError, ConnectionAbortedError, Dropped))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--address", required=True)
    parser.add_argument("--route", action="append", required=True,
                        help="name/path, e.g. api.igny8.com/health/")
    parser.add_argument("--stop-file", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--max-status", type=int, default=399)
    parser.add_argument("--max-seconds", type=float, default=3600.0)
    args = parser.parse_args()

    routes = []
    for route in args.route:
        name, _, path = route.partition("/")
        routes.append((route, name, "/" + path))
    result = {"rounds": 0, "requests": 0, "failed": [], "retried": [], "statuses": {}}
    started = time.time()
    while not os.path.exists(args.stop_file) and time.time() - started < args.max_seconds:
        for route, name, path in routes:
            result["requests"] += 1
            try:
                try:
                    status = request(args.address, name, path, args.timeout)
                except (OSError, ValueError) as first:
                    if not dropped(first):
                        raise
                    result["retried"].append({"route": route, "at": time.time() - started,
                                              "error": "%s: %s" % (type(first).__name__, first)})
                    status = request(args.address, name, path, args.timeout)
                result["statuses"][str(status)] = result["statuses"].get(str(status), 0) + 1
                if status > args.max_status:
                    result["failed"].append({"route": route, "at": time.time() - started,
                                             "error": "HTTP %d" % status})
            except (OSError, ValueError) as exc:
                result["failed"].append({"route": route, "at": time.time() - started,
                                         "error": "%s: %s" % (type(exc).__name__, exc)})
        result["rounds"] += 1
        time.sleep(args.interval)
    if not os.path.exists(args.stop_file):
        result["failed"].append({"route": "*", "at": time.time() - started,
                                 "error": "never told to stop within %d s" % args.max_seconds})
    result["seconds"] = round(time.time() - started, 1)
    tmp = args.out + ".part"
    with open(tmp, "w") as handle:
        json.dump(result, handle, indent=1)
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
