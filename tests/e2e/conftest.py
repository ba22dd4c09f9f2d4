"""Shared fixtures: the i2v binary under test, the shipped photos, and (for
the scale-out runs) one PostgreSQL 15 server and one S3-compatible server
for the whole session, started here (tests/pg/pgserver.py,
tests/s3/s3server.py)."""
import os
import pathlib
import secrets
import sys
import urllib.parse

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "pg"))
sys.path.insert(0, str(ROOT / "tests" / "s3"))


@pytest.fixture(scope="session")
def i2v():
    path = pathlib.Path(os.environ.get("I2V_BIN", ROOT / "build" / "i2v"))
    if not path.exists():
        pytest.fail(f"i2v binary not found at {path}: build first (scripts/test.sh does)")
    return str(path.resolve())  # absolute: workers run in their own directories


@pytest.fixture(scope="session")
def photos():
    return ROOT / "photos"


@pytest.fixture(scope="session")
def pg():
    import pgserver
    with pgserver.PgServer() as s:
        yield s


@pytest.fixture(scope="session")
def s3():
    import s3server
    with s3server.S3Server() as s:
        saved = {k: os.environ.get(k) for k in s.env()}
        os.environ.update(s.env())  # AWS_* for every process the tests start
        yield s
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def fresh_database(pg):
    """A new, empty database on the session's PostgreSQL; its URL."""
    import psycopg2
    name = "i2v_" + secrets.token_hex(6)
    con = psycopg2.connect(pg.url)
    con.autocommit = True
    con.cursor().execute(f"CREATE DATABASE {name}")
    con.close()
    u = urllib.parse.urlsplit(pg.url)
    return urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + name, u.query, u.fragment))


def fresh_prefix(s3):
    """The session's bucket under a new prefix: an empty blob store."""
    u = urllib.parse.urlsplit(s3.url)
    return urllib.parse.urlunsplit((u.scheme, u.netloc, u.path.rstrip("/") + "/t" +
                                    secrets.token_hex(6), u.query, u.fragment))
