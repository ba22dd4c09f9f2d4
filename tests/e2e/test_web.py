"""The Developer Space's server side against a real `i2v serve`: the pages
(Content-Type, ETag and 304, the security headers), sessions (the cookie's
flags, GET and DELETE, a revoked key ending them, forged and expired
cookies, CSRF on every change, the sign-in limit with Retry-After, one
session valid on every server sharing I2V_SESSION_SECRET) and the price
quote (checked exactly like a create, charging nothing). On SQLite and a
folder, then on two API servers over PostgreSQL and S3."""
import os
import re
import time

import pytest
import requests

from conftest import fresh_database, fresh_prefix
from svc import Cluster, Service, stop_and_check_books

API = "/api/i2v/v1"
SECRET = "a test secret shared by the servers 0123456789"


@pytest.fixture(scope="module", params=["sqlite", "postgres+s3"])
def svc(request, i2v, tmp_path_factory):
    saved = os.environ.get("I2V_SESSION_SECRET")
    os.environ["I2V_SESSION_SECRET"] = SECRET
    extra = ["--signin-limit", "1000", "--session-hours", "1"]
    try:
        if request.param == "sqlite":
            s = Service(i2v, tmp_path_factory.mktemp("web") / "data", extra=extra).start()
        else:
            pg, s3 = request.getfixturevalue("pg"), request.getfixturevalue("s3")
            s = Cluster(i2v, tmp_path_factory.mktemp("web-cluster"), fresh_database(pg),
                        fresh_prefix(s3), extra=extra, workers=1).start()
    finally:
        if saved is None:
            os.environ.pop("I2V_SESSION_SECRET", None)
        else:
            os.environ["I2V_SESSION_SECRET"] = saved
    s.label = request.param
    yield s
    stop_and_check_books(s)


def bases(svc):
    return [x.base for x in svc.servers] if isinstance(svc, Cluster) else [svc.base]


def sign_in(base, key):
    r = requests.post(base + API + "/session", json={"key": key}, timeout=30)
    assert r.status_code == 200, r.text
    return r


def cookie_of(r):
    m = re.match(r"i2v_session=([^;]*);", r.headers["Set-Cookie"])
    return m.group(1)


def test_pages_headers_etag_and_304(svc):
    base = bases(svc)[0]
    r = requests.get(base + "/", timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/html; charset=utf-8"
    csp = r.headers["Content-Security-Policy"]
    for d in ("default-src 'self'", "script-src 'self'", "style-src 'self'",
              "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'",
              "form-action 'self'", "media-src 'self' blob: https: http:"):
        assert d in csp
    assert "unsafe" not in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "no-referrer"
    assert '<script type="module" src="/assets/js/app.js">' in r.text
    assert "<script>" not in r.text and "style=" not in r.text
    for path, ctype in (("/assets/js/app.js", "text/javascript; charset=utf-8"),
                        ("/assets/app.css", "text/css; charset=utf-8"),
                        ("/assets/icon.svg", "image/svg+xml")):
        a = requests.get(base + path, timeout=30)
        assert a.status_code == 200 and a.headers["Content-Type"] == ctype
        assert a.headers["Content-Security-Policy"] == csp
        etag = a.headers["ETag"]
        again = requests.get(base + path, headers={"If-None-Match": etag}, timeout=30)
        assert again.status_code == 304 and again.content == b""
        assert again.headers["ETag"] == etag
        other = requests.get(base + path, headers={"If-None-Match": '"0000"'}, timeout=30)
        assert other.status_code == 200 and other.content == a.content
        head = requests.head(base + path, timeout=30)
        assert head.status_code == 200 and int(head.headers["Content-Length"]) == len(a.content)
    # the server's files are its own, nothing else
    for path in ("/assets/", "/assets/nope.js", "/assets/../web.c", "/assets/js/../../meson.build",
                 "/index.htm", "/elsewhere"):
        assert requests.get(base + path, timeout=30).status_code == 404, path
    assert requests.post(base + "/", timeout=30).status_code == 405


def test_session_cookie_and_answers(svc):
    user = svc.new_user(credits=100, name="web")
    base = bases(svc)[0]
    r = sign_in(base, user.key)
    s = r.json()
    assert set(s) == {"user_id", "key_id", "csrf_token", "expires_at"}
    assert s["user_id"] == user.id and s["key_id"] == user.key[:12]
    assert re.fullmatch(r"[0-9a-f]{64}", s["csrf_token"])
    expires = time.mktime(time.strptime(s["expires_at"], "%Y-%m-%dT%H:%M:%S.000Z")) - time.timezone
    assert abs(expires - (time.time() + 3600)) < 30  # --session-hours 1
    sc = r.headers["Set-Cookie"]
    assert "HttpOnly" in sc and "SameSite=Strict" in sc and "Path=/" in sc
    assert "Max-Age=3600" in sc and "Secure" not in sc  # the public URL is http
    cookie = cookie_of(r)
    assert user.key not in cookie
    jar = {"i2v_session": cookie}
    # every server (a cluster shares the secret) takes the cookie
    for b in bases(svc):
        g = requests.get(b + API + "/session", cookies=jar, timeout=30)
        assert g.status_code == 200 and g.json() == s
        a = requests.get(b + API + "/account", cookies=jar, timeout=30)
        assert a.status_code == 200 and a.json()["user_id"] == user.id
    # a key still has priority over the cookie
    other = svc.new_user(credits=5, name="other")
    a = requests.get(base + API + "/account", cookies=jar,
                     headers={"Authorization": "Bearer " + other.key}, timeout=30)
    assert a.json()["user_id"] == other.id
    a = requests.get(base + API + "/account", cookies=jar, headers={"Authorization": "Basic x"},
                     timeout=30)
    assert a.status_code == 401
    # signing out clears the cookie; it needs the CSRF token
    d = requests.delete(base + API + "/session", cookies=jar, timeout=30)
    assert d.status_code == 403 and d.json()["error"]["code"] == "csrf"
    d = requests.delete(base + API + "/session", cookies=jar,
                        headers={"X-CSRF-Token": s["csrf_token"]}, timeout=30)
    assert d.status_code == 200
    assert d.headers["Set-Cookie"].startswith("i2v_session=; Path=/; Max-Age=0;")
    # not signed in
    r = requests.get(base + API + "/session", timeout=30)
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_session"


def test_bad_cookies_and_bad_sign_ins(svc):
    user = svc.new_user(credits=100, name="web")
    base = bases(svc)[-1]
    cookie = cookie_of(sign_in(base, user.key))
    kid, uid, exp, mac = cookie.split(".")
    forged = [f"{kid}.{uid}.{int(exp) + 100}.{mac}",  # a longer life
              f"{kid}.{svc.new_user(credits=1).id}.{exp}.{mac}",  # another user
              f"{kid}.{uid}.{exp}.{'0' * 64}", "garbage", cookie[:-1]]
    for c in forged:
        r = requests.get(base + API + "/account", cookies={"i2v_session": c}, timeout=30)
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_session", c
    for body, field in (({"key": 5}, "key"), ({}, "key"), ({"key": "x", "more": 1}, "more")):
        r = requests.post(base + API + "/session", json=body, timeout=30)
        assert r.status_code == 400 and r.json()["error"]["field"] == field, r.text
    r = requests.post(base + API + "/session", json={"key": "i2v_unknown-key-0000000000"},
                      timeout=30)
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    assert "Set-Cookie" not in r.headers


def test_revoking_the_key_ends_its_sessions(svc):
    user = svc.new_user(credits=100, name="web")
    base = bases(svc)[0]
    key2 = requests.post(base + API + "/keys", headers={"Authorization": "Bearer " + user.key},
                         timeout=30).json()["api_key"]
    jar = {"i2v_session": cookie_of(sign_in(base, key2))}
    assert requests.get(base + API + "/account", cookies=jar, timeout=30).status_code == 200
    r = requests.delete(base + API + "/keys/" + key2[:12],
                        headers={"Authorization": "Bearer " + user.key}, timeout=30)
    assert r.status_code == 200
    for b in bases(svc):
        r = requests.get(b + API + "/account", cookies=jar, timeout=30)
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_session"
        assert "revoked" in r.json()["error"]["message"]


def test_csrf_on_every_change(svc):
    user = svc.new_user(credits=100, name="web")
    base = bases(svc)[0]
    r = sign_in(base, user.key)
    jar, csrf = {"i2v_session": cookie_of(r)}, r.json()["csrf_token"]
    changes = [("POST", "/keys", None), ("POST", "/generations",
                                          {"image_url": "https://example.com/a.jpg"}),
               ("POST", "/generations/quote", {"image_url": "https://example.com/a.jpg"}),
               ("DELETE", "/keys/" + user.key[:12], None)]
    for method, path, body in changes:
        for headers in ({}, {"X-CSRF-Token": "0" * 64}, {"X-CSRF-Token": csrf[:-1]}):
            r = requests.request(method, base + API + path, cookies=jar, json=body,
                                 headers=headers, timeout=30)
            assert r.status_code == 403, (method, path, headers, r.text)
            assert r.json()["error"] == {"code": "csrf", "field": "X-CSRF-Token",
                                         "message": r.json()["error"]["message"]}
    assert user.balance() == (100, 100)  # nothing was charged
    keys = requests.get(base + API + "/keys", cookies=jar, timeout=30).json()["data"]
    assert len(keys) == 1 and not keys[0]["revoked"]
    # with the token
    r = requests.post(base + API + "/generations/quote", cookies=jar,
                      json={"image_url": "https://example.com/a.jpg"},
                      headers={"X-CSRF-Token": csrf}, timeout=30)
    assert r.status_code == 200
    # a key needs no token
    r = requests.post(base + API + "/generations/quote",
                      json={"image_url": "https://example.com/a.jpg"},
                      headers={"Authorization": "Bearer " + user.key}, timeout=30)
    assert r.status_code == 200


def test_sign_in_attempts_are_limited_per_address(i2v, tmp_path):
    """In memory, per process: one server of its own, 5 a minute."""
    s = Service(i2v, tmp_path / "data", extra=["--signin-limit", "5"]).start()
    try:
        base = s.base
        codes = [requests.post(base + API + "/session", json={"key": "i2v_wrong-wrong-wrong"},
                               timeout=30).status_code for _ in range(5)]
        assert codes == [401] * 5
        r = requests.post(base + API + "/session", json={"key": "i2v_wrong-wrong-wrong"},
                          timeout=30)
        assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
        assert 55 <= int(r.headers["Retry-After"]) <= 60
        # even the right key waits; keys (not sessions) are not limited
        user = s.new_user(credits=1)
        assert requests.post(base + API + "/session", json={"key": user.key},
                             timeout=30).status_code == 429
        assert requests.get(base + API + "/account",
                            headers={"Authorization": "Bearer " + user.key},
                            timeout=30).status_code == 200
        assert "event=signin_limited" in s.log_text()
        if not os.environ.get("I2V_SESSION_SECRET"):
            assert "event=session_secret_random" in s.log_text()
    finally:
        stop_and_check_books(s)


def test_quote_prices_like_a_create_and_charges_nothing(svc):
    user = svc.new_user(credits=50, name="web")
    base = bases(svc)[0]
    h = {"Authorization": "Bearer " + user.key}
    cases = [({"image_url": "https://example.com/a.jpg"}, 20),
             ({"image_url": "https://example.com/a.jpg", "resolution": "480p", "duration": 10}, 20),
             ({"image_url": "https://example.com/a.jpg", "model": "base", "audio": True,
               "resolution": "1080p"}, 64),
             ({"image_url": "https://example.com/a.jpg", "size": "3840x2160"}, 160),
             ({"image_urls": ["https://example.com/a.jpg", "https://example.com/b.jpg"],
               "format": "portrait", "duration": 30}, 120)]
    for body, price in cases:
        r = requests.post(base + API + "/generations/quote", json=body, headers=h, timeout=30)
        assert r.status_code == 200, r.text
        q = r.json()
        assert q["price"] == price, body
        assert q["balance"] == 50 and q["remaining_videos"] == 2
        assert q["enough"] == (price <= 50) and q["affordable"] == 50 // price
    # validated exactly like a create: the same status, code, field and message
    for body in ({"image_url": "ftp://x"}, {"image_url": "https://example.com/a.jpg",
                                             "duration": 31},
                 {"image_url": "https://example.com/a.jpg", "audio": True},
                 {"image_url": "https://example.com/a.jpg", "colour": "red"}, {},
                 {"image_url": "https://example.com/a.jpg", "move": "SIDEWAYS"}):
        q = requests.post(base + API + "/generations/quote", json=body, headers=h, timeout=30)
        c = requests.post(base + API + "/generations", json=body, headers=h, timeout=30)
        assert q.status_code == c.status_code == 400
        assert q.json() == c.json()
    r = requests.post(base + API + "/generations/quote", data="{", headers=h, timeout=30)
    assert r.status_code == 400 and r.json()["error"]["field"] == "body"
    r = requests.post(base + API + "/generations/quote", headers=h, timeout=30,
                      json={"image_url": "https://example.com/a.jpg", "prompt": "nsfw nude"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "prompt_refused"
    r = requests.post(base + API + "/generations/quote", json={"image_url": "https://x.org/a"},
                      timeout=30)
    assert r.status_code == 401
    r = requests.get(base + API + "/generations/quote", headers=h, timeout=30)
    assert r.status_code == 405
    assert user.balance() == (50, 50)
    assert requests.get(base + API + "/generations", headers=h, timeout=30).json()["data"] == []
