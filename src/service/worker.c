/*
 * worker.c - worker threads. Each claims the oldest queued generation with a
 * lease, fetches and decodes the photo, plans and renders it into the scratch
 * folder, puts the video and cover into the blob store, and finishes the
 * generation.
 *
 * While a generation runs, a keeper thread renews its lease with the
 * progress every RENEW_MS. When a renewal finds the lease lost (another
 * worker took the generation after this one stalled) the render is
 * cancelled and nothing this worker does afterwards is written. When it
 * says the generation's owner asked to cancel it, the fetch or render is
 * stopped at once (the cancel flag the engine and fetch poll), whatever was
 * put into the blob store is removed, and the generation is finished
 * cancelled (refunded, its webhook row written) under this worker's lease.
 * So a cancel reaches a running render within RENEW_MS plus one frame.
 */
#include <errno.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/error.h"
#include "common/log.h"
#include "output_review.h"
#include "metrics.h"
#include "service.h"
#include "uploads.h"

typedef struct wthread {
    struct i2v_workers *pool;
    pthread_t tid;
    int index;
    volatile int cancel; /* raised to cancel the current render */
} wthread;

struct i2v_workers {
    i2v_service *svc;
    char name[128];
    int count;
    wthread *t;
    pthread_t listener; /* when the store sends wake-up hints */
    int listening;
};

/* How often a running generation's lease is renewed (with its progress):
 * also how soon its worker learns that its owner cancelled it. */
#define RENEW_MS 250

typedef struct job {
    i2v_service *svc;
    wthread *w;
    i2v_gen *g;
    char token[33];
    atomic_int pct;       /* the progress the next renewal reports */
    atomic_int lost;      /* the lease was lost: write nothing */
    atomic_int cancelled; /* its owner asked to cancel it */
    double cancel_seen;   /* i2v__mono() when the keeper learned it (before cancelled is set) */
    int give_back;        /* the blob store stayed away: back to the queue, not failed */
    /* where the time went, in seconds (job_succeeded's log line) */
    double fetch_s, plan_s, render_s, review_s, put_s, finish_s;
    /* the keeper thread */
    pthread_t keeper;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done; /* under mu: the keeper stops */
    int keeping;
    int renew_failing; /* the keeper's: renewals failing in a row (logged once) */
    int stored_pct;    /* the keeper's: the progress the store has */
} job;

/* One renewal: raises the cancel flag when the lease is lost or the owner
 * asked to cancel. Returns 1 when the keeper should stop (lease lost). */
static int renew(job *j)
{
    i2v_error e = {0};
    const int pct = atomic_load(&j->pct);
    int r =
        j->svc->store->vt->gen_renew(j->svc->store, j->g->id, j->token, j->svc->lease_ms, pct, &e);
    if (r == 0 && pct > j->stored_pct) { /* when live progress readers can see it */
        j->stored_pct = pct;
        i2v__log(I2V_LOG_DEBUG, "job_progress", " task_id=%lld generation_id=%s progress=%d",
                 (long long)j->g->task_id, j->g->uuid, pct);
    }
    if (r == I2V_ELOST) {
        atomic_store(&j->lost, 1);
        j->w->cancel = 1;
        i2v__log(I2V_LOG_WARN, "lease_lost", " task_id=%lld", (long long)j->g->task_id);
        return 1;
    }
    if (r == I2V_ECANCELLED) {
        if (!atomic_load(&j->cancelled)) {
            j->cancel_seen = i2v__mono();
            atomic_store(&j->cancelled, 1);
            j->w->cancel = 1;
            i2v__log(I2V_LOG_INFO, "job_cancel_seen", " task_id=%lld generation_id=%s",
                     (long long)j->g->task_id, j->g->uuid);
        }
    } else if (r) {
        /* the store is away (a restart): once per streak, not four times a second */
        if (!j->renew_failing++)
            i2v__log(I2V_LOG_WARN, "lease_renew_failed", " task_id=%lld error=\"%s\"",
                     (long long)j->g->task_id, e.message);
        return 0;
    }
    if (j->renew_failing) {
        i2v__log(I2V_LOG_INFO, "lease_renew_resumed", " task_id=%lld failed=%d",
                 (long long)j->g->task_id, j->renew_failing);
        j->renew_failing = 0;
    }
    return 0;
}

/* Renews the job's lease every RENEW_MS until keeper_stop or the lease is
 * lost. */
static void *keeper_main(void *arg)
{
    job *j = arg;
    pthread_mutex_lock(&j->mu);
    while (!j->done) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += RENEW_MS * 1000000L;
        while (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        while (!j->done && pthread_cond_timedwait(&j->cv, &j->mu, &ts) == 0)
            ;
        if (j->done) break;
        pthread_mutex_unlock(&j->mu);
        const int stop = renew(j);
        pthread_mutex_lock(&j->mu);
        if (stop) break;
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

static void keeper_start(job *j)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&j->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&j->mu, NULL);
    j->keeping = pthread_create(&j->keeper, NULL, keeper_main, j) == 0;
    if (!j->keeping)
        i2v__log(I2V_LOG_ERROR, "keeper_failed",
                 " task_id=%lld note=\"no lease renewals: the lease may expire\"",
                 (long long)j->g->task_id);
}

static void keeper_stop(job *j)
{
    if (j->keeping) {
        pthread_mutex_lock(&j->mu);
        j->done = 1;
        pthread_cond_signal(&j->cv);
        pthread_mutex_unlock(&j->mu);
        pthread_join(j->keeper, NULL);
        j->keeping = 0;
    }
    pthread_cond_destroy(&j->cv);
    pthread_mutex_destroy(&j->mu);
}

/* Stop what the worker is doing: the lease lost or the owner cancelled. */
static int stopped(job *j)
{
    return atomic_load(&j->lost) || atomic_load(&j->cancelled);
}

static int on_progress(void *user, int done, int total)
{
    job *j = user;
    /* fetch and decode are the first 5%, the frames 5..99, the finish 100 */
    atomic_store(&j->pct, 5 + (int)(94.0 * done / (total > 0 ? total : 1)));
    return 0;
}

/* Puts the rendered cover and video into the blob store under the output
 * key; on failure neither is left there. */
static int put_outputs(i2v_service *svc, const char *key, const char *video, const char *cover,
                       i2v_error *err)
{
    char vname[48], cname[48];
    i2v__output_name(key, "mp4", vname);
    i2v__output_name(key, "jpg", cname);
    int rc = i2v__blob_put_file(svc->blobs, cname, cover, "image/jpeg", err);
    if (rc) return rc;
    rc = i2v__blob_put_file(svc->blobs, vname, video, "video/mp4", err);
    if (rc) i2v__blob_remove(svc->blobs, cname, NULL);
    return rc;
}

/* Sleeps up to s seconds, less when the service stops. */
static void nap(const i2v_service *svc, double s)
{
    for (double t = 0; t < s && !svc->stop; t += 0.1)
        usleep(100000);
}

/* put_outputs, again and again while the blob store is unreachable (the
 * lease renewed meanwhile), for up to BLOB_RETRY_S; then the job is given
 * back to the queue rather than failed. */
#define BLOB_RETRY_S 300.0
static int put_with_retries(job *j, const char *key, const char *video, const char *cover,
                            i2v_error *err)
{
    i2v_service *svc = j->svc;
    const double t0 = i2v__mono();
    double delay = 0.5;
    for (int n = 1;; n++) {
        i2v_error e = {0};
        int rc = put_outputs(svc, key, video, cover, &e);
        if (rc != I2V_EUNAVAILABLE) {
            if (rc) i2v__err(err, rc, "%s", e.message);
            if (n > 1 && !rc)
                i2v__log(I2V_LOG_INFO, "blob_put_resumed", " task_id=%lld attempts=%d",
                         (long long)j->g->task_id, n);
            return rc;
        }
        if (n == 1)
            i2v__log(I2V_LOG_WARN, "blob_put_retrying", " task_id=%lld error=\"%s\"",
                     (long long)j->g->task_id, e.message);
        if (stopped(j)) return i2v__err(err, rc, "%s", e.message);
        if (i2v__mono() - t0 > BLOB_RETRY_S || svc->stop) {
            j->give_back = 1;
            return i2v__err(err, rc, "%s", e.message);
        }
        nap(svc, delay);
        delay = delay * 2 > 10 ? 10 : delay * 2;
        atomic_store(&j->pct, 99); /* the keeper renews meanwhile */
    }
}

/* Removes a generation's outputs from the blob store (a lost lease). */
static void remove_outputs(i2v_service *svc, const char *key)
{
    char name[48];
    i2v__output_name(key, "mp4", name);
    i2v__blob_remove(svc->blobs, name, NULL);
    i2v__output_name(key, "jpg", name);
    i2v__blob_remove(svc->blobs, name, NULL);
}

/* The output review of a rendered generation: 0 accepted; else -1 with the
 * failure in err (and r->error_code I2V_ERROR_PROHIBITED when refused). */
static int review(job *j, const char *cover, const char *const *samples, int nsamples, i2v_gen *r,
                  i2v_error *err)
{
    const char *files[1 + I2V_REVIEW_SAMPLES];
    char reason[I2V_REVIEW_REASON_MAX + 1], why[300];
    files[0] = cover;
    for (int k = 0; k < nsamples && k < I2V_REVIEW_SAMPLES; k++)
        files[1 + k] = samples[k];
    const double t0 = i2v__mono();
    const int rc =
        i2v__output_review(j->svc, j->g, files, 1 + nsamples, &j->w->cancel, reason, err);
    if (rc == 1) {
        r->error_code = I2V_ERROR_PROHIBITED;
        i2v__err(err, I2V_EDENIED, "Generated output image contains prohibited content: %s",
                 reason);
    }
    i2v__log(rc == 0 ? I2V_LOG_INFO : I2V_LOG_WARN, "output_review",
             " task_id=%lld generation_id=%s verdict=%s seconds=%.2f%s%s", (long long)j->g->task_id,
             j->g->uuid,
             rc == 0   ? "accepted"
             : rc == 1 ? "refused"
                       : "error",
             i2v__mono() - t0, rc ? " reason=" : "",
             rc ? i2v__log_str(why, sizeof why, rc == 1 ? reason : err->message) : "");
    return rc == 0 ? 0 : -1;
}

/* Runs one claimed generation; fills r (state, outputs or error). */
static void run_job(job *j, i2v_gen *r)
{
    i2v_service *svc = j->svc;
    const i2v_gen *g = j->g;
    i2v_error err = {0};
    unsigned char *bytes = NULL;
    size_t len = 0;
    i2v_photo *photos[I2V_PHOTOS_MAX] = {0};
    int n = 0;
    i2v_plan *plan = NULL;
    char video[1200], cover[1200], sample[I2V_REVIEW_SAMPLES][1200];
    const char *samples[I2V_REVIEW_SAMPLES];
    int nsamples = 0;
    video[0] = cover[0] = '\0';

    r->state = I2V_GEN_FAILED;
    /* The photos: the first, then the last (first-last) or the rest of a tour. */
    const char *urls[I2V_PHOTOS_MAX];
    char more[sizeof g->more_urls];
    int nurls = 0;
    urls[nurls++] = g->image_url;
    if (g->last_image_url[0]) urls[nurls++] = g->last_image_url;
    snprintf(more, sizeof more, "%s", g->more_urls);
    for (char *save = NULL, *u = strtok_r(more, "\n", &save); u && nurls < I2V_PHOTOS_MAX;
         u = strtok_r(NULL, "\n", &save))
        urls[nurls++] = u;
    i2v_limits lim;
    i2v_limits_init(&lim);
    lim.max_bytes = svc->fetch.max_bytes;
    lim.max_pixels = svc->max_pixels;
    i2v_fetch_limits fetch = svc->fetch;
    fetch.cancel = &j->w->cancel; /* a cancel stops a slow download too */
    double t = i2v__mono();
    for (n = 0; n < nurls;) {
        /* an upload is read from the blob store; anything else fetched */
        const size_t upload_max =
            svc->upload_max > fetch.max_bytes ? svc->upload_max : fetch.max_bytes;
        int got = i2v__upload_read(svc, g->user_id, urls[n], upload_max, &bytes, &len, &err);
        if (got == 0) lim.max_bytes = upload_max;
        if (got == 1) {
            lim.max_bytes = fetch.max_bytes;
            got = i2v__fetch(urls[n], &fetch, &bytes, &len, &err);
        }
        if (got != 0) {
            if (nurls > 1) {
                const size_t l = strlen(err.message);
                snprintf(err.message + l, sizeof err.message - l, " (photo %d)", n + 1);
            }
            goto out;
        }
        atomic_store(&j->pct, 1 + 3 * (n + 1) / nurls);
        if (stopped(j)) goto out;
        const int rc = i2v_photo_open_memory(&photos[n], bytes, len, &lim, &err);
        free(bytes);
        bytes = NULL;
        if (rc != 0) goto out;
        n++;
    }
    const i2v_photo *photo = photos[0];
    j->fetch_s = i2v__mono() - t;
    t = i2v__mono();

    i2v_spec spec;
    i2v_spec_init(&spec);
    i2v_move_parse(g->move, &spec.move);
    spec.prompt = g->has_prompt ? g->prompt : NULL;
    /* Animation API v2: the prompt is not used for AUTO_* (its planner
     * writes its own). */
    if (g->api == 2 && (spec.move == I2V_MOVE_AUTO_EFFECTS || spec.move == I2V_MOVE_AUTO_REVERSE))
        spec.prompt = NULL;
    spec.audio = g->audio ? 1 : 0;
    spec.duration = g->duration;
    spec.model = g->model == I2V_MODEL_BASE ? I2V_MODEL_BASE : I2V_MODEL_FLASH;
    spec.width = g->width;
    spec.height = g->height;
    if (g->fit_portrait && i2v_photo_height(photo) > i2v_photo_width(photo)) {
        spec.width = g->height;
        spec.height = g->width;
    }
    if (i2v_spec_validate(&spec, &err) != 0) goto out;
    const i2v_photo *const *list = (const i2v_photo *const *)photos;
    if (i2v_plan_new_multi(&plan, list, n,
                           g->last_image_url[0] ? I2V_JOIN_FIRST_LAST : I2V_JOIN_TOUR, &spec,
                           &err) != 0)
        goto out;
    {
        char u[400];
        i2v__log(I2V_LOG_INFO, "job_planned", " task_id=%lld photos=%d understood=%s",
                 (long long)g->task_id, n, i2v__log_str(u, sizeof u, i2v_plan_understood(plan)));
        for (int k = 0; k + 1 < n; k++) {
            i2v_transition_info t;
            i2v_plan_transition(plan, k, &t);
            i2v__log(t.kind == I2V_TRANSITION_DISSOLVE ? I2V_LOG_WARN : I2V_LOG_INFO, "align",
                     " task_id=%lld photos=%d,%d result=%s matches=%d inliers=%d scale=%.4f%s",
                     (long long)g->task_id, k + 1, k + 2, i2v_transition_name(t.kind), t.matches,
                     t.inliers, t.scale,
                     t.kind == I2V_TRANSITION_DISSOLVE ? " note=\"no alignment found: dissolve\""
                                                       : "");
        }
    }
    atomic_store(&j->pct, 5);
    j->plan_s = i2v__mono() - t;
    if (stopped(j)) goto out;

    i2v__random_hex(r->out_key, 16);
    snprintf(video, sizeof video, "%s/%s.mp4", svc->scratch_dir, r->out_key);
    snprintf(cover, sizeof cover, "%s/%s.jpg", svc->scratch_dir, r->out_key);
    i2v_output out = {0};
    out.video_path = video;
    out.cover_path = cover;
    out.progress = on_progress;
    out.progress_user = j;
    out.cancel = &j->w->cancel;
    out.threads = svc->render_threads;
    if (svc->review_cmd[0]) { /* frames for the output review */
        for (int k = 0; k < I2V_REVIEW_SAMPLES; k++) {
            snprintf(sample[k], sizeof sample[k], "%s/%s-%d.jpg", svc->scratch_dir, r->out_key,
                     k + 1);
            samples[k] = sample[k];
        }
        out.sample_paths = samples;
        out.nsamples = I2V_REVIEW_SAMPLES;
    }
    t = i2v__mono();
    if (i2v_render_multi(list, n, plan, &out, &err) != 0) goto out;
    j->render_s = i2v__mono() - t;
    nsamples = out.nsamples; /* written: removed below, whatever happens */
    t = i2v__mono();
    if (nsamples && review(j, cover, samples, nsamples, r, &err) != 0) goto out;
    j->review_s = i2v__mono() - t;
    t = i2v__mono();
    if (stopped(j) || put_with_retries(j, r->out_key, video, cover, &err) != 0) goto out;
    j->put_s = i2v__mono() - t;
    r->state = I2V_GEN_SUCCEEDED;
    r->out_width = i2v_plan_width(plan);
    r->out_height = i2v_plan_height(plan);
    snprintf(r->plan_prompt, sizeof r->plan_prompt, "%s", i2v_plan_description(plan));
out:
    if (r->state == I2V_GEN_FAILED) {
        snprintf(r->error, sizeof r->error, "%s", err.message[0] ? err.message : "failed");
        if (video[0]) unlink(video);
        if (cover[0]) unlink(cover);
    }
    for (int k = 0; k < nsamples; k++)
        unlink(sample[k]);
    free(bytes);
    i2v_plan_free(&plan);
    for (int i = 0; i < n; i++)
        i2v_photo_free(&photos[i]);
}

/* gen_finish, retried while the store is unreachable: a finish must not be
 * thrown away because the database restarted. Stops at once on anything
 * else (the lease lost: I2V_ELOST). */
#define FINISH_RETRY_S 120.0
static int finish_with_retries(i2v_service *svc, const i2v_gen *g, const char *token,
                               const i2v_gen *r, i2v_error *err)
{
    const double t0 = i2v__mono();
    double delay = 0.25;
    for (;;) {
        i2v_error e = {0};
        int rc = svc->store->vt->gen_finish(svc->store, g->id, token, r, &e);
        if ((rc != I2V_EUNAVAILABLE && rc != I2V_EDB) || i2v__mono() - t0 > FINISH_RETRY_S ||
            svc->stop) {
            if (rc) i2v__err(err, rc, "%s", e.message);
            return rc;
        }
        i2v__log(I2V_LOG_WARN, "job_finish_retrying", " task_id=%lld error=\"%s\"",
                 (long long)g->task_id, e.message);
        nap(svc, delay);
        delay = delay * 2 > 5 ? 5 : delay * 2;
    }
}

/* After a finish was refused as fenced: 1 when the record shows this
 * worker's own result (a retried finish whose first commit went through
 * but whose answer was lost with the connection). */
static int finished_by_us(i2v_service *svc, const i2v_gen *g, const i2v_gen *r)
{
    i2v_gen *now = malloc(sizeof *now);
    i2v_error e = {0};
    int ours = now && svc->store->vt->gen_get(svc->store, g->task_id, NULL, now, NULL, &e) == 0 &&
               now->state == r->state && strcmp(now->out_key, r->out_key) == 0 &&
               (r->state != I2V_GEN_SUCCEEDED || r->out_key[0]);
    free(now);
    return ours;
}

static void process(wthread *w, i2v_gen *g, const char *token)
{
    i2v_service *svc = w->pool->svc;
    job j = {.svc = svc, .w = w, .g = g};
    snprintf(j.token, sizeof j.token, "%s", token);
    w->cancel = 0;
    const double t0 = i2v__mono();
    i2v__log(I2V_LOG_INFO, "job_started", " task_id=%lld generation_id=%s worker=%s/%d attempt=%d",
             (long long)g->task_id, g->uuid, w->pool->name, w->index, g->attempts);
    i2v_gen *r = calloc(1, sizeof *r);
    if (!r) return; /* the lease expires and another attempt is made */
    keeper_start(&j);
    run_job(&j, r);
    keeper_stop(&j); /* from here on every write is fenced by the finish itself */
    if (atomic_load(&j.lost)) goto discard;
    if (atomic_load(&j.cancelled)) {
        /* its owner cancelled it: nothing of it stays in the blob store */
        if (r->state == I2V_GEN_SUCCEEDED) remove_outputs(svc, r->out_key);
        r->state = I2V_GEN_CANCELLED;
        r->out_key[0] = '\0';
    } else if ((svc->stop || j.give_back) && r->state != I2V_GEN_SUCCEEDED) {
        /* shutting down: give it back rather than fail it */
        i2v_error e = {0};
        svc->store->vt->gen_release(svc->store, g->id, j.token, &e);
        i2v__log(I2V_LOG_INFO, "job_released", " task_id=%lld reason=%s", (long long)g->task_id,
                 j.give_back ? "blob_store_unavailable" : "stopping");
        goto out;
    }
    i2v_error e = {0};
    const double tf = i2v__mono();
    int fr = finish_with_retries(svc, g, j.token, r, &e);
    j.finish_s = i2v__mono() - tf;
    if (fr == I2V_ECANCELLED) {
        /* cancel was requested after the last renewal: the store wrote
         * the cancel (and its refund), so what was put goes */
        if (r->state == I2V_GEN_SUCCEEDED) remove_outputs(svc, r->out_key);
        r->state = I2V_GEN_CANCELLED;
        r->out_key[0] = '\0';
        goto done;
    }
    if (fr == I2V_ELOST) {
        if (finished_by_us(svc, g, r)) goto done;
        i2v__log(I2V_LOG_WARN, "lease_lost", " task_id=%lld at=finish", (long long)g->task_id);
        goto discard;
    }
    if (fr) {
        /* The lease will expire and the generation be retried. */
        i2v__log(I2V_LOG_ERROR, "job_finish_failed", " task_id=%lld error=\"%s\"",
                 (long long)g->task_id, e.message);
        goto out;
    }
done:
    i2v__metrics_finished(r->state, i2v__mono() - t0);
    if (r->state != I2V_GEN_SUCCEEDED) i2v__metrics_refunded(g->price);
    if (r->state == I2V_GEN_SUCCEEDED) {
        i2v__log(I2V_LOG_INFO, "job_succeeded",
                 " task_id=%lld generation_id=%s size=%dx%d seconds=%.2f fetch_ms=%.1f"
                 " plan_ms=%.1f render_ms=%.1f review_ms=%.1f put_ms=%.1f finish_ms=%.1f out=%s"
                 " plan=\"%s\"",
                 (long long)g->task_id, g->uuid, r->out_width, r->out_height, i2v__mono() - t0,
                 j.fetch_s * 1e3, j.plan_s * 1e3, j.render_s * 1e3, j.review_s * 1e3, j.put_s * 1e3,
                 j.finish_s * 1e3, r->out_key, r->plan_prompt);
    } else if (r->state == I2V_GEN_CANCELLED) {
        /* stop_ms: from the renewal that brought the cancel to the finish */
        const double seen = atomic_load(&j.cancelled) ? j.cancel_seen : 0;
        i2v__log(I2V_LOG_INFO, "job_cancelled",
                 " task_id=%lld generation_id=%s seconds=%.2f stop_ms=%.0f refund=%d",
                 (long long)g->task_id, g->uuid, i2v__mono() - t0,
                 seen > 0 ? (i2v__mono() - seen) * 1000 : 0.0, g->price);
    } else {
        char why[300];
        i2v__log(I2V_LOG_WARN, "job_failed",
                 " task_id=%lld generation_id=%s seconds=%.2f refund=%d reason=%s",
                 (long long)g->task_id, g->uuid, i2v__mono() - t0, g->price,
                 i2v__log_str(why, sizeof why, r->error));
    }
    goto out;
discard:
    if (r->state == I2V_GEN_SUCCEEDED) remove_outputs(svc, r->out_key);
out:
    free(r);
}

static void *worker_main(void *arg)
{
    wthread *w = arg;
    i2v_service *svc = w->pool->svc;
    char owner[160];
    /* Renders yield to the HTTP threads: a lower priority for this thread,
     * inherited by the render threads it starts (Linux nice is per thread). */
    if (svc->worker_nice > 0 &&
        setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), svc->worker_nice) != 0)
        i2v__log(I2V_LOG_WARN, "nice_failed", " error=\"%s\"", strerror(errno));
    snprintf(owner, sizeof owner, "%s/%d", w->pool->name, w->index);
    i2v_gen *g = malloc(sizeof *g);
    if (!g) return NULL;
    int failing = 0; /* seconds of the current back-off, 0: the store answers */
    while (!svc->stop) {
        char token[33];
        i2v_error e = {0};
        int r = svc->store->vt->gen_claim(svc->store, owner, svc->lease_ms, g, token, &e);
        if (r == 1) {
            process(w, g, token);
            continue;
        }
        if (r < 0) {
            /* The store is away: log once, back off up to 10 s, carry on. */
            if (!failing)
                i2v__log(I2V_LOG_ERROR, "claim_failed", " worker=%s error=\"%s\"", owner,
                         e.message);
            failing = failing ? (failing * 2 > 10 ? 10 : failing * 2) : 1;
            nap(svc, failing);
            continue;
        }
        if (failing) i2v__log(I2V_LOG_INFO, "claim_resumed", " worker=%s", owner);
        failing = 0;
        /* Idle: sleep until woken by a new generation or the poll interval
         * (other processes may queue work too). */
        pthread_mutex_lock(&svc->lock);
        if (!svc->stop) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            const double p = svc->poll_s > 0 ? svc->poll_s : 1.0;
            ts.tv_sec += (time_t)p;
            ts.tv_nsec += (long)((p - (double)(time_t)p) * 1e9);
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&svc->wake, &svc->lock, &ts);
        }
        pthread_mutex_unlock(&svc->lock);
    }
    free(g);
    return NULL;
}

/* Turns the store's wake-up hints (a generation queued by any process) into
 * a wake-up of this process's idle workers, so they claim at once instead
 * of at their next poll. The hint is only a hint: polling stays. */
static void *listener_main(void *arg)
{
    i2v_workers *w = arg;
    i2v_service *svc = w->svc;
    int failing = 0;
    while (!svc->stop) {
        i2v_error e = {0};
        int r = svc->store->vt->listen(svc->store, 250, &e);
        if (r == 1) i2v__service_wake(svc);
        if (r < 0) {
            if (!failing)
                i2v__log(I2V_LOG_WARN, "listen_failed", " error=\"%s\" note=\"polling meanwhile\"",
                         e.message);
            failing = 1;
            for (int i = 0; i < 10 && !svc->stop; i++)
                usleep(100000);
        } else if (failing) {
            i2v__log(I2V_LOG_INFO, "listen_resumed", " note=\"wake-up hints again\"");
            failing = 0;
        }
    }
    return NULL;
}

int i2v__workers_start(i2v_workers **out, i2v_service *svc, int count, const char *name)
{
    i2v_workers *w = calloc(1, sizeof *w);
    if (!w) return I2V_ENOMEM;
    w->svc = svc;
    snprintf(w->name, sizeof w->name, "%s", name);
    w->t = calloc((size_t)(count > 0 ? count : 1), sizeof *w->t);
    if (!w->t) {
        free(w);
        return I2V_ENOMEM;
    }
    for (int i = 0; i < count; i++) {
        w->t[i].pool = w;
        w->t[i].index = i;
        if (pthread_create(&w->t[i].tid, NULL, worker_main, &w->t[i]) != 0) break;
        w->count++;
    }
    if (w->count > 0 && svc->store->vt->listen &&
        pthread_create(&w->listener, NULL, listener_main, w) == 0)
        w->listening = 1;
    *out = w;
    return w->count == count ? 0 : I2V_EINTERNAL;
}

void i2v__workers_stop(i2v_workers **wp)
{
    if (!wp || !*wp) return;
    i2v_workers *w = *wp;
    w->svc->stop = 1;
    for (int i = 0; i < w->count; i++)
        w->t[i].cancel = 1;
    i2v__service_wake(w->svc);
    for (int i = 0; i < w->count; i++)
        pthread_join(w->t[i].tid, NULL);
    if (w->listening) pthread_join(w->listener, NULL);
    free(w->t);
    free(w);
    *wp = NULL;
}
