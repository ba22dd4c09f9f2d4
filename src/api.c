/* api.c - body parsing and authentication shared by both API adapters. */
#include "api.h"

#include <stdio.h>
#include <string.h>

#include "crypto.h"

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
    if (!r->body || r->body_len == 0) {
        snprintf(msg, ml, "body: a JSON object is required");
        return NULL;
    }
    if (json_depth(r->body, r->body_len) > I2V_JSON_DEPTH_MAX) {
        snprintf(msg, ml, "body: JSON nested deeper than %d levels", I2V_JSON_DEPTH_MAX);
        return NULL;
    }
    json_error_t je;
    json_t *j = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &je);
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

int i2v__api_submit(i2v_service *svc, i2v_req *r, i2v_gen *g, int64_t *balance,
                    i2v_api_error_fn fail)
{
    i2v_error e = {0};
    const int s = i2v__service_submit(svc, g, balance, &e);
    if (s == 0) return 1;
    if (s == I2V_EDENIED) return fail(r, I2V_API_REVIEW, "%s", e.message);
    if (s == I2V_ECREDIT) return fail(r, I2V_API_CREDITS, "%s", e.message);
    return fail(r, I2V_API_INTERNAL, "internal error, please retry");
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

int i2v__api_auth(i2v_service *svc, const i2v_req *r, const char *header, char user[37])
{
    const char *key = i2v__req_header(r, header);
    if (!key || !*key || strlen(key) > 256) return I2V_ENOTFOUND;
    char hash[I2V_HASH_HEX + 1];
    i2v__sha256_hex(key, strlen(key), hash);
    i2v_error e = {0};
    return svc->store->vt->key_user(svc->store, hash, user, &e);
}
