"""End-to-end tests of the webhook delivery log and its actions
(GET /api/i2v/v1/webhooks, POST /webhooks/secret, GET /webhooks/deliveries,
POST /webhooks/deliveries/{id}/redeliver) against a real `i2v serve` and a
local receiver: a failing receiver's attempts and status codes are listed;
a redelivery after the notifier gave up is delivered with the same
webhook-id; a rotated secret signs the next attempt at once; pages, the
generation filter and other users' deliveries. Runs on SQLite and a folder,
then on two API servers and three workers over PostgreSQL and S3."""
import time

import pytest
import requests

from conftest import start_backend
from svc import LocalServer, stop_and_check_books, verify_signature

API = "/api/i2v/v1"
PHOTO = "Bridge_by_Sander_Klootwijk.jpg"
ATTEMPTS = 3  # --webhook-attempts; retries after 0.3 s, then 1.8 s


@pytest.fixture(scope="module")
def receiver():
    s = LocalServer()
    yield s
    s.close()


@pytest.fixture(scope="module", params=["sqlite", "postgres+s3"])
def svc(request, i2v, tmp_path_factory, receiver):
    extra = ["--webhook-attempts", str(ATTEMPTS)]
    s = start_backend(request, i2v, tmp_path_factory.mktemp("deliveries"), extra)
    yield s
    stop_and_check_books(s)


def call(svc, user, method, path, **kw):
    return requests.request(method, svc.base + API + path,
                            headers={"Authorization": "Bearer " + user.key}, timeout=30, **kw)


def hooks(receiver, name, n, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = [h for h in receiver.hooks if h["name"] == name]
        if len(got) >= n:
            return got
        time.sleep(0.05)
    return [h for h in receiver.hooks if h["name"] == name]


def finished(svc, user, receiver, name):
    """A generation with a webhook to /hook/<name>, run to its end."""
    r = call(svc, user, "POST", "/generations",
             json={"image_url": receiver.url(PHOTO), "resolution": "480p", "duration": 1,
                   "webhook": receiver.url("/hook/" + name)})
    assert r.status_code == 201, r.text
    g = r.json()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        g = call(svc, user, "GET", "/generations/" + g["id"]).json()
        if g["state"] in ("succeeded", "failed"):
            return g
        time.sleep(0.1)
    raise AssertionError("generation did not finish")


def delivery_of(svc, user, g):
    r = call(svc, user, "GET", "/webhooks/deliveries", params={"generation": g["id"]})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert len(data) == 1
    return data[0]


def wait_delivery(svc, user, g, state, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        d = delivery_of(svc, user, g)
        if d["state"] == state:
            return d
        time.sleep(0.1)
    raise AssertionError(f"delivery is {d['state']}, not {state}: {d}")


def test_failing_receiver_then_redeliver(svc, receiver):
    user = svc.new_user()
    name = f"fail-{svc.label}"
    receiver.hook_plan[name] = [500, 503, 502]
    g = finished(svc, user, receiver, name)
    assert g["state"] == "succeeded"
    got = hooks(receiver, name, ATTEMPTS)
    assert [h["status"] for h in got] == [500, 503, 502]
    d = wait_delivery(svc, user, g, "failed")
    assert set(d) >= {"id", "generation_id", "url", "event_type", "state", "attempts",
                      "last_status", "last_error", "next_attempt_at", "delivered_at",
                      "created_at"}
    assert d["generation_id"] == g["id"] and d["url"] == receiver.url("/hook/" + name)
    assert d["event_type"] == "generation.succeeded"
    assert d["attempts"] == ATTEMPTS and d["last_status"] == 502
    assert "502" in d["last_error"]
    assert d["next_attempt_at"] is None and d["delivered_at"] is None
    ids = {h["headers"]["webhook-id"] for h in got}
    assert ids == {d["webhook_id"]} and len(ids) == 1
    # the receiver works again: a redelivery after the notifier gave up
    r = call(svc, user, "POST", f"/webhooks/deliveries/{d['id']}/redeliver")
    assert r.status_code == 202, r.text
    assert r.json()["state"] == "pending" and r.json()["next_attempt_at"] is not None
    got = hooks(receiver, name, ATTEMPTS + 1)
    assert len(got) == ATTEMPTS + 1 and got[-1]["status"] == 200
    assert got[-1]["headers"]["webhook-id"] == d["webhook_id"]  # receivers deduplicate
    assert got[-1]["body"] == got[0]["body"]  # the same event
    assert verify_signature(user.secret, got[-1]["headers"], got[-1]["body"])
    d2 = wait_delivery(svc, user, g, "delivered")
    assert d2["attempts"] == ATTEMPTS + 1 and d2["last_status"] == 200
    assert d2["last_error"] is None and d2["delivered_at"] is not None
    # a delivered one can be sent again too (a fresh round of attempts)
    receiver.hook_plan[name] = [500, 200]
    r = call(svc, user, "POST", f"/webhooks/deliveries/{d['id']}/redeliver")
    assert r.status_code == 202
    got = hooks(receiver, name, ATTEMPTS + 3)
    assert [h["status"] for h in got[-2:]] == [500, 200]
    d3 = wait_delivery(svc, user, g, "delivered")
    assert d3["attempts"] == ATTEMPTS + 3
    # nobody else's
    other = svc.new_user()
    r = call(svc, other, "POST", f"/webhooks/deliveries/{d['id']}/redeliver")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    for bad in ("0", "abc", "1x", "-1"):
        r = call(svc, user, "POST", f"/webhooks/deliveries/{bad}/redeliver")
        assert r.status_code == 404, bad
    r = call(svc, user, "GET", f"/webhooks/deliveries/{d['id']}/redeliver")
    assert r.status_code == 405


def test_secret_rotation_signs_the_next_attempt(svc, receiver):
    user = svc.new_user()
    r = call(svc, user, "GET", "/webhooks")
    assert r.status_code == 200 and r.json() == {"secret": user.secret}
    name = f"rotate-{svc.label}"
    g = finished(svc, user, receiver, name)
    first = hooks(receiver, name, 1)[0]
    assert verify_signature(user.secret, first["headers"], first["body"])
    r = call(svc, user, "POST", "/webhooks/secret")
    assert r.status_code == 200, r.text
    new = r.json()["secret"]
    assert new.startswith("whsec_") and new != user.secret
    assert call(svc, user, "GET", "/webhooks").json() == {"secret": new}
    d = delivery_of(svc, user, g)
    assert call(svc, user, "POST",
                f"/webhooks/deliveries/{d['id']}/redeliver").status_code == 202
    second = hooks(receiver, name, 2)[1]
    assert second["headers"]["webhook-id"] == first["headers"]["webhook-id"]
    assert verify_signature(new, second["headers"], second["body"])
    assert not verify_signature(user.secret, second["headers"], second["body"])
    r = call(svc, user, "POST", "/webhooks/secret", json={"secret": "mine"})
    assert r.status_code == 400 and r.json()["error"]["field"] == "secret"
    r = requests.get(svc.base + API + "/webhooks", timeout=30)
    assert r.status_code == 401


def test_delivery_pages_and_filters(svc, receiver):
    user, other = svc.new_user(), svc.new_user()
    gens = [finished(svc, user, receiver, f"page-{svc.label}-{i}") for i in range(3)]
    mine = finished(svc, other, receiver, f"page-{svc.label}-other")
    r = call(svc, user, "GET", "/webhooks/deliveries", params={"limit": 2})
    assert r.status_code == 200
    page = r.json()
    assert [d["generation_id"] for d in page["data"]] == [gens[2]["id"], gens[1]["id"]]
    assert page["next_cursor"]
    r = call(svc, user, "GET", "/webhooks/deliveries",
             params={"limit": 2, "cursor": page["next_cursor"]})
    assert [d["generation_id"] for d in r.json()["data"]] == [gens[0]["id"]]
    assert r.json()["next_cursor"] is None
    # by any of the generation's three ids
    for key in ("id", "task_id", "project_id"):
        r = call(svc, user, "GET", "/webhooks/deliveries", params={"generation": gens[1][key]})
        assert [d["generation_id"] for d in r.json()["data"]] == [gens[1]["id"]], key
    # another user's generation, a bad filter, a bad cursor
    r = call(svc, user, "GET", "/webhooks/deliveries", params={"generation": mine["id"]})
    assert r.status_code == 404
    r = call(svc, user, "GET", "/webhooks/deliveries", params={"generation": "a b"})
    assert r.status_code == 400 and r.json()["error"]["field"] == "generation"
    r = call(svc, user, "GET", "/webhooks/deliveries", params={"cursor": "g_12"})
    assert r.status_code == 400 and r.json()["error"]["field"] == "cursor"
    assert all(d["generation_id"] != mine["id"] for d in
               call(svc, user, "GET", "/webhooks/deliveries").json()["data"])
