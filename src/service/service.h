/*
 * service.h - what `i2v serve` and `i2v worker` share: the configuration, the
 * job store, the blob store of outputs, the prompt review and the in-process wake-up
 * of workers. Threads: the HTTP server's pool answers requests (reads and
 * short write transactions); each worker thread owns the generation it has
 * claimed until it finishes or its lease is lost; one notifier thread sends
 * webhooks and reaps expired leases. They share only the store (thread-safe)
 * and `wake` below.
 */
#ifndef I2V_SERVICE_H
#define I2V_SERVICE_H

#include <pthread.h>
#include <stdint.h>

#include "blob/blob.h"
#include "fetch.h"
#include "netaddr.h"
#include "review.h"
#include "store/store.h"

typedef struct i2v_service {
    i2v_store *store;
    i2v_blob *blobs; /* finished outputs */
    i2v_review *review;
    char scratch_dir[1100]; /* where workers render before the put */
    int blob_url_ttl_s;     /* direct (presigned) output URLs live this long */
    int blob_proxy;         /* 1: stream outputs through i2v even when the store has URLs */
    char public_url[512];   /* no trailing slash */
    i2v_allow allow;
    i2v_fetch_limits fetch;
    uint64_t max_pixels;
    int64_t lease_ms;
    double poll_s;
    int render_threads;
    int worker_nice; /* nice value of worker (render) threads */
    int v2_video_credits;
    size_t body_max;
    /* uploads (uploads.h) */
    size_t upload_max;     /* largest photo upload in bytes; 0: uploads refused */
    int64_t upload_ttl_ms; /* how long an upload can be used */
    /* the output review (review_output.h); "" : off */
    char review_cmd[1024];
    double review_timeout_s;
    /* webhooks */
    double hook_first_delay_s;
    int hook_attempts;
    long hook_timeout_ms;
    /* live progress streams (events.h); NULL in `i2v worker` */
    struct i2v_events *events;
    /* wake-up of idle in-process workers when a generation is queued */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    volatile int stop;
    struct i2v_web *web; /* the Developer Space's sessions (web.h); NULL: none */
} i2v_service;

/* Queues a new generation for g (input fields filled, price set): prompt
 * review, charge and insert in one transaction, then wakes a worker.
 * Returns 0, I2V_EDENIED (review), I2V_ECREDIT (*balance is then the
 * balance found) or another negative code, with a message in err. */
int i2v__service_submit(i2v_service *svc, i2v_gen *g, int64_t *balance, i2v_error *err);
void i2v__service_wake(i2v_service *svc);

/* Public URLs of a succeeded generation's files, into buffers of 1024. */
void i2v__output_urls(const i2v_service *svc, const i2v_gen *g, char *video, char *cover);
/* Blob name of an output file ("<key>.mp4" / "<key>.jpg") into name[48]. */
void i2v__output_name(const char *key, const char *ext, char name[48]);

/* Worker threads: claim, fetch, render, finish. */
typedef struct i2v_workers i2v_workers;
int i2v__workers_start(i2v_workers **out, i2v_service *svc, int count, const char *name);
/* Stops claiming, cancels running renders and gives their generations back. */
void i2v__workers_stop(i2v_workers **w);

/* The notifier thread: webhook deliveries (and lease reaping). */
typedef struct i2v_notifier i2v_notifier;
int i2v__notifier_start(i2v_notifier **out, i2v_service *svc);
void i2v__notifier_stop(i2v_notifier **n);
/* The JSON event sent for a finished generation (malloc'd). */
char *i2v__gen_event_json(const i2v_service *svc, const i2v_gen *g);

#endif
