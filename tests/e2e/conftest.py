"""Shared fixtures: the i2v binary under test, the shipped photos, and (for
the scale-out runs) one PostgreSQL 15 server and one S3-compatible server
for the whole session, started here (tests/pg/pgserver.py,
tests/s3/s3server.py)."""
import os
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "pg"))
sys.path.insert(0, str(ROOT / "tests" / "s3"))
import svc  # noqa: E402


@pytest.fixture(scope="session")
def i2v():
    path = pathlib.Path(os.environ.get("I2V_BIN", ROOT / "build" / "i2v"))
    if not path.exists():
        pytest.fail(f"i2v binary not found at {path}: build first (scripts/test.sh does)")
    return str(path.resolve())  # absolute: workers run in their own directories


@pytest.fixture(scope="session")
def photos():
    return ROOT / "photos"


@pytest.fixture(scope="module")
def photos_srv():
    """A photo (and webhook receiver) server on loopback for one test module:
    serves photos/ (and .extra_dir), records hits and hooks (svc.LocalServer)."""
    s = svc.LocalServer()
    yield s
    s.close()


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
    return svc.fresh_database(pg.url)


def start_backend(request, i2v, folder, extra=(), **kw):
    """For a fixture parametrised by backend: "sqlite" gives one `i2v serve`
    on SQLite and a folder in folder/data; "postgres+s3" two API servers and
    three workers on a fresh database and bucket prefix (svc.Cluster). Started,
    labelled with the backend."""
    if request.param == "sqlite":
        s = svc.Service(i2v, folder / "data", extra=extra, **kw).start()
    else:
        pg, s3 = request.getfixturevalue("pg"), request.getfixturevalue("s3")
        s = svc.Cluster(i2v, folder / "cluster", fresh_database(pg), fresh_prefix(s3),
                        extra=extra, **kw).start()
    s.label = request.param
    return s


def fresh_prefix(s3):
    """The session's bucket under a new prefix: an empty blob store."""
    return svc.fresh_prefix(s3.url)
