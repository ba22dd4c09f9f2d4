/*
 * fetch.h - getting bytes from a URL with libcurl, safely: http and https
 * only, a total time limit and a minimum speed, a byte limit counted as data
 * arrives, at most max_redirects redirects, proxies from the environment
 * ignored, and every address actually connected to (first request and every
 * redirect) checked by netaddr.h before the socket is opened.
 */
#ifndef I2V_FETCH_H
#define I2V_FETCH_H

#include <stddef.h>

#include "i2v/i2v.h"
#include "netaddr.h"

typedef struct i2v_fetch_limits {
    size_t max_bytes;       /* body bytes; default 64 MiB */
    long timeout_ms;        /* whole transfer; default 30 s */
    long connect_ms;        /* default 10 s */
    int max_redirects;      /* default 5; 0 = do not follow */
    const i2v_allow *allow; /* addresses allowed despite being non-public */
    /* When not NULL and raised (nonzero), the transfer stops within about
     * 100 ms with I2V_ECANCELLED (a cancelled generation). */
    const volatile int *cancel;
} i2v_fetch_limits;

void i2v__fetch_limits_init(i2v_fetch_limits *lim);
/* Process-wide libcurl set-up; call once from main before threads start. */
void i2v__fetch_global_init(void);

/* GET url. On success *data (malloc'd, caller frees) holds *len bytes and 0 is
 * returned; on failure a negative i2v_code with a message naming the cause
 * (I2V_EDENIED for a refused scheme or address, I2V_ELIMIT, I2V_EFETCH,
 * I2V_ECANCELLED when lim->cancel was raised). */
int i2v__fetch(const char *url, const i2v_fetch_limits *lim, unsigned char **data, size_t *len,
               i2v_error *err);

/* POST body to url with the given extra headers (NULL-terminated "Name: value"
 * strings). Redirects are never followed. *status gets the HTTP status.
 * Returns 0 when a response arrived (any status), else a negative code. */
int i2v__post(const char *url, const char *const *headers, const char *body, size_t len,
              const i2v_fetch_limits *lim, long *status, i2v_error *err);

/* 1 when url is syntactically an absolute http(s) URL with a host and no
 * user-info; else 0 and why. */
int i2v__url_ok(const char *url, char *why, size_t whylen);

#endif
