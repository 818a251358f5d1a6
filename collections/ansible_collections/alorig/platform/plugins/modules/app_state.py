#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Alorig platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: app_state
short_description: Converge the Alorig apps of a host in one round trip
description:
  - Compares everything each app declares with what is on the host, in one execution on
    the host for every app given, and does only the work that differs, app by app, in the
    order below. One app that cannot be converged does not stop the others.
  - Its directories, Docker volumes and image tags are created; leftover one-shot or
    candidate containers of an earlier run are removed.
  - A new release (another image than the recorded one, or O(force_release)) runs the
    migrations in a one-shot container, then, for an app already serving, gates the new
    image on the backend's health check beside the running release (C(<app>_candidate),
    no traffic). If the candidate is not healthy in time the module fails and nothing is
    switched.
  - The React build is exported into the directory Caddy serves when the release is new or
    the files differ from the manifest recorded at the last export.
  - The compose file and the env file are written when they differ (the env file holds the
    secrets, mode 0600, and is never shown).
  - Each container is compared with the declaration (existence, compose labels, image,
    memory limit, restart policy, network, published port, paused, exited, restarting,
    unhealthy). Paused ones are unpaused and restarted, drifted ones removed, and
    C(docker compose up --wait) creates, recreates and starts what is needed. Then the
    release is recorded.
  - On a host where nothing differs it only reads (a handful of C(docker) calls).
  - Secrets reach the one-shot containers through a temporary env file (mode 0600, removed
    afterwards), never a command line.
version_added: 1.1.0
options:
  apps:
    description:
      - The apps to converge, one after the other, each with the keys below. One app that
        fails (its migrations, its health gate, C(docker compose up)...) does not stop the
        others; the module fails at the end naming each app that failed and why.
      - C(name) (the app key; container names start with it), C(project) (compose project),
        C(compose_file) (file name in O(compose_dir)), C(compose_content) (the compose file;
        O(tag_placeholder) is replaced by the release tag), C(env_file) (file name in
        O(compose_dir)), C(env_header) (comment lines at the top of the env file),
        C(state_dir) (release record, frontend manifest).
      - C(directories) (path, owner, group, mode), C(volumes) (external named volumes),
        C(volume_labels), C(source_image) (the reference whose id names the release,
        C(<image>:<id[:12]>)), C(image_names) (each tagged with the release tag),
        C(services) (name, image_name, memory_mb, port).
      - C(force_release) (run the release steps and recreate every container even for the
        recorded image), C(migrate) (the one-shot release command, environment, volumes),
        C(gate) (the health gate of a new release, with service, command, environment,
        volumes, binds, memory_mb, healthcheck, timeout), C(export) (the frontend export,
        with dir, command, environment); empty dicts for none.
    type: list
    elements: dict
    required: true
  secret_envs:
    description: >-
      Each app's secret environment (DATABASE_URL, REDIS_URL, DJANGO_SECRET_KEY...) by app
      key: its env file, mode 0600, single-quoted values; never shown, never on a command
      line.
    type: dict
    required: true
  compose_dir:
    description: Directory of the compose and env files.
    type: path
    required: true
  network:
    description: The external network every container joins.
    type: str
    required: true
  restart_policy:
    description: The declared restart policy.
    type: str
    default: unless-stopped
  bind_address:
    description: Address published ports bind to.
    type: str
    default: 127.0.0.1
  wait_timeout:
    description: Seconds C(docker compose up --wait) waits for healthy containers.
    type: int
    default: 300
  tag_placeholder:
    description: The token of the compose contents replaced by the release tag.
    type: str
    default: __ALORIG_RELEASE_TAG__
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
author: Alorig platform contributors
"""

EXAMPLES = r"""
- name: Converge psydge
  alorig.platform.app_state:
    apps:
      - name: psydge
        project: alorig-psydge
        compose_file: docker-compose.psydge.yml
        compose_content: "{{ lookup('ansible.builtin.template', 'docker-compose.app.yml.j2') }}"
        env_file: psydge.env
        state_dir: /opt/alorig/apps/psydge
        source_image: alorig/reference-app:latest
        image_names: [psydge-backend]
        services:
          - {name: psydge_backend, image_name: psydge-backend, memory_mb: 597, port: 8012}
    secret_envs:
      psydge: "{{ alorig_app_secret_env.psydge }}"
    compose_dir: /opt/alorig/compose
    network: alorig_net
"""

RETURN = r"""
apps:
  description:
    - Per app key, in the order given. C(changed); C(actions), what the run did (or, in check
      mode, would do) for the app, in order; C(tag), the release tag (the first 12
      characters of the source image id); C(release), the recorded release before the run,
      this run's, and whether it is new; C(migrations), the migration and collectstatic
      lines of the release's one-shot run (when they ran); C(failed) and C(msg) for an app
      that could not be converged.
  returned: always
  type: dict
actions:
  description: Every app's actions, each prefixed with its app key.
  returned: always
  type: list
  elements: str
failed_apps:
  description: The keys of the apps that could not be converged.
  returned: always
  type: list
  elements: str
"""

import json
import os
import shutil
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.alorig.platform.plugins.module_utils.atomic import write_atomic
from ansible_collections.alorig.platform.plugins.module_utils.docker_reads import DockerReads
from ansible_collections.alorig.platform.plugins.module_utils.app_state import (
    CREATE, NONE, RECREATE, START, UNPAUSE,
    container_action, manifest_problem, migration_lines, tree_manifest, unready,
)

ONE_SHOTS = ("migrate", "export_frontend")


class AppFailed(Exception):
    """One app could not be converged (the module goes on with the others)."""


class AppState(object):
    def __init__(self, module, params, docker):
        self.module = module
        self.p = params
        self.docker = docker
        self.name = self.p["name"]
        self.actions = []
        self.diff = {"before": "", "after": "", "before_header": "", "after_header": ""}
        self.result = {}
        self.reads = DockerReads(lambda args: self.run(args, check=False))

    # -- helpers ----------------------------------------------------------------
    def run(self, args, check=True, data=None, cwd=None):
        rc, out, err = self.module.run_command([self.docker] + args, data=data, cwd=cwd,
                                               binary_data=data is not None)
        if check and rc != 0:
            self.fail("docker %s failed (rc %d): %s" % (" ".join(args[:3]), rc,
                                                        (err or out).strip()[-800:]))
        return rc, out, err

    def fail(self, msg):
        raise AppFailed(msg)

    def inspect(self, kind, names):
        if not names:
            return {}
        docs = self.reads.inspect(kind, names)
        found = {}
        for doc in docs:
            key = (doc.get("Name") or "").lstrip("/") if kind == "container" else None
            if kind == "volume":
                key = doc.get("Name")
            if kind == "image":
                for tag in doc.get("RepoTags") or []:
                    found[tag] = doc
                continue
            found[key] = doc
        return found

    @staticmethod
    def read(path):
        try:
            with open(path, "rb") as handle:
                return handle.read().decode("utf-8")
        except (IOError, OSError):
            return None

    def env_file_args(self, environment, tmpdir, name):
        """--env-file for the secrets plus the given plain environment (one 0600 file)."""
        path = os.path.join(tmpdir, "%s.env" % name)
        values = dict((k, str(v)) for k, v in (environment or {}).items())
        values.update(self.p["secret_env"])
        lines = ["%s=%s" % (key, values[key].replace("\n", " ")) for key in sorted(values)]
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write("\n".join(lines) + "\n")
        return ["--env-file", path]

    # -- what is there ----------------------------------------------------------
    def gather(self):
        p = self.p
        images = self.inspect("image", [p["source_image"]])
        source = images.get(p["source_image"])
        if source is None:
            _rc, out, _err = self.run(["image", "inspect", "--format", "{{.Id}}",
                                       p["source_image"]], check=False)
            if not out.strip():
                self.fail("image %s is not on the host (load it first: alorig_image_archives)"
                          % p["source_image"])
            source_id = out.strip()
        else:
            source_id = source["Id"]
        self.tag = source_id.split(":")[-1][:12]
        self.refs = ["%s:%s" % (n, self.tag) for n in p["image_names"]]
        self.this_release = self.refs[0]
        self.release_file = os.path.join(p["state_dir"], "release")
        self.previous = (self.read(self.release_file) or "").strip()
        self.new_release = p["force_release"] or self.previous != self.this_release
        self.present_tags = self.inspect("image", self.refs)
        self.volumes_present = self.inspect("volume", p["volumes"])
        declared = [s["name"] for s in p["services"]]
        extra = ["%s_%s" % (self.name, s) for s in ONE_SHOTS] + [self.candidate_name()]
        self.containers = self.inspect("container", declared + extra)
        self.project_containers = [n for n, _id in self.reads.project_containers(p["project"])]
        self.compose_path = os.path.join(p["compose_dir"], p["compose_file"])
        self.env_path = os.path.join(p["compose_dir"], p["env_file"])
        self.compose_content = p["compose_content"].replace(p["tag_placeholder"], self.tag)
        self.compose_before = self.read(self.compose_path)
        self.env_before = self.read(self.env_path)
        header = p["env_header"].rstrip("\n")
        self.env_content = (header + "\n" if header else "") + "".join(
            "%s='%s'\n" % (key, str(p["secret_env"][key])) for key in sorted(p["secret_env"]))
        bad = [k for k, v in p["secret_env"].items() if any(c in str(v) for c in "'\n\r")]
        if bad:
            self.fail("the secrets %s contain a single quote or a line break, which the env "
                      "file cannot hold: change them in the vault" % ", ".join(sorted(bad)))
        self.manifest_path = os.path.join(p["state_dir"], "frontend.json")

    def candidate_name(self):
        return "%s_candidate" % self.name

    # -- the plan ----------------------------------------------------------------
    def plan(self):
        p = self.p
        plan = {}
        plan["dirs"] = []
        for d in p["directories"]:
            path = d["path"]
            if not os.path.isdir(path):
                plan["dirs"].append(d)
                continue
            st = os.stat(path)
            uid, gid = self.ids(d)
            if st.st_uid != uid or st.st_gid != gid or (st.st_mode & 0o7777) != int(d["mode"], 8):
                plan["dirs"].append(d)
        for d in plan["dirs"]:
            self.actions.append("create or fix directory %s" % d["path"])
        plan["volumes"] = [v for v in p["volumes"] if v not in self.volumes_present]
        for v in plan["volumes"]:
            self.actions.append("create volume %s" % v)
        plan["tags"] = [r for r in self.refs if r not in self.present_tags]
        for r in plan["tags"]:
            self.actions.append("tag %s (from %s)" % (r, p["source_image"]))
        plan["leftovers"] = [n for n in ["%s_%s" % (self.name, s) for s in ONE_SHOTS]
                             + [self.candidate_name()] if n in self.containers]
        for n in plan["leftovers"]:
            self.actions.append("remove leftover container %s" % n)
        plan["migrate"] = bool(self.new_release and p["migrate"])
        if plan["migrate"]:
            self.actions.append("run the migrations and collectstatic of %s" % self.this_release)
        backend = p["gate"].get("service") if p["gate"] else None
        plan["gate"] = bool(self.new_release and backend and self.previous
                            and self.previous != self.this_release)
        if plan["gate"]:
            self.actions.append("health gate: %s beside the running %s"
                                % (self.this_release, self.previous))
        plan["export"] = None
        if p["export"]:
            manifest = None
            text = self.read(self.manifest_path)
            if text:
                try:
                    manifest = json.loads(text)
                except ValueError:
                    manifest = None
            problem = "new release" if self.new_release else manifest_problem(
                p["export"]["dir"], manifest, self.this_release)
            if problem:
                plan["export"] = problem
                self.actions.append("export the frontend to %s (%s)" % (p["export"]["dir"],
                                                                       problem))
        plan["compose"] = self.compose_before != self.compose_content
        if plan["compose"]:
            self.actions.append("write %s" % self.compose_path)
            self.diff = {"before": self.compose_before or "", "after": self.compose_content,
                         "before_header": self.compose_path, "after_header": self.compose_path}
        plan["env"] = self.env_before != self.env_content or self.env_mode_wrong()
        if plan["env"]:
            self.actions.append("write %s (secrets, not shown)" % self.env_path)
        plan["containers"] = []
        for service in p["services"]:
            declared = {"name": service["name"], "image": "%s:%s" % (service["image_name"], self.tag),
                        "memory_mb": int(service["memory_mb"]),
                        "restart_policy": p["restart_policy"], "network": p["network"],
                        "port": service.get("port"), "bind_address": p["bind_address"]}
            action, reason = container_action(declared, self.containers.get(service["name"]),
                                              p["project"])
            if p["force_release"] and action in (NONE, START, UNPAUSE):
                action, reason = RECREATE, "forced release"
            if action != NONE:
                plan["containers"].append((service["name"], action, reason))
                self.actions.append("%s %s (%s)" % (action, service["name"], reason))
        declared_names = set(s["name"] for s in p["services"])
        plan["orphans"] = [n for n in self.project_containers if n not in declared_names]
        for n in plan["orphans"]:
            self.actions.append("remove orphan container %s" % n)
        plan["record"] = self.previous != self.this_release
        if plan["record"]:
            self.actions.append("record release %s" % self.this_release)
        return plan

    def env_mode_wrong(self):
        try:
            st = os.stat(self.env_path)
        except OSError:
            return False
        return (st.st_mode & 0o777) != 0o600 or st.st_uid != 0

    @staticmethod
    def ids(d):
        import grp
        import pwd
        owner, group = str(d.get("owner", "root")), str(d.get("group", "root"))
        uid = int(owner) if owner.isdigit() else pwd.getpwnam(owner).pw_uid
        gid = int(group) if group.isdigit() else grp.getgrnam(group).gr_gid
        return uid, gid

    # -- doing it -----------------------------------------------------------------
    def apply(self, plan):
        p = self.p
        for d in plan["dirs"]:
            if not os.path.isdir(d["path"]):
                os.makedirs(d["path"])
            uid, gid = self.ids(d)
            os.chown(d["path"], uid, gid)
            os.chmod(d["path"], int(d["mode"], 8))
        for v in plan["volumes"]:
            args = ["volume", "create"]
            for key, value in sorted(p["volume_labels"].items()):
                args += ["--label", "%s=%s" % (key, value)]
            self.run(args + [v])
        for ref in plan["tags"]:
            self.run(["tag", p["source_image"], ref])
        for name in plan["leftovers"]:
            self.run(["rm", "-f", name])
        tmpdir = tempfile.mkdtemp(prefix="alorig-app-")
        try:
            os.chmod(tmpdir, 0o700)
            if plan["migrate"]:
                self.migrate(tmpdir)
            if plan["gate"]:
                self.gate(tmpdir)
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)
        if plan["export"]:
            self.export()
        if plan["env"]:
            write_atomic(self.env_path, self.env_content, 0o600)
        if plan["compose"]:
            write_atomic(self.compose_path, self.compose_content, 0o600)
        self.converge_containers(plan)
        if plan["record"]:
            write_atomic(self.release_file, self.this_release + "\n", 0o644)

    def migrate(self, tmpdir):
        m = self.p["migrate"]
        name = "%s_migrate" % self.name
        args = ["run", "--rm", "--name", name, "--network", self.p["network"]]
        args += self.env_file_args(m.get("environment"), tmpdir, "migrate")
        for volume in m.get("volumes") or []:
            args += ["-v", volume]
        args += [self.this_release] + list(m["command"])
        rc, out, err = self.run(args, check=False)
        self.result["migrations"] = migration_lines(out + "\n" + err)
        if rc != 0:
            self.run(["rm", "-f", name], check=False)
            self.fail("the migrations of %s failed (rc %d): %s"
                      % (self.this_release, rc, (err or out).strip()[-1500:]))

    def gate(self, tmpdir):
        g = self.p["gate"]
        name = self.candidate_name()
        timeout = int(g.get("timeout", 120))
        health = g["healthcheck"]
        args = ["run", "-d", "--name", name, "--network", self.p["network"],
                "--memory", "%dm" % int(g["memory_mb"]), "--restart", "no",
                "--health-cmd", health[1] if health[0] == "CMD-SHELL" else _shell_join(health[1:]),
                "--health-interval", "2s", "--health-timeout", "5s", "--health-retries", "3",
                "--health-start-period", "%ds" % timeout]
        args += self.env_file_args(g.get("environment"), tmpdir, "gate")
        for volume in (g.get("volumes") or []) + (g.get("binds") or []):
            args += ["-v", volume]
        args += ["%s:%s" % (g["image_name"], self.tag)] + list(g["command"])
        self.run(args)
        deadline = time.time() + timeout + 30
        state = {}
        while time.time() < deadline:
            info = self.inspect("container", [name]).get(name) or {}
            state = info.get("State") or {}
            status = (state.get("Health") or {}).get("Status", "")
            if status != "starting" or not state.get("Running"):
                break
            time.sleep(2)
        healthy = (state.get("Health") or {}).get("Status") == "healthy"
        if healthy:
            self.run(["rm", "-f", name])
            return
        self.run(["stop", "-t", "5", name], check=False)
        log = ((state.get("Health") or {}).get("Log") or [{}])[-1].get("Output", "none")
        how = ("exited with %s" % state.get("ExitCode")) if not state.get("Running") else \
            ((state.get("Health") or {}).get("Status") or "no health status")
        self.fail("the new release %s did not become healthy within %d s (%s; last health "
                  "check: %s). Nothing was switched: %s keeps serving. Its logs: docker logs %s."
                  % (self.this_release, timeout, how, str(log).strip()[:300], self.previous, name))

    def export(self):
        e = self.p["export"]
        directory = e["dir"]
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        for entry in os.listdir(directory):
            path = os.path.join(directory, entry)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
        name = "%s_export_frontend" % self.name
        args = ["run", "--rm", "--name", name, "--user", "0:0", "--network", "none"]
        for key in sorted(e.get("environment") or {}):
            args += ["-e", "%s=%s" % (key, e["environment"][key])]
        args += ["-v", "%s:/export" % directory, self.this_release] + list(e["command"])
        rc, out, err = self.run(args, check=False)
        if rc != 0:
            self.fail("the frontend export failed (rc %d): %s" % (rc, (err or out).strip()[-800:]))
        manifest = {"release": self.this_release, "files": tree_manifest(directory)}
        write_atomic(self.manifest_path, json.dumps(manifest, indent=1, sort_keys=True) + "\n", 0o644)

    def converge_containers(self, plan):
        p = self.p
        changes = plan["containers"]
        for name, action, _reason in changes:
            if action == UNPAUSE:
                # Restarted after: a container paused for a while has stale broker
                # and database connections, and Docker keeps the health status it
                # reached while paused (unhealthy) until a later check, which
                # `compose up --wait` may not see in time. A restart resets both.
                self.run(["unpause", name])
                self.run(["restart", "-t", "10", name])
            elif action == RECREATE and name in self.containers:
                self.run(["rm", "-f", name])
        needs_up = plan["compose"] or plan["env"] or plan["orphans"] or any(
            action in (CREATE, START, RECREATE) for _n, action, _r in changes)
        if not needs_up:
            return
        args = ["compose", "-p", p["project"], "-f", p["compose_file"], "up", "-d",
                "--remove-orphans", "--wait", "--wait-timeout", str(p["wait_timeout"])]
        rc, out, err = self.run(args, check=False, cwd=p["compose_dir"])
        if rc != 0:
            problems = unready(self.inspect("container", [s["name"] for s in p["services"]]).values())
            self.fail("docker compose up did not bring every container up and healthy within "
                      "%d s (%s): %s" % (p["wait_timeout"], ", ".join(problems) or "see the output",
                                         (err or out).strip()[-800:]))


def _shell_join(words):
    """A shell command line for docker's --health-cmd (CMD-SHELL) from an argv list."""
    import shlex
    return " ".join(shlex.quote(w) for w in words)


# Each entry of O(apps), checked and completed (types, defaults) by AnsibleModule.
APP_OPTIONS = dict(
    name=dict(type="str", required=True),
    project=dict(type="str", required=True),
    compose_file=dict(type="str", required=True),
    compose_content=dict(type="str", required=True),
    env_file=dict(type="str", required=True),
    env_header=dict(type="str", default=""),
    state_dir=dict(type="path", required=True),
    directories=dict(type="list", elements="dict", default=[]),
    volumes=dict(type="list", elements="str", default=[]),
    volume_labels=dict(type="dict", default={}),
    source_image=dict(type="str", required=True),
    image_names=dict(type="list", elements="str", required=True),
    services=dict(type="list", elements="dict", required=True),
    force_release=dict(type="bool", default=False),
    migrate=dict(type="dict", default={}),
    gate=dict(type="dict", default={}),
    export=dict(type="dict", default={}),
)
SHARED = ("compose_dir", "network", "restart_policy", "bind_address", "wait_timeout",
          "tag_placeholder")


def app_params(module, app):
    """One app's settings: its entry of O(apps), the shared options and its secrets."""
    params = dict(app)
    params.update((k, module.params[k]) for k in SHARED)
    params["secret_env"] = dict((k, str(v)) for k, v in
                                (module.params["secret_envs"].get(app["name"]) or {}).items())
    return params


def converge(module, app):
    """Plan (and outside check mode apply) one app: its part of the result."""
    app.gather()
    plan = app.plan()
    changed = bool(app.actions)
    if changed and not module.check_mode:
        app.apply(plan)
    result = dict(changed=changed, actions=app.actions, tag=app.tag,
                  release={"previous": app.previous, "this": app.this_release,
                           "new": app.new_release})
    result.update(app.result)
    return result, (app.diff if module._diff and plan["compose"] else None)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            apps=dict(type="list", elements="dict", required=True, options=APP_OPTIONS),
            secret_envs=dict(type="dict", required=True, no_log=True),
            compose_dir=dict(type="path", required=True),
            network=dict(type="str", required=True),
            restart_policy=dict(type="str", default="unless-stopped"),
            bind_address=dict(type="str", default="127.0.0.1"),
            wait_timeout=dict(type="int", default=300),
            tag_placeholder=dict(type="str", default="__ALORIG_RELEASE_TAG__"),
        ),
        supports_check_mode=True,
    )
    docker = module.get_bin_path("docker", required=True)
    params = [app_params(module, app) for app in module.params["apps"]]
    names = [p["name"] for p in params]
    if len(set(names)) != len(names):
        module.fail_json(msg="an app is given twice: %s" % ", ".join(names))
    apps, diffs, failures = {}, [], []
    for p in params:
        app = AppState(module, p, docker)
        try:
            apps[app.name], diff = converge(module, app)
            if diff:
                diffs.append(diff)
        except Exception as exc:  # one app's failure never stops the others
            msg = str(exc) if isinstance(exc, AppFailed) else "%s: %s" % (type(exc).__name__, exc)
            apps[app.name] = dict(failed=True, msg=msg, changed=bool(app.actions),
                                  actions=app.actions)
            apps[app.name].update(app.result)
            failures.append("%s: %s" % (app.name, msg))
    result = dict(changed=any(r["changed"] for r in apps.values()), apps=apps,
                  actions=["%s: %s" % (n, a) for n in names for a in apps[n]["actions"]],
                  failed_apps=[n for n in names if apps[n].get("failed")])
    if diffs:
        result["diff"] = diffs
    if failures:
        module.fail_json(msg="; ".join(failures), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
