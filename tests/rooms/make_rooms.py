#!/usr/bin/env python3
"""Remakes the ground truth of the 3D camera tests: a furnished room rendered by
POV-Ray (Debian package `povray`) from known camera poses, with known
intrinsics.

    python3 tests/rooms/make_rooms.py            # writes tests/rooms/*.png + truth.json

Deterministic: no jitter, no radiosity, no random textures beyond POV-Ray's
fixed procedural noise, so the same POV-Ray version gives the same pixels.
The committed images were made with POV-Ray 3.7.0.10 (Debian 12).

Units are metres. POV-Ray's world is left-handed: x right, y up, z forward
(into the room). The room: x in [-2.4, 2.6], y in [0, 2.7], z in [-1.0, 5.0].
The camera stands at (0.3, 1.5, 0.0) (eye height 1.5 m), turned 15 degrees to
the right and looking 9 degrees down, horizontal field of view 70 degrees,
640x360 pixels (focal length 457.0 px, principal point at the centre).

Renders (PNG):
  dolly_00.png  RGB: the first view by day, the photo i2v is given.
  night.png     RGB: the same view at night: window dark, lamps on.
  dolly_NN.png  NN = 01..16, grey: the camera walked NN/16 m forward along
                its heading (horizontal), same orientation: a true dolly in.
  truck_NN.png  NN = 1..4, grey: the camera stepped NN/8 m to its right
                (horizontal, perpendicular to the heading).
Grey images hold BT.709 luma (0.2126 R + 0.7152 G + 0.0722 B of the
gamma-encoded 8-bit render, full range, rounded): what the tests compare,
at a third of the size of RGB. Needs povray, ffmpeg and python3-numpy.

truth.json records every pose in POV-Ray coordinates and in i2v's
conventions (camera x right, y down, z forward; room X lateral, Y down, Z
depth; R takes room directions to camera directions), the intrinsics, the
vanishing points and the distances from the first camera to the planes.
"""
import json
import math

import numpy as np
import os
import pathlib
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
W, H = 640, 360
HFOV = 70.0
EYE = 1.5
START = (0.3, EYE, 0.0)
YAW, PITCH = 15.0, -9.0
ROOM = {"x": (-2.4, 2.6), "y": (0.0, 2.7), "z": (-1.0, 5.0)}

SCENE = r"""
#version 3.7;
global_settings { assumed_gamma 1.0 max_trace_level 6 }
#declare Night = %(night)d;
background { rgb 0 }

#declare WallPaint = texture {
  pigment { gradient x scale 0.30
            colour_map { [0.00 rgb <0.80, 0.76, 0.68>] [0.48 rgb <0.80, 0.76, 0.68>]
                         [0.50 rgb <0.70, 0.66, 0.58>] [0.52 rgb <0.80, 0.76, 0.68>]
                         [1.00 rgb <0.80, 0.76, 0.68>] } }
  finish { ambient 0 diffuse 0.85 } }
#declare SidePaint = texture {
  pigment { gradient z scale 0.30
            colour_map { [0.00 rgb <0.62, 0.70, 0.74>] [0.48 rgb <0.62, 0.70, 0.74>]
                         [0.50 rgb <0.52, 0.60, 0.64>] [0.52 rgb <0.62, 0.70, 0.74>]
                         [1.00 rgb <0.62, 0.70, 0.74>] } }
  finish { ambient 0 diffuse 0.85 } }
#declare Planks = texture {
  pigment { gradient x scale 0.16
            colour_map { [0.00 rgb <0.45, 0.28, 0.15>] [0.30 rgb <0.52, 0.33, 0.18>]
                         [0.60 rgb <0.40, 0.25, 0.13>] [0.93 rgb <0.50, 0.31, 0.17>]
                         [0.93 rgb <0.18, 0.10, 0.05>] [1.00 rgb <0.18, 0.10, 0.05>] } }
  finish { ambient 0 diffuse 0.8 specular 0.05 } }
#declare Dark = texture { pigment { rgb <0.16, 0.12, 0.10> } finish { ambient 0 diffuse 0.8 } }
#declare White = texture { pigment { rgb <0.88, 0.88, 0.86> } finish { ambient 0 diffuse 0.8 } }

// Floor, ceiling and walls (the back wall has a window opening).
box { <-2.4, -0.1, -1.0>, <2.6, 0.0, 5.0> texture { Planks } }
box { <-2.4, 2.7, -1.0>, <2.6, 2.8, 5.0> texture { White } }
box { <-2.5, 0, -1.0>, <-2.4, 2.7, 5.0> texture { SidePaint } }
box { <2.6, 0, -1.0>, <2.7, 2.7, 5.0> texture { SidePaint } }
box { <-2.4, 0, -1.1>, <2.6, 2.7, -1.0> texture { WallPaint } }
difference {
  box { <-2.4, 0, 5.0>, <2.6, 2.7, 5.1> }
  box { <-0.2, 0.9, 4.9>, <1.4, 2.2, 5.2> }
  texture { WallPaint } }
// Window frame and mullions.
#macro Bar(A, B) box { A, B texture { White } } #end
Bar(<-0.25, 0.85, 4.95>, <1.45, 0.9, 5.1>)
Bar(<-0.25, 2.2, 4.95>, <1.45, 2.25, 5.1>)
Bar(<-0.25, 0.85, 4.95>, <-0.2, 2.25, 5.1>)
Bar(<1.4, 0.85, 4.95>, <1.45, 2.25, 5.1>)
Bar(<0.57, 0.9, 5.0>, <0.63, 2.2, 5.05>)
Bar(<-0.2, 1.52, 5.0>, <1.4, 1.58, 5.05>)
// The view outside: a bright sky by day, a dark blue one at night.
plane { z, 9
  texture { pigment { gradient y scale 6
                      colour_map { [0 rgb <0.55, 0.70, 0.90>] [1 rgb <0.85, 0.92, 1.0>] } }
            finish { emission (Night ? 0.04 : 1.0) diffuse 0 ambient 0 } } }
// Baseboards and a cornice: the lines where walls meet floor and ceiling.
#macro Board(A, B) box { A, B texture { Dark } } #end
Board(<-2.4, 0, 4.985>, <2.6, 0.09, 5.0>)
Board(<-2.4, 0, -1.0>, <-2.385, 0.09, 5.0>)
Board(<2.585, 0, -1.0>, <2.6, 0.09, 5.0>)
box { <-2.4, 2.64, 4.98>, <2.6, 2.7, 5.0> texture { White } }
box { <-2.4, 2.64, -1.0>, <-2.38, 2.7, 5.0> texture { White } }
box { <2.58, 2.64, -1.0>, <2.6, 2.7, 5.0> texture { White } }
// A door on the left wall.
box { <-2.41, 0, 2.2>, <-2.39, 2.05, 3.1> texture { pigment { rgb <0.35, 0.22, 0.12> }
                                                   finish { ambient 0 diffuse 0.8 } } }
box { <-2.42, 2.05, 2.15>, <-2.38, 2.12, 3.15> texture { White } }
// Pictures: on the back wall and on the right wall.
box { <-1.9, 1.2, 4.98>, <-0.9, 1.9, 5.0>
      texture { pigment { checker rgb <0.8, 0.3, 0.2>, rgb <0.95, 0.85, 0.55> scale 0.1 }
                finish { ambient 0 diffuse 0.8 } } }
box { <2.58, 1.3, 1.6>, <2.6, 1.9, 2.6>
      texture { pigment { gradient z scale 0.25
                          colour_map { [0 rgb <0.2, 0.35, 0.6>] [0.5 rgb <0.9, 0.9, 0.8>]
                                       [1 rgb <0.2, 0.35, 0.6>] } }
                finish { ambient 0 diffuse 0.8 } } }
// A rug.
box { <-1.2, 0, 1.8>, <1.0, 0.012, 3.6>
      texture { pigment { checker rgb <0.55, 0.12, 0.12>, rgb <0.85, 0.75, 0.55> scale 0.275 }
                finish { ambient 0 diffuse 0.8 } } }
// Furniture: a sofa against the back wall, a cabinet on the right, a table.
union {
  box { <-2.3, 0, 4.1>, <-0.5, 0.42, 4.95> }
  box { <-2.3, 0.42, 4.65>, <-0.5, 0.85, 4.95> }
  box { <-2.3, 0.42, 4.1>, <-2.1, 0.62, 4.95> }
  box { <-0.7, 0.42, 4.1>, <-0.5, 0.62, 4.95> }
  texture { pigment { rgb <0.25, 0.35, 0.30> } finish { ambient 0 diffuse 0.8 } } }
box { <2.1, 0, 0.8>, <2.58, 0.9, 2.8>
      texture { pigment { gradient z scale 0.5
                          colour_map { [0 rgb <0.75, 0.6, 0.4>] [0.97 rgb <0.75, 0.6, 0.4>]
                                       [0.97 rgb <0.3, 0.2, 0.1>] [1 rgb <0.3, 0.2, 0.1>] } }
                finish { ambient 0 diffuse 0.8 } } }
union {
  box { <-0.6, 0.42, 2.4>, <0.4, 0.46, 3.0> }
  box { <-0.58, 0, 2.42>, <-0.54, 0.42, 2.46> }
  box { <0.34, 0, 2.42>, <0.38, 0.42, 2.46> }
  box { <-0.58, 0, 2.94>, <-0.54, 0.42, 2.98> }
  box { <0.34, 0, 2.94>, <0.38, 0.42, 2.98> }
  texture { pigment { rgb <0.30, 0.18, 0.10> } finish { ambient 0 diffuse 0.8 specular 0.1 } } }

// Light.
#if (Night)
  light_source { <0.2, 2.5, 2.5> colour rgb <1.0, 0.85, 0.65> * 1.1
                 fade_distance 2.5 fade_power 1 }
  light_source { <-1.8, 1.6, 4.3> colour rgb <1.0, 0.75, 0.45> * 0.5
                 fade_distance 1.5 fade_power 1 }
  sphere { <0.2, 2.55, 2.5>, 0.12 texture { pigment { rgb <1, 0.9, 0.7> }
                                           finish { emission 1 diffuse 0 } } no_shadow }
#else
  light_source { <0.6, 2.0, 8.0> colour rgb <1.0, 0.97, 0.9> * 1.2 }
  light_source { <0.2, 2.5, 1.0> colour rgb <0.95, 0.95, 1.0> * 0.45 shadowless }
  light_source { <0.0, 1.2, -0.8> colour rgb <0.95, 0.95, 1.0> * 0.25 shadowless }
#end

camera { perspective location %(loc)s direction %(dir)s right %(right)s up %(up)s }
"""


def vec(v):
    return "<%.9f, %.9f, %.9f>" % tuple(v)


def cross(a, b):
    return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]


def norm(a):
    n = math.sqrt(sum(x * x for x in a))
    return [x / n for x in a]


def camera(loc):
    """POV-Ray camera vectors and i2v's rotation for the fixed orientation."""
    y, p = math.radians(YAW), math.radians(PITCH)
    fwd = [math.sin(y) * math.cos(p), math.sin(p), math.cos(y) * math.cos(p)]
    right = [math.cos(y), 0.0, -math.sin(y)]
    up = cross(fwd, right)  # POV-Ray is left-handed
    aspect = W / H
    dist = 0.5 * aspect / math.tan(math.radians(HFOV) / 2)
    pov = {"loc": vec(loc), "dir": vec([c * dist for c in fwd]),
           "right": vec([c * aspect for c in right]), "up": vec(up)}
    # i2v: room axes = POV (x, -y, z); rows of R = camera axes in room axes.
    to_room = lambda v: [v[0], -v[1], v[2]]
    rot = [to_room(right), to_room([-c for c in up]), to_room(fwd)]
    return pov, rot, fwd, right


def render(path, loc, night, grey, tmp):
    pov, _, _, _ = camera(loc)
    src = pathlib.Path(tmp) / "scene.pov"
    out = pathlib.Path(tmp) / "render.png"
    src.write_text(SCENE % dict(pov, night=int(night)))
    subprocess.run(["povray", "-D", "-V", "+I" + str(src), "+O" + str(out), "+FN",
                    "+W%d" % W, "+H%d" % H, "+A0.02", "+AM2", "+R3", "-J", "+Q9"],
                   check=True, capture_output=True)
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(out), "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-"], check=True, capture_output=True).stdout
    rgb = np.frombuffer(raw, np.uint8).reshape(H, W, 3)
    if grey:
        y = rgb.astype(np.float64) @ np.array([0.2126, 0.7152, 0.0722])
        data, fmt = np.clip(np.rint(y), 0, 255).astype(np.uint8).tobytes(), "gray"
    else:
        data, fmt = rgb.tobytes(), "rgb24"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", fmt, "-s",
                    "%dx%d" % (W, H), "-i", "-", "-compression_level", "9", "-pred", "mixed",
                    str(path)], input=data, check=True)


def main():
    focal = (W / 2) / math.tan(math.radians(HFOV) / 2)
    _, rot, fwd, right = camera(START)
    heading = norm([fwd[0], 0.0, fwd[2]])
    side = norm([right[0], 0.0, right[2]])
    shots = []
    for k in range(17):
        s = k / 16
        shots.append(("dolly_%02d.png" % k, [START[i] + s * heading[i] for i in range(3)], False,
                      {"move": "dolly", "metres": s, "grey": k > 0}))
    for k in range(1, 5):
        s = k / 8
        shots.append(("truck_%d.png" % k, [START[i] + s * side[i] for i in range(3)], False,
                      {"move": "truck", "metres": s, "grey": True}))
    shots.append(("night.png", list(START), True, {"move": "none", "metres": 0.0,
                                                    "grey": False}))
    only = set(sys.argv[1:])
    with tempfile.TemporaryDirectory() as tmp:
        for name, loc, night, meta in shots:
            if only and name not in only:
                continue
            print("rendering", name, flush=True)
            render(HERE / name, loc, night, meta["grey"], tmp)
    K = [[focal, 0, W / 2], [0, focal, H / 2], [0, 0, 1]]
    vps = []
    for k in range(3):  # room axis k in camera coordinates = column k of R
        d = [rot[r][k] for r in range(3)]
        vps.append([focal * d[0] + W / 2 * d[2], focal * d[1] + H / 2 * d[2], d[2]])
    cam = START
    truth = {
        "width": W, "height": H, "hfov_deg": HFOV, "focal_px": focal,
        "principal_point": [W / 2, H / 2], "K": K,
        "yaw_deg": YAW, "pitch_deg": PITCH, "eye_height_m": EYE,
        "rotation_room_to_camera": rot,
        "vanishing_points_homogeneous": vps,
        "conventions": "camera x right, y down, z forward; room X = POV x, Y = -POV y (down), "
                       "Z = POV z; X_cam = R X_room; poses: POV-Ray coordinates (metres)",
        "plane_distances_m": {
            "floor": cam[1] - ROOM["y"][0], "ceiling": ROOM["y"][1] - cam[1],
            "left": cam[0] - ROOM["x"][0], "right": ROOM["x"][1] - cam[0],
            "back": ROOM["z"][1] - cam[2]},
        "heading": heading, "side": side,
        "shots": [dict(file=n, position=loc, night=night, **m) for n, loc, night, m in shots],
        "povray": subprocess.run(["povray", "--version"], capture_output=True,
                                 text=True).stderr.splitlines()[0],
    }
    (HERE / "truth.json").write_text(json.dumps(truth, indent=1) + "\n")


if __name__ == "__main__":
    main()
