"""Chaos: `kill -9` of the server at random moments while clients keep
submitting generations (with Idempotency-Keys, retried after each crash as a
careful client would), twenty times in a row; then the books are checked. And
a worker paused past its lease, resumed after another worker finished its
job: every write it tries is fenced."""
import hashlib
import json
import random
import signal
import subprocess
import threading
import time

import requests

from svc import LocalServer, Service

PHOTO = "Kleiber_by_Lukas_Baubkus.jpg"
ROUNDS = 20


class Client:
    """Submits generations in a loop with a fresh Idempotency-Key each; a
    request whose answer was lost (the server died) is kept and retried with
    the same key until it gets one."""

    def __init__(self, svc, user, photos, seed):
        self.svc, self.user, self.photos = svc, user, photos
        self.rng = random.Random(seed)
        self.answers = {}  # key -> (api, id)
        self.unanswered = {}  # key -> (api, body)
        self.n = 0
        self.stop = threading.Event()

    def body(self):
        kind = self.rng.choice(["v1", "v1", "v2", "v2-missing"])
        if kind == "v1":
            return "v1", {"imageUrl": self.photos.url(PHOTO), "duration": 5, "resolution": "480p"}
        photo = PHOTO if kind == "v2" else "missing.jpg"
        return "v2", {"image_urls": [self.photos.url(photo)], "option": "ZOOM_IN",
                      "format": "portrait", "webhook": self.photos.url("/hook/chaos"),
                      "user_id": self.user.id}

    def send(self, key, api, body):
        if api == "v1":
            r = requests.post(f"{self.svc.base}/api/v1/imageToVideo/generate",
                              headers={"APIKEY": self.user.key, "Idempotency-Key": key},
                              json=body, timeout=10)
            assert r.status_code == 200, r.text
            return r.json()["data"]
        r = requests.post(f"{self.svc.base}/api/animation/v2/generate",
                          headers={"x-api-key": self.user.key, "Idempotency-Key": key},
                          data=json.dumps(body), timeout=10)
        assert r.status_code == 200, r.text
        return r.json()["generation_id"]

    def retry_unanswered(self):
        for key, (api, body) in list(self.unanswered.items()):
            self.answers[key] = (api, self.send(key, api, body))
            del self.unanswered[key]

    def run(self):
        while not self.stop.is_set():
            self.n += 1
            key = f"chaos-{id(self)}-{self.n}"
            api, body = self.body()
            try:
                self.answers[key] = (api, self.send(key, api, body))
            except requests.RequestException:
                self.unanswered[key] = (api, body)
                return  # the server is gone; the test restarts it
            time.sleep(self.rng.uniform(0.05, 0.4))


def integrity(svc):
    con = svc.db()
    ok = con.execute("PRAGMA integrity_check").fetchone()[0]
    con.close()
    return ok


def test_kill_9_twenty_times_loses_nothing(i2v, tmp_path):
    photos = LocalServer()
    extra = ["--lease", "2", "--max-attempts", "6", "--workers", "2", "--webhook-retry", "0.3",
             "--poll", "0.1"]
    svc = Service(i2v, tmp_path / "data", extra=extra).start()
    user = svc.new_user(credits=10 ** 7)
    rng = random.Random(2026)
    client = Client(svc, user, photos, 7)
    kills = 0
    try:
        for _ in range(ROUNDS):
            client.retry_unanswered()
            t = threading.Thread(target=client.run)
            client.stop.clear()
            t.start()
            time.sleep(rng.uniform(0.3, 3.0))
            svc.proc.send_signal(signal.SIGKILL)
            svc.proc.wait()
            kills += svc.proc.returncode == -signal.SIGKILL
            client.stop.set()
            t.join()
            assert integrity(svc) == "ok"
            svc = Service(i2v, tmp_path / "data", extra=extra, port=svc.port).start()
            client.svc = svc
        client.retry_unanswered()
        assert kills == ROUNDS

        # every generation ends, none stuck
        con = svc.db()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            left = con.execute("SELECT COUNT(*) FROM generations WHERE state<2").fetchone()[0]
            if left == 0:
                break
            time.sleep(0.5)
        assert left == 0, f"{left} generations never finished"
        # every webhook delivered (the receiver saw each webhook-id)
        while time.monotonic() < deadline:
            undelivered = con.execute("SELECT COUNT(*) FROM deliveries WHERE state<>1").fetchone()[0]
            if undelivered == 0:
                break
            time.sleep(0.5)
        assert undelivered == 0
        seen = {h["headers"]["webhook-id"] for h in photos.hooks}
        want = {r[0] for r in con.execute("SELECT msg_id FROM deliveries")}
        assert want <= seen, want - seen

        # one generation per key, one charge per generation, a refund exactly
        # for the failed ones, and the balance is the ledger's sum
        gens = con.execute("SELECT id, state FROM generations WHERE user_id=?",
                           (user.id,)).fetchall()
        assert len(gens) == len(client.answers) == len(set(client.answers.values()))
        ledger = {}
        for gen, kind, n in con.execute("SELECT generation, kind, COUNT(*) FROM ledger"
                                        " WHERE generation IS NOT NULL GROUP BY 1, 2"):
            ledger[(gen, kind)] = n
        states = {"succeeded": 0, "failed": 0}
        for gid, state in gens:
            assert ledger.get((gid, "charge")) == 1
            assert ledger.get((gid, "refund"), 0) == (1 if state == 3 else 0)
            states["succeeded" if state == 2 else "failed"] += 1
        bal, total = user.balance()
        charged = con.execute("SELECT -SUM(amount) FROM ledger WHERE user_id=? AND kind='charge'",
                              (user.id,)).fetchone()[0]
        refunded = con.execute("SELECT COALESCE(SUM(amount),0) FROM ledger WHERE user_id=?"
                               " AND kind='refund'", (user.id,)).fetchone()[0]
        assert bal == total == 10 ** 7 - charged + refunded
        assert integrity(svc) == "ok"
        # a failure is the missing photo, or a job killed too often
        why = {"missing photo": 0, "attempts used up": 0}
        for (error,) in con.execute("SELECT error FROM generations WHERE state=3"):
            if "HTTP status 404" in error:
                why["missing photo"] += 1
            else:
                assert "lease expired" in error, error
                why["attempts used up"] += 1
        # the outputs of the successful ones are there
        for (out_key,) in con.execute("SELECT out_key FROM generations WHERE state=2"):
            assert (svc.data / "outputs" / f"{out_key}.mp4").stat().st_size > 1000
        con.close()
        print(f"\nchaos: {kills} kill -9 rounds survived; {len(gens)} generations "
              f"({states['succeeded']} succeeded, {states['failed']} failed and refunded: "
              f"{why['missing photo']} missing photo, {why['attempts used up']} killed 6 times), "
              f"{sum(1 for k in client.answers if k)} keys, {len(want)} webhooks delivered; "
              f"ledger: balance {bal} = sum {total} = topup - {charged} charged + {refunded} "
              f"refunded; integrity_check ok after every kill")
    finally:
        client.stop.set()
        svc.stop()
        photos.close()


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_paused_worker_is_fenced_by_its_lease(i2v, tmp_path):
    photos = LocalServer()
    data = tmp_path / "data"
    svc = Service(i2v, data, extra=["--workers", "0", "--lease", "2"]).start()
    workers = []

    def worker(name):
        log = open(tmp_path / f"{name}.log", "wb")
        p = subprocess.Popen([i2v, "worker", "--data", str(data), "--lease", "2", "--poll", "0.1",
                              "--fetch-allow", "127.0.0.1/32"], stdout=log, stderr=log)
        workers.append(p)
        return p

    def row():
        con = svc.db()
        r = con.execute("SELECT state, progress, attempts, out_key FROM generations").fetchone()
        con.close()
        return r

    def wait_for(cond, what, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cond():
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}: {row()}")

    try:
        user = svc.new_user(credits=100)
        r = user.v2_generate({"image_urls": [photos.url(PHOTO)], "option": "ZOOM_IN",
                              "duration": 10, "webhook": photos.url("/hook/fence")})
        gid = r.json()["generation_id"]
        a = worker("a")
        wait_for(lambda: row()[0] == 1 and row()[1] >= 10, "worker A to render")
        a.send_signal(signal.SIGSTOP)
        # the lease runs out; the reaper puts the job back; worker B does it
        wait_for(lambda: row()[0] == 0, "the lease to expire", 30)
        b = worker("b")
        wait_for(lambda: row()[0] == 2, "worker B to finish")
        state, progress, attempts, out_key = row()
        assert (state, progress, attempts) == (2, 100, 2)
        video = data / "outputs" / f"{out_key}.mp4"
        before = sha(video)
        b.send_signal(signal.SIGTERM)
        b.wait(timeout=30)
        # A wakes up and tries to carry on: its lease is gone
        a.send_signal(signal.SIGCONT)
        wait_for(lambda: "event=lease_lost" in (tmp_path / "a.log").read_text(), "A to notice",
                 60)
        time.sleep(1)
        assert row() == (state, progress, attempts, out_key)
        assert sha(video) == before
        assert sorted(p.name for p in (data / "outputs").iterdir()) == sorted(
            [f"{out_key}.mp4", f"{out_key}.jpg"])
        con = svc.db()
        kinds = [k for (k,) in con.execute("SELECT kind FROM ledger WHERE generation IS NOT NULL")]
        assert kinds == ["charge"]
        assert user.balance() == (60, 60)  # 10 s on v2: 40 credits, charged once
        con.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not photos.hooks:
            time.sleep(0.1)
        time.sleep(1)
        assert len(photos.hooks) == 1
        assert json.loads(photos.hooks[0]["body"])["data"]["generation_id"] == gid
        assert user.wait_v2(gid)["status"] == "SUCCEEDED"
    finally:
        for p in workers:
            if p.poll() is None:
                p.send_signal(signal.SIGCONT)
                p.kill()
                p.wait()
        svc.stop()
        photos.close()
