/*
 * webhook.c - the notifier thread. Deliveries are rows written with the
 * generation's final state; this thread claims due rows (a claim is a lease,
 * so a crash mid-delivery only delays it), POSTs the generation's event
 * signed the Standard Webhooks way, and records the outcome: delivered on a
 * 2xx, else retried after a growing delay until the attempts run out.
 * Redirects are not followed; targets pass the same address guard as photos.
 * The body is built from the finished generation, so every attempt carries
 * the same bytes and the same webhook-id; the secret is read at every
 * attempt, so a rotated secret signs the very next one. The thread also
 * reaps expired worker leases every few seconds and removes expired uploads.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "common/crypto.h"
#include "common/error.h"
#include "common/log.h"
#include "metrics.h"
#include "service.h"
#include "uploads.h"

struct i2v_notifier {
    i2v_service *svc;
    pthread_t tid;
};

char *i2v__gen_event_json(const i2v_service *svc, const i2v_gen *g)
{
    char video[1024], cover[1024], ts[96];
    const time_t sec = (time_t)(g->finished_ms / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(g->finished_ms % 1000));
    const int ok = g->state == I2V_GEN_SUCCEEDED;
    json_t *data =
        json_pack("{s:s, s:s, s:I, s:s}", "generation_id", g->uuid, "project_id", g->project_id,
                  "task_id", (json_int_t)g->task_id, "status", i2v__v2_status(g->state));
    if (ok) {
        i2v__output_urls(svc, g, video, cover);
        json_object_set_new(data, "urls", json_pack("[s]", video));
        json_object_set_new(data, "cover", json_string(cover));
        json_object_set_new(data, "width", json_integer(g->out_width));
        json_object_set_new(data, "height", json_integer(g->out_height));
    } else {
        json_object_set_new(data, "error", json_string(g->error));
        json_object_set_new(data, "refunded_credits", json_integer(g->price));
    }
    const char *type = ok                              ? "generation.succeeded"
                       : g->state == I2V_GEN_CANCELLED ? "generation.cancelled"
                                                       : "generation.failed";
    json_t *ev = json_pack("{s:s, s:s, s:o}", "type", type, "timestamp", ts, "data", data);
    char *s = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    return s;
}

/* Delay before attempt n+1 after n failed attempts: first * 6^(n-1), at most
 * 10 hours. With the defaults (5 s, 10 attempts) the last try is ~2 days on. */
static double backoff(const i2v_service *svc, int failed)
{
    double d = svc->hook_first_delay_s * pow(6.0, failed - 1);
    return d > 36000 ? 36000 : d;
}

static void deliver(i2v_service *svc, const i2v_delivery *d)
{
    i2v_gen *g = malloc(sizeof *g);
    i2v_user u;
    i2v_error e = {0};
    char *body = NULL;
    long status = 0;
    int ok = 0;
    if (!g) return;
    if (svc->store->vt->gen_get(svc->store, d->task_id, NULL, g, NULL, &e) != 0 ||
        svc->store->vt->user_get(svc->store, g->user_id, &u, &e) != 0)
        goto record;
    body = i2v__gen_event_json(svc, g);
    if (!body) {
        i2v__err(&e, I2V_ENOMEM, "out of memory");
        goto record;
    }
    const long long ts = (long long)(i2v__now_ms() / 1000);
    char sig[128], h_id[96], h_ts[64], h_sig[160];
    if (i2v__webhook_sign(u.webhook_secret, d->msg_id, ts, body, strlen(body), sig, sizeof sig)) {
        i2v__err(&e, I2V_EINTERNAL, "bad webhook secret");
        goto record;
    }
    snprintf(h_id, sizeof h_id, "webhook-id: %s", d->msg_id);
    snprintf(h_ts, sizeof h_ts, "webhook-timestamp: %lld", ts);
    snprintf(h_sig, sizeof h_sig, "webhook-signature: %s", sig);
    const char *headers[] = {h_id, h_ts, h_sig, NULL};
    i2v_fetch_limits lim = svc->fetch;
    lim.timeout_ms = svc->hook_timeout_ms;
    lim.max_redirects = 0;
    if (i2v__post(d->url, headers, body, strlen(body), &lim, &status, &e) == 0) {
        ok = status >= 200 && status <= 299;
        if (!ok) i2v__err(&e, I2V_EFETCH, "HTTP status %ld", status);
    }
record:;
    const int attempt = d->attempts + 1;
    int64_t next = -1;
    if (!ok && attempt < svc->hook_attempts)
        next = i2v__now_ms() + (int64_t)(backoff(svc, attempt) * 1000);
    i2v_error e2 = {0};
    svc->store->vt->hook_done(svc->store, d->id, ok, next, status, ok ? NULL : e.message, &e2);
    i2v__metrics_webhook(ok ? "delivered" : next < 0 ? "failed" : "retry");
    char why[300], url[300];
    if (ok)
        i2v__log(I2V_LOG_INFO, "webhook_delivered",
                 " task_id=%lld webhook_id=%s attempt=%d status=%ld url=%s", (long long)d->task_id,
                 d->msg_id, attempt, status, i2v__log_str(url, sizeof url, d->url));
    else
        i2v__log(
            I2V_LOG_WARN, "webhook_failed",
            " task_id=%lld webhook_id=%s attempt=%d status=%ld retry_in_s=%.1f url=%s reason=%s",
            (long long)d->task_id, d->msg_id, attempt, status,
            next < 0 ? -1.0 : (double)(next - i2v__now_ms()) / 1000.0,
            i2v__log_str(url, sizeof url, d->url), i2v__log_str(why, sizeof why, e.message));
    free(body);
    free(g);
}

static void *notifier_main(void *arg)
{
    i2v_notifier *n = arg;
    i2v_service *svc = n->svc;
    double last_reap = 0, last_sweep = 0;
    /* expired uploads are looked for every minute (sooner when they live
     * less than four) */
    double sweep_s = (double)svc->upload_ttl_ms / 4000.0;
    sweep_s = sweep_s < 1 ? 1 : sweep_s > 60 ? 60 : sweep_s;
    while (!svc->stop) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        const double now = t.tv_sec + t.tv_nsec / 1e9;
        i2v_error e = {0};
        if (now - last_reap > 2.0) {
            last_reap = now;
            int r = svc->store->vt->reap(svc->store, &e);
            if (r > 0) i2v__log(I2V_LOG_WARN, "leases_expired", " count=%d", r);
        }
        if (svc->upload_ttl_ms > 0 && now - last_sweep > sweep_s) {
            last_sweep = now;
            i2v__uploads_sweep(svc);
        }
        i2v_delivery d;
        /* the claim outlasts one attempt's timeout */
        int r = svc->store->vt->hook_claim(svc->store, svc->hook_timeout_ms + 60000, &d, &e);
        if (r == 1) {
            deliver(svc, &d);
            continue;
        }
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

int i2v__notifier_start(i2v_notifier **out, i2v_service *svc)
{
    i2v_notifier *n = calloc(1, sizeof *n);
    if (!n) return I2V_ENOMEM;
    n->svc = svc;
    if (pthread_create(&n->tid, NULL, notifier_main, n) != 0) {
        free(n);
        return I2V_EINTERNAL;
    }
    *out = n;
    return 0;
}

void i2v__notifier_stop(i2v_notifier **np)
{
    if (!np || !*np) return;
    (*np)->svc->stop = 1;
    pthread_join((*np)->tid, NULL);
    free(*np);
    *np = NULL;
}
