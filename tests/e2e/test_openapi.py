"""The OpenAPI document against a real `i2v serve` (SQLite and a folder):
GET /openapi.json passes the Node validator (tests/openapi/validate.mjs), then
every served operation of the document (all but the x-i2v-pending ones) is
called for real, in success and error cases, and every answer is checked
against the document: its status is documented for that path and method, its
Content-Type is one the document gives for that status, its required headers
are there, and its JSON body is valid against the schema (JSON Schema
2020-12, Debian's python3-jsonschema, `#/components/...` refs resolved
against the whole document). Request bodies the server accepted are checked
against the document's request schema too, and the webhook the service POSTs
against the document's `webhooks`. The last test fails unless every served
operation was called with a success and, where the document gives any, a
4xx answer."""
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
        return {(t, m) for t, item in self.doc["paths"].items() for m in METHODS
                if m in item and not item[m].get("x-i2v-pending")}

    def check(self, r, template, method, sent=None):
        """Checks response r of `method template` against the document."""
        op = self.operation(template, method)
        assert not op.get("x-i2v-pending"), f"{method} {template} is pending"
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
            schema = content[ctype].get("schema")
            if method.upper() == "HEAD":
                assert r.content == b""
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


@pytest.fixture(scope="module")
def svc(i2v, tmp_path_factory):
    s = Service(i2v, tmp_path_factory.mktemp("openapi") / "data",
                extra=["--body-max", "8192", "--workers", "1"]).start()
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
                 headers=None, query=None):
        path = template.format(**(params or {}))
        data = raw if raw is not None else (json.dumps(json_body) if json_body is not None else None)
        h = dict(headers or {})
        if data is not None:
            h.setdefault("Content-Type", "application/json")
        r = requests.request(method, self.svc.base + path, data=data, headers=h, params=query,
                             timeout=30, allow_redirects=False)
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


def test_health(api):
    assert api("GET", "/healthz", 200).json() == {"status": "ok"}
    api("HEAD", "/healthz", 200)


def test_wrong_methods_answer_the_api_shape(svc, doc):
    # not operations of the document (it lists what is served); their bodies
    # are still the documented error shapes
    for method, path, schema in [("PUT", API + "/generations", "NativeError"),
                                 ("POST", "/openapi.json", "NativeError"),
                                 ("GET", "/api/v1/imageToVideo/generate", "V1Error"),
                                 ("GET", "/api/animation/v2/get", "V2Error"),
                                 ("POST", "/v/" + "0" * 32 + ".mp4", "V2Error")]:
        r = requests.request(method, svc.base + path, timeout=10)
        assert r.status_code == 405, (method, path, r.status_code)
        assert not doc.errors(r.json(), {"$ref": f"#/components/schemas/{schema}"}), r.text
    r = requests.get(svc.base + API + "/nothing", timeout=10)
    assert r.status_code == 404
    assert not doc.errors(r.json(), {"$ref": "#/components/schemas/NativeError"})


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
