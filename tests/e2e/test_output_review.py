"""End-to-end tests of the output review hook (--output-review-command, API
v1's 9038 PROHIBITED_CONTENT) against a real `i2v serve`: the reviewer gets
the cover and three sampled frames as real JPEG files of the output's size;
one that refuses a cover that is mostly red (measured with ffmpeg) fails the
generation with its reason -- 9038 through API v1, prohibited_content through
Animation API v2 and the native API -- refunded exactly once, no file left in
the scratch folder or the blob store; one that accepts lets it succeed; one
that cannot run or hangs fails it closed (an internal error, refunded).
Runs on SQLite and a folder, then on two API servers and three workers over
PostgreSQL and S3."""
import json
import pathlib
import struct
import sys
import time
import zlib

import pytest
import requests

from conftest import start_backend
from svc import LocalServer, Service, stop_and_check_books

API = "/api/i2v/v1"
PHOTO = "Bridge_by_Sander_Klootwijk.jpg"

# The reviewer: logs what it got (one JSON line per run), then judges the
# cover by its mean colour (ffmpeg scales it to one pixel).
REVIEWER = r'''
import json, os, subprocess, sys, time
files = sys.argv[1:]
seen = []
for f in files:
    b = open(f, "rb").read()
    seen.append({"path": f, "bytes": len(b), "jpeg": b[:3] == b"\xff\xd8\xff" and b[-2:] == b"\xff\xd9"})
with open(os.environ["REVIEW_LOG"], "a") as log:
    log.write(json.dumps({"files": seen, "task_id": os.environ.get("I2V_TASK_ID"),
                          "generation_id": os.environ.get("I2V_GENERATION_ID")}) + "\n")
if os.path.exists(os.environ["REVIEW_LOG"] + ".hang"):
    time.sleep(60)
rgb = subprocess.run(["ffmpeg", "-v", "error", "-i", files[0], "-vf", "scale=1:1",
                      "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True,
                     check=True).stdout
r, g, b = rgb[:3]
if r > 150 and g < 80 and b < 80:
    print(f"mostly red (mean colour {r},{g},{b})")
    print("a second line that is not the reason")
    sys.exit(1)
'''


def red_png(w=640, h=480):
    """A solid red RGB PNG."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    rows = b"".join(b"\0" + b"\xdc\x10\x10" * w for _ in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def photos_srv(tmp_path_factory):
    s = LocalServer()
    s.extra_dir = tmp_path_factory.mktemp("review-photos")
    (s.extra_dir / "red.png").write_bytes(red_png())
    yield s
    s.close()


@pytest.fixture(scope="module", params=["sqlite", "postgres+s3"])
def svc(request, i2v, tmp_path_factory, photos_srv):
    tmp = tmp_path_factory.mktemp("review")
    script = tmp / "reviewer.py"
    script.write_text(REVIEWER)
    log = tmp / "review.log"
    scratch = tmp / "scratch"
    scratch.mkdir()
    import os
    os.environ["REVIEW_LOG"] = str(log)  # inherited by every process started below
    extra = ["--output-review-command", f"{sys.executable} {script}",
             "--output-review-timeout", "20", "--scratch", str(scratch)]
    s = start_backend(request, i2v, tmp, extra)
    s.review_log, s.scratch = log, scratch
    yield s
    stop_and_check_books(s)


def call(svc, user, method, path, **kw):
    return requests.request(method, svc.base + API + path,
                            headers={"Authorization": "Bearer " + user.key}, timeout=30, **kw)


def reviews(svc, task_id):
    if not svc.review_log.exists():
        return []
    lines = [json.loads(line) for line in svc.review_log.read_text().splitlines()]
    return [x for x in lines if x["task_id"] == str(task_id)]


def outputs_in_blob_store(svc):
    if svc.label != "sqlite":
        return None
    return sorted(p.name for p in (svc.data / "outputs").iterdir())


def test_refused_output_fails_with_9038_refunded_once(svc, photos_srv):
    user = svc.new_user(credits=1000)
    before = outputs_in_blob_store(svc)
    hook = f"review-{svc.label}"
    r = user.v1_generate({"imageUrl": photos_srv.url("red.png"), "duration": 5,
                          "resolution": "480p"})
    assert r.status_code == 200 and r.json()["code"] == 0, r.text
    task = r.json()["data"]
    data = user.wait_v1(task)
    assert data["status"] == "Failed" and data["output"] is None and data["percentage"] == 0
    ans = user.v1_result(task).json()
    assert ans["code"] == 9038, ans
    assert ans["message"].startswith(
        "Generated output image contains prohibited content: mostly red (mean colour ")
    assert "second line" not in ans["message"]
    # the same generation through the native API and Animation API v2
    r = call(svc, user, "GET", f"/generations/{task}")
    g = r.json()
    assert g["state"] == "failed" and g["error_code"] == "prohibited_content"
    assert g["error"] == ans["message"] and g["outputs"] is None
    v2 = user.v2_get(g["id"]).json()
    assert v2["status"] == "FAILED"
    assert v2["error"] == {"code": "prohibited_content", "message": ans["message"]}
    # refunded exactly once
    ledger = call(svc, user, "GET", "/ledger", params={"limit": 100}).json()["data"]
    rows = [x for x in ledger if x["generation_id"] == g["id"]]
    assert sorted(x["kind"] for x in rows) == ["charge", "refund"]
    assert sum(x["amount"] for x in rows) == 0
    assert user.balance() == (1000, 1000)
    # the reviewer saw the cover and three frames, real JPEGs; nothing is left
    seen = reviews(svc, task)
    assert len(seen) == 1 and seen[0]["generation_id"] == g["id"]
    files = seen[0]["files"]
    assert len(files) == 4 and all(f["jpeg"] and f["bytes"] > 1000 for f in files)
    assert files[0]["path"].endswith(".jpg")
    assert all(not pathlib.Path(f["path"]).exists() for f in files)
    assert list(svc.scratch.iterdir()) == []
    assert outputs_in_blob_store(svc) == before
    # the native webhook path says why too
    r = call(svc, user, "POST", "/generations",
             json={"image_url": photos_srv.url("red.png"), "duration": 1, "resolution": "480p",
                   "webhook": photos_srv.url("/hook/" + hook)})
    g2 = r.json()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not [h for h in photos_srv.hooks
                                                if h["name"] == hook]:
        time.sleep(0.1)
    ev = json.loads([h for h in photos_srv.hooks if h["name"] == hook][0]["body"])
    assert ev["type"] == "generation.failed"
    assert ev["data"]["generation_id"] == g2["id"]
    assert ev["data"]["error"].startswith("Generated output image contains prohibited content")
    assert ev["data"]["refunded_credits"] == g2["price"]


def test_accepted_output_succeeds_with_real_frames(svc, photos_srv):
    user = svc.new_user()
    r = call(svc, user, "POST", "/generations",
             json={"image_url": photos_srv.url(PHOTO), "duration": 3, "resolution": "480p"})
    assert r.status_code == 201, r.text
    gid = r.json()["id"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        g = call(svc, user, "GET", f"/generations/{gid}").json()
        if g["state"] not in ("queued", "running"):
            break
        time.sleep(0.1)
    assert g["state"] == "succeeded" and g["error"] is None and g["error_code"] is None, g
    seen = reviews(svc, g["task_id"])
    assert len(seen) == 1
    files = seen[0]["files"]
    assert len(files) == 4 and all(f["jpeg"] for f in files)
    # the cover the reviewer saw is the cover served
    cover = requests.get(g["outputs"]["cover"], timeout=30)
    assert cover.status_code == 200 and len(cover.content) == files[0]["bytes"]
    assert user.v1_result(g["task_id"]).json()["code"] == 0
    assert "error" not in user.v2_get(gid).json()
    assert list(svc.scratch.iterdir()) == []


def test_reviewer_that_hangs_or_cannot_run_fails_closed(i2v, tmp_path, photos_srv):
    """An internal error, never an unreviewed success: a command that does
    not exist, and one that outlives --output-review-timeout."""
    import os
    log = tmp_path / "review.log"
    os.environ["REVIEW_LOG"] = str(log)
    (tmp_path / "review.log.hang").write_text("")
    script = tmp_path / "reviewer.py"
    script.write_text(REVIEWER)
    for cmd, says in ((f"{tmp_path}/no-such-reviewer --strict", "cannot run"),
                      (f"{sys.executable} {script}", "did not answer within 1.0 s")):
        s = Service(i2v, tmp_path / f"data-{len(says)}",
                    extra=["--output-review-command", cmd, "--output-review-timeout", "1"]).start()
        try:
            user = s.new_user()
            t0 = time.monotonic()
            r = user.v1_generate({"imageUrl": photos_srv.url(PHOTO), "duration": 5,
                                  "resolution": "480p"})
            data = user.wait_v1(r.json()["data"])
            assert data["status"] == "Failed"
            ans = user.v1_result(r.json()["data"]).json()
            assert ans["code"] == 0  # not a content refusal
            g = requests.get(f"{s.base}{API}/generations/{r.json()['data']}",
                             headers={"Authorization": "Bearer " + user.key}, timeout=30).json()
            assert g["error_code"] == "failed" and says in g["error"], g
            assert user.balance() == (1000, 1000)
            assert time.monotonic() - t0 < 60
            assert list((s.data / "tmp").iterdir()) == []
        finally:
            stop_and_check_books(s)
