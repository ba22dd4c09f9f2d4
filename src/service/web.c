/*
 * web.c - the Developer Space: its pages (embedded from web/ at build time)
 * and the browser's sessions (web.h): stateless signed cookies, CSRF
 * tokens, sign-in attempts limited per address.
 */
#include "web.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "api.h"
#include "common/crypto.h"
#include "common/error.h"
#include "common/log.h"

/* The headers of every page and asset: nothing runs or loads but what this
 * server sends (outputs may redirect to a blob store, so media and images
 * may come from any http(s) origin), no framing, no referrer. */
#define CSP                                                                                        \
    "default-src 'self'; script-src 'self'; style-src 'self'; "                                    \
    "img-src 'self' data: blob: https: http:; media-src 'self' blob: https: http:; "               \
    "connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "             \
    "form-action 'self'"

/* Sign-in attempts are counted per address in a small set-associative
 * table: RATE_SETS sets of RATE_WAYS entries, a minute's window each. An
 * address not in its set takes the entry whose window is oldest. */
#define RATE_SETS 256
#define RATE_WAYS 8
#define RATE_WINDOW_MS 60000

typedef struct rate_entry {
    char addr[INET6_ADDRSTRLEN];
    int64_t start_ms; /* 0: free */
    int count;
} rate_entry;

struct i2v_web {
    unsigned char secret[32];
    int session_s, per_minute, secure;
    uint64_t seed; /* of the address hash, so no one can aim at a set */
    pthread_mutex_t lock;
    rate_entry rate[RATE_SETS][RATE_WAYS];
};

int i2v__web_new(i2v_web **out, const i2v_web_config *cfg, char *msg, size_t ml)
{
    *out = NULL;
    if (cfg->secret && *cfg->secret && strlen(cfg->secret) < 16) {
        snprintf(msg, ml, "I2V_SESSION_SECRET: at least 16 characters (32 random ones are best)");
        return -1;
    }
    i2v_web *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(msg, ml, "out of memory");
        return -1;
    }
    if (cfg->secret && *cfg->secret) {
        /* any length in, 32 bytes of key out */
        static const char label[] = "i2v session secret";
        i2v__hmac_sha256(label, sizeof label - 1, cfg->secret, strlen(cfg->secret), w->secret);
    } else {
        i2v__random(w->secret, sizeof w->secret);
    }
    i2v__random(&w->seed, sizeof w->seed);
    w->session_s = cfg->session_s > 0 ? cfg->session_s : 12 * 3600;
    w->per_minute = cfg->signin_per_minute > 0 ? cfg->signin_per_minute : 10;
    w->secure = cfg->secure_cookie;
    pthread_mutex_init(&w->lock, NULL);
    *out = w;
    return 0;
}

void i2v__web_free(i2v_web **w)
{
    if (!w || !*w) return;
    pthread_mutex_destroy(&(*w)->lock);
    memset((*w)->secret, 0, sizeof(*w)->secret);
    free(*w);
    *w = NULL;
}

/* ---- tokens ---- */

static void hex(const unsigned char *b, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[b[i] >> 4];
        out[2 * i + 1] = d[b[i] & 15];
    }
    out[2 * n] = '\0';
}

/* The MAC of text under the secret and a label, as hex into out[65]. */
static void mac_hex(const i2v_web *w, const char *label, const char *text, size_t n, char out[65])
{
    char buf[I2V_SESSION_TOKEN_MAX + 32];
    unsigned char mac[32];
    const int ll = snprintf(buf, sizeof buf, "%s\n", label);
    if (ll < 0 || (size_t)ll + n > sizeof buf) n = 0; /* cannot happen: callers bound text */
    memcpy(buf + ll, text, n);
    i2v__hmac_sha256(w->secret, sizeof w->secret, buf, (size_t)ll + n, mac);
    hex(mac, sizeof mac, out);
}

/* Letters, digits, - and _ only, 1..max characters. */
static int id_ok(const char *s, size_t n, size_t max)
{
    if (n == 0 || n > max) return 0;
    for (size_t i = 0; i < n; i++) {
        const char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

int i2v__web_token(const i2v_web *w, const char *key_id, const char *user, int64_t expiry_s,
                   char out[I2V_SESSION_TOKEN_MAX])
{
    char mac[65];
    if (!id_ok(key_id, strlen(key_id), 23) || !id_ok(user, strlen(user), 36) || expiry_s <= 0)
        return -1;
    const int n =
        snprintf(out, I2V_SESSION_TOKEN_MAX, "%s.%s.%lld", key_id, user, (long long)expiry_s);
    if (n < 0 || n + 66 > I2V_SESSION_TOKEN_MAX) return -1;
    mac_hex(w, "i2v-session", out, (size_t)n, mac);
    snprintf(out + n, (size_t)(I2V_SESSION_TOKEN_MAX - n), ".%s", mac);
    return 0;
}

int i2v__web_token_check(const i2v_web *w, const char *token, int64_t now_s, char key_id[24],
                         char user[37], int64_t *expiry_s)
{
    const size_t n = token ? strlen(token) : 0;
    if (n < 70 || n >= I2V_SESSION_TOKEN_MAX) return -1;
    const char *dot1 = strchr(token, '.');
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    const char *dot3 = dot2 ? strchr(dot2 + 1, '.') : NULL;
    if (!dot3 || strchr(dot3 + 1, '.') || strlen(dot3 + 1) != 64) return -1;
    if (!id_ok(token, (size_t)(dot1 - token), 23) ||
        !id_ok(dot1 + 1, (size_t)(dot2 - dot1 - 1), 36))
        return -1;
    int64_t exp = 0;
    for (const char *p = dot2 + 1; p < dot3; p++) {
        if (*p < '0' || *p > '9' || exp > (INT64_MAX - 9) / 10) return -1;
        exp = exp * 10 + (*p - '0');
    }
    char mac[65];
    mac_hex(w, "i2v-session", token, (size_t)(dot3 - token), mac);
    if (!i2v__equal_ct(mac, dot3 + 1, 64) || dot3 == dot2 + 1 || exp <= now_s) return -1;
    memcpy(key_id, token, (size_t)(dot1 - token));
    key_id[dot1 - token] = '\0';
    memcpy(user, dot1 + 1, (size_t)(dot2 - dot1 - 1));
    user[dot2 - dot1 - 1] = '\0';
    *expiry_s = exp;
    return 0;
}

void i2v__web_csrf(const i2v_web *w, const char *token, char out[65])
{
    size_t n = strlen(token);
    if (n >= I2V_SESSION_TOKEN_MAX) n = I2V_SESSION_TOKEN_MAX - 1;
    mac_hex(w, "i2v-csrf", token, n, out);
}

/* ---- sign-in attempts per address ---- */

int i2v__web_rate(i2v_web *w, const char *addr, int64_t now_ms)
{
    uint64_t h = w->seed ^ 1469598103934665603ULL; /* FNV-1a, keyed by the seed */
    for (const char *p = addr; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    rate_entry *set = w->rate[(h ^ (h >> 29)) % RATE_SETS];
    int wait = 0;
    pthread_mutex_lock(&w->lock);
    rate_entry *e = NULL, *oldest = &set[0];
    for (int i = 0; i < RATE_WAYS && !e; i++) {
        if (set[i].start_ms && strcmp(set[i].addr, addr) == 0) e = &set[i];
        if (set[i].start_ms < oldest->start_ms) oldest = &set[i];
    }
    if (e && now_ms - e->start_ms >= RATE_WINDOW_MS) e->start_ms = 0; /* a new minute */
    if (!e || !e->start_ms) {
        if (!e) e = oldest;
        snprintf(e->addr, sizeof e->addr, "%s", addr);
        e->start_ms = now_ms;
        e->count = 0;
    }
    if (e->count >= w->per_minute) {
        wait = (int)((e->start_ms + RATE_WINDOW_MS - now_ms + 999) / 1000);
        if (wait < 1) wait = 1;
    } else {
        e->count++;
    }
    pthread_mutex_unlock(&w->lock);
    return wait;
}

/* ---- responses ---- */

/* Queues resp (destroyed here) with the page headers and status. */
static int send_page(i2v_req *r, int status, struct MHD_Response *resp)
{
    if (!resp) return -1;
    MHD_add_response_header(resp, "Content-Security-Policy", CSP);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    r->status = status;
    const int ok = MHD_queue_response(r->conn, (unsigned)status, resp) == MHD_YES;
    MHD_destroy_response(resp);
    return ok ? 0 : -1;
}

/* A JSON answer (body stolen) with an optional Set-Cookie and Retry-After. */
static int send_json(i2v_req *r, int status, json_t *body, const char *cookie, int retry_after)
{
    struct MHD_Response *resp = i2v__json_response(body);
    if (!resp) return -1;
    if (cookie) MHD_add_response_header(resp, "Set-Cookie", cookie);
    if (retry_after > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", retry_after);
        MHD_add_response_header(resp, "Retry-After", ra);
    }
    return send_page(r, status, resp);
}

/* The native error shape with a code of the Developer Space's own. */
static int error(i2v_req *r, int status, const char *code, const char *field, const char *msg,
                 const char *cookie, int retry_after)
{
    json_t *e = json_pack("{s:s, s:s, s:o}", "code", code, "message", msg, "field",
                          field ? json_string(field) : json_null());
    return send_json(r, status, json_pack("{s:o}", "error", e), cookie, retry_after);
}

/* The client's address, as text, into out[INET6_ADDRSTRLEN]. */
static void client_addr(const i2v_req *r, char out[INET6_ADDRSTRLEN])
{
    snprintf(out, INET6_ADDRSTRLEN, "?");
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr) return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  INET6_ADDRSTRLEN);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  INET6_ADDRSTRLEN);
}

/* ISO 8601 UTC with milliseconds. */
static json_t *iso_s(int64_t s)
{
    char buf[96];
    const time_t t = (time_t)s;
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.000Z", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return json_string(buf);
}

/* ---- sessions ---- */

typedef struct key_state {
    const char *key_id;
    int found, revoked;
} key_state;

static int key_seen(void *user, const i2v_key_info *k)
{
    key_state *st = user;
    if (strcmp(k->prefix, st->key_id) != 0) return 0;
    st->found = 1;
    st->revoked = k->revoked;
    return 1;
}

/* The cookie's session, checked against the store: 0 with its token, key
 * id, user and expiry; 1 after answering; -1 when there is no cookie. */
static int session_of(i2v_service *svc, i2v_req *r, char token[I2V_SESSION_TOKEN_MAX],
                      char key_id[24], char user[37], int64_t *expiry, int *ret)
{
    const char *c = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, I2V_SESSION_COOKIE);
    if (!c || !*c) return -1;
    const i2v_web *w = svc->web;
    if (!w || strlen(c) >= I2V_SESSION_TOKEN_MAX ||
        i2v__web_token_check(w, c, i2v__now_ms() / 1000, key_id, user, expiry) != 0) {
        *ret = error(r, 401, "invalid_session", NULL,
                     "session: expired or not valid; sign in again with an API key", NULL, 0);
        return 1;
    }
    key_state st = {key_id, 0, 0};
    i2v_error e = {0};
    const int s = svc->store->vt->key_list(svc->store, user, key_seen, &st, &e);
    if (s) {
        *ret = i2v__api_store_error(r, s, i2v__native_error);
        return 1;
    }
    if (!st.found || st.revoked) {
        *ret = error(r, 401, "invalid_session", NULL,
                     "session: its API key was revoked; sign in again with an active key", NULL, 0);
        return 1;
    }
    snprintf(token, I2V_SESSION_TOKEN_MAX, "%s", c);
    return 0;
}

/* A change (not GET or HEAD) must carry the session's CSRF token: 0, or 1
 * after answering 403. */
static int csrf_check(const i2v_web *w, i2v_req *r, const char *token, int *ret)
{
    if (strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0) return 0;
    char want[65];
    i2v__web_csrf(w, token, want);
    const char *got = i2v__req_header(r, "X-CSRF-Token");
    if (got && strlen(got) == 64 && i2v__equal_ct(got, want, 64)) return 0;
    *ret = error(r, 403, "csrf", "X-CSRF-Token",
                 got ? "X-CSRF-Token: not this session's token (GET /api/i2v/v1/session has it)"
                     : "X-CSRF-Token: required for a change made with the session cookie (GET "
                       "/api/i2v/v1/session has it)",
                 NULL, 0);
    return 1;
}

int i2v__web_auth(i2v_service *svc, i2v_req *r, char user[37], int *ret)
{
    char token[I2V_SESSION_TOKEN_MAX], key_id[24];
    int64_t expiry;
    const int s = session_of(svc, r, token, key_id, user, &expiry, ret);
    if (s) return s;
    return csrf_check(svc->web, r, token, ret);
}

static json_t *session_json(const i2v_web *w, const char *token, const char *key_id,
                            const char *user, int64_t expiry)
{
    char csrf[65];
    i2v__web_csrf(w, token, csrf);
    return json_pack("{s:s, s:s, s:s, s:o}", "user_id", user, "key_id", key_id, "csrf_token", csrf,
                     "expires_at", iso_s(expiry));
}

/* Set-Cookie for token (NULL: the cookie cleared) into out[320]. */
static void cookie_line(const i2v_web *w, const char *token, int max_age, char out[320])
{
    snprintf(out, 320, "%s=%s; Path=/; Max-Age=%d; HttpOnly; SameSite=Strict%s", I2V_SESSION_COOKIE,
             token ? token : "", token ? max_age : 0, w->secure ? "; Secure" : "");
}

static int session_create(i2v_service *svc, i2v_req *r)
{
    i2v_web *w = svc->web;
    char addr[INET6_ADDRSTRLEN], msg[256];
    client_addr(r, addr);
    const int wait = i2v__web_rate(w, addr, i2v__now_ms());
    if (wait) {
        i2v__log(I2V_LOG_INFO, "signin_limited", " ip=%s retry_after=%d", addr, wait);
        snprintf(msg, sizeof msg,
                 "sign-in: too many attempts from this address; retry in %d seconds", wait);
        return error(r, 429, "rate_limited", NULL, msg, NULL, wait);
    }
    json_t *body = i2v__api_body(r, msg, sizeof msg);
    if (!body) return i2v__native_error(r, I2V_API_PARAM, "%s", msg);
    int ret;
    const char *k, *key = NULL;
    json_t *v;
    json_object_foreach(body, k, v)
    {
        if (strcmp(k, "key") != 0) {
            ret = i2v__native_error(r, I2V_API_PARAM, "%.64s: unknown field", k);
            goto out;
        }
    }
    if (i2v__json_opt_string(body, "key", &key) != 0 || !key || !*key || strlen(key) > 256) {
        ret = i2v__native_error(r, I2V_API_PARAM, "key: required, an API key (a string)");
        goto out;
    }
    char user[37], key_id[24], hash[I2V_HASH_HEX + 1];
    i2v__sha256_hex(key, strlen(key), hash);
    i2v_error e = {0};
    const int s =
        strlen(key) >= 12 ? svc->store->vt->key_auth(svc->store, hash, user, &e) : I2V_ENOTFOUND;
    memset(hash, 0, sizeof hash);
    if (s == I2V_ENOTFOUND) {
        i2v__log(I2V_LOG_INFO, "signin_refused", " ip=%s", addr);
        ret = i2v__native_error(r, I2V_API_AUTH, "key: unknown or revoked API key");
        goto out;
    }
    if (s) {
        ret = i2v__api_store_error(r, s, i2v__native_error);
        goto out;
    }
    memcpy(key_id, key, 12);
    key_id[12] = '\0';
    char token[I2V_SESSION_TOKEN_MAX], cookie[320];
    const int64_t expiry = i2v__now_ms() / 1000 + w->session_s;
    if (i2v__web_token(w, key_id, user, expiry, token) != 0) {
        ret = i2v__native_error(r, I2V_API_AUTH, "key: unknown or revoked API key");
        goto out;
    }
    cookie_line(w, token, w->session_s, cookie);
    i2v__log(I2V_LOG_INFO, "signin", " user=%s key_id=%s ip=%s", user, key_id, addr);
    ret = send_json(r, 200, session_json(w, token, key_id, user, expiry), cookie, 0);
out:
    json_decref(body);
    return ret;
}

int i2v__web_session(i2v_service *svc, i2v_req *r)
{
    i2v_web *w = svc->web;
    if (!w) return i2v__native_error(r, I2V_API_NOTFOUND, "sessions are not enabled here");
    if (strcmp(r->method, "POST") == 0) return session_create(svc, r);
    char token[I2V_SESSION_TOKEN_MAX], key_id[24], user[37], cookie[320];
    int64_t expiry;
    int ret;
    const int s = session_of(svc, r, token, key_id, user, &expiry, &ret);
    if (s < 0)
        return error(r, 401, "invalid_session", NULL, "session: not signed in (no session cookie)",
                     NULL, 0);
    if (s > 0) return ret;
    if (strcmp(r->method, "DELETE") == 0) {
        if (csrf_check(w, r, token, &ret)) return ret;
        cookie_line(w, NULL, 0, cookie);
        i2v__log(I2V_LOG_INFO, "signout", " user=%s key_id=%s", user, key_id);
        return send_json(r, 200, json_pack("{s:b}", "signed_out", 1), cookie, 0);
    }
    return send_json(r, 200, session_json(w, token, key_id, user, expiry), NULL, 0);
}

/* ---- the pages ---- */

const i2v_web_asset *i2v__web_asset(const char *path)
{
    for (size_t i = 0; i < i2v__web_nfiles; i++)
        if (strcmp(i2v__web_files[i].name, path) == 0) return &i2v__web_files[i];
    return NULL;
}

/* 1 when If-None-Match names etag (or is "*"). */
static int not_modified(const i2v_req *r, const char *etag)
{
    const char *inm = i2v__req_header(r, "If-None-Match");
    if (!inm) return 0;
    if (strcmp(inm, "*") == 0) return 1;
    return strstr(inm, etag) != NULL;
}

static int serve_asset(i2v_req *r, const i2v_web_asset *a)
{
    const int fresh = not_modified(r, a->etag);
    struct MHD_Response *resp =
        fresh ? MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT)
              : MHD_create_response_from_buffer(a->len, (void *)a->data, MHD_RESPMEM_PERSISTENT);
    if (!resp) return -1;
    MHD_add_response_header(resp, "Content-Type", a->ctype);
    MHD_add_response_header(resp, "ETag", a->etag);
    /* revalidated every time: the names do not change with the contents */
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    return send_page(r, fresh ? 304 : 200, resp);
}

static int page(i2v_service *svc, i2v_req *r)
{
    (void)svc;
    const char *m = r->method;
    const char *path = r->path;
    const i2v_web_asset *a = NULL;
    if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0)
        a = i2v__web_asset("index.html");
    else if (strncmp(path, "/assets/", 8) == 0 && !strstr(path, ".."))
        a = i2v__web_asset(path + 8);
    char msg[300];
    if (!a) {
        snprintf(msg, sizeof msg, "%s %.200s: no such endpoint", m, path);
        return i2v__req_error(r, I2V_API_NOTFOUND, msg);
    }
    if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0) {
        snprintf(msg, sizeof msg, "method %s is not allowed on %.200s", m, path);
        return i2v__req_error(r, I2V_API_METHOD, msg);
    }
    return serve_asset(r, a);
}

/* The family of every path no other family owns: with every method, so
 * that an unknown path is a 404 whatever the method, in Animation API v2's
 * shape (as it was before the pages). */
static const i2v_route web_routes[] = {
    {"GET HEAD POST PUT DELETE PATCH OPTIONS", "/", page},
};

const i2v_api_family i2v__web_family = {"web", "", i2v__v2_error, web_routes,
                                        (int)(sizeof web_routes / sizeof web_routes[0])};
