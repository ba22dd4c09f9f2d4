/*
 * sigv4.c - AWS Signature Version 4 pieces on OpenSSL: the URI encoding,
 * payload hashes and the presigned URL query (see sigv4.h). The presigner
 * follows "Authenticating Requests: Using Query Parameters (AWS Signature
 * Version 4)": a canonical request of the method, the encoded path, the
 * sorted X-Amz-* query, the host header and UNSIGNED-PAYLOAD; a string to
 * sign of the algorithm, the time, the scope and the request's hash; a
 * signature by the key derived from the secret, date, region and service.
 */
#include "sigv4.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/error.h"

#define HASH_READ (256 * 1024) /* bytes read at a time while hashing a file */

/* A string built into a fixed buffer; full is set (and the text cut) when
 * an append does not fit. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    int full;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->full || n >= b->cap - b->len) {
        b->full = 1;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

/* Appends s AWS-encoded (keep_slash as i2v__sigv4_encode). */
static void sb_enc(sbuf *b, const char *s, int keep_slash)
{
    if (b->full) return;
    long n = i2v__sigv4_encode(s, strlen(s), keep_slash, b->p + b->len, b->cap - b->len);
    if (n < 0) {
        b->p[b->len] = '\0';
        b->full = 1;
        return;
    }
    b->len += (size_t)n;
}

static void hex(const unsigned char *d, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[2 * n] = '\0';
}

long i2v__sigv4_encode(const char *s, size_t len, int keep_slash, char *out, size_t cap)
{
    static const char digits[] = "0123456789ABCDEF";
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        const unsigned char c = (unsigned char)s[i];
        const int keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                         (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~' ||
                         (c == '/' && keep_slash);
        const size_t need = keep ? 1 : 3;
        if (n + need >= cap) {
            if (cap) out[0] = '\0';
            return I2V_EINVAL;
        }
        if (keep) {
            out[n++] = (char)c;
        } else {
            out[n++] = '%';
            out[n++] = digits[c >> 4];
            out[n++] = digits[c & 15];
        }
    }
    if (n >= cap) return I2V_EINVAL;
    out[n] = '\0';
    return (long)n;
}

void i2v__sigv4_sha256_hex(const void *data, size_t len, char out[I2V_SIGV4_HEX + 1])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != sizeof md) abort();
    hex(md, sizeof md, out);
}

int i2v__sigv4_sha256_fd(int fd, uint64_t off, uint64_t len, char out[I2V_SIGV4_HEX + 1],
                         i2v_error *err)
{
    int rc = 0;
    unsigned char md[32];
    unsigned int mdlen = 0;
    unsigned char *buf = malloc(HASH_READ);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    out[0] = '\0';
    if (!buf || !ctx) {
        rc = i2v__err(err, I2V_ENOMEM, "out of memory");
        goto out;
    }
    if (!EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        rc = i2v__err(err, I2V_EINTERNAL, "sigv4: SHA-256 is not available");
        goto out;
    }
    while (len > 0) {
        const size_t want = len < HASH_READ ? (size_t)len : HASH_READ;
        ssize_t n = pread(fd, buf, want, (off_t)off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            rc = i2v__err(err, I2V_EIO, "blob: reading the file to upload: %s", strerror(errno));
            goto out;
        }
        if (n == 0) {
            rc = i2v__err(err, I2V_EIO, "blob: the file to upload got shorter");
            goto out;
        }
        EVP_DigestUpdate(ctx, buf, (size_t)n);
        off += (uint64_t)n;
        len -= (uint64_t)n;
    }
    if (!EVP_DigestFinal_ex(ctx, md, &mdlen) || mdlen != sizeof md) {
        rc = i2v__err(err, I2V_EINTERNAL, "sigv4: SHA-256 failed");
        goto out;
    }
    hex(md, sizeof md, out);
out:
    EVP_MD_CTX_free(ctx);
    free(buf);
    return rc;
}

static void hmac(const void *key, size_t klen, const char *msg, unsigned char out[32])
{
    unsigned int n = 0;
    if (!HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out, &n) ||
        n != 32)
        abort();
}

int i2v__sigv4_presign(const i2v_sigv4_presign *p, char *query, size_t cap, i2v_sigv4_trace *trace,
                       i2v_error *err)
{
    int rc = 0;
    char amzdate[17], date[9], scope[256], hash[I2V_SIGV4_HEX + 1], sig[I2V_SIGV4_HEX + 1];
    char creq_buf[4096], sts_buf[512], secret_buf[256];
    unsigned char k[32], k2[32];
    sbuf q = {query, 0, cap, 0}, cr = {creq_buf, 0, sizeof creq_buf, 0};
    sbuf sts = {sts_buf, 0, sizeof sts_buf, 0};
    if (cap) query[0] = '\0';
    creq_buf[0] = sts_buf[0] = '\0';
    if (!p->method || !*p->method || !p->host || !*p->host || !p->path || p->path[0] != '/' ||
        !p->region || !*p->region || !p->service || !*p->service || !p->access_key ||
        !*p->access_key || !p->secret_key || !*p->secret_key) {
        rc = i2v__err(err, I2V_EINVAL,
                      "sigv4: a presigned URL needs a method, host, path "
                      "starting with '/', region, service, key and secret");
        goto out;
    }
    if (p->expires < 1 || p->expires > I2V_SIGV4_EXPIRES_MAX) {
        rc = i2v__err(err, I2V_EINVAL, "sigv4: a presigned URL lasts 1..%d seconds, not %ld",
                      I2V_SIGV4_EXPIRES_MAX, p->expires);
        goto out;
    }
    struct tm tm;
    if (!gmtime_r(&p->now, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 1970) {
        rc = i2v__err(err, I2V_EINVAL, "sigv4: the signing time is out of range");
        goto out;
    }
    strftime(amzdate, sizeof amzdate, "%Y%m%dT%H%M%SZ", &tm);
    memcpy(date, amzdate, 8);
    date[8] = '\0';
    if ((size_t)snprintf(scope, sizeof scope, "%s/%s/%s/aws4_request", date, p->region,
                         p->service) >= sizeof scope) {
        rc = i2v__err(err, I2V_EINVAL, "sigv4: the region or service is too long");
        goto out;
    }

    /* the query, sorted by name: Algorithm, Credential, Date, Expires,
     * Security-Token, SignedHeaders ("Se" < "Si") */
    char expires[24];
    snprintf(expires, sizeof expires, "%ld", p->expires);
    sb_str(&q, "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=");
    sb_enc(&q, p->access_key, 0);
    sb_str(&q, "%2F");
    sb_enc(&q, scope, 0);
    sb_str(&q, "&X-Amz-Date=");
    sb_str(&q, amzdate);
    sb_str(&q, "&X-Amz-Expires=");
    sb_str(&q, expires);
    if (p->session_token && *p->session_token) {
        sb_str(&q, "&X-Amz-Security-Token=");
        sb_enc(&q, p->session_token, 0);
    }
    sb_str(&q, "&X-Amz-SignedHeaders=host");

    sb_str(&cr, p->method);
    sb_str(&cr, "\n");
    sb_enc(&cr, p->path, 1);
    sb_str(&cr, "\n");
    if (!q.full) sb_add(&cr, q.p, q.len);
    sb_str(&cr, "\nhost:");
    sb_str(&cr, p->host);
    sb_str(&cr, "\n\nhost\nUNSIGNED-PAYLOAD");
    if (q.full || cr.full) {
        rc = i2v__err(err, I2V_EINVAL, "sigv4: the presigned URL is too long");
        goto out;
    }
    i2v__sigv4_sha256_hex(cr.p, cr.len, hash);

    sb_str(&sts, "AWS4-HMAC-SHA256\n");
    sb_str(&sts, amzdate);
    sb_str(&sts, "\n");
    sb_str(&sts, scope);
    sb_str(&sts, "\n");
    sb_str(&sts, hash);
    if (sts.full) {
        rc = i2v__err(err, I2V_EINVAL, "sigv4: the scope is too long");
        goto out;
    }

    /* the signing key: HMAC chain from "AWS4" + secret */
    if ((size_t)snprintf(secret_buf, sizeof secret_buf, "AWS4%s", p->secret_key) >=
        sizeof secret_buf) {
        rc = i2v__err(err, I2V_EINVAL, "sigv4: the secret key is too long");
        goto out;
    }
    hmac(secret_buf, strlen(secret_buf), date, k);
    hmac(k, sizeof k, p->region, k2);
    hmac(k2, sizeof k2, p->service, k);
    hmac(k, sizeof k, "aws4_request", k2);
    hmac(k2, sizeof k2, sts.p, k);
    hex(k, sizeof k, sig);

    sb_str(&q, "&X-Amz-Signature=");
    sb_str(&q, sig);
    if (q.full) {
        rc = i2v__err(err, I2V_EINVAL, "sigv4: the presigned URL is too long");
        goto out;
    }
    if (trace) {
        snprintf(trace->canonical_request, sizeof trace->canonical_request, "%s", cr.p);
        snprintf(trace->string_to_sign, sizeof trace->string_to_sign, "%s", sts.p);
    }
out:
    OPENSSL_cleanse(secret_buf, sizeof secret_buf);
    OPENSSL_cleanse(k, sizeof k);
    OPENSSL_cleanse(k2, sizeof k2);
    if (rc && cap) query[0] = '\0';
    return rc;
}
