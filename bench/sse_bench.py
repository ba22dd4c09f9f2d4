"""Live progress (Server-Sent Events) under load, on this machine.

1. Seed API status polls (v1 GET result, with wrk) on an `i2v serve`
   (SQLite, no in-process worker) with no live progress stream open, and with
   1,000 streams open on one queued generation (the hub reads the store every
   --sse-poll, heartbeats flow). Runs alternate (0, 1000, 0, 1000, ...); the
   median of each, and the ratio.
2. Progress-to-client latency: 1,000 streams follow a generation rendered by
   a separate `i2v worker --log-level debug` process on the same data
   directory. For every progress value the worker stored, its job_progress
   log line's time against the arrival time of the event with that progress
   on each stream (same machine, same clock): median and p99 over all
   streams and events.

    /usr/bin/python3 bench/sse_bench.py [--runs 3] [--seconds 5] [--streams 1000]
"""
import argparse
import json
import pathlib
import re
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
sys.path.insert(0, str(ROOT / "bench"))
from http_bench import wrk  # noqa: E402
from svc import LocalServer, Service, log_ms  # noqa: E402

PHOTO = "Kleiber_by_Lukas_Baubkus.jpg"
API = "/api/i2v/v1"


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


class Streams:
    """n SSE streams on one generation over raw sockets, read by one thread;
    every event's arrival (wall clock, ms) and progress are recorded."""

    def __init__(self, port, key, gid, n):
        self.sel = selectors.DefaultSelector()
        self.buf, self.events, self.stop = {}, {}, False
        req = (f"GET {API}/generations/{gid}/events HTTP/1.1\r\nHost: x\r\n"
               f"Authorization: Bearer {key}\r\n\r\n").encode()
        for _ in range(n):
            k = socket.create_connection(("127.0.0.1", port))
            k.sendall(req)
            k.setblocking(False)
            self.buf[k], self.events[k] = b"", []
            self.sel.register(k, selectors.EVENT_READ)
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(self.events.values()):
            time.sleep(0.05)
        got = sum(1 for v in self.events.values() if v)
        assert got == n, f"{got} of {n} streams got their first event"

    def run(self):
        while not self.stop and self.sel.get_map():
            for key, _ in self.sel.select(0.2):
                k = key.fileobj
                data = k.recv(65536)
                now = time.time() * 1000
                if not data:
                    self.sel.unregister(k)
                    continue
                self.buf[k] += data
                for m in re.finditer(rb'data: (\{.*?\})\n\n', self.buf[k]):
                    g = json.loads(m.group(1))
                    self.events[k].append((now, g["state"], g["progress"]))
                self.buf[k] = self.buf[k][self.buf[k].rfind(b"\n\n") + 2:] \
                    if b"\n\n" in self.buf[k] else self.buf[k]

    def close(self):
        self.stop = True
        self.t.join()
        for k in self.buf:
            k.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--streams", type=int, default=1000)
    ap.add_argument("--binary", default=str(ROOT / "build" / "i2v"))
    a = ap.parse_args()
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="i2v-sse-bench-"))
    photos = LocalServer()
    svc = Service(a.binary, tmp / "data",
                  extra=["--per-ip-limit", "0", "--connection-limit", "4096", "--workers", "0",
                         "--sse-per-user", str(a.streams + 10), "--log-requests", "off"]).start()
    user = svc.new_user(credits=10 ** 9)
    # part 1: polls of a generation while others' streams follow a queued one
    tid = user.v1_generate({"imageUrl": photos.url(PHOTO), "duration": 5,
                            "resolution": "480p"}).json()["data"]
    queued = requests_json(svc, user, "POST", "/generations",
                           {"image_url": photos.url(PHOTO), "resolution": "480p"})["id"]
    poll = f"{svc.base}/api/v1/imageToVideo/result?taskId={tid}"
    res = {0: [], a.streams: []}
    for _ in range(a.runs):
        for n in (0, a.streams):
            s = Streams(svc.port, user.key, queued, n) if n else None
            res[n].append(wrk(poll, a.seconds, a.connections, 2,
                              headers=[f"APIKEY: {user.key}"]))
            if s:
                s.close()
            time.sleep(1)
    print(f"seed API v1 polls, {a.runs} runs of {a.seconds} s, {a.connections} connections, "
          "median:")
    med = {}
    for n, runs in res.items():
        med[n] = {k: statistics.median(r[k] for r in runs) for k in ("rps", "p50", "p99")}
        print(f"  {n:5d} streams open: {med[n]['rps']:9.0f} req/s  p50 {med[n]['p50']:.2f} ms"
              f"  p99 {med[n]['p99']:.2f} ms  (runs: "
              + ", ".join(f"{r['rps']:.0f}" for r in runs) + ")")
    print(f"  ratio req/s {a.streams}/0: {med[a.streams]['rps'] / med[0]['rps']:.3f}"
          f"   ratio p99: {med[a.streams]['p99'] / med[0]['p99']:.3f}")
    requests_json(svc, user, "POST", f"/generations/{queued}/cancel")

    # part 2: progress to client, a worker in another process
    log_path = tmp / "worker.log"
    log = open(log_path, "ab")
    w = subprocess.Popen([a.binary, "worker", "--data", str(svc.data), "--fetch-allow",
                          "127.0.0.1/32", "--poll", "0.2", "--log-level", "debug"],
                         stdout=log, stderr=log)
    busy = requests_json(svc, user, "POST", "/generations",
                         {"image_url": photos.url("slow/3/" + PHOTO), "resolution": "480p",
                          "duration": 1})["id"]
    gid = requests_json(svc, user, "POST", "/generations",
                        {"image_url": photos.url(PHOTO), "resolution": "1080p",
                         "duration": 10})
    s = Streams(svc.port, user.key, gid["id"], a.streams)
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline and any(
            not ev or ev[-1][1] not in ("succeeded", "failed") for ev in s.events.values()):
        time.sleep(0.2)
    s.close()
    w.terminate()
    w.wait()
    log.close()
    logged = {}
    for ln in log_path.read_text().splitlines():
        if "event=job_progress " in ln and f"task_id={gid['task_id']} " in ln:
            p = int(re.search(r"progress=(\d+)", ln).group(1))
            logged.setdefault(p, log_ms(ln))
    lat = []
    for evs in s.events.values():
        for t, state, p in evs:
            if state == "running" and p in logged:
                lat.append(t - logged[p])
    ends = sum(1 for evs in s.events.values() if evs and evs[-1][1] == "succeeded")
    print(f"progress to client: {len(logged)} progress values logged by the worker, "
          f"{len(lat)} events matched on {a.streams} streams ({ends} saw the success)")
    print(f"  latency ms: median {statistics.median(lat):.0f}  p90 {pct(lat, 90):.0f}"
          f"  p99 {pct(lat, 99):.0f}  max {max(lat):.0f}  (--sse-poll 0.2)")
    del busy
    svc.stop()
    photos.close()


def requests_json(svc, user, method, path, body=None):
    import requests
    r = requests.request(method, svc.base + API + path, json=body, timeout=30,
                         headers={"Authorization": "Bearer " + user.key})
    assert r.status_code in (200, 201, 202), r.text
    return r.json()


if __name__ == "__main__":
    main()
