#!/usr/bin/env python3
"""s3server.py - a real S3-compatible server for i2v's tests.

It runs tests/s3/s3rver.js (@20minutes/s3rver 4.0.4 on Node.js, which
verifies AWS Signature Version 4 of signed requests and of presigned URLs:
a wrong secret gets 403) on 127.0.0.1, with one bucket kept in a temporary
folder, accepting one access key and a random secret. Standard library only.

Prepare it once (Node.js >= 20 and npm):

    npm ci --prefix tests/s3

As a module (e.g. from pytest; put tests/s3 on sys.path):

    from s3server import S3Server

    with S3Server() as s3:       # started; closed (stopped, folder removed) at the end
        s3.url        # "s3://i2v-test?endpoint=http://127.0.0.1:PORT&region=us-east-1&path_style=1"
        s3.endpoint   # "http://127.0.0.1:PORT"
        s3.env()      # {"AWS_ACCESS_KEY_ID": ..., "AWS_SECRET_ACCESS_KEY": ...}
        s3.stop()     # the server goes away (connections are refused) ...
        s3.start()    # ... and comes back on the same port with the same objects

  S3Server(directory=None, port=0, bucket="i2v-test", access_key=..., secret_key=None,
           region="us-east-1", verbose=False, start_timeout=30)
    directory   folder for the objects and the server's log (None: a new
                temporary folder, removed by close())
    port        0: a free port, chosen at the first start and kept for restarts
    secret_key  None: a random one
    verbose     the server logs every request into log_path
  start()  starts the server and returns once it answers HTTP; does nothing
           when it runs. Raises S3ServerError with a clear message when Node.js
           or node_modules is missing (run `npm ci --prefix tests/s3`) or the
           server does not come up (the log's tail included).
  stop()   stops it (SIGTERM, then SIGKILL) and returns once it is gone;
           idempotent. The objects stay.
  close()  stop(), then removes the temporary folder it made.
  secret_key may be changed between stop() and start(): the server then
  accepts only the new one (a test of credentials that stop working).
  Properties: url, endpoint, port, bucket, region, access_key, secret_key,
  directory, log_path, running. env() gives the AWS_* variables a client
  needs; a client should also drop AWS_SESSION_TOKEN from its environment.

As a command:

    python3 tests/s3/s3server.py run [--verbose] -- CMD ARGS...
        Starts a server, runs CMD with these variables set, stops the server
        and removes its folder whatever happens, and exits with CMD's status
        (128+N when CMD died of signal N; 2 when the server cannot start):
          I2V_TEST_S3_URL        the store URL (s3.url)
          I2V_TEST_S3_ENDPOINT   http://127.0.0.1:PORT
          AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (AWS_SESSION_TOKEN removed)
          I2V_TEST_S3_STOP       a shell command that stops the server and
          I2V_TEST_S3_START      one that starts it again (same port, same
                                 objects); each returns once that is done,
                                 exit status 0 on success. They talk to this
                                 process over a Unix socket in the server's
                                 folder ("ctl SOCKET stop|start" below).
                                 "$I2V_TEST_S3_START SECRET" starts it
                                 accepting SECRET instead of the secret given.
    python3 tests/s3/s3server.py serve [--port N] [--verbose]
        Starts a server and prints its URL and variables until Ctrl-C.
    python3 tests/s3/s3server.py ctl SOCKET stop|start [SECRET]
        What I2V_TEST_S3_STOP / I2V_TEST_S3_START run.
"""
import argparse
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER_JS = os.path.join(HERE, "s3rver.js")
PACKAGE_JSON = os.path.join(HERE, "node_modules", "@20minutes", "s3rver", "package.json")
LISTENING = re.compile(rb"s3rver listening on 127\.0\.0\.1:(\d+)")
NPM_HINT = "run `npm ci --prefix tests/s3` (from the repository root) first"


class S3ServerError(RuntimeError):
    """The test server could not be started or stopped; the message says why."""


try:  # resolved here: a child between fork and exec must not import
    import ctypes

    _PRCTL = ctypes.CDLL(None, use_errno=True).prctl
except (ImportError, OSError, AttributeError):
    _PRCTL = None


def _die_with_parent():
    """In the child: SIGTERM when the parent (thread) dies, so no server outlives a test."""
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class S3Server:
    """An s3rver process on 127.0.0.1 with one bucket; see the module docstring."""

    def __init__(self, directory=None, port=0, bucket="i2v-test", access_key="I2VTESTACCESSKEY",
                 secret_key=None, region="us-east-1", verbose=False, start_timeout=30.0):
        self._own_dir = directory is None
        self._dir = directory
        self._port = int(port)
        self.bucket = bucket
        self.access_key = access_key
        self.secret_key = secret_key or secrets.token_hex(20)
        self.region = region
        self.verbose = verbose
        self.start_timeout = start_timeout
        self._proc = None
        self._log = None

    # ---- properties ----
    @property
    def port(self):
        """The bound port (0 before the first start)."""
        return self._port

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self._port

    @property
    def url(self):
        """The i2v blob store URL of the bucket (path-style, as loopback needs)."""
        return "s3://%s?endpoint=%s&region=%s&path_style=1" % (self.bucket, self.endpoint,
                                                                self.region)

    @property
    def directory(self):
        """The folder holding the objects (data/) and the log; None before start()."""
        return self._dir

    @property
    def log_path(self):
        return os.path.join(self._dir, "s3rver.log") if self._dir else None

    @property
    def running(self):
        return self._proc is not None and self._proc.poll() is None

    def env(self):
        """The variables a client needs to sign its requests."""
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key}

    # ---- lifecycle ----
    def start(self):
        if self.running:
            return
        node = shutil.which("node")
        if not node:
            raise S3ServerError("s3server: Node.js (>= 20) is not installed: it runs the test "
                                "S3 server (tests/s3/s3rver.js)")
        if not os.path.isfile(PACKAGE_JSON):
            raise S3ServerError("s3server: the test S3 server is not installed "
                                "(tests/s3/node_modules is missing): " + NPM_HINT)
        if self._dir is None:
            self._dir = tempfile.mkdtemp(prefix="i2v-s3-")
        os.makedirs(os.path.join(self._dir, "data"), exist_ok=True)
        with open(self.log_path, "ab") as log:
            offset = log.tell()
            cmd = [node, SERVER_JS, "--port", str(self._port), "--dir",
                   os.path.join(self._dir, "data"), "--bucket", self.bucket]
            if self.verbose:
                cmd.append("--verbose")
            env = dict(os.environ, I2V_S3RVER_ACCESS_KEY=self.access_key,
                       I2V_S3RVER_SECRET_KEY=self.secret_key)
            self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                          stderr=subprocess.STDOUT, env=env, cwd=HERE,
                                          preexec_fn=_die_with_parent)
        try:
            self._port = self._wait_listening(offset)
            self._wait_answering()
        except BaseException:
            self.stop()
            raise

    def _tail(self, offset):
        with open(self.log_path, "rb") as f:
            f.seek(offset)
            return f.read()[-2000:].decode("utf-8", "replace").strip()

    def _wait_listening(self, offset):
        deadline = time.monotonic() + self.start_timeout
        while True:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                m = LISTENING.search(f.read())
            if m:
                return int(m.group(1))
            if self._proc.poll() is not None:
                raise S3ServerError("s3server: s3rver exited with status %d before listening "
                                    "(port %d): %s" % (self._proc.returncode, self._port,
                                                       self._tail(offset)))
            if time.monotonic() > deadline:
                raise S3ServerError("s3server: s3rver did not listen within %.0f s: %s"
                                    % (self.start_timeout, self._tail(offset)))
            time.sleep(0.05)

    def _wait_answering(self):
        deadline = time.monotonic() + self.start_timeout
        while True:
            try:
                with urllib.request.urlopen(self.endpoint + "/", timeout=2) as r:
                    r.read()
                return
            except urllib.error.HTTPError:
                return  # it answers
            except (urllib.error.URLError, OSError) as e:
                if time.monotonic() > deadline or self._proc.poll() is not None:
                    raise S3ServerError("s3server: s3rver at %s does not answer: %s"
                                        % (self.endpoint, e)) from e
                time.sleep(0.05)

    def stop(self):
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def close(self):
        self.stop()
        if self._own_dir and self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()
        return False


# ---- the control socket behind I2V_TEST_S3_STOP / I2V_TEST_S3_START ----

class _Control:
    """Serves "stop" / "start" lines on a Unix socket, one client at a time,
    answering "ok" or "error: ..." once the server has stopped or answers."""

    def __init__(self, server, path):
        self.server = server
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(4)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # closed
            with conn:
                try:
                    word, _, secret = conn.makefile("r").readline().strip().partition(" ")
                    if word == "stop":
                        self.server.stop()
                    elif word == "start":
                        if secret and self.server.running:
                            raise S3ServerError("stop the server before a new secret")
                        if secret:
                            self.server.secret_key = secret
                        self.server.start()
                    else:
                        raise S3ServerError("unknown control word %r (stop, start)" % word)
                    conn.sendall(b"ok\n")
                except Exception as e:  # reported to the client, the runner goes on
                    try:
                        conn.sendall(("error: %s\n" % e).encode())
                    except OSError:
                        pass

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(timeout=15)
        try:
            os.unlink(self.path)
        except OSError:
            pass


def _ctl(path, word, secret=None):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(60)
        s.connect(path)
        s.sendall((word + (" " + secret if secret else "") + "\n").encode())
        answer = s.makefile("r").readline().strip()
    if answer != "ok":
        print("s3server ctl %s: %s" % (word, answer or "no answer"), file=sys.stderr)
        return 1
    return 0


def _run(cmd, verbose):
    if not cmd:
        print("s3server run: give the command after --", file=sys.stderr)
        return 2
    server = S3Server(verbose=verbose)
    control = None
    child = None
    forwarded = []

    def forward(signum, _frame):
        forwarded.append(signum)
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    old = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    try:
        try:
            server.start()
        except S3ServerError as e:
            print(e, file=sys.stderr)
            return 2
        if forwarded:
            return 128 + forwarded[0]
        sock = os.path.join(server.directory, "ctl.sock")
        control = _Control(server, sock)
        me = [sys.executable, os.path.abspath(__file__), "ctl", sock]
        env = dict(os.environ)
        env.pop("AWS_SESSION_TOKEN", None)
        env.update(server.env())
        env.update({
            "I2V_TEST_S3_URL": server.url,
            "I2V_TEST_S3_ENDPOINT": server.endpoint,
            "I2V_TEST_S3_STOP": shlex.join(me + ["stop"]),
            "I2V_TEST_S3_START": shlex.join(me + ["start"]),
        })
        child = subprocess.Popen(cmd, env=env)
        while True:
            try:
                rc = child.wait()
                break
            except InterruptedError:
                continue
        return 128 - rc if rc < 0 else rc
    finally:
        if child is not None and child.poll() is None:
            child.kill()
            child.wait()
        if control is not None:
            control.close()
        server.close()
        for s, h in old.items():
            signal.signal(s, h)


def _serve(port, verbose):
    with S3Server(port=port, verbose=verbose) as s3:
        print("I2V_TEST_S3_URL=%s" % shlex.quote(s3.url))
        for k, v in s3.env().items():
            print("%s=%s" % (k, shlex.quote(v)))
        print("# objects in %s; Ctrl-C stops" % s3.directory, flush=True)
        try:
            while s3.running:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
    return 0


def main(argv):
    ap = argparse.ArgumentParser(prog="s3server.py", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    r = sub.add_parser("run", help="run a command against a fresh server")
    r.add_argument("--verbose", action="store_true", help="log every request")
    r.add_argument("cmd", nargs=argparse.REMAINDER, help="-- CMD ARGS...")
    s = sub.add_parser("serve", help="run a server until Ctrl-C")
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--verbose", action="store_true")
    c = sub.add_parser("ctl", help="stop or start the server of a `run`")
    c.add_argument("socket")
    c.add_argument("word", choices=["stop", "start"])
    c.add_argument("secret", nargs="?", help="start: accept this secret key from now on")
    a = ap.parse_args(argv)
    if a.what == "run":
        cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
        return _run(cmd, a.verbose)
    if a.what == "serve":
        try:
            return _serve(a.port, a.verbose)
        except S3ServerError as e:
            print(e, file=sys.stderr)
            return 2
    if a.secret and (a.word != "start" or any(c.isspace() for c in a.secret)):
        ap.error("a secret (without spaces) goes with start only")
    return _ctl(a.socket, a.word, a.secret)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
