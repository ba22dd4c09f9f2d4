"""End-to-end tests of photo uploads (POST /api/i2v/v1/uploads, GET /u/<id>)
against a real `i2v serve`: a photo sent raw or as multipart/form-data is
checked like a fetched photo and stored; its URL makes generations through
the native API, Image to Video API v1 and Animation API v2 (read from the
blob store, not fetched), for its owner only and until it expires; hostile
files (decompression bombs, headers claiming 60000x60000 pixels), non-images
and oversize bodies are refused naming the field; an Idempotency-Key repeats
an upload; expired uploads are swept. Runs on SQLite and a folder, then on
two API servers and three workers over PostgreSQL and S3."""
import datetime
import json
import pathlib
import secrets
import sqlite3
import time

import pytest
import requests

import bombs
from conftest import start_backend
from svc import log_lines, stop_and_check_books

ROOT = pathlib.Path(__file__).resolve().parents[2]
PHOTO = ROOT / "photos" / "Bridge_by_Sander_Klootwijk.jpg"  # 4352x2448, 914 KB
PNG = ROOT / "photos" / "coffee.png"
API = "/api/i2v/v1"
UPLOAD_MAX = 2_000_000
TTL = 40  # seconds; the sweep looks every TTL/4


@pytest.fixture(scope="module", params=["sqlite", "postgres+s3"])
def svc(request, i2v, tmp_path_factory):
    # photos come only from uploads: no address may be fetched (no --fetch-allow)
    extra = ["--upload-max-bytes", str(UPLOAD_MAX), "--upload-ttl", str(TTL)]
    s = start_backend(request, i2v, tmp_path_factory.mktemp("uploads"), extra, allow="")
    yield s
    stop_and_check_books(s)


def auth(user):
    return {"Authorization": "Bearer " + user.key}


def upload_raw(svc, user, data, ctype="image/jpeg", headers=None):
    h = auth(user)
    if ctype:
        h["Content-Type"] = ctype
    h.update(headers or {})
    return requests.post(svc.base + API + "/uploads", data=data, headers=h, timeout=60)


def upload_form(svc, user, files):
    return requests.post(svc.base + API + "/uploads", files=files, headers=auth(user), timeout=60)


def error_of(r, status, field):
    assert r.status_code == status, r.text
    e = r.json()["error"]
    assert e["field"] == field, e
    assert e["message"].startswith(field + ":"), e
    return e


def stamp(ts):
    return datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def writable_db(svc):
    if svc.label == "sqlite":
        return sqlite3.connect(svc.data / "i2v.db", timeout=10, isolation_level=None)
    return svc.db()


def wait_native(svc, user, gid, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        g = requests.get(f"{svc.base}{API}/generations/{gid}", headers=auth(user), timeout=30).json()
        if g["state"] in ("succeeded", "failed", "cancelled"):
            return g
        time.sleep(0.2)
    raise AssertionError(f"generation {gid} is still {g['state']}")


def test_upload_raw_and_multipart(svc):
    user = svc.new_user()
    data = PHOTO.read_bytes()
    t0 = time.time()
    r = upload_raw(svc, user, data)
    assert r.status_code == 201, r.text
    a = r.json()
    assert set(a) == {"id", "url", "format", "width", "height", "bytes", "created_at",
                      "expires_at"}
    assert a["format"] == "jpeg" and (a["width"], a["height"]) == (4352, 2448)
    assert a["bytes"] == len(data)
    assert a["url"] == f"{svc.public}/u/{a['id']}"
    created, expires = stamp(a["created_at"]), stamp(a["expires_at"])
    assert abs(expires - created - TTL) < 0.0015 and abs(created - t0) < 60
    # the format comes from the bytes: a PNG sent as image/jpeg, and a form
    # whose part says nothing of its type
    r = upload_raw(svc, user, PNG.read_bytes(), ctype="image/jpeg")
    assert r.status_code == 201 and r.json()["format"] == "png", r.text
    r = upload_form(svc, user, {"file": ("photo.txt", data, "text/plain")})
    assert r.status_code == 201, r.text
    b = r.json()
    assert b["format"] == "jpeg" and b["bytes"] == len(data) and b["id"] != a["id"]
    r = upload_raw(svc, user, data, ctype="application/octet-stream")
    assert r.status_code == 201, r.text
    # its owner sees it (the bytes as sent); nobody else does
    got = requests.get(svc.base + f"/u/{a['id']}", headers=auth(user), timeout=30)
    assert got.status_code == 200 and got.content == data
    assert got.headers["Content-Type"] == "image/jpeg"
    other = svc.new_user()
    r = requests.get(svc.base + f"/u/{a['id']}", headers=auth(other), timeout=30)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert requests.get(svc.base + f"/u/{a['id']}", timeout=30).status_code == 401
    assert requests.get(svc.base + "/u/" + "0" * 32, headers=auth(user),
                        timeout=30).status_code == 404
    assert requests.get(svc.base + "/u/nope", headers=auth(user), timeout=30).status_code == 404


def test_generations_from_uploads_on_every_api(svc):
    """Nothing may be fetched (no --fetch-allow): these succeed only because
    the workers read the uploads from the blob store."""
    user = svc.new_user()
    a = upload_raw(svc, user, PHOTO.read_bytes()).json()
    b = upload_form(svc, user, {"file": ("p.png", PNG.read_bytes(), "image/png")}).json()
    # native: one photo, and a first-last pair
    r = requests.post(svc.base + API + "/generations", headers=auth(user), timeout=30,
                      json={"image_url": a["url"], "resolution": "480p", "duration": 2})
    assert r.status_code == 201, r.text
    n1 = r.json()["id"]
    r = requests.post(svc.base + API + "/generations", headers=auth(user), timeout=30,
                      json={"image_urls": [a["url"]], "last_image_url": b["url"],
                            "resolution": "480p", "duration": 2})
    assert r.status_code == 201, r.text
    n2 = r.json()["id"]
    # Image to Video API v1 and Animation API v2
    r = user.v1_generate({"imageUrl": a["url"], "duration": 5, "resolution": "480p"})
    assert r.status_code == 200 and r.json()["code"] == 0, r.text
    task = r.json()["data"]
    r = user.v2_generate({"image_urls": [b["url"]], "option": "ZOOM_IN"})
    assert r.status_code == 200, r.text
    gid = r.json()["generation_id"]
    for g in (n1, n2):
        done = wait_native(svc, user, g)
        assert done["state"] == "succeeded", done
    assert user.wait_v1(task)["status"] == "Success"
    ans = user.wait_v2(gid)
    assert ans["status"] == "SUCCEEDED" and ans["urls"], ans
    assert log_lines(svc.log_text, "job_succeeded")


def test_hostile_and_wrong_uploads_refused(svc):
    user = svc.new_user()
    jpeg = PHOTO.read_bytes()
    cases = [
        (bombs.png_deflate_bomb(20000), "20000x20000"),  # 400 MP of zeros in ~400 KB
        (bombs.png_huge_header(60000, 60000), "60000x60000"),
        (bombs.jpeg_huge_header(jpeg, 60000, 60000), "60000x60000"),
        (b"hello, this is no photo", "not an image"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 100, ""),  # a PNG signature and nothing sound
        (jpeg[:200], ""),  # a JPEG cut short in its header
    ]
    for data, says in cases:
        e = error_of(upload_raw(svc, user, data), 400, "body")
        assert says in e["message"], e
        e = error_of(upload_form(svc, user, {"file": ("x.jpg", data, "image/jpeg")}), 400, "file")
        assert says in e["message"], e
    # empty, a wrong Content-Type, forms without the one field "file"
    error_of(upload_raw(svc, user, b""), 400, "body")
    error_of(upload_raw(svc, user, json.dumps({"file": "x"}), ctype="application/json"), 400,
             "Content-Type")
    error_of(upload_form(svc, user, {"photo": ("x.jpg", jpeg, "image/jpeg")}), 400, "photo")
    error_of(upload_form(svc, user, [("file", ("a.jpg", jpeg, "image/jpeg")),
                                      ("file", ("b.jpg", jpeg, "image/jpeg"))]), 400, "file")
    r = requests.post(svc.base + API + "/uploads", data=b"--xyz\r\nbroken",
                      headers=dict(auth(user), **{"Content-Type":
                                                  "multipart/form-data; boundary=xyz"}),
                      timeout=30)
    assert r.status_code == 400, r.text
    # oversize: above --upload-max-bytes raw, in a form, and far above (refused
    # before the body is read)
    big = jpeg + b"\0" * (UPLOAD_MAX - len(jpeg) + 1)
    e = error_of(upload_raw(svc, user, big), 413, "body")
    assert e["code"] == "payload_too_large" and str(UPLOAD_MAX) in e["message"]
    e = error_of(upload_form(svc, user, {"file": ("big.jpg", big, "image/jpeg")}), 413, "file")
    assert str(UPLOAD_MAX) in e["message"]
    e = error_of(upload_raw(svc, user, big + b"\0" * 200000), 413, "body")
    assert str(UPLOAD_MAX) in e["message"]
    # the JSON limit (64 KiB) does not apply to photos; it still does elsewhere
    r = requests.post(svc.base + API + "/generations", headers=auth(user), timeout=30,
                      data=b'{"image_url": "' + b"a" * 70000 + b'"}')
    assert r.status_code == 413
    # nothing was stored, nothing charged
    assert user.balance() == (1000, 1000)
    assert requests.post(svc.base + API + "/uploads", data=jpeg, timeout=30).status_code == 401


def test_another_users_upload_is_refused(svc):
    owner, other = svc.new_user(), svc.new_user()
    url = upload_raw(svc, owner, PHOTO.read_bytes()).json()["url"]
    r = requests.post(svc.base + API + "/generations", headers=auth(other), timeout=30,
                      json={"image_url": url})
    e = error_of(r, 400, "image_url")
    assert "no upload" in e["message"]
    r = requests.post(svc.base + API + "/generations", headers=auth(other), timeout=30,
                      json={"image_urls": ["http://example.com/a.jpg", url]})
    error_of(r, 400, "image_urls[1]")
    r = other.v1_generate({"imageUrl": url, "duration": 5, "resolution": "480p"})
    assert r.status_code == 400 and r.json()["code"] == 1011, r.text
    assert r.json()["message"].startswith("imageUrl: no upload")
    r = other.v1_generate({"imageUrl": "http://example.com/a.jpg", "lastImageUrl": url,
                           "duration": 5, "resolution": "480p"})
    assert r.status_code == 400 and r.json()["message"].startswith("lastImageUrl: no upload")
    r = other.v2_generate({"image_urls": [url], "option": "ZOOM_IN"})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "invalid_request"
    assert r.json()["error"]["message"].startswith("image_urls[0]: no upload")
    # a made-up upload id is refused the same way
    r = owner.v2_generate({"image_urls": [svc.public + "/u/" + "ab" * 16], "option": "ZOOM_IN"})
    assert r.status_code == 400 and "no upload" in r.json()["error"]["message"]
    assert other.balance() == (1000, 1000)


def test_expired_upload_is_refused_then_swept(svc):
    user = svc.new_user()
    a = upload_raw(svc, user, PHOTO.read_bytes()).json()
    con = writable_db(svc)
    blob = con.execute("SELECT blob FROM uploads WHERE id=?", (a["id"],)).fetchone()[0]
    con.execute("UPDATE uploads SET expires_ms=? WHERE id=?",
                (int(time.time() * 1000) - 1000, a["id"]))
    con.close()
    if svc.label == "sqlite":
        assert (svc.data / "outputs" / blob).exists()
    r = requests.post(svc.base + API + "/generations", headers=auth(user), timeout=30,
                      json={"image_url": a["url"]})
    e = error_of(r, 400, "image_url")
    assert "expired" in e["message"]
    r = user.v1_generate({"imageUrl": a["url"], "duration": 5, "resolution": "480p"})
    assert r.status_code == 400 and "expired" in r.json()["message"]
    assert requests.get(svc.base + f"/u/{a['id']}", headers=auth(user),
                        timeout=30).status_code == 404
    # the sweep (every TTL/4 s, in every process) removes the blob, then the row
    deadline = time.monotonic() + TTL / 4 + 10
    while time.monotonic() < deadline:
        con = svc.db()
        left = con.execute("SELECT COUNT(*) FROM uploads WHERE id=?", (a["id"],)).fetchone()[0]
        con.close()
        if not left:
            break
        time.sleep(0.5)
    assert left == 0
    if svc.label == "sqlite":
        assert not (svc.data / "outputs" / blob).exists()
    assert "event=uploads_expired" in svc.log_text()
    assert user.balance() == (1000, 1000)


def test_upload_idempotency_key(svc):
    user = svc.new_user()
    key = "up-" + secrets.token_hex(4)
    data = PHOTO.read_bytes()
    first = upload_raw(svc, user, data, headers={"Idempotency-Key": key})
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    again = upload_form(svc, user, {"file": ("same.jpg", data, "image/jpeg")})
    assert again.json()["id"] != first.json()["id"]  # no key: a new upload
    r = requests.post(svc.base + API + "/uploads", files={"file": ("same.jpg", data)},
                      headers=dict(auth(user), **{"Idempotency-Key": key}), timeout=60)
    assert r.status_code == 201 and r.headers.get("Idempotent-Replayed") == "true"
    assert r.content == first.content  # the same photo: the first answer, byte for byte
    r = upload_raw(svc, user, PNG.read_bytes(), headers={"Idempotency-Key": key})
    e = error_of(r, 422, "Idempotency-Key")
    assert e["code"] == "idempotency_key_reused"
    error_of(upload_raw(svc, user, data, headers={"Idempotency-Key": "a b"}), 400,
             "Idempotency-Key")
    # the key is per user
    other = svc.new_user()
    r = upload_raw(svc, other, data, headers={"Idempotency-Key": key})
    assert r.status_code == 201 and r.json()["id"] != first.json()["id"]
