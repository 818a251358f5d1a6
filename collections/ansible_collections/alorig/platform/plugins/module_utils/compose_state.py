# -*- coding: utf-8 -*-
# Copyright: Alorig platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure planning code of the module alorig.platform.compose_state.

Given a compose document (already parsed), what ``docker inspect`` says about the project's
containers and the ids of the declared images, decide what each container needs. No I/O
here: the module gathers the facts and applies the plan; the unit tests feed these
functions inspect documents directly.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.alorig.platform.plugins.module_utils.app_state import (  # noqa: F401
    CREATE, NONE, RECREATE, START, UNPAUSE, state_action,
)

MB = 1024 * 1024

_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": MB, "mb": MB,
          "g": 1024 * MB, "gb": 1024 * MB}


def size_bytes(value):
    """Bytes of a compose size (``512m``, ``1g``, ``1073741824``), None when unset."""
    if value is None or value == "":
        return None
    if isinstance(value, int):
        return value
    match = re.match(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$", str(value))
    if not match or match.group(2).lower() not in _UNITS:
        raise ValueError("not a size: %r" % (value,))
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def service_networks(project, compose, service):
    """The Docker names of the networks a service joins."""
    top = compose.get("networks") or {}
    declared = service.get("networks")
    keys = list(declared.keys()) if isinstance(declared, dict) else list(declared or ["default"])
    names = []
    for key in keys:
        net = top.get(key) or {}
        names.append(net.get("name") or "%s_%s" % (project, key))
    return names


def container_name(project, key, service):
    return service.get("container_name") or "%s-%s-1" % (project, key)


def service_action(project, compose, key, info, image_id):
    """(action, reason) for one compose service given its container's inspect document."""
    service = compose["services"][key]
    if info is None:
        return CREATE, "missing"
    labels = ((info.get("Config") or {}).get("Labels")) or {}
    if labels.get("com.docker.compose.project") != project \
            or labels.get("com.docker.compose.service") != key:
        return RECREATE, "not created by the compose project %s" % project
    state = info.get("State") or {}
    host = info.get("HostConfig") or {}
    config = info.get("Config") or {}
    if state.get("Dead") or state.get("Status") == "dead":
        return RECREATE, "dead"
    if config.get("Image") != service.get("image"):
        return RECREATE, "runs image %s, declared %s" % (config.get("Image"), service.get("image"))
    if image_id is None:
        return RECREATE, "image %s is not on the host" % service.get("image")
    if info.get("Image") != image_id:
        return RECREATE, "runs an older build of %s (%s, the tag is now %s)" % (
            service.get("image"), (info.get("Image") or "")[7:19], image_id[7:19])
    memory = size_bytes(service.get("mem_limit"))
    if (host.get("Memory") or None) != memory:
        return RECREATE, "memory limit %s, declared %s" % (
            "%d MB" % (host["Memory"] // MB) if host.get("Memory") else "none",
            "%d MB" % (memory // MB) if memory else "none")
    swap = size_bytes(service.get("memswap_limit"))
    if swap is not None and host.get("MemorySwap") != swap:
        return RECREATE, "memory+swap limit %d MB, declared %d MB" % (
            (host.get("MemorySwap") or 0) // MB, swap // MB)
    restart = (host.get("RestartPolicy") or {}).get("Name") or "no"
    if restart != (service.get("restart") or "no"):
        return RECREATE, "restart policy %r, declared %r" % (restart, service.get("restart") or "no")
    networks = ((info.get("NetworkSettings") or {}).get("Networks")) or {}
    for name in service_networks(project, compose, service):
        if name not in networks:
            return RECREATE, "not attached to %s" % name
    return state_action(state)


def config_hashes(project, containers):
    """{service: compose config hash} of the project's containers."""
    hashes = {}
    for info in containers:
        labels = ((info.get("Config") or {}).get("Labels")) or {}
        if labels.get("com.docker.compose.project") == project \
                and labels.get("com.docker.compose.oneoff", "False") != "True":
            hashes[labels.get("com.docker.compose.service")] = labels.get(
                "com.docker.compose.config-hash")
    return hashes


def plan(project, compose, containers, image_ids, record, digest):
    """The plan: {containers: [(name, action, reason)], orphans: [names], up: reason or None}.

    ``containers``: the inspect documents of the project's containers and of every declared
    container name; ``image_ids``: {image reference: id}; ``record``: what the module wrote
    after its last ``compose up`` ({digest, config_hashes}) or None.
    """
    by_name = {}
    for info in containers:
        by_name[(info.get("Name") or "").lstrip("/")] = info
    services = compose.get("services") or {}
    actions = []
    for key in sorted(services):
        name = container_name(project, key, services[key])
        action, reason = service_action(project, compose, key, by_name.get(name),
                                        image_ids.get(services[key].get("image")))
        actions.append((name, action, reason))
    orphans = []
    for name, info in sorted(by_name.items()):
        labels = ((info.get("Config") or {}).get("Labels")) or {}
        if labels.get("com.docker.compose.project") == project \
                and labels.get("com.docker.compose.oneoff", "False") != "True" \
                and labels.get("com.docker.compose.service") not in services:
            orphans.append(name)
    up = None
    if not record or record.get("digest") != digest:
        up = ("never started by this module" if not record
              else "its files changed since the last start")
    else:
        recorded = record.get("config_hashes") or {}
        current = config_hashes(project, containers)
        differ = sorted(k for k in services if k in current and recorded.get(k) != current[k])
        if differ:
            up = "%s re-created outside this role since the last start" % ", ".join(differ)
    return {"containers": actions, "orphans": orphans, "up": up}
