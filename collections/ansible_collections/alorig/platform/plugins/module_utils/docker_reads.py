# -*- coding: utf-8 -*-
# Copyright: Alorig platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only questions to the Docker daemon for the collection's modules.

``docker inspect`` and ``docker ps`` start the docker CLI, about 50 ms each on the VPS;
the same documents come from the daemon's API on its socket in about a millisecond. The
modules ask here; a daemon reached otherwise (no socket at the usual path, DOCKER_HOST set)
is asked through the CLI, with the same answers. Everything that changes state still goes
through the docker CLI.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import socket

try:
    from http.client import HTTPConnection
    from urllib.parse import quote
except ImportError:  # pragma: no cover - Python 2 is not a target
    from httplib import HTTPConnection
    from urllib import quote

SOCKET = "/var/run/docker.sock"
_PATHS = {"container": "/containers/%s/json", "image": "/images/%s/json", "volume": "/volumes/%s"}


class _UnixConnection(HTTPConnection):
    def __init__(self, path, timeout=30):
        HTTPConnection.__init__(self, "localhost", timeout=timeout)
        self.socket_path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock


class DockerReads(object):
    """inspect(kind, names) and project_containers(project), by the API or the CLI."""

    def __init__(self, run_cli, socket_path=SOCKET):
        # run_cli(args) -> (rc, out, err): the module's docker CLI runner
        self.run_cli = run_cli
        self.socket_path = socket_path
        self.api = (not os.environ.get("DOCKER_HOST")) and os.path.exists(socket_path)

    def _get(self, path):
        conn = _UnixConnection(self.socket_path)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
            return response.status, body
        finally:
            conn.close()

    def _api_or_cli(self, api_call, cli_call):
        if self.api:
            try:
                return api_call()
            except (OSError, IOError, ValueError, socket.error):
                self.api = False
        return cli_call()

    def inspect(self, kind, names):
        """The inspect documents of the names that exist (missing ones are left out)."""
        names = [n for n in names if n]
        if not names:
            return []

        def api():
            docs = []
            for name in names:
                status, body = self._get(_PATHS[kind] % quote(name, safe="/:@"))
                if status == 200:
                    docs.append(json.loads(body.decode("utf-8")))
                elif status != 404:
                    raise ValueError("docker API %s %s: %d" % (kind, name, status))
            return docs

        def cli():
            _rc, out, _err = self.run_cli([kind, "inspect"] + list(names))
            try:
                return json.loads(out or "[]") or []
            except ValueError:
                return []

        return self._api_or_cli(api, cli)

    def project_containers(self, project):
        """[(name, id)] of every container (running or not) of a compose project."""
        label = "com.docker.compose.project=%s" % project

        def api():
            filters = quote(json.dumps({"label": [label]}))
            status, body = self._get("/containers/json?all=1&filters=%s" % filters)
            if status != 200:
                raise ValueError("docker API containers: %d" % status)
            return [((c.get("Names") or ["/"])[0].lstrip("/"), c.get("Id"))
                    for c in json.loads(body.decode("utf-8"))]

        def cli():
            _rc, out, _err = self.run_cli(["ps", "-a", "--no-trunc", "--filter", "label=" + label,
                                           "--format", "{{.Names}} {{.ID}}"])
            return [tuple(line.split(" ", 1)) for line in out.splitlines() if " " in line]

        return self._api_or_cli(api, cli)
