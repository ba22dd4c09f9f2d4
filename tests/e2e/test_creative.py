"""End-to-end tests of the creative features of `i2v render`: first-last frame
travel and dissolves, the prompt's moves and looks, the AUTO planner, the
soundtrack and multi-photo tours; checked on the decoded frames and audio."""
import hashlib
import math
import re
import subprocess

import numpy as np
import pytest

import motion
from creative import cut, psnr, still, yuv_frames

BRIDGE = "Bridge_by_Sander_Klootwijk.jpg"  # 4352x2448
PICOS = "picosdeeuropa_by_Aitzol_Berasategi.jpg"  # 6028x3391
SUNSET = "sunset_by_Aitzol_Berasategi.jpg"  # 5312x2988
WINE = "Wine_by_Jakkub_Mede.jpg"  # 2560x3837


def render(i2v, photos, out, *args):
    proc = subprocess.run([i2v, "render", *map(str, photos), "-o", str(out), *args],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


def align_events(log):
    return [dict(re.findall(r'(\w+)=("[^"]*"|\S+)', line))
            for line in log.splitlines() if line.startswith("event=align")]


def luma(path, w, h):
    return motion.read_frames(path, w, h)


def test_first_last_travel_between_two_viewpoints(i2v, photos, tmp_path):
    # Two views of one scene: the second 240 px right and 60 px down.
    a = cut(photos / BRIDGE, tmp_path / "a.jpg", 1600, 900, 100, 100)
    b = cut(photos / BRIDGE, tmp_path / "b.jpg", 1600, 900, 340, 160)
    out = tmp_path / "fl.mp4"
    log = render(i2v, [a], out, "--last", b)
    ev = align_events(log)
    assert len(ev) == 1 and ev[0]["result"] == "travel", log
    # The homography recovers the known shift within a pixel.
    assert abs(float(ev[0]["scale"]) - 1) < 0.001
    sx, sy = map(float, ev[0]["shift"].split(","))
    assert abs(sx + 240) < 1 and abs(sy + 60) < 1, ev
    f = luma(out, 1280, 720)
    assert len(f) == 150
    # First and last frames are the two photos' still framings.
    p0, p1 = psnr(f[0], still(a, 1280, 720)), psnr(f[-1], still(b, 1280, 720))
    print(f"first frame {p0:.2f} dB, last frame {p1:.2f} dB")
    assert p0 > 35 and p1 > 35
    # One continuous move: the content slides left/up by the shift scaled to
    # the output (0.8 px per photo px), and no step is bigger than the
    # eased move's own largest step (cosine ease: pi/2 times the mean).
    dy, dx = motion.pan_steps(f)
    total_x, total_y = -240 * 0.8, -60 * 0.8
    print(f"travel {dx.sum():.2f},{dy.sum():.2f} px; largest step {np.abs(dx).max():.3f} px")
    assert abs(dx.sum() - total_x) < 3 and abs(dy.sum() - total_y) < 3
    peak = math.pi / 2 * abs(total_x) / (len(f) - 1)
    assert np.abs(dx).max() <= peak + 0.25
    # and the speed never changes abruptly (less than half the peak step per frame)
    assert np.abs(np.diff(dx)).max() < 0.5 * peak


def test_first_last_same_viewpoint_dissolves_in_place(i2v, photos, tmp_path):
    day = cut(photos / SUNSET, tmp_path / "day.jpg", 3200, 1800, 1000, 600)
    night = cut(photos / SUNSET, tmp_path / "night.jpg", 3200, 1800, 1000, 600,
                vf_extra="eq=brightness=-0.18:gamma=0.7:saturation=0.5,colorbalance=bs=0.25")
    out = tmp_path / "dn.mp4"
    log = render(i2v, [day], out, "--last", night, "--prompt", "Smooth day to night transition",
                 "--size", "1280x720")
    ev = align_events(log)
    assert ev[0]["result"] == "same-viewpoint", log
    f = luma(out, 1280, 720)
    p0, p1 = psnr(f[0], still(day, 1280, 720)), psnr(f[-1], still(night, 1280, 720))
    print(f"first frame {p0:.2f} dB, last frame {p1:.2f} dB")
    assert p0 > 35 and p1 > 35
    # A timed dissolve: brightness falls steadily from the day to the night level.
    m = f.reshape(len(f), -1).mean(axis=1)
    assert m[0] > m[-1] + 10
    assert np.all(np.diff(m) < 0.8)


def test_unrelated_photos_get_a_dissolve_and_a_log_line(i2v, photos, tmp_path):
    a = cut(photos / BRIDGE, tmp_path / "a.jpg", 1600, 900, 100, 100)
    b = cut(photos / WINE, tmp_path / "b.jpg", 1600, 900, 400, 1200)
    out = tmp_path / "u.mp4"
    log = render(i2v, [a], out, "--last", b, "--size", "640x360")
    ev = align_events(log)
    assert ev[0]["result"] == "none" and "no alignment found" in ev[0]["note"], log
    f = luma(out, 640, 360)
    assert psnr(f[0], still(a, 640, 360)) > 35 and psnr(f[-1], still(b, 640, 360)) > 35


@pytest.mark.parametrize("prompt,sign", [("pan left slowly", +1), ("Pan right, cinematic", -1)])
def test_prompt_names_the_pan(i2v, photos, tmp_path, prompt, sign):
    out = tmp_path / "p.mp4"
    log = render(i2v, [photos / BRIDGE], out, "--prompt", prompt, "--size", "640x360",
                 "--duration", "2")
    move = "PAN_LEFT" if sign > 0 else "PAN_RIGHT"
    assert f"understood=\"move={move}" in log, log
    dy, dx = motion.pan_steps(luma(out, 640, 360))
    # pan left: the camera goes left, so the content moves right
    assert sign * dx.sum() > 20, dx.sum()


def test_looks(i2v, photos, tmp_path):
    def grade(prompt, seconds="2"):
        out = tmp_path / (re.sub(r"\W", "_", prompt or "plain") + ".mp4")
        args = ["--size", "640x360", "--duration", seconds, "--option", "ZOOM_IN"]
        if prompt:
            args += ["--prompt", prompt]
        render(i2v, [photos / BRIDGE], out, *args)
        return yuv_frames(out, 640, 360)

    y0, u0, v0 = grade(None)
    y, u, v = grade("warm")
    assert v[0].mean() > v0[0].mean() + 3 and u[0].mean() < u0[0].mean() - 3
    y, u, v = grade("cool")
    assert v[0].mean() < v0[0].mean() - 3 and u[0].mean() > u0[0].mean() + 3
    y, u, v = grade("black and white")
    assert np.abs(u.astype(int) - 128).max() <= 2 and np.abs(v.astype(int) - 128).max() <= 2
    y, u, v = grade("day to night", seconds="3")
    first, last = y[0].mean() - 16, y[-1].mean() - 16
    assert abs(first - (y0[0].mean() - 16)) < 2 and last < 0.6 * first
    y, u, v = grade("cinematic")

    def corner_ratio(f):
        return f[:60, :100].mean() / f[150:210, 270:370].mean()

    assert corner_ratio(y[0]) < 0.85 * corner_ratio(y0[0])


def test_planner_gives_different_photos_different_moves(i2v, photos, tmp_path):
    moves = {}
    for p in sorted(photos.glob("*.jpg")) + sorted(photos.glob("*.png")):
        log = render(i2v, [p], tmp_path / "a.mp4", "--option", "AUTO_EFFECTS", "--duration", "1",
                     "--size", "320x180" if "Wine" not in p.name else "180x320")
        done = [l for l in log.splitlines() if l.startswith("event=render_done")][0]
        move = re.search(r"move=(\w+)", done).group(1)
        plan = re.search(r'plan="([^"]*)"', done).group(1)
        print(f"{p.name}: {move}: {plan}")
        assert move not in ("AUTO_EFFECTS", "AUTO_REVERSE") and len(plan) > 30
        moves[p.name] = move
    assert len(set(moves.values())) >= 3, moves


def test_soundtrack(i2v, photos, tmp_path):
    out = tmp_path / "s.mp4"
    render(i2v, [photos / SUNSET], out, "--audio", "--model", "base", "--prompt",
           "ocean waves at sunset", "--size", "854x480")
    info = motion.probe(out)
    a = [s for s in info["streams"] if s["codec_type"] == "audio"]
    v = [s for s in info["streams"] if s["codec_type"] == "video"][0]
    assert len(a) == 1
    a = a[0]
    assert (a["codec_name"], a["channels"], int(a["sample_rate"])) == ("aac", 2, 48000)
    assert abs(float(a["duration"]) - float(v["duration"])) <= 1024 / 48000
    # Loudness, by FFmpeg's own EBU R128 meter.
    log = subprocess.run(["ffmpeg", "-nostats", "-i", str(out), "-map", "0:a", "-af",
                          "ebur128", "-f", "null", "-"], capture_output=True, text=True).stderr
    lufs = float(re.findall(r"I:\s+(-?[\d.]+) LUFS", log)[-1])
    print(f"integrated loudness {lufs} LUFS")
    assert abs(lufs - (-18)) <= 2
    # Silence only inside the fades (1 s in, 1.25 s out for 5 s).
    log = subprocess.run(["ffmpeg", "-nostats", "-i", str(out), "-map", "0:a", "-af",
                          "silencedetect=noise=-50dB:d=0.1", "-f", "null", "-"],
                         capture_output=True, text=True).stderr
    for start in re.findall(r"silence_start: (-?[\d.]+)", log):
        assert float(start) < 1.0 or float(start) > 5 - 1.25, log
    for end in re.findall(r"silence_end: (-?[\d.]+)", log):
        assert float(end) < 1.0 or float(end) > 5 - 1.25, log

    # Deterministic: the same input gives the same samples.
    def pcm_md5(path):
        return subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:a", "-f",
                               "md5", "-"], capture_output=True, text=True, check=True).stdout

    out2 = tmp_path / "s2.mp4"
    render(i2v, [photos / SUNSET], out2, "--audio", "--model", "base", "--prompt",
           "ocean waves at sunset", "--size", "854x480")
    assert pcm_md5(out) == pcm_md5(out2)
    # No --audio, no audio stream.
    out3 = tmp_path / "s3.mp4"
    render(i2v, [photos / SUNSET], out3, "--size", "854x480", "--duration", "1")
    assert not [s for s in motion.probe(out3)["streams"] if s["codec_type"] == "audio"]


def test_three_photo_tour(i2v, photos, tmp_path):
    shots = [cut(photos / BRIDGE, tmp_path / "1.jpg", 3200, 1800, 500, 300),
             cut(photos / PICOS, tmp_path / "2.jpg", 3200, 1800, 1400, 900),
             cut(photos / SUNSET, tmp_path / "3.jpg", 3200, 1800, 1000, 600)]
    out = tmp_path / "tour.mp4"
    log = render(i2v, shots, out, "--duration", "9", "--option", "ZOOM_IN", "--size",
                 "640x360")
    info = motion.probe(out)
    v = [s for s in info["streams"] if s["codec_type"] == "video"][0]
    assert int(v["nb_frames"]) == 270 and abs(float(info["format"]["duration"]) - 9) < 0.05
    assert len(align_events(log)) == 2
    f = luma(out, 640, 360)
    refs = [still(s, 640, 360) for s in shots]
    for k, start in enumerate((0, 90, 180)):
        scores = [psnr(f[start], r) for r in refs]
        print(f"segment {k + 1} starts at frame {start}: PSNR {['%.1f' % s for s in scores]}")
        assert scores[k] > 35 and scores[k] == max(scores)
