"""End-to-end tests of live progress (Server-Sent Events, docs/native-api.md
"Live progress") against a real `i2v serve`: one generation's stream (events
in order, its end, heartbeats, resuming with Last-Event-ID, a cancel, another
user's generation refused), the user's stream (a generation created after it
opened, resuming), the stream limits, and 1,000 streams open on one
generation with the server's memory measured. Like test_native.py the suite
runs on SQLite and a folder, then on two API servers and three workers over
PostgreSQL and S3 (a stream's server is not the worker's process)."""
import json
import os
import selectors
import socket
import time

import pytest
import requests

from conftest import start_backend
from svc import Cluster, Service, Worker, stop_and_check_books

LANDSCAPE = "Bridge_by_Sander_Klootwijk.jpg"
API = "/api/i2v/v1"
FINAL = ("succeeded", "failed", "cancelled")


@pytest.fixture(scope="module", params=["sqlite", "postgres+s3"])
def svc(request, i2v, tmp_path_factory, photos_srv):
    extra = ["--sse-heartbeat", "0.5", "--sse-per-user", "20"]
    s = start_backend(request, i2v, tmp_path_factory.mktemp("events"), extra)
    yield s
    stop_and_check_books(s)


class Stream:
    """An SSE stream read as it arrives: next() gives the next event as
    {"id", "event", "data" (parsed), "t"} or None when the server ended it;
    comments (": ping") are counted."""

    def __init__(self, base, path, key, last_id=None, timeout=60):
        h = {"Authorization": "Bearer " + key, "Accept": "text/event-stream"}
        if last_id is not None:
            h["Last-Event-ID"] = last_id
        self.r = requests.get(base + API + path, headers=h, stream=True, timeout=(5, timeout))
        self.status = self.r.status_code
        self.it = self.r.iter_content(chunk_size=None)
        self.buf = b""
        self.pings = 0
        self.ended = False

    def next(self):
        while True:
            while b"\n\n" in self.buf:
                block, self.buf = self.buf.split(b"\n\n", 1)
                ev = {"t": time.monotonic()}
                data = []
                for line in block.decode().split("\n"):
                    if line.startswith(":"):
                        self.pings += line == ": ping"
                    elif line.startswith("id: "):
                        ev["id"] = line[4:]
                    elif line.startswith("event: "):
                        ev["event"] = line[7:]
                    elif line.startswith("data: "):
                        data.append(line[6:])
                if data:
                    ev["data"] = json.loads("\n".join(data))
                    return ev
            try:
                self.buf += next(self.it)
            except StopIteration:
                self.ended = True
                return None

    def until(self, cond, limit=2000):
        """Events up to the first for which cond holds (included)."""
        out = []
        for _ in range(limit):
            ev = self.next()
            if ev is None:
                break
            out.append(ev)
            if cond(ev):
                break
        return out

    def close(self):
        self.r.close()


class Client:
    def __init__(self, svc, credits=1000):
        self.svc = svc
        self.user = svc.new_user(credits=credits)
        self.key = self.user.key

    def req(self, method, path, body=None):
        return requests.request(method, self.svc.base + API + path,
                                headers={"Authorization": "Bearer " + self.key},
                                json=body, timeout=30)

    def create(self, body):
        r = self.req("POST", "/generations", body)
        assert r.status_code == 201, r.text
        return r.json()

    def get(self, gid):
        r = self.req("GET", f"/generations/{gid}")
        assert r.status_code == 200, r.text
        return r.json()

    def wait(self, gid, states=FINAL, timeout=180):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            g = self.get(gid)
            if g["state"] in states:
                return g
            time.sleep(0.1)
        raise AssertionError(f"{gid} still {g['state']}")

    def stream(self, gid=None, last_id=None, timeout=60):
        path = f"/generations/{gid}/events" if gid is not None else "/events"
        return Stream(self.svc.base, path, self.key, last_id, timeout)


def busy(svc, c, photos_srv, seconds=6):
    """Every worker fetching a slow photo: what is created next waits."""
    n = getattr(svc, "nworkers", 1)
    ids = [c.create({"image_url": photos_srv.url(f"slow/{seconds}/{LANDSCAPE}"),
                     "resolution": "480p", "duration": 1})["id"] for _ in range(n)]
    for gid in ids:
        c.wait(gid, states=("running",) + FINAL, timeout=30)
    return ids


RANK = {"queued": 0, "running": 1, "succeeded": 2, "failed": 2, "cancelled": 2}


def test_one_generation_in_order_to_its_end(svc, photos_srv):
    c = Client(svc)
    busy(svc, c, photos_srv, seconds=3)
    # a render of some seconds (about 4 s at 720p over 10 s here): progress is
    # stored four times a second, so a render under a second may show only two
    g = c.create({"image_url": photos_srv.url(LANDSCAPE), "resolution": "720p", "duration": 10})
    s = c.stream(g["task_id"])  # any of its ids
    assert s.status == 200
    assert s.r.headers["Content-Type"].startswith("text/event-stream")
    assert s.r.headers["Cache-Control"] == "no-store"
    assert s.r.headers["X-Accel-Buffering"] == "no"
    evs = s.until(lambda e: e["data"]["state"] in FINAL)
    assert s.next() is None and s.ended, "the stream ends after the final state"
    states = [e["data"]["state"] for e in evs]
    assert states[0] == "queued" and evs[0]["data"]["queue_position"] >= 1, states
    assert states[-1] == "succeeded", (states, svc.log_text()[-2000:])
    assert all(e["event"] == "generation" for e in evs)
    assert all(e["data"]["id"] == g["id"] for e in evs)
    assert [RANK[x] for x in states] == sorted(RANK[x] for x in states), states
    # queue positions only go down while queued; progress only up while running
    qp = [e["data"]["queue_position"] for e in evs if e["data"]["state"] == "queued"]
    assert qp == sorted(qp, reverse=True)
    prog = [e["data"]["progress"] for e in evs if e["data"]["state"] == "running"]
    assert len(prog) >= 3 and prog == sorted(prog) and prog[-1] > prog[0], prog
    assert evs[-1]["data"]["progress"] == 100
    # every event is a change, with an id of its own; the last one is the
    # object GET answers, byte for byte
    objs = [json.dumps(e["data"], sort_keys=True) for e in evs]
    assert len(set(objs)) == len(objs)
    assert len({e["id"] for e in evs}) == len(evs)
    assert evs[-1]["data"] == c.get(g["id"])


def test_heartbeats_and_resume_with_last_event_id(svc, photos_srv):
    c = Client(svc)
    busy(svc, c, photos_srv, seconds=6)
    g = c.create({"image_url": photos_srv.url(LANDSCAPE), "resolution": "480p", "duration": 1})
    s = c.stream(g["id"])
    first = s.next()
    assert first["data"]["state"] == "queued"
    s.close()
    # reconnect at once: the client has the current state, so nothing is
    # sent again, only heartbeats, until it changes
    s = c.stream(g["id"], last_id=first["id"], timeout=30)
    t0 = time.monotonic()
    ev = s.next()
    assert ev["data"] != first["data"], "an unchanged state was sent again"
    assert s.pings >= 2 and ev["t"] - t0 >= 1.0, (s.pings, ev["t"] - t0)
    rest = s.until(lambda e: e["data"]["state"] in FINAL)
    last = (rest or [ev])[-1]
    assert last["data"]["state"] == "succeeded"
    assert s.next() is None
    # the final state already seen: 204, an EventSource stops reconnecting
    r = requests.get(svc.base + API + f"/generations/{g['id']}/events", timeout=10,
                     headers={"Authorization": "Bearer " + c.key, "Last-Event-ID": last["id"]})
    assert r.status_code == 204 and r.content == b""
    # an older id: the latest state, then the end
    s = c.stream(g["id"], last_id=first["id"])
    evs = s.until(lambda e: False)
    assert [e["data"] for e in evs] == [last["data"]] and s.ended
    # an id that is not ours is ignored: the current state
    s = c.stream(g["id"], last_id="garbage")
    assert [e["data"]["state"] for e in s.until(lambda e: False)] == ["succeeded"]


def test_cancelled_stream_ends_cancelled(svc, photos_srv):
    c = Client(svc)
    busy(svc, c, photos_srv, seconds=5)
    g = c.create({"image_url": photos_srv.url(LANDSCAPE), "resolution": "480p", "duration": 1})
    s = c.stream(g["id"])
    assert s.next()["data"]["state"] == "queued"
    assert c.req("POST", f"/generations/{g['id']}/cancel").status_code == 200
    evs = s.until(lambda e: e["data"]["state"] in FINAL)
    assert evs[-1]["data"]["state"] == "cancelled" and evs[-1]["data"]["error"] == "cancelled"
    assert s.next() is None


def test_another_users_generation_and_bad_requests(svc, photos_srv):
    a, b = Client(svc), Client(svc)
    g = a.create({"image_url": photos_srv.url(LANDSCAPE), "resolution": "480p", "duration": 1})
    for gid in (g["id"], g["task_id"], g["project_id"]):
        r = requests.get(svc.base + API + f"/generations/{gid}/events", timeout=10,
                         headers={"Authorization": "Bearer " + b.key})
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = requests.get(svc.base + API + f"/generations/{g['id']}/events", timeout=10)
    assert r.status_code == 401
    r = requests.get(svc.base + API + "/events", timeout=10)
    assert r.status_code == 401
    r = requests.post(svc.base + API + f"/generations/{g['id']}/events", timeout=10,
                      headers={"Authorization": "Bearer " + a.key})
    assert r.status_code == 405
    r = requests.get(svc.base + API + "/generations/nope!/events", timeout=10,
                     headers={"Authorization": "Bearer " + a.key})
    assert r.status_code == 404
    # b's stream never shows a's generation
    s = b.stream()
    a.wait(g["id"])
    time.sleep(1.5)
    s.r.close()
    assert not any(e.get("data") for e in [s.next() for _ in range(0)])
    a.wait(g["id"])


def test_user_stream_sees_new_generations_and_resumes(svc, photos_srv):
    c = Client(svc)
    other = Client(svc)
    s = c.stream(timeout=30)
    assert s.status == 200
    g1 = c.create({"image_url": photos_srv.url(LANDSCAPE), "resolution": "480p", "duration": 1})
    other.create({"image_url": photos_srv.url(LANDSCAPE), "resolution": "480p", "duration": 1})
    evs = s.until(lambda e: e["data"]["id"] == g1["id"] and e["data"]["state"] in FINAL)
    assert evs[-1]["data"]["state"] == "succeeded"
    assert {e["data"]["id"] for e in evs} == {g1["id"]}, "only the caller's generations"
    seen = [e["data"]["state"] for e in evs]
    assert seen[0] in ("queued", "running") and seen[-1] == "succeeded"
    last = evs[-1]["id"]
    s.close()
    # away: a second one is created and finishes; on resuming it is sent
    # (its final state), the first one is not sent again
    g2 = c.create({"image_url": photos_srv.url(LANDSCAPE), "resolution": "480p", "duration": 1})
    c.wait(g2["id"])
    g3 = c.create({"image_url": photos_srv.url(f"slow/3/{LANDSCAPE}"), "resolution": "480p",
                   "duration": 1})
    s = c.stream(last_id=last, timeout=30)
    evs = s.until(lambda e: e["data"]["id"] == g3["id"] and e["data"]["state"] in FINAL)
    ids = [e["data"]["id"] for e in evs]
    assert g1["id"] not in ids, "a generation the client had seen was sent again"
    assert g2["id"] in ids
    assert [e["data"] for e in evs if e["data"]["id"] == g2["id"]] == [c.get(g2["id"])]
    assert evs[-1]["data"]["state"] == "succeeded"
    # a fresh stream (no Last-Event-ID) starts with the unfinished ones only
    g4 = c.create({"image_url": photos_srv.url(f"slow/3/{LANDSCAPE}"), "resolution": "480p",
                   "duration": 1})
    s2 = c.stream(timeout=30)
    ev = s2.next()
    assert ev["data"]["id"] == g4["id"]
    s2.close()
    s.close()
    c.wait(g4["id"])


def test_stream_limit_per_user(svc):
    c = Client(svc)
    streams = [c.stream(timeout=30) for _ in range(20)]
    assert all(s.status == 200 for s in streams)
    if isinstance(svc, Cluster):  # the limit is per process: fill the other one too
        streams += [c.stream(timeout=30) for _ in range(20)]
    r = requests.get(svc.base + API + "/events", timeout=10,
                     headers={"Authorization": "Bearer " + c.key})
    assert r.status_code == 429, r.text
    assert r.json()["error"]["code"] == "too_many_requests"
    for s in streams:
        s.close()
    # closed streams are given back (the hub notices within a heartbeat)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        r = requests.get(svc.base + API + "/events", timeout=10, stream=True,
                         headers={"Authorization": "Bearer " + c.key})
        code = r.status_code
        r.close()
        if code == 200:
            break
        time.sleep(0.3)
    assert code == 200


# --- 1,000 streams on one generation ---------------------------------------------------------

def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_a_thousand_streams_on_one_generation(i2v, tmp_path, photos_srv):
    """The server renders nothing (--workers 0; an `i2v worker` process on the
    same data directory does), so its memory is the streams'."""
    n = 1000
    s = Service(i2v, tmp_path / "data",
                extra=["--per-ip-limit", "0", "--connection-limit", "3000", "--workers", "0",
                       "--sse-per-user", str(n), "--sse-max-streams", str(n + 1),
                       "--http-threads", "2", "--sse-heartbeat", "5"]).start()
    w = Worker(i2v, tmp_path, "worker", ["--data", str(s.data), "--fetch-allow", "127.0.0.1/32",
                                         "--poll", "0.2"])
    try:
        c = Client(s)
        busy(s, c, photos_srv, seconds=4)
        g = c.create({"image_url": photos_srv.url(LANDSCAPE), "resolution": "480p",
                      "duration": 3})
        before = rss_kb(s.proc.pid)
        req = (f"GET {API}/generations/{g['id']}/events HTTP/1.1\r\nHost: x\r\n"
               f"Authorization: Bearer {c.key}\r\n\r\n").encode()
        sel = selectors.DefaultSelector()
        bufs = {}
        for _ in range(n):
            k = socket.create_connection(("127.0.0.1", s.port))
            k.sendall(req)
            k.setblocking(False)
            bufs[k] = bytearray()
            sel.register(k, selectors.EVENT_READ)
        # every stream has its first event, all are open together
        def pump(until, timeout):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and not until():
                for key, _ in sel.select(0.5):
                    data = key.fileobj.recv(65536)
                    if data:
                        bufs[key.fileobj] += data
                    else:
                        sel.unregister(key.fileobj)
        pump(lambda: all(b"event: generation" in b for b in bufs.values()), 60)
        assert all(b"event: generation" in b for b in bufs.values())
        assert all(b.startswith(b"HTTP/1.1 200") for b in bufs.values())
        opened = rss_kb(s.proc.pid)
        # a request served meanwhile, and the 1,001st stream of the user refused
        assert c.get(g["id"])["id"] == g["id"]
        r = requests.get(s.base + API + "/events", timeout=10,
                         headers={"Authorization": "Bearer " + c.key})
        assert r.status_code == 429
        pump(lambda: len(sel.get_map()) == 0, 180)  # the server ends every stream
        during = rss_kb(s.proc.pid)
        done = [b for b in bufs.values() if b'"state":"succeeded"' in b and b.endswith(b"0\r\n\r\n")]
        assert len(done) == n, f"{len(done)} of {n} streams got the final event and the end"
        growth_mb = (max(opened, during) - before) / 1024
        print(f"rss_kb before={before} open={opened} after={during} growth_mb={growth_mb:.1f}")
        assert growth_mb < 100, growth_mb
        for k in bufs:
            k.close()
    finally:
        assert w.stop() == 0
        assert s.stop() == 0
