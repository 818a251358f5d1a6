"""Verify the Docker host that site.yml converged on a fresh VPS container."""

import json

import pytest

NETWORK = "alorig_net"
STANDIN_IMAGES = [
    "postgres:16",
    "redis:7",
    "caddy:2",
    "mher/flower:2.0",
    "portainer/portainer-ce:2.21.5",
    "alorig/reference-app:latest",
]


def test_docker_service_running_and_enabled(host):
    docker = host.service("docker")
    assert docker.is_running
    assert docker.is_enabled


def test_compose_v2_plugin(host):
    out = host.check_output("docker compose version --short")
    assert int(out.lstrip("v").split(".")[0]) >= 2


def test_daemon_json_rotates_logs_and_keeps_containers_alive(host):
    daemon = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert daemon["log-driver"] == "json-file"
    assert daemon["log-opts"]["max-size"] == "10m"
    assert daemon["log-opts"]["max-file"] == "5"
    assert daemon["live-restore"] is True
    info = json.loads(host.check_output("docker info --format '{{json .}}'"))
    assert info["LoggingDriver"] == "json-file"
    assert info["LiveRestoreEnabled"] is True


def test_shared_network_exists(host):
    net = json.loads(host.check_output(f"docker network inspect {NETWORK}"))[0]
    assert net["Driver"] == "bridge"
    assert net["Scope"] == "local"


def test_compose_directory(host):
    d = host.file("/opt/alorig/compose")
    assert d.is_directory
    assert d.user == "root"
    assert d.mode == 0o750


@pytest.mark.parametrize("image", STANDIN_IMAGES)
def test_images_loaded_from_archives(host, image):
    assert host.run(f"docker image inspect {image}").rc == 0


def test_nested_container_with_memory_limit_on_the_network(host):
    out = host.check_output(
        f"docker run --rm --network {NETWORK} -m 64m redis:7 redis-server --version"
    )
    assert "Redis server" in out
