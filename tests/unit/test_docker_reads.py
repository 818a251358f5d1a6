"""module_utils docker_reads: the modules' inspect and ps answers come from the Docker
API on its socket (a real HTTP server on a unix socket here), missing names are left out,
and without a socket the same questions go to the docker CLI."""

import json
import socketserver
import sys
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "collections"))

from ansible_collections.alorig.platform.plugins.module_utils.docker_reads import DockerReads  # noqa: E402

DOCS = {
    "/containers/alorig_redis/json": {"Id": "c1", "Name": "/alorig_redis"},
    "/images/alorig/reference-app:latest/json": {"Id": "sha256:ab", "RepoTags": ["alorig/reference-app:latest"]},
    "/volumes/igny8_media": {"Name": "igny8_media"},
}


class Handler(BaseHTTPRequestHandler):
    seen = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        url = urlparse(self.path)
        Handler.seen.append(unquote(url.path))
        if url.path == "/containers/json":
            query = parse_qs(url.query)
            filters = json.loads(query["filters"][0])
            body = [{"Names": ["/alorig_redis"], "Id": "c1"}] \
                if filters == {"label": ["com.docker.compose.project=alorig_infra"]} and query["all"] == ["1"] else []
            status = 200
        elif unquote(url.path) in DOCS:
            body, status = DOCS[unquote(url.path)], 200
        else:
            body, status = {"message": "No such object"}, 404
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def _server(path):
    server = socketserver.UnixStreamServer(str(path), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _no_cli(args):
    raise AssertionError("the CLI was asked: %s" % args)


def test_answers_come_from_the_api(tmp_path, monkeypatch):
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    sock = tmp_path / "docker.sock"
    server = _server(sock)
    try:
        reads = DockerReads(_no_cli, socket_path=str(sock))
        assert reads.inspect("container", ["alorig_redis", "alorig_gone"]) == [DOCS["/containers/alorig_redis/json"]]
        assert reads.inspect("image", ["alorig/reference-app:latest"])[0]["Id"] == "sha256:ab"
        assert reads.inspect("volume", ["igny8_media", "other"]) == [{"Name": "igny8_media"}]
        assert reads.project_containers("alorig_infra") == [("alorig_redis", "c1")]
        assert reads.inspect("container", []) == []
    finally:
        server.shutdown()
        server.server_close()
    assert "/containers/alorig_gone/json" in Handler.seen


def test_without_the_socket_the_cli_answers(tmp_path, monkeypatch):
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    calls = []

    def cli(args):
        calls.append(args)
        if args[0] == "ps":
            return 0, "alorig_redis c1\n", ""
        return 1, json.dumps([{"Id": "c1"}]), "Error: No such object: alorig_gone"

    reads = DockerReads(cli, socket_path=str(tmp_path / "absent.sock"))
    assert reads.inspect("container", ["alorig_redis", "alorig_gone"]) == [{"Id": "c1"}]
    assert reads.project_containers("alorig_infra") == [("alorig_redis", "c1")]
    assert calls[0] == ["container", "inspect", "alorig_redis", "alorig_gone"]
    assert calls[1][:5] == ["ps", "-a", "--no-trunc", "--filter", "label=com.docker.compose.project=alorig_infra"]


def test_docker_host_set_means_the_cli(tmp_path, monkeypatch):
    sock = tmp_path / "docker.sock"
    server = _server(sock)
    monkeypatch.setenv("DOCKER_HOST", "ssh://elsewhere")
    try:
        reads = DockerReads(lambda args: (0, "[]", ""), socket_path=str(sock))
        assert reads.api is False
        assert reads.inspect("container", ["alorig_redis"]) == []
    finally:
        server.shutdown()
        server.server_close()
