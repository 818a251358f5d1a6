#!/usr/bin/env python3
"""Smoke test of a running reference-app backend (stdlib only).

Usage: alorig-app smoke [BASE_URL] [--host HOST] [--task] [--beat] [--timeout S]
Checks /health/ (200, database+redis ok), /api/ping/ (app name); with --task a
task round-trip through the worker, with --beat that beat ticks. Exit 1 on failure.
"""
import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request


def call(base, path, host=None, method="GET", body=None, timeout=10):
    req = urllib.request.Request(base.rstrip("/") + path, method=method, data=body)
    if host:
        req.add_header("Host", host)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            return res.status, json.loads(res.read() or b"{}")
    except urllib.error.HTTPError as err:
        try:
            return err.code, json.loads(err.read() or b"{}")
        except ValueError:
            return err.code, {}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url", nargs="?",
                        default=f"http://127.0.0.1:{os.environ.get('PORT', '8000')}")
    parser.add_argument("--host", help="Host header to send (e.g. api.igny8.com)")
    parser.add_argument("--app", default=os.environ.get("APP_NAME"), help="expected app name")
    parser.add_argument("--task", action="store_true", help="also check a worker round-trip")
    parser.add_argument("--beat", action="store_true", help="also check that beat ticks")
    parser.add_argument("--timeout", type=float, default=60, help="bound for --task/--beat waits")
    args = parser.parse_args()
    failures = []

    def check(name, ok, detail):
        print(f"[{'ok' if ok else 'FAIL'}] {name}: {json.dumps(detail)}")
        if not ok:
            failures.append(name)

    status, body = call(args.base_url, "/health/", args.host)
    check("health", status == 200 and body.get("database") == "ok"
          and body.get("redis") == "ok", {"status": status, **body})
    status, body = call(args.base_url, "/api/ping/", args.host)
    check("ping", status == 200 and (not args.app or body.get("app") == args.app),
          {"status": status, **body})

    if args.task:
        status, body = call(args.base_url, "/api/tasks/", args.host, "POST", b"{}")
        detail = {"status": status, **body}
        if status == 202:
            deadline = time.monotonic() + args.timeout
            while time.monotonic() < deadline:
                _, detail = call(args.base_url, f"/api/tasks/{body['id']}/", args.host)
                if detail.get("executed"):
                    break
                time.sleep(1)
        check("task", bool(detail.get("executed")), detail)

    if args.beat:
        _, first = call(args.base_url, "/api/beat/", args.host)
        detail = first
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            _, detail = call(args.base_url, "/api/beat/", args.host)
            if detail.get("ticks", 0) > first.get("ticks", 0):
                break
            time.sleep(1)
        check("beat", detail.get("ticks", 0) > first.get("ticks", 0), detail)

    if failures:
        print(f"smoke: FAILED: {', '.join(failures)}")
        return 1
    print("smoke: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
