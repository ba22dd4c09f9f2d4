"""i2v render against FFmpeg's zoompan and against libx264 alone.

Renders the same 5 s 1080p ZOOM_IN (1.0 -> 1.3) and PAN_RIGHT (at zoom 1.2)
of a photo with `i2v render` and with FFmpeg's zoompan filter, as commonly
written and with the usual upscale-first workaround against its jitter, all
at libx264 veryfast / CRF 20 (--preset/--crf to change), and encodes the same
150 frames with libx264 alone (the floor any pipeline can reach). For each
job: median wall and CPU time of --runs runs, peak memory, and smoothness:
the standard deviation, in output pixels, of the per-frame step of the
motion around its smooth trend (phase correlation, tests/e2e/motion.py): for
pans the step of the central 80% of the frame, for zooms the step of points a
quarter-width left and right of the centre under a similarity motion fitted
to four large patches.
All moves run at constant speed so every tool follows the same profile.

    /usr/bin/python3 bench/bench.py [--runs 5] [--photo photos/Dragonfly_by_Bolly.jpg]
"""
import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
import motion  # noqa: E402

W, H, FPS, N = 1920, 1080, 30, 150


def timed(cmd):
    """Runs cmd; returns (wall s, cpu s, peak MiB)."""
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, str(ROOT / "tests/e2e/peak_rss.py"), *cmd],
                         capture_output=True, text=True)
    wall = time.monotonic() - t0
    if out.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{out.stderr}")
    rss, ut, st = out.stdout.split()
    return wall, float(ut) + float(st), int(rss) / 1024


def jobs(args, tmp):
    i2v = str(ROOT / "build" / "i2v")
    photo = str(args.photo)
    enc = ["-c:v", "libx264", "-preset", args.preset, "-crf", str(args.crf), "-pix_fmt", "yuv420p"]
    ff = ["ffmpeg", "-v", "error", "-y"]
    crop = "crop=iw:iw*9/16"  # the 16:9 'cover' frame i2v uses too
    zoom = f"z='1+0.3*on/{N - 1}':x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)'"
    pan = f"z=1.2:x='(iw-iw/zoom)*on/{N - 1}':y='(ih-ih/zoom)/2'"
    zp = f":d={N}:s={W}x{H}:fps={FPS}"
    model = "base" if args.preset != "veryfast" else "flash"
    out = {}
    for move, expr in (("ZOOM_IN", zoom), ("PAN_RIGHT", pan)):
        out[f"i2v {move}"] = [i2v, "render", photo, "-o", f"{tmp}/i2v_{move}.mp4", "--option", move,
                              "--resolution", "1080p", "--prompt", "constant speed",
                              "--model", model, "--crf", str(args.crf)]
        out[f"zoompan {move}"] = ff + ["-i", photo, "-vf", f"{crop},zoompan={expr}{zp}",
                                       "-frames:v", str(N), *enc, f"{tmp}/zp_{move}.mp4"]
        out[f"zoompan+upscale {move}"] = ff + [
            "-i", photo, "-vf", f"{crop},scale=8000:-1,zoompan={expr}{zp}",
            "-frames:v", str(N), *enc, f"{tmp}/zpu_{move}.mp4"]
    out["libx264 alone (150 frames)"] = ff + ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s",
                                              f"{W}x{H}", "-r", str(FPS), "-i", f"{tmp}/raw.yuv",
                                              *enc, f"{tmp}/x264.mp4"]
    return out


def smoothness(path, move):
    frames = motion.read_frames(path, W, H, as_float=False)
    if move == "PAN_RIGHT":
        _, dx = motion.pan_steps(frames)
        return motion.jitter(dx), float(dx.sum())
    # Zoom: a similarity motion fitted to a 2x2 grid of large patches per step; the
    # step is that of points a quarter of the width left and right of the
    # centre, each what a viewer sees move.
    s, tx, _ = motion.similarity_steps(frames, grid=2, size=480)
    dl, dr = tx - (s - 1) * W / 4, tx + (s - 1) * W / 4
    return (motion.jitter(dl) + motion.jitter(dr)) / 2, float((dr - dl).sum() / 2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--photo", type=pathlib.Path, default=ROOT / "photos/Dragonfly_by_Bolly.jpg")
    ap.add_argument("--preset", default="veryfast")
    ap.add_argument("--crf", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        js = jobs(args, tmp)
        # The libx264-alone input: 150 rendered frames, raw, read from the page cache.
        subprocess.run(js["i2v ZOOM_IN"], check=True, capture_output=True)
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", f"{tmp}/i2v_ZOOM_IN.mp4", "-f",
                        "rawvideo", "-pix_fmt", "yuv420p", f"{tmp}/raw.yuv"], check=True)
        results = {name: [] for name in js}
        for r in range(args.runs):  # interleaved, so load changes hit every job alike
            for name, cmd in js.items():
                results[name].append(timed(cmd))
            print(f"run {r + 1}/{args.runs} done", file=sys.stderr)
        rows = []
        for name, cmd in js.items():
            wall = statistics.median(x[0] for x in results[name])
            cpu = statistics.median(x[1] for x in results[name])
            mem = max(x[2] for x in results[name])
            print(f"{name}: wall {wall:.2f} s, CPU {cpu:.2f} s, peak {mem:.0f} MiB",
                  file=sys.stderr, flush=True)
            jit, travel = (None, None)
            if not name.startswith("libx264"):
                jit, travel = smoothness(cmd[cmd.index("-o") + 1] if "-o" in cmd else cmd[-1],
                                         name.split()[-1])
            rows.append((name, wall, cpu, mem, jit, travel))
    base = {r[0]: r for r in rows}
    print(f"\n{args.photo.name}, {W}x{H}, {N} frames, libx264 {args.preset} CRF {args.crf}, "
          f"{os.cpu_count()} cores, medians of {args.runs} runs\n")
    print("| job | wall s | CPU s | peak MiB | step deviation px | travel px |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, wall, cpu, mem, jit, travel in rows:
        j = f"{jit:.3f}" if jit is not None else "-"
        t = f"{travel:.1f}" if travel is not None else "-"
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {mem:.0f} | {j} | {t} |")
    floor = base["libx264 alone (150 frames)"][1]
    print()
    for move in ("ZOOM_IN", "PAN_RIGHT"):
        i = base[f"i2v {move}"][1]
        print(f"{move}: zoompan+upscale / i2v = {base[f'zoompan+upscale {move}'][1] / i:.2f}x, "
              f"zoompan / i2v = {base[f'zoompan {move}'][1] / i:.2f}x, "
              f"i2v / libx264 alone = {i / floor:.2f}x")


if __name__ == "__main__":
    main()
