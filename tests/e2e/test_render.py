"""End-to-end tests of `i2v render`: the real binary, real files, checked with
ffprobe and by measuring the motion in the decoded frames."""
import os
import pathlib
import pty
import subprocess
import sys

import numpy as np
import pytest

import motion

HERE = pathlib.Path(__file__).resolve().parent

MOVES = ["ZOOM_IN", "ZOOM_OUT", "PAN_RIGHT", "PAN_LEFT", "PAN_UP", "PAN_DOWN",
         "CAMERA_PUSH_OUT", "AUTO_EFFECTS", "AUTO_REVERSE"]


def render(i2v, photo, out, *args, check=True):
    proc = subprocess.run([i2v, "render", str(photo), "-o", str(out), *args],
                          capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        pytest.fail(f"i2v render failed ({proc.returncode}): {proc.stderr}")
    return proc


def video_stream(info):
    return next(s for s in info["streams"] if s["codec_type"] == "video")


def assert_valid_mp4(path, width, height, frames, fps=30):
    info = motion.probe(path)
    v = video_stream(info)
    assert v["codec_name"] == "h264"
    assert v["profile"] == "High"
    assert (v["width"], v["height"]) == (width, height)
    assert v["pix_fmt"] == "yuv420p"
    assert v["color_space"] == "bt709"
    assert v["color_primaries"] == "bt709"
    assert v["color_transfer"] == "bt709"
    assert v.get("color_range") == "tv"
    assert int(v["nb_read_frames"]) == frames
    assert v["r_frame_rate"] == f"{fps}/1"
    assert abs(float(info["format"]["duration"]) - frames / fps) < 0.05
    boxes = motion.mp4_top_boxes(path)
    assert "moov" in boxes and "mdat" in boxes
    assert boxes.index("moov") < boxes.index("mdat"), f"not faststart: {boxes}"


def cover_size(path):
    info = motion.probe(path)
    v = info["streams"][0]
    assert v["codec_name"] == "mjpeg"
    return v["width"], v["height"]


def test_help_documents_every_option(i2v):
    out = subprocess.run([i2v, "render", "--help"], capture_output=True, text=True).stdout
    for flag in ["--output", "--option", "--prompt", "--duration", "--resolution", "--format",
                 "--size", "--fps", "--model", "--cover", "--threads", "--max-pixels"]:
        assert flag in out, flag
    for move in MOVES:
        assert move in out
    assert "[default: 5]" in out and "[default: 30]" in out and "[default: flash]" in out


@pytest.mark.parametrize("move", MOVES)
def test_every_move_makes_a_valid_video_and_cover(i2v, photos, tmp_path, move):
    out, cover = tmp_path / "v.mp4", tmp_path / "c.jpg"
    proc = render(i2v, photos / "Bridge_by_Sander_Klootwijk.jpg", out, "--option", move,
                  "--resolution", "480p", "--cover", str(cover))
    assert_valid_mp4(out, 854, 480, 150)
    assert cover_size(cover) == (854, 480)
    # Not a terminal: key=value lines only — what the prompt was understood as,
    # then one summary line with the plan.
    lines = proc.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith("event=prompt understood=\"move="), proc.stderr
    lines = lines[1:]
    assert lines[0].startswith("event=render_done "), proc.stderr
    assert f"output={out}" in lines[0] and "frames=150" in lines[0]
    assert proc.stdout.strip() == str(out)
    plan = lines[0].split('plan="')[1].rstrip('"')
    if move.startswith("AUTO"):
        assert "move=" + move not in lines[0]  # a concrete move was chosen
        assert len(plan) > 30 and plan.endswith(".")
        assert ("reversed=1" in lines[0]) == (move == "AUTO_REVERSE")
    else:
        assert plan.startswith(move)


@pytest.mark.parametrize("photo,args,size,frames", [
    ("Bridge_by_Sander_Klootwijk.jpg", ["--resolution", "720p"], (1280, 720), 150),
    ("Bridge_by_Sander_Klootwijk.jpg", ["--resolution", "1080p", "--duration", "10"], (1920, 1080), 300),
    ("Wine_by_Jakkub_Mede.jpg", ["--resolution", "480p"], (480, 854), 150),
    ("Wine_by_Jakkub_Mede.jpg", ["--format", "portrait"], (768, 1280), 150),
    ("sunset_by_Aitzol_Berasategi.jpg", ["--format", "landscape"], (1280, 768), 150),
    ("coffee.png", ["--size", "640x360", "--fps", "24", "--duration", "2"], (640, 360), 48),
    ("picosdeeuropa_by_Aitzol_Berasategi.jpg", ["--model", "base", "--resolution", "480p"], (854, 480), 150),
])
def test_output_sizes(i2v, photos, tmp_path, photo, args, size, frames):
    out = tmp_path / "v.mp4"
    render(i2v, photos / photo, out, *args)
    fps = 24 if "--fps" in args else 30
    assert_valid_mp4(out, size[0], size[1], frames, fps)


def test_webp_input(i2v, photos, tmp_path):
    src = tmp_path / "bridge.webp"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(photos / "Bridge_by_Sander_Klootwijk.jpg"),
                    "-vf", "scale=1600:-2", str(src)], check=True)
    out = tmp_path / "v.mp4"
    render(i2v, src, out, "--resolution", "480p", "--duration", "2")
    assert_valid_mp4(out, 854, 480, 60)


def rendered_frames(i2v, photos, tmp_path, move, prompt, photo="Dragonfly_by_Bolly.jpg",
                    crf=20):
    """480p frames of a move. Evenness checks pass crf=12: at CRF 20 x264's
    quantisation noise alone moves the measured step by ~0.04 px at 480p,
    which would hide what the renderer does."""
    out = tmp_path / f"{move}.mp4"
    args = ["--option", move, "--resolution", "480p", "--crf", str(crf)]
    if prompt:
        args += ["--prompt", prompt]
    render(i2v, photos / photo, out, *args)
    return motion.read_frames(out, 854, 480)


@pytest.mark.parametrize("move,axis,sign", [
    ("PAN_RIGHT", "x", -1), ("PAN_LEFT", "x", 1), ("PAN_UP", "y", 1), ("PAN_DOWN", "y", -1)])
def test_pan_direction_travel_and_evenness(i2v, photos, tmp_path, move, axis, sign):
    frames = rendered_frames(i2v, photos, tmp_path, move, "constant speed", crf=12)
    dy, dx = motion.pan_steps(frames)
    along, across = (dx, dy) if axis == "x" else (dy, dx)
    # The content moves the opposite way to the camera, every single step.
    assert np.all(along * sign > 0), f"{move}: steps {along[:5]}..."
    # Total travel: at zoom 1.2 the camera crosses 1 - 1/1.2 of the frame,
    # i.e. 0.2 of the output size.
    expected = 0.2 * (854 if axis == "x" else 480)
    assert abs(abs(along.sum()) - expected) < 0.02 * expected, along.sum()
    assert np.all(np.abs(across) < 0.05), across
    # Constant speed: every step is the same to a hundredth of a pixel.
    assert np.std(along) < 0.02, np.std(along)


def test_pan_eases_in_and_out_by_default(i2v, photos, tmp_path):
    frames = rendered_frames(i2v, photos, tmp_path, "PAN_RIGHT", None, crf=12)
    _, dx = motion.pan_steps(frames)
    speed = np.abs(dx)
    assert speed[:5].mean() < 0.3 * speed[70:80].mean()
    assert speed[-5:].mean() < 0.3 * speed[70:80].mean()
    # The cosine ease is smooth: steps follow a low-order curve.
    assert motion.jitter(speed[10:-10], degree=6) < 0.02
    assert abs(dx.sum() + 0.2 * 854) < 0.02 * 0.2 * 854


@pytest.mark.parametrize("move,total", [("ZOOM_IN", 1.3), ("ZOOM_OUT", 1 / 1.3)])
def test_zoom_scale(i2v, photos, tmp_path, move, total):
    frames = rendered_frames(i2v, photos, tmp_path, move, None)
    scales = motion.zoom_steps(frames)
    if move == "ZOOM_IN":
        assert np.all(scales[5:-5] > 1.0)
    else:
        assert np.all(scales[5:-5] < 1.0)
    assert abs(np.prod(scales) - total) < 0.02, np.prod(scales)


def test_prompt_pan_left_steers_nothing_but_speed_and_amount(i2v, photos, tmp_path):
    # "subtle" halves the move: a subtle constant-speed pan travels less.
    frames = rendered_frames(i2v, photos, tmp_path, "PAN_LEFT", "subtle constant speed")
    _, dx = motion.pan_steps(frames)
    assert np.all(dx > 0)
    assert abs(dx.sum() - (1 - 1 / 1.1) * 1.1 * 854) < 3


def framemd5(path):
    out = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "framemd5", "-"],
                         check=True, capture_output=True, text=True).stdout
    return [line.split(",")[-1].strip() for line in out.splitlines() if not line.startswith("#")]


def test_same_input_same_frames(i2v, photos, tmp_path):
    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    for out in (a, b):
        render(i2v, photos / "Bridge_by_Sander_Klootwijk.jpg", out, "--option", "AUTO_EFFECTS",
               "--resolution", "480p", "--duration", "2")
    assert framemd5(a) == framemd5(b)
    assert len(framemd5(a)) == 60


@pytest.mark.parametrize("args,needle", [
    (["/nonexistent/photo.jpg"], "/nonexistent/photo.jpg"),
    (["NOTANIMAGE"], "not an image"),
    (["PHOTO", "--option", "SPIN"], "--option"),
    (["PHOTO", "--size", "100x100"], "size"),
    (["PHOTO", "--size", "641x480"], "even"),
    (["PHOTO", "--size", "wide"], "--size"),
    (["PHOTO", "--fps", "0"], "--fps"),
    (["PHOTO", "--duration", "31"], "--duration"),
    (["PHOTO", "--resolution", "4k"], "--resolution"),
    (["PHOTO", "--resolution", "720p", "--format", "portrait"], "only one"),
    (["PHOTO", "--max-pixels", "1000000"], "limit"),
])
def test_errors_are_one_clear_line_and_leave_no_file(i2v, photos, tmp_path, args, needle):
    bogus = tmp_path / "notes.jpg"
    bogus.write_text("these are not pixels\n")
    argv = [str(photos / "Bridge_by_Sander_Klootwijk.jpg") if a == "PHOTO"
            else str(bogus) if a == "NOTANIMAGE" else a for a in args]
    out = tmp_path / "out" / "v.mp4"
    out.parent.mkdir()
    proc = subprocess.run([i2v, "render", *argv, "-o", str(out)], capture_output=True, text=True)
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("i2v render:")]
    assert len(errors) == 1, proc.stderr
    assert needle in errors[0], errors[0]
    assert list(out.parent.iterdir()) == []


def test_unwritable_output_leaves_nothing(i2v, photos, tmp_path):
    out = tmp_path / "missing-dir" / "v.mp4"
    proc = render(i2v, photos / "coffee.png", out, "--duration", "1", check=False)
    assert proc.returncode != 0
    assert "i2v render:" in proc.stderr
    assert not (tmp_path / "missing-dir").exists()


def test_progress_bar_on_a_terminal_summary_otherwise(i2v, photos, tmp_path):
    out = tmp_path / "v.mp4"
    # Not a terminal: no bar, one summary line.
    proc = render(i2v, photos / "coffee.png", out, "--duration", "2")
    assert "ETA" not in proc.stderr
    assert proc.stderr.count("event=render_done") == 1
    # A terminal: the bar with frames done and an ETA.
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(i2v, [i2v, "render", str(photos / "coffee.png"), "-o", str(out), "--duration", "2"])
    chunks = []
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    _, status = os.waitpid(pid, 0)
    text = b"".join(chunks).decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0
    assert "60/60 frames" in text and "ETA" in text and "plan: ZOOM_IN" in text


def test_20mp_photo_at_1080p_stays_small(i2v, photos, tmp_path):
    out = tmp_path / "v.mp4"
    proc = subprocess.run([sys.executable, str(HERE / "peak_rss.py"), i2v, "render",
                           str(photos / "Kleiber_by_Lukas_Baubkus.jpg"), "-o", str(out),
                           "--resolution", "1080p", "--duration", "2"],
                          capture_output=True, text=True, check=True)
    peak_mb = int(proc.stdout.split()[0]) / 1024
    print(f"peak RSS for a 20.4 MP photo at 1080p: {peak_mb:.0f} MB")
    assert peak_mb < 400
    assert_valid_mp4(out, 1920, 1080, 60)
