"""End-to-end tests of the operations endpoints (docs/native-api.md,
"Operations") against a real `i2v serve`: GET /metrics on --metrics-listen,
parsed by a real Prometheus text parser (Debian's python3-prometheus-client),
with values checked against the traffic sent; /healthz and /readyz on both
listeners, readyz following a PostgreSQL server that stops and comes back."""
import json
import secrets
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from conftest import fresh_database
from svc import Service, free_port

LANDSCAPE = "Bridge_by_Sander_Klootwijk.jpg"
API = "/api/i2v/v1"


def scrape(port):
    r = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    fams = {f.name: f for f in text_string_to_metric_families(r.text)}
    return fams, r.text


def value(fams, name, sample=None, **labels):
    """The value of the sample of family name with exactly these labels (0
    when there is none)."""
    for s in fams[name].samples:
        if (sample is None or s.name == sample) and all(
                s.labels.get(k) == v for k, v in labels.items()) and (
                sample is not None or set(s.labels) == set(labels)):
            return s.value
    return 0


def test_metrics_count_the_traffic(i2v, tmp_path, photos_srv):
    mport = free_port()
    s = Service(i2v, tmp_path / "data", extra=["--metrics-listen", f"127.0.0.1:{mport}",
                                               "--sse-heartbeat", "60"]).start()
    try:
        user = s.new_user(credits=1000)
        auth = {"Authorization": "Bearer " + user.key}
        base = s.base + API
        # before any traffic: every family is there, the counters at zero
        fams, text = scrape(mport)
        for name in ("i2v_http_requests", "i2v_http_request_duration_seconds",
                     "i2v_queue_generations", "i2v_generations_finished", "i2v_render_seconds",
                     "i2v_webhook_deliveries", "i2v_credits_charged", "i2v_credits_refunded",
                     "i2v_sse_subscribers", "process_resident_memory_bytes"):
            assert name in fams, name
        assert "by this process" in text  # the counters are per process (HELP says so)
        assert value(fams, "i2v_generations_finished", state="failed") == 0
        # traffic: a generation that succeeds (with a webhook), one that fails
        # (its photo is missing), reads, errors
        ok = requests.post(base + "/generations", headers=auth, timeout=30, json={
            "image_url": photos_srv.url(LANDSCAPE), "resolution": "480p", "duration": 5,
            "webhook": photos_srv.url("/hook/metrics")}).json()
        bad = requests.post(base + "/generations", headers=auth, timeout=30, json={
            "image_url": photos_srv.url("missing.jpg"), "resolution": "480p",
            "duration": 1}).json()
        gets = 0
        for gid in (ok["id"], bad["id"]):
            deadline = time.monotonic() + 180
            while True:
                g = requests.get(f"{base}/generations/{gid}", headers=auth, timeout=30)
                gets += 1
                assert g.status_code == 200
                if g.json()["state"] in ("succeeded", "failed") or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
        assert requests.get(f"{base}/generations/{ok['id']}", headers=auth,
                            timeout=30).json()["state"] == "succeeded"
        assert requests.get(f"{base}/generations/{bad['id']}", headers=auth,
                            timeout=30).json()["state"] == "failed"
        gets += 2
        assert requests.get(base + "/account", timeout=30).status_code == 401
        for _ in range(30):  # many raw paths, one route label
            r = requests.get(base + "/nope-" + secrets.token_hex(4), headers=auth, timeout=30)
            assert r.status_code == 404
        assert requests.request("BREW", base + "/account", headers=auth,
                                timeout=30).status_code == 405
        deadline = time.monotonic() + 15
        while not [h for h in photos_srv.hooks if h["name"] == "metrics"]:
            assert time.monotonic() < deadline, "no webhook"
            time.sleep(0.1)
        # a live progress stream is counted while open
        st = requests.get(base + "/events", headers=auth, stream=True, timeout=30)
        assert st.status_code == 200
        fams, _ = scrape(mport)
        assert value(fams, "i2v_sse_subscribers") == 1
        st.close()
        # noticed within a few store polls (0.2 s each), not at the next heartbeat (60 s)
        deadline = time.monotonic() + 10
        while True:
            fams, text = scrape(mport)
            if value(fams, "i2v_sse_subscribers") == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert value(fams, "i2v_sse_subscribers") == 0

        req = "i2v_http_requests"
        assert value(fams, req, family="native", route=API + "/generations", method="POST",
                     status="201") == 2
        assert value(fams, req, family="native", route=API + "/generations/{id}", method="GET",
                     status="200") == gets
        assert value(fams, req, family="native", route=API + "/account", method="GET",
                     status="401") == 1
        assert value(fams, req, family="native", route="unmatched", method="GET",
                     status="404") == 30
        assert value(fams, req, family="native", route=API + "/account", method="other",
                     status="405") == 1
        assert value(fams, req, family="native", route=API + "/events", method="GET",
                     status="200") == 1
        assert "nope-" not in text  # no raw path ever becomes a label
        hist = "i2v_http_request_duration_seconds"
        assert value(fams, hist, sample=hist + "_count", family="native",
                     route=API + "/generations/{id}") == gets
        assert value(fams, hist, sample=hist + "_bucket", family="native",
                     route=API + "/generations/{id}", le="+Inf") == gets
        assert value(fams, hist, sample=hist + "_sum", family="native",
                     route=API + "/generations/{id}") > 0
        # the generations: one succeeded, one failed and refunded, the prices charged
        fin = "i2v_generations_finished"
        assert value(fams, fin, state="succeeded") == 1
        assert value(fams, fin, state="failed") == 1
        assert value(fams, fin, state="cancelled") == 0
        assert value(fams, "i2v_render_seconds", sample="i2v_render_seconds_count") == 2
        assert value(fams, "i2v_render_seconds", sample="i2v_render_seconds_sum") > 0
        assert value(fams, "i2v_credits_charged") == ok["price"] + bad["price"] == 10 + 10
        assert value(fams, "i2v_credits_refunded") == bad["price"]
        assert value(fams, "i2v_webhook_deliveries", result="delivered") == 1
        assert value(fams, "i2v_webhook_deliveries", result="failed") == 0
        q = "i2v_queue_generations"
        assert (value(fams, q, state="succeeded"), value(fams, q, state="failed"),
                value(fams, q, state="queued"), value(fams, q, state="running")) == (1, 1, 0, 0)
        assert value(fams, "i2v_store_up") == 1
        assert value(fams, "process_resident_memory_bytes") > 1e6
        # health on both listeners
        for b in (s.base, f"http://127.0.0.1:{mport}"):
            for path in ("/healthz", "/readyz"):
                r = requests.get(b + path, timeout=10)
                assert r.status_code == 200 and r.text == "ok\n", (b, path)
        r = requests.get(f"http://127.0.0.1:{mport}/nope", timeout=10)
        assert r.status_code == 404
        assert requests.post(f"http://127.0.0.1:{mport}/metrics", timeout=10).status_code == 405
    finally:
        assert s.stop() == 0


def test_metrics_listen_refuses_a_bad_address(i2v, tmp_path):
    s = Service(i2v, tmp_path / "data", extra=["--metrics-listen", "nonsense"])
    with pytest.raises(RuntimeError, match="metrics-listen: 'nonsense' is not HOST:PORT"):
        s.start()


def test_readyz_follows_postgres(i2v, pg, tmp_path):
    mport = free_port()
    s = Service(i2v, tmp_path / "data", backend=["--store", fresh_database(pg)],
                extra=["--metrics-listen", f"127.0.0.1:{mport}"]).start()
    bases = (s.base, f"http://127.0.0.1:{mport}")
    try:
        for b in bases:
            assert requests.get(b + "/readyz", timeout=10).status_code == 200
        pg.stop()
        try:
            for b in bases:
                r = requests.get(b + "/readyz", timeout=30)
                assert r.status_code == 503, r.text
                assert r.text.startswith("not ready: store:")
                assert requests.get(b + "/healthz", timeout=10).status_code == 200
            fams, _ = scrape(mport)
            assert value(fams, "i2v_store_up") == 0
            assert "i2v_queue_generations" not in fams
        finally:
            pg.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if all(requests.get(b + "/readyz", timeout=30).status_code == 200 for b in bases):
                break
            time.sleep(0.5)
        for b in bases:
            assert requests.get(b + "/readyz", timeout=10).status_code == 200
        fams, _ = scrape(mport)
        assert value(fams, "i2v_store_up") == 1
    finally:
        assert s.stop() == 0
