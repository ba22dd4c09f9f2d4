"""The README's room demo: what i2v does with real interior photographs.

Renders a DOLLY_IN of every photo in photos/interiors/ (and a TRUCK_RIGHT of
one of them) with `i2v render`, then writes per video one strip JPEG (first |
middle | last frame side by side, 960 px wide in all) under docs/img/rooms/,
and docs/img/rooms/README.md: a table of the photo, the move, the plan's
prompt, the camera line (3D, or the 2D fallback and its reason) and the
layout `--explain` reports, with the photos' credits from
photos/interiors/SOURCES.md.

    /usr/bin/python3 bench/rooms_demo.py [--i2v build/i2v] [--out docs/img/rooms]

Needs ffmpeg (to take the three frames out of each MP4).
"""
import argparse
import pathlib
import re
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
PHOTOS = ROOT / "photos" / "interiors"
TRUCK_PHOTO = "livingroom_sofa-balcony-window_Shixart1985_CC-BY-2.0.jpg"
STRIP_W = 960  # the three frames side by side, without the gaps
GAP = 4

CREDITS = {
    "bedroom_pillows-drapes_Shixart1985_CC-BY-2.0.jpg":
        "“Cozy modern bedroom with plush pillows and elegant drapes in bright daylight” by "
        "Shixart1985, CC BY 2.0, via Wikimedia Commons; resized by a third party",
    "kitchen_blue-white-island_NeONBRAND_CC0.jpg":
        "“Blue white kitchen interior (Unsplash)” by NeONBRAND, CC0 1.0",
    "kitchen_corner-sink_amslerPIX_CC-BY-2.0.jpg":
        "“Kitchen Cabinets - Sink” by amslerPIX, CC BY 2.0, via Wikimedia Commons; resized and "
        "metadata stripped by a third party",
    "kitchen_terrytown-lamps-on_Infrogmation_CC-BY-SA-4.0.jpg":
        "“Terrytown Louisiana Kitchen Interior” by Infrogmation of New Orleans, CC BY-SA 4.0, "
        "via Wikimedia Commons; 1920 px thumbnail (the strip is CC BY-SA 4.0 too)",
    "livingroom_sofa-balcony-window_Shixart1985_CC-BY-2.0.jpg":
        "“Modern living room with stylish furniture…” by Shixart1985, CC BY 2.0, via Wikimedia "
        "Commons; resized by a third party",
}


def render(i2v, photo, move, out):
    proc = subprocess.run([i2v, "render", str(photo), "-o", str(out), "--option", move],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"i2v render {photo.name} {move} failed:\n{proc.stderr}")
    camera = next((l for l in proc.stderr.splitlines() if l.startswith("event=camera ")), "")
    done = next(l for l in proc.stderr.splitlines() if l.startswith("event=render_done "))
    frames = int(re.search(r" frames=(\d+)", done).group(1))
    plan = re.search(r' plan="(.*)"$', done).group(1)
    return camera[len("event=camera "):], plan, frames


def layout(i2v, photo):
    """The room i2v sees (`--explain`): the visible faces' distances, or why it is none."""
    proc = subprocess.run([i2v, "render", str(photo), "--explain"], capture_output=True,
                          text=True)
    first = proc.stdout.splitlines()[0] if proc.stdout else ""
    kv = dict(re.findall(r'(\w+)=("[^"]*"|\S+)', first))
    focal = re.search(r"^focal_35mm=(\S+)", proc.stdout, re.M)
    faces = re.findall(r"^face=(\w+) visible=1 distance_m=([\d.]+)", proc.stdout, re.M)
    if kv.get("room") != "yes" or not focal:
        return f"not a room (confidence {kv.get('confidence', '?')}): {kv.get('reason', '?')}"
    kv["focal_35mm"] = focal.group(1)
    return (f"{float(kv['focal_35mm']):.0f} mm equiv.; " +
            ", ".join(f"{f} {float(d):.2f} m" for f, d in faces))


def strip(video, frames, out):
    """First, middle and last frame, each STRIP_W / 3 wide, in a row."""
    pick = "+".join(f"eq(n\\,{n})" for n in (0, (frames - 1) // 2, frames - 1))
    vf = (f"select='{pick}',scale={STRIP_W // 3}:-2:flags=lanczos,"
          f"tile=3x1:padding={GAP}:color=white")
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(video), "-vf", vf,
                    "-frames:v", "1", "-q:v", "5", str(out)], check=True)


def cell(text):
    return text.replace("|", "\\|")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--i2v", default=str(ROOT / "build" / "i2v"))
    ap.add_argument("--out", default=str(ROOT / "docs" / "img" / "rooms"))
    a = ap.parse_args()
    out = pathlib.Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(p, "DOLLY_IN") for p in sorted(PHOTOS.glob("*.jpg"))]
    jobs.append((PHOTOS / TRUCK_PHOTO, "TRUCK_RIGHT"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for photo, move in jobs:
            video = pathlib.Path(tmp) / f"{photo.stem}_{move}.mp4"
            camera, plan, frames = render(a.i2v, photo, move, video)
            room = layout(a.i2v, photo)
            name = f"{photo.stem.split('_')[0]}_{photo.stem.split('_')[1]}_{move.lower()}.jpg"
            strip(video, frames, out / name)
            rows.append((photo.name, move, name, plan, camera, room))
            print(f"{name}: {camera}")
    rel = pathlib.Path("../../../photos/interiors")
    lines = [
        "# Rooms in 3D on real photographs",
        "",
        "Made by `bench/rooms_demo.py` with `i2v render PHOTO -o OUT.mp4 --option MOVE` "
        "(720p, 5 s, `flash`, the defaults): each strip is the first, middle and last frame. "
        "The camera column is the CLI's `event=camera` line: `camera=3d` when the photo is taken "
        "for a room and the 3D camera moves, `camera=2d` with the reason when i2v falls back to "
        "the 2D move. The layout column is the box i2v fitted: the visible faces and their "
        "distances from the photo's camera (eye height 1.5 m assumed).",
        "",
        "| photo | move | first · middle · last | plan prompt | camera | layout seen (`--explain`) |",
        "|---|---|---|---|---|---|",
    ]
    for photo, move, name, plan, camera, room in rows:
        lines.append(f"| [{photo}]({rel / photo}) | `{move}` | ![{photo} {move}]({name}) | "
                     f"{cell(plan)} | `{cell(camera)}` | {cell(room)} |")
    lines += ["", "Photographs (see `photos/interiors/SOURCES.md`):", ""]
    lines += [f"- `{p}`: {c}" for p, c in CREDITS.items()]
    (out / "README.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
