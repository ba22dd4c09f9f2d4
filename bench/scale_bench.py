"""The job store under load: SQLite (the embedded default) against
PostgreSQL, in the same invocation, on this machine.

1. Status polls (v1 GET result) and creates (v1 POST generate) with wrk, on
   an idle server and (polls) while a 1080p 10 s Base render runs, for an
   `i2v serve` on each store; /healthz on the same server is the HTTP floor.
2. Create-to-claim latency: a separate `i2v worker` process learns of new
   work by polling on SQLite (--poll 1, the default) and by LISTEN/NOTIFY on
   PostgreSQL (with --poll 30, so that only the notification can be quick).
   From the logs: job_queued (the API server) to job_started (the worker).
3. Queue overhead with tiny generations (128x128, 1 s): N copies of one
   generation are put in PostgreSQL's queue at once and drained by 1, 2, 4
   and 8 worker processes. Reported: jobs/s, and per job the time between a
   worker's claim and its finish (finished_ms - started_ms from the store)
   against the same render alone (`i2v render` of the same photo at the same
   size, the floor), and from the workers' job_succeeded lines where that time
   went: what is neither the download, the plan nor the render is what the
   queue costs a job (lease renewal, put, finish, bookkeeping).

    /usr/bin/python3 bench/scale_bench.py [--runs 3] [--seconds 5] [--jobs 48]
"""
import argparse
import os
import pathlib
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
sys.path.insert(0, str(ROOT / "tests" / "pg"))
sys.path.insert(0, str(ROOT / "bench"))
from http_bench import median_runs, wrk  # noqa: E402
from pgserver import PgServer  # noqa: E402
from svc import LocalServer, PgDb, Service, fresh_database, log_ms  # noqa: E402

PHOTO = "Kleiber_by_Lukas_Baubkus.jpg"


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def event_ms(text, event, task):
    for ln in text.splitlines():
        if f"event={event} " in ln and f"task_id={task} " in ln + " ":
            return log_ms(ln)
    return None


def new_database(pg):
    return fresh_database(pg.url)


def http_part(binary, tmp, photos, store, a, label):
    backend = ["--store", store] if store else []
    svc = Service(binary, tmp / f"http-{label}", backend=backend,
                  extra=["--per-ip-limit", "0", "--workers", "1"]).start()
    user = svc.new_user(credits=10 ** 9)
    photo = photos.url(PHOTO)
    tid = user.v1_generate({"imageUrl": photo, "duration": 5, "resolution": "480p"}).json()["data"]
    user.wait_v1(tid, timeout=300)
    poll = f"{svc.base}/api/v1/imageToVideo/result?taskId={tid}"
    create_lua = tmp / f"create-{label}.lua"
    body = '{"imageUrl":"%s","duration":5,"resolution":"480p"}' % photos.url("missing.jpg")
    create_lua.write_text('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                          f'wrk.headers["APIKEY"] = "{user.key}"\nwrk.body = \'{body}\'\n')
    res = {}

    def polls():
        return wrk(poll, a.seconds, a.connections, 2, headers=[f"APIKEY: {user.key}"])

    def health():
        return wrk(svc.base + "/healthz", a.seconds, a.connections, 2)
    res["healthz, idle"] = median_runs(a.runs, health)
    res["poll, idle"] = median_runs(a.runs, polls)
    big = user.v1_generate({"imageUrl": photo, "duration": 10, "resolution": "1080p",
                            "modelType": "Base"}).json()["data"]
    while user.v1_result(big).json()["data"]["status"] != "Processing":
        time.sleep(0.05)
    res["poll, rendering"] = median_runs(a.runs, polls)
    user.wait_v1(big, timeout=900)
    # creates: the photo is missing, so the worker fails them quickly (refunds)
    res["create, idle"] = median_runs(a.runs, lambda: wrk(
        svc.base + "/api/v1/imageToVideo/generate", a.seconds, a.connections, 2,
        lua=str(create_lua)))
    svc.stop()
    return res


def claim_latency(binary, tmp, photos, store, poll, n, label):
    """Create-to-claim over n sequential small generations."""
    data = tmp / f"lat-{label}"
    backend = ["--store", store] if store else []
    svc = Service(binary, data, backend=backend, extra=["--workers", "0"]).start()
    log_path = tmp / f"lat-{label}-worker.log"
    log = open(log_path, "ab")
    wargs = [binary, "worker", "--fetch-allow", "127.0.0.1/32", "--poll", str(poll)]
    wargs += ["--data", str(data)] + backend
    w = subprocess.Popen(wargs, stdout=log, stderr=log)
    user = svc.new_user(credits=10 ** 9)
    time.sleep(2)
    delays = []
    for _ in range(n):
        tid = user.v1_generate({"imageUrl": photos.url(PHOTO), "duration": 5,
                                "resolution": "480p"}).json()["data"]
        user.wait_v1(tid, timeout=300)
        q = event_ms(svc.log_text(), "job_queued", tid)
        s = event_ms(log_path.read_text(), "job_started", tid)
        delays.append(s - q)
        time.sleep(0.3 + (secrets.randbelow(700) / 1000))  # land anywhere in a poll period
    w.terminate()
    w.wait()
    log.close()
    svc.stop()
    return delays


def queue_overhead(binary, tmp, photos, pg, jobs, workers):
    store = new_database(pg)
    data = tmp / f"q{workers}"
    svc = Service(binary, data, backend=["--store", store], extra=["--workers", "0"]).start()
    user = svc.new_user(credits=10 ** 9)
    # one real generation as the template for the tiny ones
    tid = user.v1_generate({"imageUrl": photos.url(PHOTO), "duration": 5,
                            "resolution": "480p"}).json()["data"]
    blobs = f"dir:{tmp}/q{workers}-out"
    procs, logs = [], []
    for i in range(workers):
        lp = tmp / f"q{workers}-w{i}.log"
        f = open(lp, "ab")
        logs.append(f)
        procs.append(subprocess.Popen(
            [binary, "worker", "--fetch-allow", "127.0.0.1/32", "--store", store, "--blobs", blobs,
             "--render-threads", "1", "--poll", "1"], stdout=f, stderr=f))
    user.wait_v1(tid, timeout=300)
    time.sleep(1)
    db = PgDb(store)
    cols = [r[0] for r in db.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name='generations' "
        "ORDER BY ordinal_position").fetchall()]
    keep = [c for c in cols if c not in ("id", "task_id", "uuid", "state", "progress", "width",
                                         "height", "duration", "resolution", "fit_portrait",
                                         "attempts", "lease_token", "lease_owner",
                                         "lease_expires_ms", "out_key", "out_width", "out_height",
                                         "plan_prompt", "error", "created_ms", "started_ms",
                                         "finished_ms")]
    t0 = time.time()
    db.execute(
        f"INSERT INTO generations (task_id, uuid, state, width, height, duration, resolution, "
        f"fit_portrait, created_ms, {', '.join(keep)}) "
        f"SELECT 1000000000000 + s, md5(random()::text)::uuid::text, 0, 128, 128, 1, '', 0, "
        f"(extract(epoch from clock_timestamp()) * 1000)::bigint, {', '.join(keep)} "
        f"FROM generations, generate_series(1, ?) s WHERE task_id = ?", (jobs, tid))
    db.execute("NOTIFY i2v_queue")
    while db.execute("SELECT COUNT(*) FROM generations WHERE state < 2").fetchone()[0]:
        time.sleep(0.05)
    wall = time.time() - t0
    rows = db.execute("SELECT finished_ms - started_ms, state, task_id FROM generations "
                      "WHERE task_id >= 1000000000000").fetchall()
    db.close()
    for p in procs:
        p.terminate()
        p.wait()
    for f in logs:
        f.close()
    svc.stop()
    assert all(r[1] == 2 for r in rows), "a tiny generation failed"
    # where each tiny job's time went, from the workers' job_succeeded lines
    phases = {}
    for i in range(workers):
        for ln in (tmp / f"q{workers}-w{i}.log").read_text().splitlines():
            m = re.search(r"event=job_succeeded task_id=(\d+) ", ln)
            if m and int(m.group(1)) >= 1000000000000:
                ph = {k: float(v) for k, v in re.findall(r" (\w+)_ms=([\d.]+)", ln)}
                ph["claim_to_finish"] = 0.0
                phases[int(m.group(1))] = ph
    for total, _, task in rows:
        phases[task]["claim_to_finish"] = float(total)
    return wall, [r[0] for r in rows], list(phases.values())


def render_floor(binary, tmp, runs):
    """`i2v render` of the photo at 128x128, 1 s, one thread: the render alone."""
    times = []
    for i in range(runs):
        t = time.time()
        subprocess.run([binary, "render", str(ROOT / "photos" / PHOTO), "-o",
                        str(tmp / f"floor{i}.mp4"), "--size", "128x128", "--duration", "1",
                        "--threads", "1"], check=True, capture_output=True)
        times.append((time.time() - t) * 1000)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--latency-jobs", type=int, default=20)
    ap.add_argument("--jobs", type=int, default=48, help="tiny generations per worker count")
    ap.add_argument("--binary", default=str(ROOT / "build" / "i2v"))
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: http,latency,queue")
    a = ap.parse_args()
    skip = set(filter(None, a.skip.split(",")))
    binary = os.path.abspath(a.binary)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="i2v-scale-bench-"))
    photos = LocalServer()
    print(f"{os.cpu_count()} cores; medians of {a.runs} runs", file=sys.stderr)
    with PgServer() as pg:
        if "http" not in skip:
            res = {"SQLite": http_part(binary, tmp, photos, None, a, "sqlite"),
                   "PostgreSQL": http_part(binary, tmp, photos, new_database(pg), a, "pg")}
            print(f"\nwrk -t2 -c{a.connections} -d{a.seconds}s")
            print(f"{'store':11} {'endpoint':18} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
                  f"{'non-2xx':>8}")
            for store, r in res.items():
                for k, v in r.items():
                    print(f"{store:11} {k:18} {v['rps']:9.0f} {v['p50']:8.2f} {v['p99']:8.2f} "
                          f"{v['errors']:8.0f}")
            for k in ("poll, idle", "poll, rendering", "create, idle"):
                print(f"ratio PostgreSQL / SQLite, {k}: "
                      f"{res['PostgreSQL'][k]['rps'] / res['SQLite'][k]['rps']:.2f}")
            for store in res:
                print(f"ratio {store} poll / healthz (idle): "
                      f"{res[store]['poll, idle']['rps'] / res[store]['healthz, idle']['rps']:.2f}")
        if "latency" not in skip:
            poll = claim_latency(binary, tmp, photos, None, 1, a.latency_jobs, "sqlite-poll")
            listen = claim_latency(binary, tmp, photos, new_database(pg), 30, a.latency_jobs,
                                   "pg-listen")
            print(f"\ncreate-to-claim, {a.latency_jobs} generations, separate worker process:")
            for name, d in (("SQLite, polling every 1 s", poll),
                            ("PostgreSQL, LISTEN/NOTIFY", listen)):
                print(f"  {name:28} median {statistics.median(d):7.1f} ms   "
                      f"p99 {pct(d, 99):7.1f} ms   max {max(d):7.1f} ms")
        if "queue" not in skip:
            floor = render_floor(binary, tmp, a.runs)
            print(f"\ntiny generations (128x128, 1 s), {a.jobs} per run, on PostgreSQL; "
                  f"`i2v render` of the same alone: {floor:.0f} ms")
            print("per job, medians in ms: claim to finish (the store's started/finished "
                  "times), then the worker's own phases;\n  queue = claim-to-finish - fetch - "
                  "plan - render (the lease, the put, the finish and the bookkeeping between);\n"
                  "  +fetch = the same with the photo's download from its URL counted in")
            print(f"{'workers':>7} {'jobs/s':>8} {'claim-finish':>13} {'fetch':>7} {'plan':>7} "
                  f"{'render':>7} {'put':>7} {'finish':>7} {'queue':>7} {'+fetch':>7}")
            for w in (1, 2, 4, 8):
                wall, per, phases = queue_overhead(binary, tmp, photos, pg, a.jobs, w)
                med = statistics.median(per)
                ph = {k: statistics.median([p[k] for p in phases])
                      for k in ("fetch", "plan", "render", "put", "finish")}
                queue = statistics.median([p["claim_to_finish"] - p["fetch"] - p["plan"]
                                           - p["render"] for p in phases])
                with_fetch = statistics.median([p["claim_to_finish"] - p["plan"] - p["render"]
                                                for p in phases])
                print(f"{w:7d} {a.jobs / wall:8.2f} {med:13.0f} {ph['fetch']:7.1f} "
                      f"{ph['plan']:7.1f} {ph['render']:7.1f} {ph['put']:7.1f} "
                      f"{ph['finish']:7.1f} {queue:7.1f} {with_fetch:7.1f}")
    photos.close()


if __name__ == "__main__":
    main()
