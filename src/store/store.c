/*
 * store.c - what every job store backend shares: the clock the records use,
 * the state names, the store URLs (which backend, where), the embedded
 * default's location in the data directory, and closing.
 */
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/error.h"

int64_t i2v__task_id_of(const char *id)
{
    int64_t v = 0;
    if (!*id || strlen(id) > 16) return -1;
    for (const char *p = id; *p; p++) {
        if (*p < '0' || *p > '9') return -1;
        v = v * 10 + (*p - '0');
    }
    return v;
}

int64_t i2v__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *i2v__gen_state_name(int state)
{
    static const char *const n[] = {"queued", "running", "succeeded", "failed", "cancelled"};
    return state >= 0 && state <= I2V_GEN_CANCELLED ? n[state] : "?";
}

char *i2v__store_watch_list(const int64_t *ids, const char *const *strs, int n, char open,
                            char close, i2v_error *err)
{
    if (n < 0 || n > I2V_WATCH_MAX) {
        i2v__err(err, I2V_EINVAL, "watch: 0 to %d ids or users, not %d", I2V_WATCH_MAX, n);
        return NULL;
    }
    size_t cap = 3;
    for (int i = 0; i < n; i++) {
        if (!strs) {
            cap += 21;
            continue;
        }
        const size_t len = strlen(strs[i]);
        if (len == 0 || len > 64 ||
            strspn(strs[i], "0123456789abcdefABCDEF-ghijklmnopqrstuvwxyz"
                            "GHIJKLMNOPQRSTUVWXYZ") != len) {
            i2v__err(err, I2V_EINVAL, "watch: a user id is letters, digits and '-'");
            return NULL;
        }
        cap += len + 3;
    }
    char *out = malloc(cap);
    if (!out) {
        i2v__err(err, I2V_ENOMEM, "out of memory");
        return NULL;
    }
    size_t k = 0;
    out[k++] = open;
    for (int i = 0; i < n; i++) {
        if (i) out[k++] = ',';
        if (strs)
            k += (size_t)snprintf(out + k, cap - k, "\"%s\"", strs[i]);
        else
            k += (size_t)snprintf(out + k, cap - k, "%lld", (long long)ids[i]);
    }
    out[k++] = close;
    out[k] = '\0';
    return out;
}

int i2v__store_open(i2v_store **out, const char *url, const i2v_store_config *cfg, i2v_error *err)
{
    *out = NULL;
    if (!url || !*url) return i2v__err(err, I2V_EINVAL, "store: empty URL");
    if (strncmp(url, "sqlite:", 7) == 0) {
        if (!url[7])
            return i2v__err(err, I2V_EINVAL, "store: 'sqlite:' needs a file (sqlite:PATH)");
        return i2v__store_open_sqlite(out, url + 7, cfg, err);
    }
    /* a libpq URI goes as is; "postgres:" takes a key=value conninfo */
    if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0)
        return i2v__store_open_pg(out, url, cfg, err);
    if (strncmp(url, "postgres:", 9) == 0) return i2v__store_open_pg(out, url + 9, cfg, err);
    /* only the scheme is shown: the rest could hold a password */
    const int scheme = (int)strcspn(url, ":");
    return i2v__err(err, I2V_EINVAL,
                    "store: '%.*s%s' is not a store URL (sqlite:PATH, postgres://…,"
                    " postgresql://… or postgres:CONNINFO)",
                    scheme < 40 ? scheme : 40, url, url[scheme] ? ":…" : "");
}

int i2v__store_open_data_dir(i2v_store **out, const char *data_dir, const i2v_store_config *cfg,
                             i2v_error *err)
{
    *out = NULL;
    if (mkdir(data_dir, 0755) != 0 && errno != EEXIST)
        return i2v__err(err, I2V_EIO, "data: cannot create %s: %s", data_dir, strerror(errno));
    char path[4096];
    snprintf(path, sizeof path, "%s/i2v.db", data_dir);
    return i2v__store_open_sqlite(out, path, cfg, err);
}

void i2v__store_close(i2v_store **s)
{
    if (!s || !*s) return;
    (*s)->vt->close(*s);
    *s = NULL;
}
