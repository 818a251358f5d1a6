#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Alorig platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: compose_state
short_description: Keep a compose project's containers as declared, in one round trip when nothing differs
description:
  - Reads the project's containers (C(docker inspect)) and the ids of the declared images,
    and compares each container with its compose service - existence, compose labels,
    image and image id, memory limit, restart policy, networks, paused, exited,
    restarting, dead, unhealthy - and runs C(docker compose up --wait) only when something
    differs. On a host where nothing differs it only reads (three C(docker) calls).
  - Paused containers are unpaused and restarted, drifted ones (changed by C(docker update),
    detached from a network, restarting in a loop...) removed and created again by
    C(docker compose up). Containers of the project that no service declares are removed
    (C(--remove-orphans)).
  - The compose and env files are written by the role before (M(alorig.platform.config_files));
    the role gives I(digest), a hash of everything those files hold. After a successful
    C(compose up) the module records it with the containers' compose config hashes in
    I(record). A digest other than the recorded one (the files changed, or the last run
    stopped between writing them and starting the containers) or a container re-created
    outside the role starts the project again, and compose re-creates what its own config
    hash says.
  - With I(files), the module first converges the project's directories and files exactly as
    M(alorig.platform.config_files) does (same suboptions, check and diff mode, validation,
    secret files never shown), then the containers: a role writes its files and starts its
    project in one round trip. A file that fails (its validation, a missing directory...)
    fails the task before any container is touched.
  - Check mode reports the same actions and changes nothing.
version_added: "1.3.0"
options:
  files:
    description: >-
      Directories and files converged before the containers, in this order: the option
      O(alorig.platform.config_files#module:files) of M(alorig.platform.config_files), with
      its suboptions. Their actions come first in RV(actions).
    type: list
    elements: dict
    default: []
  units:
    description: >-
      Systemd units whose state to read after the files (one C(systemctl show), returned as
      RV(units_show)), as M(alorig.platform.config_files) reads them.
    type: list
    elements: str
    default: []
  project:
    description: The compose project name.
    type: str
    required: true
  compose_dir:
    description: Directory of the compose file (the working directory of C(docker compose)).
    type: path
    required: true
  compose_file:
    description: File name of the compose file in I(compose_dir).
    type: str
    required: true
  compose:
    description: The compose document, parsed (the content of I(compose_file)).
    type: dict
    required: true
  digest:
    description: A hash of the compose file and the env files it reads (no secret itself).
    type: str
    required: true
  record:
    description: File (root, 0600) where the digest and the config hashes are recorded.
    type: path
    required: true
  wait_timeout:
    description: Seconds C(docker compose up --wait) waits for running and healthy containers.
    type: int
    default: 300
attributes:
  check_mode:
    support: full
  diff_mode:
    support: partial
    details: the content of each changed file of I(files) (a secret file's never)
author:
  - Alorig platform contributors
"""

EXAMPLES = r"""
- name: Start the shared services and wait until they are healthy
  alorig.platform.compose_state:
    project: alorig_infra
    compose_dir: /opt/alorig/compose
    compose_file: docker-compose.infra.yml
    compose: "{{ lookup('ansible.builtin.template', 'docker-compose.infra.yml.j2') | from_yaml }}"
    digest: "{{ __files | to_json | hash('sha256') }}"
    record: /opt/alorig/compose/.alorig_infra.applied
"""

RETURN = r"""
actions:
  description: What the run did (or, in check mode, would do), in order.
  returned: always
  type: list
  elements: str
recreated:
  description: >-
    Containers that are new, re-created or restarted after this run (they read their
    configuration files when they start). In check mode, when the files changed, every
    declared container: which ones compose re-creates is known after the start only.
  returned: always
  type: list
  elements: str
started:
  description: Whether C(docker compose up) ran (or would run).
  returned: always
  type: bool
changed_paths:
  description: The paths of I(files) that were (or in check mode would be) changed.
  returned: always
  type: list
  elements: str
units_show:
  description: As returned by M(alorig.platform.config_files), for O(units).
  returned: when O(units) is given
  type: str
"""

import json

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.alorig.platform.plugins.module_utils.app_state import unready
from ansible_collections.alorig.platform.plugins.module_utils.atomic import write_atomic
from ansible_collections.alorig.platform.plugins.module_utils.config_files import (
    FILE_OPTIONS, converge_files,
)
from ansible_collections.alorig.platform.plugins.module_utils.docker_reads import DockerReads
from ansible_collections.alorig.platform.plugins.module_utils.compose_state import (
    CREATE, NONE, RECREATE, START, UNPAUSE, config_hashes, container_name, plan,
)


class ComposeState(object):
    def __init__(self, module, actions=None):
        self.module = module
        self.p = module.params
        self.docker = module.get_bin_path("docker", required=True)
        # the files' actions (option files) come first
        self.actions = list(actions or [])
        self.files_actions = len(self.actions)
        self.reads = DockerReads(lambda args: self.run(args, check=False))

    def run(self, args, check=True, cwd=None):
        rc, out, err = self.module.run_command([self.docker] + args, cwd=cwd)
        if check and rc != 0:
            self.fail("docker %s failed (rc %d): %s" % (" ".join(args[:3]), rc,
                                                        (err or out).strip()[-800:]))
        return rc, out, err

    def fail(self, msg):
        self.module.fail_json(msg="%s: %s" % (self.p["project"], msg), actions=self.actions)

    def containers(self):
        services = self.p["compose"].get("services") or {}
        names = [container_name(self.p["project"], k, s) for k, s in services.items()]
        listed = self.reads.project_containers(self.p["project"])
        # the declared names, and the project's other containers by id (orphans)
        return self.reads.inspect("container", names + [cid for name, cid in listed
                                                         if name not in names])

    def image_ids(self):
        """{declared reference: image id} of the declared images on the host (one call)."""
        services = self.p["compose"].get("services") or {}
        refs = sorted(set(s.get("image") for s in services.values() if s.get("image")))
        docs = self.reads.inspect("image", refs)
        ids = {}
        for ref in refs:
            tag = ref if ":" in ref.rsplit("/", 1)[-1] else ref + ":latest"
            for doc in docs:
                if tag in (doc.get("RepoTags") or []) or "docker.io/" + tag in (doc.get("RepoTags") or []):
                    ids[ref] = doc.get("Id")
            if ref not in ids and len(docs) == len(refs) == 1:
                ids[ref] = docs[0].get("Id")
        return ids

    def read_record(self):
        try:
            with open(self.p["record"]) as handle:
                return json.load(handle)
        except (IOError, OSError, ValueError):
            return None

    def write_record(self, containers):
        write_atomic(self.p["record"], json.dumps(
            {"digest": self.p["digest"],
             "config_hashes": config_hashes(self.p["project"], containers)},
            sort_keys=True) + "\n", 0o600)

    def converge(self):
        p = self.p
        before = self.containers()
        try:
            the_plan = plan(p["project"], p["compose"], before, self.image_ids(),
                            self.read_record(), p["digest"])
        except ValueError as error:
            self.fail("the compose file declares %s" % error)
        recreated = []
        for name, action, reason in the_plan["containers"]:
            if action != NONE:
                self.actions.append("%s %s (%s)" % (action, name, reason))
                if action in (CREATE, RECREATE, UNPAUSE):
                    recreated.append(name)
        for name in the_plan["orphans"]:
            self.actions.append("remove %s (no service declares it)" % name)
        started = bool(the_plan["orphans"] or the_plan["up"] or any(
            action in (CREATE, START, RECREATE) for _n, action, _r in the_plan["containers"]))
        if the_plan["up"]:
            self.actions.append("start the project %s (%s)" % (p["project"], the_plan["up"]))
        if self.module.check_mode and the_plan["up"]:
            # which containers compose re-creates for the changed files is known after
            # the start only: the plan counts every declared one
            recreated = [n for n, _a, _r in the_plan["containers"]]
        if self.module.check_mode or len(self.actions) == self.files_actions:
            return {"changed": bool(self.actions), "actions": self.actions,
                    "recreated": recreated, "started": started}
        present = dict((c.get("Name", "").lstrip("/"), c) for c in before)
        for name, action, _reason in the_plan["containers"]:
            if action == UNPAUSE:
                # Restarted after: Docker keeps the health status reached while paused
                # until a later check, which `compose up --wait` may not see in time.
                self.run(["unpause", name])
                self.run(["restart", "-t", "10", name])
            elif action == RECREATE and name in present:
                self.run(["rm", "-f", name])
        if started:
            args = ["compose", "-p", p["project"], "-f", p["compose_file"], "up", "-d",
                    "--remove-orphans", "--wait", "--wait-timeout", str(p["wait_timeout"])]
            rc, out, err = self.run(args, check=False, cwd=p["compose_dir"])
            if rc != 0:
                problems = unready(self.containers())
                self.fail("docker compose up did not bring every container up and healthy "
                          "within %d s (%s): %s" % (p["wait_timeout"],
                                                    ", ".join(problems) or "see the output",
                                                    (err or out).strip()[-800:]))
        after = self.containers()
        self.write_record(after)
        before_ids = dict((n, c.get("Id")) for n, c in present.items())
        for info in after:
            name = info.get("Name", "").lstrip("/")
            if before_ids.get(name) != info.get("Id") and name not in recreated:
                recreated.append(name)
        return {"changed": True, "actions": self.actions, "recreated": sorted(recreated),
                "started": started}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            files=dict(type="list", elements="dict", default=[], options=FILE_OPTIONS),
            units=dict(type="list", elements="str", default=[]),
            project=dict(type="str", required=True),
            compose_dir=dict(type="path", required=True),
            compose_file=dict(type="str", required=True),
            compose=dict(type="dict", required=True),
            digest=dict(type="str", required=True, no_log=False),
            record=dict(type="path", required=True),
            wait_timeout=dict(type="int", default=300),
        ),
        supports_check_mode=True,
    )
    files = converge_files(module, module.params["files"], module.params["units"])
    result = ComposeState(module, files["actions"]).converge()
    result["changed"] = result["changed"] or files["changed"]
    result["changed_paths"] = files["changed_paths"]
    for key in ("diff", "units_show"):
        if key in files:
            result[key] = files[key]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
