"""The OpenAPI document against a real `i2v serve` (SQLite and a folder):
GET /openapi.json passes the Node validator (tests/openapi/validate.mjs), then
every operation of the document (nothing in it may be marked x-i2v-pending)
is called for real, in success and error cases, and every answer is checked
against the document: its status is documented for that path and method, its
Content-Type is one the document gives for that status, its required headers
are there, and its body is valid against the schema (JSON by JSON Schema
2020-12, Debian's python3-jsonschema, `#/components/...` refs resolved
against the whole document; plain text against its string schema; every
`data:` of an event stream against the stream's `x-i2v-event-data`). Request
bodies the server accepted are checked against the document's request schema
too, and the webhook the service POSTs against the document's `webhooks`.
The last test fails unless every operation was called with a success and,
where the document gives any, a 4xx answer."""
import datetime
import json
import pathlib
import re
import subprocess
import time
import urllib.parse

import jsonschema
import pytest
import requests

from svc import Service, stop_and_check_books

ROOT = pathlib.Path(__file__).resolve().parents[2]
VALIDATOR = ROOT / "tests" / "openapi" / "validate.mjs"
LANDSCAPE = "Bridge_by_Sander_Klootwijk.jpg"
API = "/api/i2v/v1"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def format_checker():
    fc = jsonschema.FormatChecker()

    @fc.checks("date-time", raises=ValueError)
    def date_time(s):
        if not isinstance(s, str):
            return True
        if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", s):
            raise ValueError(f"{s!r} is not RFC 3339")
        datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
        return True

    @fc.checks("uri", raises=ValueError)
    def uri(s):
        if not isinstance(s, str):
            return True
        u = urllib.parse.urlsplit(s)
        if not u.scheme or not (u.netloc or u.path) or re.search(r"[\s\x00-\x1f]", s):
            raise ValueError(f"{s!r} is not a URI")
        return True

    return fc


class Document:
    """The served document, and the checks of answers against it."""

    def __init__(self, doc):
        self.doc = doc
        self.resolver = jsonschema.RefResolver(base_uri="", referrer=doc)
        self.formats = format_checker()
        self.seen = {}  # (template, method) -> set of statuses

    def resolve(self, obj):
        while isinstance(obj, dict) and "$ref" in obj:
            obj = self.resolver.resolve(obj["$ref"])[1]
        return obj

    def errors(self, instance, schema):
        v = jsonschema.Draft202012Validator(schema, resolver=self.resolver,
                                            format_checker=self.formats)
        return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
                for e in v.iter_errors(instance)]

    def operation(self, template, method):
        item = self.doc["paths"].get(template)
        assert item is not None, f"{template}: not in the document"
        op = item.get(method.lower())
        assert op is not None, f"{method} {template}: not in the document"
        return op

    def served_operations(self):
        return {(t, m) for t, item in self.doc["paths"].items() for m in METHODS if m in item}

    def check(self, r, template, method, sent=None, body=None):
        """Checks response r of `method template` against the document (body:
        what was read of a stream that does not end, instead of r.content)."""
        op = self.operation(template, method)
        assert "x-i2v-pending" not in op, f"{method} {template} is marked pending"
        where = f"{method} {template} -> {r.status_code}"
        status = str(r.status_code)
        responses = op["responses"]
        spec = responses.get(status) or responses.get(status[0] + "XX") or responses.get("default")
        assert spec is not None, f"{where}: status not documented ({sorted(responses)}): {r.text[:300]}"
        spec = self.resolve(spec)
        self.seen.setdefault((template, method.lower()), set()).add(r.status_code)
        ctype = r.headers.get("Content-Type", "").split(";")[0].strip()
        content = spec.get("content")
        if content:
            assert ctype in content, f"{where}: Content-Type {ctype!r}, documented {sorted(content)}"
            media = content[ctype]
            schema = media.get("schema")
            if method.upper() == "HEAD":
                assert r.content == b""
            elif ctype == "text/event-stream":
                text = (body if body is not None else r.content).decode()
                events = sse_events(text)
                assert events or text.startswith(":"), f"{where}: no event and no comment"
                for ev in events:
                    assert ev["event"] == media["x-i2v-event"], f"{where}: event {ev['event']!r}"
                    assert ev["id"], f"{where}: an event without an id"
                    errs = self.errors(json.loads(ev["data"]), media["x-i2v-event-data"])
                    assert not errs, f"{where}: event data does not match the document:\n  " + \
                        "\n  ".join(errs) + f"\n{ev['data'][:1500]}"
            elif ctype == "text/plain" and schema is not None:
                errs = self.errors(r.text, schema)
                assert not errs, f"{where}: {r.text!r}: {errs}"
            elif ctype == "application/json":
                body = r.json()
                errs = self.errors(body, schema)
                assert not errs, f"{where}: body does not match the document:\n  " + \
                    "\n  ".join(errs) + f"\n{json.dumps(body)[:1500]}"
            else:
                assert r.content, f"{where}: empty {ctype} body"
        else:
            assert r.content == b"", f"{where}: a body where the document gives none: {r.text[:200]}"
        for name, h in spec.get("headers", {}).items():
            h = self.resolve(h)
            value = r.headers.get(name)
            if h.get("required"):
                assert value is not None, f"{where}: header {name} missing"
            if value is not None and "schema" in h and h["schema"].get("type", "string") == "string":
                errs = self.errors(value, h["schema"])
                assert not errs, f"{where}: header {name}: {value!r}: {errs}"
        # a body the server accepted is one the document accepts
        if sent is not None and 200 <= r.status_code < 300:
            schema = op["requestBody"]["content"]["application/json"]["schema"]
            errs = self.errors(sent, schema)
            assert not errs, f"{method} {template}: accepted body refused by the document: {errs}"
        return r


def sse_events(text):
    """The events of an event stream's text: [{"id", "event", "data"}]; comment
    lines (": ping") are left out, and so is a last block not yet ended."""
    events = []
    for block in text.split("\n\n")[:-1]:
        ev = {"id": None, "event": "message", "data": []}
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                ev["data"].append(value)
            elif name in ("id", "event"):
                ev[name] = value
        if ev["data"]:
            ev["data"] = "\n".join(ev["data"])
            events.append(ev)
    return events


@pytest.fixture(scope="module")
def svc(i2v, tmp_path_factory):
    s = Service(i2v, tmp_path_factory.mktemp("openapi") / "data",
                extra=["--body-max", "8192", "--workers", "1", "--upload-max-bytes", "2000000",
                       "--sse-per-user", "2", "--sse-heartbeat", "1",
                       "--signin-limit", "10"]).start()
    yield s
    stop_and_check_books(s)


@pytest.fixture(scope="module")
def doc(svc, tmp_path_factory):
    r = requests.get(svc.base + "/openapi.json", timeout=10)
    assert r.status_code == 200, r.text
    path = tmp_path_factory.mktemp("doc") / "openapi.json"
    path.write_bytes(r.content)
    if not (VALIDATOR.parent / "node_modules").is_dir():
        pytest.fail("tests/openapi/node_modules is missing: run scripts/setup.sh "
                    "(npm ci --prefix tests/openapi)")
    v = subprocess.run(["node", str(VALIDATOR), str(path)], capture_output=True, text=True,
                       timeout=120)
    assert v.returncode == 0, f"the served document is not valid:\n{v.stdout}{v.stderr}"
    d = Document(r.json())
    d.check(r, "/openapi.json", "GET")
    return d


class Api:
    """Calls `method template` with path parameters, checks the answer
    against the document and the expected status."""

    def __init__(self, svc, doc):
        self.svc, self.doc = svc, doc

    def __call__(self, method, template, status, params=None, json_body=None, raw=None,
                 headers=None, query=None, files=None):
        path = template.format(**(params or {}))
        data = raw if raw is not None else (json.dumps(json_body) if json_body is not None else None)
        h = dict(headers or {})
        if data is not None:
            h.setdefault("Content-Type", "application/json")
        r = requests.request(method, self.svc.base + path, data=data, headers=h, params=query,
                             files=files, timeout=30, allow_redirects=False)
        self.doc.check(r, template, method, sent=json_body)
        want = status if isinstance(status, (tuple, list, set)) else (status,)
        assert r.status_code in want, f"{method} {path}: {r.status_code} not {status}: {r.text[:300]}"
        return r


@pytest.fixture(scope="module")
def api(svc, doc):
    return Api(svc, doc)


@pytest.fixture(scope="module")
def user(svc):
    return svc.new_user(credits=1000, name="openapi")


def bearer(key):
    return {"Authorization": "Bearer " + key}


def wait_state(api, key, gid, states, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        g = api("GET", API + "/generations/{id}", 200, {"id": gid}, headers=bearer(key)).json()
        if g["state"] in states:
            return g
        time.sleep(0.1)
    raise AssertionError(f"generation {gid} is still {g['state']}")


# --- the document itself ---------------------------------------------------------------

def test_document_served(svc, api, doc):
    r = api("GET", "/openapi.json", 200)
    d = r.json()
    assert d["openapi"] == "3.1.0"
    assert d["servers"] == [{"url": svc.base}]
    assert r.headers["ETag"] and r.headers["Cache-Control"] == "no-cache"
    etag = r.headers["ETag"]
    assert api("GET", "/openapi.json", 304, headers={"If-None-Match": etag}).headers["ETag"] == etag
    assert api("GET", "/openapi.json", 304, headers={"If-None-Match": f'"x", W/{etag}'})
    assert api("GET", "/openapi.json", 200, headers={"If-None-Match": '"other"'}).content == r.content
    h = api("HEAD", "/openapi.json", 200)
    assert h.headers["ETag"] == etag and int(h.headers["Content-Length"]) == len(r.content)
    api("HEAD", "/openapi.json", 304, headers={"If-None-Match": etag})
    # every path of the document, pending ones aside, is one the server has
    assert doc.served_operations() >= {("/openapi.json", "get"), ("/api/v1/imageToVideo/result", "get"),
                                       ("/api/animation/v2/get", "post"), (API + "/generations", "post")}


def test_nothing_pending(doc):
    assert "x-i2v-pending" not in json.dumps(doc.doc)


def test_health(api):
    assert api("GET", "/healthz", 200).text == "ok\n"
    api("HEAD", "/healthz", 200)
    r = api("GET", "/readyz", 200)
    assert r.text == "ok\n" and r.headers["Content-Type"].startswith("text/plain")
    api("HEAD", "/readyz", 200)


def test_wrong_methods_answer_the_api_shape(svc, doc):
    # not operations of the document (it lists what is served); their bodies
    # are still the documented error shapes
    for method, path, schema in [("PUT", API + "/generations", "NativeError"),
                                 ("POST", "/openapi.json", "NativeError"),
                                 ("GET", "/api/v1/imageToVideo/generate", "V1Error"),
                                 ("GET", "/api/animation/v2/get", "V2Error"),
                                 ("POST", "/v/" + "0" * 32 + ".mp4", "V2Error"),
                                 ("POST", "/", "V2Error"),
                                 ("DELETE", "/assets/app.css", "V2Error"),
                                 ("PUT", API + "/session", "NativeError"),
                                 ("GET", API + "/uploads", "NativeError"),
                                 ("POST", "/u/" + "0" * 32, "NativeError")]:
        r = requests.request(method, svc.base + path, timeout=10)
        assert r.status_code == 405, (method, path, r.status_code)
        assert not doc.errors(r.json(), {"$ref": f"#/components/schemas/{schema}"}), r.text
    r = requests.get(svc.base + API + "/nothing", timeout=10)
    assert r.status_code == 404
    assert not doc.errors(r.json(), {"$ref": "#/components/schemas/NativeError"})
    # a path no API owns is a 404 in Animation API v2's shape, whatever the method
    for method in ("GET", "POST", "DELETE"):
        r = requests.request(method, svc.base + "/elsewhere", timeout=10)
        assert r.status_code == 404, (method, r.status_code)
        assert not doc.errors(r.json(), {"$ref": "#/components/schemas/V2Error"}), r.text
    r = requests.post(svc.base + "/healthz", timeout=10)
    assert r.status_code == 405


# --- native API ------------------------------------------------------------------------

def test_native_generation_lifecycle(svc, api, doc, user, photos_srv):
    key = user.key
    a = bearer(key)
    hook = photos_srv.url("/hook/openapi")
    body = {"image_url": photos_srv.url(LANDSCAPE), "move": "zoom_in", "duration": 1,
            "resolution": "480p", "prompt": "slow zoom in, warm light", "webhook": hook}
    g = api("POST", API + "/generations", 201, json_body=body,
            headers=dict(a, **{"Idempotency-Key": "openapi-1"})).json()
    r = api("POST", API + "/generations", 201, json_body=body,
            headers=dict(a, **{"Idempotency-Key": "openapi-1"}))
    assert r.headers["Idempotent-Replayed"] == "true" and r.json() == g
    api("POST", API + "/generations", 422, json_body=dict(body, duration=2),
        headers=dict(a, **{"Idempotency-Key": "openapi-1"}))
    api("POST", API + "/generations", 400, json_body=dict(body, colour="red"), headers=a)
    api("POST", API + "/generations", 400, json_body=dict(body, duration=31), headers=a)
    api("POST", API + "/generations", 400, raw="{not json", headers=a)
    api("POST", API + "/generations", 400, json_body=dict(body, prompt="nude beach"), headers=a)
    api("POST", API + "/generations", 400, json_body=body,
        headers=dict(a, **{"Idempotency-Key": "has space"}))
    api("POST", API + "/generations", 401, json_body=body)
    api("POST", API + "/generations", 401, json_body=body, headers={"Authorization": "Basic eDp5"})
    api("POST", API + "/generations", 413, json_body=dict(body, prompt="x" * 9000), headers=a)
    poor = svc.new_user(credits=0, name="poor")
    api("POST", API + "/generations", 402, json_body=body, headers=bearer(poor.key))
    # other accepted bodies the document must accept too
    api("POST", API + "/generations/{id}/cancel", (200, 202), {"id": api(
        "POST", API + "/generations", 201, headers={"x-api-key": key},
        json_body={"image_urls": [photos_srv.url(LANDSCAPE)] * 2, "size": "640x360",
                   "model": "base", "audio": True, "duration": 2, "format": None}).json()["id"]},
        headers=a)

    for gid in (g["id"], g["task_id"], g["project_id"]):
        api("GET", API + "/generations/{id}", 200, {"id": gid}, headers=a)
    api("GET", API + "/generations/{id}", 404, {"id": "0" * 8}, headers=a)
    api("GET", API + "/generations/{id}", 401, {"id": g["id"]})
    done = wait_state(api, key, g["id"], ("succeeded", "failed", "cancelled"))
    assert done["state"] == "succeeded", svc.log_text()[-2000:]
    # the webhook it POSTed matches the document's webhooks
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not [h for h in photos_srv.hooks if h["name"] == "openapi"]:
        time.sleep(0.05)
    hooks = [h for h in photos_srv.hooks if h["name"] == "openapi"]
    assert len(hooks) == 1
    wh = doc.doc["webhooks"]["generation"]["post"]
    event = json.loads(hooks[0]["body"])
    assert not doc.errors(event, wh["requestBody"]["content"]["application/json"]["schema"])
    for p in wh["parameters"]:
        assert p["name"] in {k.lower() for k in hooks[0]["headers"]}

    # the output files
    video, cover = done["outputs"]["video"], done["outputs"]["cover"]
    name = video.rsplit("/", 1)[1]
    v = api("GET", "/v/{name}", 200, {"name": name})
    assert v.headers["Content-Type"] == "video/mp4" and len(v.content) > 1000
    api("GET", "/v/{name}", 200, {"name": cover.rsplit("/", 1)[1]})
    part = api("GET", "/v/{name}", 206, {"name": name}, headers={"Range": "bytes=10-19"})
    assert part.content == v.content[10:20]
    api("GET", "/v/{name}", 206, {"name": name}, headers={"Range": "bytes=-5"})
    api("GET", "/v/{name}", 304, {"name": name}, headers={"If-None-Match": v.headers["ETag"]})
    api("GET", "/v/{name}", 416, {"name": name}, headers={"Range": f"bytes={len(v.content)}-"})
    api("GET", "/v/{name}", 404, {"name": "f" * 32 + ".mp4"})
    api("GET", "/v/{name}", 404, {"name": "not-a-name.mp4"})
    h = api("HEAD", "/v/{name}", 200, {"name": name})
    assert int(h.headers["Content-Length"]) == len(v.content)
    api("HEAD", "/v/{name}", 206, {"name": name}, headers={"Range": "bytes=0-0"})
    api("HEAD", "/v/{name}", 304, {"name": name}, headers={"If-None-Match": v.headers["ETag"]})
    api("HEAD", "/v/{name}", 416, {"name": name}, headers={"Range": f"bytes={len(v.content) + 5}-"})
    api("HEAD", "/v/{name}", 404, {"name": "f" * 32 + ".jpg"})

    # lists
    page = api("GET", API + "/generations", 200, headers=a, query={"limit": 1}).json()
    assert len(page["data"]) == 1 and page["next_cursor"]
    api("GET", API + "/generations", 200, headers=a,
        query={"limit": 1, "cursor": page["next_cursor"]})
    api("GET", API + "/generations", 200, headers=a, query={"state": "succeeded"})
    api("GET", API + "/generations", 400, headers=a, query={"limit": 0})
    api("GET", API + "/generations", 400, headers=a, query={"state": "done"})
    api("GET", API + "/generations", 400, headers=a, query={"cursor": "l_1"})
    api("GET", API + "/generations", 401)

    # delete its outputs: the URLs answer 404, deleting again is 200
    d = api("DELETE", API + "/generations/{id}", 200, {"id": g["id"]}, headers=a).json()
    assert d["outputs"] is None and d["outputs_deleted_at"]
    api("GET", "/v/{name}", 404, {"name": name})
    api("DELETE", API + "/generations/{id}", 200, {"id": g["task_id"]}, headers=a)
    api("DELETE", API + "/generations/{id}", 404, {"id": "12345"}, headers=a)
    api("DELETE", API + "/generations/{id}", 401, {"id": g["id"]})
    # finished: cancel is a 409
    api("POST", API + "/generations/{id}/cancel", 409, {"id": g["id"]}, headers=a)
    api("POST", API + "/generations/{id}/cancel", 404, {"id": "0" * 8}, headers=a)
    api("POST", API + "/generations/{id}/cancel", 401, {"id": g["id"]})


def test_native_cancel_running_and_queued(api, user, photos_srv):
    a = bearer(user.key)
    slow = {"image_url": photos_srv.url(f"slow/3/{LANDSCAPE}"), "resolution": "480p",
            "duration": 1}
    running = api("POST", API + "/generations", 201, json_body=slow, headers=a).json()
    wait_state(api, user.key, running["id"], ("running",), timeout=30)
    queued = api("POST", API + "/generations", 201, json_body=slow, headers=a).json()
    g = api("GET", API + "/generations/{id}", 200, {"id": queued["id"]}, headers=a).json()
    assert g["state"] == "queued" and g["queue_position"] >= 1
    # a running generation's outputs cannot be deleted
    api("DELETE", API + "/generations/{id}", 409, {"id": running["id"]}, headers=a)
    c = api("POST", API + "/generations/{id}/cancel", 200, {"id": queued["id"]}, headers=a).json()
    assert c["state"] == "cancelled"
    c = api("POST", API + "/generations/{id}/cancel", 202, {"id": running["id"]}, headers=a).json()
    assert c["cancel_requested"] is True
    assert wait_state(api, user.key, running["id"], ("cancelled",), timeout=10)["error"] == "cancelled"


def test_native_account_ledger_keys(svc, api, user):
    a = bearer(user.key)
    acct = api("GET", API + "/account", 200, headers=a).json()
    assert acct["user_id"] == user.id
    api("GET", API + "/account", 200, headers={"x-api-key": user.key})
    api("GET", API + "/account", 401, headers=bearer("i2v_nope"))
    led = api("GET", API + "/ledger", 200, headers=a, query={"limit": 2}).json()
    assert led["next_cursor"]
    api("GET", API + "/ledger", 200, headers=a, query={"cursor": led["next_cursor"]})
    api("GET", API + "/ledger", 400, headers=a, query={"cursor": "g_1"})
    api("GET", API + "/ledger", 401)
    k = api("POST", API + "/keys", 201, json_body={"name": "laptop"}, headers=a).json()
    assert k["api_key"].startswith(k["key_id"])
    api("POST", API + "/keys", 201, headers=a)
    api("POST", API + "/keys", 400, json_body={"name": "x"},
        headers=dict(a, **{"Idempotency-Key": "k1"}))
    api("POST", API + "/keys", 400, json_body={"label": "x"}, headers=a)
    api("POST", API + "/keys", 400, json_body={"name": "x" * 101}, headers=a)
    api("POST", API + "/keys", 413, json_body={"name": "x" * 9000}, headers=a)
    api("POST", API + "/keys", 401, json_body={"name": "x"})
    keys = api("GET", API + "/keys", 200, headers=a).json()
    assert k["key_id"] in [x["key_id"] for x in keys["data"]]
    api("GET", API + "/keys", 401)
    r = api("DELETE", API + "/keys/{key_id}", 200, {"key_id": k["key_id"]}, headers=a).json()
    assert r["revoked"] is True
    api("GET", API + "/account", 401, headers=bearer(k["api_key"]))
    api("DELETE", API + "/keys/{key_id}", 404, {"key_id": "i2v_AAAAAAAA"}, headers=a)
    api("DELETE", API + "/keys/{key_id}", 401, {"key_id": k["key_id"]})


# --- Image to Video API v1 -------------------------------------------------------------

def test_v1(svc, api, user, photos_srv):
    h = {"APIKEY": user.key}
    body = {"imageUrl": photos_srv.url(LANDSCAPE), "duration": 5, "resolution": "480p",
            "modelType": "Flash", "prompt": "slow zoom in"}
    t = api("POST", "/api/v1/imageToVideo/generate", 200, json_body=body,
            headers=dict(h, **{"Idempotency-Key": "v1-1"})).json()["data"]
    r = api("POST", "/api/v1/imageToVideo/generate", 200, json_body=body,
            headers=dict(h, **{"Idempotency-Key": "v1-1"}))
    assert r.headers["Idempotent-Replayed"] == "true" and r.json()["data"] == t
    api("POST", "/api/v1/imageToVideo/generate", 422, json_body=dict(body, duration=10),
        headers=dict(h, **{"Idempotency-Key": "v1-1"}))
    e = api("POST", "/api/v1/imageToVideo/generate", 400, json_body=dict(body, duration=7),
            headers=h).json()
    assert e["code"] == 1011
    assert api("POST", "/api/v1/imageToVideo/generate", 400,
               json_body=dict(body, prompt="gore"), headers=h).json()["code"] == 9010
    assert api("POST", "/api/v1/imageToVideo/generate", 401, json_body=body).json()["code"] == 5002
    api("POST", "/api/v1/imageToVideo/generate", 413, json_body=dict(body, prompt="x" * 9000),
        headers=h)
    poor = svc.new_user(credits=0, name="poor-v1")
    assert api("POST", "/api/v1/imageToVideo/generate", 402, json_body=body,
               headers={"APIKEY": poor.key}).json()["code"] == 9051
    t2 = api("POST", "/api/v1/imageToVideo/generate", 200, headers=h,
             json_body={"imageUrl": photos_srv.url(LANDSCAPE), "lastImageUrl":
                        photos_srv.url(LANDSCAPE), "duration": 10, "resolution": "720p",
                        "modelType": "Base", "generateAudio": True}).json()["data"]
    api("GET", "/api/v1/imageToVideo/result", 200, headers=h, query={"taskId": t2})
    # (not rendered: the native API cancels it by its taskId)
    api("POST", API + "/generations/{id}/cancel", (200, 202), {"id": t2}, headers=bearer(user.key))

    api("GET", "/api/v1/imageToVideo/result", 200, headers=h, query={"taskId": t})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        d = api("GET", "/api/v1/imageToVideo/result", 200, headers=h,
                query={"taskId": t}).json()["data"]
        if d["status"] in ("Success", "Failed"):
            break
        time.sleep(0.2)
    assert d["status"] == "Success", svc.log_text()[-2000:]
    api("GET", "/api/v1/imageToVideo/result", 400, headers=h)
    api("GET", "/api/v1/imageToVideo/result", 400, headers=h, query={"taskId": "abc"})
    api("GET", "/api/v1/imageToVideo/result", 401, query={"taskId": t})
    api("GET", "/api/v1/imageToVideo/result", 404, headers=h, query={"taskId": 1})


# --- Animation API v2 ------------------------------------------------------------------

def test_v2(svc, api, user, photos_srv):
    h = {"x-api-key": user.key}
    body = {"user_id": user.id, "image_urls": [photos_srv.url(LANDSCAPE)], "option": "ZOOM_OUT",
            "prompt": "Elegant modern living room", "format": "portrait"}
    g = api("POST", "/api/animation/v2/generate", 200, json_body=body,
            headers=dict(h, **{"Idempotency-Key": "v2-1"})).json()
    r = api("POST", "/api/animation/v2/generate", 200, json_body=body,
            headers=dict(h, **{"Idempotency-Key": "v2-1"}))
    assert r.json() == g and r.headers["Idempotent-Replayed"] == "true"
    api("POST", "/api/animation/v2/generate", 422, json_body=dict(body, option="PAN_UP"),
        headers=dict(h, **{"Idempotency-Key": "v2-1"}))
    api("POST", "/api/animation/v2/generate", 400, json_body=dict(body, option="SPIN"), headers=h)
    api("POST", "/api/animation/v2/generate", 400, json_body=dict(body, prompt="porn"), headers=h)
    api("POST", "/api/animation/v2/generate", 401, json_body=body)
    other = svc.new_user(credits=0, name="other-v2")
    api("POST", "/api/animation/v2/generate", 403, json_body=body, headers={"x-api-key": other.key})
    api("POST", "/api/animation/v2/generate", 402, json_body=dict(body, user_id=other.id),
        headers={"x-api-key": other.key})
    api("POST", "/api/animation/v2/generate", 413, json_body=dict(body, prompt="x" * 9000),
        headers=h)
    tour = api("POST", "/api/animation/v2/generate", 200, headers=h,
               json_body={"user_id": user.id.upper(), "image_urls": [photos_srv.url(LANDSCAPE)] * 2,
                          "option": "AUTO_EFFECTS", "tour": True, "duration": 10,
                          "webhook": None}).json()
    api("POST", API + "/generations/{id}/cancel", (200, 202), {"id": tour["generation_id"]},
        headers=bearer(user.key))
    assert api("POST", "/api/animation/v2/get", 200, headers=h,
               json_body={"user_id": user.id, "generation_id": tour["generation_id"]}
               ).json()["status"] in ("FAILED", "IN_PROGRESS")

    get = {"user_id": user.id, "generation_id": g["generation_id"]}
    api("POST", "/api/animation/v2/get", 200, json_body=get, headers=h)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        s = api("POST", "/api/animation/v2/get", 200, json_body=get, headers=h).json()
        if s["status"] in ("SUCCEEDED", "FAILED"):
            break
        time.sleep(0.2)
    assert s["status"] == "SUCCEEDED", svc.log_text()[-2000:]
    api("POST", "/api/animation/v2/get", 400, json_body={"user_id": user.id}, headers=h)
    api("POST", "/api/animation/v2/get", 401, json_body=get)
    api("POST", "/api/animation/v2/get", 403, json_body=get, headers={"x-api-key": other.key})
    api("POST", "/api/animation/v2/get", 404, headers=h,
        json_body=dict(get, generation_id="00000000-0000-4000-8000-000000000000"))
    api("POST", "/api/animation/v2/get", 413, json_body=dict(get, pad="x" * 9000), headers=h)


# --- the Developer Space: pages and sessions ------------------------------------------

def test_pages(api):
    for template in ("/", "/index.html"):
        r = api("GET", template, 200)
        assert r.headers["Content-Type"] == "text/html; charset=utf-8"
        assert '<script type="module" src="/assets/js/app.js">' in r.text
        api("GET", template, 304, headers={"If-None-Match": r.headers["ETag"]})
        h = api("HEAD", template, 200)
        assert int(h.headers["Content-Length"]) == len(r.content)
        api("HEAD", template, 304, headers={"If-None-Match": r.headers["ETag"]})
    for name, ctype in (("js/app.js", "text/javascript"), ("app.css", "text/css"),
                        ("icon.svg", "image/svg+xml")):
        a = api("GET", "/assets/{name}", 200, {"name": name})
        assert a.headers["Content-Type"].split(";")[0] == ctype and a.content
        api("GET", "/assets/{name}", 304, {"name": name}, headers={"If-None-Match": a.headers["ETag"]})
        h = api("HEAD", "/assets/{name}", 200, {"name": name})
        assert int(h.headers["Content-Length"]) == len(a.content)
        api("HEAD", "/assets/{name}", 304, {"name": name},
            headers={"If-None-Match": a.headers["ETag"]})
    api("GET", "/assets/{name}", 404, {"name": "nope.js"})
    api("GET", "/assets/{name}", 404, {"name": "js/../../meson.build"})
    api("HEAD", "/assets/{name}", 404, {"name": "nope.css"})


def session_headers(token, csrf=None):
    h = {"Cookie": f"i2v_session={token}"}
    if csrf:
        h["X-CSRF-Token"] = csrf
    return h


def sign_in(api, key):
    r = api("POST", API + "/session", 200, json_body={"key": key})
    m = re.match(r"i2v_session=([^;]+);", r.headers["Set-Cookie"])
    assert m, r.headers["Set-Cookie"]
    return m.group(1), r.json()


@pytest.fixture(scope="module")
def browser(api, user):
    """One sign-in of the user (cookie token, session) for the tests that
    need a cookie (sign-ins are limited: --signin-limit 10 a minute)."""
    return sign_in(api, user.key)


def test_sessions_and_csrf(svc, api, user):
    token, s = sign_in(api, user.key)
    assert s["user_id"] == user.id and s["key_id"] == user.key[:12]
    assert "HttpOnly" in api("POST", API + "/session", 200, json_body={"key": user.key}
                             ).headers["Set-Cookie"]
    api("POST", API + "/session", 401, json_body={"key": "i2v_" + "x" * 43})
    api("POST", API + "/session", 400, json_body={"key": user.key, "remember": True})
    api("POST", API + "/session", 400, json_body={})
    api("POST", API + "/session", 400, raw="[")
    api("POST", API + "/session", 413, json_body={"key": "x" * 9000})
    cookie = session_headers(token)
    g = api("GET", API + "/session", 200, headers=cookie).json()
    assert g == s
    e = api("GET", API + "/session", 401).json()
    assert e["error"]["code"] == "invalid_session"
    api("GET", API + "/session", 401, headers=session_headers(token[:-4] + "0000"))
    # the cookie authenticates the native API: reads as they are, changes
    # with the CSRF token only
    assert api("GET", API + "/account", 200, headers=cookie).json()["user_id"] == user.id
    assert api("GET", API + "/account", 401, headers=session_headers("x" * 80)
               ).json()["error"]["code"] == "invalid_session"
    e = api("POST", API + "/keys", 403, json_body={"name": "browser"}, headers=cookie).json()
    assert e["error"] == {"code": "csrf", "field": "X-CSRF-Token", "message": e["error"]["message"]}
    api("POST", API + "/keys", 403, json_body={"name": "browser"},
        headers=session_headers(token, "0" * 64))
    k = api("POST", API + "/keys", 201, json_body={"name": "browser"},
            headers=session_headers(token, s["csrf_token"])).json()
    api("DELETE", API + "/keys/{key_id}", 200, {"key_id": k["key_id"]},
        headers=session_headers(token, s["csrf_token"]))
    # sign out
    api("DELETE", API + "/session", 403, headers=cookie)
    api("DELETE", API + "/session", 401)
    r = api("DELETE", API + "/session", 200, headers=session_headers(token, s["csrf_token"]))
    assert r.json() == {"signed_out": True} and "Max-Age=0" in r.headers["Set-Cookie"]
    # a revoked key ends its sessions
    k = api("POST", API + "/keys", 201, json_body={"name": "short"}, headers=bearer(user.key)).json()
    t2, _ = sign_in(api, k["api_key"])
    api("GET", API + "/session", 200, headers=session_headers(t2))
    api("DELETE", API + "/keys/{key_id}", 200, {"key_id": k["key_id"]}, headers=bearer(user.key))
    api("GET", API + "/session", 401, headers=session_headers(t2))


# --- uploads ---------------------------------------------------------------------------

def test_uploads(svc, api, user, photos, browser):
    a = bearer(user.key)
    jpeg = (photos / LANDSCAPE).read_bytes()
    png = (photos / "coffee.png").read_bytes()
    up = api("POST", API + "/uploads", 201, raw=jpeg,
             headers=dict(a, **{"Content-Type": "image/jpeg", "Idempotency-Key": "up-1"})).json()
    assert up["format"] == "jpeg" and up["bytes"] == len(jpeg)
    assert up["url"] == f"{svc.base}/u/{up['id']}"
    again = api("POST", API + "/uploads", 201, raw=jpeg,
                headers=dict(a, **{"Content-Type": "image/jpeg", "Idempotency-Key": "up-1"}))
    assert again.headers["Idempotent-Replayed"] == "true" and again.json() == up
    api("POST", API + "/uploads", 422, raw=png,
        headers=dict(a, **{"Content-Type": "image/png", "Idempotency-Key": "up-1"}))
    form = api("POST", API + "/uploads", 201, files={"file": ("coffee.png", png, "image/png")},
               headers=a).json()
    assert form["format"] == "png"
    api("POST", API + "/uploads", 201, raw=png,
        headers=dict(a, **{"Content-Type": "application/octet-stream"}))
    # refused: not a photo, a wrong Content-Type, another field, nothing,
    # too large, no key, a cookie without its CSRF token
    e = api("POST", API + "/uploads", 400, raw=b"GIF89a not a photo at all",
            headers=dict(a, **{"Content-Type": "image/jpeg"})).json()
    assert e["error"]["field"] == "body"
    api("POST", API + "/uploads", 400, raw=jpeg, headers=dict(a, **{"Content-Type": "text/plain"}))
    api("POST", API + "/uploads", 400, files={"photo": ("x.png", png, "image/png")}, headers=a)
    api("POST", API + "/uploads", 400, raw=b"", headers=dict(a, **{"Content-Type": "image/png"}))
    # (--upload-max-bytes 2000000: the router refuses a larger body before
    # reading it; a form's file is measured as it is read)
    big = api("POST", API + "/uploads", 413, raw=jpeg * 3,
              headers=dict(a, **{"Content-Type": "image/jpeg"})).json()
    assert big["error"]["field"] == "body"
    big = api("POST", API + "/uploads", 413, headers=a,
              files={"file": ("big.jpg", (jpeg * 3)[:2010000], "image/jpeg")}).json()
    assert big["error"]["field"] == "file"
    api("POST", API + "/uploads", 401, raw=png, headers={"Content-Type": "image/png"})
    api("POST", API + "/uploads", 403, raw=png,
        headers=dict(session_headers(browser[0]), **{"Content-Type": "image/png"}))
    # the owner sees it; nobody else does
    g = api("GET", "/u/{id}", 200, {"id": up["id"]}, headers=a)
    assert g.content == jpeg and g.headers["Content-Type"] == "image/jpeg"
    h = api("HEAD", "/u/{id}", 200, {"id": form["id"]}, headers=a)
    assert int(h.headers["Content-Length"]) == len(png)
    other = svc.new_user(credits=10, name="other-upl")
    api("GET", "/u/{id}", 404, {"id": up["id"]}, headers=bearer(other.key))
    api("HEAD", "/u/{id}", 404, {"id": up["id"]}, headers=bearer(other.key))
    api("GET", "/u/{id}", 404, {"id": "not-an-upload"}, headers=a)
    api("GET", "/u/{id}", 401, {"id": up["id"]})
    api("HEAD", "/u/{id}", 401, {"id": up["id"]})
    # its URL makes a generation for its owner only
    body = {"image_url": up["url"], "duration": 1, "resolution": "480p", "move": "ZOOM_IN"}
    api("POST", API + "/generations", 400, json_body=body, headers=bearer(other.key))
    gen = api("POST", API + "/generations", 201, json_body=body, headers=a).json()
    assert gen["input"]["image_urls"] == [up["url"]]
    assert wait_state(api, user.key, gen["id"], ("succeeded", "failed"))["state"] == "succeeded"


# --- live progress ---------------------------------------------------------------------

def open_stream(svc, path, key, headers=None, want=200):
    """GET an event stream (retrying a 429 for a moment: a stream the client
    closed is counted until the server notices)."""
    deadline = time.monotonic() + 5
    while True:
        r = requests.get(svc.base + path, headers=dict(bearer(key), **(headers or {})),
                         stream=True, timeout=(5, 15))
        if r.status_code != 429 or want == 429 or time.monotonic() > deadline:
            return r
        r.close()
        time.sleep(0.2)


def read_until(r, done, limit=60):
    """What a stream sends until done(text) holds (or it ends)."""
    buf, deadline = b"", time.monotonic() + limit
    for chunk in r.iter_content(chunk_size=None):
        buf += chunk
        if done(buf.decode()) or time.monotonic() > deadline:
            break
    return buf


def test_live_progress(svc, api, doc, user, photos_srv):
    a = bearer(user.key)
    tmpl1, tmpl = API + "/generations/{id}/events", API + "/events"
    # every generation of the user: open first, then create one
    every = open_stream(svc, tmpl, user.key)
    assert every.status_code == 200 and every.headers["Content-Type"].startswith("text/event-stream")
    body = {"image_url": photos_srv.url(LANDSCAPE), "duration": 1, "size": "320x180",
            "move": "PAN_LEFT"}
    g = api("POST", API + "/generations", 201, json_body=body, headers=a).json()
    # one generation, read until the server ends the stream after its final state
    one = open_stream(svc, tmpl1.format(id=g["id"]), user.key)
    assert one.headers["Content-Type"] == "text/event-stream; charset=utf-8"
    assert one.headers["Cache-Control"] == "no-store"
    text = one.content  # to its end
    doc.check(one, tmpl1, "GET", body=text)
    events = sse_events(text.decode())
    states = [json.loads(e["data"])["state"] for e in events]
    assert states[-1] == "succeeded", states
    assert all(json.loads(e["data"])["id"] == g["id"] for e in events)
    progress = [json.loads(e["data"])["progress"] for e in events]
    assert progress == sorted(progress) and progress[-1] == 100
    # resumed after its last event: nothing more comes
    api("GET", tmpl1, 204, {"id": g["task_id"]},
        headers=dict(a, **{"Last-Event-ID": events[-1]["id"]}))
    api("GET", tmpl1, 404, {"id": "0" * 8}, headers=a)
    api("GET", tmpl1, 401, {"id": g["id"]})
    # the user's stream saw it too, to its end (and heartbeats meanwhile)
    seen = read_until(every, lambda t: any(
        json.loads(e["data"])["id"] == g["id"] and json.loads(e["data"])["state"] == "succeeded"
        for e in sse_events(t)))
    every.close()
    doc.check(every, tmpl, "GET", body=seen)
    assert any(json.loads(e["data"])["id"] == g["id"] for e in sse_events(seen.decode()))
    api("GET", tmpl, 401)
    # --sse-per-user 2: a third stream of one user is refused
    busy = svc.new_user(credits=10, name="streams")
    open_ = [open_stream(svc, tmpl, busy.key) for _ in range(2)]
    assert [r.status_code for r in open_] == [200, 200]
    r = open_stream(svc, tmpl, busy.key, want=429)
    doc.check(r, tmpl, "GET")
    assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_requests"
    r = open_stream(svc, tmpl1.format(id=g["id"]), busy.key, want=429)
    doc.check(r, tmpl1, "GET")
    assert r.status_code == 429
    for x in open_:
        x.close()


# --- webhooks --------------------------------------------------------------------------

def test_webhooks_and_deliveries(svc, api, user, photos_srv, browser):
    a = bearer(user.key)
    s1 = api("GET", API + "/webhooks", 200, headers=a).json()["secret"]
    assert s1 == user.secret
    api("GET", API + "/webhooks", 401)
    s2 = api("POST", API + "/webhooks/secret", 200, headers=a).json()["secret"]
    s3 = api("POST", API + "/webhooks/secret", 200, json_body={}, headers=a).json()["secret"]
    assert len({s1, s2, s3}) == 3
    assert api("GET", API + "/webhooks", 200, headers=a).json()["secret"] == s3
    api("POST", API + "/webhooks/secret", 400, json_body={"secret": "mine"}, headers=a)
    api("POST", API + "/webhooks/secret", 401)
    api("POST", API + "/webhooks/secret", 413, json_body={"x": "y" * 9000}, headers=a)
    token = browser[0]
    api("POST", API + "/webhooks/secret", 403, headers=session_headers(token))

    # a generation with a webhook, delivered
    hook = photos_srv.url("/hook/openapi-redeliver")
    g = api("POST", API + "/generations", 201, headers=a, json_body={
        "image_url": photos_srv.url(LANDSCAPE), "duration": 1, "size": "320x180",
        "webhook": hook}).json()
    wait_state(api, user.key, g["id"], ("succeeded",))

    def hooks():
        return [h for h in photos_srv.hooks if h["name"] == "openapi-redeliver"]

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not hooks():
        time.sleep(0.05)
    assert len(hooks()) == 1
    page = api("GET", API + "/webhooks/deliveries", 200, headers=a,
               query={"generation": g["task_id"]}).json()
    assert len(page["data"]) == 1 and page["next_cursor"] is None
    d = page["data"][0]
    assert d["generation_id"] == g["id"] and d["url"] == hook
    assert d["webhook_id"] == {k.lower(): v for k, v in hooks()[0]["headers"].items()}["webhook-id"]
    first = api("GET", API + "/webhooks/deliveries", 200, headers=a, query={"limit": 1}).json()
    assert first["next_cursor"]  # the lifecycle test's delivery is older
    api("GET", API + "/webhooks/deliveries", 200, headers=a,
        query={"limit": 1, "cursor": first["next_cursor"]})
    api("GET", API + "/webhooks/deliveries", 400, headers=a, query={"limit": 101})
    api("GET", API + "/webhooks/deliveries", 400, headers=a, query={"cursor": "g_1"})
    api("GET", API + "/webhooks/deliveries", 400, headers=a, query={"generation": "a b"})
    api("GET", API + "/webhooks/deliveries", 404, headers=a, query={"generation": "12345"})
    api("GET", API + "/webhooks/deliveries", 401)
    # redeliver: due again, delivered again with the same webhook-id
    r = api("POST", API + "/webhooks/deliveries/{id}/redeliver", 202, {"id": d["id"]},
            headers=a).json()
    assert r["id"] == d["id"] and r["state"] == "pending" and r["webhook_id"] == d["webhook_id"]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and len(hooks()) < 2:
        time.sleep(0.05)
    assert len(hooks()) == 2
    api("POST", API + "/webhooks/deliveries/{id}/redeliver", 404, {"id": 999999}, headers=a)
    other = svc.new_user(credits=10, name="other-hooks")
    api("POST", API + "/webhooks/deliveries/{id}/redeliver", 404, {"id": d["id"]},
        headers=bearer(other.key))
    api("POST", API + "/webhooks/deliveries/{id}/redeliver", 401, {"id": d["id"]})
    api("POST", API + "/webhooks/deliveries/{id}/redeliver", 403, {"id": d["id"]},
        headers=session_headers(token))


# --- the price quote -------------------------------------------------------------------

def test_quote(svc, api, user, photos_srv, browser):
    a = bearer(user.key)
    body = {"image_url": photos_srv.url(LANDSCAPE), "duration": 5, "resolution": "720p"}
    before = api("GET", API + "/account", 200, headers=a).json()["balance"]
    q = api("POST", API + "/generations/quote", 200, json_body=body, headers=a).json()
    assert q["balance"] == before and q["enough"] is (before >= q["price"]) and q["price"] > 0
    assert q["affordable"] == before // q["price"]
    g = api("POST", API + "/generations", 201, json_body=dict(body, duration=1), headers=a).json()
    api("POST", API + "/generations/{id}/cancel", (200, 202), {"id": g["id"]}, headers=a)
    poor = svc.new_user(credits=0, name="poor-quote")
    p = api("POST", API + "/generations/quote", 200, json_body=body, headers=bearer(poor.key)).json()
    assert p["enough"] is False and p["affordable"] == 0 and p["balance"] == 0
    api("POST", API + "/generations/quote", 400, json_body=dict(body, duration=0), headers=a)
    assert api("POST", API + "/generations/quote", 400, json_body=dict(body, prompt="gore"),
               headers=a).json()["error"]["code"] == "prompt_refused"
    api("POST", API + "/generations/quote", 401, json_body=body)
    api("POST", API + "/generations/quote", 413, json_body=dict(body, prompt="x" * 9000), headers=a)
    api("POST", API + "/generations/quote", 403, json_body=body,
        headers=session_headers(browser[0]))


# --- the output review's refusal through the three APIs ---------------------------------

def test_output_review_refusal(i2v, doc, tmp_path, photos_srv):
    s = Service(i2v, tmp_path / "data",
                extra=["--workers", "1", "--output-review-command", "/usr/bin/false"]).start()
    try:
        api = Api(s, doc)
        u = s.new_user(credits=100, name="refused")
        t = api("POST", "/api/v1/imageToVideo/generate", 200, headers={"APIKEY": u.key}, json_body={
            "imageUrl": photos_srv.url(LANDSCAPE), "duration": 5, "resolution": "480p"}).json()["data"]
        g = wait_state(api, u.key, t, ("succeeded", "failed"))
        assert g["state"] == "failed" and g["error_code"] == "prohibited_content", g
        v1 = api("GET", "/api/v1/imageToVideo/result", 200, headers={"APIKEY": u.key},
                 query={"taskId": t}).json()
        assert v1["code"] == 9038 and v1["data"]["status"] == "Failed" and v1["message"]
        v2 = api("POST", "/api/animation/v2/get", 200, headers={"x-api-key": u.key},
                 json_body={"user_id": u.id, "generation_id": g["id"]}).json()
        assert v2["status"] == "FAILED" and v2["error"]["code"] == "prohibited_content"
    finally:
        stop_and_check_books(s)


def test_signin_limit(svc, api, user):
    """Last to sign in from this address: --signin-limit 10 a minute, refused
    attempts counted too."""
    for _ in range(12):
        r = requests.post(svc.base + API + "/session", json={"key": "i2v_wrong"}, timeout=10)
        if r.status_code == 429:
            break
        assert r.status_code == 401, r.text
    r = api("POST", API + "/session", 429, json_body={"key": user.key})
    assert r.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(r.headers["Retry-After"]) <= 60


# --- coverage: last --------------------------------------------------------------------

def test_every_served_operation_called(doc):
    missing, no_success, no_client_error = [], [], []
    for template, method in sorted(doc.served_operations()):
        seen = doc.seen.get((template, method), set())
        op = doc.operation(template, method)
        if not seen:
            missing.append(f"{method.upper()} {template}")
            continue
        if not any(200 <= s < 400 for s in seen):
            no_success.append(f"{method.upper()} {template}")
        if any(k.startswith("4") for k in op["responses"]) and not any(400 <= s < 500 for s in seen):
            no_client_error.append(f"{method.upper()} {template}")
    report = "\n".join(f"{m.upper():6} {t}: {sorted(s)}" for (t, m), s in sorted(doc.seen.items()))
    print("\n" + report)
    assert not missing, f"never called: {missing}"
    assert not no_success, f"never succeeded: {no_success}"
    assert not no_client_error, f"no 4xx answer checked: {no_client_error}"
