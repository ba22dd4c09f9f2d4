"""Helpers for the service tests: a real `i2v serve` on loopback with a fresh
data directory, `i2v admin`, a local HTTP server that serves the photos (and
misbehaves on request), and a webhook receiver."""
import base64
import hashlib
import hmac
import http.server
import json
import os
import pathlib
import re
import signal
import socket
import sqlite3
import subprocess
import threading
import time
import urllib.parse

import requests

ROOT = pathlib.Path(__file__).resolve().parents[2]
PHOTOS = ROOT / "photos"


def free_port(host="127.0.0.1"):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Handler(http.server.BaseHTTPRequestHandler):
    """Serves photos/ and a few special paths:
    /redirect?to=URL   302 to URL
    /slow/S/NAME       NAME after S seconds
    /hook/<name>       webhook receiver: records the request; answers with the
                       next status from server.hook_plan[name] (default 200)
    Hostile ones, for the fetch limits:
    /endless           a body without Content-Length that never ends
    /liar/N/NAME       Content-Length N, then all of NAME
    /short/NAME        Content-Length twice NAME's size, NAME, then the
                       connection is held open (or closed: /short-close/NAME)
    /trickle           Content-Length 100000, then one byte a second
    /loop              a redirect to itself
    """
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        srv = self.server
        with srv.lock:
            srv.hits.append(self.path)
        u = urllib.parse.urlparse(self.path)
        if u.path == "/redirect":
            to = urllib.parse.parse_qs(u.query)["to"][0]
            self.send_response(302)
            self.send_header("Location", to)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        name = u.path.lstrip("/")
        if self.hostile(u.path, name):
            return
        if name.startswith("slow/"):  # slow/<seconds>/<name>: wait, then answer
            _, secs, name = name.split("/", 2)
            time.sleep(float(secs))
        path = PHOTOS / name
        if srv.extra_dir is not None and not path.is_file():
            path = srv.extra_dir / name
        if "/" in name or not path.is_file():
            body = b"not found"
            self.send_response(404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        data = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _head(self, status=200, length=None, extra=()):
        self.send_response(status)
        self.send_header("Content-Type", "image/jpeg")
        if length is not None:
            self.send_header("Content-Length", str(length))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()

    def hostile(self, path, name):
        """Answers the misbehaving paths; False for every other one."""
        deadline = time.monotonic() + 120
        try:
            if path == "/endless":
                self.close_connection = True
                self._head(extra=[("Connection", "close")])
                block = b"\xff" * 65536
                while time.monotonic() < deadline:
                    self.wfile.write(block)
            elif path == "/loop":
                self._head(302, 0, [("Location", path)])
            elif path == "/trickle":
                self._head(length=100000)
                while time.monotonic() < deadline:
                    self.wfile.write(b"\xff")
                    self.wfile.flush()
                    time.sleep(1)
            elif name.startswith("liar/"):
                _, n, photo = name.split("/", 2)
                self._head(length=int(n))
                self.wfile.write((PHOTOS / photo).read_bytes())
            elif name.startswith(("short/", "short-close/")):
                data = (PHOTOS / name.split("/", 1)[1]).read_bytes()
                self._head(length=2 * len(data))
                self.wfile.write(data)
                self.wfile.flush()
                if name.startswith("short/"):
                    time.sleep(60)
                self.close_connection = True
            else:
                return False
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        return True

    def do_POST(self):
        srv = self.server
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        name = self.path.split("/hook/", 1)[-1]
        with srv.lock:
            plan = srv.hook_plan.get(name, [])
            status = plan.pop(0) if plan else 200
            srv.hooks.append({"name": name, "headers": dict(self.headers), "body": body,
                              "status": status, "t": time.monotonic()})
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


class LocalServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host="127.0.0.1"):
        super().__init__((host, 0), Handler)
        self.lock = threading.Lock()
        self.hits = []
        self.hooks = []
        self.hook_plan = {}
        self.extra_dir = None  # a second folder to serve files from
        self.host = host
        self.port = self.server_address[1]
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return f"http://{self.host}:{self.port}/{path.lstrip('/')}"

    def close(self):
        self.shutdown()
        self.server_close()


class Service:
    """A running `i2v serve` on a fresh (or given) data directory."""

    def __init__(self, binary, data, extra=(), port=None, allow="127.0.0.1/32", backend=()):
        self.binary = binary
        self.data = pathlib.Path(data)
        self.backend = list(backend)  # --store/--blobs, for serve and admin alike
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.public = self.base  # where output links point
        self.streaming = self.base  # a server that streams outputs itself
        self.extra = list(extra)
        self.allow = allow
        self.proc = None
        self.log_path = self.data.parent / f"{self.data.name}-serve.log"

    def start(self):
        args = [self.binary, "serve", "--data", str(self.data), "--listen",
                f"127.0.0.1:{self.port}", "--fetch-allow", self.allow,
                "--webhook-retry", "0.3", "--poll", "0.2"] + self.backend + self.extra
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("i2v serve exited: " + self.log_text()[-2000:])
            try:
                if requests.get(self.base + "/healthz", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                time.sleep(0.05)
        raise RuntimeError("i2v serve did not start")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()
        return self.proc.returncode if self.proc else None

    def log_text(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def admin(self, *args, check=True):
        r = subprocess.run([self.binary, "admin", "--data", str(self.data)] + self.backend +
                           list(args),
                           capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise RuntimeError(f"i2v admin {args}: {r.stderr}")
        return r

    def new_user(self, credits=1000, name="tester"):
        out = self.admin("user", "create", "--name", name, "--credits", str(credits)).stdout
        kv = dict(line.split("=", 1) for line in out.strip().splitlines())
        return User(self, kv["user_id"], kv["api_key"], kv["webhook_secret"])

    def db(self):
        con = sqlite3.connect(f"file:{self.data / 'i2v.db'}?mode=ro", uri=True, timeout=10)
        return con


def stop_and_check_books(s):
    """Ends a module's server (or cluster): it must still be running and stop
    cleanly; then the ledger balances for every user and, on SQLite, the file
    is sound."""
    assert s.alive(), "a process died during the tests:\n" + s.log_text()[-3000:]
    assert s.stop() == 0
    con = s.db()
    for uid, bal in con.execute("SELECT id, balance FROM users").fetchall():
        (total,) = con.execute("SELECT COALESCE(SUM(amount),0) FROM ledger WHERE user_id=?",
                               (uid,)).fetchone()
        assert int(bal) == int(total) >= 0
    if isinstance(s, Service):
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()


class PgDb:
    """A sqlite3-like view of a PostgreSQL database for the tests' checks:
    execute() with '?' placeholders, fetchone/fetchall, close()."""

    def __init__(self, url):
        import psycopg2  # Debian's python3-psycopg2
        self.con = psycopg2.connect(url)
        self.con.autocommit = True

    def execute(self, sql, params=()):
        cur = self.con.cursor()
        cur.execute(sql.replace("?", "%s"), tuple(params))
        return cur

    def close(self):
        self.con.close()


class Worker:
    """An `i2v worker` process in its own (empty) working directory, logging
    to a file beside it."""

    def __init__(self, binary, tmp, name, args):
        self.dir = pathlib.Path(tmp) / name
        self.dir.mkdir()
        self.log_path = pathlib.Path(tmp) / f"{name}.log"
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([binary, "worker"] + list(args), cwd=self.dir,
                                     stdout=self.log, stderr=self.log)

    def text(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def log_lines(text, event, *needles, n=1, timeout=10):
    """The log lines of event that contain every needle, waited for until
    there are n of them (or the timeout: then what there is). text is a
    function giving the log. A worker writes its job_* line just after the
    store has the state a client polls for, so a client that has seen the
    state may read the log a moment before the line is there."""
    deadline = time.monotonic() + timeout
    while True:
        found = [ln for ln in text().splitlines()
                 if f"event={event} " in ln + " " and all(x in ln for x in needles)]
        if len(found) >= n or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def log_ms(line):
    """The ts= of a log line, in ms since the epoch."""
    import calendar
    m = re.search(r"ts=(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)\.(\d+)Z", line)
    y, mo, d, h, mi, s, ms = (int(x) for x in m.groups())
    return calendar.timegm((y, mo, d, h, mi, s)) * 1000 + ms


def fresh_database(url):
    """A new, empty database on the PostgreSQL server of url; its URL."""
    import psycopg2
    import secrets
    name = "i2v_" + secrets.token_hex(6)
    con = psycopg2.connect(url)
    con.autocommit = True
    con.cursor().execute(f"CREATE DATABASE {name}")
    con.close()
    u = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + name, u.query, u.fragment))


def fresh_prefix(url):
    """The S3 store URL's bucket under a new prefix: an empty blob store."""
    import secrets
    u = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((u.scheme, u.netloc, u.path.rstrip("/") + "/t" +
                                    secrets.token_hex(6), u.query, u.fragment))


class Cluster:
    """The scale-out set-up: `servers` `i2v serve` processes (no workers; the
    clients alternate between them: every read of .base gives the next one)
    and `workers` `i2v worker` processes, each in its own empty temporary
    directory, sharing nothing but a PostgreSQL database and an S3 bucket.
    Output links name the first server (as a load balancer's address would)."""

    def __init__(self, binary, tmp, store_url, blobs_url, extra=(), servers=2, workers=3,
                 allow="127.0.0.1/32"):
        self.binary = binary
        self.tmp = pathlib.Path(tmp)
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.store_url, self.blobs_url = store_url, blobs_url
        self.backend = ["--store", store_url, "--blobs", blobs_url]
        self.extra = list(extra)
        self.allow = allow
        ports = [free_port() for _ in range(servers)]
        self.public = f"http://127.0.0.1:{ports[0]}"
        # the last server streams outputs itself (--blob-proxy on); the others
        # answer with redirects to presigned URLs
        self.servers = [Service(binary, self.tmp / f"serve{i}", port=p, allow=allow,
                                backend=self.backend,
                                extra=["--workers", "0", "--public-url", self.public] +
                                (["--blob-proxy", "on"] if i == servers - 1 and i else []) +
                                self.extra) for i, p in enumerate(ports)]
        self.streaming = self.servers[-1].base
        self.nworkers = workers
        self.workers = []  # Worker, the killed ones included
        self._next = 0
        self.data = self.tmp / "serve0"  # for tests that name a data directory

    @property
    def base(self):
        s = self.servers[self._next % len(self.servers)]
        self._next += 1
        return s.base

    def start_worker(self, i):
        w = Worker(self.binary, self.tmp, f"worker{i}-{len(self.workers)}",
                   ["--fetch-allow", self.allow, "--webhook-retry", "0.3", "--poll", "0.2",
                    "--public-url", self.public] + self.backend + self.extra)
        self.workers.append(w)
        return w

    def start(self):
        for s in self.servers:
            s.start()
        for i in range(self.nworkers):
            self.start_worker(i)
        return self

    def live_workers(self):
        return [w for w in self.workers if w.alive()]

    def alive(self):
        return all(s.alive() for s in self.servers) and len(self.live_workers()) >= 1

    def stop(self, sig=signal.SIGTERM):
        codes = [s.stop(sig) for s in self.servers]
        codes += [w.stop(sig) for w in self.workers if w.alive()]
        for w in self.workers:
            if not w.log.closed:
                w.log.close()
        return max(abs(c or 0) for c in codes) if codes else 0

    def log_text(self):
        parts = [s.log_text() for s in self.servers]
        parts += [w.text() for w in self.workers]
        return "\n".join(parts)

    def admin(self, *args, check=True):
        return self.servers[0].admin(*args, check=check)

    def new_user(self, credits=1000, name="tester"):
        out = self.admin("user", "create", "--name", name, "--credits", str(credits)).stdout
        kv = dict(line.split("=", 1) for line in out.strip().splitlines())
        return User(self, kv["user_id"], kv["api_key"], kv["webhook_secret"])

    def db(self):
        return PgDb(self.store_url)


class User:
    def __init__(self, svc, user_id, key, secret):
        self.svc, self.id, self.key, self.secret = svc, user_id, key, secret

    # Image to Video API v1, as seed 003's examples call it
    def v1_generate(self, payload, headers=None, **kw):
        h = {"APIKEY": self.key, "Content-Type": "application/json"}
        h.update(headers or {})
        return requests.post(f"{self.svc.base}/api/v1/imageToVideo/generate", headers=h,
                             json=payload, timeout=30, **kw)

    def v1_result(self, task_id):
        return requests.get(f"{self.svc.base}/api/v1/imageToVideo/result",
                            headers={"APIKEY": self.key}, params={"taskId": task_id}, timeout=30)

    # Animation API v2, as seed 000's curl calls
    def v2_generate(self, body):
        body = dict(body)
        body.setdefault("user_id", self.id)
        return requests.post(f"{self.svc.base}/api/animation/v2/generate",
                             headers={"x-api-key": self.key, "Content-Type": "application/json"},
                             data=json.dumps(body), timeout=30)

    def v2_get(self, generation_id):
        return requests.post(f"{self.svc.base}/api/animation/v2/get",
                             headers={"x-api-key": self.key, "Content-Type": "application/json"},
                             data=json.dumps({"user_id": self.id, "generation_id": generation_id}),
                             timeout=30)

    def balance(self):
        out = self.svc.admin("balance", self.id).stdout
        kv = dict(line.split("=", 1) for line in out.strip().splitlines())
        return int(kv["balance"]), int(kv["ledger_sum"])

    def wait_v1(self, task_id, timeout=120):
        """The seed's polling loop (faster interval); returns the last data."""
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            data = self.v1_result(task_id).json()["data"]
            seen.append((data["status"], data["percentage"], data["waitNumber"]))
            if data["status"] in ("Success", "Failed"):
                data["_seen"] = seen
                return data
            time.sleep(0.2)
        raise AssertionError(f"task {task_id} did not finish: {seen[-5:]}")

    def wait_v2(self, gid, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ans = self.v2_get(gid).json()
            if ans["status"] in ("SUCCEEDED", "FAILED"):
                return ans
            time.sleep(0.2)
        raise AssertionError(f"generation {gid} did not finish")


def verify_signature(secret, headers, body):
    """Standard Webhooks: v1,<base64 HMAC-SHA256(key, id.timestamp.body)>."""
    key = base64.b64decode(secret.split("_", 1)[1])
    msg = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    want = base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode()
    return any(sig.split(",", 1)[1] == want for sig in headers["webhook-signature"].split(" "))


def ffprobe(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of",
                          "json", str(path)], capture_output=True, text=True, check=True).stdout
    return json.loads(out)
