/*
 * store.h - the job store: users, API keys, the credit ledger, generations
 * (the queue, with leases) and webhook deliveries. One small interface,
 * a struct of function pointers, so backends can be swapped; the embedded
 * default is SQLite (store_sqlite.c); PostgreSQL (store_pg.c) serves many
 * processes on many machines.
 *
 * Contract shared by every backend:
 * - A generation's charge is written in the same transaction as the
 *   generation; a balance never goes below zero.
 * - A failed generation is refunded exactly once (the ledger holds at most one
 *   charge and one refund per generation).
 * - A worker owns a running generation through a lease token; renew and
 *   finish are fenced by it (a stale worker's writes change nothing, I2V_ELOST).
 * - An expired lease puts the generation back in the queue, in its old place,
 *   until max_attempts claims have been made; then it fails with a refund.
 * - A finished generation with a webhook gets a delivery row in the same
 *   transaction.
 * - An idempotency key (per user) is written in the same transaction as the
 *   generation it created, with the request's hash and the balance after the
 *   charge: a second create with the key charges nothing (I2V_EDUPLICATE) and
 *   idem_get gives back what the first one made. Keys are kept ttl_ms.
 * - Every function may be called from any thread; the handle is shared.
 * - A server that cannot be reached (or went away mid-call) gives
 *   I2V_EUNAVAILABLE: the caller may retry; the handle reconnects by itself.
 * - Cancelling (gen_cancel): a queued generation is cancelled at once, with
 *   its refund and delivery row, in one transaction; a running one is marked
 *   cancel-requested, which its worker learns from gen_renew
 *   (I2V_ECANCELLED). From then on it can only end cancelled: the worker's
 *   finish, a release on shutdown and the reaping of its expired lease all
 *   write I2V_GEN_CANCELLED with the refund, never a success or a requeue.
 * All functions return 0 (or 1 where noted) or a negative i2v_code.
 */
#ifndef I2V_STORE_H
#define I2V_STORE_H

#include <stdint.h>

#include "i2v/i2v.h"

typedef enum {
    I2V_GEN_QUEUED = 0,
    I2V_GEN_RUNNING = 1,
    I2V_GEN_SUCCEEDED = 2,
    I2V_GEN_FAILED = 3,
    I2V_GEN_CANCELLED = 4, /* by its owner; refunded like a failure */
} i2v_gen_state;

#define I2V_URL_MAX 2048
#define I2V_PROMPT_MAX 2000
#define I2V_MORE_URLS (I2V_PHOTOS_MAX - 1)
#define I2V_IDEM_KEY_MAX 255

typedef struct i2v_gen {
    int64_t id;      /* queue order, internal */
    int64_t task_id; /* API v1 taskId, random, < 2^53 */
    char uuid[37];   /* API v2 generation_id */
    char project_id[37];
    char user_id[37];
    int api; /* 1 or 2: the API that created it */
    int state;
    int progress; /* 0..100 */
    /* input */
    char image_url[I2V_URL_MAX + 1];
    char last_image_url[I2V_URL_MAX + 1]; /* "" : none */
    /* A tour's photos after the first, one URL per line ("" : no tour). */
    char more_urls[I2V_MORE_URLS * (I2V_URL_MAX + 1)];
    char prompt[I2V_PROMPT_MAX + 1];
    int has_prompt;
    char move[24];      /* i2v_move_name */
    int duration;       /* seconds */
    char resolution[8]; /* "480p".. (API v1) or "" */
    int width, height;  /* landscape size for the resolution, or the exact size */
    int fit_portrait;   /* 1: transpose the size for a portrait photo */
    int model;          /* i2v_model */
    int audio, audio_given;
    char webhook[I2V_URL_MAX + 1]; /* "" : none */
    int price;
    int attempts;
    /* outputs */
    char out_key[33]; /* random name of the output files */
    int out_width, out_height;
    char plan_prompt[512]; /* what the planner chose, in words */
    char error[256];
    int64_t created_ms, started_ms, finished_ms;
    /* gen_create only: the request's idempotency key ("" : none) and hash */
    char idem_key[I2V_IDEM_KEY_MAX + 1];
    char idem_hash[65];
    /* since schema version 2 */
    int cancel_requested;       /* 1: its owner asked to cancel it */
    int64_t outputs_deleted_ms; /* 0, or when its output files were deleted */
    /* since schema version 3 */
    int error_code; /* a failure's API v1 code (I2V_ERROR_PROHIBITED), 0: a plain failure */
} i2v_gen;

/* error_code of a generation whose output the output review refused (API
 * v1's 9038 PROHIBITED_CONTENT). */
#define I2V_ERROR_PROHIBITED 9038

typedef struct i2v_user {
    char id[37];
    char name[128];
    char webhook_secret[64];
    int64_t balance;
    int64_t created_ms;
} i2v_user;

typedef struct i2v_delivery {
    int64_t id, generation, task_id;
    char url[I2V_URL_MAX + 1];
    char msg_id[48];
    int attempts; /* made before this one since it was queued (or redelivered) */
} i2v_delivery;

/* One webhook delivery as its owner sees it (schema version 3). */
typedef enum { I2V_HOOK_PENDING = 0, I2V_HOOK_DELIVERED = 1, I2V_HOOK_FAILED = 2 } i2v_hook_state;
typedef struct i2v_delivery_info {
    int64_t id;
    char generation[37]; /* the generation's uuid */
    int gen_state;       /* its final state: the event's type */
    char url[I2V_URL_MAX + 1];
    char msg_id[48];  /* the webhook-id, the same for every attempt */
    int state;        /* i2v_hook_state */
    int attempts;     /* made in all */
    long last_status; /* HTTP status of the last attempt; 0: none (or no answer) */
    char last_error[256];
    int64_t next_ms;      /* pending: when the next attempt is due (or in flight until) */
    int64_t delivered_ms; /* when it was last delivered; 0: never */
    int64_t created_ms;
} i2v_delivery_info;

/* A photo uploaded to i2v (schema version 3). */
typedef struct i2v_upload {
    char id[33];      /* public, random: the upload URL's last part */
    char user_id[37]; /* its owner: only they may use it */
    char blob[64];    /* the blob store name of its bytes */
    char format[8];   /* "jpeg", "png", "webp", "heic" (from the bytes) */
    int64_t bytes;
    int width, height; /* upright */
    int64_t created_ms, expires_ms;
    /* upload_add only: the request's Idempotency-Key ("" : none) and hash */
    char idem_key[I2V_IDEM_KEY_MAX + 1];
    char idem_hash[65];
} i2v_upload;

/* What `i2v admin queue` shows. */
#define I2V_QUEUE_OWNERS_MAX 64
typedef struct i2v_queue_stats {
    int64_t state_count[4];     /* generations per i2v_gen_state (but cancelled) */
    int64_t oldest_queued_ms;   /* created_ms of the oldest queued one; 0: none */
    int64_t deliveries_pending; /* webhook deliveries not yet delivered nor given up */
    int owners;                 /* entries used in owner[] */
    struct {
        char name[160]; /* the worker, as given to gen_claim */
        int64_t leases; /* running generations it holds */
        int64_t oldest_expiry_ms;
    } owner[I2V_QUEUE_OWNERS_MAX];
    int64_t cancelled; /* generations in I2V_GEN_CANCELLED */
} i2v_queue_stats;

/* One API key as its owner sees it (never the key itself). */
typedef struct i2v_key_info {
    char prefix[24]; /* the key's public id: its first 12 characters */
    char name[128];
    int64_t created_ms;
    int64_t last_used_ms; /* 0: never; updated at most once a minute */
    int revoked;
} i2v_key_info;

/* One row of the ledger as its owner sees it. */
typedef struct i2v_ledger_row {
    int64_t id;            /* increasing */
    char kind[8];          /* "topup", "charge", "refund" */
    int64_t amount;        /* negative for a charge */
    int64_t balance_after; /* the running sum of the user's ledger up to this row */
    char generation[37];   /* the generation's uuid, "" : none */
    char note[256];
    int64_t created_ms;
} i2v_ledger_row;

typedef struct i2v_store i2v_store;
/* A status poll handed to a store that answers it later (key_gen_get_async):
 * the caller fills the inputs, g and done; the store fills the outputs, as
 * key_gen_get would, and then calls done once, on a thread of its own. */
typedef struct i2v_poll {
    const char *key_hash; /* in: the hash of the API key */
    int64_t task_id;      /* in: by task id when uuid is NULL */
    const char *uuid;     /* in */
    i2v_gen *g;           /* out: the generation (the caller's memory) */
    char user_id[37];     /* out: the key's user ("" for an unknown key) */
    int wait;             /* out: generations ahead, as gen_get */
    int rc;               /* out: as key_gen_get returns */
    i2v_error err;        /* out */
    void (*done)(struct i2v_poll *p);
    void *user;            /* the caller's */
    struct i2v_poll *next; /* the store's */
} i2v_poll;

typedef int (*i2v_gen_fn)(void *user, const i2v_gen *g);
/* A page's rows: nonzero stops. wait: generations ahead of a queued one. */
typedef int (*i2v_gen_page_fn)(void *user, const i2v_gen *g, int wait);
typedef int (*i2v_key_fn)(void *user, const i2v_key_info *k);
typedef int (*i2v_ledger_fn)(void *user, const i2v_ledger_row *row);
typedef int (*i2v_delivery_fn)(void *user, const i2v_delivery_info *d);
typedef int (*i2v_upload_fn)(void *user, const i2v_upload *u);

typedef struct i2v_store_vt {
    const char *name;
    void (*close)(i2v_store *s);
    int (*user_create)(i2v_store *s, const char *name, i2v_user *out, i2v_error *err);
    int (*user_get)(i2v_store *s, const char *id, i2v_user *out, i2v_error *err);
    int (*key_add)(i2v_store *s, const char *user_id, const char *hash, const char *prefix,
                   i2v_error *err);
    /* by the key's prefix (its public id) or its hash */
    int (*key_revoke)(i2v_store *s, const char *prefix_or_hash, i2v_error *err);
    int (*key_user)(i2v_store *s, const char *hash, char user_id[37], i2v_error *err);
    /* amount > 0: top-up; writes the ledger and the balance */
    int (*credit)(i2v_store *s, const char *user_id, int64_t amount, const char *note,
                  int64_t *balance, i2v_error *err);
    /* Fills g's ids, charges g->price; I2V_ECREDIT when the balance is short. */
    int (*gen_create)(i2v_store *s, i2v_gen *g, int64_t *balance, i2v_error *err);
    /* by task_id (when uuid is NULL) or uuid; *wait = generations ahead */
    int (*gen_get)(i2v_store *s, int64_t task_id, const char *uuid, i2v_gen *g, int *wait,
                   i2v_error *err);
    int (*gen_list)(i2v_store *s, const char *user_id, i2v_gen_fn fn, void *user, i2v_error *err);
    /* 1 and g filled when a generation was claimed, 0 when the queue is empty */
    int (*gen_claim)(i2v_store *s, const char *owner, int64_t lease_ms, i2v_gen *g, char token[33],
                     i2v_error *err);
    /* I2V_ECANCELLED when its owner asked to cancel it (the lease is
     * renewed all the same): the worker stops and finishes it CANCELLED. */
    int (*gen_renew)(i2v_store *s, int64_t id, const char *token, int64_t lease_ms, int progress,
                     i2v_error *err);
    /* r->state SUCCEEDED (out_key, out_width, out_height, plan_prompt),
     * FAILED (error) or CANCELLED; a failure or a cancel refunds. When
     * cancel was requested, CANCELLED is written whatever r says, and a
     * worker that said otherwise gets I2V_ECANCELLED (it removes what it
     * put). */
    int (*gen_finish)(i2v_store *s, int64_t id, const char *token, const i2v_gen *r,
                      i2v_error *err);
    /* Gives a claimed generation back to the queue (shutdown); the attempt
     * does not count. A cancel-requested one is cancelled instead. */
    int (*gen_release)(i2v_store *s, int64_t id, const char *token, i2v_error *err);
    /* Expired leases: back to the queue, failed, or cancelled when cancel
     * was requested. Returns how many. */
    int (*reap)(i2v_store *s, i2v_error *err);
    /* 1 and d filled when a due delivery was claimed for lease_ms */
    int (*hook_claim)(i2v_store *s, int64_t lease_ms, i2v_delivery *d, i2v_error *err);
    /* next_ms < 0: delivered (ok) or given up; else retry at next_ms */
    int (*hook_done)(i2v_store *s, int64_t id, int ok, int64_t next_ms, long status,
                     const char *error, i2v_error *err);
    /* The generation made with the user's idempotency key: 0 with hash (the
     * request's), g and *balance (after its charge), or I2V_ENOTFOUND. */
    int (*idem_get)(i2v_store *s, const char *user_id, const char *key, char hash[65], i2v_gen *g,
                    int64_t *balance, i2v_error *err);
    /* balance column and sum of the ledger, for checks */
    int (*ledger)(i2v_store *s, const char *user_id, int64_t *balance, int64_t *sum,
                  i2v_error *err);
    /* Waits up to timeout_ms for a hint that a generation was queued by any
     * process: 1 when one came, 0 when the time ran out. Only a hint (the
     * queue is the truth); NULL in a backend without notifications. */
    int (*listen)(i2v_store *s, int timeout_ms, i2v_error *err);
    int (*queue_stats)(i2v_store *s, i2v_queue_stats *q, i2v_error *err);
    /* 0 when the store answers (readiness). */
    int (*ping)(i2v_store *s, i2v_error *err);

    /* ---- appended with schema version 2: the native API ---- */

    /* The user's generation whose uuid, project_id (the newest with it) or
     * task_id (decimal) is id; another user's is I2V_ENOTFOUND. *wait (when
     * not NULL) as gen_get. */
    int (*gen_find)(i2v_store *s, const char *user_id, const char *id, i2v_gen *g, int *wait,
                    i2v_error *err);
    /* The user's generations newest first: those with id < before (0: from
     * the newest) and, when state >= 0, in that state; at most limit rows
     * (1..1000), each given to fn with its wait number. */
    int (*gen_page)(i2v_store *s, const char *user_id, int state, int64_t before, int limit,
                    i2v_gen_page_fn fn, void *user, i2v_error *err);
    /* Cancels the user's generation id (the internal id). Queued: cancelled
     * now with its refund and delivery row, 0. Running: marked
     * cancel-requested, 1 (again 1 while it runs). Finished (succeeded,
     * failed, cancelled): I2V_ESTATE. Another user's or none:
     * I2V_ENOTFOUND. g (may be NULL) gets the record as it is after. */
    int (*gen_cancel)(i2v_store *s, const char *user_id, int64_t id, i2v_gen *g, i2v_error *err);
    /* Marks the user's finished generation's outputs deleted (the first
     * time: outputs_deleted_ms) and fills g with the record, whose out_key
     * names the files the caller removes. Queued or running: I2V_ESTATE. */
    int (*gen_delete_outputs)(i2v_store *s, const char *user_id, int64_t id, i2v_gen *g,
                              i2v_error *err);
    /* The user's ledger newest first, rows with id < before (0: from the
     * newest), at most limit (1..1000). */
    int (*ledger_page)(i2v_store *s, const char *user_id, int64_t before, int limit,
                       i2v_ledger_fn fn, void *user, i2v_error *err);
    /* key_add with a name (for its owner's list). */
    int (*key_add_named)(i2v_store *s, const char *user_id, const char *hash, const char *prefix,
                         const char *name, i2v_error *err);
    /* The user's keys, newest first, revoked ones too. */
    int (*key_list)(i2v_store *s, const char *user_id, i2v_key_fn fn, void *user, i2v_error *err);
    /* Revokes the user's key with that prefix (again: 0); another user's
     * or none: I2V_ENOTFOUND. */
    int (*key_revoke_own)(i2v_store *s, const char *user_id, const char *prefix, i2v_error *err);
    /* key_user, and the key's last-used time set to now when it is a minute
     * old or more (a read decides; the write is conditional), so that
     * requests stay cheap. */
    int (*key_auth)(i2v_store *s, const char *hash, char user_id[37], i2v_error *err);

    /* ---- appended with schema version 3: uploads, deliveries, review ---- */

    /* Records an upload (every field of u but the idempotency ones is the
     * caller's). With u->idem_key, a second add with the user's key adds
     * nothing: I2V_EDUPLICATE with *found the first upload and found's
     * idem_hash the first request's hash. found may be NULL without a key. */
    int (*upload_add)(i2v_store *s, const i2v_upload *u, i2v_upload *found, i2v_error *err);
    /* By id, whoever owns it, expired or not; I2V_ENOTFOUND. */
    int (*upload_get)(i2v_store *s, const char *id, i2v_upload *u, i2v_error *err);
    /* Uploads with expires_ms < before, oldest first, at most limit
     * (1..1000), each to fn (nonzero stops). */
    int (*upload_expired)(i2v_store *s, int64_t before, int limit, i2v_upload_fn fn, void *user,
                          i2v_error *err);
    /* Removes the record (again: I2V_ENOTFOUND); its blob is the caller's. */
    int (*upload_remove)(i2v_store *s, const char *id, i2v_error *err);
    /* Replaces the user's webhook secret: the next attempt signs with it. */
    int (*user_set_secret)(i2v_store *s, const char *user_id, const char *secret, i2v_error *err);
    /* The deliveries of the user's generations, newest first: id < before
     * (0: from the newest), of generation (its internal id) when > 0; at
     * most limit (1..1000). */
    int (*delivery_page)(i2v_store *s, const char *user_id, int64_t generation, int64_t before,
                         int limit, i2v_delivery_fn fn, void *user, i2v_error *err);
    /* Queues the user's delivery id again, with the same webhook-id and a
     * new round of attempts: a delivered or failed one becomes pending, due
     * now; a pending one is made due now unless an attempt is in flight.
     * Another user's or none: I2V_ENOTFOUND. d (may be NULL) gets the row
     * as it is after. */
    int (*delivery_redeliver)(i2v_store *s, const char *user_id, int64_t id, i2v_delivery_info *d,
                              i2v_error *err);
    /* ---- appended: live progress (read-only, no schema change) ---- */

    /* What live progress streams follow, in one call: the generations whose
     * internal id is in ids[0..nids), and those of the users[0..nusers)
     * that are queued or running or whose internal id is above after; each
     * once, in id order, given to fn with its wait number (as gen_page; fn
     * may stop). *max_id (may be NULL) gets the largest internal id in the
     * store (0: none), read before the rows. nids and nusers: 0 to
     * I2V_WATCH_MAX; a user id is letters, digits and '-' (else I2V_EINVAL). */
    int (*gen_watch)(i2v_store *s, const int64_t *ids, int nids, const char *const *users,
                     int nusers, int64_t after, int64_t *max_id, i2v_gen_page_fn fn, void *user,
                     i2v_error *err);

    /* ---- appended: a status poll in one read (no schema change) ---- */

    /* key_auth and gen_get together, so that a poll costs one round trip:
     * the user of the key whose hash is key_hash into user_id (its last use
     * stamped as key_auth does), then that user's generation by task_id
     * (uuid NULL) or uuid, and *wait (may be NULL) as gen_get. An unknown
     * or revoked key: I2V_EDENIED and user_id "". No such generation, or
     * another user's: I2V_ENOTFOUND with user_id filled. */
    int (*key_gen_get)(i2v_store *s, const char *key_hash, int64_t task_id, const char *uuid,
                       char user_id[37], i2v_gen *g, int *wait, i2v_error *err);
    /* key_gen_get without waiting for the answer: p->done is called once
     * it is in p, on one of the store's threads (or at once, from this
     * call, when the store is closing). NULL for a store that answers
     * without a round trip (SQLite): call key_gen_get. A server parks the
     * request meanwhile instead of holding a thread, so that many polls
     * share one statement. */
    void (*key_gen_get_async)(i2v_store *s, i2v_poll *p);
} i2v_store_vt;

#define I2V_WATCH_MAX 1000

struct i2v_store {
    const i2v_store_vt *vt;
};

typedef struct i2v_store_config {
    int max_attempts;    /* claims before a generation fails; default 3 */
    int busy_timeout_ms; /* default 10000 */
    int64_t idem_ttl_ms; /* idempotency keys kept; default (and at least) 24 h */
} i2v_store_config;

/* Opens a store from its URL: "sqlite:PATH", or "postgres://…" /
 * "postgresql://…" (a libpq URI) or "postgres:" followed by a libpq
 * conninfo ("postgres:host=/run/pg dbname=i2v"; "postgres:" alone takes
 * everything from the PG* variables). The schema is made or migrated to the
 * current version. A bad URL is I2V_EINVAL, an unreachable server
 * I2V_EUNAVAILABLE, each with one line naming what is wrong. */
int i2v__store_open(i2v_store **out, const char *url, const i2v_store_config *cfg, i2v_error *err);
/* Opens the SQLite store at path (created with its schema if new). */
int i2v__store_open_sqlite(i2v_store **out, const char *path, const i2v_store_config *cfg,
                           i2v_error *err);
/* Opens the PostgreSQL store at conninfo (a libpq URI or key=value string,
 * "" for the PG* variables; pool=N sets the connection pool, default 8). */
int i2v__store_open_pg(i2v_store **out, const char *conninfo, const i2v_store_config *cfg,
                       i2v_error *err);
/* The embedded default: creates data_dir if needed and opens its i2v.db. */
int i2v__store_open_data_dir(i2v_store **out, const char *data_dir, const i2v_store_config *cfg,
                             i2v_error *err);
void i2v__store_close(i2v_store **s);

int64_t i2v__now_ms(void);
/* The task id an id written in decimal stands for (at most 16 digits), or -1. */
int64_t i2v__task_id_of(const char *id);
/* For the backends' gen_watch: ids (when strs is NULL) or strings as one
 * list "<open>1,2<close>" or "<open>\"a\",\"b\"<close>" (a JSON array with
 * '[' ']', a PostgreSQL array literal with '{' '}'), malloc'd; NULL when n is
 * out of 0..I2V_WATCH_MAX, a string is not letters, digits and '-', or out
 * of memory (err says which). */
char *i2v__store_watch_list(const int64_t *ids, const char *const *strs, int n, char open,
                            char close, i2v_error *err);
const char *i2v__gen_state_name(int state);

#endif
