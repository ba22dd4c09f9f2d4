"""HTTP throughput and latency of `i2v serve`, measured with wrk on loopback.

Starts the release `i2v serve` on a fresh data directory, makes a user and
one finished generation, then for each endpoint runs wrk (--runs times,
medians reported): the Image to Video v1 status poll (GET result), the
Animation v2 status poll (POST get), and the v1 create endpoint (each request
charges, inserts and queues a generation). The polls run twice: on an idle
server and while a 1080p 10 s Base render is running on the same cores.
The reference in the same invocation is /healthz on the same server (no key
check, no database): the ratio shows what authentication, the SQLite read
and the JSON cost on top of the HTTP floor.

    /usr/bin/python3 bench/http_bench.py [--runs 3] [--seconds 8] [--connections 64]
"""
import argparse
import json
import os
import pathlib
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from svc import LocalServer, Service  # noqa: E402


def wrk(url, seconds, conns, threads, headers=(), lua=None):
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--latency"]
    for h in headers:
        cmd += ["-H", h]
    if lua:
        cmd += ["-s", lua]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {}
    for p in ("50", "90", "99"):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        v, unit = float(m.group(1)), m.group(2)
        lat[p] = v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": lat["50"], "p90": lat["90"], "p99": lat["99"],
            "errors": int(non2xx.group(1)) if non2xx else 0}


def median_runs(n, fn):
    runs = [fn() for _ in range(n)]
    keys = runs[0].keys()
    return {k: statistics.median(r[k] for r in runs) for k in keys}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--binary", default=str(ROOT / "build" / "i2v"))
    a = ap.parse_args()

    tmp = pathlib.Path(tempfile.mkdtemp(prefix="i2v-http-bench-"))
    photos = LocalServer()
    svc = Service(a.binary, tmp / "data", extra=["--per-ip-limit", "0"]).start()
    user = svc.new_user(credits=10 ** 9)
    photo = photos.url("Kleiber_by_Lukas_Baubkus.jpg")
    tid = user.v1_generate({"imageUrl": photo, "duration": 5, "resolution": "480p"}).json()["data"]
    user.wait_v1(tid)
    gid = [l for l in svc.admin("generations", user.id).stdout.splitlines()
           if str(tid) in l][0].split("generation_id=")[1].split()[0]

    v2_lua = tmp / "v2get.lua"
    v2_lua.write_text('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                      f'wrk.headers["x-api-key"] = "{user.key}"\n'
                      f"wrk.body = '{json.dumps({'user_id': user.id, 'generation_id': gid})}'\n")
    create_lua = tmp / "create.lua"
    body = json.dumps({"imageUrl": photos.url("missing.jpg"), "duration": 5, "resolution": "480p"})
    create_lua.write_text('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                          f'wrk.headers["APIKEY"] = "{user.key}"\nwrk.body = \'{body}\'\n')

    poll_url = f"{svc.base}/api/v1/imageToVideo/result?taskId={tid}"
    jobs = {
        "healthz (reference)": lambda: wrk(svc.base + "/healthz", a.seconds, a.connections,
                                           a.threads),
        "v1 result poll": lambda: wrk(poll_url, a.seconds, a.connections, a.threads,
                                      headers=[f"APIKEY: {user.key}"]),
        "v2 get poll": lambda: wrk(svc.base + "/api/animation/v2/get", a.seconds, a.connections,
                                   a.threads, lua=str(v2_lua)),
    }
    results = {}
    print(f"wrk -t{a.threads} -c{a.connections} -d{a.seconds}s, median of {a.runs} runs, "
          f"{os.cpu_count()} cores", file=sys.stderr)
    for name, fn in jobs.items():
        results[name + ", idle"] = median_runs(a.runs, fn)
        print(name + ", idle", results[name + ", idle"], file=sys.stderr)
    # the same polls while a render runs on the same cores
    for name, fn in jobs.items():
        big = user.v1_generate({"imageUrl": photo, "duration": 10, "resolution": "1080p",
                                "modelType": "Base"}).json()["data"]
        deadline = time.monotonic() + 30
        while user.v1_result(big).json()["data"]["status"] != "Processing":
            if time.monotonic() > deadline:
                raise SystemExit("the render did not start")
            time.sleep(0.05)
        results[name + ", rendering"] = median_runs(a.runs, fn)
        print(name + ", rendering", results[name + ", rendering"], file=sys.stderr)
        user.wait_v1(big, timeout=600)
    results["v1 create, idle"] = median_runs(a.runs, lambda: wrk(
        svc.base + "/api/v1/imageToVideo/generate", a.seconds, a.connections, a.threads,
        lua=str(create_lua)))
    svc.stop()
    photos.close()

    print(f"\n{'endpoint':34} {'req/s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for k, r in results.items():
        print(f"{k:34} {r['rps']:9.0f} {r['p50']:8.2f} {r['p90']:8.2f} {r['p99']:8.2f} "
              f"{r['errors']:8.0f}")
    for state in ("idle", "rendering"):
        ref = results[f"healthz (reference), {state}"]["rps"]
        for k in ("v1 result poll", "v2 get poll"):
            print(f"ratio {k} / healthz ({state}): {results[f'{k}, {state}']['rps'] / ref:.2f}")


if __name__ == "__main__":
    main()
