#!/usr/bin/python3
"""Stand-in for portainer/portainer-ce:2.21.5 in the Alorig test harness.

NOT Portainer. It answers the few endpoints a deployment role checks:
  GET  /                       HTML page
  GET  /api/system/status      {"Version": "2.21.5-standin", "InstanceID": ...}
  GET  /api/users/admin/check  204 when an admin exists, 404 otherwise
  POST /api/users/admin/init   {"Username", "Password"} -> 200 once, 409 afterwards
  POST /api/auth               {"Username", "Password"} -> {"jwt": ...} or 422
Listens on :9000 (HTTP) and :9443 (HTTPS, self-signed). Accepts and mostly ignores the
real binary's flags; --admin-password-file / --admin-password (bcrypt in the real one,
plain text here) pre-create the admin user. State lives in /data/standin.json.
"""
import hashlib
import json
import os
import secrets
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = "2.21.5-standin"
DATA = os.environ.get("PORTAINER_STANDIN_DATA", "/data")
STATE = os.path.join(DATA, "standin.json")
LOCK = threading.Lock()


def load():
    try:
        with open(STATE, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return {}


def save(state):
    tmp = STATE + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(state, fh)
    os.replace(tmp, STATE)


def digest(password):
    return hashlib.sha256(password.encode()).hexdigest()


def init_state(admin_password=None):
    with LOCK:
        state = load()
        state.setdefault("instance_id", secrets.token_hex(16))
        if admin_password is not None and "admin" not in state:
            state["admin"] = {"Username": "admin", "Password": digest(admin_password)}
        save(state)


PAGE = (b"<!DOCTYPE html><html><head><title>Portainer</title></head><body>"
        b"<h1>Portainer CE 2.21.5 (stand-in)</h1>"
        b"<p>Alorig test harness stand-in, not the real Portainer.</p></body></html>")


class Handler(BaseHTTPRequestHandler):
    server_version = "portainer-standin/" + VERSION

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    def send(self, code, body=b"", ctype="application/json"):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        self.send_response(code)
        if body:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        try:
            return json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return None

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path in ("/", "/index.html"):
            self.send(200, PAGE, "text/html; charset=utf-8")
        elif path == "/api/system/status":
            self.send(200, {"Version": VERSION, "InstanceID": load().get("instance_id", "")})
        elif path == "/api/status":
            self.send(200, {"Version": VERSION})
        elif path == "/api/users/admin/check":
            self.send(204 if "admin" in load() else 404)
        else:
            self.send(404, {"message": "Not found", "details": path})

    def do_POST(self):
        path = self.path.split("?", 1)[0]
        data = self.body()
        if data is None or not isinstance(data, dict):
            self.send(400, {"message": "Invalid request payload"})
            return
        user, password = data.get("Username") or data.get("username"), data.get("Password") or data.get("password")
        if path == "/api/users/admin/init":
            with LOCK:
                state = load()
                if "admin" in state:
                    self.send(409, {"message": "Unable to create administrator user",
                                    "details": "An administrator user already exists"})
                    return
                if not user or not password or len(password) < 12:
                    self.send(400, {"message": "Invalid request payload",
                                    "details": "Password must be at least 12 characters"})
                    return
                state["admin"] = {"Username": user, "Password": digest(password)}
                save(state)
            self.send(200, {"Id": 1, "Username": user, "Role": 1})
        elif path == "/api/auth":
            admin = load().get("admin")
            if admin and user == admin["Username"] and password and digest(password) == admin["Password"]:
                self.send(200, {"jwt": secrets.token_urlsafe(32)})
            else:
                self.send(422, {"message": "Invalid credentials"})
        else:
            self.send(404, {"message": "Not found", "details": path})


def serve(server):
    server.serve_forever()


def main(argv):
    admin_password = None
    it = iter(argv)
    for arg in it:
        if arg.startswith("--admin-password-file"):
            fname = arg.split("=", 1)[1] if "=" in arg else next(it, "")
            with open(fname, encoding="utf-8") as fh:
                admin_password = fh.read().strip()
        elif arg.startswith("--admin-password"):
            admin_password = arg.split("=", 1)[1] if "=" in arg else next(it, "")
        elif arg in ("--version", "-v"):
            print(VERSION)
            return 0
    os.makedirs(DATA, exist_ok=True)
    init_state(admin_password)
    http = ThreadingHTTPServer(("0.0.0.0", 9000), Handler)
    https = ThreadingHTTPServer(("0.0.0.0", 9443), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.environ.get("PORTAINER_STANDIN_CERT", "/certs/cert.pem"),
                        os.environ.get("PORTAINER_STANDIN_KEY", "/certs/key.pem"))
    https.socket = ctx.wrap_socket(https.socket, server_side=True)
    sys.stderr.write("portainer stand-in %s listening on :9000 (http) and :9443 (https)\n" % VERSION)
    threading.Thread(target=serve, args=(https,), daemon=True).start()
    try:
        serve(http)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
