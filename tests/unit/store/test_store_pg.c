/*
 * test_store_pg.c - the PostgreSQL job store: the store contract
 * (store_contract.c), each test in a database of its own (CREATE DATABASE
 * i2v_tN on the test server, dropped WITH (FORCE) after it), then what is
 * PostgreSQL's own: LISTEN/NOTIFY wake-ups and their latency, the store
 * URLs (malformed, unreachable, no password in any message, pool=N,
 * conninfo and PG* variables), and a server restart in the middle of use
 * (every call fails fast with I2V_EUNAVAILABLE, then the same handle works
 * again).
 *
 * Run through tests/pg/pgserver.py, which starts a throwaway server and
 * sets I2V_TEST_PG_URL, I2V_TEST_PG_STOP and I2V_TEST_PG_START; without
 * them the test is skipped (exit 77).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store_contract.h"

typedef struct pg_ctx {
    const char *base; /* the server's URL */
    char prefix[256]; /* the base URL without its database */
    PGconn *admin;    /* on the base database: CREATE / DROP DATABASE */
    int n;
    char name[32]; /* the current test database */
    char url[320];
    PGconn *db; /* on the current one, for sql() */
} pg_ctx;

static pg_ctx ctx;

static int pg_fresh(void *arg)
{
    pg_ctx *c = arg;
    char sql[96];
    snprintf(c->name, sizeof c->name, "i2v_t%d", c->n++);
    snprintf(c->url, sizeof c->url, "%s/%s", c->prefix, c->name);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", c->name);
    PGresult *r = PQexec(c->admin, sql);
    const int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) print_error("%s: %s", sql, PQerrorMessage(c->admin));
    PQclear(r);
    return ok ? 0 : -1;
}

static int pg_open(void *arg, const i2v_store_config *cfg, i2v_store **out, i2v_error *err)
{
    return i2v__store_open(out, ((pg_ctx *)arg)->url, cfg, err);
}

static PGconn *db(pg_ctx *c)
{
    if (!c->db) c->db = PQconnectdb(c->url);
    return c->db;
}

static int pg_sql(void *arg, const char *sql)
{
    PGresult *r = PQexec(db(arg), sql);
    const ExecStatusType st = PQresultStatus(r);
    PQclear(r);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : -1;
}

static int64_t pg_sql_int(void *arg, const char *sql)
{
    PGresult *r = PQexec(db(arg), sql);
    int64_t v = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

static void pg_drop(void *arg)
{
    pg_ctx *c = arg;
    char sql[96];
    if (c->db) PQfinish(c->db);
    c->db = NULL;
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", c->name);
    PQclear(PQexec(c->admin, sql));
}

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

typedef struct fixture {
    i2v_store *a, *b;
    i2v_user u;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    i2v_store_config cfg = {2, 10000, 0};
    i2v_error e = {0};
    int64_t bal;
    if (!f || pg_fresh(&ctx) != 0) return -1;
    if (pg_open(&ctx, &cfg, &f->a, &e) != 0 || pg_open(&ctx, &cfg, &f->b, &e) != 0 ||
        f->a->vt->user_create(f->a, "t", &f->u, &e) != 0 ||
        f->a->vt->credit(f->a, f->u.id, 1000, NULL, &bal, &e) != 0) {
        print_error("setup: %s\n", e.message);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    i2v__store_close(&f->a);
    i2v__store_close(&f->b);
    pg_drop(&ctx);
    free(f);
    return 0;
}

typedef struct waiter {
    i2v_store *s;
    int timeout_ms, rc;
    double woke;
    char message[256];
} waiter;

static void *wait_main(void *arg)
{
    waiter *w = arg;
    i2v_error e = {0};
    w->rc = w->s->vt->listen(w->s, w->timeout_ms, &e);
    w->woke = mono_ms();
    snprintf(w->message, sizeof w->message, "%s", e.message);
    return NULL;
}

/* listen on one handle wakes when another queues a generation, and times
 * out with 0 when nothing is queued. */
static void test_listen_wakes(void **state)
{
    fixture *f = *state;
    i2v_error e = {0};
    int64_t bal;
    assert_non_null(f->a->vt->listen);
    assert_int_equal(f->a->vt->listen(f->a, 0, &e), 0); /* connects and LISTENs */
    double worst = 0, sum = 0;
    const int rounds = 5;
    for (int i = 0; i < rounds; i++) {
        waiter w = {.s = f->a, .timeout_ms = 5000};
        pthread_t t;
        pthread_create(&t, NULL, wait_main, &w);
        usleep(100000); /* the waiter is in poll() */
        i2v_gen g;
        store_contract_gen(f->u.id, &g, 1);
        const double t0 = mono_ms();
        assert_int_equal(f->b->vt->gen_create(f->b, &g, &bal, &e), 0);
        const double t1 = mono_ms();
        pthread_join(t, NULL);
        if (w.rc != 1) fail_msg("listen: %d %s", w.rc, w.message);
        const double lat = w.woke - t0;
        print_message("      listen woke %.2f ms after gen_create began (the create took %.2f "
                      "ms)\n",
                      lat, t1 - t0);
        assert_true(lat < 1000);
        if (lat > worst) worst = lat;
        sum += lat;
    }
    print_message("      LISTEN wake-up: mean %.2f ms, worst %.2f ms over %d\n", sum / rounds,
                  worst, rounds);
    /* nothing queued: 0 after the timeout */
    const double t0 = mono_ms();
    assert_int_equal(f->a->vt->listen(f->a, 200, &e), 0);
    const double took = mono_ms() - t0;
    assert_true(took >= 190 && took < 1500);
    /* several hints before a listen: one wake-up, then quiet */
    for (int i = 0; i < 3; i++) {
        i2v_gen g;
        store_contract_gen(f->u.id, &g, 1);
        assert_int_equal(f->b->vt->gen_create(f->b, &g, &bal, &e), 0);
    }
    usleep(50000);
    assert_int_equal(f->a->vt->listen(f->a, 1000, &e), 1);
    assert_int_equal(f->a->vt->listen(f->a, 50, &e), 0);
}

static void test_bad_urls(void **state)
{
    (void)state;
    i2v_store *s = NULL;
    struct {
        const char *url;
        int code;
        const char *says;
    } cases[] = {
        {"postgres:foo", I2V_EINVAL, "missing \"=\""},
        {"postgres:host=x nosuchoption=1", I2V_EINVAL, "nosuchoption"},
        {"postgres://127.0.0.1:99999x/db", I2V_EINVAL, "port"},
        {"postgres://127.0.0.1/db?pool=0", I2V_EINVAL, "pool="},
        {"postgres://127.0.0.1/db?pool=abc", I2V_EINVAL, "pool="},
        {"postgres:pool=65 host=x", I2V_EINVAL, "pool="},
        {"postgresql://u:s3cretpw@127.0.0.1:1/db", I2V_EUNAVAILABLE, "127.0.0.1"},
        {"postgres://u:s3cretpw@127.0.0.1:1/db?pool=2&connect_timeout=2", I2V_EUNAVAILABLE,
         "cannot connect"},
        {"postgres:host=127.0.0.1 port=1 password='s3cretpw' dbname=x", I2V_EUNAVAILABLE,
         "cannot connect"},
        {"postgres:host=/nonexistent password=s3cretpw", I2V_EUNAVAILABLE, "cannot connect"},
        {"postgres://u:s3cretpw@127.0.0.1:1/db?bogus=1", I2V_EINVAL, "bogus"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        i2v_error e = {0};
        const double t0 = mono_ms();
        const int r = i2v__store_open(&s, cases[i].url, NULL, &e);
        print_message("      %s -> %d: %s\n", cases[i].url, r, e.message);
        assert_int_equal(r, cases[i].code);
        assert_null(s);
        assert_non_null(strstr(e.message, cases[i].says));
        assert_null(strstr(e.message, "s3cretpw"));
        assert_null(strchr(e.message, '\n'));
        assert_true(mono_ms() - t0 < 6000);
    }
}

typedef struct hammer {
    i2v_store *s;
    const char *user;
    int errors;
    char message[256];
} hammer;

static void *hammer_main(void *arg)
{
    hammer *h = arg;
    for (int i = 0; i < 10; i++) {
        i2v_gen g;
        i2v_user u;
        i2v_error e = {0};
        int64_t bal;
        store_contract_gen(h->user, &g, 1);
        if ((h->s->vt->gen_create(h->s, &g, &bal, &e) != 0 ||
             h->s->vt->user_get(h->s, h->user, &u, &e) != 0) &&
            !h->errors++)
            snprintf(h->message, sizeof h->message, "%s", e.message);
    }
    return NULL;
}

static int count_gen(void *user, const i2v_gen *g)
{
    (void)g;
    (*(int *)user)++;
    return 0;
}

/* The other spellings of a store URL reach the same database, and pool=N
 * bounds the connections a handle opens. */
static void test_url_forms_and_pool(void **state)
{
    fixture *f = *state;
    char url[512];
    int port = 0;
    const char *p = strrchr(ctx.prefix, ':');
    assert_non_null(p);
    port = atoi(p + 1);
    i2v_store *s = NULL;
    i2v_error e = {0};
    i2v_user u;
    snprintf(url, sizeof url, "postgres:host=127.0.0.1 port=%d user=postgres dbname='%s' pool=2",
             port, ctx.name);
    assert_int_equal(i2v__store_open(&s, url, NULL, &e), 0);
    assert_string_equal(s->vt->name, "postgres");
    assert_int_equal(s->vt->user_get(s, f->u.id, &u, &e), 0);
    i2v__store_close(&s);
    /* "postgres:" alone: everything from the PG* variables */
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    setenv("PGHOST", "127.0.0.1", 1);
    setenv("PGPORT", portstr, 1);
    setenv("PGUSER", "postgres", 1);
    setenv("PGDATABASE", ctx.name, 1);
    assert_int_equal(i2v__store_open(&s, "postgres:", NULL, &e), 0);
    assert_int_equal(s->vt->user_get(s, f->u.id, &u, &e), 0);
    i2v__store_close(&s);
    unsetenv("PGHOST");
    unsetenv("PGPORT");
    unsetenv("PGUSER");
    unsetenv("PGDATABASE");
    /* eight threads on a handle with two connections */
    snprintf(url, sizeof url, "%s?application_name=pooltest&pool=2", ctx.url);
    assert_int_equal(i2v__store_open(&s, url, NULL, &e), 0);
    pthread_t t[8];
    hammer h[8];
    for (int i = 0; i < 8; i++) {
        h[i] = (hammer){.s = s, .user = f->u.id};
        pthread_create(&t[i], NULL, hammer_main, &h[i]);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        if (h[i].errors) fail_msg("%s", h[i].message);
    }
    const int64_t conns = pg_sql_int(&ctx, "SELECT COUNT(*) FROM pg_stat_activity"
                                           " WHERE application_name='pooltest'");
    print_message("      8 threads, pool=2: %lld connections\n", (long long)conns);
    assert_true(conns >= 1 && conns <= 2);
    i2v__store_close(&s);
    int64_t bal, sum;
    assert_int_equal(f->a->vt->ledger(f->a, f->u.id, &bal, &sum, &e), 0);
    assert_int_equal(bal, 1000 - 8 * 10);
    assert_int_equal(sum, bal);
}

static int run_env(const char *name)
{
    const char *cmd = getenv(name);
    return cmd && *cmd ? system(cmd) : -1;
}

/* Every call while the server is down: I2V_EUNAVAILABLE (or I2V_EDB), fast,
 * never a crash or a hang. */
#define DOWN(call)                                                                                 \
    do {                                                                                           \
        i2v_error de = {0};                                                                        \
        const double t0_ = mono_ms();                                                              \
        const int r_ = (call);                                                                     \
        const double took_ = mono_ms() - t0_;                                                      \
        if (r_ != I2V_EUNAVAILABLE && r_ != I2V_EDB)                                               \
            fail_msg("%s while down: %d %s", #call, r_, de.message);                               \
        if (took_ > 10000) fail_msg("%s took %.0f ms", #call, took_);                              \
        if (took_ > worst) worst = took_;                                                          \
        if (!shown++) print_message("      while down: %s\n", de.message);                         \
        calls++;                                                                                   \
    } while (0)

/* PostgreSQL stops (fast: every client is cut off) in the middle of the
 * work and starts again: the same handle works again, listen too. */
static void test_server_restart(void **state)
{
    fixture *f = *state;
    i2v_store *s = f->a;
    i2v_error e = {0};
    int64_t bal, sum;
    i2v_gen g, c, got;
    i2v_user u;
    i2v_delivery d;
    i2v_queue_stats q;
    char tok[33], hash[65];
    int wait, n = 0, calls = 0, shown = 0;
    double worst = 0;
    if (!getenv("I2V_TEST_PG_STOP") || !getenv("I2V_TEST_PG_START")) {
        print_message("      skipped: I2V_TEST_PG_STOP / I2V_TEST_PG_START not set\n");
        return;
    }
    store_contract_gen(f->u.id, &g, 1);
    snprintf(g.webhook, sizeof g.webhook, "http://example.com/h");
    assert_int_equal(s->vt->gen_create(s, &g, &bal, &e), 0);
    assert_int_equal(s->vt->gen_claim(s, "w", 60000, &c, tok, &e), 1);
    assert_int_equal(s->vt->listen(s, 0, &e), 0);
    /* every connection of the pool in use before the stop; the create
     * statement prepared on b's */
    for (int i = 0; i < 3; i++)
        assert_int_equal(f->b->vt->ping(f->b, &e), 0);
    store_contract_gen(f->u.id, &got, 1);
    assert_int_equal(f->b->vt->gen_create(f->b, &got, &bal, &e), 0);

    assert_int_equal(run_env("I2V_TEST_PG_STOP"), 0);
    DOWN(s->vt->ping(s, &de));
    DOWN(s->vt->user_get(s, f->u.id, &u, &de));
    DOWN(s->vt->user_create(s, "x", &u, &de));
    DOWN(s->vt->key_add(s, f->u.id, "h", "p", &de));
    DOWN(s->vt->key_revoke(s, "p", &de));
    DOWN(s->vt->key_user(s, "h", u.id, &de));
    DOWN(s->vt->credit(s, f->u.id, 5, NULL, &bal, &de));
    store_contract_gen(f->u.id, &got, 1);
    DOWN(s->vt->gen_create(s, &got, &bal, &de));
    DOWN(s->vt->gen_get(s, g.task_id, NULL, &got, &wait, &de));
    DOWN(s->vt->gen_list(s, f->u.id, count_gen, &n, &de));
    DOWN(s->vt->gen_claim(s, "w", 60000, &got, tok, &de));
    DOWN(s->vt->gen_renew(s, c.id, tok, 60000, 10, &de));
    i2v_gen r = {.state = I2V_GEN_SUCCEEDED};
    snprintf(r.out_key, sizeof r.out_key, "k");
    DOWN(s->vt->gen_finish(s, c.id, tok, &r, &de));
    DOWN(s->vt->gen_release(s, c.id, tok, &de));
    DOWN(s->vt->reap(s, &de));
    DOWN(s->vt->hook_claim(s, 60000, &d, &de));
    DOWN(s->vt->hook_done(s, 1, 1, -1, 200, NULL, &de));
    DOWN(s->vt->idem_get(s, f->u.id, "k", hash, &got, &bal, &de));
    DOWN(s->vt->ledger(s, f->u.id, &bal, &sum, &de));
    DOWN(s->vt->queue_stats(s, &q, &de));
    DOWN(s->vt->listen(s, 100, &de));
    DOWN(s->vt->ping(s, &de)); /* again, on connections already found dead */
    print_message("      %d calls while down, the slowest %.1f ms\n", calls, worst);

    assert_int_equal(run_env("I2V_TEST_PG_START"), 0);
    PQreset(ctx.admin);
    if (ctx.db) PQfinish(ctx.db);
    ctx.db = NULL;
    /* the same handle, first try */
    assert_int_equal(s->vt->ping(s, &e), 0);
    assert_int_equal(s->vt->user_get(s, f->u.id, &u, &e), 0);
    assert_int_equal(s->vt->gen_renew(s, c.id, tok, 60000, 50, &e), 0);
    assert_int_equal(s->vt->gen_finish(s, c.id, tok, &r, &e), 0);
    assert_int_equal(s->vt->hook_claim(s, 60000, &d, &e), 1);
    assert_int_equal(d.generation, c.id);
    assert_int_equal(s->vt->queue_stats(s, &q, &e), 0);
    assert_int_equal(q.state_count[I2V_GEN_SUCCEEDED], 1);
    /* a create, first on b since the restart: the connection the server
     * closed is found in the pool before anything is sent on it, so the
     * create goes through at once (a create is one statement, never sent
     * twice) */
    store_contract_gen(f->u.id, &got, 1);
    assert_int_equal(f->b->vt->gen_create(f->b, &got, &bal, &e), 0);
    assert_int_equal(bal, 1000 - 3);
    assert_int_equal(f->b->vt->ping(f->b, &e), 0);
    /* listen: a new connection says 1 (hints may have been missed), then
     * wakes for a create on the other handle */
    assert_int_equal(s->vt->listen(s, 0, &e), 1);
    waiter w = {.s = s, .timeout_ms = 5000};
    pthread_t t;
    pthread_create(&t, NULL, wait_main, &w);
    usleep(100000);
    store_contract_gen(f->u.id, &got, 1);
    const double t0 = mono_ms();
    assert_int_equal(f->b->vt->gen_create(f->b, &got, &bal, &e), 0);
    pthread_join(t, NULL);
    assert_int_equal(w.rc, 1);
    print_message("      after the restart, listen woke %.2f ms after gen_create began\n",
                  w.woke - t0);
    assert_int_equal(s->vt->ledger(s, f->u.id, &bal, &sum, &e), 0);
    assert_int_equal(bal, 1000 - 4);
    assert_int_equal(sum, bal);
}

int main(void)
{
    ctx.base = getenv("I2V_TEST_PG_URL");
    if (!ctx.base || !*ctx.base) {
        printf("skipped: I2V_TEST_PG_URL is not set (run through tests/pg/pgserver.py)\n");
        return 77;
    }
    snprintf(ctx.prefix, sizeof ctx.prefix, "%s", ctx.base);
    char *slash = strrchr(ctx.prefix, '/');
    if (!slash || slash < strstr(ctx.prefix, "://") + 3) return 1;
    *slash = 0;
    ctx.admin = PQconnectdb(ctx.base);
    if (PQstatus(ctx.admin) != CONNECTION_OK) {
        fprintf(stderr, "%s: %s", ctx.base, PQerrorMessage(ctx.admin));
        return 1;
    }
    store_backend be = {
        "store contract: postgres", pg_fresh, pg_open, pg_sql, pg_sql_int, pg_drop, &ctx};
    int failed = store_contract_run(&be);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_listen_wakes, setup, teardown),
        cmocka_unit_test(test_bad_urls),
        cmocka_unit_test_setup_teardown(test_url_forms_and_pool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_restart, setup, teardown),
    };
    failed += cmocka_run_group_tests_name("store postgres", tests, NULL, NULL);
    PQfinish(ctx.admin);
    return failed ? 1 : 0;
}
