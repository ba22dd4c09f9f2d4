/*
 * web.h - the Developer Space (docs/native-api.md, "The Developer Space"):
 * the browser pages under / (HTML, CSS and JavaScript modules from web/,
 * compiled into the binary, with ETags and a strict Content-Security-Policy)
 * and the browser's sessions: an API key exchanged for an HttpOnly cookie
 * (POST /api/i2v/v1/session), a CSRF token for every change made with it,
 * sign-in attempts limited per client address.
 *
 * Sessions are stateless, so any number of `i2v serve` processes share
 * them: the cookie is KEY_ID.USER_ID.EXPIRY.MAC, MAC the HMAC-SHA256 of
 * the rest under the session secret (I2V_SESSION_SECRET, the same on every
 * server; a random one per process when unset). Every request made with it
 * checks that the key is still active, so revoking a key ends its
 * sessions. The CSRF token is the HMAC of the cookie under another label:
 * a page can read it (GET /session), another site cannot.
 */
#ifndef I2V_WEB_H
#define I2V_WEB_H

#include <stddef.h>
#include <stdint.h>

#include "http_server.h"
#include "service.h"

#define I2V_SESSION_COOKIE "i2v_session"
/* KEY_ID(<=23) . USER_ID(36) . EXPIRY(<=12) . MAC(64 hex) */
#define I2V_SESSION_TOKEN_MAX 160

typedef struct i2v_web i2v_web;

typedef struct i2v_web_config {
    const char *secret;    /* NULL or "": a random secret for this process */
    int session_s;         /* a session's lifetime (Max-Age of the cookie) */
    int signin_per_minute; /* sign-in attempts from one address per minute */
    int secure_cookie;     /* 1: the cookie is Secure (the public URL is https) */
} i2v_web_config;

/* 0, or -1 with a message (a secret shorter than 16 characters). */
int i2v__web_new(i2v_web **out, const i2v_web_config *cfg, char *msg, size_t msglen);
void i2v__web_free(i2v_web **w);

/* The session token of key_id (a key's public id) and user, valid until
 * expiry_s (Unix seconds), into out[I2V_SESSION_TOKEN_MAX]: 0, or -1 for an
 * id that cannot be part of one. */
int i2v__web_token(const i2v_web *w, const char *key_id, const char *user, int64_t expiry_s,
                   char out[I2V_SESSION_TOKEN_MAX]);
/* Checks a token at now_s: 0 with its key id, user and expiry, or -1
 * (malformed, forged or expired). */
int i2v__web_token_check(const i2v_web *w, const char *token, int64_t now_s, char key_id[24],
                         char user[37], int64_t *expiry_s);
/* The CSRF token of a session token (64 hex characters) into out[65]. */
void i2v__web_csrf(const i2v_web *w, const char *token, char out[65]);
/* One sign-in attempt from addr at now_ms: 0 when allowed, else the seconds
 * until the next one is (Retry-After). */
int i2v__web_rate(i2v_web *w, const char *addr, int64_t now_ms);

/* The caller's user from the session cookie, for the native API's handlers
 * when no key was sent: 0 (user set); 1 after answering (*ret set: 401
 * invalid_session for a bad or expired cookie or a revoked key, 403 csrf for
 * a change without the right X-CSRF-Token, 503 when the store is away); -1
 * when the request carries no session cookie. */
int i2v__web_auth(i2v_service *svc, i2v_req *r, char user[37], int *ret);

/* GET, POST and DELETE /api/i2v/v1/session. */
int i2v__web_session(i2v_service *svc, i2v_req *r);

/* The pages: GET / and /assets/...; every other path answers 404 in
 * Animation API v2's shape, as before. */
extern const i2v_api_family i2v__web_family;

/* One embedded file of web/: the table web_assets.c holds, written at
 * build time by scripts/embed.py (web/meson.build). */
typedef struct i2v_web_asset {
    const char *name;          /* relative to web/: "index.html", "js/app.js" */
    const unsigned char *data; /* followed by one NUL */
    size_t len;                /* without the NUL */
    const char *ctype;         /* Content-Type */
    const char *etag;          /* "\"<16 hex of its SHA-256>\"" */
} i2v_web_asset;
extern const i2v_web_asset i2v__web_files[];
extern const size_t i2v__web_nfiles;
/* The asset at path, or NULL. */
const i2v_web_asset *i2v__web_asset(const char *path);

#endif
