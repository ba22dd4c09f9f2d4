"""Scale-out end to end: `i2v serve` and `i2v worker` processes that share
nothing but a real PostgreSQL 15 (started here, tests/pg/pgserver.py) and a
real S3-compatible server that checks SigV4 signatures (@20minutes/s3rver,
tests/s3/s3server.py). Two API servers answer for the same generations,
workers without a data directory render them, outputs are served as 302s to
presigned URLs (or streamed with --blob-proxy on), LISTEN/NOTIFY wakes idle
workers, and PostgreSQL or S3 going away loses nothing."""
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest
import requests

from svc import (LocalServer, PgDb, Service, Worker, ffprobe, free_port, log_lines,
                 log_ms)

from conftest import fresh_database, fresh_prefix

PHOTO = "Bridge_by_Sander_Klootwijk.jpg"


def worker(binary, tmp, name, backend, public_url, extra=()):
    """An `i2v worker` with only --store and --blobs (no data directory)."""
    return Worker(binary, tmp, name, ["--fetch-allow", "127.0.0.1/32", "--public-url",
                                      public_url, "--webhook-retry", "0.3", "--lease", "5"] +
                  backend + list(extra))


def lines(text, event, key=None, value=None):
    out = [ln for ln in text.splitlines() if f"event={event} " in ln + " "]
    if key:
        out = [ln for ln in out if f" {key}={value}" in ln + " "]
    return out


def wait_until(cond, what, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def books_balance(url):
    """balance = SUM(ledger) for every user, read from PostgreSQL itself."""
    db = PgDb(url)
    rows = db.execute("SELECT u.id, u.balance, COALESCE(SUM(l.amount), 0) FROM users u "
                      "LEFT JOIN ledger l ON l.user_id = u.id GROUP BY u.id, u.balance").fetchall()
    db.close()
    assert rows
    for uid, bal, total in rows:
        assert int(bal) == int(total) >= 0, uid


@pytest.fixture
def backend(pg, s3, tmp_path):
    # every test gets its own schema-free database state: a fresh database
    return ["--store", fresh_database(pg), "--blobs", fresh_prefix(s3)]


def serve(i2v, tmp, name, backend, extra=()):
    return Service(i2v, tmp / name, backend=backend,
                   extra=["--workers", "0"] + list(extra)).start()


def test_two_servers_and_two_workers_share_only_postgres_and_s3(i2v, pg, s3, photos_srv,
                                                                  tmp_path, backend):
    a = serve(i2v, tmp_path, "a", backend)
    b = serve(i2v, tmp_path, "b", backend, ["--public-url", a.base])
    workers = [worker(i2v, tmp_path, f"w{i}", backend, a.base) for i in (1, 2)]
    try:
        user = a.new_user(credits=1000)
        user_b = type(user)(b, user.id, user.key, user.secret)
        tasks, gens = [], []
        for i in range(3):
            r = user.v1_generate({"imageUrl": photos_srv.url(PHOTO), "duration": 5,
                                  "resolution": "480p", "prompt": "slow zoom in"})
            assert r.status_code == 200, r.text
            tasks.append(r.json()["data"])
        for i in range(3):
            r = user_b.v2_generate({"image_urls": [photos_srv.url(PHOTO)], "option": "PAN_LEFT",
                                    "webhook": photos_srv.url(f"/hook/scale{i}")})
            assert r.status_code == 200, r.text
            gens.append(r.json()["generation_id"])
        # each read through the other server
        done = [user_b.wait_v1(t, timeout=300) for t in tasks]
        assert all(d["status"] == "Success" for d in done), done
        ans = [user.wait_v2(g, timeout=300) for g in gens]
        assert all(x["status"] == "SUCCEEDED" for x in ans), ans
        # output links are A's (the public URL), and any server redirects to S3
        url = done[0]["output"]["resultUrl"]
        assert url.startswith(a.base + "/v/")
        for base in (a.base, b.base):
            r = requests.get(base + url[len(a.base):], allow_redirects=False, timeout=30)
            assert r.status_code == 302, r.text
            loc = r.headers["Location"]
            assert loc.startswith(s3.endpoint) and "X-Amz-Signature=" in loc
        r = requests.get(url, timeout=60)  # follows the 302 to the presigned URL
        assert r.status_code == 200 and r.content[4:8] == b"ftyp"
        (tmp_path / "v.mp4").write_bytes(r.content)
        v = [s for s in ffprobe(tmp_path / "v.mp4")["streams"] if s["codec_type"] == "video"][0]
        assert (v["width"], v["height"]) == (854, 480) and int(v["nb_frames"]) == 150
        # the v2 URLs too
        r = requests.get(ans[0]["urls"][0], timeout=60)
        assert r.status_code == 200 and r.content[4:8] == b"ftyp"
        # every generation rendered exactly once, by the two workers between them
        done_lines = log_lines(lambda: "\n".join(w.text() for w in workers), "job_succeeded",
                               n=6)
        assert len(done_lines) == 6, done_lines
        # no data directory: the workers' working directories stay empty
        for w in workers:
            assert list(w.dir.iterdir()) == []
        # one webhook per v2 generation, although four processes run notifiers
        def hooks():
            return [h for h in photos_srv.hooks if h["name"].startswith("scale")]
        wait_until(lambda: len(hooks()) >= 3, "three webhooks", 60)
        time.sleep(1.5)
        hooks = hooks()
        assert len(hooks) == 3
        assert len({h["headers"]["webhook-id"] for h in hooks}) == 3
        for h in hooks:
            body = json.loads(h["body"])
            assert body["data"]["urls"][0].startswith(a.base + "/v/")
        # the books, in PostgreSQL itself
        books_balance(backend[1])
        assert user.balance() == (1000 - 3 * 10 - 3 * 20,) * 2
        q = a.admin("queue").stdout
        assert "queued=0 running=0 succeeded=6 failed=0" in q, q
    finally:
        for w in workers:
            assert w.stop() == 0
        assert a.stop() == 0 and b.stop() == 0


def test_an_idle_worker_is_woken_by_notify(i2v, pg, s3, photos_srv, tmp_path, backend):
    a = serve(i2v, tmp_path, "a", backend)
    # polling every 30 s: only the notification can make the claim quick
    w = worker(i2v, tmp_path, "w", backend, a.base, ["--poll", "30"])
    try:
        user = a.new_user(credits=1000)
        wait_until(lambda: "event=worker_started" in w.text(), "the worker", 30)
        time.sleep(2)  # idle: its first poll is long done
        delays = []
        for i in range(3):
            r = user.v1_generate({"imageUrl": photos_srv.url(PHOTO), "duration": 5, "resolution": "480p"})
            task = r.json()["data"]
            wait_until(lambda: lines(w.text(), "job_started", "task_id", task), "the claim", 20)
            queued = lines(a.log_text(), "job_queued", "task_id", task)[0]
            started = lines(w.text(), "job_started", "task_id", task)[0]
            delays.append(log_ms(started) - log_ms(queued))
            user.wait_v1(task, timeout=120)
            time.sleep(1)
        print(f"\nNOTIFY wake-up: queued -> claimed in {delays} ms")
        assert max(delays) < 1000, delays
    finally:
        assert w.stop() == 0
        assert a.stop() == 0


def test_blob_proxy_streams_ranges_from_s3(i2v, pg, s3, photos_srv, tmp_path, backend):
    a = serve(i2v, tmp_path, "a", backend, ["--blob-proxy", "on"])
    w = worker(i2v, tmp_path, "w", backend, a.base)
    try:
        user = a.new_user(credits=100)
        task = user.v1_generate({"imageUrl": photos_srv.url(PHOTO), "duration": 5, "resolution": "480p"}
                                ).json()["data"]
        url = user.wait_v1(task, timeout=300)["output"]["resultUrl"]
        whole = requests.get(url, allow_redirects=False, timeout=60)
        assert whole.status_code == 200 and whole.headers["Content-Type"] == "video/mp4"
        assert whole.content[4:8] == b"ftyp"
        etag = whole.headers["ETag"]
        part = requests.get(url, headers={"Range": "bytes=100-1099"}, timeout=30)
        assert part.status_code == 206
        assert part.headers["Content-Range"] == f"bytes 100-1099/{len(whole.content)}"
        assert part.content == whole.content[100:1100]
        assert requests.get(url, headers={"If-None-Match": etag}, timeout=30).status_code == 304
        cover = requests.get(url[:-4] + ".jpg", timeout=30)
        assert cover.status_code == 200 and cover.content[:2] == b"\xff\xd8"
        missing = requests.get(a.base + "/v/" + "0" * 32 + ".mp4", timeout=30)
        assert missing.status_code == 404
    finally:
        assert w.stop() == 0
        assert a.stop() == 0


def test_postgres_restart_gives_retryable_errors_and_loses_nothing(i2v, pg, s3, photos_srv,
                                                                    tmp_path, backend):
    a = serve(i2v, tmp_path, "a", backend)
    w = worker(i2v, tmp_path, "w", backend, a.base)
    try:
        user = a.new_user(credits=1000)
        # a render in flight while the database goes away
        long = user.v1_generate({"imageUrl": photos_srv.url(PHOTO), "duration": 10,
                                 "resolution": "720p", "modelType": "Base"}).json()["data"]
        wait_until(lambda: lines(w.text(), "job_started", "task_id", long), "the render", 60)
        pg.stop()
        try:
            r = user.v1_generate({"imageUrl": photos_srv.url(PHOTO), "duration": 5, "resolution": "480p"})
            assert r.status_code == 503 and r.json()["code"] == 1003, r.text
            r = user.v1_result(long)
            assert r.status_code == 503 and r.json()["code"] == 1003, r.text
            r = user.v2_get("6f0c9b3e-1111-4222-8333-944445555666")
            assert r.status_code == 503, r.text
            assert r.json()["error"]["code"] == "service_unavailable"
            time.sleep(3)
            assert a.alive() and w.proc.poll() is None
        finally:
            pg.start()
        # connections are re-made: within a few seconds requests succeed again
        deadline, ok = time.monotonic() + 30, None
        while time.monotonic() < deadline:
            r = user.v1_generate({"imageUrl": photos_srv.url(PHOTO), "duration": 5, "resolution": "480p"},
                                 headers={"Idempotency-Key": "after-restart"})
            if r.status_code == 200:
                ok = r.json()["data"]
                break
            assert r.status_code == 503, r.text
            time.sleep(0.5)
        assert ok, "no successful create within 30 s of the restart"
        assert user.wait_v1(long, timeout=300)["status"] == "Success"
        assert user.wait_v1(ok, timeout=300)["status"] == "Success"
        books_balance(backend[1])
        assert user.balance()[0] == 1000 - 32 - 10  # Base 720p 10 s, Flash 480p 5 s
    finally:
        assert w.stop() == 0
        assert a.stop() == 0


def test_s3_away_then_back_loses_nothing(i2v, pg, s3, photos_srv, tmp_path, backend):
    a = serve(i2v, tmp_path, "a", backend)
    w = worker(i2v, tmp_path, "w", backend, a.base)
    try:
        user = a.new_user(credits=1000)
        first = user.v1_generate({"imageUrl": photos_srv.url(PHOTO), "duration": 5, "resolution": "480p"}
                                 ).json()["data"]
        first_url = user.wait_v1(first, timeout=300)["output"]["resultUrl"]
        s3.stop()
        try:
            task = user.v1_generate({"imageUrl": photos_srv.url(PHOTO), "duration": 5, "resolution": "480p"}
                                    ).json()["data"]
            wait_until(lambda: lines(w.text(), "blob_put_retrying", "task_id", task),
                       "the put to fail", 120)
            r = requests.get(first_url, allow_redirects=False, timeout=60)
            assert r.status_code == 503, r.text  # the object cannot be looked up
            assert user.v1_result(task).json()["data"]["status"] == "Processing"
            time.sleep(2)
        finally:
            s3.start()
        data = user.wait_v1(task, timeout=120)
        assert data["status"] == "Success"
        assert lines(w.text(), "blob_put_resumed", "task_id", task)
        r = requests.get(data["output"]["resultUrl"], timeout=60)
        assert r.status_code == 200 and r.content[4:8] == b"ftyp"
        books_balance(backend[1])
        assert user.balance()[0] == 1000 - 20
    finally:
        assert w.stop() == 0
        assert a.stop() == 0


def test_kill_9_worker_on_postgres_is_completed_by_another(i2v, pg, s3, photos_srv, tmp_path,
                                                          backend):
    a = serve(i2v, tmp_path, "a", backend)
    w1 = worker(i2v, tmp_path, "w1", backend, a.base)
    w2 = None
    try:
        user = a.new_user(credits=100)
        task = user.v1_generate({"imageUrl": photos_srv.url(PHOTO), "duration": 10,
                                 "resolution": "720p"}).json()["data"]
        wait_until(lambda: lines(w1.text(), "job_started", "task_id", task), "w1", 60)
        time.sleep(1)
        w1.proc.send_signal(signal.SIGKILL)
        w1.proc.wait()
        w2 = worker(i2v, tmp_path, "w2", backend, a.base)
        data = user.wait_v1(task, timeout=300)
        assert data["status"] == "Success"
        assert log_lines(w2.text, "job_succeeded", f"task_id={task} ")
        db = PgDb(backend[1])
        rows = db.execute("SELECT kind, amount FROM ledger WHERE generation IS NOT NULL").fetchall()
        db.close()
        assert [(k, int(v)) for k, v in rows] == [("charge", -40)]
        books_balance(backend[1])
    finally:
        w1.stop()
        if w2:
            assert w2.stop() == 0
        assert a.stop() == 0


def test_bad_store_and_blob_urls_fail_with_one_line(i2v, s3, tmp_path):
    port = free_port()
    secret = os.environ["AWS_SECRET_ACCESS_KEY"]
    cases = [
        (["--store", f"postgres://i2v@127.0.0.1:{port}/nothing"], "store"),
        (["--store", "mysql://x"], "store"),
        (["--blobs", f"s3://bucket?endpoint=http://127.0.0.1:{port}&path_style=1"], "blobs"),
        (["--blobs", "s3://"], "blobs"),
        (["--blobs", "ftp://x"], "blobs"),
    ]
    for args, word in cases:
        for cmd in (["serve", "--listen", f"127.0.0.1:{free_port()}"], ["worker"], ["admin", "queue"]):
            r = subprocess.run([i2v] + cmd + ["--data", str(tmp_path / "d")] + args,
                               capture_output=True, text=True, timeout=60)
            assert r.returncode != 0, (cmd, args, r.stderr)
            err = [ln for ln in r.stderr.splitlines() if ln.startswith("i2v ")]
            assert len(err) == 1 and word in err[0], (cmd, args, r.stderr)
            assert secret not in r.stderr + r.stdout
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    r = subprocess.run([i2v, "worker", "--blobs", s3.url, "--data", str(tmp_path / "d")],
                       capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode != 0 and "AWS_ACCESS_KEY_ID" in r.stderr, r.stderr
    env["AWS_ACCESS_KEY_ID"] = os.environ["AWS_ACCESS_KEY_ID"]
    env["AWS_SECRET_ACCESS_KEY"] = "wrong" + secret
    r = subprocess.run([i2v, "worker", "--blobs", s3.url, "--data", str(tmp_path / "d")],
                       capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode != 0 and "denied" in r.stderr, r.stderr
    assert secret not in r.stderr


class ClusterClient:
    """Submits generations with a fresh Idempotency-Key each, alternating
    between the API servers; a request without an answer (the server was
    killed, or answered 503 while PostgreSQL restarted) is kept and retried
    with the same key until it gets one."""

    def __init__(self, cluster, user, photos, seed):
        import random
        self.cluster, self.user, self.photos = cluster, user, photos
        self.rng = random.Random(seed)
        self.answers = {}  # key -> (api, id)
        self.unanswered = {}  # key -> (api, body)
        self.n = 0
        self.stop = __import__("threading").Event()

    def body(self):
        kind = self.rng.choice(["v1", "v1", "v2", "v2-missing"])
        if kind == "v1":
            return "v1", {"imageUrl": self.photos.url(PHOTO), "duration": 5,
                          "resolution": "480p"}
        photo = PHOTO if kind == "v2" else "missing.jpg"
        return "v2", {"image_urls": [self.photos.url(photo)], "option": "ZOOM_IN",
                      "webhook": self.photos.url("/hook/chaos"), "user_id": self.user.id}

    def send(self, key, api, body):
        base = self.cluster.base
        if api == "v1":
            r = requests.post(f"{base}/api/v1/imageToVideo/generate",
                              headers={"APIKEY": self.user.key, "Idempotency-Key": key},
                              json=body, timeout=15)
        else:
            r = requests.post(f"{base}/api/animation/v2/generate",
                              headers={"x-api-key": self.user.key, "Idempotency-Key": key},
                              data=json.dumps(body), timeout=15)
        if r.status_code == 503:
            raise requests.ConnectionError("503: " + r.text)
        assert r.status_code == 200, r.text
        return r.json()["data"] if api == "v1" else r.json()["generation_id"]

    def retry_unanswered(self):
        for key, (api, body) in list(self.unanswered.items()):
            try:
                self.answers[key] = (api, self.send(key, api, body))
                del self.unanswered[key]
            except requests.RequestException:
                pass

    def run(self):
        while not self.stop.is_set():
            self.retry_unanswered()
            self.n += 1
            key = f"chaos-{self.n}"
            api, body = self.body()
            try:
                self.answers[key] = (api, self.send(key, api, body))
            except requests.RequestException:
                self.unanswered[key] = (api, body)
            time.sleep(self.rng.uniform(0.1, 0.5))


def test_chaos_on_postgres_and_s3_loses_nothing(i2v, pg, s3, tmp_path):
    """SIGKILL of random workers and API servers 20 times during a stream of
    generations with Idempotency-Keys; PostgreSQL restarted in immediate mode
    twice; the S3 server stopped for 10 s. Then the books."""
    import random
    import threading
    from svc import Cluster
    photos = LocalServer()
    store, blobs = fresh_database(pg), fresh_prefix(s3)
    cluster = Cluster(i2v, tmp_path / "c", store, blobs,
                      extra=["--lease", "2", "--max-attempts", "6"]).start()
    user = cluster.new_user(credits=10 ** 7)
    rng = random.Random(12)
    client = ClusterClient(cluster, user, photos, 5)
    t = threading.Thread(target=client.run)
    t.start()
    kills = {"serve": 0, "worker": 0}
    try:
        for round_ in range(20):
            time.sleep(rng.uniform(0.5, 2.5))
            if round_ in (6, 13):
                pg.stop(mode="immediate")
                pg.start()
            if round_ == 9:
                s3.stop()
                time.sleep(10)
                s3.start()
            if rng.random() < 0.4:
                s = rng.choice(cluster.servers)
                s.proc.send_signal(signal.SIGKILL)
                s.proc.wait()
                s.log.close()
                s.start()
                kills["serve"] += 1
            else:
                w = rng.choice(cluster.live_workers())
                i = cluster.workers.index(w)
                w.proc.send_signal(signal.SIGKILL)
                w.proc.wait()
                w.log.close()
                cluster.start_worker(i)
                kills["worker"] += 1
        client.stop.set()
        t.join()
        deadline = time.monotonic() + 120
        while client.unanswered and time.monotonic() < deadline:
            client.retry_unanswered()
            time.sleep(0.5)
        assert not client.unanswered
        db = PgDb(store)
        deadline = time.monotonic() + 400
        while time.monotonic() < deadline:
            left = db.execute("SELECT COUNT(*) FROM generations WHERE state < 2").fetchone()[0]
            undelivered = db.execute(
                "SELECT COUNT(*) FROM deliveries WHERE state <> 1").fetchone()[0]
            if left == 0 and undelivered == 0:
                break
            time.sleep(1)
        assert left == 0, f"{left} generations never finished"
        assert undelivered == 0, f"{undelivered} webhooks not delivered"
        seen = [h["headers"]["webhook-id"] for h in photos.hooks if h["status"] == 200]
        want = {r[0] for r in db.execute("SELECT msg_id FROM deliveries").fetchall()}
        assert want <= set(seen), want - set(seen)
        gens = db.execute("SELECT id, state, error, out_key, uuid, task_id FROM generations "
                          "WHERE user_id = ?", (user.id,)).fetchall()
        assert len(gens) == len(client.answers) == len(set(client.answers.values()))
        ledger = {}
        for gen, kind, n in db.execute("SELECT generation, kind, COUNT(*) FROM ledger "
                                       "WHERE generation IS NOT NULL GROUP BY 1, 2").fetchall():
            ledger[(gen, kind)] = n
        counts = {2: 0, 3: 0}
        for gid, state, error, out_key, uuid, task_id in gens:
            assert ledger.get((gid, "charge")) == 1
            assert ledger.get((gid, "refund"), 0) == (1 if state == 3 else 0)
            counts[state] += 1
            if state == 3:
                assert "HTTP status 404" in error or "lease expired" in error, error
        books_balance(store)
        # every successful output is downloadable through its URL
        ok = 0
        for gid, state, error, out_key, uuid, task_id in gens:
            if state == 2:
                r = requests.get(f"{cluster.public}/v/{out_key}.mp4", timeout=60)
                assert r.status_code == 200 and r.content[4:8] == b"ftyp", out_key
                ok += 1
        db.close()
        print(f"\nchaos on PostgreSQL + S3: {kills['serve']} API servers and {kills['worker']} "
              f"workers killed, PostgreSQL restarted twice (immediate), S3 away 10 s; "
              f"{len(gens)} generations ({counts[2]} succeeded, all downloadable; {counts[3]} "
              f"failed and refunded once), {len(want)} webhooks delivered")
    finally:
        client.stop.set()
        t.join()
        cluster.stop()
        photos.close()
