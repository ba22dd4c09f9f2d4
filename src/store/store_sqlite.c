/*
 * store_sqlite.c - the job store on SQLite (the embedded default).
 *
 * One database file in WAL mode; every write transaction is BEGIN IMMEDIATE
 * so writers queue on the busy timeout instead of failing on upgrade; one
 * connection per thread (readers never wait for writers in WAL), each with
 * its prepared statements cached.
 *
 * Versioned schema: schema_migrations(version, applied_ms) lists the steps a
 * database has; open applies the missing ones in one BEGIN IMMEDIATE
 * transaction (after a read, so an up-to-date database takes no write
 * lock). A database made before versions (no such table) gets step 1, which
 * only creates what is missing, so it is recognised as version 1 as is.
 */
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/crypto.h"
#include "common/error.h"
#include "store.h"

/* Step 1: the schema as it was before versions (every statement IF NOT
 * EXISTS), so that step 1 also adopts those databases. */
static const char schema_v1[] =
    "CREATE TABLE IF NOT EXISTS users("
    " id TEXT PRIMARY KEY, name TEXT NOT NULL, webhook_secret TEXT NOT NULL,"
    " balance INTEGER NOT NULL DEFAULT 0 CHECK (balance >= 0), created_ms INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS api_keys("
    " hash TEXT PRIMARY KEY, prefix TEXT NOT NULL, user_id TEXT NOT NULL REFERENCES users(id),"
    " revoked INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS api_keys_prefix ON api_keys(prefix);"
    /* Append-only: rows are only ever inserted. */
    "CREATE TABLE IF NOT EXISTS ledger("
    " id INTEGER PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id),"
    " amount INTEGER NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('topup','charge','refund')),"
    " generation INTEGER, note TEXT, created_ms INTEGER NOT NULL,"
    " UNIQUE (generation, kind));"
    "CREATE INDEX IF NOT EXISTS ledger_user ON ledger(user_id);"
    "CREATE TRIGGER IF NOT EXISTS ledger_no_update BEFORE UPDATE ON ledger"
    " BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;"
    "CREATE TRIGGER IF NOT EXISTS ledger_no_delete BEFORE DELETE ON ledger"
    " BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;"
    "CREATE TABLE IF NOT EXISTS generations("
    " id INTEGER PRIMARY KEY, task_id INTEGER NOT NULL UNIQUE, uuid TEXT NOT NULL UNIQUE,"
    " project_id TEXT NOT NULL, user_id TEXT NOT NULL REFERENCES users(id), api INTEGER NOT NULL,"
    " state INTEGER NOT NULL, progress INTEGER NOT NULL DEFAULT 0,"
    " image_url TEXT NOT NULL, last_image_url TEXT NOT NULL DEFAULT '',"
    " prompt TEXT, move TEXT NOT NULL, duration INTEGER NOT NULL,"
    " resolution TEXT NOT NULL DEFAULT '', width INTEGER NOT NULL, height INTEGER NOT NULL,"
    " fit_portrait INTEGER NOT NULL, model INTEGER NOT NULL, audio INTEGER NOT NULL,"
    " audio_given INTEGER NOT NULL, webhook TEXT NOT NULL DEFAULT '', price INTEGER NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0, lease_token TEXT, lease_owner TEXT,"
    " lease_expires_ms INTEGER, out_key TEXT NOT NULL DEFAULT '',"
    " out_width INTEGER NOT NULL DEFAULT 0, out_height INTEGER NOT NULL DEFAULT 0,"
    " plan_prompt TEXT NOT NULL DEFAULT '', error TEXT NOT NULL DEFAULT '',"
    " created_ms INTEGER NOT NULL, started_ms INTEGER NOT NULL DEFAULT 0,"
    " finished_ms INTEGER NOT NULL DEFAULT 0, more_urls TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX IF NOT EXISTS generations_queue ON generations(state, id);"
    "CREATE INDEX IF NOT EXISTS generations_user ON generations(user_id, id);"
    "CREATE TABLE IF NOT EXISTS deliveries("
    " id INTEGER PRIMARY KEY, generation INTEGER NOT NULL UNIQUE REFERENCES generations(id),"
    " url TEXT NOT NULL, msg_id TEXT NOT NULL, state INTEGER NOT NULL DEFAULT 0,"
    " attempts INTEGER NOT NULL DEFAULT 0, next_ms INTEGER NOT NULL,"
    " last_status INTEGER NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '',"
    " delivered_ms INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries(state, next_ms);"
    "CREATE TABLE IF NOT EXISTS idempotency("
    " user_id TEXT NOT NULL REFERENCES users(id), key TEXT NOT NULL, hash TEXT NOT NULL,"
    " generation INTEGER NOT NULL REFERENCES generations(id), balance INTEGER NOT NULL,"
    " created_ms INTEGER NOT NULL, PRIMARY KEY (user_id, key));"
    "CREATE INDEX IF NOT EXISTS idempotency_age ON idempotency(created_ms);";

/* Databases made before tours lack the column; step 1 adds it. */
static int v1_more_urls(sqlite3 *db)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT 1 FROM pragma_table_info('generations') WHERE name='more_urls'",
                           -1, &q, NULL) != SQLITE_OK)
        return -1;
    const int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    if (rc == SQLITE_ROW) return 0;
    if (rc != SQLITE_DONE) return -1;
    return sqlite3_exec(db, "ALTER TABLE generations ADD COLUMN more_urls TEXT NOT NULL DEFAULT ''",
                        NULL, NULL, NULL) == SQLITE_OK
               ? 0
               : -1;
}

/* Step 2: the native API (cancel, deleted outputs, named keys with their
 * last use, pages by user). */
static const char schema_v2[] =
    "ALTER TABLE generations ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE generations ADD COLUMN outputs_deleted_ms INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE api_keys ADD COLUMN name TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE api_keys ADD COLUMN last_used_ms INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX generations_project ON generations(user_id, project_id);"
    "CREATE INDEX api_keys_user ON api_keys(user_id);"
    "CREATE INDEX ledger_user_id ON ledger(user_id, id);";

/* Step 3: uploads, the webhook delivery log (with its owner, creation time,
 * rounds of attempts and in-flight claims) and a failure's API v1 code. */
static const char schema_v3[] =
    "ALTER TABLE generations ADD COLUMN error_code INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE deliveries ADD COLUMN user_id TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE deliveries ADD COLUMN created_ms INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE deliveries ADD COLUMN round_start INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE deliveries ADD COLUMN claimed_until INTEGER NOT NULL DEFAULT 0;"
    "UPDATE deliveries SET"
    " user_id=(SELECT g.user_id FROM generations g WHERE g.id=deliveries.generation),"
    " created_ms=(SELECT g.finished_ms FROM generations g WHERE g.id=deliveries.generation);"
    "CREATE INDEX deliveries_user ON deliveries(user_id, id);"
    "CREATE TABLE uploads("
    " id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id), blob TEXT NOT NULL,"
    " format TEXT NOT NULL, bytes INTEGER NOT NULL, width INTEGER NOT NULL,"
    " height INTEGER NOT NULL, created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL,"
    " idem_key TEXT NOT NULL DEFAULT '', idem_hash TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX uploads_expiry ON uploads(expires_ms);"
    "CREATE UNIQUE INDEX uploads_idem ON uploads(user_id, idem_key) WHERE idem_key<>'';";

/* Schema steps, in order. Append only. */
static const struct {
    int version;
    const char *sql;
    int (*fix)(sqlite3 *db); /* then, when not NULL */
} migrations[] = {
    {1, schema_v1, v1_more_urls},
    {2, schema_v2, NULL},
    {3, schema_v3, NULL},
};
#define SCHEMA_VERSION 3

/* The error of a cancelled generation (what the seed APIs' readers see). */
#define CANCELLED_ERROR "cancelled"

#define GEN_COLS                                                                                   \
    "id, task_id, uuid, project_id, user_id, api, state, progress, image_url, last_image_url,"     \
    " prompt, move, duration, resolution, width, height, fit_portrait, model, audio, audio_given," \
    " webhook, price, attempts, out_key, out_width, out_height, plan_prompt, error, created_ms,"   \
    " started_ms, finished_ms, more_urls, cancel_requested, outputs_deleted_ms, error_code"

#define UPLOAD_COLS                                                                                \
    "id, user_id, blob, format, bytes, width, height, created_ms, expires_ms, idem_hash"
#define HOOK_COLS                                                                                  \
    "d.id, g.uuid, g.state, d.url, d.msg_id, d.state, d.attempts, d.last_status, d.last_error,"    \
    " d.next_ms, d.delivered_ms, d.created_ms"

enum {
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_USER_INS,
    S_USER_GET,
    S_KEY_INS,
    S_KEY_REVOKE,
    S_KEY_USER,
    S_BAL_ADD,
    S_BAL_TAKE,
    S_LEDGER_INS,
    S_LEDGER_SUM,
    S_GEN_INS,
    S_GEN_BY_TASK,
    S_GEN_BY_UUID,
    S_GEN_WAIT,
    S_GEN_LIST,
    S_GEN_WORK,
    S_GEN_NEXT,
    S_GEN_CLAIM,
    S_GEN_RENEW,
    S_GEN_DONE,
    S_GEN_RELEASE,
    S_GEN_EXPIRED,
    S_GEN_REQUEUE,
    S_HOOK_INS,
    S_HOOK_DUE,
    S_HOOK_LEASE,
    S_HOOK_DONE,
    S_IDEM_HAS,
    S_IDEM_INS,
    S_IDEM_GET,
    S_IDEM_OLD,
    S_IDEM_PURGE,
    S_GEN_BY_ID,
    S_BEGIN_READ,
    S_STATS_STATES,
    S_STATS_QUEUE,
    S_STATS_OWNERS,
    S_PING,
    S_GEN_BY_PROJECT,
    S_GEN_PAGE,
    S_GEN_OWNED,
    S_GEN_CANCEL_QUEUED,
    S_GEN_CANCEL_ASK,
    S_GEN_OUTPUTS_DEL,
    S_LEDGER_PAGE,
    S_KEY_INS_NAMED,
    S_KEY_LIST,
    S_KEY_REVOKE_OWN,
    S_KEY_AUTH,
    S_KEY_TOUCH,
    S_UPLOAD_INS,
    S_UPLOAD_BY_IDEM,
    S_UPLOAD_GET,
    S_UPLOAD_EXPIRED,
    S_UPLOAD_DEL,
    S_USER_SECRET,
    S_HOOK_PAGE,
    S_HOOK_AGAIN,
    S_HOOK_SOONER,
    S_HOOK_GET,
    S_WATCH_MAX,
    S_WATCH,
    S_COUNT
};

static const char *const sql[S_COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_USER_INS] = "INSERT INTO users(id, name, webhook_secret, created_ms) VALUES(?,?,?,?)",
    [S_USER_GET] = "SELECT id, name, webhook_secret, balance, created_ms FROM users WHERE id=?",
    [S_KEY_INS] = "INSERT INTO api_keys(hash, prefix, user_id, created_ms) VALUES(?,?,?,?)",
    [S_KEY_REVOKE] = "UPDATE api_keys SET revoked=1 WHERE (prefix=?1 OR hash=?1) AND revoked=0",
    [S_KEY_USER] = "SELECT user_id FROM api_keys WHERE hash=? AND revoked=0",
    [S_BAL_ADD] = "UPDATE users SET balance=balance+?2 WHERE id=?1",
    [S_BAL_TAKE] = "UPDATE users SET balance=balance-?2 WHERE id=?1 AND balance>=?2",
    [S_LEDGER_INS] = "INSERT INTO ledger(user_id, amount, kind, generation, note, created_ms)"
                     " VALUES(?,?,?,?,?,?) ON CONFLICT DO NOTHING",
    [S_LEDGER_SUM] = "SELECT (SELECT balance FROM users WHERE id=?1),"
                     " (SELECT COALESCE(SUM(amount),0) FROM ledger WHERE user_id=?1)",
    [S_GEN_INS] =
        "INSERT INTO generations(task_id, uuid, project_id, user_id, api, state, image_url,"
        " last_image_url, prompt, move, duration, resolution, width, height, fit_portrait, model,"
        " audio, audio_given, webhook, price, created_ms, more_urls)"
        " VALUES(?,?,?,?,?,0,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [S_GEN_BY_TASK] = "SELECT " GEN_COLS " FROM generations WHERE task_id=?",
    [S_GEN_BY_UUID] = "SELECT " GEN_COLS " FROM generations WHERE uuid=?",
    [S_GEN_WAIT] = "SELECT (SELECT COUNT(*) FROM generations WHERE state=0 AND id<?1)"
                   " + (SELECT COUNT(*) FROM generations WHERE state=1)",
    [S_GEN_LIST] = "SELECT " GEN_COLS " FROM generations WHERE user_id=? ORDER BY id",
    [S_GEN_WORK] = "SELECT EXISTS (SELECT 1 FROM generations WHERE state=0)"
                   " OR EXISTS (SELECT 1 FROM generations WHERE state=1 AND lease_expires_ms<?)",
    [S_GEN_NEXT] = "SELECT " GEN_COLS " FROM generations WHERE state=0 ORDER BY id LIMIT 1",
    [S_GEN_CLAIM] = "UPDATE generations SET state=1, progress=0, attempts=attempts+1,"
                    " lease_token=?2, lease_owner=?3, lease_expires_ms=?4, started_ms=?5"
                    " WHERE id=?1 AND state=0",
    [S_GEN_RENEW] = "UPDATE generations SET lease_expires_ms=?3, progress=MAX(progress, ?4)"
                    " WHERE id=?1 AND state=1 AND lease_token=?2 RETURNING cancel_requested",
    /* A cancel-requested generation ends cancelled whatever the worker says. */
    [S_GEN_DONE] = "UPDATE generations SET state=CASE WHEN cancel_requested<>0 THEN 4 ELSE ?3 END,"
                   " progress=CASE WHEN cancel_requested<>0 THEN 0 ELSE ?4 END,"
                   " out_key=CASE WHEN cancel_requested<>0 THEN '' ELSE ?5 END,"
                   " out_width=CASE WHEN cancel_requested<>0 THEN 0 ELSE ?6 END,"
                   " out_height=CASE WHEN cancel_requested<>0 THEN 0 ELSE ?7 END, plan_prompt=?8,"
                   " error=CASE WHEN cancel_requested<>0 THEN '" CANCELLED_ERROR "' ELSE ?9 END,"
                   " error_code=CASE WHEN cancel_requested<>0 THEN 0 ELSE ?11 END,"
                   " finished_ms=?10, lease_token=NULL, lease_expires_ms=NULL"
                   " WHERE id=?1 AND state=1 AND (?2 IS NULL OR lease_token=?2)"
                   " RETURNING user_id, price, state",
    [S_GEN_RELEASE] = "UPDATE generations SET state=0, progress=0, attempts=attempts-1,"
                      " lease_token=NULL, lease_expires_ms=NULL"
                      " WHERE id=?1 AND state=1 AND lease_token=?2 AND cancel_requested=0",
    [S_GEN_EXPIRED] = "SELECT id, attempts, cancel_requested FROM generations"
                      " WHERE state=1 AND lease_expires_ms<?",
    [S_GEN_REQUEUE] = "UPDATE generations SET state=0, progress=0, lease_token=NULL,"
                      " lease_expires_ms=NULL WHERE id=? AND state=1",
    [S_HOOK_INS] = "INSERT INTO deliveries(generation, url, msg_id, next_ms, user_id, created_ms)"
                   " SELECT id, webhook, 'msg_' || uuid, ?2, user_id, ?2 FROM generations"
                   " WHERE id=?1 AND webhook<>'' ON CONFLICT DO NOTHING",
    [S_HOOK_DUE] = "SELECT d.id, d.generation, d.url, d.msg_id, d.attempts - d.round_start,"
                   " g.task_id FROM deliveries d JOIN generations g ON g.id=d.generation"
                   " WHERE d.state=0 AND d.next_ms<=? ORDER BY d.next_ms LIMIT 1",
    [S_HOOK_LEASE] = "UPDATE deliveries SET next_ms=?2, claimed_until=?2 WHERE id=?1 AND state=0",
    /* delivered_ms keeps the last delivery when an attempt of a redelivery fails */
    [S_HOOK_DONE] = "UPDATE deliveries SET state=?2, attempts=attempts+1, next_ms=?3,"
                    " last_status=?4, last_error=?5,"
                    " delivered_ms=CASE WHEN ?6>0 THEN ?6 ELSE delivered_ms END, claimed_until=0"
                    " WHERE id=?1",
    [S_IDEM_HAS] = "SELECT 1 FROM idempotency WHERE user_id=? AND key=?",
    [S_IDEM_INS] = "INSERT INTO idempotency(user_id, key, hash, generation, balance, created_ms)"
                   " VALUES(?,?,?,?,?,?)",
    [S_IDEM_GET] = "SELECT hash, balance, generation FROM idempotency WHERE user_id=? AND key=?",
    [S_GEN_BY_ID] = "SELECT " GEN_COLS " FROM generations WHERE id=?",
    [S_IDEM_OLD] = "SELECT 1 FROM idempotency WHERE created_ms<? LIMIT 1",
    [S_IDEM_PURGE] = "DELETE FROM idempotency WHERE created_ms<?",
    [S_BEGIN_READ] = "BEGIN",
    [S_STATS_STATES] = "SELECT state, COUNT(*) FROM generations GROUP BY state",
    [S_STATS_QUEUE] = "SELECT (SELECT COALESCE(MIN(created_ms),0) FROM generations WHERE state=0),"
                      " (SELECT COUNT(*) FROM deliveries WHERE state=0)",
    [S_STATS_OWNERS] = "SELECT COALESCE(lease_owner,''), COUNT(*), MIN(lease_expires_ms)"
                       " FROM generations WHERE state=1 GROUP BY 1 ORDER BY 1 LIMIT ?",
    [S_PING] = "SELECT 1",
    [S_GEN_BY_PROJECT] = "SELECT " GEN_COLS " FROM generations WHERE user_id=? AND project_id=?"
                         " ORDER BY id DESC LIMIT 1",
    [S_GEN_PAGE] = "SELECT " GEN_COLS ", CASE WHEN state=0 THEN"
                   " (SELECT COUNT(*) FROM generations q WHERE q.state=0 AND q.id<g.id)"
                   " + (SELECT COUNT(*) FROM generations r WHERE r.state=1) ELSE 0 END"
                   " FROM generations g WHERE user_id=?1 AND (?2<0 OR state=?2)"
                   " AND (?3=0 OR id<?3) ORDER BY id DESC LIMIT ?4",
    [S_GEN_OWNED] = "SELECT state, price FROM generations WHERE id=?1 AND user_id=?2",
    [S_GEN_CANCEL_QUEUED] = "UPDATE generations SET state=4, progress=0, cancel_requested=1,"
                            " error='" CANCELLED_ERROR "', finished_ms=?2 WHERE id=?1 AND state=0",
    [S_GEN_CANCEL_ASK] = "UPDATE generations SET cancel_requested=1 WHERE id=?1 AND state=1",
    [S_GEN_OUTPUTS_DEL] =
        "UPDATE generations SET outputs_deleted_ms=?2 WHERE id=?1 AND outputs_deleted_ms=0",
    /* balance_after is the running sum of the user's ledger in id order */
    [S_LEDGER_PAGE] =
        "SELECT id, kind, amount, after, gen, note, created_ms FROM"
        " (SELECT l.id, l.kind, l.amount, SUM(l.amount) OVER (ORDER BY l.id) AS after,"
        " COALESCE(g.uuid, '') AS gen, COALESCE(l.note, '') AS note, l.created_ms"
        " FROM ledger l LEFT JOIN generations g ON g.id=l.generation"
        " WHERE l.user_id=?1) WHERE ?2=0 OR id<?2 ORDER BY id DESC LIMIT ?3",
    [S_KEY_INS_NAMED] = "INSERT INTO api_keys(hash, prefix, user_id, created_ms, name)"
                        " VALUES(?,?,?,?,?)",
    [S_KEY_LIST] = "SELECT prefix, name, created_ms, last_used_ms, revoked FROM api_keys"
                   " WHERE user_id=? ORDER BY created_ms DESC, rowid DESC",
    [S_KEY_REVOKE_OWN] = "UPDATE api_keys SET revoked=1 WHERE user_id=?1 AND prefix=?2",
    [S_KEY_AUTH] = "SELECT user_id, last_used_ms FROM api_keys WHERE hash=? AND revoked=0",
    [S_KEY_TOUCH] = "UPDATE api_keys SET last_used_ms=?2 WHERE hash=?1 AND last_used_ms<=?3",
    [S_UPLOAD_INS] = "INSERT INTO uploads(id, user_id, blob, format, bytes, width, height,"
                     " created_ms, expires_ms, idem_key, idem_hash)"
                     " VALUES(?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
    [S_UPLOAD_BY_IDEM] = "SELECT " UPLOAD_COLS " FROM uploads WHERE user_id=? AND idem_key=?",
    [S_UPLOAD_GET] = "SELECT " UPLOAD_COLS " FROM uploads WHERE id=?",
    [S_UPLOAD_EXPIRED] = "SELECT " UPLOAD_COLS " FROM uploads WHERE expires_ms<?"
                         " ORDER BY expires_ms LIMIT ?",
    [S_UPLOAD_DEL] = "DELETE FROM uploads WHERE id=?",
    [S_USER_SECRET] = "UPDATE users SET webhook_secret=?2 WHERE id=?1",
    [S_HOOK_PAGE] = "SELECT " HOOK_COLS " FROM deliveries d JOIN generations g"
                    " ON g.id=d.generation WHERE d.user_id=?1 AND (?2=0 OR d.generation=?2)"
                    " AND (?3=0 OR d.id<?3) ORDER BY d.id DESC LIMIT ?4",
    [S_HOOK_AGAIN] = "UPDATE deliveries SET state=0, next_ms=?3, round_start=attempts"
                     " WHERE id=?1 AND user_id=?2 AND state<>0",
    [S_HOOK_SOONER] = "UPDATE deliveries SET next_ms=MIN(next_ms, ?3)"
                      " WHERE id=?1 AND user_id=?2 AND state=0 AND claimed_until<=?3",
    [S_HOOK_GET] = "SELECT " HOOK_COLS " FROM deliveries d JOIN generations g"
                   " ON g.id=d.generation WHERE d.id=?1 AND d.user_id=?2",
    [S_WATCH_MAX] = "SELECT COALESCE(MAX(id),0) FROM generations",
    /* ?1: JSON array of ids, ?2: JSON array of user ids, ?3: after */
    [S_WATCH] = "SELECT " GEN_COLS ", CASE WHEN state=0 THEN"
                " (SELECT COUNT(*) FROM generations q WHERE q.state=0 AND q.id<g.id)"
                " + (SELECT COUNT(*) FROM generations r WHERE r.state=1) ELSE 0 END"
                " FROM generations g WHERE g.id IN (SELECT value FROM json_each(?1)"
                " UNION SELECT x.id FROM generations x WHERE x.state IN (0,1)"
                " AND x.user_id IN (SELECT value FROM json_each(?2))"
                " UNION SELECT x.id FROM generations x"
                " WHERE x.user_id IN (SELECT value FROM json_each(?2)) AND x.id>?3)"
                " ORDER BY g.id",
};

typedef struct conn {
    sqlite3 *db;
    sqlite3_stmt *st[S_COUNT];
} conn;

typedef struct sq_store {
    i2v_store base;
    char *path;
    i2v_store_config cfg;
    pthread_key_t key;
    pthread_mutex_t lock; /* guards conns */
    conn **conns;
    int nconns, capconns;
} sq_store;

static void conn_free(conn *c)
{
    if (!c) return;
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(c->st[i]);
    sqlite3_close(c->db);
    free(c);
}

static int db_err(sqlite3 *db, i2v_error *err, const char *what)
{
    const int rc = sqlite3_extended_errcode(db);
    return i2v__err(err, I2V_EDB, "database: %s: %s (%d)", what, sqlite3_errmsg(db), rc);
}

static conn *conn_open(sq_store *s, i2v_error *err)
{
    conn *c = calloc(1, sizeof *c);
    if (!c) {
        i2v__err(err, I2V_ENOMEM, "out of memory");
        return NULL;
    }
    int rc = sqlite3_open_v2(
        s->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        i2v__err(err, I2V_EDB, "database %s: %s", s->path,
                 c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        conn_free(c);
        return NULL;
    }
    sqlite3_busy_timeout(c->db, s->cfg.busy_timeout_ms);
    sqlite3_extended_result_codes(c->db, 1);
    char *msg = NULL;
    /* Turning a new file to WAL takes an exclusive lock, and SQLite answers
     * BUSY at once (no busy handler) to connections that meet there, as
     * processes starting together on a new database do: retry a while. */
    for (int waited = 0;; waited += 10) {
        rc = sqlite3_exec(c->db,
                          "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                          " PRAGMA foreign_keys=ON;",
                          NULL, NULL, &msg);
        if ((rc & 0xff) != SQLITE_BUSY || waited >= s->cfg.busy_timeout_ms) break;
        sqlite3_free(msg);
        msg = NULL;
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    }
    if (rc != SQLITE_OK) {
        i2v__err(err, I2V_EDB, "database %s: %s", s->path, msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        conn_free(c);
        return NULL;
    }
    return c;
}

/* The calling thread's connection (opened on first use). */
static conn *get(sq_store *s, i2v_error *err)
{
    conn *c = pthread_getspecific(s->key);
    if (c) return c;
    c = conn_open(s, err);
    if (!c) return NULL;
    pthread_mutex_lock(&s->lock);
    if (s->nconns == s->capconns) {
        int cap = s->capconns ? s->capconns * 2 : 16;
        conn **n = realloc(s->conns, (size_t)cap * sizeof *n);
        if (!n) {
            pthread_mutex_unlock(&s->lock);
            conn_free(c);
            i2v__err(err, I2V_ENOMEM, "out of memory");
            return NULL;
        }
        s->conns = n;
        s->capconns = cap;
    }
    s->conns[s->nconns++] = c;
    pthread_mutex_unlock(&s->lock);
    pthread_setspecific(s->key, c);
    return c;
}

static sqlite3_stmt *st(conn *c, int id)
{
    if (!c->st[id] && sqlite3_prepare_v3(c->db, sql[id], -1, SQLITE_PREPARE_PERSISTENT, &c->st[id],
                                         NULL) != SQLITE_OK)
        return NULL;
    sqlite3_reset(c->st[id]);
    sqlite3_clear_bindings(c->st[id]);
    return c->st[id];
}

/* Runs a statement that returns no rows; returns SQLITE_DONE or an error. */
static int run(sqlite3_stmt *q)
{
    if (!q) return SQLITE_ERROR;
    int rc = sqlite3_step(q);
    sqlite3_reset(q);
    return rc;
}

static int begin(conn *c, i2v_error *err)
{
    if (run(st(c, S_BEGIN)) != SQLITE_DONE) return db_err(c->db, err, "begin");
    return 0;
}

static int commit(conn *c, i2v_error *err)
{
    if (run(st(c, S_COMMIT)) != SQLITE_DONE) {
        int r = db_err(c->db, err, "commit");
        run(st(c, S_ROLLBACK));
        return r;
    }
    return 0;
}

static int rollback(conn *c, int ret)
{
    if (!sqlite3_get_autocommit(c->db)) run(st(c, S_ROLLBACK));
    return ret;
}

static void text(sqlite3_stmt *q, int col, char *out, size_t len)
{
    const unsigned char *t = sqlite3_column_text(q, col);
    snprintf(out, len, "%s", t ? (const char *)t : "");
}

static void read_gen(sqlite3_stmt *q, i2v_gen *g)
{
    memset(g, 0, sizeof *g);
    g->id = sqlite3_column_int64(q, 0);
    g->task_id = sqlite3_column_int64(q, 1);
    text(q, 2, g->uuid, sizeof g->uuid);
    text(q, 3, g->project_id, sizeof g->project_id);
    text(q, 4, g->user_id, sizeof g->user_id);
    g->api = sqlite3_column_int(q, 5);
    g->state = sqlite3_column_int(q, 6);
    g->progress = sqlite3_column_int(q, 7);
    text(q, 8, g->image_url, sizeof g->image_url);
    text(q, 9, g->last_image_url, sizeof g->last_image_url);
    g->has_prompt = sqlite3_column_type(q, 10) != SQLITE_NULL;
    text(q, 10, g->prompt, sizeof g->prompt);
    text(q, 11, g->move, sizeof g->move);
    g->duration = sqlite3_column_int(q, 12);
    text(q, 13, g->resolution, sizeof g->resolution);
    g->width = sqlite3_column_int(q, 14);
    g->height = sqlite3_column_int(q, 15);
    g->fit_portrait = sqlite3_column_int(q, 16);
    g->model = sqlite3_column_int(q, 17);
    g->audio = sqlite3_column_int(q, 18);
    g->audio_given = sqlite3_column_int(q, 19);
    text(q, 20, g->webhook, sizeof g->webhook);
    g->price = sqlite3_column_int(q, 21);
    g->attempts = sqlite3_column_int(q, 22);
    text(q, 23, g->out_key, sizeof g->out_key);
    g->out_width = sqlite3_column_int(q, 24);
    g->out_height = sqlite3_column_int(q, 25);
    text(q, 26, g->plan_prompt, sizeof g->plan_prompt);
    text(q, 27, g->error, sizeof g->error);
    g->created_ms = sqlite3_column_int64(q, 28);
    g->started_ms = sqlite3_column_int64(q, 29);
    g->finished_ms = sqlite3_column_int64(q, 30);
    text(q, 31, g->more_urls, sizeof g->more_urls);
    g->cancel_requested = sqlite3_column_int(q, 32);
    g->outputs_deleted_ms = sqlite3_column_int64(q, 33);
    g->error_code = sqlite3_column_int(q, 34);
}

#define SQ(s) ((sq_store *)(s))
#define CONN(s, err)                                                                               \
    conn *c = get(SQ(s), err);                                                                     \
    if (!c) return I2V_EDB

static void sq_close(i2v_store *base)
{
    sq_store *s = SQ(base);
    for (int i = 0; i < s->nconns; i++)
        conn_free(s->conns[i]);
    free(s->conns);
    pthread_key_delete(s->key);
    pthread_mutex_destroy(&s->lock);
    free(s->path);
    free(s);
}

static int ledger_ins(conn *c, const char *user, int64_t amount, const char *kind, int64_t gen,
                      const char *note)
{
    sqlite3_stmt *q = st(c, S_LEDGER_INS);
    if (!q) return -1;
    sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, amount);
    sqlite3_bind_text(q, 3, kind, -1, SQLITE_STATIC);
    if (gen) sqlite3_bind_int64(q, 4, gen);
    if (note) sqlite3_bind_text(q, 5, note, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 6, i2v__now_ms());
    if (run(q) != SQLITE_DONE) return -1;
    return sqlite3_changes(c->db);
}

static int sq_user_get(i2v_store *s, const char *id, i2v_user *u, i2v_error *err)
{
    CONN(s, err);
    sqlite3_stmt *q = st(c, S_USER_GET);
    if (!q) return db_err(c->db, err, "user");
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        memset(u, 0, sizeof *u);
        text(q, 0, u->id, sizeof u->id);
        text(q, 1, u->name, sizeof u->name);
        text(q, 2, u->webhook_secret, sizeof u->webhook_secret);
        u->balance = sqlite3_column_int64(q, 3);
        u->created_ms = sqlite3_column_int64(q, 4);
    }
    sqlite3_reset(q);
    if (rc == SQLITE_ROW) return 0;
    if (rc == SQLITE_DONE) return i2v__err(err, I2V_ENOTFOUND, "no user %s", id);
    return db_err(c->db, err, "user");
}

static int sq_user_create(i2v_store *s, const char *name, i2v_user *u, i2v_error *err)
{
    CONN(s, err);
    memset(u, 0, sizeof *u);
    i2v__uuid(u->id);
    snprintf(u->name, sizeof u->name, "%s", name ? name : "");
    i2v__new_webhook_secret(u->webhook_secret);
    u->created_ms = i2v__now_ms();
    sqlite3_stmt *q = st(c, S_USER_INS);
    if (!q) return db_err(c->db, err, "user");
    sqlite3_bind_text(q, 1, u->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, u->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, u->webhook_secret, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 4, u->created_ms);
    if (run(q) != SQLITE_DONE) return db_err(c->db, err, "create user");
    return 0;
}

static int sq_key_add(i2v_store *s, const char *user, const char *hash, const char *prefix,
                      i2v_error *err)
{
    CONN(s, err);
    sqlite3_stmt *q = st(c, S_KEY_INS);
    if (!q) return db_err(c->db, err, "key");
    sqlite3_bind_text(q, 1, hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, prefix, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, user, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 4, i2v__now_ms());
    if (run(q) != SQLITE_DONE) {
        if (sqlite3_extended_errcode(c->db) == SQLITE_CONSTRAINT_FOREIGNKEY)
            return i2v__err(err, I2V_ENOTFOUND, "no user %s", user);
        return db_err(c->db, err, "add key");
    }
    return 0;
}

static int sq_key_revoke(i2v_store *s, const char *which, i2v_error *err)
{
    CONN(s, err);
    sqlite3_stmt *q = st(c, S_KEY_REVOKE);
    if (!q) return db_err(c->db, err, "key");
    sqlite3_bind_text(q, 1, which, -1, SQLITE_STATIC);
    if (run(q) != SQLITE_DONE) return db_err(c->db, err, "revoke key");
    if (sqlite3_changes(c->db) == 0) return i2v__err(err, I2V_ENOTFOUND, "no active key %s", which);
    return 0;
}

static int sq_key_user(i2v_store *s, const char *hash, char user[37], i2v_error *err)
{
    CONN(s, err);
    sqlite3_stmt *q = st(c, S_KEY_USER);
    if (!q) return db_err(c->db, err, "key");
    sqlite3_bind_text(q, 1, hash, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) text(q, 0, user, 37);
    sqlite3_reset(q);
    if (rc == SQLITE_ROW) return 0;
    if (rc == SQLITE_DONE) return i2v__err(err, I2V_ENOTFOUND, "unknown API key");
    return db_err(c->db, err, "key");
}

static int balance_of(conn *c, const char *user, int64_t *bal)
{
    sqlite3_stmt *q = st(c, S_USER_GET);
    if (!q) return -1;
    sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) *bal = sqlite3_column_int64(q, 3);
    sqlite3_reset(q);
    return rc == SQLITE_ROW ? 0 : -1;
}

static int sq_credit(i2v_store *s, const char *user, int64_t amount, const char *note, int64_t *bal,
                     i2v_error *err)
{
    CONN(s, err);
    if (amount <= 0) return i2v__err(err, I2V_EINVAL, "credits: the amount must be positive");
    int r = begin(c, err);
    if (r) return r;
    sqlite3_stmt *q = st(c, S_BAL_ADD);
    if (!q) return rollback(c, db_err(c->db, err, "credit"));
    sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, amount);
    if (run(q) != SQLITE_DONE) return rollback(c, db_err(c->db, err, "credit"));
    if (sqlite3_changes(c->db) == 0)
        return rollback(c, i2v__err(err, I2V_ENOTFOUND, "no user %s", user));
    if (ledger_ins(c, user, amount, "topup", 0, note) != 1)
        return rollback(c, db_err(c->db, err, "ledger"));
    if (bal && balance_of(c, user, bal) != 0) return rollback(c, db_err(c->db, err, "balance"));
    return commit(c, err);
}

static int sq_gen_create(i2v_store *s, i2v_gen *g, int64_t *bal, i2v_error *err)
{
    CONN(s, err);
    int r = begin(c, err);
    if (r) return r;
    sqlite3_stmt *q;
    if (g->idem_key[0]) {
        q = st(c, S_IDEM_HAS);
        if (!q) return rollback(c, db_err(c->db, err, "idempotency"));
        sqlite3_bind_text(q, 1, g->user_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, g->idem_key, -1, SQLITE_STATIC);
        const int taken = sqlite3_step(q) == SQLITE_ROW;
        sqlite3_reset(q);
        if (taken)
            return rollback(c, i2v__err(err, I2V_EDUPLICATE, "Idempotency-Key: already used"));
    }
    q = st(c, S_BAL_TAKE);
    if (!q) return rollback(c, db_err(c->db, err, "charge"));
    sqlite3_bind_text(q, 1, g->user_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, g->price);
    if (run(q) != SQLITE_DONE) return rollback(c, db_err(c->db, err, "charge"));
    if (sqlite3_changes(c->db) == 0) {
        int64_t have = 0;
        balance_of(c, g->user_id, &have);
        if (bal) *bal = have;
        return rollback(c, i2v__err(err, I2V_ECREDIT,
                                    "not enough credits: this video costs %d, the balance is %lld",
                                    g->price, (long long)have));
    }
    g->created_ms = i2v__now_ms();
    for (int tries = 0;; tries++) { /* a random id collides with ~0 probability; retry anyway */
        g->task_id = i2v__random_task_id();
        i2v__uuid(g->uuid);
        if (!g->project_id[0]) i2v__uuid(g->project_id);
        q = st(c, S_GEN_INS);
        if (!q) return rollback(c, db_err(c->db, err, "generation"));
        int i = 1;
        sqlite3_bind_int64(q, i++, g->task_id);
        sqlite3_bind_text(q, i++, g->uuid, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, i++, g->project_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, i++, g->user_id, -1, SQLITE_STATIC);
        sqlite3_bind_int(q, i++, g->api);
        sqlite3_bind_text(q, i++, g->image_url, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, i++, g->last_image_url, -1, SQLITE_STATIC);
        if (g->has_prompt)
            sqlite3_bind_text(q, i++, g->prompt, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(q, i++);
        sqlite3_bind_text(q, i++, g->move, -1, SQLITE_STATIC);
        sqlite3_bind_int(q, i++, g->duration);
        sqlite3_bind_text(q, i++, g->resolution, -1, SQLITE_STATIC);
        sqlite3_bind_int(q, i++, g->width);
        sqlite3_bind_int(q, i++, g->height);
        sqlite3_bind_int(q, i++, g->fit_portrait);
        sqlite3_bind_int(q, i++, g->model);
        sqlite3_bind_int(q, i++, g->audio);
        sqlite3_bind_int(q, i++, g->audio_given);
        sqlite3_bind_text(q, i++, g->webhook, -1, SQLITE_STATIC);
        sqlite3_bind_int(q, i++, g->price);
        sqlite3_bind_int64(q, i++, g->created_ms);
        sqlite3_bind_text(q, i++, g->more_urls, -1, SQLITE_STATIC);
        int rc = run(q);
        if (rc == SQLITE_DONE) break;
        if ((rc & 0xff) != SQLITE_CONSTRAINT || tries > 3)
            return rollback(c, db_err(c->db, err, "generation"));
    }
    g->id = sqlite3_last_insert_rowid(c->db);
    g->state = I2V_GEN_QUEUED;
    if (ledger_ins(c, g->user_id, -(int64_t)g->price, "charge", g->id, NULL) != 1)
        return rollback(c, db_err(c->db, err, "ledger"));
    int64_t after = 0;
    if (balance_of(c, g->user_id, &after) != 0) return rollback(c, db_err(c->db, err, "balance"));
    if (bal) *bal = after;
    if (g->idem_key[0]) {
        q = st(c, S_IDEM_INS);
        if (!q) return rollback(c, db_err(c->db, err, "idempotency"));
        sqlite3_bind_text(q, 1, g->user_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, g->idem_key, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, g->idem_hash, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 4, g->id);
        sqlite3_bind_int64(q, 5, after);
        sqlite3_bind_int64(q, 6, g->created_ms);
        if (run(q) != SQLITE_DONE) return rollback(c, db_err(c->db, err, "idempotency"));
    }
    return commit(c, err);
}

static int one_gen(conn *c, sqlite3_stmt *q, i2v_gen *g, i2v_error *err)
{
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) read_gen(q, g);
    sqlite3_reset(q);
    if (rc == SQLITE_ROW) return 0;
    if (rc == SQLITE_DONE) return i2v__err(err, I2V_ENOTFOUND, "no such generation");
    return db_err(c->db, err, "generation");
}

static int sq_idem_get(i2v_store *s, const char *user, const char *key, char hash[65], i2v_gen *g,
                       int64_t *bal, i2v_error *err)
{
    CONN(s, err);
    sqlite3_stmt *q = st(c, S_IDEM_GET);
    if (!q) return db_err(c->db, err, "idempotency");
    sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    int64_t id = 0;
    if (rc == SQLITE_ROW) {
        text(q, 0, hash, 65);
        *bal = sqlite3_column_int64(q, 1);
        id = sqlite3_column_int64(q, 2);
    }
    sqlite3_reset(q);
    if (rc == SQLITE_DONE) return i2v__err(err, I2V_ENOTFOUND, "no such idempotency key");
    if (rc != SQLITE_ROW) return db_err(c->db, err, "idempotency");
    q = st(c, S_GEN_BY_ID);
    if (!q) return db_err(c->db, err, "generation");
    sqlite3_bind_int64(q, 1, id);
    return one_gen(c, q, g, err);
}

static int wait_of(conn *c, int64_t id, int *wait)
{
    sqlite3_stmt *q = st(c, S_GEN_WAIT);
    if (!q) return -1;
    sqlite3_bind_int64(q, 1, id);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) *wait = sqlite3_column_int(q, 0);
    sqlite3_reset(q);
    return rc == SQLITE_ROW ? 0 : -1;
}

static int sq_gen_get(i2v_store *s, int64_t task_id, const char *uuid, i2v_gen *g, int *wait,
                      i2v_error *err)
{
    CONN(s, err);
    sqlite3_stmt *q = st(c, uuid ? S_GEN_BY_UUID : S_GEN_BY_TASK);
    if (!q) return db_err(c->db, err, "generation");
    if (uuid)
        sqlite3_bind_text(q, 1, uuid, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(q, 1, task_id);
    int r = one_gen(c, q, g, err);
    if (r) return r;
    if (wait) {
        *wait = 0;
        if (g->state == I2V_GEN_QUEUED && wait_of(c, g->id, wait) != 0)
            return db_err(c->db, err, "queue");
    }
    return 0;
}

static int sq_gen_list(i2v_store *s, const char *user, i2v_gen_fn fn, void *ud, i2v_error *err)
{
    CONN(s, err);
    sqlite3_stmt *q = st(c, S_GEN_LIST);
    if (!q) return db_err(c->db, err, "generations");
    sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
    i2v_gen *g = malloc(sizeof *g);
    if (!g) return i2v__err(err, I2V_ENOMEM, "out of memory");
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        read_gen(q, g);
        if (fn(ud, g)) break;
    }
    free(g);
    sqlite3_reset(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return db_err(c->db, err, "generations");
    return 0;
}

static int hook_row(conn *c, int64_t id, int64_t now)
{
    sqlite3_stmt *q = st(c, S_HOOK_INS);
    if (!q) return -1;
    sqlite3_bind_int64(q, 1, id);
    sqlite3_bind_int64(q, 2, now);
    return run(q) == SQLITE_DONE ? 0 : -1;
}

/* The refund of generation id (once: the UNIQUE (generation, kind)
 * constraint makes a second one impossible), in the caller's transaction.
 * 0 or -1. */
static int refund_in_tx(conn *c, const char *user, int64_t price, int64_t id)
{
    int n = ledger_ins(c, user, price, "refund", id, NULL);
    if (n < 0) return -1;
    if (n == 1) {
        sqlite3_stmt *q = st(c, S_BAL_ADD);
        if (!q) return -1;
        sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 2, price);
        if (run(q) != SQLITE_DONE) return -1;
    }
    return 0;
}

/* Writes the final state r of running generation id, fenced by token (NULL:
 * whoever holds it, for the reaper), in the caller's transaction: a failure
 * or a cancel gets its refund, a webhook its delivery row; a generation
 * whose owner asked to cancel it ends cancelled whatever r says. Returns 0,
 * 1 when the generation is not running under that token (lease lost), 2
 * when it was written cancelled though r said otherwise, or -1. */
static int finish_in_tx(conn *c, int64_t id, const char *token, const i2v_gen *r, int64_t now)
{
    const int ok = r->state == I2V_GEN_SUCCEEDED;
    const int want = ok || r->state == I2V_GEN_CANCELLED ? r->state : I2V_GEN_FAILED;
    sqlite3_stmt *q = st(c, S_GEN_DONE);
    if (!q) return -1;
    sqlite3_bind_int64(q, 1, id);
    if (token)
        sqlite3_bind_text(q, 2, token, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(q, 2);
    sqlite3_bind_int(q, 3, want);
    sqlite3_bind_int(q, 4, ok ? 100 : 0);
    sqlite3_bind_text(q, 5, ok ? r->out_key : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 6, ok ? r->out_width : 0);
    sqlite3_bind_int(q, 7, ok ? r->out_height : 0);
    sqlite3_bind_text(q, 8, ok ? r->plan_prompt : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 9,
                      ok                          ? ""
                      : want == I2V_GEN_CANCELLED ? CANCELLED_ERROR
                                                  : r->error,
                      -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 10, now);
    sqlite3_bind_int(q, 11, ok || want == I2V_GEN_CANCELLED ? 0 : r->error_code);
    int rc = sqlite3_step(q);
    char user[37] = "";
    int64_t price = 0;
    int state = want;
    if (rc == SQLITE_DONE) { /* no row changed */
        sqlite3_reset(q);
        return 1;
    }
    if (rc == SQLITE_ROW) { /* RETURNING the one row changed */
        text(q, 0, user, sizeof user);
        price = sqlite3_column_int64(q, 1);
        state = sqlite3_column_int(q, 2);
        rc = sqlite3_step(q);
    }
    sqlite3_reset(q);
    if (rc != SQLITE_DONE) return -1;
    if (state != I2V_GEN_SUCCEEDED && refund_in_tx(c, user, price, id) != 0) return -1;
    if (hook_row(c, id, now) != 0) return -1;
    return state == I2V_GEN_CANCELLED && want != I2V_GEN_CANCELLED ? 2 : 0;
}

static int reap_in_tx(sq_store *s, conn *c, int64_t now)
{
    int n = 0;
    int64_t ids[64];
    int attempts[64], cancel[64], k = 0;
    sqlite3_stmt *q = st(c, S_GEN_EXPIRED);
    if (!q) return -1;
    sqlite3_bind_int64(q, 1, now);
    while (k < 64 && sqlite3_step(q) == SQLITE_ROW) {
        ids[k] = sqlite3_column_int64(q, 0);
        attempts[k] = sqlite3_column_int(q, 1);
        cancel[k++] = sqlite3_column_int(q, 2);
    }
    sqlite3_reset(q);
    for (int i = 0; i < k; i++) {
        if (cancel[i]) { /* its owner asked to cancel it: never requeued */
            i2v_gen r = {.state = I2V_GEN_CANCELLED};
            if (finish_in_tx(c, ids[i], NULL, &r, now) < 0) return -1;
        } else if (attempts[i] >= s->cfg.max_attempts) {
            i2v_gen r = {.state = I2V_GEN_FAILED};
            snprintf(r.error, sizeof r.error, "lease expired %d times (worker lost)", attempts[i]);
            if (finish_in_tx(c, ids[i], NULL, &r, now) < 0) return -1;
        } else {
            q = st(c, S_GEN_REQUEUE);
            if (!q) return -1;
            sqlite3_bind_int64(q, 1, ids[i]);
            if (run(q) != SQLITE_DONE) return -1;
        }
        n++;
    }
    return n;
}

static int sq_reap(i2v_store *base, i2v_error *err)
{
    CONN(base, err);
    const int64_t now = i2v__now_ms();
    /* old idempotency keys go first; like the reap, a read decides whether
     * the write lock is taken at all */
    const int64_t old = now - SQ(base)->cfg.idem_ttl_ms;
    sqlite3_stmt *p = st(c, S_IDEM_OLD);
    if (!p) return db_err(c->db, err, "idempotency");
    sqlite3_bind_int64(p, 1, old);
    const int stale = sqlite3_step(p) == SQLITE_ROW;
    sqlite3_reset(p);
    if (stale) {
        p = st(c, S_IDEM_PURGE);
        if (!p) return db_err(c->db, err, "idempotency");
        sqlite3_bind_int64(p, 1, old);
        if (run(p) != SQLITE_DONE) return db_err(c->db, err, "idempotency");
    }
    sqlite3_stmt *q = st(c, S_GEN_EXPIRED); /* a read first, as in claims */
    if (!q) return db_err(c->db, err, "reap");
    sqlite3_bind_int64(q, 1, now);
    const int expired = sqlite3_step(q) == SQLITE_ROW;
    sqlite3_reset(q);
    if (!expired) return 0;
    int r = begin(c, err);
    if (r) return r;
    int n = reap_in_tx(SQ(base), c, now);
    if (n < 0) return rollback(c, db_err(c->db, err, "reap"));
    r = commit(c, err);
    return r ? r : n;
}

static int sq_gen_claim(i2v_store *base, const char *owner, int64_t lease_ms, i2v_gen *g,
                        char token[33], i2v_error *err)
{
    CONN(base, err);
    const int64_t now = i2v__now_ms();
    /* A read first: an idle worker polling an empty queue never takes the
     * write lock. */
    sqlite3_stmt *q = st(c, S_GEN_WORK);
    if (!q) return db_err(c->db, err, "claim");
    sqlite3_bind_int64(q, 1, now);
    int work = sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0);
    sqlite3_reset(q);
    if (!work) return 0;
    int r = begin(c, err);
    if (r) return r;
    if (reap_in_tx(SQ(base), c, now) < 0) return rollback(c, db_err(c->db, err, "reap"));
    q = st(c, S_GEN_NEXT);
    if (!q) return rollback(c, db_err(c->db, err, "claim"));
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) read_gen(q, g);
    sqlite3_reset(q);
    if (rc == SQLITE_DONE) {
        r = commit(c, err);
        return r ? r : 0;
    }
    if (rc != SQLITE_ROW) return rollback(c, db_err(c->db, err, "claim"));
    i2v__random_hex(token, 16);
    q = st(c, S_GEN_CLAIM);
    if (!q) return rollback(c, db_err(c->db, err, "claim"));
    sqlite3_bind_int64(q, 1, g->id);
    sqlite3_bind_text(q, 2, token, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, owner, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 4, now + lease_ms);
    sqlite3_bind_int64(q, 5, now);
    if (run(q) != SQLITE_DONE || sqlite3_changes(c->db) != 1)
        return rollback(c, db_err(c->db, err, "claim"));
    r = commit(c, err);
    if (r) return r;
    g->state = I2V_GEN_RUNNING;
    g->attempts++;
    g->started_ms = now;
    return 1;
}

static int sq_gen_renew(i2v_store *base, int64_t id, const char *token, int64_t lease_ms,
                        int progress, i2v_error *err)
{
    CONN(base, err);
    sqlite3_stmt *q = st(c, S_GEN_RENEW);
    if (!q) return db_err(c->db, err, "renew");
    sqlite3_bind_int64(q, 1, id);
    sqlite3_bind_text(q, 2, token, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, i2v__now_ms() + lease_ms);
    sqlite3_bind_int(q, 4, progress);
    int rc = sqlite3_step(q);
    const int found = rc == SQLITE_ROW;
    const int cancel = found && sqlite3_column_int(q, 0) != 0;
    while (rc == SQLITE_ROW)
        rc = sqlite3_step(q);
    sqlite3_reset(q);
    if (rc != SQLITE_DONE) return db_err(c->db, err, "renew");
    if (!found) return i2v__err(err, I2V_ELOST, "lease lost");
    if (cancel) return i2v__err(err, I2V_ECANCELLED, "cancel requested by its owner");
    return 0;
}

static int sq_gen_finish(i2v_store *base, int64_t id, const char *token, const i2v_gen *r,
                         i2v_error *err)
{
    CONN(base, err);
    const int64_t now = i2v__now_ms();
    int e = begin(c, err);
    if (e) return e;
    e = finish_in_tx(c, id, token, r, now);
    if (e < 0) return rollback(c, db_err(c->db, err, "finish"));
    if (e == 1) return rollback(c, i2v__err(err, I2V_ELOST, "lease lost"));
    const int cancelled = e == 2;
    e = commit(c, err);
    if (e) return e;
    return cancelled ? i2v__err(err, I2V_ECANCELLED, "cancel requested: finished as cancelled") : 0;
}

static int sq_gen_release(i2v_store *base, int64_t id, const char *token, i2v_error *err)
{
    CONN(base, err);
    sqlite3_stmt *q = st(c, S_GEN_RELEASE);
    if (!q) return db_err(c->db, err, "release");
    sqlite3_bind_int64(q, 1, id);
    sqlite3_bind_text(q, 2, token, -1, SQLITE_STATIC);
    if (run(q) != SQLITE_DONE) return db_err(c->db, err, "release");
    if (sqlite3_changes(c->db) == 1) return 0;
    /* not released: the lease is lost, or cancel was requested (then it
     * ends cancelled rather than going back to the queue) */
    const i2v_gen r = {.state = I2V_GEN_CANCELLED};
    int e = begin(c, err);
    if (e) return e;
    e = finish_in_tx(c, id, token, &r, i2v__now_ms());
    if (e < 0) return rollback(c, db_err(c->db, err, "release"));
    if (e == 1) return rollback(c, i2v__err(err, I2V_ELOST, "lease lost"));
    return commit(c, err);
}

static int sq_hook_claim(i2v_store *base, int64_t lease_ms, i2v_delivery *d, i2v_error *err)
{
    CONN(base, err);
    const int64_t now = i2v__now_ms();
    /* A read first, so that an idle notifier never takes the write lock. */
    sqlite3_stmt *q = st(c, S_HOOK_DUE);
    if (!q) return db_err(c->db, err, "deliveries");
    sqlite3_bind_int64(q, 1, now);
    int due = sqlite3_step(q);
    sqlite3_reset(q);
    if (due == SQLITE_DONE) return 0;
    int r = begin(c, err);
    if (r) return r;
    q = st(c, S_HOOK_DUE);
    if (!q) return rollback(c, db_err(c->db, err, "deliveries"));
    sqlite3_bind_int64(q, 1, now);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        memset(d, 0, sizeof *d);
        d->id = sqlite3_column_int64(q, 0);
        d->generation = sqlite3_column_int64(q, 1);
        text(q, 2, d->url, sizeof d->url);
        text(q, 3, d->msg_id, sizeof d->msg_id);
        d->attempts = sqlite3_column_int(q, 4);
        d->task_id = sqlite3_column_int64(q, 5);
    }
    sqlite3_reset(q);
    if (rc == SQLITE_DONE) {
        r = commit(c, err);
        return r ? r : 0;
    }
    if (rc != SQLITE_ROW) return rollback(c, db_err(c->db, err, "deliveries"));
    /* The claim is a lease: the row is not due again until lease_ms. */
    q = st(c, S_HOOK_LEASE);
    if (!q) return rollback(c, db_err(c->db, err, "deliveries"));
    sqlite3_bind_int64(q, 1, d->id);
    sqlite3_bind_int64(q, 2, now + lease_ms);
    if (run(q) != SQLITE_DONE) return rollback(c, db_err(c->db, err, "deliveries"));
    r = commit(c, err);
    return r ? r : 1;
}

static int sq_hook_done(i2v_store *base, int64_t id, int ok, int64_t next_ms, long status,
                        const char *error, i2v_error *err)
{
    CONN(base, err);
    sqlite3_stmt *q = st(c, S_HOOK_DONE);
    if (!q) return db_err(c->db, err, "deliveries");
    sqlite3_bind_int64(q, 1, id);
    sqlite3_bind_int(q, 2, ok ? 1 : next_ms < 0 ? 2 : 0);
    sqlite3_bind_int64(q, 3, next_ms < 0 ? 0 : next_ms);
    sqlite3_bind_int64(q, 4, status);
    sqlite3_bind_text(q, 5, error ? error : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 6, ok ? i2v__now_ms() : 0);
    if (run(q) != SQLITE_DONE) return db_err(c->db, err, "deliveries");
    return 0;
}

static int sq_ledger(i2v_store *base, const char *user, int64_t *bal, int64_t *sum, i2v_error *err)
{
    CONN(base, err);
    sqlite3_stmt *q = st(c, S_LEDGER_SUM);
    if (!q) return db_err(c->db, err, "ledger");
    sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    int missing = rc == SQLITE_ROW && sqlite3_column_type(q, 0) == SQLITE_NULL;
    if (rc == SQLITE_ROW) {
        *bal = sqlite3_column_int64(q, 0);
        *sum = sqlite3_column_int64(q, 1);
    }
    sqlite3_reset(q);
    if (rc != SQLITE_ROW) return db_err(c->db, err, "ledger");
    if (missing) return i2v__err(err, I2V_ENOTFOUND, "no user %s", user);
    return 0;
}

static int sq_queue_stats(i2v_store *base, i2v_queue_stats *qs, i2v_error *err)
{
    CONN(base, err);
    memset(qs, 0, sizeof *qs);
    /* one read transaction: one snapshot */
    if (run(st(c, S_BEGIN_READ)) != SQLITE_DONE) return db_err(c->db, err, "queue");
    sqlite3_stmt *q = st(c, S_STATS_STATES);
    if (!q) return rollback(c, db_err(c->db, err, "queue"));
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        const int state = sqlite3_column_int(q, 0);
        if (state >= 0 && state < 4) qs->state_count[state] = sqlite3_column_int64(q, 1);
        if (state == I2V_GEN_CANCELLED) qs->cancelled = sqlite3_column_int64(q, 1);
    }
    sqlite3_reset(q);
    if (rc != SQLITE_DONE) return rollback(c, db_err(c->db, err, "queue"));
    q = st(c, S_STATS_QUEUE);
    if (!q) return rollback(c, db_err(c->db, err, "queue"));
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        qs->oldest_queued_ms = sqlite3_column_int64(q, 0);
        qs->deliveries_pending = sqlite3_column_int64(q, 1);
    }
    sqlite3_reset(q);
    if (rc != SQLITE_ROW) return rollback(c, db_err(c->db, err, "queue"));
    q = st(c, S_STATS_OWNERS);
    if (!q) return rollback(c, db_err(c->db, err, "queue"));
    sqlite3_bind_int(q, 1, I2V_QUEUE_OWNERS_MAX);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW && qs->owners < I2V_QUEUE_OWNERS_MAX) {
        const int i = qs->owners++;
        text(q, 0, qs->owner[i].name, sizeof qs->owner[i].name);
        qs->owner[i].leases = sqlite3_column_int64(q, 1);
        qs->owner[i].oldest_expiry_ms = sqlite3_column_int64(q, 2);
    }
    sqlite3_reset(q);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return rollback(c, db_err(c->db, err, "queue"));
    return commit(c, err);
}

static int sq_ping(i2v_store *base, i2v_error *err)
{
    CONN(base, err);
    sqlite3_stmt *q = st(c, S_PING);
    if (!q) return db_err(c->db, err, "ping");
    const int rc = sqlite3_step(q);
    sqlite3_reset(q);
    return rc == SQLITE_ROW ? 0 : db_err(c->db, err, "ping");
}

/* The version the database records (0: none, or made before versions);
 * -1 when it cannot be read. */
static int schema_version(sqlite3 *db)
{
    sqlite3_stmt *q = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(db,
                           "SELECT 1 FROM sqlite_master WHERE type='table'"
                           " AND name='schema_migrations'",
                           -1, &q, NULL) != SQLITE_OK)
        goto out;
    int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    q = NULL;
    if (rc == SQLITE_DONE) v = 0;
    if (rc != SQLITE_ROW) goto out;
    if (sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", -1, &q,
                           NULL) != SQLITE_OK)
        goto out;
    if (sqlite3_step(q) == SQLITE_ROW) v = sqlite3_column_int(q, 0);
out:
    sqlite3_finalize(q);
    return v;
}

/* Applies the steps the database lacks, in one transaction. */
static int migrate(sq_store *s, conn *c, i2v_error *err)
{
    int v = schema_version(c->db);
    if (v == SCHEMA_VERSION) return 0; /* a read only: no write lock */
    int r = 0;
    if (v > SCHEMA_VERSION) goto newer;
    r = begin(c, err);
    if (r) return r;
    char *msg = NULL;
    if (sqlite3_exec(c->db,
                     "CREATE TABLE IF NOT EXISTS schema_migrations("
                     "version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL)",
                     NULL, NULL, &msg) != SQLITE_OK)
        goto fail;
    v = schema_version(c->db); /* again, under the write lock */
    if (v < 0) goto fail;
    if (v > SCHEMA_VERSION) {
        rollback(c, 0);
        goto newer;
    }
    for (size_t i = 0; i < sizeof migrations / sizeof migrations[0]; i++) {
        if (migrations[i].version <= v) continue;
        if (sqlite3_exec(c->db, migrations[i].sql, NULL, NULL, &msg) != SQLITE_OK) goto fail;
        if (migrations[i].fix && migrations[i].fix(c->db) != 0) goto fail;
        sqlite3_stmt *q = NULL;
        if (sqlite3_prepare_v2(c->db,
                               "INSERT INTO schema_migrations(version, applied_ms) VALUES(?,?)", -1,
                               &q, NULL) != SQLITE_OK)
            goto fail;
        sqlite3_bind_int(q, 1, migrations[i].version);
        sqlite3_bind_int64(q, 2, i2v__now_ms());
        const int rc = sqlite3_step(q);
        sqlite3_finalize(q);
        if (rc != SQLITE_DONE) goto fail;
    }
    return commit(c, err);
fail:
    r = i2v__err(err, I2V_EDB, "database %s: schema: %s", s->path,
                 msg ? msg : sqlite3_errmsg(c->db));
    sqlite3_free(msg);
    return rollback(c, r);
newer:
    return i2v__err(err, I2V_EDB,
                    "store: schema version %d is newer than this i2v (%d); upgrade i2v", v,
                    SCHEMA_VERSION);
}

/* ---- the native API (schema version 2) ---- */

static int sq_gen_find(i2v_store *s, const char *user, const char *id, i2v_gen *g, int *wait,
                       i2v_error *err)
{
    CONN(s, err);
    int r = I2V_ENOTFOUND;
    const int64_t task = i2v__task_id_of(id);
    sqlite3_stmt *q;
    if (task > 0) {
        q = st(c, S_GEN_BY_TASK);
        if (!q) return db_err(c->db, err, "generation");
        sqlite3_bind_int64(q, 1, task);
        r = one_gen(c, q, g, err);
    } else {
        q = st(c, S_GEN_BY_UUID);
        if (!q) return db_err(c->db, err, "generation");
        sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
        r = one_gen(c, q, g, err);
        if (r == I2V_ENOTFOUND || (r == 0 && strcmp(g->user_id, user) != 0)) {
            q = st(c, S_GEN_BY_PROJECT);
            if (!q) return db_err(c->db, err, "generation");
            sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
            sqlite3_bind_text(q, 2, id, -1, SQLITE_STATIC);
            r = one_gen(c, q, g, err);
        }
    }
    if (r == 0 && strcmp(g->user_id, user) != 0) r = I2V_ENOTFOUND;
    if (r == I2V_ENOTFOUND) return i2v__err(err, I2V_ENOTFOUND, "no such generation");
    if (r) return r;
    if (wait) {
        *wait = 0;
        if (g->state == I2V_GEN_QUEUED && wait_of(c, g->id, wait) != 0)
            return db_err(c->db, err, "queue");
    }
    return 0;
}

static int sq_gen_page(i2v_store *s, const char *user, int state, int64_t before, int limit,
                       i2v_gen_page_fn fn, void *ud, i2v_error *err)
{
    CONN(s, err);
    if (limit < 1 || limit > 1000) return i2v__err(err, I2V_EINVAL, "limit: 1 to 1000");
    sqlite3_stmt *q = st(c, S_GEN_PAGE);
    if (!q) return db_err(c->db, err, "generations");
    sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 2, state);
    sqlite3_bind_int64(q, 3, before > 0 ? before : 0);
    sqlite3_bind_int(q, 4, limit);
    i2v_gen *g = malloc(sizeof *g);
    if (!g) {
        sqlite3_reset(q);
        return i2v__err(err, I2V_ENOMEM, "out of memory");
    }
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        read_gen(q, g);
        if (fn(ud, g, sqlite3_column_int(q, sqlite3_column_count(q) - 1))) break;
    }
    free(g);
    sqlite3_reset(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return db_err(c->db, err, "generations");
    return 0;
}

/* The state and price of the user's generation id, in the caller's
 * transaction: 0, I2V_ENOTFOUND, or -1. */
static int owned(conn *c, const char *user, int64_t id, int *state, int64_t *price)
{
    sqlite3_stmt *q = st(c, S_GEN_OWNED);
    if (!q) return -1;
    sqlite3_bind_int64(q, 1, id);
    sqlite3_bind_text(q, 2, user, -1, SQLITE_STATIC);
    const int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *state = sqlite3_column_int(q, 0);
        *price = sqlite3_column_int64(q, 1);
    }
    sqlite3_reset(q);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? I2V_ENOTFOUND : -1;
}

/* Reads generation id into g (when not NULL), in the caller's transaction. */
static int reread(conn *c, int64_t id, i2v_gen *g, i2v_error *err)
{
    if (!g) return 0;
    sqlite3_stmt *q = st(c, S_GEN_BY_ID);
    if (!q) return db_err(c->db, err, "generation");
    sqlite3_bind_int64(q, 1, id);
    return one_gen(c, q, g, err);
}

static int sq_gen_cancel(i2v_store *s, const char *user, int64_t id, i2v_gen *g, i2v_error *err)
{
    CONN(s, err);
    const int64_t now = i2v__now_ms();
    int state = 0, r = begin(c, err);
    int64_t price = 0;
    if (r) return r;
    r = owned(c, user, id, &state, &price);
    if (r == I2V_ENOTFOUND) return rollback(c, i2v__err(err, r, "no such generation"));
    if (r) return rollback(c, db_err(c->db, err, "cancel"));
    if (state == I2V_GEN_QUEUED) {
        sqlite3_stmt *q = st(c, S_GEN_CANCEL_QUEUED);
        if (!q) return rollback(c, db_err(c->db, err, "cancel"));
        sqlite3_bind_int64(q, 1, id);
        sqlite3_bind_int64(q, 2, now);
        if (run(q) != SQLITE_DONE || sqlite3_changes(c->db) != 1 ||
            refund_in_tx(c, user, price, id) != 0 || hook_row(c, id, now) != 0)
            return rollback(c, db_err(c->db, err, "cancel"));
    } else if (state == I2V_GEN_RUNNING) {
        sqlite3_stmt *q = st(c, S_GEN_CANCEL_ASK);
        if (!q) return rollback(c, db_err(c->db, err, "cancel"));
        sqlite3_bind_int64(q, 1, id);
        if (run(q) != SQLITE_DONE) return rollback(c, db_err(c->db, err, "cancel"));
    }
    r = reread(c, id, g, err);
    if (r) return rollback(c, r);
    if (state != I2V_GEN_QUEUED && state != I2V_GEN_RUNNING)
        return rollback(c, i2v__err(err, I2V_ESTATE, "the generation has finished (%s)",
                                    i2v__gen_state_name(state)));
    r = commit(c, err);
    return r ? r : state == I2V_GEN_RUNNING;
}

static int sq_gen_delete_outputs(i2v_store *s, const char *user, int64_t id, i2v_gen *g,
                                 i2v_error *err)
{
    CONN(s, err);
    int state = 0, r = begin(c, err);
    int64_t price = 0;
    if (r) return r;
    r = owned(c, user, id, &state, &price);
    if (r == I2V_ENOTFOUND) return rollback(c, i2v__err(err, r, "no such generation"));
    if (r) return rollback(c, db_err(c->db, err, "delete outputs"));
    if (state == I2V_GEN_QUEUED || state == I2V_GEN_RUNNING) {
        r = reread(c, id, g, err);
        return rollback(c, r ? r
                             : i2v__err(err, I2V_ESTATE, "the generation is %s: cancel it first",
                                        i2v__gen_state_name(state)));
    }
    sqlite3_stmt *q = st(c, S_GEN_OUTPUTS_DEL);
    if (!q) return rollback(c, db_err(c->db, err, "delete outputs"));
    sqlite3_bind_int64(q, 1, id);
    sqlite3_bind_int64(q, 2, i2v__now_ms());
    if (run(q) != SQLITE_DONE) return rollback(c, db_err(c->db, err, "delete outputs"));
    r = reread(c, id, g, err);
    if (r) return rollback(c, r);
    return commit(c, err);
}

static int sq_ledger_page(i2v_store *s, const char *user, int64_t before, int limit,
                          i2v_ledger_fn fn, void *ud, i2v_error *err)
{
    CONN(s, err);
    if (limit < 1 || limit > 1000) return i2v__err(err, I2V_EINVAL, "limit: 1 to 1000");
    sqlite3_stmt *q = st(c, S_LEDGER_PAGE);
    if (!q) return db_err(c->db, err, "ledger");
    sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, before > 0 ? before : 0);
    sqlite3_bind_int(q, 3, limit);
    i2v_ledger_row row;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        memset(&row, 0, sizeof row);
        row.id = sqlite3_column_int64(q, 0);
        text(q, 1, row.kind, sizeof row.kind);
        row.amount = sqlite3_column_int64(q, 2);
        row.balance_after = sqlite3_column_int64(q, 3);
        text(q, 4, row.generation, sizeof row.generation);
        text(q, 5, row.note, sizeof row.note);
        row.created_ms = sqlite3_column_int64(q, 6);
        if (fn(ud, &row)) break;
    }
    sqlite3_reset(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return db_err(c->db, err, "ledger");
    return 0;
}

static int sq_key_add_named(i2v_store *s, const char *user, const char *hash, const char *prefix,
                            const char *name, i2v_error *err)
{
    CONN(s, err);
    sqlite3_stmt *q = st(c, S_KEY_INS_NAMED);
    if (!q) return db_err(c->db, err, "key");
    sqlite3_bind_text(q, 1, hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, prefix, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, user, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 4, i2v__now_ms());
    sqlite3_bind_text(q, 5, name ? name : "", -1, SQLITE_STATIC);
    if (run(q) != SQLITE_DONE) {
        if (sqlite3_extended_errcode(c->db) == SQLITE_CONSTRAINT_FOREIGNKEY)
            return i2v__err(err, I2V_ENOTFOUND, "no user %s", user);
        return db_err(c->db, err, "add key");
    }
    return 0;
}

static int sq_key_list(i2v_store *s, const char *user, i2v_key_fn fn, void *ud, i2v_error *err)
{
    CONN(s, err);
    sqlite3_stmt *q = st(c, S_KEY_LIST);
    if (!q) return db_err(c->db, err, "keys");
    sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
    i2v_key_info k;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        memset(&k, 0, sizeof k);
        text(q, 0, k.prefix, sizeof k.prefix);
        text(q, 1, k.name, sizeof k.name);
        k.created_ms = sqlite3_column_int64(q, 2);
        k.last_used_ms = sqlite3_column_int64(q, 3);
        k.revoked = sqlite3_column_int(q, 4) != 0;
        if (fn(ud, &k)) break;
    }
    sqlite3_reset(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return db_err(c->db, err, "keys");
    return 0;
}

static int sq_key_revoke_own(i2v_store *s, const char *user, const char *prefix, i2v_error *err)
{
    CONN(s, err);
    sqlite3_stmt *q = st(c, S_KEY_REVOKE_OWN);
    if (!q) return db_err(c->db, err, "key");
    sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, prefix, -1, SQLITE_STATIC);
    if (run(q) != SQLITE_DONE) return db_err(c->db, err, "revoke key");
    if (sqlite3_changes(c->db) == 0) return i2v__err(err, I2V_ENOTFOUND, "no key %s", prefix);
    return 0;
}

#define KEY_TOUCH_MS 60000 /* a key's last use is written at most this often */

static int sq_key_auth(i2v_store *s, const char *hash, char user[37], i2v_error *err)
{
    CONN(s, err);
    sqlite3_stmt *q = st(c, S_KEY_AUTH);
    if (!q) return db_err(c->db, err, "key");
    sqlite3_bind_text(q, 1, hash, -1, SQLITE_STATIC);
    const int rc = sqlite3_step(q);
    int64_t last = 0;
    if (rc == SQLITE_ROW) {
        text(q, 0, user, 37);
        last = sqlite3_column_int64(q, 1);
    }
    sqlite3_reset(q);
    if (rc == SQLITE_DONE) return i2v__err(err, I2V_ENOTFOUND, "unknown API key");
    if (rc != SQLITE_ROW) return db_err(c->db, err, "key");
    const int64_t now = i2v__now_ms();
    if (now - last >= KEY_TOUCH_MS) {
        /* a bookkeeping write: when it cannot be made, the key still works */
        q = st(c, S_KEY_TOUCH);
        if (q) {
            sqlite3_bind_text(q, 1, hash, -1, SQLITE_STATIC);
            sqlite3_bind_int64(q, 2, now);
            sqlite3_bind_int64(q, 3, now - KEY_TOUCH_MS);
            run(q);
        }
    }
    return 0;
}

/* In-process, two reads cost no round trip: key_auth, then gen_get. */
static int sq_key_gen_get(i2v_store *s, const char *hash, int64_t task_id, const char *uuid,
                          char user[37], i2v_gen *g, int *wait, i2v_error *err)
{
    user[0] = 0;
    int r = sq_key_auth(s, hash, user, err);
    if (r == I2V_ENOTFOUND) {
        user[0] = 0;
        return i2v__err(err, I2V_EDENIED, "unknown API key");
    }
    if (r) return r;
    r = sq_gen_get(s, task_id, uuid, g, wait, err);
    if (r == 0 && strcmp(g->user_id, user) != 0) r = I2V_ENOTFOUND;
    if (r == I2V_ENOTFOUND) return i2v__err(err, I2V_ENOTFOUND, "no such generation");
    return r;
}

/* ---- uploads, the delivery log, webhook secrets (schema version 3) ---- */

static void read_upload(sqlite3_stmt *q, i2v_upload *u)
{
    memset(u, 0, sizeof *u);
    text(q, 0, u->id, sizeof u->id);
    text(q, 1, u->user_id, sizeof u->user_id);
    text(q, 2, u->blob, sizeof u->blob);
    text(q, 3, u->format, sizeof u->format);
    u->bytes = sqlite3_column_int64(q, 4);
    u->width = sqlite3_column_int(q, 5);
    u->height = sqlite3_column_int(q, 6);
    u->created_ms = sqlite3_column_int64(q, 7);
    u->expires_ms = sqlite3_column_int64(q, 8);
    text(q, 9, u->idem_hash, sizeof u->idem_hash);
}

/* One upload from a prepared query: 0, I2V_ENOTFOUND, or a database error. */
static int one_upload(conn *c, sqlite3_stmt *q, i2v_upload *u, i2v_error *err)
{
    const int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) read_upload(q, u);
    sqlite3_reset(q);
    if (rc == SQLITE_ROW) return 0;
    if (rc == SQLITE_DONE) return i2v__err(err, I2V_ENOTFOUND, "no such upload");
    return db_err(c->db, err, "upload");
}

static int sq_upload_add(i2v_store *s, const i2v_upload *u, i2v_upload *found, i2v_error *err)
{
    CONN(s, err);
    int r = begin(c, err);
    if (r) return r;
    sqlite3_stmt *q = st(c, S_UPLOAD_INS);
    if (!q) return rollback(c, db_err(c->db, err, "upload"));
    sqlite3_bind_text(q, 1, u->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, u->user_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, u->blob, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, u->format, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 5, u->bytes);
    sqlite3_bind_int(q, 6, u->width);
    sqlite3_bind_int(q, 7, u->height);
    sqlite3_bind_int64(q, 8, u->created_ms);
    sqlite3_bind_int64(q, 9, u->expires_ms);
    sqlite3_bind_text(q, 10, u->idem_key, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 11, u->idem_key[0] ? u->idem_hash : "", -1, SQLITE_STATIC);
    if (run(q) != SQLITE_DONE) {
        const int fk = sqlite3_extended_errcode(c->db) == SQLITE_CONSTRAINT_FOREIGNKEY;
        r = fk ? i2v__err(err, I2V_ENOTFOUND, "no user %s", u->user_id)
               : db_err(c->db, err, "upload");
        return rollback(c, r);
    }
    if (sqlite3_changes(c->db) == 1) return commit(c, err);
    /* nothing inserted: the user's idempotency key is taken (ids are random) */
    i2v_upload tmp;
    q = st(c, S_UPLOAD_BY_IDEM);
    if (!q) return rollback(c, db_err(c->db, err, "upload"));
    sqlite3_bind_text(q, 1, u->user_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, u->idem_key, -1, SQLITE_STATIC);
    r = one_upload(c, q, found ? found : &tmp, err);
    if (r == I2V_ENOTFOUND) r = i2v__err(err, I2V_EDB, "upload: id %s already taken", u->id);
    rollback(c, 0);
    return r ? r : i2v__err(err, I2V_EDUPLICATE, "Idempotency-Key: already used");
}

static int sq_upload_get(i2v_store *s, const char *id, i2v_upload *u, i2v_error *err)
{
    CONN(s, err);
    sqlite3_stmt *q = st(c, S_UPLOAD_GET);
    if (!q) return db_err(c->db, err, "upload");
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    return one_upload(c, q, u, err);
}

static int sq_upload_expired(i2v_store *s, int64_t before, int limit, i2v_upload_fn fn, void *ud,
                             i2v_error *err)
{
    CONN(s, err);
    if (limit < 1 || limit > 1000) return i2v__err(err, I2V_EINVAL, "limit: 1 to 1000");
    sqlite3_stmt *q = st(c, S_UPLOAD_EXPIRED);
    if (!q) return db_err(c->db, err, "uploads");
    sqlite3_bind_int64(q, 1, before);
    sqlite3_bind_int(q, 2, limit);
    /* the rows first, then the callbacks: fn may call the store */
    i2v_upload *rows = malloc((size_t)limit * sizeof *rows);
    if (!rows) {
        sqlite3_reset(q);
        return i2v__err(err, I2V_ENOMEM, "out of memory");
    }
    int rc, n = 0;
    while (n < limit && (rc = sqlite3_step(q)) == SQLITE_ROW)
        read_upload(q, &rows[n++]);
    if (n == limit) rc = SQLITE_DONE;
    sqlite3_reset(q);
    if (rc != SQLITE_DONE) {
        free(rows);
        return db_err(c->db, err, "uploads");
    }
    for (int i = 0; i < n; i++)
        if (fn(ud, &rows[i])) break;
    free(rows);
    return 0;
}

static int sq_upload_remove(i2v_store *s, const char *id, i2v_error *err)
{
    CONN(s, err);
    sqlite3_stmt *q = st(c, S_UPLOAD_DEL);
    if (!q) return db_err(c->db, err, "upload");
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    if (run(q) != SQLITE_DONE) return db_err(c->db, err, "upload");
    return sqlite3_changes(c->db) ? 0 : i2v__err(err, I2V_ENOTFOUND, "no such upload");
}

static int sq_user_set_secret(i2v_store *s, const char *user, const char *secret, i2v_error *err)
{
    CONN(s, err);
    sqlite3_stmt *q = st(c, S_USER_SECRET);
    if (!q) return db_err(c->db, err, "user");
    sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, secret, -1, SQLITE_STATIC);
    if (run(q) != SQLITE_DONE) return db_err(c->db, err, "user");
    return sqlite3_changes(c->db) ? 0 : i2v__err(err, I2V_ENOTFOUND, "no user %s", user);
}

static void read_hook(sqlite3_stmt *q, i2v_delivery_info *d)
{
    memset(d, 0, sizeof *d);
    d->id = sqlite3_column_int64(q, 0);
    text(q, 1, d->generation, sizeof d->generation);
    d->gen_state = sqlite3_column_int(q, 2);
    text(q, 3, d->url, sizeof d->url);
    text(q, 4, d->msg_id, sizeof d->msg_id);
    d->state = sqlite3_column_int(q, 5);
    d->attempts = sqlite3_column_int(q, 6);
    d->last_status = (long)sqlite3_column_int64(q, 7);
    text(q, 8, d->last_error, sizeof d->last_error);
    d->next_ms = sqlite3_column_int64(q, 9);
    d->delivered_ms = sqlite3_column_int64(q, 10);
    d->created_ms = sqlite3_column_int64(q, 11);
}

static int sq_delivery_page(i2v_store *s, const char *user, int64_t gen, int64_t before, int limit,
                            i2v_delivery_fn fn, void *ud, i2v_error *err)
{
    CONN(s, err);
    if (limit < 1 || limit > 1000) return i2v__err(err, I2V_EINVAL, "limit: 1 to 1000");
    sqlite3_stmt *q = st(c, S_HOOK_PAGE);
    if (!q) return db_err(c->db, err, "deliveries");
    sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, gen > 0 ? gen : 0);
    sqlite3_bind_int64(q, 3, before > 0 ? before : 0);
    sqlite3_bind_int(q, 4, limit);
    i2v_delivery_info *d = malloc(sizeof *d);
    if (!d) {
        sqlite3_reset(q);
        return i2v__err(err, I2V_ENOMEM, "out of memory");
    }
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        read_hook(q, d);
        if (fn(ud, d)) break;
    }
    free(d);
    sqlite3_reset(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return db_err(c->db, err, "deliveries");
    return 0;
}

static int sq_delivery_redeliver(i2v_store *s, const char *user, int64_t id, i2v_delivery_info *d,
                                 i2v_error *err)
{
    CONN(s, err);
    const int64_t now = i2v__now_ms();
    int r = begin(c, err);
    if (r) return r;
    for (int k = 0; k < 2; k++) { /* a finished one again, or a pending one sooner */
        sqlite3_stmt *q = st(c, k ? S_HOOK_SOONER : S_HOOK_AGAIN);
        if (!q) return rollback(c, db_err(c->db, err, "deliveries"));
        sqlite3_bind_int64(q, 1, id);
        sqlite3_bind_text(q, 2, user, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 3, now);
        if (run(q) != SQLITE_DONE) return rollback(c, db_err(c->db, err, "deliveries"));
        if (sqlite3_changes(c->db)) break;
    }
    sqlite3_stmt *q = st(c, S_HOOK_GET);
    if (!q) return rollback(c, db_err(c->db, err, "deliveries"));
    sqlite3_bind_int64(q, 1, id);
    sqlite3_bind_text(q, 2, user, -1, SQLITE_STATIC);
    i2v_delivery_info tmp;
    const int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) read_hook(q, d ? d : &tmp);
    sqlite3_reset(q);
    if (rc == SQLITE_DONE) return rollback(c, i2v__err(err, I2V_ENOTFOUND, "no such delivery"));
    if (rc != SQLITE_ROW) return rollback(c, db_err(c->db, err, "deliveries"));
    return commit(c, err);
}

/* ---- live progress ---- */

static int sq_gen_watch(i2v_store *s, const int64_t *ids, int nids, const char *const *users,
                        int nusers, int64_t after, int64_t *max_id, i2v_gen_page_fn fn, void *ud,
                        i2v_error *err)
{
    char *idl = i2v__store_watch_list(ids, NULL, nids, '[', ']', err);
    char *ul = idl ? i2v__store_watch_list(NULL, users, nusers, '[', ']', err) : NULL;
    i2v_gen *g = ul ? malloc(sizeof *g) : NULL;
    int r = 0, rc;
    conn *c = g ? get(SQ(s), err) : NULL;
    if (!c) {
        r = !ul  ? (err ? err->code : I2V_EINVAL)
            : !g ? i2v__err(err, I2V_ENOMEM, "out of memory")
                 : I2V_EDB;
        goto out;
    }
    /* one read transaction: the largest id and the rows of one snapshot */
    if (run(st(c, S_BEGIN_READ)) != SQLITE_DONE) {
        r = db_err(c->db, err, "watch");
        goto out;
    }
    sqlite3_stmt *q = st(c, S_WATCH_MAX);
    if (!q || sqlite3_step(q) != SQLITE_ROW) {
        r = rollback(c, db_err(c->db, err, "watch"));
        goto out;
    }
    if (max_id) *max_id = sqlite3_column_int64(q, 0);
    sqlite3_reset(q);
    if (!(q = st(c, S_WATCH))) {
        r = rollback(c, db_err(c->db, err, "watch"));
        goto out;
    }
    sqlite3_bind_text(q, 1, idl, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, ul, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, after);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        read_gen(q, g);
        if (fn(ud, g, sqlite3_column_int(q, sqlite3_column_count(q) - 1))) break;
    }
    sqlite3_reset(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        r = rollback(c, db_err(c->db, err, "watch"));
    else
        r = commit(c, err);
out:
    free(g);
    free(ul);
    free(idl);
    return r;
}

static const i2v_store_vt sqlite_vt = {
    .name = "sqlite",
    .close = sq_close,
    .user_create = sq_user_create,
    .user_get = sq_user_get,
    .key_add = sq_key_add,
    .key_revoke = sq_key_revoke,
    .key_user = sq_key_user,
    .credit = sq_credit,
    .gen_create = sq_gen_create,
    .gen_get = sq_gen_get,
    .gen_list = sq_gen_list,
    .gen_claim = sq_gen_claim,
    .gen_renew = sq_gen_renew,
    .gen_finish = sq_gen_finish,
    .gen_release = sq_gen_release,
    .reap = sq_reap,
    .hook_claim = sq_hook_claim,
    .hook_done = sq_hook_done,
    .ledger = sq_ledger,
    .idem_get = sq_idem_get,
    .listen = NULL, /* no notifications: workers poll */
    .queue_stats = sq_queue_stats,
    .ping = sq_ping,
    .gen_find = sq_gen_find,
    .gen_page = sq_gen_page,
    .gen_cancel = sq_gen_cancel,
    .gen_delete_outputs = sq_gen_delete_outputs,
    .ledger_page = sq_ledger_page,
    .key_add_named = sq_key_add_named,
    .key_list = sq_key_list,
    .key_revoke_own = sq_key_revoke_own,
    .key_auth = sq_key_auth,
    .upload_add = sq_upload_add,
    .upload_get = sq_upload_get,
    .upload_expired = sq_upload_expired,
    .upload_remove = sq_upload_remove,
    .user_set_secret = sq_user_set_secret,
    .delivery_page = sq_delivery_page,
    .delivery_redeliver = sq_delivery_redeliver,
    .gen_watch = sq_gen_watch,
    .key_gen_get = sq_key_gen_get,
};

int i2v__store_open_sqlite(i2v_store **out, const char *path, const i2v_store_config *cfg,
                           i2v_error *err)
{
    *out = NULL;
    sq_store *s = calloc(1, sizeof *s);
    if (!s) return i2v__err(err, I2V_ENOMEM, "out of memory");
    s->base.vt = &sqlite_vt;
    s->path = strdup(path);
    s->cfg.max_attempts = cfg && cfg->max_attempts > 0 ? cfg->max_attempts : 3;
    s->cfg.busy_timeout_ms = cfg && cfg->busy_timeout_ms > 0 ? cfg->busy_timeout_ms : 10000;
    const int64_t day = 24 * 3600 * 1000LL;
    s->cfg.idem_ttl_ms = cfg && cfg->idem_ttl_ms > day ? cfg->idem_ttl_ms : day;
    pthread_mutex_init(&s->lock, NULL);
    pthread_key_create(&s->key, NULL);
    conn *c = get(s, err);
    if (!c) {
        sq_close(&s->base);
        return I2V_EDB;
    }
    const int r = migrate(s, c, err);
    if (r) {
        sq_close(&s->base);
        return r;
    }
    *out = &s->base;
    return 0;
}
