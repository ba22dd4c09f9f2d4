#!/usr/bin/env python3
"""pgserver.py - a throwaway PostgreSQL server for tests (stdlib only).

As a module (unit tests' runner, pytest end-to-end tests):

    from pgserver import PgServer      # sys.path: tests/pg
    with PgServer() as pg:             # initdb, start, CREATE DATABASE i2v
        pg.url                         # "postgres://postgres@127.0.0.1:PORT/i2v"
        pg.stop()                      # fast shutdown (clients are cut off)
        pg.start()                     # the same data, port and socket again
    # leaving the block is pg.close(): stop, then remove the folder

    PgServer(dbname="i2v")             # raises PgUnavailable when PostgreSQL
                                       # is not installed (a test may skip)
    pg.port, pg.dir (the folder, also the unix socket's), pg.data, pg.log
    pg.start_command(), pg.stop_command()   argv lists doing start()/stop()
    pg.running                          True between start() and stop()

As a command:

    python3 tests/pg/pgserver.py run -- CMD ARGS...

starts a server, runs CMD with I2V_TEST_PG_URL (the url above),
I2V_TEST_PG_STOP and I2V_TEST_PG_START (shell commands that stop and start
that same server, for restart tests) in its environment, and exits with
CMD's status (77, meson's "skipped", when PostgreSQL is not installed). The
server and its folder are removed whatever happens, SIGTERM included.

How: a temp folder under $TMPDIR, trust authentication, listening on
127.0.0.1 on a free port with its unix socket in the folder; fsync off (a
test server: the machine does not crash under it), but synchronous_commit on,
so a commit that was acknowledged survives a crash of the server itself
(`stop(mode="immediate")`, which the chaos tests use). The server binaries come from $I2V_PG_BIN or the newest
/usr/lib/postgresql/*/bin. initdb refuses to run as root, so when the tests
run as root the folder belongs to the `postgres` system user (made by the
Debian package) and the server binaries run through `runuser -u postgres --`.
"""
import glob
import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading

__all__ = ["PgServer", "PgUnavailable", "find_bindir"]


class PgUnavailable(RuntimeError):
    """PostgreSQL's server binaries (or the postgres user) are missing."""


def find_bindir():
    """The folder of initdb/pg_ctl: $I2V_PG_BIN or the newest Debian one."""
    env = os.environ.get("I2V_PG_BIN")
    if env:
        return env if os.path.isfile(os.path.join(env, "initdb")) else None

    def major(path):
        v = path.split("/")[-3]
        return int(v) if v.isdigit() else 0

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=major)
    return os.path.dirname(found[-1]) if found else None


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _SignalsHeld:
    """Holds SIGINT and SIGTERM back while pg_ctl starts or stops the server:
    an interrupted pg_ctl would leave a server running that nobody knows of.
    A signal that came meanwhile is handled on leaving (main thread only)."""

    SIGNALS = {signal.SIGINT, signal.SIGTERM}

    def __enter__(self):
        self.old = None
        if threading.current_thread() is threading.main_thread():
            self.old = signal.pthread_sigmask(signal.SIG_BLOCK, self.SIGNALS)

    def __exit__(self, *exc):
        if self.old is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, self.old)
        return False


class PgServer:
    """A PostgreSQL server in a temp folder; see the module docstring."""

    def __init__(self, dbname="i2v", port=None, bindir=None):
        self.bindir = bindir or find_bindir()
        if not self.bindir:
            raise PgUnavailable("PostgreSQL server binaries not found "
                                "(apt-get install postgresql, or set I2V_PG_BIN)")
        self.user = None
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise PgUnavailable("running as root needs the 'postgres' system user")
            self.user = "postgres"
        self.dbname = dbname
        self.running = False
        self.dir = tempfile.mkdtemp(prefix="i2v-pg-")
        try:
            if self.user:
                os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.data = os.path.join(self.dir, "data")
            self.log = os.path.join(self.dir, "server.log")
            self.port = port or free_port()
            self._run(self._argv("initdb", "-D", self.data, "-A", "trust", "-U", "postgres",
                                 "-E", "UTF8", "--locale=C", "--no-sync"))
            self.start()
            self._run(self._argv("createdb", "-h", self.dir, "-p", str(self.port),
                                 "-U", "postgres", dbname))
        except BaseException:
            self.close()
            raise

    @property
    def url(self):
        return "postgres://postgres@127.0.0.1:%d/%s" % (self.port, self.dbname)

    def _argv(self, tool, *args):
        argv = [os.path.join(self.bindir, tool), *args]
        return ["runuser", "-u", self.user, "--", *argv] if self.user else argv

    def _run(self, argv):
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           cwd=self.dir, text=True)
        if p.returncode != 0:
            raise RuntimeError("%s failed (%d):\n%s" % (shlex.join(argv), p.returncode, p.stdout))

    def start_command(self):
        opts = ("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off"
                " -c full_page_writes=off -c max_connections=200"
                " -c shared_buffers=32MB" % (self.port, shlex.quote(self.dir)))
        return self._argv("pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60", "-s",
                          "-o", opts, "start")

    def stop_command(self, mode="fast"):
        return self._argv("pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60", "-s", "stop")

    def start(self):
        with _SignalsHeld():
            self._run(self.start_command())
            self.running = True

    def stop(self, mode="fast"):
        with _SignalsHeld():
            self._run(self.stop_command(mode))
            self.running = False

    def close(self):
        """Stops the server if it runs (whoever started it) and removes the folder."""
        if os.path.exists(os.path.join(getattr(self, "data", ""), "postmaster.pid")):
            for mode in ("fast", "immediate"):
                try:
                    self.stop(mode)
                    break
                except (RuntimeError, OSError):
                    pass
        self.running = False
        if getattr(self, "dir", None):
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def _terminate(signum, frame):
    raise SystemExit(128 + signum)


def run(cmd):
    """Runs cmd against a fresh server; returns its exit status."""
    if not cmd:
        print("usage: pgserver.py run -- CMD ARGS...", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    try:
        pg = PgServer()
    except PgUnavailable as e:
        print("skipped: %s" % e)
        return 77
    proc = None
    try:
        env = dict(os.environ,
                   I2V_TEST_PG_URL=pg.url,
                   I2V_TEST_PG_STOP=shlex.join(pg.stop_command()),
                   I2V_TEST_PG_START=shlex.join(pg.start_command()))
        proc = subprocess.Popen(cmd, env=env)
        return proc.wait()
    finally:
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait()
        pg.close()


def main(argv):
    if len(argv) >= 2 and argv[1] == "run":
        cmd = argv[2:]
        if cmd and cmd[0] == "--":
            cmd = cmd[1:]
        return run(cmd)
    print(__doc__.strip().split("\n\n")[0], file=sys.stderr)
    print("usage: pgserver.py run -- CMD ARGS...", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
