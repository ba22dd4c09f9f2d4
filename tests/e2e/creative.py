"""Helpers for the creative tests: test photos cut from the shipped ones,
reference stills, PSNR, the planes of decoded frames."""
import subprocess

import numpy as np


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-v", "error", "-y", *map(str, args)], check=True)


def cut(src, out, w, h, x, y, vf_extra=None, scale=None):
    """A crop (w x h at x, y) of src, optionally scaled and filtered, as JPEG."""
    vf = f"crop={w}:{h}:{x}:{y}"
    if scale:
        vf += f",scale={scale[0]}:{scale[1]}:flags=lanczos"
    if vf_extra:
        vf += "," + vf_extra
    ffmpeg("-i", src, "-vf", vf, "-q:v", "2", out)
    return out


def still(photo, w, h):
    """The photo scaled to w x h (it has that aspect), luma, as FFmpeg's
    Lanczos scaler makes it: an independent reference of its still framing."""
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(photo), "-vf",
         f"scale={w}:{h}:flags=lanczos",
         "-pix_fmt", "gray", "-f", "rawvideo", "-"], check=True, capture_output=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(h, w).astype(np.float64)


def psnr(a, b):
    mse = np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)
    return 99.0 if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def yuv_frames(path, w, h):
    """All frames as (Y, U, V) uint8 arrays of shape (n, ...)."""
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "rawvideo",
                          "-pix_fmt", "yuv420p", "-"], check=True, capture_output=True).stdout
    fs = w * h * 3 // 2
    a = np.frombuffer(raw, np.uint8).reshape(-1, fs)
    y = a[:, :w * h].reshape(-1, h, w)
    u = a[:, w * h:w * h * 5 // 4].reshape(-1, h // 2, w // 2)
    v = a[:, w * h * 5 // 4:].reshape(-1, h // 2, w // 2)
    return y, u, v
