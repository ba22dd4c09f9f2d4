/*
 * sigv4.h - the pieces of AWS Signature Version 4 that the S3 blob store
 * makes itself (libcurl signs its requests' headers): AWS's URI encoding,
 * SHA-256 payload hashes (x-amz-content-sha256) of memory and of file
 * ranges, and presigned URLs (query-string authentication, "Authenticating
 * Requests: Using Query Parameters" in the S3 API reference). Pure
 * functions on OpenSSL: no clock, no environment, no network, so the
 * presigner is tested against AWS's published example.
 */
#ifndef I2V_SIGV4_H
#define I2V_SIGV4_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "i2v/i2v.h"

#define I2V_SIGV4_HEX 64             /* a SHA-256 or signature in hex, without the NUL */
#define I2V_SIGV4_EXPIRES_MAX 604800 /* seven days, S3's limit for a presigned URL */

/* AWS's URI encoding of len bytes of s into out (cap bytes with the NUL):
 * A-Z a-z 0-9 '-' '.' '_' '~' are kept, '/' too when keep_slash, every other
 * byte (UTF-8 ones included) becomes %XX in upper-case hex. Returns the
 * length written, or I2V_EINVAL when it does not fit (out is then ""). */
long i2v__sigv4_encode(const char *s, size_t len, int keep_slash, char *out, size_t cap);

/* SHA-256 of len bytes as lower-case hex into out. */
void i2v__sigv4_sha256_hex(const void *data, size_t len, char out[I2V_SIGV4_HEX + 1]);

/* SHA-256 of bytes [off, off + len) of the open file fd (read with pread,
 * so the file position is untouched) as lower-case hex. 0, or I2V_EIO when
 * the file cannot be read or is shorter, with a message naming what. */
int i2v__sigv4_sha256_fd(int fd, uint64_t off, uint64_t len, char out[I2V_SIGV4_HEX + 1],
                         i2v_error *err);

/* What a presigned URL is made from. Every string is borrowed. */
typedef struct i2v_sigv4_presign {
    const char *method;  /* "GET" */
    const char *host;    /* the Host header: "bucket.s3.amazonaws.com", "127.0.0.1:9000" */
    const char *path;    /* the URL path, not yet encoded: "/bucket/key" (encoded here,
                            '/' kept) */
    const char *region;  /* "us-east-1" */
    const char *service; /* "s3" */
    const char *access_key, *secret_key;
    const char *session_token; /* NULL or "": none; else sent as X-Amz-Security-Token */
    time_t now;                /* the signing time (UTC seconds) */
    long expires;              /* seconds, 1..I2V_SIGV4_EXPIRES_MAX */
} i2v_sigv4_presign;

/* The intermediate strings of a signature, for tests and debugging. */
typedef struct i2v_sigv4_trace {
    char canonical_request[4096];
    char string_to_sign[512];
} i2v_sigv4_trace;

/* Writes the query string of a presigned URL (no leading '?') into query:
 * X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires,
 * [X-Amz-Security-Token,] X-Amz-SignedHeaders=host, then X-Amz-Signature,
 * with an unsigned payload. The URL is "SCHEME://HOST" + the encoded path +
 * "?" + query. trace (may be NULL) receives the canonical request and the
 * string to sign. Returns 0, or I2V_EINVAL for a missing field, an expiry
 * out of range or a query that does not fit in cap. */
int i2v__sigv4_presign(const i2v_sigv4_presign *p, char *query, size_t cap, i2v_sigv4_trace *trace,
                       i2v_error *err);

#endif
