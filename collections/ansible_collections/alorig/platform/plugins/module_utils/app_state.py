# -*- coding: utf-8 -*-
# Copyright: Alorig platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure planning code of the module alorig.platform.app_state.

Given what an app declares and what ``docker inspect`` says about its containers, decide
what each container needs. No I/O here: the module gathers the facts and applies the
plan; the unit tests feed these functions inspect documents directly.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os

MB = 1024 * 1024

# What a container needs, from the least to the most disruptive.
NONE = "none"
UNPAUSE = "unpause and restart"  # a paused container is restarted after (module app_state)
START = "start"
CREATE = "create"
RECREATE = "recreate"


def _labels(info):
    return ((info.get("Config") or {}).get("Labels")) or {}


def container_action(declared, info, project):
    """(action, reason) for one declared container given its inspect document (or None).

    ``declared``: {name, image, memory_mb, restart_policy, network, port, bind_address}.
    """
    if info is None:
        return CREATE, "missing"
    labels = _labels(info)
    if labels.get("com.docker.compose.project") != project \
            or labels.get("com.docker.compose.service") != declared["name"]:
        return RECREATE, "not created by the app's compose project"
    state = info.get("State") or {}
    host = info.get("HostConfig") or {}
    config = info.get("Config") or {}
    if state.get("Dead") or state.get("Status") == "dead":
        return RECREATE, "dead"
    if config.get("Image") != declared["image"]:
        return RECREATE, "runs image %s, declared %s" % (config.get("Image"), declared["image"])
    memory = declared["memory_mb"] * MB
    if host.get("Memory") != memory:
        return RECREATE, "memory limit %s, declared %d MB" % (
            "%d MB" % (host.get("Memory", 0) // MB) if host.get("Memory") else "none",
            declared["memory_mb"])
    if host.get("MemorySwap") != memory:
        return RECREATE, "memory+swap limit %d MB, declared %d MB (no swap)" % (
            (host.get("MemorySwap") or 0) // MB, declared["memory_mb"])
    restart = (host.get("RestartPolicy") or {}).get("Name")
    if restart != declared["restart_policy"]:
        return RECREATE, "restart policy %r, declared %r" % (restart, declared["restart_policy"])
    networks = ((info.get("NetworkSettings") or {}).get("Networks")) or {}
    if declared["network"] not in networks:
        return RECREATE, "not attached to %s" % declared["network"]
    if declared.get("port"):
        key = "%d/tcp" % declared["port"]
        bindings = (host.get("PortBindings") or {}).get(key) or []
        wanted = {"HostIp": declared.get("bind_address", "127.0.0.1"),
                  "HostPort": str(declared["port"])}
        if [dict((k, b.get(k)) for k in ("HostIp", "HostPort")) for b in bindings] != [wanted]:
            return RECREATE, "port %s published as %s, declared %s:%s" % (
                key, ", ".join("%s:%s" % (b.get("HostIp"), b.get("HostPort")) for b in bindings)
                or "nothing", wanted["HostIp"], wanted["HostPort"])
    return state_action(state)


def state_action(state):
    """(action, reason) for a container's inspect ``State`` once its settings match."""
    status = state.get("Status")
    if status == "paused" or state.get("Paused"):
        return UNPAUSE, "paused"
    if status == "restarting" or state.get("Restarting"):
        return RECREATE, "restarting in a loop (exit code %s)" % state.get("ExitCode")
    if status in ("exited", "created"):
        return START, "%s (exit code %s)" % (status, state.get("ExitCode"))
    health = (state.get("Health") or {}).get("Status")
    if health == "unhealthy":
        log = (state.get("Health") or {}).get("Log") or [{}]
        return RECREATE, "unhealthy (%s)" % (str(log[-1].get("Output", "")).strip()[:120])
    return NONE, "running"


def unready(containers):
    """``name status (health)`` of each inspect document not running or unhealthy, by name."""
    problems = []
    for info in sorted(containers, key=lambda i: i.get("Name") or ""):
        state = info.get("State") or {}
        health = (state.get("Health") or {}).get("Status")
        if state.get("Status") != "running" or health == "unhealthy":
            problems.append("%s %s%s" % ((info.get("Name") or "").lstrip("/"), state.get("Status"),
                                         " (%s)" % health if health else ""))
    return problems


def file_digest(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def tree_manifest(root):
    """{relative path: sha256} of every regular file under ``root``."""
    files = {}
    for base, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            path = os.path.join(base, name)
            if os.path.isfile(path) and not os.path.islink(path):
                files[os.path.relpath(path, root)] = file_digest(path)
    return files


def manifest_problem(root, manifest, release):
    """Why the exported frontend in ``root`` does not match ``manifest``, or None."""
    if not manifest:
        return "never exported (no manifest)"
    if manifest.get("release") != release:
        return "exported for %s" % manifest.get("release")
    if not os.path.isdir(root):
        return "directory %s missing" % root
    current = tree_manifest(root)
    wanted = manifest.get("files") or {}
    missing = sorted(set(wanted) - set(current))
    if missing:
        return "%d file(s) missing (%s)" % (len(missing), ", ".join(missing[:3]))
    changed = sorted(p for p in wanted if current.get(p) != wanted[p])
    if changed:
        return "%d file(s) changed (%s)" % (len(changed), ", ".join(changed[:3]))
    extra = sorted(set(current) - set(wanted))
    if extra:
        return "%d file(s) not from the release (%s)" % (len(extra), ", ".join(extra[:3]))
    return None


def migration_lines(output):
    """The lines of a migrate + collectstatic run worth showing."""
    keep = []
    for line in (output or "").splitlines():
        text = line.strip()
        if text.startswith("Applying ") or text.startswith("No migrations to apply") \
                or " static file" in text:
            keep.append(text)
    return keep
