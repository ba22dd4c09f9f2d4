/* api.c - body parsing and authentication shared by both API adapters. */
#include "api.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/crypto.h"
#include "metrics.h"

/* Deepest nesting of objects and arrays, counted outside strings, so that a
 * hostile body is refused before the parser recurses. */
static int json_depth(const char *s, size_t n)
{
    int depth = 0, max = 0, in_str = 0;
    for (size_t i = 0; i < n; i++) {
        const char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > max) max = depth;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return max;
}

json_t *i2v__api_body(const i2v_req *r, char *msg, size_t ml)
{
    return i2v__api_parse(r->body, r->body_len, msg, ml);
}

json_t *i2v__api_parse(const char *body, size_t len, char *msg, size_t ml)
{
    if (!body || len == 0) {
        snprintf(msg, ml, "body: a JSON object is required");
        return NULL;
    }
    if (json_depth(body, len) > I2V_JSON_DEPTH_MAX) {
        snprintf(msg, ml, "body: JSON nested deeper than %d levels", I2V_JSON_DEPTH_MAX);
        return NULL;
    }
    json_error_t je;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        snprintf(msg, ml, "body: not valid JSON (%s at line %d column %d)", je.text, je.line,
                 je.column);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        snprintf(msg, ml, "body: must be a JSON object");
        return NULL;
    }
    return j;
}

json_t *i2v__api_time(int64_t ms)
{
    if (ms <= 0) return json_null();
    char buf[96]; /* roomy: the compiler cannot bound tm's fields */
    const time_t sec = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    return json_string(buf);
}

int i2v__idem_key_ok(const char *key)
{
    const size_t n = strlen(key);
    int ok = n >= 1 && n <= I2V_IDEM_KEY_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = key[i] > ' ' && key[i] < 0x7f;
    return ok;
}

/* Answers from the generation the key made, if there is one: 1 (answered,
 * *ret set) or 0. */
static int idem_replay(i2v_service *svc, i2v_req *r, const char *user, const i2v_gen *g,
                       i2v_api_reply_fn reply, i2v_api_error_fn fail, int *ret)
{
    char hash[65];
    int64_t bal = 0;
    i2v_error e = {0};
    i2v_gen *first = malloc(sizeof *first);
    if (!first) {
        *ret = fail(r, I2V_API_INTERNAL, "out of memory");
        return 1;
    }
    const int s = svc->store->vt->idem_get(svc->store, user, g->idem_key, hash, first, &bal, &e);
    int answered = 1;
    if (s == I2V_ENOTFOUND)
        answered = 0;
    else if (s != 0)
        *ret = i2v__api_store_error(r, s, fail);
    else if (strcmp(hash, g->idem_hash) != 0)
        *ret = fail(r, I2V_API_IDEMPOTENCY,
                    "Idempotency-Key: already used with a different request; send a new key "
                    "for a new request");
    else {
        r->replayed = 1;
        *ret = reply(svc, r, first, bal);
    }
    free(first);
    return answered;
}

/* The Idempotency-Key header: none, 0; checked and, with the request's hash,
 * put in g; or answered (a bad key, a replay, another request with the key):
 * 1 with *ret set. */
static int idempotency(i2v_service *svc, i2v_req *r, const char *user, json_t *body, i2v_gen *g,
                       i2v_api_reply_fn reply, i2v_api_error_fn fail, int *ret)
{
    const char *key = i2v__req_header(r, "Idempotency-Key");
    if (!key) return 0;
    const size_t n = strlen(key);
    if (!i2v__idem_key_ok(key)) {
        *ret = fail(r, I2V_API_PARAM,
                    "Idempotency-Key: 1 to %d printable ASCII characters without spaces",
                    I2V_IDEM_KEY_MAX);
        return 1;
    }
    /* The request is the path and the body as JSON with its keys sorted:
     * spacing and key order do not make a different request. */
    char *canon = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    if (!canon) {
        *ret = fail(r, I2V_API_INTERNAL, "out of memory");
        return 1;
    }
    const size_t pl = strlen(r->path), cl = strlen(canon);
    char *msg = malloc(pl + 1 + cl);
    if (!msg) {
        free(canon);
        *ret = fail(r, I2V_API_INTERNAL, "out of memory");
        return 1;
    }
    memcpy(msg, r->path, pl);
    msg[pl] = '\n';
    memcpy(msg + pl + 1, canon, cl);
    i2v__sha256_hex(msg, pl + 1 + cl, g->idem_hash);
    free(msg);
    free(canon);
    memcpy(g->idem_key, key, n + 1);
    return idem_replay(svc, r, user, g, reply, fail, ret);
}

static int submit(i2v_service *svc, i2v_req *r, i2v_gen *g, i2v_api_reply_fn reply,
                  i2v_api_error_fn fail)
{
    i2v_error e = {0};
    int64_t balance = 0;
    const int s = i2v__service_submit(svc, g, &balance, &e);
    if (s == 0) i2v__metrics_charged(g->price);
    if (s == 0) return reply(svc, r, g, balance);
    int ret;
    /* a racing request with the same key made it first: its answer */
    if (s == I2V_EDUPLICATE && idem_replay(svc, r, g->user_id, g, reply, fail, &ret)) return ret;
    if (s == I2V_EDENIED) return fail(r, I2V_API_REVIEW, "%s", e.message);
    if (s == I2V_ECREDIT) return fail(r, I2V_API_CREDITS, "%s", e.message);
    return i2v__api_store_error(r, s, fail);
}

int i2v__api_generate(i2v_service *svc, i2v_req *r, const char *user, json_t *body,
                      i2v_api_read_fn read, i2v_api_reply_fn reply, i2v_api_error_fn fail)
{
    char msg[256];
    int ret;
    i2v_gen *g = calloc(1, sizeof *g);
    if (!g) {
        ret = fail(r, I2V_API_INTERNAL, "out of memory");
    } else if (!idempotency(svc, r, user, body, g, reply, fail, &ret)) {
        snprintf(g->user_id, sizeof g->user_id, "%s", user);
        const int rd = read(svc, body, g, msg, sizeof msg);
        if (rd == I2V_API_READ_UNAVAILABLE)
            ret = fail(r, I2V_API_UNAVAILABLE, "%s", msg);
        else if (rd != 0)
            ret = fail(r, I2V_API_PARAM, "%s", msg);
        else
            ret = submit(svc, r, g, reply, fail);
    }
    free(g);
    json_decref(body);
    return ret;
}

int i2v__api_param(char *msg, size_t ml, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, ml, fmt, ap);
    va_end(ap);
    return -1;
}

int i2v__json_opt_string(json_t *obj, const char *name, const char **out)
{
    json_t *v = json_object_get(obj, name);
    *out = NULL;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_string(v)) return -1;
    *out = json_string_value(v);
    return 0;
}

int i2v__api_duration(json_t *obj)
{
    json_t *v = json_object_get(obj, "duration");
    if (!v || json_is_null(v)) return 0;
    if (!json_is_integer(v)) return -1;
    const json_int_t d = json_integer_value(v);
    return d == 5 || d == 10 ? (int)d : -1;
}

int i2v__api_prompt(json_t *obj, const char **out, char *msg, size_t ml)
{
    if (i2v__json_opt_string(obj, "prompt", out) != 0) {
        snprintf(msg, ml, "prompt: must be a string");
        return -1;
    }
    if (*out && strlen(*out) > I2V_PROMPT_MAX) {
        snprintf(msg, ml, "prompt: longer than %d characters", I2V_PROMPT_MAX);
        return -1;
    }
    return 0;
}

int i2v__api_store_error(i2v_req *r, int code, i2v_api_error_fn fail)
{
    if (code == I2V_EUNAVAILABLE)
        return fail(r, I2V_API_UNAVAILABLE, "service temporarily unavailable, please retry");
    return fail(r, I2V_API_INTERNAL, "internal error, please retry");
}

int i2v__api_auth(i2v_service *svc, i2v_req *r, const char *header, char user[37],
                  i2v_api_error_fn fail, const char *auth_msg, int *ret)
{
    return i2v__api_auth_key(svc, r, i2v__req_header(r, header), user, fail, auth_msg, ret);
}

static int key_usable(const char *key)
{
    return key && *key && strlen(key) <= 256;
}

int i2v__api_auth_key(i2v_service *svc, i2v_req *r, const char *key, char user[37],
                      i2v_api_error_fn fail, const char *auth_msg, int *ret)
{
    int s = I2V_ENOTFOUND;
    if (key_usable(key)) {
        char hash[I2V_HASH_HEX + 1];
        i2v__sha256_hex(key, strlen(key), hash);
        i2v_error e = {0};
        /* key_user, and the key's last use stamped (at most once a minute) */
        s = svc->store->vt->key_auth(svc->store, hash, user, &e);
    }
    if (s == 0) return 0;
    *ret = s == I2V_ENOTFOUND ? fail(r, I2V_API_AUTH, "%s", auth_msg)
                              : i2v__api_store_error(r, s, fail);
    return 1;
}

/* A poll's state, kept with its request (parked or not). */
typedef struct poll_state {
    i2v_poll p;
    i2v_gen g;
    char hash[I2V_HASH_HEX + 1], uuid[48];
    i2v_req *r;
} poll_state;

static void poll_answered(i2v_poll *p)
{
    poll_state *ps = p->user;
    i2v__req_unpark(ps->r); /* the handler is called again, and answers */
}

int i2v__api_auth_get(i2v_service *svc, i2v_req *r, const char *key, int64_t task_id,
                      const char *uuid, char user[37], i2v_gen **g, int *wait,
                      i2v_api_error_fn fail, const char *auth_msg, int *ret)
{
    poll_state *ps = r->parked;
    if (!ps) {
        if (!key_usable(key) || (uuid && strlen(uuid) >= sizeof ps->uuid)) {
            *ret = fail(r, I2V_API_AUTH, "%s", auth_msg);
            return 1;
        }
        if (!(ps = calloc(1, sizeof *ps))) {
            *ret = fail(r, I2V_API_INTERNAL, "out of memory");
            return 1;
        }
        r->parked = ps;
        r->parked_free = free;
        ps->r = r;
        i2v__sha256_hex(key, strlen(key), ps->hash);
        if (uuid) snprintf(ps->uuid, sizeof ps->uuid, "%s", uuid);
        ps->p = (i2v_poll){.key_hash = ps->hash,
                           .task_id = task_id,
                           .uuid = uuid ? ps->uuid : NULL,
                           .g = &ps->g,
                           .done = poll_answered,
                           .user = ps};
        const i2v_store *st = svc->store;
        if (st->vt->key_gen_get_async && i2v__req_park(r, ps, free) == 0) {
            /* no thread waits: the store answers many polls in one statement */
            st->vt->key_gen_get_async(svc->store, &ps->p);
            return 2;
        }
        ps->p.rc = st->vt->key_gen_get(svc->store, ps->hash, task_id, ps->p.uuid, ps->p.user_id,
                                       &ps->g, &ps->p.wait, &ps->p.err);
    }
    const int s = ps->p.rc;
    *g = &ps->g;
    if (s == 0 || s == I2V_ENOTFOUND) {
        snprintf(user, 37, "%s", ps->p.user_id);
        if (wait) *wait = s == 0 ? ps->p.wait : 0;
        return s;
    }
    *ret =
        s == I2V_EDENIED ? fail(r, I2V_API_AUTH, "%s", auth_msg) : i2v__api_store_error(r, s, fail);
    return 1;
}

/* Animation API v2's error words and statuses, which the native API speaks
 * too (v2 never answers 429). */
const i2v_api_code i2v__api_codes[I2V_API_KINDS] = {
    [I2V_API_PARAM] = {400, "invalid_request"},
    [I2V_API_AUTH] = {401, "invalid_api_key"},
    [I2V_API_FORBIDDEN] = {403, "forbidden"},
    [I2V_API_NOTFOUND] = {404, "not_found"},
    [I2V_API_METHOD] = {405, "method_not_allowed"},
    [I2V_API_TOO_LARGE] = {413, "payload_too_large"},
    [I2V_API_REVIEW] = {400, "prompt_refused"},
    [I2V_API_CREDITS] = {402, "insufficient_credits"},
    [I2V_API_INTERNAL] = {500, "internal_error"},
    [I2V_API_GENERIC] = {400, "bad_request"},
    [I2V_API_IDEMPOTENCY] = {422, "idempotency_key_reused"},
    [I2V_API_UNAVAILABLE] = {503, "service_unavailable"},
    [I2V_API_CONFLICT] = {409, "conflict"},
    [I2V_API_TOO_MANY] = {429, "too_many_requests"},
};
