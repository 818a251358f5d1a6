"""The host baseline (roles/host_baseline) seen from inside and from outside the VPS.

Outside = a second container on an outer network this module creates (IPv4 + IPv6) and
connects the VPS to, and the control node's ssh client over that network. Traffic goes only
to the VPS container and containers this module starts. Runs after converge, idempotence,
the side effect (firewall table flushed by hand, refused lockout), converge, idempotence.
"""

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

VPS = "alorig-molecule-default"
OUTER_NET = "alorig-molecule-default-outer"
OUTER_V6_SUBNET = "fd42:a10:de:f::/64"
# Explicit, outside Docker's default pools (172.17-31/16, 192.168/16): the VPS's own
# Docker daemon allocates from those pools inside the VPS, and an outer network on the
# same subnet cannot be connected to the VPS (its route already exists there).
OUTER_V4_SUBNET = "10.213.42.0/24"
PROBE_IMAGE = "alorig-base:bookworm"
KEY = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent")) / "ssh" / "id_ed25519"
# A container started by hand inside the VPS, published on every address (both the
# explicit 0.0.0.0 form and the default form, which also binds [::]).
HAND_CONTAINER = "alorig_test_published"
HAND_PORTS = [18080, 18081]
OPEN = [22, 80, 443]
CLOSED = HAND_PORTS + [5432, 6379, 9443, 2019, 8000]


def docker(*args, check=True, timeout=120):
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def probe(script, *opts, image=PROBE_IMAGE):
    """Run a bash script in a throwaway container on the outer network."""
    return docker("run", "--rm", "--network", OUTER_NET, *opts, image, "bash", "-c", script).stdout


def scan(addresses, ports):
    script = "; ".join(
        f'if timeout 3 bash -c "exec 3<>/dev/tcp/{a}/{p}" 2>/dev/null; '
        f'then echo "{a} {p} open"; else echo "{a} {p} closed"; fi'
        for a in addresses for p in ports)
    view = {}
    for line in probe(script).splitlines():
        addr, port, state = line.split()
        view[(addr, int(port))] = state
    return view


@pytest.fixture(scope="module")
def outer():
    """The VPS on an outer IPv4+IPv6 network: {'v4': address, 'v6': address}."""
    docker("network", "disconnect", "-f", OUTER_NET, VPS, check=False)
    docker("network", "rm", OUTER_NET, check=False)
    docker("network", "create", "--subnet", OUTER_V4_SUBNET, "--ipv6", "--subnet", OUTER_V6_SUBNET, OUTER_NET)
    try:
        docker("network", "connect", OUTER_NET, VPS)
        net = json.loads(docker("inspect", VPS).stdout)[0]["NetworkSettings"]["Networks"][OUTER_NET]
        assert net["IPAddress"] and net["GlobalIPv6Address"]
        yield {"v4": net["IPAddress"], "v6": net["GlobalIPv6Address"]}
    finally:
        docker("network", "disconnect", "-f", OUTER_NET, VPS, check=False)
        docker("network", "rm", OUTER_NET, check=False)


@pytest.fixture(scope="module")
def hand_container(host):
    """A container started by hand in the VPS, answering on its published ports inside."""
    host.run(f"docker rm -f {HAND_CONTAINER}")
    host.check_output(
        f"docker run -d --name {HAND_CONTAINER} -p 0.0.0.0:{HAND_PORTS[0]}:80 -p {HAND_PORTS[1]}:80 caddy:2")
    try:
        deadline = time.monotonic() + 60
        codes = []
        while time.monotonic() < deadline:
            codes = [host.run(f"curl -s -o /dev/null -w '%{{http_code}}' http://127.0.0.1:{p}/").stdout
                     for p in HAND_PORTS]
            if codes == ["200", "200"]:
                break
            time.sleep(1)
        assert codes == ["200", "200"], f"the hand-started container does not answer inside the VPS: {codes}"
        # Published on every public address, as Docker records it (`docker port`
        # lists the bindings whether a proxy socket or only DNAT serves them).
        published = host.check_output(f"docker port {HAND_CONTAINER}")
        assert f"0.0.0.0:{HAND_PORTS[0]}" in published and f":{HAND_PORTS[1]}" in published, published
        yield json.loads(host.check_output(f"docker inspect {HAND_CONTAINER}"))[0]
    finally:
        host.run(f"docker rm -f {HAND_CONTAINER}")


@pytest.fixture(scope="module")
def outside_view(host, outer, hand_container):
    """Which ports answer from outside, after the firewall service was restarted (which
    must reload only its own table and leave Docker's rules in place)."""
    host.check_output("systemctl restart nftables")
    return scan([outer["v4"], outer["v6"]], OPEN + CLOSED)


# ------------------------------------------------------------------ firewall

def test_firewall_restart_keeps_dockers_tables(host, outside_view):
    tables = host.check_output("nft list tables").splitlines()
    assert "table inet alorig_host" in tables
    assert "table ip nat" in tables and "table ip filter" in tables
    assert "DOCKER" in host.check_output("nft list table ip nat")


@pytest.mark.parametrize("family", ["v4", "v6"])
@pytest.mark.parametrize("port", OPEN)
def test_outside_reaches_ssh_and_caddy(outer, outside_view, family, port):
    assert outside_view[(outer[family], port)] == "open"


@pytest.mark.parametrize("family", ["v4", "v6"])
@pytest.mark.parametrize("port", CLOSED)
def test_outside_reaches_nothing_else(outer, outside_view, family, port):
    assert outside_view[(outer[family], port)] == "closed"


@pytest.mark.parametrize("family", ["v4", "v6"])
def test_caddy_answers_http_from_outside(outer, outside_view, family):
    addr = outer[family]
    out = probe(f'exec 3<>/dev/tcp/{addr}/80; printf "HEAD / HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n" >&3; '
                f'timeout 5 head -n 1 <&3')
    assert out.startswith("HTTP/1."), out


def test_route_straight_to_a_container_is_dropped(outer, hand_container):
    """A neighbour routing the container network through the VPS reaches nothing."""
    ip = next(iter(hand_container["NetworkSettings"]["Networks"].values()))["IPAddress"]
    out = probe(f'ip route add {ip}/32 via {outer["v4"]} && '
                f'if timeout 3 bash -c "exec 3<>/dev/tcp/{ip}/80" 2>/dev/null; then echo open; else echo closed; fi',
                "--cap-add", "NET_ADMIN", image="alorig-vps:trixie")
    assert out.strip() == "closed"


def test_new_ssh_connections_are_rate_limited(outer, outside_view):
    """30 quick connections from one address: the burst (20) passes, the rest is dropped."""
    addr = outer["v4"]
    out = probe("n=0; for i in $(seq 30); do "
                f'timeout 1 bash -c "exec 3<>/dev/tcp/{addr}/22" 2>/dev/null && n=$((n+1)); done; echo $n')
    assert 15 <= int(out) <= 24, out


def test_firewall_loaded_at_boot_and_stop_keeps_docker(host):
    assert host.service("nftables").is_enabled
    stop = host.check_output("systemctl show -p ExecStop nftables")
    assert "delete table inet alorig_host" in stop
    assert "flush ruleset" not in stop
    assert "flush ruleset" not in host.file("/etc/nftables.conf").content_string


# ------------------------------------------------------------------ SSH

def ssh(address, *opts, command="id -un", env=None):
    return subprocess.run(
        ["ssh", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
         "-o", "ConnectTimeout=10", "-v", *opts, f"root@{address}", command],
        capture_output=True, text=True, timeout=60, env=env, check=False)


@pytest.mark.parametrize("family", ["v4", "v6"])
def test_ssh_with_the_key_is_accepted(outer, family):
    res = ssh(outer[family], "-i", str(KEY), "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes")
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "root"


def test_ssh_with_a_password_is_refused(host, outer, tmp_path):
    # root gets a password, so a refusal is sshd's policy, not a missing password
    host.check_output("echo 'root:Alorig-test-password-1' | chpasswd")
    askpass = tmp_path / "askpass"
    askpass.write_text("#!/bin/sh\necho Alorig-test-password-1\n")
    askpass.chmod(0o700)
    env = dict(os.environ, SSH_ASKPASS=str(askpass), SSH_ASKPASS_REQUIRE="force", DISPLAY=":0")
    res = ssh(outer["v4"], "-o", "PubkeyAuthentication=no",
              "-o", "PreferredAuthentications=password,keyboard-interactive", env=env)
    assert res.returncode != 0
    assert "Authentications that can continue: publickey\n" in res.stderr
    assert "Permission denied (publickey)" in res.stderr


def test_sshd_effective_settings(host):
    conf = dict(line.split(" ", 1) for line in host.check_output("sshd -T").splitlines() if " " in line)
    assert conf["passwordauthentication"] == "no"
    assert conf["kbdinteractiveauthentication"] == "no"
    assert conf["permitrootlogin"] == "without-password"
    assert conf["x11forwarding"] == "no"
    assert conf["allowtcpforwarding"] == "local"
    assert not [c for c in conf["ciphers"].split(",") if "cbc" in c]
    assert all("etm" in m for m in conf["macs"].split(","))
    assert "ssh-rsa" not in conf["pubkeyacceptedalgorithms"].split(",")


# ------------------------------------------------------------------ updates, journal, time, kernel

def test_unattended_upgrades_security_only_without_reboot(host):
    dump = host.check_output("apt-config dump Unattended-Upgrade")
    assert 'Unattended-Upgrade::Automatic-Reboot "false";' in dump
    origins = [line for line in dump.splitlines() if line.startswith("Unattended-Upgrade::Origins-Pattern:: ")]
    assert len(origins) == 2 and all("Debian-Security" in o for o in origins)
    periodic = host.check_output("apt-config dump APT::Periodic")
    assert 'APT::Periodic::Unattended-Upgrade "1";' in periodic
    for timer in ("apt-daily.timer", "apt-daily-upgrade.timer"):
        assert host.service(timer).is_enabled


def test_journal_is_capped(host):
    conf = host.check_output("systemd-analyze cat-config systemd/journald.conf")
    assert "SystemMaxUse=500M" in conf
    assert host.service("systemd-journald").is_running


def test_time_sync_enabled(host):
    # inside a container systemd skips it (the clock is the host's); enabled for a real VPS
    assert host.service("systemd-timesyncd").is_enabled


def test_network_sysctls_applied_kernel_wide_ones_left_to_the_host(host):
    assert host.check_output("sysctl -n net.ipv4.tcp_syncookies") == "1"
    assert host.check_output("sysctl -n net.ipv4.conf.all.accept_redirects") == "0"
    assert host.check_output("sysctl -n net.ipv4.conf.all.send_redirects") == "0"
    conf = host.file("/etc/sysctl.d/60-alorig-baseline.conf").content_string
    assert "net.ipv4.conf.all.accept_source_route" in conf
    assert "vm." not in conf and "kernel." not in conf
