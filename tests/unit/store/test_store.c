/*
 * test_store.c - the job store contract (store.h), run against the SQLite
 * backend: charges and refunds in the ledger, credits that never go below
 * zero under racing threads, leases that fence stale workers, expiry,
 * attempts, and webhook delivery rows.
 */
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

#include <sqlite3.h>

#include "store/store.h"

typedef struct fixture {
    char dir[64];
    char path[128];
    i2v_store *s;
    i2v_user u;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/i2v-store-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->path, sizeof f->path, "%s/i2v.db", f->dir);
    i2v_store_config cfg = {2, 10000, 0};
    i2v_error e = {0};
    if (i2v__store_open_sqlite(&f->s, f->path, &cfg, &e) != 0) return -1;
    if (f->s->vt->user_create(f->s, "t", &f->u, &e) != 0) return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    i2v__store_close(&f->s);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    if (system(cmd) != 0) return -1;
    free(f);
    return 0;
}

static void new_gen(fixture *f, i2v_gen *g, int price)
{
    memset(g, 0, sizeof *g);
    snprintf(g->user_id, sizeof g->user_id, "%s", f->u.id);
    g->api = 1;
    snprintf(g->image_url, sizeof g->image_url, "http://example.com/a.jpg");
    snprintf(g->move, sizeof g->move, "ZOOM_IN");
    g->duration = 5;
    g->width = 854;
    g->height = 480;
    g->price = price;
}

static void balanced(fixture *f, int64_t want)
{
    int64_t bal, sum;
    i2v_error e = {0};
    assert_int_equal(f->s->vt->ledger(f->s, f->u.id, &bal, &sum, &e), 0);
    assert_int_equal(bal, want);
    assert_int_equal(sum, want);
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
    assert_int_equal(s->vt->gen_renew(s, g.id, tb, 60000, 42, &e), 0);
    i2v_gen got;
    s->vt->gen_get(s, g.task_id, NULL, &got, NULL, &e);
    assert_int_equal(got.progress, 42);
    snprintf(r.out_key, sizeof r.out_key, "bbbb");
    r.out_width = 854;
    assert_int_equal(s->vt->gen_finish(s, g.id, tb, &r, &e), 0);
    s->vt->gen_get(s, g.task_id, NULL, &got, NULL, &e);
    assert_int_equal(got.state, I2V_GEN_SUCCEEDED);
    assert_string_equal(got.out_key, "bbbb");
    assert_int_equal(got.progress, 100);
    balanced(f, 90);
    /* the webhook row was written with the final state, once */
    i2v_delivery d;
    assert_int_equal(s->vt->hook_claim(s, 60000, &d, &e), 1);
    assert_int_equal(d.generation, g.id);
    assert_int_equal(d.task_id, g.task_id);
    assert_string_equal(d.url, "http://example.com/hook");
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
    int accepted;
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    for (int i = 0; i < 10; i++) {
        i2v_gen g;
        i2v_error e = {0};
        int64_t bal;
        new_gen(r->f, &g, 10);
        int rc = r->f->s->vt->gen_create(r->f->s, &g, &bal, &e);
        if (rc == 0)
            r->accepted++;
        else if (rc != I2V_ECREDIT)
            fail_msg("gen_create: %s", e.message);
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
        r[i] = (racer){f, 0};
        pthread_create(&t[i], NULL, race, &r[i]);
    }
    int total = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        total += r[i].accepted;
    }
    assert_int_equal(total, 10);
    balanced(f, 0);
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
    i2v_user u;
    assert_int_equal(s->vt->user_get(s, f->u.id, &u, &e), 0);
    assert_string_equal(u.webhook_secret, f->u.webhook_secret);
    assert_int_equal(s->vt->credit(s, f->u.id, 0, NULL, NULL, &e), I2V_EINVAL);
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
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char sql[200];
    const long long now = (long long)i2v__now_ms(), min = 60000;
    snprintf(sql, sizeof sql, "UPDATE idempotency SET created_ms=%lld", now - (24 * 60 - 1) * min);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    assert_true(s->vt->reap(s, &e) >= 0);
    assert_int_equal(s->vt->idem_get(s, f->u.id, "order-42", hash, &got, &bal, &e), 0);
    snprintf(sql, sizeof sql, "UPDATE idempotency SET created_ms=%lld", now - (24 * 60 + 1) * min);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_true(s->vt->reap(s, &e) >= 0);
    assert_int_equal(s->vt->idem_get(s, f->u.id, "order-42", hash, &got, &bal, &e), I2V_ENOTFOUND);
    /* the key is free again: a new generation, a new charge */
    assert_int_equal(s->vt->gen_create(s, &again, &bal, &e), 0);
    assert_int_equal(bal, 60);
    balanced(f, 60);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_charge_and_refund_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lease_fencing_and_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attempts_run_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_order_and_wait_number, setup, teardown),
        cmocka_unit_test_setup_teardown(test_credits_race, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idempotency_keys, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
