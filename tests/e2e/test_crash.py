"""Crash and restart of `i2v serve`: a generation in the middle of its render
survives kill -9 (completes once, is charged once, its webhook arrives), and a
clean stop gives running work back to the queue."""
import signal
import time

import pytest

from svc import LocalServer, Service

PHOTO = "Kleiber_by_Lukas_Baubkus.jpg"


@pytest.fixture
def photos_srv():
    s = LocalServer()
    yield s
    s.close()


def progress_of(svc, gid):
    con = svc.db()
    row = con.execute("SELECT state, progress, attempts FROM generations WHERE uuid=?",
                      (gid,)).fetchone()
    con.close()
    return row


def wait_running(svc, gid, min_progress=10, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state, progress, _ = progress_of(svc, gid)
        if state == 1 and progress >= min_progress:
            return progress
        time.sleep(0.05)
    raise AssertionError(f"generation never got to {min_progress}%")


def test_kill_9_in_the_middle_of_a_render(i2v, tmp_path, photos_srv):
    svc = Service(i2v, tmp_path / "data", extra=["--lease", "3"]).start()
    user = svc.new_user(credits=100)
    r = user.v2_generate({"image_urls": [photos_srv.url(PHOTO)], "option": "ZOOM_IN",
                          "duration": 10, "webhook": photos_srv.url("/hook/crash")})
    gid = r.json()["generation_id"]
    wait_running(svc, gid)
    svc.proc.send_signal(signal.SIGKILL)
    svc.proc.wait()
    assert svc.proc.returncode == -signal.SIGKILL
    assert progress_of(svc, gid)[0] == 1  # left "running" with a lease nobody renews

    svc2 = Service(i2v, tmp_path / "data", extra=["--lease", "3"], port=svc.port).start()
    try:
        done = user.wait_v2(gid, timeout=180)
        assert done["status"] == "SUCCEEDED", svc2.log_text()[-3000:]
        state, progress, attempts = progress_of(svc2, gid)
        assert (state, progress, attempts) == (2, 100, 2)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not photos_srv.hooks:
            time.sleep(0.1)
        time.sleep(1)
        hooks = [h for h in photos_srv.hooks if h["name"] == "crash"]
        assert len(hooks) == 1 and hooks[0]["status"] == 200
        con = svc2.db()
        rows = con.execute("SELECT kind, amount FROM ledger l JOIN generations g"
                           " ON g.id=l.generation WHERE g.uuid=?", (gid,)).fetchall()
        assert rows == [("charge", -40)]
        assert user.balance() == (60, 60)
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        log = svc2.log_text()
        assert "event=leases_expired" in log or "attempt=2" in log
    finally:
        svc2.stop()


def test_clean_stop_gives_running_work_back(i2v, tmp_path, photos_srv):
    svc = Service(i2v, tmp_path / "data").start()
    user = svc.new_user(credits=100)
    gid = user.v2_generate({"image_urls": [photos_srv.url(PHOTO)], "option": "PAN_LEFT",
                            "duration": 10}).json()["generation_id"]
    wait_running(svc, gid, min_progress=6)
    assert svc.stop() == 0
    state, progress, attempts = progress_of(svc, gid)
    assert (state, progress, attempts) == (0, 0, 0)  # queued again, the attempt not counted
    assert "event=job_released" in svc.log_text()
    svc2 = Service(i2v, tmp_path / "data", port=svc.port).start()
    try:
        assert user.wait_v2(gid, timeout=180)["status"] == "SUCCEEDED"
        assert progress_of(svc2, gid)[2] == 1
        assert user.balance() == (60, 60)
    finally:
        svc2.stop()
