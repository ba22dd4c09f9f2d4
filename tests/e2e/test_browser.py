"""The Developer Space in a real browser: Debian's headless Chromium, driven
by playwright-core (tests/browser, pinned by its package-lock.json), against
a real `i2v serve` on SQLite. tests/browser/run.js plays every scenario once
and prints what it saw as one JSON line per scenario; each test here asserts
on one of them, and on the server's own records (the store, the ledger).
Screenshots of every page go to tests/browser/screenshots/."""
import json
import os
import pathlib
import shutil
import subprocess
import time

import pytest
import requests

from svc import PHOTOS, LocalServer, Service, stop_and_check_books

ROOT = pathlib.Path(__file__).resolve().parents[2]
BROWSER = ROOT / "tests" / "browser"
CHROMIUM = "/usr/bin/chromium"
PHOTO = "livingroom_sofa-balcony-window_Shixart1985_CC-BY-2.0.jpg"  # 321 kB, in interiors/
XSS = '"><img src=x onerror=alert(1)>'
API = "/api/i2v/v1"


@pytest.fixture(scope="module")
def run(i2v, tmp_path_factory):
    """Starts the server and the photo server, runs every scenario once;
    the scenarios' results by name, with the server and user."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (scripts/setup.sh does)")
    if not (BROWSER / "node_modules" / "playwright-core").is_dir():
        pytest.fail("tests/browser/node_modules is missing: npm ci --prefix tests/browser "
                    "(scripts/setup.sh does)")
    photos = LocalServer()
    photos.extra_dir = PHOTOS / "interiors"
    tmp = tmp_path_factory.mktemp("browser")
    # uploads may be as large as the photo; sign-ins are limited per address
    s = Service(i2v, tmp / "data", extra=["--body-max", "8388608", "--signin-limit", "20"]).start()
    user = s.new_user(credits=2000, name="browser")
    shots = BROWSER / "screenshots"
    shutil.rmtree(shots, ignore_errors=True)
    cfg = {"base": s.base, "key": user.key, "user_id": user.id,
           "photo_url": photos.url(PHOTO), "photo_file": str(PHOTOS / "interiors" / PHOTO),
           "screenshots": str(shots), "duration": 6}
    (tmp / "cfg.json").write_text(json.dumps(cfg))
    t0 = time.monotonic()
    p = subprocess.run(["node", str(BROWSER / "run.js"), str(tmp / "cfg.json")],
                       capture_output=True, text=True, timeout=900, cwd=BROWSER)
    results = {}
    for line in p.stdout.splitlines():
        if line.startswith("{"):
            o = json.loads(line)
            results[o["scenario"]] = o
    print(f"browser run: {time.monotonic() - t0:.1f} s; stderr: {p.stderr[-2000:]}")
    assert "fatal" not in results, results["fatal"]["error"]
    yield {"r": results, "svc": s, "user": user, "photos": photos, "stderr": p.stderr}
    photos.close()
    stop_and_check_books(s)


def seen(run, name):
    o = run["r"].get(name)
    assert o is not None, f"scenario {name} did not run: {run['stderr'][-1500:]}"
    assert o["ok"], f"scenario {name} failed: {o.get('error')}"
    return o


def api(run, method, path, **kw):
    return requests.request(method, run["svc"].base + API + path,
                            headers={"Authorization": "Bearer " + run["user"].key}, timeout=30, **kw)


def test_page_headers_and_no_inline_script(run):
    o = seen(run, "csp")
    assert o["status"] == 200
    csp = o["csp"]
    assert csp and "script-src 'self'" in csp and "default-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp and "style-src 'self'" in csp
    assert o["nosniff"] == "nosniff" and o["referrer"] == "no-referrer"
    assert o["inline_scripts"] == 0 and o["style_attributes"] == 0 and o["inline_styles"] == 0
    summary = seen(run, "summary")
    assert summary["csp_violations"] == [], summary["csp_violations"]


def test_sign_in(run):
    o = seen(run, "signin")
    assert "unknown or revoked" in o["wrong_key_error"]
    assert o["user_id"] == run["user"].id
    assert o["cookie_http_only"] is True and o["cookie_same_site"] == "Strict"
    assert o["cookie_visible_to_js"] is False


def test_copy_user_id(run):
    o = seen(run, "copy_user_id")
    assert o["button"] == "yes"
    assert o["clipboard"] == run["user"].id


def test_upload_through_the_file_input(run):
    o = seen(run, "upload")
    r = requests.post(run["svc"].base + API + "/uploads", data=b"",
                      headers={"Authorization": "Bearer " + run["user"].key})
    if r.status_code == 404 and "no such endpoint" in r.text:
        # the page must say so clearly, naming the failure
        assert "Upload failed" in o["status"] and "404" in o["status"], o
        pytest.skip("POST /api/i2v/v1/uploads is not served by this build")
    assert o["status"].startswith("Uploaded"), o
    assert o["url"].startswith("http"), o


def test_create_and_watch_progress_to_100_without_reloading(run):
    o = seen(run, "create_and_watch")
    assert o["final"] == "succeeded", o
    assert o["same_document"] == "yes"  # never reloaded
    assert o["progress_seen"][-1] == 100 and o["progress_seen"][0] < 100, o
    assert o["progress_seen"] == sorted(o["progress_seen"]), o
    assert o["states_seen"][-1] == "succeeded"
    g = api(run, "GET", "/generations/" + o["id"]).json()
    assert g["state"] == "succeeded" and g["input"]["move"] == "ZOOM_IN"
    assert g["input"]["resolution"] == "480p" and g["input"]["duration"] == 6
    assert o["price"] == g["price"] == 20  # 480p flash, two 5 s blocks
    assert o["plan"] == g["prompt"]


def test_video_plays_and_seeks(run):
    o = seen(run, "play_video")
    assert o["can_play"] in ("probably", "maybe")
    assert o["current_time"] > 0.5
    assert o["seeked_to"] is not None and o["seeked_to"] > 1.0, o
    assert 5.5 < o["duration"] < 6.5


def test_cancel_another(run):
    o = seen(run, "cancel")
    assert o["before"] in ("queued", "running") and o["after"] == "cancelled"
    g = api(run, "GET", "/generations/" + o["id"]).json()
    assert g["state"] == "cancelled" and g["error"] == "cancelled"
    ledger = api(run, "GET", "/ledger", params={"limit": 100}).json()["data"]
    mine = [row for row in ledger if row["generation_id"] == g["id"]]
    assert sorted(row["kind"] for row in mine) == ["charge", "refund"]
    assert sum(row["amount"] for row in mine) == 0


def test_prompt_is_shown_as_text_and_runs_nothing(run):
    o = seen(run, "xss")
    assert o["shown"] == XSS and o["prompt_in_form"] == XSS and o["curl_has_prompt"]
    assert o["injected_imgs"] == 0
    assert o["dialogs"] == []
    assert seen(run, "summary")["dialogs"] == []
    assert api(run, "GET", "/generations/" + o["id"]).json()["input"]["prompt"] == XSS


def test_create_and_revoke_a_key(run):
    o = seen(run, "keys")
    assert o["key"].startswith("i2v_") and len(o["key"]) == 47
    assert "revoked" in o["row"] and "browser test" in o["row"]
    r = requests.get(run["svc"].base + API + "/account",
                     headers={"Authorization": "Bearer " + o["key"]})
    assert r.status_code == 401  # revoked in the store, not only on the page
    keys = api(run, "GET", "/keys").json()["data"]
    assert [k["revoked"] for k in keys if k["key_id"] == o["key_id"]] == [True]


def test_ledger_page_matches_the_api(run):
    o = seen(run, "ledger")
    ledger = api(run, "GET", "/ledger", params={"limit": 50}).json()["data"]
    # the page was read before the later scenarios: compare its rows with
    # the same rows of the API's ledger
    page = o["rows"]
    assert len(page) >= 5
    tail = ledger[len(ledger) - len(page):]
    assert [r["kind"] for r in page] == [r["kind"] for r in tail]
    for shown, row in zip(page, tail):
        amount = int(shown["amount"].replace("−", "-").replace("+", "").replace(",", ""))
        assert amount == row["amount"]
        assert int(shown["balance_after"].replace(",", "")) == row["balance_after"]
    assert page[-1]["kind"] == "topup"
    assert o["bars"] >= 1  # today's use is drawn


def test_change_without_csrf_token_is_refused(run):
    o = seen(run, "csrf")
    assert o["without_status"] == 403 and o["without_body"]["error"]["code"] == "csrf"
    assert o["without_body"]["error"]["field"] == "X-CSRF-Token"
    assert o["wrong_status"] == 403
    assert o["with_status"] == 200


def test_every_page_renders_without_errors(run):
    o = seen(run, "pages")
    assert o["overview"]["h1"] == "Overview" and o["overview"]["errors"] == []
    assert o["generations"]["errors"] == []
    assert o["create"]["errors"] == []
    # the webhook endpoints may be missing from this build; the page says so
    assert o["webhooks"]["h1"] == "Webhooks"
    shots = BROWSER / "screenshots"
    for name in ("signin", "overview", "generations", "generation", "create", "keys", "credits",
                 "webhooks"):
        assert (shots / f"{name}.png").stat().st_size > 10000, name


def test_phone_width_has_no_horizontal_scroll(run):
    o = seen(run, "phone")
    for name, w in o["widths"].items():
        assert w["inner"] == 375 and w["scroll"] <= w["client"], (name, w)


def test_keyboard_and_labels(run):
    o = seen(run, "keyboard")
    assert o["first_tab"] == "Skip to content"
    assert o["unlabelled"] == []


def test_sign_out(run):
    o = seen(run, "signout")
    assert o["session_status"] == 401 and o["cookies_left"] == 0
