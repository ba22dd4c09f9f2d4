"""Measuring camera motion in a rendered video.

Frames are read as greyscale through ffmpeg. The displacement between two
frames is found by phase correlation with a Hann window, refined to 1/100 px
with a locally upsampled DFT (Guizar-Sicairos et al., Opt. Lett. 33, 2008).
Displacements are of the *content*: a camera panning right makes the content
move left, i.e. a negative dx.
"""
import json
import subprocess

import numpy as np


def probe(path):
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-show_format",
         "-of", "json", str(path)],
        check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def read_frames(path, width, height, as_float=True):
    """All frames of a video as an array (n, height, width), luma only:
    float32, or uint8 when as_float is false (a quarter of the memory)."""
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        check=True, capture_output=True).stdout
    frames = np.frombuffer(raw, dtype=np.uint8).reshape(-1, height, width)
    return frames.astype(np.float32) if as_float else frames


def _upsampled_dft(data, freqs, region, up, offsets):
    """Cross-correlation sampled on a grid `up` times finer than a pixel,
    region x region samples from `offsets`, by a matrix DFT over the given
    frequencies (cycles/px) of each axis."""
    for f, ax_offset in list(zip(freqs, offsets))[::-1]:
        kernel = (np.arange(region) - ax_offset)[:, None] * (f[None, :] / up)
        data = np.tensordot(np.exp(-2j * np.pi * kernel), data, axes=(1, -1))
    return data


_windows = {}


def _window(h, w):
    key = (h, w)
    if key not in _windows:
        _windows[key] = np.outer(np.hanning(h), np.hanning(w)).astype(np.float32)
    return _windows[key]


_lowpass = {}


def _gauss(h, w, sigma):
    key = (h, w, sigma)
    if key not in _lowpass:
        fy = np.fft.fftfreq(h)[:, None]
        fx = np.fft.fftfreq(w)[None, :]
        _lowpass[key] = np.exp(-(fx ** 2 + fy ** 2) / (2 * sigma ** 2))
    return _lowpass[key]


def shift(a, b, up=20, sigma=0.1):
    """Content displacement (dy, dx) from patch a to patch b, sub-pixel.

    Whitened cross-power spectrum, weighted by a Gaussian of sigma cycles/px:
    any interpolating resampler has a phase-dependent, non-linear phase
    response near Nyquist, so the highest frequencies say little about where
    the content is; the low and middle ones locate it exactly."""
    win = _window(*a.shape)
    fa = np.fft.fft2((a - a.mean()) * win)
    fb = np.fft.fft2((b - b.mean()) * win)
    r = fa * np.conj(fb)
    r /= np.abs(r) + 1e-9
    r *= _gauss(a.shape[0], a.shape[1], sigma)
    cc = np.fft.ifft2(r)
    peak = np.array(np.unravel_index(np.argmax(np.abs(cc)), cc.shape), dtype=float)
    shape = np.array(cc.shape, dtype=float)
    mid = np.fix(shape / 2)
    peak[peak > mid] -= shape[peak > mid]
    # Refine on a 1/up px grid within +-1.5 px, using only the frequencies the
    # Gaussian weight leaves (the rest contribute nothing), then a parabola
    # through the grid maximum and its neighbours.
    fy, fx = np.fft.fftfreq(a.shape[0]), np.fft.fftfreq(a.shape[1])
    ky, kx = np.abs(fy) < 4 * sigma, np.abs(fx) < 4 * sigma
    sub = r[np.ix_(ky, kx)]
    region = int(np.ceil(up * 3))
    dftshift = np.fix(region / 2.0)
    cc_up = np.abs(_upsampled_dft(np.conj(sub), (fy[ky], fx[kx]), region, up,
                                  dftshift - peak * up))
    m = np.array(np.unravel_index(np.argmax(cc_up), cc_up.shape))
    frac = np.zeros(2)
    for axis in (0, 1):
        idx = list(m)
        if 0 < m[axis] < region - 1:
            idx[axis] = m[axis] - 1
            lo = cc_up[tuple(idx)]
            idx[axis] = m[axis] + 1
            hi = cc_up[tuple(idx)]
            c = cc_up[tuple(m)]
            den = lo - 2 * c + hi
            frac[axis] = 0.5 * (lo - hi) / den if den != 0 else 0.0
    s = peak + (m + frac - dftshift) / up
    return -s[0], -s[1]


def patch(frame, cy, cx, size):
    h = size // 2
    return frame[cy - h:cy + h, cx - h:cx + h]


def pan_steps(frames, margin=0.1):
    """Per-step content displacement of the frame's central region (all but a
    margin on each side, so that content entering and leaving does not
    count): arrays dy, dx. A large region averages away encoder noise."""
    n, h, w = frames.shape
    my, mx = int(h * margin), int(w * margin)
    dys, dxs = [], []
    for i in range(n - 1):
        a = frames[i][my:h - my, mx:w - mx].astype(np.float32)
        b = frames[i + 1][my:h - my, mx:w - mx].astype(np.float32)
        dy, dx = shift(a, b)
        dys.append(dy)
        dxs.append(dx)
    return np.array(dys), np.array(dxs)


def zoom_displacements(frames, size=None):
    """Per-step horizontal displacements (dl, dr) of a patch a quarter of the
    width left and right of the centre."""
    n, h, w = frames.shape
    size = size or min(h // 2, w // 3) // 2 * 2
    xl, xr, cy = w // 4, w - w // 4, h // 2
    dls, drs = [], []
    for i in range(n - 1):
        a, b = frames[i].astype(np.float32), frames[i + 1].astype(np.float32)
        dls.append(shift(patch(a, cy, xl, size), patch(b, cy, xl, size))[1])
        drs.append(shift(patch(a, cy, xr, size), patch(b, cy, xr, size))[1])
    return np.array(dls), np.array(drs)


def similarity_steps(frames, grid=3, size=None):
    """Per-step zoom as a similarity motion (scale s, translation tx, ty) fitted
    by least squares to the displacements of a grid x grid set of patches:
    x' = x + (s - 1) * (x - cx) + tx. Returns arrays s, tx, ty, with x measured
    from the frame centre (cx, cy). More patches, less measurement noise."""
    n, h, w = frames.shape
    size = size or min(h // (grid + 1), w // (grid + 1)) // 2 * 2
    xs = [int(w * (k + 1) / (grid + 1)) for k in range(grid)]
    ys = [int(h * (k + 1) / (grid + 1)) for k in range(grid)]
    pts = [(y, x) for y in ys for x in xs]
    rows = []
    for y, x in pts:
        rows.append([x - w / 2, 1, 0])
        rows.append([y - h / 2, 0, 1])
    a_mat = np.array(rows)
    out = []
    for i in range(n - 1):
        a, b = frames[i].astype(np.float32), frames[i + 1].astype(np.float32)
        d = []
        for y, x in pts:
            dy, dx = shift(patch(a, y, x, size), patch(b, y, x, size))
            d += [dx, dy]
        (k, tx, ty), *_ = np.linalg.lstsq(a_mat, np.array(d), rcond=None)
        out.append((1 + k, tx, ty))
    out = np.array(out)
    return out[:, 0], out[:, 1], out[:, 2]


def zoom_steps(frames, size=128):
    """Per-step scale factor, from how far apart a left and a right patch move
    (the divergence does not depend on where the zoom is centred)."""
    w = frames.shape[2]
    dl, dr = zoom_displacements(frames, size)
    return 1.0 + (dr - dl) / (w / 2)


def jitter(steps, degree=2):
    """Standard deviation of the steps around a smooth (quadratic) trend: 0 for
    perfectly even motion, whatever its easing."""
    t = np.arange(len(steps), dtype=float)
    fit = np.polyval(np.polyfit(t, steps, degree), t)
    return float(np.std(steps - fit))


def mp4_top_boxes(path):
    """Names of the top-level MP4 boxes in file order."""
    names = []
    with open(path, "rb") as f:
        data = f.read()
    pos = 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos:pos + 4], "big")
        name = data[pos + 4:pos + 8].decode("latin-1")
        if size == 1:
            size = int.from_bytes(data[pos + 8:pos + 16], "big")
        if size < 8:
            break
        names.append(name)
        pos += size
    return names
