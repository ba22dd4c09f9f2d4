/* store_contract.c - see store_contract.h. */
#include "store_contract.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const store_backend *be;

typedef struct fixture {
    i2v_store *s;
    i2v_user u;
} fixture;

static int open_handle(i2v_store **s, int max_attempts)
{
    i2v_store_config cfg = {max_attempts, 10000, 0};
    i2v_error e = {0};
    int r = be->open(be->ctx, &cfg, s, &e);
    if (r) print_error("open: %s\n", e.message);
    return r;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    i2v_error e = {0};
    if (!f || be->fresh(be->ctx) != 0 || open_handle(&f->s, 2) != 0) goto fail;
    if (f->s->vt->user_create(f->s, "t", &f->u, &e) != 0) {
        print_error("user_create: %s\n", e.message);
        goto fail;
    }
    *state = f;
    return 0;
fail:
    if (f) i2v__store_close(&f->s);
    free(f);
    return -1;
}

static int teardown(void **state)
{
    fixture *f = *state;
    i2v__store_close(&f->s);
    assert_null(f->s);
    be->drop(be->ctx);
    free(f);
    return 0;
}

/* Only the store's own fresh database (tests that open it themselves). */
static int setup_empty(void **state)
{
    *state = NULL;
    return be->fresh(be->ctx);
}

static int teardown_empty(void **state)
{
    (void)state;
    be->drop(be->ctx);
    return 0;
}

void store_contract_gen(const char *user, i2v_gen *g, int price)
{
    memset(g, 0, sizeof *g);
    snprintf(g->user_id, sizeof g->user_id, "%s", user);
    g->api = 1;
    snprintf(g->image_url, sizeof g->image_url, "http://example.com/a.jpg");
    snprintf(g->move, sizeof g->move, "ZOOM_IN");
    g->duration = 5;
    g->width = 854;
    g->height = 480;
    g->price = price;
}

static void new_gen(fixture *f, i2v_gen *g, int price)
{
    store_contract_gen(f->u.id, g, price);
}

static void balanced(fixture *f, int64_t want)
{
    int64_t bal, sum;
    i2v_error e = {0};
    assert_int_equal(f->s->vt->ledger(f->s, f->u.id, &bal, &sum, &e), 0);
    assert_int_equal(bal, want);
    assert_int_equal(sum, want);
}

static int64_t count(const char *sql)
{
    return be->sql_int(be->ctx, sql);
}

static void test_charge_and_refund_once(void **state)
{
    fixture *f = *state;
    i2v_store *s = f->s;
    i2v_error e = {0};
    int64_t bal;
    i2v_gen g, got;
    char tok[33];
    assert_int_equal(s->vt->credit(s, f->u.id, 30, "t", &bal, &e), 0);
    assert_int_equal(bal, 30);
    new_gen(f, &g, 20);
    assert_int_equal(s->vt->gen_create(s, &g, &bal, &e), 0);
    assert_int_equal(bal, 10);
    assert_true(g.task_id > 0 && g.uuid[0]);
    new_gen(f, &got, 20);
    assert_int_equal(s->vt->gen_create(s, &got, &bal, &e), I2V_ECREDIT);
    assert_int_equal(bal, 10);
    balanced(f, 10);

    assert_int_equal(s->vt->gen_claim(s, "w1", 60000, &got, tok, &e), 1);
    assert_int_equal(got.id, g.id);
    assert_int_equal(got.state, I2V_GEN_RUNNING);
    i2v_gen r = {0};
    r.state = I2V_GEN_FAILED;
    snprintf(r.error, sizeof r.error, "boom");
    assert_int_equal(s->vt->gen_finish(s, g.id, tok, &r, &e), 0);
    balanced(f, 30);
    /* a second finish (a stale or repeated worker) changes nothing */
    assert_int_equal(s->vt->gen_finish(s, g.id, tok, &r, &e), I2V_ELOST);
    balanced(f, 30);
    int wait;
    assert_int_equal(s->vt->gen_get(s, g.task_id, NULL, &got, &wait, &e), 0);
    assert_int_equal(got.state, I2V_GEN_FAILED);
    assert_string_equal(got.error, "boom");
    assert_int_equal(s->vt->gen_get(s, 0, g.uuid, &got, NULL, &e), 0);
    assert_int_equal(got.task_id, g.task_id);
    assert_int_equal(s->vt->gen_get(s, 12345, NULL, &got, NULL, &e), I2V_ENOTFOUND);
}

/* What a generation carries comes back as it went in. */
static void test_fields_round_trip(void **state)
{
    fixture *f = *state;
    i2v_store *s = f->s;
    i2v_error e = {0};
    int64_t bal;
    i2v_gen g, got;
    s->vt->credit(s, f->u.id, 10, NULL, &bal, &e);
    new_gen(f, &g, 10);
    g.api = 2;
    snprintf(g.last_image_url, sizeof g.last_image_url, "http://example.com/b.png");
    snprintf(g.more_urls, sizeof g.more_urls, "http://example.com/c.jpg\nhttp://example.com/d.jpg");
    snprintf(g.prompt, sizeof g.prompt, "slow push-in, “golden” hour; it's 100%% fine");
    g.has_prompt = 1;
    snprintf(g.resolution, sizeof g.resolution, "720p");
    g.fit_portrait = 1;
    g.model = 2;
    g.audio = 1;
    g.audio_given = 1;
    snprintf(g.webhook, sizeof g.webhook, "https://example.com/hook?a=1&b='x'");
    snprintf(g.project_id, sizeof g.project_id, "00000000-0000-4000-8000-000000000001");
    assert_int_equal(s->vt->gen_create(s, &g, &bal, &e), 0);
    assert_int_equal(s->vt->gen_get(s, 0, g.uuid, &got, NULL, &e), 0);
    assert_int_equal(got.id, g.id);
    assert_int_equal(got.api, 2);
    assert_string_equal(got.user_id, f->u.id);
    assert_string_equal(got.project_id, g.project_id);
    assert_string_equal(got.last_image_url, g.last_image_url);
    assert_string_equal(got.more_urls, g.more_urls);
    assert_string_equal(got.prompt, g.prompt);
    assert_int_equal(got.has_prompt, 1);
    assert_string_equal(got.move, "ZOOM_IN");
    assert_string_equal(got.resolution, "720p");
    assert_int_equal(got.width, 854);
    assert_int_equal(got.height, 480);
    assert_int_equal(got.fit_portrait, 1);
    assert_int_equal(got.model, 2);
    assert_int_equal(got.audio, 1);
    assert_int_equal(got.audio_given, 1);
    assert_string_equal(got.webhook, g.webhook);
    assert_int_equal(got.price, 10);
    assert_int_equal(got.created_ms, g.created_ms);
    /* no prompt is NULL, not "" */
    new_gen(f, &g, 0);
    assert_int_equal(s->vt->gen_create(s, &g, &bal, &e), 0);
    assert_int_equal(s->vt->gen_get(s, g.task_id, NULL, &got, NULL, &e), 0);
    assert_int_equal(got.has_prompt, 0);
    assert_string_equal(got.prompt, "");
}

static void test_lease_fencing_and_expiry(void **state)
{
    fixture *f = *state;
    i2v_store *s = f->s;
    i2v_error e = {0};
    int64_t bal;
    i2v_gen g, a, b;
    char ta[33], tb[33];
    s->vt->credit(s, f->u.id, 100, NULL, &bal, &e);
    new_gen(f, &g, 10);
    snprintf(g.webhook, sizeof g.webhook, "http://example.com/hook");
    assert_int_equal(s->vt->gen_create(s, &g, &bal, &e), 0);
    assert_int_equal(s->vt->gen_claim(s, "A", 1, &a, ta, &e), 1); /* a 1 ms lease */
    usleep(20000);
    /* worker B finds the lease expired: the generation goes back and B gets it */
    assert_int_equal(s->vt->gen_claim(s, "B", 60000, &b, tb, &e), 1);
    assert_int_equal(b.id, g.id);
    assert_int_equal(b.attempts, 2);
    assert_string_not_equal(ta, tb);
    /* A is fenced out of every write */
    assert_int_equal(s->vt->gen_renew(s, g.id, ta, 60000, 50, &e), I2V_ELOST);
    i2v_gen r = {0};
    r.state = I2V_GEN_SUCCEEDED;
    snprintf(r.out_key, sizeof r.out_key, "aaaa");
    assert_int_equal(s->vt->gen_finish(s, g.id, ta, &r, &e), I2V_ELOST);
    assert_int_equal(s->vt->gen_release(s, g.id, ta, &e), I2V_ELOST);
    assert_int_equal(s->vt->gen_renew(s, g.id, tb, 60000, 42, &e), 0);
    i2v_gen got;
    s->vt->gen_get(s, g.task_id, NULL, &got, NULL, &e);
    assert_int_equal(got.progress, 42);
    /* progress never goes back */
    assert_int_equal(s->vt->gen_renew(s, g.id, tb, 60000, 30, &e), 0);
    s->vt->gen_get(s, g.task_id, NULL, &got, NULL, &e);
    assert_int_equal(got.progress, 42);
    snprintf(r.out_key, sizeof r.out_key, "bbbb");
    r.out_width = 854;
    assert_int_equal(s->vt->gen_finish(s, g.id, tb, &r, &e), 0);
    s->vt->gen_get(s, g.task_id, NULL, &got, NULL, &e);
    assert_int_equal(got.state, I2V_GEN_SUCCEEDED);
    assert_string_equal(got.out_key, "bbbb");
    assert_int_equal(got.progress, 100);
    assert_int_equal(got.out_width, 854);
    assert_true(got.finished_ms >= got.started_ms && got.started_ms >= got.created_ms);
    balanced(f, 90);
    /* the webhook row was written with the final state, once */
    i2v_delivery d;
    assert_int_equal(s->vt->hook_claim(s, 60000, &d, &e), 1);
    assert_int_equal(d.generation, g.id);
    assert_int_equal(d.task_id, g.task_id);
    assert_string_equal(d.url, "http://example.com/hook");
    assert_true(strncmp(d.msg_id, "msg_", 4) == 0);
    assert_int_equal(s->vt->hook_claim(s, 60000, &d, &e), 0); /* leased */
    assert_int_equal(s->vt->hook_done(s, d.id, 0, i2v__now_ms() - 1, 500, "HTTP 500", &e), 0);
    assert_int_equal(s->vt->hook_claim(s, 60000, &d, &e), 1);
    assert_int_equal(d.attempts, 1);
    assert_int_equal(s->vt->hook_done(s, d.id, 1, -1, 200, NULL, &e), 0);
    assert_int_equal(s->vt->hook_claim(s, 60000, &d, &e), 0);
}

static void test_attempts_run_out(void **state)
{
    fixture *f = *state;
    i2v_store *s = f->s;
    i2v_error e = {0};
    int64_t bal;
    i2v_gen g, c;
    char t[33];
    s->vt->credit(s, f->u.id, 10, NULL, &bal, &e);
    new_gen(f, &g, 10);
    assert_int_equal(s->vt->gen_create(s, &g, &bal, &e), 0);
    balanced(f, 0);
    /* max_attempts is 2 in this fixture: two lost workers, then it fails */
    assert_int_equal(s->vt->gen_claim(s, "A", 1, &c, t, &e), 1);
    usleep(20000);
    assert_int_equal(s->vt->gen_claim(s, "B", 1, &c, t, &e), 1);
    usleep(20000);
    assert_int_equal(s->vt->reap(s, &e), 1);
    assert_int_equal(s->vt->reap(s, &e), 0);
    assert_int_equal(s->vt->gen_claim(s, "C", 1, &c, t, &e), 0);
    s->vt->gen_get(s, g.task_id, NULL, &c, NULL, &e);
    assert_int_equal(c.state, I2V_GEN_FAILED);
    assert_non_null(strstr(c.error, "lease expired"));
    balanced(f, 10);
}

static void test_queue_order_and_wait_number(void **state)
{
    fixture *f = *state;
    i2v_store *s = f->s;
    i2v_error e = {0};
    int64_t bal;
    i2v_gen g[3], c;
    char t[33];
    int wait;
    s->vt->credit(s, f->u.id, 30, NULL, &bal, &e);
    for (int i = 0; i < 3; i++) {
        new_gen(f, &g[i], 10);
        assert_int_equal(s->vt->gen_create(s, &g[i], &bal, &e), 0);
    }
    s->vt->gen_get(s, g[2].task_id, NULL, &c, &wait, &e);
    assert_int_equal(wait, 2);
    assert_int_equal(s->vt->gen_claim(s, "A", 60000, &c, t, &e), 1);
    assert_int_equal(c.id, g[0].id); /* oldest first */
    s->vt->gen_get(s, g[2].task_id, NULL, &c, &wait, &e);
    assert_int_equal(wait, 2); /* one running + one queued ahead */
    s->vt->gen_get(s, g[0].task_id, NULL, &c, &wait, &e);
    assert_int_equal(wait, 0);
    /* released work keeps its place and the attempt is not counted */
    assert_int_equal(s->vt->gen_release(s, g[0].id, t, &e), 0);
    assert_int_equal(s->vt->gen_claim(s, "B", 60000, &c, t, &e), 1);
    assert_int_equal(c.id, g[0].id);
    assert_int_equal(c.attempts, 1);
}

typedef struct racer {
    fixture *f;
    i2v_store *s;
    pthread_barrier_t *go;
    const char *key;
    int accepted, duplicates, other;
    char message[256];
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    if (r->go) pthread_barrier_wait(r->go);
    for (int i = 0; i < (r->key ? 1 : 10); i++) {
        i2v_gen g;
        i2v_error e = {0};
        int64_t bal;
        new_gen(r->f, &g, 10);
        if (r->key) {
            snprintf(g.idem_key, sizeof g.idem_key, "%s", r->key);
            snprintf(g.idem_hash, sizeof g.idem_hash, "%064d", 7);
        }
        int rc = r->s->vt->gen_create(r->s, &g, &bal, &e);
        if (rc == 0)
            r->accepted++;
        else if (rc == I2V_EDUPLICATE && r->key)
            r->duplicates++;
        else if (rc != I2V_ECREDIT && !r->other++)
            snprintf(r->message, sizeof r->message, "%s", e.message);
    }
    return NULL;
}

static void test_credits_race(void **state)
{
    fixture *f = *state;
    i2v_error e = {0};
    int64_t bal;
    f->s->vt->credit(f->s, f->u.id, 100, NULL, &bal, &e);
    pthread_t t[8];
    racer r[8];
    for (int i = 0; i < 8; i++) {
        r[i] = (racer){.f = f, .s = f->s};
        pthread_create(&t[i], NULL, race, &r[i]);
    }
    int total = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        total += r[i].accepted;
        if (r[i].other) fail_msg("gen_create: %s", r[i].message);
    }
    assert_int_equal(total, 10);
    balanced(f, 0);
}

static int count_gen(void *user, const i2v_gen *g)
{
    (void)g;
    (*(int *)user)++;
    return 0;
}

/* Eight creates with one key at once, from four handles: one generation,
 * one charge, the others told the key is taken. */
/* 8 creates with one key, at once, from 4 handles: one accepted, 7 told
 * the key was used (never "not enough credits", even when the one accepted
 * spent the last of them); returns the generations the user has. */
static int race_one_key(fixture *f, const char *key)
{
    i2v_error e = {0};
    i2v_store *h[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(open_handle(&h[i], 2), 0);
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 8);
    pthread_t t[8];
    racer r[8];
    for (int i = 0; i < 8; i++) {
        r[i] = (racer){.f = f, .s = h[i % 4], .go = &go, .key = key};
        pthread_create(&t[i], NULL, race, &r[i]);
    }
    int accepted = 0, dup = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        accepted += r[i].accepted;
        dup += r[i].duplicates;
        if (r[i].other) fail_msg("gen_create: %s", r[i].message);
    }
    pthread_barrier_destroy(&go);
    for (int i = 0; i < 4; i++)
        i2v__store_close(&h[i]);
    assert_int_equal(accepted, 1);
    assert_int_equal(dup, 7);
    int n = 0;
    assert_int_equal(f->s->vt->gen_list(f->s, f->u.id, count_gen, &n, &e), 0);
    return n;
}

static void test_idempotency_race(void **state)
{
    fixture *f = *state;
    i2v_error e = {0};
    int64_t bal;
    f->s->vt->credit(f->s, f->u.id, 100, NULL, &bal, &e);
    assert_int_equal(race_one_key(f, "race-1"), 1);
    balanced(f, 90);
    /* credits for exactly one: the losers wait for the winner's charge and
     * then find none left, yet their answer is the key's */
    for (int i = 0; i < 8; i++) {
        i2v_gen g;
        new_gen(f, &g, 10);
        assert_int_equal(f->s->vt->gen_create(f->s, &g, &bal, &e), 0);
    }
    balanced(f, 10);
    for (int round = 0; round < 5; round++) {
        char key[16];
        snprintf(key, sizeof key, "race-%d", round + 2);
        if (round) f->s->vt->credit(f->s, f->u.id, 10, NULL, &bal, &e);
        assert_int_equal(race_one_key(f, key), 10 + round);
        balanced(f, 0);
    }
}

static void test_keys(void **state)
{
    fixture *f = *state;
    i2v_store *s = f->s;
    i2v_error e = {0};
    char user[37];
    assert_int_equal(s->vt->key_add(s, f->u.id, "h1", "i2v_aaaaaaaa", &e), 0);
    assert_int_equal(s->vt->key_user(s, "h1", user, &e), 0);
    assert_string_equal(user, f->u.id);
    assert_int_equal(s->vt->key_user(s, "h2", user, &e), I2V_ENOTFOUND);
    assert_int_equal(s->vt->key_add(s, "00000000-0000-4000-8000-000000000000", "h3", "p", &e),
                     I2V_ENOTFOUND);
    assert_int_equal(s->vt->key_revoke(s, "i2v_aaaaaaaa", &e), 0);
    assert_int_equal(s->vt->key_user(s, "h1", user, &e), I2V_ENOTFOUND);
    assert_int_equal(s->vt->key_revoke(s, "i2v_aaaaaaaa", &e), I2V_ENOTFOUND);
    /* by hash too */
    assert_int_equal(s->vt->key_add(s, f->u.id, "h4", "i2v_bbbbbbbb", &e), 0);
    assert_int_equal(s->vt->key_revoke(s, "h4", &e), 0);
    assert_int_equal(s->vt->key_user(s, "h4", user, &e), I2V_ENOTFOUND);
    i2v_user u;
    assert_int_equal(s->vt->user_get(s, f->u.id, &u, &e), 0);
    assert_string_equal(u.webhook_secret, f->u.webhook_secret);
    assert_string_equal(u.name, "t");
    assert_int_equal(u.created_ms, f->u.created_ms);
    assert_int_equal(s->vt->user_get(s, "00000000-0000-4000-8000-000000000000", &u, &e),
                     I2V_ENOTFOUND);
    assert_int_equal(s->vt->credit(s, f->u.id, 0, NULL, NULL, &e), I2V_EINVAL);
    i2v_error e2 = {0};
    assert_int_equal(s->vt->credit(s, "00000000-0000-4000-8000-000000000000", 5, NULL, NULL, &e2),
                     I2V_ENOTFOUND);
    int64_t bal, sum;
    assert_int_equal(s->vt->ledger(s, "00000000-0000-4000-8000-000000000000", &bal, &sum, &e),
                     I2V_ENOTFOUND);
}

/* An idempotency key: the second create with it charges nothing and the key
 * leads back to the first generation and the balance after its charge; the
 * key is per user and forgotten after its time to live (24 h). */
static void test_idempotency_keys(void **state)
{
    fixture *f = *state;
    i2v_store *s = f->s;
    i2v_error e = {0};
    int64_t bal;
    i2v_gen g, again, got;
    char hash[65];
    assert_int_equal(s->vt->credit(s, f->u.id, 100, "t", &bal, &e), 0);
    new_gen(f, &g, 20);
    snprintf(g.idem_key, sizeof g.idem_key, "order-42");
    snprintf(g.idem_hash, sizeof g.idem_hash, "%064d", 1);
    assert_int_equal(s->vt->gen_create(s, &g, &bal, &e), 0);
    assert_int_equal(bal, 80);
    new_gen(f, &again, 20);
    snprintf(again.idem_key, sizeof again.idem_key, "order-42");
    snprintf(again.idem_hash, sizeof again.idem_hash, "%064d", 2);
    assert_int_equal(s->vt->gen_create(s, &again, &bal, &e), I2V_EDUPLICATE);
    balanced(f, 80);
    assert_int_equal(s->vt->idem_get(s, f->u.id, "order-42", hash, &got, &bal, &e), 0);
    assert_string_equal(hash, g.idem_hash);
    assert_int_equal(got.task_id, g.task_id);
    assert_int_equal(bal, 80);
    assert_int_equal(s->vt->idem_get(s, f->u.id, "order-43", hash, &got, &bal, &e), I2V_ENOTFOUND);
    /* another user may use the same key */
    i2v_user other;
    assert_int_equal(s->vt->user_create(s, "o", &other, &e), 0);
    assert_int_equal(s->vt->idem_get(s, other.id, "order-42", hash, &got, &bal, &e), I2V_ENOTFOUND);

    /* kept for 24 h: a key made 23 h 59 min ago survives a reap, one made
     * 24 h 1 min ago does not */
    char sql[200];
    const long long now = (long long)i2v__now_ms(), min = 60000;
    snprintf(sql, sizeof sql, "UPDATE idempotency SET created_ms=%lld", now - (24 * 60 - 1) * min);
    assert_int_equal(be->sql(be->ctx, sql), 0);
    assert_true(s->vt->reap(s, &e) >= 0);
    assert_int_equal(s->vt->idem_get(s, f->u.id, "order-42", hash, &got, &bal, &e), 0);
    snprintf(sql, sizeof sql, "UPDATE idempotency SET created_ms=%lld", now - (24 * 60 + 1) * min);
    assert_int_equal(be->sql(be->ctx, sql), 0);
    assert_true(s->vt->reap(s, &e) >= 0);
    assert_int_equal(s->vt->idem_get(s, f->u.id, "order-42", hash, &got, &bal, &e), I2V_ENOTFOUND);
    /* the key is free again: a new generation, a new charge */
    assert_int_equal(s->vt->gen_create(s, &again, &bal, &e), 0);
    assert_int_equal(bal, 60);
    balanced(f, 60);
}

/* The ledger is append-only in the database itself, whoever writes. */
static void test_ledger_append_only(void **state)
{
    fixture *f = *state;
    i2v_error e = {0};
    int64_t bal;
    assert_int_equal(f->s->vt->credit(f->s, f->u.id, 50, "t", &bal, &e), 0);
    assert_int_equal(be->sql(be->ctx, "UPDATE ledger SET amount=1000"), -1);
    assert_int_equal(be->sql(be->ctx, "DELETE FROM ledger"), -1);
    assert_int_equal(be->sql(be->ctx, "UPDATE users SET balance=-1"), -1); /* CHECK */
    assert_int_equal(count("SELECT COUNT(*) FROM ledger"), 1);
    balanced(f, 50);
}

typedef struct list_state {
    int n, stop_at;
    int64_t last;
    int ordered;
} list_state;

static int list_one(void *user, const i2v_gen *g)
{
    list_state *l = user;
    if (g->id <= l->last) l->ordered = 0;
    l->last = g->id;
    return ++l->n == l->stop_at;
}

static void test_list_and_ping(void **state)
{
    fixture *f = *state;
    i2v_store *s = f->s;
    i2v_error e = {0};
    int64_t bal;
    i2v_gen g;
    assert_int_equal(s->vt->ping(s, &e), 0);
    s->vt->credit(s, f->u.id, 50, NULL, &bal, &e);
    for (int i = 0; i < 5; i++) {
        new_gen(f, &g, 10);
        assert_int_equal(s->vt->gen_create(s, &g, &bal, &e), 0);
    }
    list_state l = {0, 0, 0, 1};
    assert_int_equal(s->vt->gen_list(s, f->u.id, list_one, &l, &e), 0);
    assert_int_equal(l.n, 5);
    assert_true(l.ordered);
    l = (list_state){0, 2, 0, 1}; /* the callback stops the walk */
    assert_int_equal(s->vt->gen_list(s, f->u.id, list_one, &l, &e), 0);
    assert_int_equal(l.n, 2);
    l = (list_state){0, 0, 0, 1};
    assert_int_equal(s->vt->gen_list(s, "nobody", list_one, &l, &e), 0);
    assert_int_equal(l.n, 0);
}

static void test_queue_stats(void **state)
{
    fixture *f = *state;
    i2v_store *s = f->s;
    i2v_error e = {0};
    int64_t bal;
    i2v_gen g[4], c;
    char ta[33], tb[33];
    i2v_queue_stats q;
    assert_int_equal(s->vt->queue_stats(s, &q, &e), 0);
    assert_int_equal(q.state_count[0] + q.state_count[1] + q.state_count[2] + q.state_count[3], 0);
    assert_int_equal(q.oldest_queued_ms, 0);
    assert_int_equal(q.owners, 0);
    s->vt->credit(s, f->u.id, 40, NULL, &bal, &e);
    for (int i = 0; i < 4; i++) {
        new_gen(f, &g[i], 10);
        snprintf(g[i].webhook, sizeof g[i].webhook, "http://example.com/h");
        assert_int_equal(s->vt->gen_create(s, &g[i], &bal, &e), 0);
    }
    const int64_t before = i2v__now_ms();
    assert_int_equal(s->vt->gen_claim(s, "worker-b", 60000, &c, tb, &e), 1);
    i2v_gen r = {.state = I2V_GEN_SUCCEEDED};
    snprintf(r.out_key, sizeof r.out_key, "k");
    assert_int_equal(s->vt->gen_finish(s, c.id, tb, &r, &e), 0);
    assert_int_equal(s->vt->gen_claim(s, "worker-a", 60000, &c, ta, &e), 1);
    assert_int_equal(s->vt->gen_claim(s, "worker-a", 30000, &c, ta, &e), 1);
    assert_int_equal(s->vt->queue_stats(s, &q, &e), 0);
    assert_int_equal(q.state_count[I2V_GEN_QUEUED], 1);
    assert_int_equal(q.state_count[I2V_GEN_RUNNING], 2);
    assert_int_equal(q.state_count[I2V_GEN_SUCCEEDED], 1);
    assert_int_equal(q.state_count[I2V_GEN_FAILED], 0);
    assert_int_equal(q.oldest_queued_ms, g[3].created_ms);
    assert_int_equal(q.deliveries_pending, 1);
    assert_int_equal(q.owners, 1);
    assert_string_equal(q.owner[0].name, "worker-a");
    assert_int_equal(q.owner[0].leases, 2);
    assert_true(q.owner[0].oldest_expiry_ms >= before + 30000 &&
                q.owner[0].oldest_expiry_ms < before + 60000);
}

/* The schema records its version once; a store newer than this i2v is
 * refused, and a second open changes nothing. */
static void test_schema_versions(void **state)
{
    fixture *f = *state;
    i2v_error e = {0};
    assert_int_equal(count("SELECT COUNT(*) FROM schema_migrations"), 3);
    assert_int_equal(count("SELECT MAX(version) FROM schema_migrations"), 3);
    i2v_store *again = NULL;
    assert_int_equal(open_handle(&again, 2), 0);
    i2v__store_close(&again);
    assert_int_equal(count("SELECT COUNT(*) FROM schema_migrations"), 3);
    assert_int_equal(be->sql(be->ctx, "INSERT INTO schema_migrations(version, applied_ms)"
                                      " VALUES(999, 0)"),
                     0);
    i2v_store_config cfg = {2, 10000, 0};
    assert_int_equal(be->open(be->ctx, &cfg, &again, &e), I2V_EDB);
    assert_null(again);
    assert_string_equal(e.message,
                        "store: schema version 999 is newer than this i2v (3); upgrade i2v");
    /* the handle that was open goes on */
    i2v_user u;
    assert_int_equal(f->s->vt->user_get(f->s, f->u.id, &u, &e), 0);
}

typedef struct opener {
    pthread_barrier_t *go;
    int rc;
    char message[256];
} opener;

static void *open_main(void *arg)
{
    opener *o = arg;
    i2v_store *s = NULL;
    i2v_store_config cfg = {2, 10000, 0};
    i2v_error e = {0};
    pthread_barrier_wait(o->go);
    o->rc = be->open(be->ctx, &cfg, &s, &e);
    snprintf(o->message, sizeof o->message, "%s", e.message);
    i2v__store_close(&s);
    return NULL;
}

/* Eight handles opening an empty store at the same moment: all succeed and
 * each schema step is applied once. */
static void test_open_together(void **state)
{
    (void)state;
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 8);
    pthread_t t[8];
    opener o[8];
    for (int i = 0; i < 8; i++) {
        o[i] = (opener){.go = &go};
        pthread_create(&t[i], NULL, open_main, &o[i]);
    }
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&go);
    for (int i = 0; i < 8; i++)
        if (o[i].rc) fail_msg("open %d: %s", i, o[i].message);
    assert_int_equal(count("SELECT COUNT(*) FROM schema_migrations"), 3);
    assert_int_equal(count("SELECT COUNT(DISTINCT version) FROM schema_migrations"), 3);
    assert_int_equal(count("SELECT COUNT(*) FROM users"), 0);
}

#define QUEUE 200
#define CLAIMERS 8

typedef struct claimer {
    i2v_store *s;
    pthread_barrier_t *go;
    int64_t ids[QUEUE];
    int n, errors;
    char message[300];
} claimer;

static void *claim_main(void *arg)
{
    claimer *c = arg;
    char owner[32], tok[33];
    snprintf(owner, sizeof owner, "claimer-%p", arg);
    pthread_barrier_wait(c->go);
    for (;;) {
        i2v_gen g;
        i2v_error e = {0};
        int r = c->s->vt->gen_claim(c->s, owner, 60000, &g, tok, &e);
        if (r == 0) break;
        if (r < 0 || c->n == QUEUE) {
            if (!c->errors++) snprintf(c->message, sizeof c->message, "claim: %s", e.message);
            break;
        }
        c->ids[c->n++] = g.id;
        i2v_gen done = {.state = I2V_GEN_SUCCEEDED};
        snprintf(done.out_key, sizeof done.out_key, "k");
        if (c->s->vt->gen_finish(c->s, g.id, tok, &done, &e) != 0 && !c->errors++)
            snprintf(c->message, sizeof c->message, "finish: %s", e.message);
    }
    return NULL;
}

static int cmp_id(const void *a, const void *b)
{
    const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Eight workers, each with its own handle, empty a queue of 200: every
 * generation is claimed exactly once. */
static void test_claimers_share_a_queue(void **state)
{
    fixture *f = *state;
    i2v_error e = {0};
    int64_t bal;
    assert_int_equal(f->s->vt->credit(f->s, f->u.id, QUEUE, NULL, &bal, &e), 0);
    for (int i = 0; i < QUEUE; i++) {
        i2v_gen g;
        new_gen(f, &g, 1);
        assert_int_equal(f->s->vt->gen_create(f->s, &g, &bal, &e), 0);
    }
    static claimer c[CLAIMERS];
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, CLAIMERS);
    pthread_t t[CLAIMERS];
    for (int i = 0; i < CLAIMERS; i++) {
        memset(&c[i], 0, sizeof c[i]);
        c[i].go = &go;
        assert_int_equal(open_handle(&c[i].s, 2), 0);
    }
    for (int i = 0; i < CLAIMERS; i++)
        pthread_create(&t[i], NULL, claim_main, &c[i]);
    static int64_t all[QUEUE * CLAIMERS];
    int n = 0, busiest = 0;
    for (int i = 0; i < CLAIMERS; i++) {
        pthread_join(t[i], NULL);
        i2v__store_close(&c[i].s);
        if (c[i].errors) fail_msg("%s", c[i].message);
        for (int k = 0; k < c[i].n; k++)
            all[n++] = c[i].ids[k];
        if (c[i].n > busiest) busiest = c[i].n;
    }
    pthread_barrier_destroy(&go);
    print_message("      %d claims by %d handles (the busiest made %d)\n", n, CLAIMERS, busiest);
    assert_int_equal(n, QUEUE);
    qsort(all, (size_t)n, sizeof all[0], cmp_id);
    for (int i = 1; i < n; i++)
        assert_true(all[i] != all[i - 1]);
    assert_int_equal(count("SELECT COUNT(*) FROM generations WHERE state=2 AND attempts=1"), QUEUE);
    balanced(f, 0);
}

typedef struct reaper {
    i2v_store *s;
    pthread_barrier_t *go;
    int reaped, rc;
    char message[256];
} reaper;

static void *reap_main(void *arg)
{
    reaper *r = arg;
    i2v_error e = {0};
    pthread_barrier_wait(r->go);
    r->rc = r->s->vt->reap(r->s, &e);
    if (r->rc > 0) r->reaped = r->rc;
    snprintf(r->message, sizeof r->message, "%s", e.message);
    return NULL;
}

/* Four handles reap the same expired leases at once. */
static int reap_together(void)
{
    reaper r[4];
    pthread_t t[4];
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 4);
    for (int i = 0; i < 4; i++) {
        r[i] = (reaper){.go = &go};
        if (open_handle(&r[i].s, 2) != 0) fail_msg("open");
    }
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, reap_main, &r[i]);
    int total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        i2v__store_close(&r[i].s);
        if (r[i].rc < 0) fail_msg("reap: %s", r[i].message);
        total += r[i].reaped;
    }
    pthread_barrier_destroy(&go);
    return total;
}

/* Every generation goes back to the queue once, then (attempts used up)
 * fails with exactly one refund: nothing lost, nothing refunded twice. */
static void test_reapers_race(void **state)
{
    fixture *f = *state;
    i2v_store *s = f->s;
    i2v_error e = {0};
    int64_t bal;
    const int n = 40;
    assert_int_equal(s->vt->credit(s, f->u.id, n, NULL, &bal, &e), 0);
    for (int i = 0; i < n; i++) {
        i2v_gen g;
        new_gen(f, &g, 1);
        assert_int_equal(s->vt->gen_create(s, &g, &bal, &e), 0);
    }
    for (int round = 1; round <= 2; round++) {
        for (int i = 0; i < n; i++) {
            i2v_gen g;
            char tok[33];
            assert_int_equal(s->vt->gen_claim(s, "lost", 60000, &g, tok, &e), 1);
            assert_int_equal(g.attempts, round);
        }
        /* every lease expired (the worker vanished) */
        assert_int_equal(be->sql(be->ctx, "UPDATE generations SET lease_expires_ms=1"
                                          " WHERE state=1"),
                         0);
        assert_int_equal(reap_together(), n);
        if (round == 1) {
            assert_int_equal(count("SELECT COUNT(*) FROM generations WHERE state=0"), n);
            balanced(f, 0);
        }
    }
    assert_int_equal(count("SELECT COUNT(*) FROM generations WHERE state=3"), n);
    assert_int_equal(count("SELECT COUNT(*) FROM ledger WHERE kind='refund'"), n);
    assert_int_equal(count("SELECT COUNT(DISTINCT generation) FROM ledger WHERE kind='refund'"), n);
    balanced(f, n);
    assert_int_equal(s->vt->reap(s, &e), 0);
}

typedef struct notifier {
    i2v_store *s;
    pthread_barrier_t *go;
    int64_t ids[64];
    int n, errors;
} notifier;

static void *notify_main(void *arg)
{
    notifier *w = arg;
    pthread_barrier_wait(w->go);
    for (;;) {
        i2v_delivery d;
        i2v_error e = {0};
        int r = w->s->vt->hook_claim(w->s, 60000, &d, &e);
        if (r <= 0 || w->n == 64) {
            w->errors += r < 0;
            break;
        }
        w->ids[w->n++] = d.id;
    }
    return NULL;
}

/* Four notifiers never hold one delivery at the same time. */
static void test_notifiers_share_deliveries(void **state)
{
    fixture *f = *state;
    i2v_store *s = f->s;
    i2v_error e = {0};
    int64_t bal;
    const int n = 30;
    assert_int_equal(s->vt->credit(s, f->u.id, n, NULL, &bal, &e), 0);
    for (int i = 0; i < n; i++) {
        i2v_gen g;
        char tok[33];
        new_gen(f, &g, 1);
        snprintf(g.webhook, sizeof g.webhook, "http://example.com/h/%d", i);
        assert_int_equal(s->vt->gen_create(s, &g, &bal, &e), 0);
        assert_int_equal(s->vt->gen_claim(s, "w", 60000, &g, tok, &e), 1);
        i2v_gen r = {.state = i % 2 ? I2V_GEN_SUCCEEDED : I2V_GEN_FAILED};
        snprintf(r.error, sizeof r.error, "x");
        assert_int_equal(s->vt->gen_finish(s, g.id, tok, &r, &e), 0);
    }
    notifier w[4];
    pthread_t t[4];
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 4);
    for (int i = 0; i < 4; i++) {
        w[i] = (notifier){.go = &go};
        assert_int_equal(open_handle(&w[i].s, 2), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, notify_main, &w[i]);
    int64_t all[4 * 64];
    int k = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        i2v__store_close(&w[i].s);
        assert_int_equal(w[i].errors, 0);
        for (int j = 0; j < w[i].n; j++)
            all[k++] = w[i].ids[j];
    }
    pthread_barrier_destroy(&go);
    assert_int_equal(k, n);
    qsort(all, (size_t)k, sizeof all[0], cmp_id);
    for (int i = 1; i < k; i++)
        assert_true(all[i] != all[i - 1]);
    balanced(f, n / 2); /* the failed half was refunded */
}

/* ---- the native API (schema version 2) ---- */

static int64_t refunds(const i2v_gen *g)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM ledger WHERE generation=%lld AND kind='refund'",
             (long long)g->id);
    return count(sql);
}

static int64_t deliveries(const i2v_gen *g)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM deliveries WHERE generation=%lld",
             (long long)g->id);
    return count(sql);
}

/* A queued generation is cancelled at once: refunded once, its delivery
 * row written, never claimed; a second cancel is a conflict. */
static void test_cancel_queued(void **state)
{
    fixture *f = *state;
    i2v_store *s = f->s;
    i2v_error e = {0};
    int64_t bal;
    i2v_gen g, got;
    char tok[33];
    i2v_user other;
    assert_int_equal(s->vt->user_create(s, "o", &other, &e), 0);
    s->vt->credit(s, f->u.id, 30, NULL, &bal, &e);
    new_gen(f, &g, 20);
    snprintf(g.webhook, sizeof g.webhook, "http://example.com/hook");
    assert_int_equal(s->vt->gen_create(s, &g, &bal, &e), 0);
    balanced(f, 10);
    assert_int_equal(s->vt->gen_cancel(s, other.id, g.id, &got, &e), I2V_ENOTFOUND);
    assert_int_equal(s->vt->gen_cancel(s, f->u.id, g.id + 1000, &got, &e), I2V_ENOTFOUND);
    assert_int_equal(s->vt->gen_cancel(s, f->u.id, g.id, &got, &e), 0);
    assert_int_equal(got.state, I2V_GEN_CANCELLED);
    assert_int_equal(got.cancel_requested, 1);
    assert_string_equal(got.error, "cancelled");
    assert_true(got.finished_ms >= got.created_ms);
    balanced(f, 30);
    assert_int_equal(refunds(&g), 1);
    assert_int_equal(deliveries(&g), 1);
    i2v_error e2 = {0};
    assert_int_equal(s->vt->gen_cancel(s, f->u.id, g.id, &got, &e2), I2V_ESTATE);
    assert_int_equal(got.state, I2V_GEN_CANCELLED);
    assert_non_null(strstr(e2.message, "cancelled"));
    balanced(f, 30);
    assert_int_equal(refunds(&g), 1);
    assert_int_equal(s->vt->gen_claim(s, "w", 60000, &got, tok, &e), 0);
    i2v_delivery d;
    assert_int_equal(s->vt->hook_claim(s, 60000, &d, &e), 1);
    assert_int_equal(d.generation, g.id);
    assert_int_equal(s->vt->gen_get(s, 0, g.uuid, &got, NULL, &e), 0);
    assert_int_equal(got.state, I2V_GEN_CANCELLED);
    i2v_queue_stats qs;
    assert_int_equal(s->vt->queue_stats(s, &qs, &e), 0);
    assert_int_equal(qs.cancelled, 1);
    assert_int_equal(qs.state_count[I2V_GEN_QUEUED], 0);
}

/* A running generation is marked: the worker's renewal says so, its finish
 * as cancelled refunds once; then cancel is a conflict. */
static void test_cancel_running(void **state)
{
    fixture *f = *state;
    i2v_store *s = f->s;
    i2v_error e = {0};
    int64_t bal;
    i2v_gen g, got;
    char tok[33];
    s->vt->credit(s, f->u.id, 30, NULL, &bal, &e);
    new_gen(f, &g, 20);
    snprintf(g.webhook, sizeof g.webhook, "http://example.com/hook");
    assert_int_equal(s->vt->gen_create(s, &g, &bal, &e), 0);
    assert_int_equal(s->vt->gen_claim(s, "w", 60000, &got, tok, &e), 1);
    assert_int_equal(s->vt->gen_renew(s, g.id, tok, 60000, 10, &e), 0);
    assert_int_equal(s->vt->gen_cancel(s, f->u.id, g.id, &got, &e), 1);
    assert_int_equal(got.state, I2V_GEN_RUNNING);
    assert_int_equal(got.cancel_requested, 1);
    assert_int_equal(s->vt->gen_cancel(s, f->u.id, g.id, &got, &e), 1); /* again: still 1 */
    balanced(f, 10); /* nothing refunded before the worker stops */
    assert_int_equal(s->vt->gen_renew(s, g.id, tok, 60000, 20, &e), I2V_ECANCELLED);
    assert_int_equal(s->vt->gen_renew(s, g.id, "stale", 60000, 20, &e), I2V_ELOST);
    i2v_gen r = {0};
    r.state = I2V_GEN_CANCELLED;
    assert_int_equal(s->vt->gen_finish(s, g.id, tok, &r, &e), 0);
    balanced(f, 30);
    assert_int_equal(refunds(&g), 1);
    assert_int_equal(deliveries(&g), 1);
    assert_int_equal(s->vt->gen_finish(s, g.id, tok, &r, &e), I2V_ELOST);
    assert_int_equal(s->vt->gen_cancel(s, f->u.id, g.id, &got, &e), I2V_ESTATE);
    assert_int_equal(got.state, I2V_GEN_CANCELLED);
    balanced(f, 30);
    assert_int_equal(refunds(&g), 1);

    /* a worker that finishes before it noticed: cancelled all the same */
    new_gen(f, &g, 20);
    assert_int_equal(s->vt->gen_create(s, &g, &bal, &e), 0);
    assert_int_equal(s->vt->gen_claim(s, "w", 60000, &got, tok, &e), 1);
    assert_int_equal(s->vt->gen_cancel(s, f->u.id, g.id, NULL, &e), 1);
    r = (i2v_gen){.state = I2V_GEN_SUCCEEDED, .out_width = 854, .out_height = 480};
    snprintf(r.out_key, sizeof r.out_key, "cccc");
    i2v_error e2 = {0};
    assert_int_equal(s->vt->gen_finish(s, g.id, tok, &r, &e2), I2V_ECANCELLED);
    assert_int_equal(s->vt->gen_get(s, 0, g.uuid, &got, NULL, &e), 0);
    assert_int_equal(got.state, I2V_GEN_CANCELLED);
    assert_string_equal(got.out_key, "");
    assert_int_equal(got.out_width, 0);
    balanced(f, 30);
    assert_int_equal(refunds(&g), 1);

    /* a worker that shuts down: cancelled, not given back to the queue */
    new_gen(f, &g, 20);
    assert_int_equal(s->vt->gen_create(s, &g, &bal, &e), 0);
    assert_int_equal(s->vt->gen_claim(s, "w", 60000, &got, tok, &e), 1);
    assert_int_equal(s->vt->gen_cancel(s, f->u.id, g.id, NULL, &e), 1);
    assert_int_equal(s->vt->gen_release(s, g.id, "stale", &e), I2V_ELOST);
    assert_int_equal(s->vt->gen_release(s, g.id, tok, &e), 0);
    assert_int_equal(s->vt->gen_get(s, 0, g.uuid, &got, NULL, &e), 0);
    assert_int_equal(got.state, I2V_GEN_CANCELLED);
    assert_int_equal(s->vt->gen_claim(s, "w", 60000, &got, tok, &e), 0);
    balanced(f, 30);
    assert_int_equal(refunds(&g), 1);
}

/* Finished generations cannot be cancelled; nothing changes. */
static void test_cancel_finished(void **state)
{
    fixture *f = *state;
    i2v_store *s = f->s;
    i2v_error e = {0};
    int64_t bal;
    i2v_gen g[2], got;
    char tok[33];
    s->vt->credit(s, f->u.id, 40, NULL, &bal, &e);
    for (int i = 0; i < 2; i++) {
        new_gen(f, &g[i], 20);
        assert_int_equal(s->vt->gen_create(s, &g[i], &bal, &e), 0);
        assert_int_equal(s->vt->gen_claim(s, "w", 60000, &got, tok, &e), 1);
        i2v_gen r = {.state = i ? I2V_GEN_FAILED : I2V_GEN_SUCCEEDED};
        snprintf(r.out_key, sizeof r.out_key, "dddd");
        snprintf(r.error, sizeof r.error, "boom");
        assert_int_equal(s->vt->gen_finish(s, got.id, tok, &r, &e), 0);
    }
    balanced(f, 20);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(s->vt->gen_cancel(s, f->u.id, g[i].id, &got, &e), I2V_ESTATE);
        assert_int_equal(got.state, i ? I2V_GEN_FAILED : I2V_GEN_SUCCEEDED);
        assert_int_equal(got.cancel_requested, 0);
    }
    balanced(f, 20);
    assert_int_equal(refunds(&g[1]), 1);
}

/* A cancel-requested generation whose worker died is reaped as cancelled
 * with one refund, never put back in the queue (attempts are left). */
static void test_cancel_reaped(void **state)
{
    fixture *f = *state;
    i2v_store *s = f->s;
    i2v_error e = {0};
    int64_t bal;
    i2v_gen g, got;
    char tok[33];
    s->vt->credit(s, f->u.id, 20, NULL, &bal, &e);
    new_gen(f, &g, 20);
    snprintf(g.webhook, sizeof g.webhook, "http://example.com/hook");
    assert_int_equal(s->vt->gen_create(s, &g, &bal, &e), 0);
    assert_int_equal(s->vt->gen_claim(s, "dies", 1, &got, tok, &e), 1); /* a 1 ms lease */
    assert_int_equal(s->vt->gen_cancel(s, f->u.id, g.id, NULL, &e), 1);
    usleep(20000);
    assert_int_equal(s->vt->reap(s, &e), 1);
    assert_int_equal(s->vt->gen_get(s, 0, g.uuid, &got, NULL, &e), 0);
    assert_int_equal(got.state, I2V_GEN_CANCELLED);
    assert_int_equal(got.attempts, 1);
    assert_int_equal(s->vt->gen_claim(s, "w", 60000, &got, tok, &e), 0);
    assert_int_equal(s->vt->reap(s, &e), 0);
    balanced(f, 20);
    assert_int_equal(refunds(&g), 1);
    assert_int_equal(deliveries(&g), 1);
    /* the same through a claim, which reaps first */
    new_gen(f, &g, 20);
    assert_int_equal(s->vt->gen_create(s, &g, &bal, &e), 0);
    assert_int_equal(s->vt->gen_claim(s, "dies", 1, &got, tok, &e), 1);
    assert_int_equal(s->vt->gen_cancel(s, f->u.id, g.id, NULL, &e), 1);
    usleep(20000);
    assert_int_equal(s->vt->gen_claim(s, "w", 60000, &got, tok, &e), 0);
    assert_int_equal(s->vt->gen_get(s, g.task_id, NULL, &got, NULL, &e), 0);
    assert_int_equal(got.state, I2V_GEN_CANCELLED);
    balanced(f, 20);
    assert_int_equal(refunds(&g), 1);
}

typedef struct page {
    int64_t ids[64];
    int waits[64];
    int n;
    int stop_after; /* 0: never */
} page;

static int page_row(void *user, const i2v_gen *g, int wait)
{
    page *p = user;
    if (p->n < 64) {
        p->ids[p->n] = g->id;
        p->waits[p->n] = wait;
        p->n++;
    }
    return p->stop_after && p->n >= p->stop_after;
}

/* Pages of a user's generations, newest first, by cursor and state; one
 * by any of its three ids, another user's never. */
static void test_pages_and_find(void **state)
{
    fixture *f = *state;
    i2v_store *s = f->s;
    i2v_error e = {0};
    int64_t bal;
    i2v_gen g[25], got, mine;
    char tok[33];
    i2v_user other;
    assert_int_equal(s->vt->user_create(s, "o", &other, &e), 0);
    s->vt->credit(s, f->u.id, 1000, NULL, &bal, &e);
    s->vt->credit(s, other.id, 100, NULL, &bal, &e);
    for (int i = 0; i < 25; i++) {
        new_gen(f, &g[i], 10);
        if (i == 3) snprintf(g[i].project_id, sizeof g[i].project_id, "%s", g[2].project_id);
        assert_int_equal(s->vt->gen_create(s, &g[i], &bal, &e), 0);
        if (i == 10) { /* another user's in between */
            store_contract_gen(other.id, &got, 10);
            assert_int_equal(s->vt->gen_create(s, &got, &bal, &e), 0);
        }
    }
    /* 25 in pages of 10: 10, 10, 5, newest first, no repeats */
    int64_t before = 0;
    int total = 0;
    for (int k = 0; k < 3; k++) {
        page p = {0};
        assert_int_equal(s->vt->gen_page(s, f->u.id, -1, before, 10, page_row, &p, &e), 0);
        assert_int_equal(p.n, k < 2 ? 10 : 5);
        for (int i = 0; i < p.n; i++) {
            assert_int_equal(p.ids[i], g[24 - total].id);
            /* queued: everything queued before it is ahead */
            assert_int_equal(p.waits[i], 24 - total + (24 - total > 10 ? 1 : 0));
            total++;
        }
        before = p.ids[p.n - 1];
    }
    page p = {0};
    assert_int_equal(s->vt->gen_page(s, f->u.id, -1, before, 10, page_row, &p, &e), 0);
    assert_int_equal(p.n, 0);
    /* the callback can stop a page */
    p = (page){.stop_after = 2};
    assert_int_equal(s->vt->gen_page(s, f->u.id, -1, 0, 10, page_row, &p, &e), 0);
    assert_int_equal(p.n, 2);
    assert_int_equal(s->vt->gen_page(s, f->u.id, -1, 0, 0, page_row, &p, &e), I2V_EINVAL);
    /* by state: the oldest is claimed (other's is older than g[11..]) */
    assert_int_equal(s->vt->gen_claim(s, "w", 60000, &got, tok, &e), 1);
    assert_int_equal(got.id, g[0].id);
    p = (page){0};
    assert_int_equal(s->vt->gen_page(s, f->u.id, I2V_GEN_RUNNING, 0, 10, page_row, &p, &e), 0);
    assert_int_equal(p.n, 1);
    assert_int_equal(p.ids[0], g[0].id);
    assert_int_equal(p.waits[0], 0);
    p = (page){0};
    assert_int_equal(s->vt->gen_page(s, f->u.id, I2V_GEN_QUEUED, 0, 50, page_row, &p, &e), 0);
    assert_int_equal(p.n, 24);
    assert_int_equal(p.waits[23], 1); /* g[1]: the running one is ahead */
    p = (page){0};
    assert_int_equal(s->vt->gen_page(s, f->u.id, I2V_GEN_FAILED, 0, 10, page_row, &p, &e), 0);
    assert_int_equal(p.n, 0);
    p = (page){0};
    assert_int_equal(s->vt->gen_page(s, other.id, -1, 0, 10, page_row, &p, &e), 0);
    assert_int_equal(p.n, 1);

    /* find: by uuid, task id, project id (the newest with it) */
    int wait = -1;
    assert_int_equal(s->vt->gen_find(s, f->u.id, g[5].uuid, &mine, &wait, &e), 0);
    assert_int_equal(mine.id, g[5].id);
    assert_int_equal(wait, 5);
    char task[24];
    snprintf(task, sizeof task, "%lld", (long long)g[6].task_id);
    assert_int_equal(s->vt->gen_find(s, f->u.id, task, &mine, NULL, &e), 0);
    assert_int_equal(mine.id, g[6].id);
    assert_int_equal(s->vt->gen_find(s, f->u.id, g[7].project_id, &mine, NULL, &e), 0);
    assert_int_equal(mine.id, g[7].id);
    assert_int_equal(s->vt->gen_find(s, f->u.id, g[2].project_id, &mine, NULL, &e), 0);
    assert_int_equal(mine.id, g[3].id);
    /* another user's, by any id, and nonsense */
    assert_int_equal(s->vt->gen_find(s, other.id, g[5].uuid, &mine, NULL, &e), I2V_ENOTFOUND);
    assert_int_equal(s->vt->gen_find(s, other.id, task, &mine, NULL, &e), I2V_ENOTFOUND);
    assert_int_equal(s->vt->gen_find(s, other.id, g[7].project_id, &mine, NULL, &e), I2V_ENOTFOUND);
    assert_int_equal(s->vt->gen_find(s, f->u.id, "12345", &mine, NULL, &e), I2V_ENOTFOUND);
    assert_int_equal(s->vt->gen_find(s, f->u.id, "nope", &mine, NULL, &e), I2V_ENOTFOUND);
    assert_int_equal(s->vt->gen_find(s, f->u.id, "", &mine, NULL, &e), I2V_ENOTFOUND);
}

/* Outputs are marked deleted once; queued and running ones refuse. */
static void test_delete_outputs(void **state)
{
    fixture *f = *state;
    i2v_store *s = f->s;
    i2v_error e = {0};
    int64_t bal;
    i2v_gen g, got;
    char tok[33];
    i2v_user other;
    assert_int_equal(s->vt->user_create(s, "o", &other, &e), 0);
    s->vt->credit(s, f->u.id, 20, NULL, &bal, &e);
    new_gen(f, &g, 20);
    assert_int_equal(s->vt->gen_create(s, &g, &bal, &e), 0);
    assert_int_equal(s->vt->gen_delete_outputs(s, f->u.id, g.id, &got, &e), I2V_ESTATE);
    assert_int_equal(got.state, I2V_GEN_QUEUED);
    assert_int_equal(s->vt->gen_claim(s, "w", 60000, &got, tok, &e), 1);
    assert_int_equal(s->vt->gen_delete_outputs(s, f->u.id, g.id, &got, &e), I2V_ESTATE);
    i2v_gen r = {.state = I2V_GEN_SUCCEEDED, .out_width = 854, .out_height = 480};
    snprintf(r.out_key, sizeof r.out_key, "eeee");
    assert_int_equal(s->vt->gen_finish(s, g.id, tok, &r, &e), 0);
    assert_int_equal(s->vt->gen_delete_outputs(s, other.id, g.id, &got, &e), I2V_ENOTFOUND);
    const int64_t t0 = i2v__now_ms();
    assert_int_equal(s->vt->gen_delete_outputs(s, f->u.id, g.id, &got, &e), 0);
    assert_true(got.outputs_deleted_ms >= t0);
    assert_string_equal(got.out_key, "eeee"); /* the caller removes the files it names */
    assert_int_equal(got.state, I2V_GEN_SUCCEEDED);
    const int64_t first = got.outputs_deleted_ms;
    usleep(5000);
    assert_int_equal(s->vt->gen_delete_outputs(s, f->u.id, g.id, &got, &e), 0);
    assert_int_equal(got.outputs_deleted_ms, first);
    assert_int_equal(s->vt->gen_get(s, 0, g.uuid, &got, NULL, &e), 0);
    assert_int_equal(got.outputs_deleted_ms, first);
    balanced(f, 0); /* the ledger is untouched */
}

typedef struct rows {
    i2v_ledger_row r[16];
    int n;
} rows;

static int ledger_row(void *user, const i2v_ledger_row *row)
{
    rows *p = user;
    if (p->n < 16) p->r[p->n++] = *row;
    return 0;
}

/* The ledger newest first with running balances, in pages. */
static void test_ledger_page(void **state)
{
    fixture *f = *state;
    i2v_store *s = f->s;
    i2v_error e = {0};
    int64_t bal;
    i2v_gen g[2], got;
    char tok[33];
    assert_int_equal(s->vt->credit(s, f->u.id, 100, "welcome", &bal, &e), 0);
    for (int i = 0; i < 2; i++) {
        new_gen(f, &g[i], 30);
        assert_int_equal(s->vt->gen_create(s, &g[i], &bal, &e), 0);
    }
    assert_int_equal(s->vt->gen_cancel(s, f->u.id, g[0].id, NULL, &e), 0);
    /* topup 100 (100), charge -30 (70), charge -30 (40), refund 30 (70) */
    rows p = {0};
    assert_int_equal(s->vt->ledger_page(s, f->u.id, 0, 3, ledger_row, &p, &e), 0);
    assert_int_equal(p.n, 3);
    assert_string_equal(p.r[0].kind, "refund");
    assert_int_equal(p.r[0].amount, 30);
    assert_int_equal(p.r[0].balance_after, 70);
    assert_string_equal(p.r[0].generation, g[0].uuid);
    assert_string_equal(p.r[1].kind, "charge");
    assert_int_equal(p.r[1].amount, -30);
    assert_int_equal(p.r[1].balance_after, 40);
    assert_string_equal(p.r[1].generation, g[1].uuid);
    assert_int_equal(p.r[2].balance_after, 70);
    assert_true(p.r[0].id > p.r[1].id && p.r[1].id > p.r[2].id);
    assert_true(p.r[0].created_ms >= p.r[2].created_ms);
    const int64_t before = p.r[2].id;
    p = (rows){0};
    assert_int_equal(s->vt->ledger_page(s, f->u.id, before, 3, ledger_row, &p, &e), 0);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.r[0].kind, "topup");
    assert_int_equal(p.r[0].amount, 100);
    assert_int_equal(p.r[0].balance_after, 100);
    assert_string_equal(p.r[0].generation, "");
    assert_string_equal(p.r[0].note, "welcome");
    balanced(f, 70);
    /* another user's ledger is their own */
    i2v_user other;
    assert_int_equal(s->vt->user_create(s, "o", &other, &e), 0);
    p = (rows){0};
    assert_int_equal(s->vt->ledger_page(s, other.id, 0, 10, ledger_row, &p, &e), 0);
    assert_int_equal(p.n, 0);
    assert_int_equal(s->vt->ledger_page(s, other.id, 0, 1001, ledger_row, &p, &e), I2V_EINVAL);
    (void)got;
    (void)tok;
}

typedef struct keys {
    i2v_key_info k[8];
    int n;
} keys;

static int key_row(void *user, const i2v_key_info *k)
{
    keys *p = user;
    if (p->n < 8) p->k[p->n++] = *k;
    return 0;
}

/* Named keys listed by their owner, last use stamped at most once a
 * minute, revoked only by their owner. */
static void test_keys_native(void **state)
{
    fixture *f = *state;
    i2v_store *s = f->s;
    i2v_error e = {0};
    char user[37];
    i2v_user other;
    assert_int_equal(s->vt->user_create(s, "o", &other, &e), 0);
    assert_int_equal(s->vt->key_add_named(s, f->u.id, "hA", "i2v_AAAAAAAA", "laptop", &e), 0);
    usleep(3000);
    assert_int_equal(s->vt->key_add_named(s, f->u.id, "hB", "i2v_BBBBBBBB", "", &e), 0);
    assert_int_equal(s->vt->key_add(s, other.id, "hC", "i2v_CCCCCCCC", &e), 0);
    assert_int_equal(
        s->vt->key_add_named(s, "00000000-0000-4000-8000-000000000000", "hD", "p", "x", &e),
        I2V_ENOTFOUND);
    keys p = {0};
    assert_int_equal(s->vt->key_list(s, f->u.id, key_row, &p, &e), 0);
    assert_int_equal(p.n, 2);
    assert_string_equal(p.k[0].prefix, "i2v_BBBBBBBB"); /* newest first */
    assert_string_equal(p.k[1].prefix, "i2v_AAAAAAAA");
    assert_string_equal(p.k[1].name, "laptop");
    assert_int_equal(p.k[1].last_used_ms, 0);
    assert_int_equal(p.k[1].revoked, 0);
    assert_true(p.k[1].created_ms > 0);
    /* used: stamped; used again within the minute: not written again */
    const int64_t t0 = i2v__now_ms();
    assert_int_equal(s->vt->key_auth(s, "hA", user, &e), 0);
    assert_string_equal(user, f->u.id);
    assert_true(count("SELECT last_used_ms FROM api_keys WHERE hash='hA'") >= t0);
    assert_int_equal(be->sql(be->ctx, "UPDATE api_keys SET last_used_ms=last_used_ms-30000"
                                      " WHERE hash='hA'"),
                     0);
    const int64_t aged = count("SELECT last_used_ms FROM api_keys WHERE hash='hA'");
    assert_int_equal(s->vt->key_auth(s, "hA", user, &e), 0);
    assert_int_equal(count("SELECT last_used_ms FROM api_keys WHERE hash='hA'"), aged);
    assert_int_equal(be->sql(be->ctx, "UPDATE api_keys SET last_used_ms=last_used_ms-31000"
                                      " WHERE hash='hA'"),
                     0);
    assert_int_equal(s->vt->key_auth(s, "hA", user, &e), 0);
    assert_true(count("SELECT last_used_ms FROM api_keys WHERE hash='hA'") >= t0);
    assert_int_equal(s->vt->key_auth(s, "nope", user, &e), I2V_ENOTFOUND);
    /* revoke: not another user's; one's own, twice */
    assert_int_equal(s->vt->key_revoke_own(s, other.id, "i2v_AAAAAAAA", &e), I2V_ENOTFOUND);
    assert_int_equal(s->vt->key_revoke_own(s, f->u.id, "i2v_CCCCCCCC", &e), I2V_ENOTFOUND);
    assert_int_equal(s->vt->key_auth(s, "hC", user, &e), 0);
    assert_int_equal(s->vt->key_revoke_own(s, f->u.id, "i2v_AAAAAAAA", &e), 0);
    assert_int_equal(s->vt->key_revoke_own(s, f->u.id, "i2v_AAAAAAAA", &e), 0);
    assert_int_equal(s->vt->key_auth(s, "hA", user, &e), I2V_ENOTFOUND);
    assert_int_equal(s->vt->key_user(s, "hA", user, &e), I2V_ENOTFOUND);
    assert_int_equal(s->vt->key_auth(s, "hB", user, &e), 0);
    p = (keys){0};
    assert_int_equal(s->vt->key_list(s, f->u.id, key_row, &p, &e), 0);
    assert_int_equal(p.n, 2);
    assert_int_equal(p.k[1].revoked, 1);
    assert_true(p.k[1].last_used_ms >= t0);
    assert_true(p.k[0].last_used_ms >= t0);
}

/* The polling tests' two users: the fixture's with key "hU", another with
 * key "hO", 100 credits each. */
static void poll_users(fixture *f, i2v_user *other)
{
    i2v_store *s = f->s;
    i2v_error e = {0};
    int64_t bal;
    assert_int_equal(s->vt->user_create(s, "o", other, &e), 0);
    assert_int_equal(s->vt->key_add(s, f->u.id, "hU", "i2v_UUUUUUUU", &e), 0);
    assert_int_equal(s->vt->key_add(s, other->id, "hO", "i2v_OOOOOOOO", &e), 0);
    assert_int_equal(s->vt->credit(s, f->u.id, 100, "t", &bal, &e), 0);
    assert_int_equal(s->vt->credit(s, other->id, 100, "t", &bal, &e), 0);
}

/* A poll's key and generation in one call: the same answers as key_auth
 * then gen_get, another user's generation not found, the key's use
 * stamped, a revoked key refused. */
static void test_key_gen_get(void **state)
{
    fixture *f = *state;
    i2v_store *s = f->s;
    i2v_error e = {0};
    char user[37];
    int64_t bal;
    int wait = -1;
    i2v_user other;
    i2v_gen a, b, c, got;
    poll_users(f, &other);
    new_gen(f, &a, 1);
    assert_int_equal(s->vt->gen_create(s, &a, &bal, &e), 0);
    store_contract_gen(other.id, &b, 1);
    assert_int_equal(s->vt->gen_create(s, &b, &bal, &e), 0);
    new_gen(f, &c, 1);
    assert_int_equal(s->vt->gen_create(s, &c, &bal, &e), 0);
    /* by task id and by uuid, with the wait number gen_get gives */
    const int64_t t0 = i2v__now_ms();
    assert_int_equal(s->vt->key_gen_get(s, "hU", c.task_id, NULL, user, &got, &wait, &e), 0);
    assert_string_equal(user, f->u.id);
    assert_int_equal(got.id, c.id);
    assert_string_equal(got.uuid, c.uuid);
    assert_int_equal(got.state, I2V_GEN_QUEUED);
    assert_int_equal(wait, 2); /* a and b ahead */
    assert_true(count("SELECT last_used_ms FROM api_keys WHERE hash='hU'") >= t0);
    wait = -1;
    assert_int_equal(s->vt->key_gen_get(s, "hU", 0, a.uuid, user, &got, &wait, &e), 0);
    assert_int_equal(got.id, a.id);
    assert_int_equal(wait, 0);
    assert_int_equal(s->vt->key_gen_get(s, "hU", a.task_id, NULL, user, &got, NULL, &e), 0);
    assert_string_equal(got.user_id, f->u.id);
    /* another user's, or none: not found, the key's user still given */
    user[0] = 0;
    assert_int_equal(s->vt->key_gen_get(s, "hU", b.task_id, NULL, user, &got, &wait, &e),
                     I2V_ENOTFOUND);
    assert_string_equal(user, f->u.id);
    assert_int_equal(s->vt->key_gen_get(s, "hU", 0, b.uuid, user, &got, &wait, &e), I2V_ENOTFOUND);
    assert_int_equal(s->vt->key_gen_get(s, "hO", b.task_id, NULL, user, &got, &wait, &e), 0);
    assert_string_equal(user, other.id);
    assert_int_equal(s->vt->key_gen_get(s, "hU", c.task_id + 1000, NULL, user, &got, &wait, &e),
                     I2V_ENOTFOUND);
    /* an unknown key, then a revoked one */
    assert_int_equal(s->vt->key_gen_get(s, "nope", a.task_id, NULL, user, &got, &wait, &e),
                     I2V_EDENIED);
    assert_string_equal(user, "");
    assert_int_equal(s->vt->key_revoke(s, "i2v_UUUUUUUU", &e), 0);
    assert_int_equal(s->vt->key_gen_get(s, "hU", a.task_id, NULL, user, &got, &wait, &e),
                     I2V_EDENIED);
    assert_string_equal(user, "");
}

typedef struct poller {
    i2v_store *s;
    const i2v_gen *mine, *theirs;
    const char *user, *other;
    int seed, wrong;
    char message[160];
} poller;

/* Each poll's own answer, while the others poll at the same time. */
static void *poll_many(void *arg)
{
    poller *p = arg;
    for (int i = 0; i < 400; i++) {
        const int kind = (i + p->seed) % 5;
        char user[37];
        i2v_gen g;
        int wait = -1;
        i2v_error e = {0};
        int rc, ok;
        switch (kind) {
        case 0: /* mine by task id */
            rc = p->s->vt->key_gen_get(p->s, "hU", p->mine->task_id, NULL, user, &g, &wait, &e);
            ok = rc == 0 && g.id == p->mine->id && !strcmp(user, p->user) && wait == 0;
            break;
        case 1: /* mine by uuid */
            rc = p->s->vt->key_gen_get(p->s, "hU", 0, p->mine->uuid, user, &g, NULL, &e);
            ok = rc == 0 && g.id == p->mine->id && !strcmp(g.uuid, p->mine->uuid);
            break;
        case 2: /* theirs, with my key */
            rc = p->s->vt->key_gen_get(p->s, "hU", p->theirs->task_id, NULL, user, &g, &wait, &e);
            ok = rc == I2V_ENOTFOUND && !strcmp(user, p->user);
            break;
        case 3: /* theirs, with their key */
            rc = p->s->vt->key_gen_get(p->s, "hO", 0, p->theirs->uuid, user, &g, &wait, &e);
            ok = rc == 0 && g.id == p->theirs->id && !strcmp(user, p->other) && wait == 1;
            break;
        default: /* no such key */
            rc = p->s->vt->key_gen_get(p->s, "h\"\\x", p->mine->task_id, NULL, user, &g, &wait, &e);
            ok = rc == I2V_EDENIED && user[0] == 0;
        }
        if (!ok && !p->wrong++)
            snprintf(p->message, sizeof p->message, "poll kind %d: %d %.100s", kind, rc, e.message);
    }
    return NULL;
}

/* Sixteen threads polling at once on one handle (PostgreSQL reads
 * concurrent polls in shared statements): every answer is its own. */
static void test_key_gen_get_concurrent(void **state)
{
    fixture *f = *state;
    i2v_store *s = f->s;
    i2v_error e = {0};
    int64_t bal;
    i2v_user other;
    i2v_gen mine, theirs;
    poll_users(f, &other);
    new_gen(f, &mine, 1);
    assert_int_equal(s->vt->gen_create(s, &mine, &bal, &e), 0);
    store_contract_gen(other.id, &theirs, 1);
    assert_int_equal(s->vt->gen_create(s, &theirs, &bal, &e), 0);
    pthread_t t[16];
    poller p[16];
    for (int i = 0; i < 16; i++) {
        p[i] = (poller){.s = s,
                        .mine = &mine,
                        .theirs = &theirs,
                        .user = f->u.id,
                        .other = other.id,
                        .seed = i};
        pthread_create(&t[i], NULL, poll_many, &p[i]);
    }
    for (int i = 0; i < 16; i++) {
        pthread_join(t[i], NULL);
        if (p[i].wrong) fail_msg("%d wrong answers, first: %s", p[i].wrong, p[i].message);
    }
}

/* ---- uploads, the delivery log, secrets, error codes (schema version 3) ---- */

static void upload_of(i2v_upload *u, const char *user, const char *id, int64_t expires_ms)
{
    memset(u, 0, sizeof *u);
    snprintf(u->id, sizeof u->id, "%s", id);
    snprintf(u->user_id, sizeof u->user_id, "%s", user);
    snprintf(u->blob, sizeof u->blob, "u-%s.jpg", id);
    snprintf(u->format, sizeof u->format, "jpeg");
    u->bytes = 12345;
    u->width = 640;
    u->height = 480;
    u->created_ms = i2v__now_ms();
    u->expires_ms = expires_ms;
}

typedef struct uploads {
    i2v_upload u[8];
    int n, stop_at;
} uploads;

static int upload_row(void *user, const i2v_upload *u)
{
    uploads *p = user;
    if (p->n < 8) p->u[p->n++] = *u;
    return p->stop_at && p->n == p->stop_at;
}

/* Uploads are recorded, read back by id (whoever asks: the caller checks the
 * owner), listed once expired (oldest first), removed once; an
 * Idempotency-Key makes one upload per user and key. */
static void test_uploads(void **state)
{
    fixture *f = *state;
    i2v_store *s = f->s;
    i2v_error e = {0};
    i2v_user other;
    assert_int_equal(s->vt->user_create(s, "o", &other, &e), 0);
    const int64_t now = i2v__now_ms();
    i2v_upload u, got;
    upload_of(&u, f->u.id, "aaaa", now + 60000);
    assert_int_equal(s->vt->upload_add(s, &u, NULL, &e), 0);
    assert_int_equal(s->vt->upload_get(s, "aaaa", &got, &e), 0);
    assert_string_equal(got.user_id, f->u.id);
    assert_string_equal(got.blob, "u-aaaa.jpg");
    assert_string_equal(got.format, "jpeg");
    assert_int_equal(got.bytes, 12345);
    assert_int_equal(got.width, 640);
    assert_int_equal(got.height, 480);
    assert_int_equal(got.created_ms, u.created_ms);
    assert_int_equal(got.expires_ms, now + 60000);
    assert_int_equal(s->vt->upload_get(s, "nope", &got, &e), I2V_ENOTFOUND);
    /* no such user */
    upload_of(&u, "00000000-0000-4000-8000-000000000000", "bbbb", now);
    assert_int_not_equal(s->vt->upload_add(s, &u, NULL, &e), 0);
    assert_int_equal(s->vt->upload_get(s, "bbbb", &got, &e), I2V_ENOTFOUND);
    /* an idempotency key: the second add gives the first upload back */
    upload_of(&u, f->u.id, "cccc", now - 3000);
    snprintf(u.idem_key, sizeof u.idem_key, "k1");
    snprintf(u.idem_hash, sizeof u.idem_hash, "h1");
    assert_int_equal(s->vt->upload_add(s, &u, NULL, &e), 0);
    upload_of(&u, f->u.id, "dddd", now - 2000);
    snprintf(u.idem_key, sizeof u.idem_key, "k1");
    snprintf(u.idem_hash, sizeof u.idem_hash, "h2");
    memset(&got, 0, sizeof got);
    assert_int_equal(s->vt->upload_add(s, &u, &got, &e), I2V_EDUPLICATE);
    assert_string_equal(got.id, "cccc");
    assert_string_equal(got.idem_hash, "h1");
    assert_int_equal(s->vt->upload_get(s, "dddd", &got, &e), I2V_ENOTFOUND);
    /* the key is per user */
    upload_of(&u, other.id, "eeee", now - 1000);
    snprintf(u.idem_key, sizeof u.idem_key, "k1");
    assert_int_equal(s->vt->upload_add(s, &u, NULL, &e), 0);
    upload_of(&u, other.id, "ffff", now - 4000);
    assert_int_equal(s->vt->upload_add(s, &u, NULL, &e), 0);
    /* expired ones, oldest first, at most limit; fn may stop early */
    uploads p = {0};
    assert_int_equal(s->vt->upload_expired(s, now, 10, upload_row, &p, &e), 0);
    assert_int_equal(p.n, 3);
    assert_string_equal(p.u[0].id, "ffff");
    assert_string_equal(p.u[1].id, "cccc");
    assert_string_equal(p.u[2].id, "eeee");
    p = (uploads){0};
    assert_int_equal(s->vt->upload_expired(s, now, 2, upload_row, &p, &e), 0);
    assert_int_equal(p.n, 2);
    p = (uploads){.stop_at = 1};
    assert_int_equal(s->vt->upload_expired(s, now, 10, upload_row, &p, &e), 0);
    assert_int_equal(p.n, 1);
    assert_int_equal(s->vt->upload_expired(s, now, 0, upload_row, &p, &e), I2V_EINVAL);
    /* removed once */
    assert_int_equal(s->vt->upload_remove(s, "ffff", &e), 0);
    assert_int_equal(s->vt->upload_remove(s, "ffff", &e), I2V_ENOTFOUND);
    assert_int_equal(s->vt->upload_get(s, "ffff", &got, &e), I2V_ENOTFOUND);
    p = (uploads){0};
    assert_int_equal(s->vt->upload_expired(s, now, 10, upload_row, &p, &e), 0);
    assert_int_equal(p.n, 2);
    /* once the upload is gone, its key is free again */
    assert_int_equal(s->vt->upload_remove(s, "cccc", &e), 0);
    upload_of(&u, f->u.id, "gggg", now + 1000);
    snprintf(u.idem_key, sizeof u.idem_key, "k1");
    assert_int_equal(s->vt->upload_add(s, &u, NULL, &e), 0);
}

typedef struct hooks {
    i2v_delivery_info d[8];
    int n;
} hooks;

static int hook_row_fn(void *user, const i2v_delivery_info *d)
{
    hooks *p = user;
    if (p->n < 8) p->d[p->n++] = *d;
    return 0;
}

/* A finished generation with a webhook, of user u: its internal id. */
static int64_t hooked(fixture *f, const char *user, int ok, i2v_gen *g)
{
    i2v_store *s = f->s;
    i2v_error e = {0};
    int64_t bal;
    char tok[33];
    store_contract_gen(user, g, 1);
    snprintf(g->webhook, sizeof g->webhook, "http://example.com/hook");
    assert_int_equal(s->vt->gen_create(s, g, &bal, &e), 0);
    i2v_gen c;
    assert_int_equal(s->vt->gen_claim(s, "w", 60000, &c, tok, &e), 1);
    assert_int_equal(c.id, g->id);
    i2v_gen r = {.state = ok ? I2V_GEN_SUCCEEDED : I2V_GEN_FAILED};
    snprintf(r.out_key, sizeof r.out_key, "k");
    snprintf(r.error, sizeof r.error, "x");
    assert_int_equal(s->vt->gen_finish(s, g->id, tok, &r, &e), 0);
    return g->id;
}

/* The delivery log: a user's deliveries newest first, by generation, in
 * pages; attempts and their outcome recorded; a redelivery queues the same
 * webhook-id again with a new round of attempts, also after it gave up; a
 * pending one in flight is left alone; another user's is not found. */
static void test_delivery_log(void **state)
{
    fixture *f = *state;
    i2v_store *s = f->s;
    i2v_error e = {0};
    int64_t bal;
    i2v_user other;
    assert_int_equal(s->vt->user_create(s, "o", &other, &e), 0);
    assert_int_equal(s->vt->credit(s, f->u.id, 10, NULL, &bal, &e), 0);
    assert_int_equal(s->vt->credit(s, other.id, 10, NULL, &bal, &e), 0);
    const int64_t t0 = i2v__now_ms();
    i2v_gen g1, g2, g3;
    hooked(f, f->u.id, 1, &g1);
    hooked(f, other.id, 0, &g2);
    hooked(f, f->u.id, 0, &g3);
    hooks p = {0};
    assert_int_equal(s->vt->delivery_page(s, f->u.id, 0, 0, 10, hook_row_fn, &p, &e), 0);
    assert_int_equal(p.n, 2);
    assert_string_equal(p.d[0].generation, g3.uuid); /* newest first */
    assert_string_equal(p.d[1].generation, g1.uuid);
    assert_int_equal(p.d[0].gen_state, I2V_GEN_FAILED);
    assert_int_equal(p.d[1].gen_state, I2V_GEN_SUCCEEDED);
    assert_string_equal(p.d[1].url, "http://example.com/hook");
    char want[64];
    snprintf(want, sizeof want, "msg_%s", g1.uuid);
    assert_string_equal(p.d[1].msg_id, want);
    assert_int_equal(p.d[1].state, I2V_HOOK_PENDING);
    assert_int_equal(p.d[1].attempts, 0);
    assert_true(p.d[1].created_ms >= t0 && p.d[1].next_ms >= t0);
    assert_int_equal(p.d[1].delivered_ms, 0);
    const int64_t d1 = p.d[1].id, d3 = p.d[0].id;
    /* a page, the next page, one generation's */
    p = (hooks){0};
    assert_int_equal(s->vt->delivery_page(s, f->u.id, 0, d3, 10, hook_row_fn, &p, &e), 0);
    assert_int_equal(p.n, 1);
    assert_int_equal(p.d[0].id, d1);
    p = (hooks){0};
    assert_int_equal(s->vt->delivery_page(s, f->u.id, 0, 0, 1, hook_row_fn, &p, &e), 0);
    assert_int_equal(p.n, 1);
    assert_int_equal(p.d[0].id, d3);
    p = (hooks){0};
    assert_int_equal(s->vt->delivery_page(s, f->u.id, g1.id, 0, 10, hook_row_fn, &p, &e), 0);
    assert_int_equal(p.n, 1);
    assert_int_equal(p.d[0].id, d1);
    p = (hooks){0};
    assert_int_equal(s->vt->delivery_page(s, f->u.id, g2.id, 0, 10, hook_row_fn, &p, &e), 0);
    assert_int_equal(p.n, 0); /* another user's generation */

    /* d1: attempted twice and given up (claims made one by one) */
    assert_int_equal(be->sql(be->ctx, "UPDATE deliveries SET next_ms=next_ms+100000000"), 0);
    char sql[200];
    snprintf(sql, sizeof sql, "UPDATE deliveries SET next_ms=0 WHERE id=%lld", (long long)d1);
    i2v_delivery d;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(be->sql(be->ctx, sql), 0);
        assert_int_equal(s->vt->hook_claim(s, 60000, &d, &e), 1);
        assert_int_equal(d.id, d1);
        assert_int_equal(d.attempts, i);
        assert_int_equal(s->vt->hook_done(s, d1, 0, i ? -1 : t0 + 5000, 500 + i, "HTTP status", &e),
                         0);
    }
    p = (hooks){0};
    assert_int_equal(s->vt->delivery_page(s, f->u.id, g1.id, 0, 10, hook_row_fn, &p, &e), 0);
    assert_int_equal(p.d[0].state, I2V_HOOK_FAILED);
    assert_int_equal(p.d[0].attempts, 2);
    assert_int_equal(p.d[0].last_status, 501);
    assert_string_equal(p.d[0].last_error, "HTTP status");
    /* redelivered: pending, due now, a new round, the same webhook-id */
    i2v_delivery_info info;
    const int64_t t1 = i2v__now_ms();
    assert_int_equal(s->vt->delivery_redeliver(s, other.id, d1, &info, &e), I2V_ENOTFOUND);
    assert_int_equal(s->vt->delivery_redeliver(s, f->u.id, 999999, &info, &e), I2V_ENOTFOUND);
    assert_int_equal(s->vt->delivery_redeliver(s, f->u.id, d1, &info, &e), 0);
    assert_int_equal(info.id, d1);
    assert_int_equal(info.state, I2V_HOOK_PENDING);
    assert_int_equal(info.attempts, 2);
    assert_true(info.next_ms >= t1 && info.next_ms <= i2v__now_ms());
    assert_int_equal(s->vt->hook_claim(s, 60000, &d, &e), 1);
    assert_int_equal(d.id, d1);
    assert_int_equal(d.attempts, 0);
    assert_string_equal(d.msg_id, want);
    /* in flight: a redelivery leaves it alone */
    assert_int_equal(s->vt->delivery_redeliver(s, f->u.id, d1, &info, &e), 0);
    assert_true(info.next_ms >= t1 + 50000);
    assert_int_equal(s->vt->hook_claim(s, 60000, &d, &e), 0);
    const int64_t t2 = i2v__now_ms();
    assert_int_equal(s->vt->hook_done(s, d1, 1, -1, 200, NULL, &e), 0);
    p = (hooks){0};
    assert_int_equal(s->vt->delivery_page(s, f->u.id, g1.id, 0, 10, hook_row_fn, &p, &e), 0);
    assert_int_equal(p.d[0].state, I2V_HOOK_DELIVERED);
    assert_int_equal(p.d[0].attempts, 3);
    assert_int_equal(p.d[0].last_status, 200);
    assert_true(p.d[0].delivered_ms >= t2);
    const int64_t delivered = p.d[0].delivered_ms;
    /* a delivered one again: its failing attempt keeps the last delivery time */
    assert_int_equal(s->vt->delivery_redeliver(s, f->u.id, d1, &info, &e), 0);
    assert_int_equal(info.state, I2V_HOOK_PENDING);
    assert_int_equal(s->vt->hook_claim(s, 60000, &d, &e), 1);
    assert_int_equal(d.attempts, 0);
    assert_int_equal(s->vt->hook_done(s, d1, 0, t0 + 100000000, 0, "refused", &e), 0);
    /* pending and not in flight: due now */
    assert_int_equal(s->vt->delivery_redeliver(s, f->u.id, d1, &info, &e), 0);
    assert_int_equal(info.state, I2V_HOOK_PENDING);
    assert_int_equal(info.attempts, 4);
    assert_int_equal(info.delivered_ms, delivered);
    assert_true(info.next_ms <= i2v__now_ms());
    assert_int_equal(s->vt->hook_claim(s, 60000, &d, &e), 1);
    assert_int_equal(d.id, d1);
    assert_int_equal(d.attempts, 1);
}

/* A new webhook secret replaces the old one; a failure's code is kept, but
 * not on a success or a cancel. */
static void test_secret_and_error_code(void **state)
{
    fixture *f = *state;
    i2v_store *s = f->s;
    i2v_error e = {0};
    int64_t bal;
    i2v_user u;
    assert_int_equal(s->vt->user_set_secret(s, f->u.id, "whsec_bmV3", &e), 0);
    assert_int_equal(s->vt->user_get(s, f->u.id, &u, &e), 0);
    assert_string_equal(u.webhook_secret, "whsec_bmV3");
    assert_int_equal(
        s->vt->user_set_secret(s, "00000000-0000-4000-8000-000000000000", "whsec_eA==", &e),
        I2V_ENOTFOUND);
    assert_int_equal(s->vt->credit(s, f->u.id, 10, NULL, &bal, &e), 0);
    const int states[3] = {I2V_GEN_FAILED, I2V_GEN_SUCCEEDED, I2V_GEN_CANCELLED};
    for (int i = 0; i < 3; i++) {
        i2v_gen g, c;
        char tok[33];
        new_gen(f, &g, 1);
        assert_int_equal(s->vt->gen_create(s, &g, &bal, &e), 0);
        assert_int_equal(s->vt->gen_claim(s, "w", 60000, &c, tok, &e), 1);
        i2v_gen r = {.state = states[i], .error_code = I2V_ERROR_PROHIBITED};
        snprintf(r.out_key, sizeof r.out_key, "k");
        snprintf(r.error, sizeof r.error, "refused: mostly red");
        assert_int_equal(s->vt->gen_finish(s, g.id, tok, &r, &e), 0);
        assert_int_equal(s->vt->gen_get(s, g.task_id, NULL, &c, NULL, &e), 0);
        assert_int_equal(c.state, states[i]);
        assert_int_equal(c.error_code, i ? 0 : I2V_ERROR_PROHIBITED);
        if (!i) assert_string_equal(c.error, "refused: mostly red");
    }
    balanced(f, 9);
}

/* What live streams follow: listed ids, and a user's queued, running and
 * newer ones, each once in id order with its wait number; the largest id. */
static void test_watch(void **state)
{
    fixture *f = *state;
    i2v_store *s = f->s;
    i2v_error e = {0};
    int64_t bal, max = -1;
    i2v_gen g[5], got, mine;
    char tok[33];
    i2v_user other;
    assert_int_equal(s->vt->user_create(s, "o", &other, &e), 0);
    s->vt->credit(s, f->u.id, 1000, NULL, &bal, &e);
    s->vt->credit(s, other.id, 100, NULL, &bal, &e);
    page p = {0};
    assert_int_equal(s->vt->gen_watch(s, NULL, 0, NULL, 0, 0, &max, page_row, &p, &e), 0);
    assert_int_equal(p.n, 0);
    assert_int_equal(max, 0);
    for (int i = 0; i < 4; i++) {
        new_gen(f, &g[i], 10);
        assert_int_equal(s->vt->gen_create(s, &g[i], &bal, &e), 0);
    }
    store_contract_gen(other.id, &g[4], 10);
    assert_int_equal(s->vt->gen_create(s, &g[4], &bal, &e), 0);
    /* g0 succeeds, g1 runs, g2 and g3 wait, g4 (other's) waits */
    assert_int_equal(s->vt->gen_claim(s, "w", 60000, &got, tok, &e), 1);
    assert_int_equal(got.id, g[0].id);
    i2v_gen r = {.state = I2V_GEN_SUCCEEDED, .out_width = 2, .out_height = 2};
    snprintf(r.out_key, sizeof r.out_key, "k");
    assert_int_equal(s->vt->gen_finish(s, got.id, tok, &r, &e), 0);
    assert_int_equal(s->vt->gen_claim(s, "w", 60000, &got, tok, &e), 1);
    assert_int_equal(s->vt->gen_renew(s, got.id, tok, 60000, 42, &e), 0);
    /* the user: unfinished only (after = the largest id) */
    const char *users[] = {f->u.id, other.id};
    p = (page){0};
    assert_int_equal(s->vt->gen_watch(s, NULL, 0, users, 1, g[4].id, &max, page_row, &p, &e), 0);
    assert_int_equal(max, g[4].id);
    assert_int_equal(p.n, 3);
    assert_int_equal(p.ids[0], g[1].id);
    assert_int_equal(p.waits[0], 0);
    assert_int_equal(p.ids[1], g[2].id);
    assert_int_equal(p.waits[1], 1);
    assert_int_equal(p.ids[2], g[3].id);
    assert_int_equal(p.waits[2], 2);
    /* and the newer ones, finished or not */
    p = (page){0};
    assert_int_equal(s->vt->gen_watch(s, NULL, 0, users, 1, g[0].id - 1, NULL, page_row, &p, &e),
                     0);
    assert_int_equal(p.n, 4);
    assert_int_equal(p.ids[0], g[0].id);
    /* listed ids (any user's), with a user's rows, each once */
    const int64_t ids[] = {g[4].id, g[0].id, g[1].id, 999999};
    p = (page){0};
    assert_int_equal(s->vt->gen_watch(s, ids, 4, users, 1, g[4].id, NULL, page_row, &p, &e), 0);
    assert_int_equal(p.n, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(p.ids[i], g[i].id);
    assert_int_equal(p.waits[4], 3);
    /* both users; the callback can stop */
    p = (page){.stop_after = 2};
    assert_int_equal(s->vt->gen_watch(s, NULL, 0, users, 2, g[4].id, NULL, page_row, &p, &e), 0);
    assert_int_equal(p.n, 2);
    p = (page){0};
    assert_int_equal(s->vt->gen_watch(s, NULL, 0, users, 2, g[4].id, NULL, page_row, &p, &e), 0);
    assert_int_equal(p.n, 4);
    /* the rows are the records gen_find reads */
    assert_int_equal(s->vt->gen_find(s, f->u.id, g[1].uuid, &mine, NULL, &e), 0);
    assert_int_equal(mine.progress, 42);
    /* bad user ids and too many are refused */
    const char *bad[] = {"x' OR '1'='1"};
    assert_int_equal(s->vt->gen_watch(s, NULL, 0, bad, 1, 0, NULL, page_row, &p, &e), I2V_EINVAL);
    assert_int_equal(
        s->vt->gen_watch(s, ids, I2V_WATCH_MAX + 1, NULL, 0, 0, NULL, page_row, &p, &e),
        I2V_EINVAL);
}

int store_contract_run(const store_backend *backend)
{
    be = backend;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_charge_and_refund_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fields_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lease_fencing_and_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attempts_run_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_order_and_wait_number, setup, teardown),
        cmocka_unit_test_setup_teardown(test_credits_race, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idempotency_race, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idempotency_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ledger_append_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_and_ping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_together, setup_empty, teardown_empty),
        cmocka_unit_test_setup_teardown(test_claimers_share_a_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reapers_race, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notifiers_share_deliveries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_queued, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_running, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_finished, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_reaped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pages_and_find, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_outputs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ledger_page, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_native, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_gen_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_gen_get_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uploads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delivery_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_and_error_code, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch, setup, teardown),
    };
    return _cmocka_run_group_tests(be->label, tests, sizeof tests / sizeof tests[0], NULL, NULL);
}
