"""The 3D camera's cost: a DOLLY_IN against a 2D ZOOM_IN of the same room photo,
same size, preset, length and threads, with `i2v render`.

For each job: the median over --runs runs of the CPU time (user + system of
the child, which does not depend on what else the machine is running) and of
the wall time; then the ratio 3D / 2D of both. The photo must be taken for a
room (the 3D job's log is checked for camera=3d).

    /usr/bin/python3 bench/rooms_bench.py [--runs 5] [--size 1280x720]
        [--model flash] [--photo tests/rooms/dolly_00.png] [--i2v build/i2v]
"""
import argparse
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]


def timed(cmd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stderr


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--model", default="flash")
    ap.add_argument("--duration", default="5")
    ap.add_argument("--photo", default=str(ROOT / "tests" / "rooms" / "dolly_00.png"))
    ap.add_argument("--i2v", default=str(ROOT / "build" / "i2v"))
    a = ap.parse_args()
    jobs = {"2D ZOOM_IN": "ZOOM_IN", "3D DOLLY_IN": "DOLLY_IN"}
    res = {k: ([], []) for k in jobs}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.runs):
            for name, move in jobs.items():  # interleaved: load changes hit both
                out = os.path.join(tmp, move + ".mp4")
                wall, cpu, log = timed([a.i2v, "render", a.photo, "-o", out, "--option", move,
                                        "--size", a.size, "--model", a.model, "--duration",
                                        a.duration])
                if move == "DOLLY_IN" and "camera=3d" not in log:
                    sys.exit("the photo was not taken for a room:\n" + log)
                res[name][0].append(wall)
                res[name][1].append(cpu)
    print(f"{a.photo} -> {a.size}, {a.duration} s, model {a.model}, {a.runs} runs (medians)")
    med = {}
    for name, (walls, cpus) in res.items():
        med[name] = (statistics.median(walls), statistics.median(cpus))
        print(f"  {name:12s} wall {med[name][0]:6.2f} s   cpu {med[name][1]:6.2f} s")
    w = med["3D DOLLY_IN"][0] / med["2D ZOOM_IN"][0]
    c = med["3D DOLLY_IN"][1] / med["2D ZOOM_IN"][1]
    print(f"  ratio 3D / 2D: cpu {c:.2f}x, wall {w:.2f}x")


if __name__ == "__main__":
    main()
