"""Hostile input against the real `i2v serve` on loopback: URLs that try to
reach our own network, servers that misbehave, image bombs and broken
images, abusive HTTP clients, and Idempotency-Key replays. Each test checks
the outcome a client sees, the ledger, and that nothing reached a target it
must not reach."""
import concurrent.futures
import json
import pathlib
import socket
import threading
import time

import pytest
import requests

import bombs
from svc import LocalServer, Service, log_lines, stop_and_check_books

LANDSCAPE = "Bridge_by_Sander_Klootwijk.jpg"
DATA = pathlib.Path(__file__).resolve().parent / "data"


class Trap:
    """A dual-stack listener on [::]:port that counts every connection made to
    it, whatever loopback spelling reached it (127.x, 0.0.0.0, ::1)."""

    def __init__(self, port=0):
        try:
            self.sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind(("::", port))
        except OSError:  # a machine without IPv6: IPv4 only
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind(("0.0.0.0", port))
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
    lines = log_lines(svc.log_text, "job_failed", f"task_id={task_id} ")
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
                       "--per-ip-limit", "32", "--conn-timeout", "3", "--read-timeout", "3"]).start()
    yield s
    stop_and_check_books(s)


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
    # no bomb costs more memory than rendering a real photo (with slack for
    # the allocator; under ASan its quarantine keeps freed memory resident)
    assert peaks[worst] < normal * 1.25 + 32 * 1024, (worst, peaks[worst], normal)
    print(f"\nbombs: {len(files)} tried, {len(files)} failed with refunds; peak RSS "
          f"{peaks[worst] / 1024:.1f} MB at worst ({worst}) vs {normal / 1024:.1f} MB for a "
          f"real 4352x2448 photo")


# --- 3. the HTTP front door -------------------------------------------------------------

def raw_request(data, source="127.0.0.1", port=None, timeout=10):
    """Sends bytes on a new connection from source; returns what came back
    before the server closed it (or the timeout)."""
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    try:
        s.sendall(data)
    except OSError:
        pass
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except OSError:
        pass
    s.close()
    return out


def served(svc, user):
    """Another client, meanwhile: a health check and a real generate."""
    t0 = time.monotonic()
    assert requests.get(svc.base + "/healthz", timeout=5).status_code == 200
    r = user.v1_generate({"imageUrl": "http://127.0.0.2:1/x.jpg", "duration": 5,
                          "resolution": "480p"})
    assert r.status_code == 200 and r.json()["code"] == 0
    return time.monotonic() - t0


def test_body_limit_413_in_each_apis_shape(hsvc):
    user = hsvc.new_user(credits=100)
    big = {"imageUrl": "http://127.0.0.2/x.jpg", "duration": 5, "resolution": "480p",
           "prompt": "x" * 70000}
    r = user.v1_generate(big)
    assert r.status_code == 413 and r.json()["code"] == 1011
    assert "larger than 65536 bytes" in r.json()["message"]
    r = requests.post(hsvc.base + "/api/animation/v2/generate",
                      headers={"x-api-key": user.key}, data=json.dumps(big), timeout=10)
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    # the same without a Content-Length (chunked): cut off while reading
    chunks = (b"x" * 8192 for _ in range(20))
    r = requests.post(hsvc.base + "/api/v1/imageToVideo/generate",
                      headers={"APIKEY": user.key}, data=chunks, timeout=10)
    assert r.status_code == 413 and r.json()["code"] == 1011
    assert user.balance() == (100, 100)


def test_json_nesting_and_length_limits(hsvc):
    user = hsvc.new_user(credits=100)
    deep = "[" * 100 + "]" * 100
    r = requests.post(hsvc.base + "/api/v1/imageToVideo/generate",
                      headers={"APIKEY": user.key},
                      data='{"imageUrl": "http://127.0.0.2/x.jpg", "x": ' + deep + "}", timeout=10)
    assert r.status_code == 400 and "nested deeper than 32" in r.json()["message"]
    r = requests.post(hsvc.base + "/api/animation/v2/generate",
                      headers={"x-api-key": user.key}, data='{"a":' * 5000, timeout=10)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_request"
    long_url = "http://127.0.0.2/" + "a" * 3000
    r = user.v1_generate({"imageUrl": long_url, "duration": 5, "resolution": "480p"})
    assert r.status_code == 400 and "longer than 2048" in r.json()["message"]
    r = user.v1_generate({"imageUrl": "http://127.0.0.2/x.jpg", "duration": 5,
                          "resolution": "480p", "prompt": "p" * 2001})
    assert r.status_code == 400 and r.json()["message"].startswith("prompt: longer than 2000")
    assert user.balance() == (100, 100)


def test_megabyte_headers_are_refused_while_others_are_served(hsvc):
    user = hsvc.new_user(credits=1000)
    big = (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n")
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        answers = list(ex.map(lambda _: raw_request(big, port=hsvc.port), range(8)))
        took = served(hsvc, user)
    for a in answers:  # 431, or the connection closed without an answer
        assert a == b"" or a.split(b"\r\n", 1)[0].split(b" ")[1] in (b"431", b"413", b"400"), a[:80]
    many = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 20000 + b"\r\n"
    a = raw_request(many, port=hsvc.port)
    assert a == b"" or a.split(b" ")[1] in (b"431", b"413", b"400"), a[:80]
    assert hsvc.alive()
    print(f"\n1 MB headers: {len(answers)} refused; another client served in {took * 1000:.0f} ms")


def test_slow_headers_and_a_flood_do_not_stop_other_clients(hsvc):
    user = hsvc.new_user(credits=1000)
    # slow headers: 30 connections from 127.0.0.5, one header byte every 0.5 s
    slow = []
    for _ in range(30):
        s = socket.socket()
        s.bind(("127.0.0.5", 0))
        s.connect(("127.0.0.1", hsvc.port))
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        slow.append(s)
    # a flood: 300 connections from 127.0.0.6, held open and idle
    flood = []
    for _ in range(300):
        s = socket.socket()
        s.bind(("127.0.0.6", 0))
        s.settimeout(5)
        try:
            s.connect(("127.0.0.1", hsvc.port))
            flood.append(s)
        except OSError:
            s.close()
    # the per-address limit: beyond 32 connections, the server hangs up at once
    time.sleep(0.5)
    open_flood = 0
    for s in flood:
        s.setblocking(False)
        try:
            if s.recv(1) == b"":
                continue  # closed by the server
        except BlockingIOError:
            open_flood += 1
        except OSError:
            pass
    t0 = time.monotonic()
    times, closed_slow = [], set()
    while time.monotonic() - t0 < 8:
        for i, s in enumerate(slow):
            if i in closed_slow:
                continue
            try:
                s.sendall(b"X")
            except OSError:
                closed_slow.add(i)
        times.append(served(hsvc, user))
        time.sleep(0.5)
    # and the idle ones that were let in are dropped by the read deadline too
    still_open = 0
    for s in flood:
        try:
            if s.recv(1) != b"":
                still_open += 1
        except BlockingIOError:
            still_open += 1
        except OSError:
            pass
        s.close()
    for s in slow:
        s.close()
    assert 0 < open_flood <= 32, open_flood
    assert still_open == 0, still_open
    # slow clients are dropped by the connection timeout (3 s here)
    assert len(closed_slow) == len(slow), len(closed_slow)
    times.sort()
    assert times[-1] < 5
    print(f"\nfront door: {len(slow)} slow-header clients all dropped by the timeout; "
          f"{len(flood)} flood connections, {open_flood} kept (limit 32); other client served "
          f"{len(times)} times, median {times[len(times) // 2] * 1000:.0f} ms, "
          f"worst {times[-1] * 1000:.0f} ms")


# --- 5. idempotency keys ----------------------------------------------------------------

def v1_post(svc, user, body, key, raw=None):
    return requests.post(f"{svc.base}/api/v1/imageToVideo/generate",
                         headers={"APIKEY": user.key, "Content-Type": "application/json",
                                  "Idempotency-Key": key},
                         data=raw if raw is not None else json.dumps(body), timeout=30)


def v2_post(svc, user, body, key):
    body = dict(body, user_id=user.id)
    return requests.post(f"{svc.base}/api/animation/v2/generate",
                         headers={"x-api-key": user.key, "Content-Type": "application/json",
                                  "Idempotency-Key": key}, data=json.dumps(body), timeout=30)


def generations(svc, user):
    return svc.db().execute("SELECT COUNT(*) FROM generations WHERE user_id=?",
                            (user.id,)).fetchone()[0]


def test_idempotency_key_replays_the_first_answer(hsvc, photos2):
    user = hsvc.new_user(credits=1000)
    body = {"imageUrl": photos2.url("missing.jpg"), "duration": 5, "resolution": "480p"}
    first = v1_post(hsvc, user, body, "order-1")
    assert first.status_code == 200 and "Idempotent-Replayed" not in first.headers
    # the same JSON with other spacing and key order is the same request
    raw = json.dumps(dict(reversed(list(body.items()))), indent=2)
    for again in (v1_post(hsvc, user, body, "order-1"), v1_post(hsvc, user, None, "order-1", raw)):
        assert again.status_code == 200
        assert again.content == first.content
        assert again.headers["Idempotent-Replayed"] == "true"
    assert generations(hsvc, user) == 1
    # the generation fails (missing photo) and is refunded once; a replay
    # after that still gives the first answer and charges nothing
    assert user.wait_v1(first.json()["data"])["status"] == "Failed"
    assert v1_post(hsvc, user, body, "order-1").content == first.content
    assert user.balance() == (1000, 1000)
    # a different body with the key: 422, nothing created
    other = v1_post(hsvc, user, dict(body, duration=10), "order-1")
    assert other.status_code == 422 and other.json()["code"] == 1011
    assert other.json()["message"].startswith("Idempotency-Key: already used")
    # v2: remaining_videos is the one of the first answer, even later
    v2 = {"image_urls": [photos2.url("missing.jpg")], "option": "ZOOM_IN"}
    a = v2_post(hsvc, user, v2, "v2-1")
    v1_post(hsvc, user, dict(body, duration=10), "order-2")  # spends credits meanwhile
    b = v2_post(hsvc, user, v2, "v2-1")
    assert a.status_code == b.status_code == 200 and a.content == b.content
    c = v2_post(hsvc, user, dict(v2, option="ZOOM_OUT"), "v2-1")
    assert c.status_code == 422 and c.json()["error"]["code"] == "idempotency_key_reused"
    # the key is the user's: the v1 key on v2 is another request
    d = v2_post(hsvc, user, v2, "order-1")
    assert d.status_code == 422
    # bad keys are named
    for bad in ("x" * 256, "has space", ""):
        r = v1_post(hsvc, user, body, bad)
        if bad == "":  # an empty header is no header for some clients; i2v refuses it
            assert r.status_code == 400
        assert r.status_code == 400 and r.json()["message"].startswith("Idempotency-Key:")
    # a refused request does not take the key: fixed, it goes through
    r = v1_post(hsvc, user, dict(body, resolution="4k"), "order-3")
    assert r.status_code == 400
    assert v1_post(hsvc, user, body, "order-3").status_code == 200
    assert generations(hsvc, user) == 4


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_racing_requests_with_one_key_charge_once(hsvc, photos2, api):
    user = hsvc.new_user(credits=1000)
    post = v1_post if api == "v1" else v2_post
    body = ({"imageUrl": photos2.url("missing.jpg"), "duration": 5, "resolution": "480p"}
            if api == "v1" else {"image_urls": [photos2.url("missing.jpg")], "option": "PAN_UP"})
    for round_ in range(5):
        key = f"race-{api}-{round_}"
        barrier = threading.Barrier(16)

        def go(_):
            barrier.wait()
            return post(hsvc, user, body, key)
        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            answers = list(ex.map(go, range(16)))
        assert {a.status_code for a in answers} == {200}
        assert len({a.content for a in answers}) == 1, {a.content for a in answers}
        assert sum("Idempotent-Replayed" not in a.headers for a in answers) == 1
    assert generations(hsvc, user) == 5
    con = hsvc.db()
    charges = con.execute("SELECT COUNT(*) FROM ledger WHERE user_id=? AND kind='charge'",
                          (user.id,)).fetchone()[0]
    assert charges == 5


def test_idempotency_keys_are_kept_24_hours(hsvc, photos2):
    import sqlite3
    user = hsvc.new_user(credits=1000)
    body = {"imageUrl": photos2.url("missing.jpg"), "duration": 5, "resolution": "480p"}
    first = v1_post(hsvc, user, body, "day-1")
    con = sqlite3.connect(str(hsvc.data / "i2v.db"), timeout=10)
    now = int(time.time() * 1000)
    with con:
        con.execute("UPDATE idempotency SET created_ms=? WHERE user_id=?",
                    (now - (24 * 3600 - 60) * 1000, user.id))
    time.sleep(3)  # the reaper runs every 2 s
    assert v1_post(hsvc, user, body, "day-1").content == first.content
    with con:
        con.execute("UPDATE idempotency SET created_ms=? WHERE user_id=?",
                    (now - (24 * 3600 + 60) * 1000, user.id))
    time.sleep(3)
    gone = con.execute("SELECT COUNT(*) FROM idempotency WHERE user_id=?", (user.id,)).fetchone()
    assert gone == (0,)
    con.close()
    again = v1_post(hsvc, user, body, "day-1")
    assert again.status_code == 200 and again.content != first.content
    assert generations(hsvc, user) == 2


def test_every_body_of_the_corpus_gets_a_clean_answer(hsvc):
    """The request bodies the API fuzzer is seeded with, sent to both generate
    endpoints: each gets 200 or a 4xx in the API's own shape whose message
    names what is wrong, and nothing is charged for a refusal."""
    user = hsvc.new_user(credits=100000)
    lines = [l for l in (DATA / "api-bodies.jsonl").read_text().splitlines()
             if l and not l.startswith("#")]
    created = 0
    for line in lines:
        try:
            doc = json.loads(line)
        except ValueError:
            doc = None
        data = line
        if isinstance(doc, dict) and "image_urls" in doc:
            data = json.dumps(dict(doc, user_id=user.id))
        v1 = requests.post(f"{hsvc.base}/api/v1/imageToVideo/generate",
                           headers={"APIKEY": user.key}, data=data, timeout=10)
        v2 = requests.post(f"{hsvc.base}/api/animation/v2/generate",
                           headers={"x-api-key": user.key}, data=data, timeout=10)
        for r, api in ((v1, 1), (v2, 2)):
            assert r.status_code in (200, 400, 403), (api, line, r.status_code)
            j = r.json()
            if r.status_code == 200:
                created += 1
                continue
            msg = j["message"] if api == 1 else j["error"]["message"]
            assert ":" in msg and len(msg) > 10, (api, line, msg)
            if api == 1:
                assert j["code"] == 1011 and j["data"] is None
            else:
                assert j["error"]["code"] in ("invalid_request", "forbidden")
    con = hsvc.db()
    charges = con.execute("SELECT COUNT(*) FROM ledger WHERE user_id=? AND kind='charge'",
                          (user.id,)).fetchone()[0]
    assert charges == created
    assert hsvc.alive()
