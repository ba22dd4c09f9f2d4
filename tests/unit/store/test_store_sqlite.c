/*
 * test_store_sqlite.c - the SQLite job store: the store contract
 * (store_contract.c) on a fresh file per test, then what is SQLite's own: a
 * database made before schema versions opens as version 1 with its data,
 * the sqlite: URLs, and no wake-up hints (listen is NULL: workers poll).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_contract.h"

static char root[64] = "/tmp/i2v-store-XXXXXX";

typedef struct sq_ctx {
    int n;
    char path[160];
} sq_ctx;

static int sq_fresh(void *ctx)
{
    sq_ctx *c = ctx;
    snprintf(c->path, sizeof c->path, "%s/store-%d.db", root, c->n++);
    return 0;
}

static int sq_open(void *ctx, const i2v_store_config *cfg, i2v_store **out, i2v_error *err)
{
    return i2v__store_open_sqlite(out, ((sq_ctx *)ctx)->path, cfg, err);
}

static int sq_sql(void *ctx, const char *sql)
{
    sqlite3 *db;
    if (sqlite3_open(((sq_ctx *)ctx)->path, &db) != SQLITE_OK) return -1;
    sqlite3_busy_timeout(db, 5000);
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

static int64_t sq_sql_int(void *ctx, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *q = NULL;
    int64_t v = -1;
    if (sqlite3_open(((sq_ctx *)ctx)->path, &db) != SQLITE_OK) return -1;
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return v;
}

static void sq_drop(void *ctx)
{
    sq_ctx *c = ctx;
    char p[200];
    unlink(c->path);
    snprintf(p, sizeof p, "%s-wal", c->path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", c->path);
    unlink(p);
}

/* The schema as i2v wrote it before versions and before tours (no
 * schema_migrations, no more_urls). */
static const char legacy_schema[] =
    "CREATE TABLE users(id TEXT PRIMARY KEY, name TEXT NOT NULL, webhook_secret TEXT NOT NULL,"
    " balance INTEGER NOT NULL DEFAULT 0 CHECK (balance >= 0), created_ms INTEGER NOT NULL);"
    "CREATE TABLE api_keys(hash TEXT PRIMARY KEY, prefix TEXT NOT NULL,"
    " user_id TEXT NOT NULL REFERENCES users(id), revoked INTEGER NOT NULL DEFAULT 0,"
    " created_ms INTEGER NOT NULL);"
    "CREATE TABLE ledger(id INTEGER PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id),"
    " amount INTEGER NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('topup','charge','refund')),"
    " generation INTEGER, note TEXT, created_ms INTEGER NOT NULL, UNIQUE (generation, kind));"
    "CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger"
    " BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;"
    "CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger"
    " BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;"
    "CREATE TABLE generations(id INTEGER PRIMARY KEY, task_id INTEGER NOT NULL UNIQUE,"
    " uuid TEXT NOT NULL UNIQUE, project_id TEXT NOT NULL,"
    " user_id TEXT NOT NULL REFERENCES users(id), api INTEGER NOT NULL, state INTEGER NOT NULL,"
    " progress INTEGER NOT NULL DEFAULT 0, image_url TEXT NOT NULL,"
    " last_image_url TEXT NOT NULL DEFAULT '', prompt TEXT, move TEXT NOT NULL,"
    " duration INTEGER NOT NULL, resolution TEXT NOT NULL DEFAULT '', width INTEGER NOT NULL,"
    " height INTEGER NOT NULL, fit_portrait INTEGER NOT NULL, model INTEGER NOT NULL,"
    " audio INTEGER NOT NULL, audio_given INTEGER NOT NULL, webhook TEXT NOT NULL DEFAULT '',"
    " price INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, lease_token TEXT,"
    " lease_owner TEXT, lease_expires_ms INTEGER, out_key TEXT NOT NULL DEFAULT '',"
    " out_width INTEGER NOT NULL DEFAULT 0, out_height INTEGER NOT NULL DEFAULT 0,"
    " plan_prompt TEXT NOT NULL DEFAULT '', error TEXT NOT NULL DEFAULT '',"
    " created_ms INTEGER NOT NULL, started_ms INTEGER NOT NULL DEFAULT 0,"
    " finished_ms INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE deliveries(id INTEGER PRIMARY KEY,"
    " generation INTEGER NOT NULL UNIQUE REFERENCES generations(id), url TEXT NOT NULL,"
    " msg_id TEXT NOT NULL, state INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,"
    " next_ms INTEGER NOT NULL, last_status INTEGER NOT NULL DEFAULT 0,"
    " last_error TEXT NOT NULL DEFAULT '', delivered_ms INTEGER NOT NULL DEFAULT 0);"
    "INSERT INTO users VALUES('11111111-1111-4111-8111-111111111111', 'old', 'whsec_x', 70, 1);"
    "INSERT INTO ledger(user_id, amount, kind, created_ms)"
    " VALUES('11111111-1111-4111-8111-111111111111', 100, 'topup', 1);"
    "INSERT INTO ledger(user_id, amount, kind, generation, created_ms)"
    " VALUES('11111111-1111-4111-8111-111111111111', -30, 'charge', 1, 2);"
    "INSERT INTO generations(id, task_id, uuid, project_id, user_id, api, state, image_url, move,"
    " duration, width, height, fit_portrait, model, audio, audio_given, price, created_ms)"
    " VALUES(1, 1099511627777, '22222222-2222-4222-8222-222222222222', 'p',"
    " '11111111-1111-4111-8111-111111111111', 1, 0, 'http://example.com/old.jpg', 'ZOOM_IN',"
    " 5, 854, 480, 0, 0, 0, 0, 30, 2);";

/* A database made before versions (and before tours) is version 1 with all
 * its rows, then gets step 2; the next open applies nothing. */
static void test_legacy_database(void **state)
{
    sq_ctx *c = *state;
    sq_fresh(c);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(c->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, legacy_schema, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    char url[200];
    snprintf(url, sizeof url, "sqlite:%s", c->path);
    i2v_store *s = NULL;
    i2v_error e = {0};
    assert_int_equal(i2v__store_open(&s, url, NULL, &e), 0);
    assert_int_equal(sq_sql_int(c, "SELECT COUNT(*) FROM schema_migrations WHERE version=1"), 1);
    i2v_user u;
    assert_int_equal(s->vt->user_get(s, "11111111-1111-4111-8111-111111111111", &u, &e), 0);
    assert_int_equal(u.balance, 70);
    i2v_gen g;
    int wait;
    assert_int_equal(s->vt->gen_get(s, 1099511627777LL, NULL, &g, &wait, &e), 0);
    assert_string_equal(g.image_url, "http://example.com/old.jpg");
    assert_string_equal(g.more_urls, "");
    int64_t bal, sum;
    assert_int_equal(s->vt->ledger(s, u.id, &bal, &sum, &e), 0);
    assert_int_equal(bal, 70);
    assert_int_equal(sum, 70);
    /* the tables step 1 adds, and the new column, work */
    store_contract_gen(u.id, &g, 10);
    snprintf(g.more_urls, sizeof g.more_urls, "http://example.com/2.jpg");
    snprintf(g.idem_key, sizeof g.idem_key, "k");
    assert_int_equal(s->vt->gen_create(s, &g, &bal, &e), 0);
    assert_int_equal(bal, 60);
    i2v__store_close(&s);
    assert_int_equal(i2v__store_open(&s, url, NULL, &e), 0);
    assert_int_equal(sq_sql_int(c, "SELECT COUNT(*) FROM schema_migrations"), 3);
    /* step 2's columns on the old rows */
    i2v_gen old;
    assert_int_equal(s->vt->gen_get(s, 1099511627777LL, NULL, &old, NULL, &e), 0);
    assert_int_equal(old.cancel_requested, 0);
    assert_int_equal(old.outputs_deleted_ms, 0);
    assert_int_equal(s->vt->gen_get(s, 0, g.uuid, &g, NULL, &e), 0);
    assert_string_equal(g.more_urls, "http://example.com/2.jpg");
    i2v__store_close(&s);
    sq_drop(c);
}

static void test_urls_and_members(void **state)
{
    sq_ctx *c = *state;
    i2v_store *s = NULL;
    i2v_error e = {0};
    assert_int_equal(i2v__store_open(&s, "", NULL, &e), I2V_EINVAL);
    i2v_error e2 = {0};
    assert_int_equal(i2v__store_open(&s, "sqlite:", NULL, &e2), I2V_EINVAL);
    assert_non_null(strstr(e2.message, "sqlite:PATH"));
    i2v_error e3 = {0};
    assert_int_equal(i2v__store_open(&s, "mysql://u:pw@h/db", NULL, &e3), I2V_EINVAL);
    assert_non_null(strstr(e3.message, "'mysql:…'"));
    assert_null(strstr(e3.message, "pw"));
    assert_null(s);
    sq_fresh(c);
    char url[200];
    snprintf(url, sizeof url, "sqlite:%s", c->path);
    assert_int_equal(i2v__store_open(&s, url, NULL, &e), 0);
    assert_string_equal(s->vt->name, "sqlite");
    assert_null(s->vt->listen);
    assert_non_null(s->vt->queue_stats);
    assert_int_equal(s->vt->ping(s, &e), 0);
    i2v__store_close(&s);
    i2v__store_close(&s); /* NULL: nothing */
    sq_drop(c);
}

int main(void)
{
    if (!mkdtemp(root)) return 1;
    sq_ctx ctx = {0};
    store_backend be = {
        "store contract: sqlite", sq_fresh, sq_open, sq_sql, sq_sql_int, sq_drop, &ctx};
    int failed = store_contract_run(&be);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_prestate(test_legacy_database, &ctx),
        cmocka_unit_test_prestate(test_urls_and_members, &ctx),
    };
    failed += cmocka_run_group_tests_name("store sqlite", tests, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0) return 1;
    return failed ? 1 : 0;
}
