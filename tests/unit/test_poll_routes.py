"""The migration scenario's poller (tests/molecule/poll_routes.py) against a local TLS server
that drops chosen connections: a connection closed or reset before any answer is retried
once and listed; a second drop, an error status or a timeout is a failure."""

import datetime
import json
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
POLLER = ROOT / "tests/molecule/poll_routes.py"


def self_signed(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "app.test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


class Server:
    """Answers each connection per ``plan``: 'ok' (200), 'close' (closed after the request,
    no answer), 'reset' (RST), 'error' (503); 'ok' once the plan is used up."""

    def __init__(self, tmp_path, plan):
        cert_file, key_file = self_signed(tmp_path)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert_file, key_file)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.plan = list(plan)
        self.seen = 0
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                raw, _ = self.sock.accept()
            except OSError:
                return
            what = self.plan.pop(0) if self.plan else "ok"
            self.seen += 1
            try:
                conn = self.context.wrap_socket(raw, server_side=True)
                conn.recv(4096)
                if what == "reset":
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    conn.close()
                    continue
                if what != "close":
                    status = "200 OK" if what == "ok" else "503 Service Unavailable"
                    conn.sendall(("HTTP/1.1 %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                                  % status).encode())
                conn.close()
            except (OSError, ssl.SSLError):
                pass


def poll(tmp_path, server):
    """Run the poller on one route until the server has answered every planned connection
    and one more, then stop it through its stop file; returns its report."""
    stop, out = tmp_path / "stop", tmp_path / "out.json"
    # the poller always connects to port 443: point it at the test server's port
    code = ("import runpy, socket, sys\n"
            "real = socket.create_connection\n"
            "socket.create_connection = lambda addr, timeout=None: real((addr[0], %d), timeout)\n"
            "sys.argv = sys.argv[1:]\n"
            "runpy.run_path(sys.argv[0], run_name='__main__')\n" % server.port)
    wanted = len(server.plan) + 1
    proc = subprocess.Popen([sys.executable, "-c", code, str(POLLER), "--address", "127.0.0.1",
                             "--route", "app.test/", "--stop-file", str(stop), "--out", str(out),
                             "--interval", "0.1", "--timeout", "3"])
    try:
        for _ in range(100):
            if server.seen >= wanted:
                break
            time.sleep(0.1)
        stop.write_text("")
        proc.wait(timeout=20)
    finally:
        proc.kill()
    return json.loads(out.read_text())


@pytest.mark.parametrize("plan,retried,failed", [
    (["close"], 1, 0),
    (["reset"], 1, 0),
    (["close", "close"], 1, 1),
    (["error"], 0, 1),
    ([], 0, 0),
])
def test_a_dropped_connection_is_retried_once(tmp_path, plan, retried, failed):
    server = Server(tmp_path, plan)
    result = poll(tmp_path, server)
    assert len(result["retried"]) == retried, result
    assert len(result["failed"]) == failed, result
    assert result["requests"] >= 1
    if failed and plan[0] == "error":
        assert result["failed"][0]["error"] == "HTTP 503"
    if retried:
        assert result["retried"][0]["route"] == "app.test/"
        assert "Dropped" in result["retried"][0]["error"] or "Reset" in result["retried"][0]["error"]
