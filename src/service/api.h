/*
 * api.h - what the API adapters share: request body parsing with limits,
 * API-key authentication, field readers, the generate flow (idempotency,
 * review, charge), and each adapter's route table. Every adapter maps the
 * router's error kinds (http_server.h) to its own status and code in one
 * table.
 */
#ifndef I2V_API_H
#define I2V_API_H

#include <jansson.h>

#include "http_server.h"
#include "service.h"

#define I2V_JSON_DEPTH_MAX 32

/* Parses r's body as a JSON object (depth <= I2V_JSON_DEPTH_MAX). NULL with
 * a message in msg when it is not one. */
json_t *i2v__api_body(const i2v_req *r, char *msg, size_t msglen);
/* The same for any bytes (body may be NULL when len is 0). */
json_t *i2v__api_parse(const char *body, size_t len, char *msg, size_t msglen);
/* Field readers shared by both APIs. A string field: absent or null gives
 * *out NULL and 0; any other type -1. */
int i2v__json_opt_string(json_t *obj, const char *name, const char **out);
/* "duration": 0 when absent or null, 5 or 10, or -1 for anything else. */
int i2v__api_duration(json_t *obj);
/* "prompt": 0 with *out (NULL when absent), or -1 with a message naming the
 * field (not a string, longer than I2V_PROMPT_MAX). */
int i2v__api_prompt(json_t *obj, const char **out, char *msg, size_t msglen);
/* Looks up the user of the key in header: 0, or 1 after answering through
 * fail (*ret set): auth_msg for a missing or unknown key, a retryable error
 * when the store cannot answer. */
int i2v__api_auth(i2v_service *svc, i2v_req *r, const char *header, char user[37],
                  i2v_api_error_fn fail, const char *auth_msg, int *ret);
/* The same for a key the caller took from the request (NULL: none). */
int i2v__api_auth_key(i2v_service *svc, i2v_req *r, const char *key, char user[37],
                      i2v_api_error_fn fail, const char *auth_msg, int *ret);
/* A status poll in one store call: i2v__api_auth_key for key (taken from
 * the request; NULL: none),
 * and that user's generation by task_id (uuid NULL) or uuid; *g points to
 * it (kept with the request). 0: found, *wait set; I2V_ENOTFOUND: none of
 * this user's (user filled; the caller answers); 1: answered through fail
 * (*ret set); 2: parked while the store answers (PostgreSQL): the handler
 * returns 0 at once, and is called again with the answer. */
int i2v__api_auth_get(i2v_service *svc, i2v_req *r, const char *key, int64_t task_id,
                      const char *uuid, char user[37], i2v_gen **g, int *wait,
                      i2v_api_error_fn fail, const char *auth_msg, int *ret);
/* Answers a store failure: retryable (503) when the store is unreachable,
 * else internal. */
int i2v__api_store_error(i2v_req *r, int code, i2v_api_error_fn fail);

/* Status words of the two APIs for a generation state. */
const char *i2v__v1_status(int state);
const char *i2v__v2_status(int state);

/* The answer to a created generation (g, and the balance after its charge):
 * a function of what the store keeps, so a replay gives the same bytes. */
typedef int (*i2v_api_reply_fn)(i2v_service *svc, i2v_req *r, const i2v_gen *g, int64_t balance);
/* Reads and validates a generate body into g (g->user_id is set): 0, or -1
 * with a message naming the field, or I2V_API_READ_UNAVAILABLE when the
 * store could not be asked (a photo URL naming an upload). */
#define I2V_API_READ_UNAVAILABLE (-2)
typedef int (*i2v_api_read_fn)(const i2v_service *svc, json_t *body, i2v_gen *g, char *msg,
                               size_t msglen);
/* The generate flow both APIs share once the key and body are known (body is
 * taken): the Idempotency-Key, the Stripe way (a same request already made
 * is answered by reply from its generation, marked Idempotent-Replayed; a
 * different one with the key by fail with I2V_API_IDEMPOTENCY; a bad key by
 * fail with I2V_API_PARAM), then read, then the submit (review, charge and
 * store), answered by reply, or by fail: a field error, a refused prompt,
 * too few credits (with the store's message), an internal error. */
int i2v__api_generate(i2v_service *svc, i2v_req *r, const char *user, json_t *body,
                      i2v_api_read_fn read, i2v_api_reply_fn reply, i2v_api_error_fn fail);

/* Checks an Idempotency-Key header value: 1 to I2V_IDEM_KEY_MAX printable
 * ASCII characters without spaces. */
int i2v__idem_key_ok(const char *key);

/* Writes a field's error message to msg; returns -1. */
int i2v__api_param(char *msg, size_t msglen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The generate bodies of both APIs read into g (all but the user), without
 * a server: 0, or -1 with a message that names the field. v2's
 * video_credits is the price of 5 s. */
int i2v__v1_request(json_t *body, i2v_gen *g, char *msg, size_t msglen);
int i2v__v2_request(json_t *body, int video_credits, i2v_gen *g, char *msg, size_t msglen);

/* Adapters: each queues exactly one response. */
int i2v__v1_generate(i2v_service *svc, i2v_req *r);
int i2v__v1_result(i2v_service *svc, i2v_req *r);
int i2v__v1_error(i2v_req *r, i2v_api_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int i2v__v2_generate(i2v_service *svc, i2v_req *r);
int i2v__v2_get(i2v_service *svc, i2v_req *r);
int i2v__v2_error(i2v_req *r, i2v_api_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The two APIs' route tables, for the HTTP server. */
extern const i2v_api_family i2v__v1_family;
extern const i2v_api_family i2v__v2_family;

/* The native API (api_native.c, docs/native-api.md): /api/i2v/v1/, Bearer
 * keys, {"error":{"code","message","field"}}. */
#define I2V_NATIVE_PREFIX "/api/i2v/v1/"
int i2v__native_error(i2v_req *r, i2v_api_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A create body read into g (all but the user), without a server: 0, or -1
 * with a message that names the field. */
int i2v__native_request(json_t *body, i2v_gen *g, char *msg, size_t msglen);
extern const i2v_api_family i2v__native_family;
/* An error kind as Animation API v2 and the native API answer it: its HTTP
 * status and its code word ("invalid_request", ...). */
typedef struct i2v_api_code {
    int status;
    const char *code;
} i2v_api_code;
extern const i2v_api_code i2v__api_codes[I2V_API_KINDS];
/* The native API's caller (its key or session): 0, or 1 after answering in
 * the native shape (*ret set). For handlers outside api_native.c. */
int i2v__native_auth(i2v_service *svc, i2v_req *r, char user[37], int *ret);
/* A time as the native API writes it: ISO 8601 UTC with milliseconds, or
 * null for 0. */
json_t *i2v__api_time(int64_t ms);
/* The generation object of the native API (docs/native-api.md), wait its
 * wait number; live progress events carry it as GET /generations/{id}
 * answers it. */
json_t *i2v__native_gen_json(const i2v_service *svc, const i2v_gen *g, int wait);

#endif
