"""Hostile input against the real `i2v serve` on loopback: URLs that try to
reach our own network, servers that misbehave, image bombs and broken
images, abusive HTTP clients, and Idempotency-Key replays. Each test checks
the outcome a client sees, the ledger, and that nothing reached a target it
must not reach."""
import concurrent.futures
import json
import os
import pathlib
import socket
import threading
import time

import pytest
import requests

import bombs
from svc import LocalServer, Service

LANDSCAPE = "Bridge_by_Sander_Klootwijk.jpg"
DATA = pathlib.Path(__file__).resolve().parent / "data"


class Trap:
    """A dual-stack listener on [::]:port that counts every connection made to
    it, whatever loopback spelling reached it (127.x, 0.0.0.0, ::1)."""

    def __init__(self, port=0):
        self.sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("::", port))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.hits = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            try:
                c, addr = self.sock.accept()
            except OSError:
                return
            self.hits.append(addr)
            c.close()

    def close(self):
        self.sock.close()


def ssrf_urls(port):
    lines = (DATA / "ssrf-urls.txt").read_text().splitlines()
    return [l.replace("{P}", str(port)) for l in lines if l and not l.startswith("#")]


def rss_peak_kb(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def reset_rss_peak(pid):
    pathlib.Path(f"/proc/{pid}/clear_refs").write_text("5")


def failure_reason(svc, task_id):
    lines = [l for l in svc.log_text().splitlines()
             if "event=job_failed" in l and f"task_id={task_id} " in l]
    assert lines, f"no job_failed line for {task_id}"
    return lines[-1]


@pytest.fixture(scope="module")
def photos2():
    """Photos on 127.0.0.2, the one loopback address the server may fetch."""
    s = LocalServer("127.0.0.2")
    yield s
    s.close()


@pytest.fixture(scope="module")
def hsvc(i2v, tmp_path_factory, photos2):
    s = Service(i2v, tmp_path_factory.mktemp("hard") / "data", allow="127.0.0.2/32",
                extra=["--webhook-attempts", "2", "--webhook-retry", "0.2",
                       "--body-max", "65536", "--header-max", "16384",
                       "--per-ip-limit", "32", "--conn-timeout", "3"]).start()
    yield s
    assert s.alive(), "the server died:\n" + s.log_text()[-3000:]
    assert s.stop() == 0
    con = s.db()
    for uid, bal in con.execute("SELECT id, balance FROM users"):
        (total,) = con.execute("SELECT COALESCE(SUM(amount),0) FROM ledger WHERE user_id=?",
                               (uid,)).fetchone()
        assert bal == total
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# --- 1. fetching is not a way into our network ------------------------------------------

def test_no_url_reaches_our_network_first_request_or_redirect(hsvc, photos2):
    trap = Trap()
    try:
        user = hsvc.new_user(credits=100000)
        urls = ssrf_urls(trap.port)
        tried = refused_at_door = failed = 0
        tasks = {}
        for direct in urls:
            for u in (direct, photos2.url("/redirect?to=" + requests.utils.quote(direct, safe=""))):
                tried += 1
                r = user.v1_generate({"imageUrl": u, "duration": 5, "resolution": "480p"})
                body = r.json()
                if r.status_code == 400:
                    assert body["code"] == 1011 and body["message"].startswith("imageUrl:"), body
                    refused_at_door += 1
                else:
                    assert body["code"] == 0, body
                    tasks[u] = body["data"]
        for u, tid in tasks.items():
            assert user.wait_v1(tid)["status"] == "Failed", u
            reason = failure_reason(hsvc, tid)
            # refused by the guard, or a name that does not resolve; never an
            # attempt to connect ("Couldn't connect", "timed out")
            assert ("refused: address" in reason or "only http and https" in reason
                    or "Could not resolve host" in reason), (u, reason)
            failed += 1
        assert trap.hits == [], trap.hits
        assert user.balance() == (100000, 100000)
        print(f"\nssrf: {tried} URLs tried ({len(urls)} direct + {len(urls)} through a "
              f"redirect): {refused_at_door} refused at the API, {failed} failed and refunded, "
              f"{len(trap.hits)} connections reached the trap")
    finally:
        trap.close()


def test_webhook_targets_pass_the_same_guard(hsvc, photos2):
    trap = Trap()
    try:
        user = hsvc.new_user(credits=100000)
        urls = ssrf_urls(trap.port)
        gens, at_door = [], 0
        for u in urls:
            r = user.v2_generate({"image_urls": [photos2.url("missing.jpg")],
                                  "option": "ZOOM_IN", "webhook": u})
            if r.status_code == 400:
                assert r.json()["error"]["message"].startswith("webhook:"), r.json()
                at_door += 1
            else:
                assert r.status_code == 200, r.text
                gens.append(r.json()["generation_id"])
        for g in gens:
            assert user.wait_v2(g)["status"] == "FAILED"
        # every delivery is tried and given up (2 attempts), none connects
        con = hsvc.db()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            left = con.execute(
                "SELECT COUNT(*) FROM deliveries d JOIN generations g ON g.id=d.generation"
                " WHERE g.user_id=? AND d.attempts<2", (user.id,)).fetchone()[0]
            if left == 0:
                break
            time.sleep(0.2)
        assert left == 0
        rows = con.execute(
            "SELECT d.state, d.last_error FROM deliveries d JOIN generations g"
            " ON g.id=d.generation WHERE g.user_id=?", (user.id,)).fetchall()
        assert len(rows) == len(gens)
        for state, err in rows:
            assert state != 1 and ("refused: address" in err
                                   or "Could not resolve host" in err), err
        assert trap.hits == []
        assert user.balance() == (100000, 100000)
        print(f"\nwebhooks: {len(urls)} targets: {at_door} refused at the API, {len(gens)} "
              f"deliveries refused, {len(trap.hits)} connections reached the trap")
    finally:
        trap.close()


def test_hostile_servers_hit_the_limits(i2v, tmp_path, photos2):
    s = Service(i2v, tmp_path / "data", allow="127.0.0.2/32",
                extra=["--fetch-max-bytes", "2000000", "--fetch-timeout", "25",
                       "--max-redirects", "5", "--workers", "4"]).start()
    try:
        user = s.new_user(credits=1000)
        want = {
            "/endless": "2000000-byte limit",
            "/liar/100/" + LANDSCAPE: "header is truncated",
            "/short/" + LANDSCAPE: "too slow",
            "/short-close/" + LANDSCAPE: "closed",
            "/trickle": "too slow",
            "/loop": "redirects",
        }
        reset_rss_peak(s.proc.pid)
        t0 = time.monotonic()
        tids = {p: user.v1_generate({"imageUrl": photos2.url(p), "duration": 5,
                                     "resolution": "480p"}).json()["data"] for p in want}
        for p, reason in want.items():
            assert user.wait_v1(tids[p], timeout=90)["status"] == "Failed", p
            got = failure_reason(s, tids[p])
            assert reason in got, (p, got)
        took = time.monotonic() - t0
        peak = rss_peak_kb(s.proc.pid)
        assert user.balance() == (1000, 1000)
        # an endless body is cut at the byte limit: memory stays near it
        assert peak < 200 * 1024, peak
        # a slow or stalled server is dropped by the low-speed limit (1 KB/s
        # over 10 s), well before the 25 s total timeout
        assert took < 25, took
        print(f"\nhostile servers: {len(want)} failed with refunds in {took:.1f} s, "
              f"server peak RSS {peak / 1024:.1f} MB")
    finally:
        s.stop()


# --- 2. image bombs and broken images ---------------------------------------------------

def test_image_bombs_and_broken_images_fail_with_refunds(hsvc, photos2, tmp_path):
    photos2.extra_dir = tmp_path
    files = bombs.all_bombs(tmp_path / "work")
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    user = hsvc.new_user(credits=100000)
    pid = hsvc.proc.pid
    # a real photo first: the memory a normal render needs
    reset_rss_peak(pid)
    tid = user.v1_generate({"imageUrl": photos2.url(LANDSCAPE), "duration": 5,
                            "resolution": "480p"}).json()["data"]
    assert user.wait_v1(tid)["status"] == "Success"
    normal = rss_peak_kb(pid)
    peaks = {}
    for name in files:
        reset_rss_peak(pid)
        r = user.v1_generate({"imageUrl": photos2.url(name), "duration": 5,
                              "resolution": "480p"})
        tid = r.json()["data"]
        assert user.wait_v1(tid)["status"] == "Failed", name
        reason = failure_reason(hsvc, tid)
        assert any(w in reason for w in ("limit", "corrupt", "truncated", "invalid",
                                          "not an image", "empty")), (name, reason)
        peaks[name] = rss_peak_kb(pid)
    assert user.balance() == (99990, 99990)  # only the real photo was charged
    worst = max(peaks, key=peaks.get)
    # no bomb costs more memory than rendering a real photo (plus slack)
    assert peaks[worst] < normal + 32 * 1024, (worst, peaks[worst], normal)
    print(f"\nbombs: {len(files)} tried, {len(files)} failed with refunds; peak RSS "
          f"{peaks[worst] / 1024:.1f} MB at worst ({worst}) vs {normal / 1024:.1f} MB for a "
          f"real 4352x2448 photo")
