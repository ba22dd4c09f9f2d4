/*
 * test_blob_s3.c - the S3 blob store (src/blob/blob_s3.c) against a real
 * S3-compatible server that verifies signatures (tests/s3: s3rver, started
 * by `python3 tests/s3/s3server.py run -- THIS`, which sets I2V_TEST_S3_URL,
 * the AWS_* credentials and I2V_TEST_S3_STOP / I2V_TEST_S3_START). First the
 * blob contract (blob_contract.c) on a fresh prefix per store, then what is
 * S3's own: URLs and credentials refused with a clear line, a wrong secret
 * at open and one that stops working under an open handle,
 * multipart uploads, presigned URLs (fetched, tampered, expired), keys that
 * need encoding, a session token, and the server going away and coming back
 * under an open handle.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "blob_contract.h"

#define MIB (1024 * 1024)

static char root[64] = "/tmp/i2v-blob-s3-XXXXXX";
static char scratch[128];
static const char *base_url; /* s3://BUCKET?endpoint=... */
static int stores, files;

/* The store URL with a prefix and extra parameters: s3://BUCKET/PREFIX?...&extra. */
static void url_with(char *out, size_t cap, const char *prefix, const char *extra)
{
    const char *q = strchr(base_url, '?');
    assert_non_null(q);
    int n = snprintf(out, cap, "%.*s%s%s%s%s%s", (int)(q - base_url), base_url, prefix ? "/" : "",
                     prefix ? prefix : "", q, extra ? "&" : "", extra ? extra : "");
    assert_true(n > 0 && (size_t)n < cap);
}

static int open_fresh(void *ctx, i2v_blob **out)
{
    (void)ctx;
    char url[1024], prefix[64];
    snprintf(prefix, sizeof prefix, "t-%d-%d", (int)getpid(), stores++);
    url_with(url, sizeof url, prefix, NULL);
    i2v_error e = {0};
    int rc = i2v__blob_open(out, url, &e);
    if (rc) print_error("open %s: %s\n", url, e.message);
    return rc;
}

static uint8_t byte_at(unsigned seed, uint64_t i)
{
    uint64_t x = (i + 1) * 0x9E3779B97F4A7C15ull ^ (uint64_t)(seed + 1000) * 0xBF58476D1CE4E5B9ull;
    x ^= x >> 29;
    return (uint8_t)(x * 0x94D049BB133111EBull >> 56);
}

/* A local file of len bytes of stream seed, at path (512 bytes). */
static void local_file(char *path, size_t len, unsigned seed)
{
    snprintf(path, 512, "%s/local-%d", scratch, files++);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (size_t i = 0; i < len; i++)
        fputc(byte_at(seed, i), f);
    assert_int_equal(fclose(f), 0);
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads [off, off+len) of name in reads of chunk bytes and checks them. */
static void check_range(i2v_blob *b, const char *name, uint64_t off, uint64_t len, unsigned seed,
                        size_t chunk)
{
    i2v_blob_reader *rd = NULL;
    i2v_error e = {0};
    assert_int_equal(i2v__blob_read_open(b, name, off, len, &rd, &e), 0);
    uint8_t *buf = malloc(chunk);
    uint64_t got = 0;
    for (;;) {
        long n = rd->read(rd, buf, chunk, &e);
        if (n < 0) fail_msg("%s: read: %s", name, e.message);
        if (n == 0) break;
        for (long i = 0; i < n; i++)
            if (buf[i] != byte_at(seed, off + got + (uint64_t)i))
                fail_msg("%s: byte %llu differs", name, (unsigned long long)(off + got + i));
        got += (uint64_t)n;
    }
    assert_int_equal(got, len);
    free(buf);
    i2v__blob_reader_close(&rd);
}

typedef struct body {
    char *p;
    size_t len;
} body;

static size_t collect(char *ptr, size_t size, size_t n, void *user)
{
    body *b = user;
    char *p = realloc(b->p, b->len + size * n + 1);
    if (!p) return 0;
    memcpy(p + b->len, ptr, size * n);
    b->p = p;
    b->len += size * n;
    b->p[b->len] = '\0';
    return size * n;
}

/* A plain GET of url, with no credentials: the status, the body into *out. */
static long plain_get(const char *url, body *out)
{
    CURL *h = curl_easy_init();
    assert_non_null(h);
    out->p = NULL;
    out->len = 0;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    assert_int_equal(curl_easy_perform(h), CURLE_OK);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    return status;
}

/* The environment variable name, or fail. */
static const char *env(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v) fail_msg("%s is not set: run through tests/s3/s3server.py run", name);
    return v;
}

/* Runs I2V_TEST_S3_STOP or I2V_TEST_S3_START. */
static void server(const char *what)
{
    assert_int_equal(system(env(what)), 0);
}

/* Restarts the server accepting another secret. */
static void server_secret(const char *secret)
{
    char cmd[2048];
    server("I2V_TEST_S3_STOP");
    snprintf(cmd, sizeof cmd, "%s '%s'", env("I2V_TEST_S3_START"), secret);
    assert_int_equal(system(cmd), 0);
}

static void test_urls_refused(void **state)
{
    (void)state;
    const char *secret = env("AWS_SECRET_ACCESS_KEY");
    char url[1024];
    static const struct {
        const char *url, *says;
    } bad[] = {
        {"s3://", "bucket name"},
        {"s3://ab?region=us-east-1", "bucket name"},
        {"s3://Upper?region=us-east-1", "bucket name"},
        {"s3://key:secret@bucket", "no credentials"},
        {"s3://bucket?colour=blue", "unknown s3 URL parameter 'colour'"},
        {"s3://bucket?region=us-east-1&region=eu-west-1", "region is given twice"},
        {"s3://bucket?part_size=1048576", "part_size must be 5242880.."},
        {"s3://bucket?path_style=2", "path_style must be 0..1"},
        {"s3://bucket?path_style", "path_style needs a value"},
        {"s3://bucket?endpoint=ftp://x", "http:// or https://"},
        {"s3://bucket?endpoint=http://u:p@127.0.0.1:9", "takes no credentials"},
        {"s3://bucket?endpoint=http://127.0.0.1:9/path", "without a path"},
        {"s3://bucket?endpoint=http://127.0.0.1:9", "IP address: set path_style=1"},
        {"s3://bucket?endpoint=http://[::1]:9&path_style=0", "IP address"},
        {"s3://bucket?region=US%20East", "region"},
        {"s3://bucket/a/../b?region=us-east-1", "'..'"},
        {"s3://bucket/a%2", "%-escape"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        i2v_blob *b = NULL;
        i2v_error e = {0};
        assert_int_equal(i2v__blob_open(&b, bad[i].url, &e), I2V_EINVAL);
        assert_null(b);
        if (!strstr(e.message, bad[i].says))
            fail_msg("%s: '%s' does not say '%s'", bad[i].url, e.message, bad[i].says);
        assert_null(strchr(e.message, '\n'));
    }

    /* missing credentials, each named */
    char *saved = strdup(secret);
    url_with(url, sizeof url, NULL, NULL);
    unsetenv("AWS_SECRET_ACCESS_KEY");
    i2v_blob *b = NULL;
    i2v_error e = {0};
    assert_int_equal(i2v__blob_open(&b, url, &e), I2V_EINVAL);
    assert_string_equal(e.message, "blobs: AWS_SECRET_ACCESS_KEY is not set");
    setenv("AWS_SECRET_ACCESS_KEY", "", 1);
    i2v_error e2 = {0};
    assert_int_equal(i2v__blob_open(&b, url, &e2), I2V_EINVAL);
    assert_string_equal(e2.message, "blobs: AWS_SECRET_ACCESS_KEY is not set");
    setenv("AWS_SECRET_ACCESS_KEY", saved, 1);
    char *key = strdup(env("AWS_ACCESS_KEY_ID"));
    unsetenv("AWS_ACCESS_KEY_ID");
    i2v_error e3 = {0};
    assert_int_equal(i2v__blob_open(&b, url, &e3), I2V_EINVAL);
    assert_string_equal(e3.message, "blobs: AWS_ACCESS_KEY_ID is not set");
    setenv("AWS_ACCESS_KEY_ID", key, 1);
    free(key);
    free(saved);

    /* a bucket that does not exist */
    char nob[1024];
    const char *q = strchr(base_url, '?');
    snprintf(nob, sizeof nob, "s3://no-such-bucket-here%s", q);
    i2v_error e4 = {0};
    assert_int_equal(i2v__blob_open(&b, nob, &e4), I2V_EINVAL);
    assert_non_null(strstr(e4.message, "no s3 bucket no-such-bucket-here"));

    /* an endpoint where nothing listens: unavailable after the retries */
    i2v_error e5 = {0};
    assert_int_equal(i2v__blob_open(&b,
                                    "s3://bucket?endpoint=http://127.0.0.1:1&path_style=1"
                                    "&attempts=2&backoff_ms=10",
                                    &e5),
                     I2V_EUNAVAILABLE);
    assert_non_null(strstr(e5.message, "blobs: s3 endpoint http://127.0.0.1:1 unreachable: "));
}

/* A wrong secret or key is refused by the server's signature check: the
 * store does not open, the message names the credentials, nothing is put. */
static void test_wrong_credentials(void **state)
{
    (void)state;
    char url[1024], local[512];
    char *secret = strdup(env("AWS_SECRET_ACCESS_KEY"));
    char *key = strdup(env("AWS_ACCESS_KEY_ID"));
    url_with(url, sizeof url, "wrong", "backoff_ms=10");
    i2v_blob *b = NULL;

    setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret-0123456789", 1);
    i2v_error e = {0};
    assert_int_equal(i2v__blob_open(&b, url, &e), I2V_EDENIED);
    assert_null(b);
    assert_non_null(strstr(e.message, "blobs: access denied by s3"));
    assert_non_null(strstr(e.message, "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"));
    assert_null(strstr(e.message, "not-the-secret"));
    setenv("AWS_SECRET_ACCESS_KEY", secret, 1);

    setenv("AWS_ACCESS_KEY_ID", "NOSUCHKEY", 1);
    i2v_error e2 = {0};
    assert_int_equal(i2v__blob_open(&b, url, &e2), I2V_EDENIED);
    assert_non_null(strstr(e2.message, "AWS_ACCESS_KEY_ID"));
    setenv("AWS_ACCESS_KEY_ID", key, 1);

    /* with the right ones: nothing was stored under that prefix */
    i2v_error e3 = {0};
    assert_int_equal(i2v__blob_open(&b, url, &e3), 0);
    i2v_blob_info info;
    assert_int_equal(i2v__blob_stat(b, "denied.mp4", &info, &e3), I2V_ENOTFOUND);
    local_file(local, 1000, 1);
    assert_int_equal(i2v__blob_put_file(b, "denied.mp4", local, NULL, &e3), 0);
    assert_false(exists(local));
    i2v__blob_close(&b);
    free(secret);
    free(key);
}

/* The server stops accepting the handle's secret (rotated keys): puts,
 * small and multipart, are I2V_EDENIED naming the credentials, leave the
 * local file and store nothing; stat and reads too. */
static void test_secret_rotated(void **state)
{
    (void)state;
    char url[1024], small[512], big[512];
    url_with(url, sizeof url, "rotated", "part_size=5242880&backoff_ms=10");
    i2v_blob *b = NULL;
    i2v_error e = {0};
    assert_int_equal(i2v__blob_open(&b, url, &e), 0);
    local_file(small, 1000, 2);
    assert_int_equal(i2v__blob_put_file(b, "kept.mp4", small, NULL, &e), 0);
    char *secret = strdup(env("AWS_SECRET_ACCESS_KEY"));

    server_secret("rotated-secret-0123456789");
    local_file(small, 1000, 3);
    local_file(big, 6 * MIB, 4);
    i2v_error e1 = {0}, e2 = {0}, e3 = {0}, e4 = {0};
    assert_int_equal(i2v__blob_put_file(b, "denied.mp4", small, NULL, &e1), I2V_EDENIED);
    assert_string_equal(e1.message, "blobs: access denied by s3: SignatureDoesNotMatch (check "
                                    "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)");
    assert_int_equal(i2v__blob_put_file(b, "denied-big.mp4", big, NULL, &e2), I2V_EDENIED);
    assert_non_null(strstr(e2.message, "AWS_SECRET_ACCESS_KEY"));
    assert_true(exists(small) && exists(big));
    i2v_blob_info info;
    assert_int_equal(i2v__blob_stat(b, "kept.mp4", &info, &e3), I2V_EDENIED);
    i2v_blob_reader *rd = NULL;
    assert_int_equal(i2v__blob_read_open(b, "kept.mp4", 0, 10, &rd, &e4), I2V_EDENIED);
    assert_null(strstr(e1.message, secret));

    server_secret(secret);
    i2v_error e5 = {0};
    assert_int_equal(i2v__blob_stat(b, "denied.mp4", &info, &e5), I2V_ENOTFOUND);
    assert_int_equal(i2v__blob_stat(b, "denied-big.mp4", &info, &e5), I2V_ENOTFOUND);
    assert_int_equal(i2v__blob_stat(b, "kept.mp4", &info, &e5), 0);
    assert_int_equal(i2v__blob_put_file(b, "denied.mp4", small, NULL, &e5), 0);
    unlink(big);
    free(secret);
    i2v__blob_close(&b);
}

/* 12 MiB in parts of 5 MiB: 5 + 5 + 2, read back across the boundaries. */
static void test_multipart(void **state)
{
    (void)state;
    char url[1024], local[512];
    url_with(url, sizeof url, "multipart", "part_size=5242880");
    i2v_blob *b = NULL;
    i2v_error e = {0};
    assert_int_equal(i2v__blob_open(&b, url, &e), 0);
    const size_t size = 12 * MIB;
    local_file(local, size, 7);
    if (i2v__blob_put_file(b, "big.mp4", local, NULL, &e) != 0) fail_msg("put: %s", e.message);
    assert_false(exists(local));
    i2v_blob_info info;
    assert_int_equal(i2v__blob_stat(b, "big.mp4", &info, &e), 0);
    assert_int_equal(info.size, size);
    assert_string_equal(info.ctype, "video/mp4");
    assert_true(info.etag[0] == '"');
    check_range(b, "big.mp4", 0, size, 7, 1000003);          /* all, odd reads */
    check_range(b, "big.mp4", 5 * MIB - 100, 200, 7, 64);    /* part 1 | part 2 */
    check_range(b, "big.mp4", 10 * MIB - 1, 2, 7, 1);        /* part 2 | part 3 */
    check_range(b, "big.mp4", 4 * MIB, 7 * MIB, 7, 3 * MIB); /* three parts at once */
    check_range(b, "big.mp4", size - 1, 1, 7, 16);           /* the last byte */

    /* exactly one part is one PUT; one byte more is two parts */
    local_file(local, 5 * MIB, 8);
    assert_int_equal(i2v__blob_put_file(b, "edge.mp4", local, NULL, &e), 0);
    assert_int_equal(i2v__blob_stat(b, "edge.mp4", &info, &e), 0);
    assert_int_equal(info.size, 5 * MIB);
    char first[80];
    snprintf(first, sizeof first, "%s", info.etag);
    local_file(local, 5 * MIB + 1, 9);
    assert_int_equal(i2v__blob_put_file(b, "edge.mp4", local, "video/x-test", &e), 0);
    assert_int_equal(i2v__blob_stat(b, "edge.mp4", &info, &e), 0);
    assert_int_equal(info.size, 5 * MIB + 1);
    assert_string_equal(info.ctype, "video/x-test");
    assert_string_not_equal(info.etag, first);
    check_range(b, "edge.mp4", 5 * MIB - 3, 4, 9, 2);
    i2v__blob_close(&b);
}

static void test_presigned_url(void **state)
{
    (void)state;
    char url[1024], local[512], link[4096];
    url_with(url, sizeof url, "presigned", NULL);
    i2v_blob *b = NULL;
    i2v_error e = {0};
    assert_int_equal(i2v__blob_open(&b, url, &e), 0);
    const size_t size = 100000;
    local_file(local, size, 11);
    assert_int_equal(i2v__blob_put_file(b, "p.jpg", local, NULL, &e), 0);

    assert_int_equal(i2v__blob_url(b, "p.jpg", 60, link, sizeof link, &e), 1);
    const char *endpoint = env("I2V_TEST_S3_ENDPOINT");
    assert_true(strncmp(link, endpoint, strlen(endpoint)) == 0);
    assert_non_null(strstr(link, "/presigned/p.jpg?X-Amz-Algorithm=AWS4-HMAC-SHA256&"));
    assert_non_null(strstr(link, "&X-Amz-Expires=60&"));
    assert_null(strstr(link, env("AWS_SECRET_ACCESS_KEY")));
    body got;
    assert_int_equal(plain_get(link, &got), 200);
    assert_int_equal(got.len, size);
    for (size_t i = 0; i < size; i++)
        if ((uint8_t)got.p[i] != byte_at(11, i)) fail_msg("byte %zu differs", i);
    free(got.p);

    /* a tampered signature */
    char bad[4096];
    snprintf(bad, sizeof bad, "%s", link);
    char *last = bad + strlen(bad) - 1;
    *last = *last == '0' ? '1' : '0';
    assert_int_equal(plain_get(bad, &got), 403);
    assert_non_null(strstr(got.p, "SignatureDoesNotMatch"));
    free(got.p);
    /* another object with this one's signature */
    snprintf(bad, sizeof bad, "%s", link);
    char *name = strstr(bad, "/p.jpg?");
    name[1] = 'q';
    assert_int_equal(plain_get(bad, &got), 403);
    free(got.p);

    /* an expired one */
    assert_int_equal(i2v__blob_url(b, "p.jpg", 1, link, sizeof link, &e), 1);
    sleep(2);
    assert_int_equal(plain_get(link, &got), 403);
    assert_non_null(strstr(got.p, "expired"));
    free(got.p);

    /* a ttl out of range, a buffer too small: errors, no URL */
    i2v_error e2 = {0};
    assert_int_equal(i2v__blob_url(b, "p.jpg", 0, link, sizeof link, &e2), I2V_EINVAL);
    i2v_error e3 = {0};
    assert_int_equal(i2v__blob_url(b, "p.jpg", 60, link, 40, &e3), I2V_EINVAL);
    assert_string_equal(link, "");
    i2v__blob_close(&b);
}

/* A prefix with a space, '~', '+' and UTF-8: signed requests and presigned
 * URLs encode the key the way the server does. */
static void test_key_encoding(void **state)
{
    (void)state;
    char url[1024], local[512], link[4096];
    url_with(url, sizeof url, "dir%20with%20space/caf%C3%A9~+x", NULL);
    i2v_blob *b = NULL;
    i2v_error e = {0};
    if (i2v__blob_open(&b, url, &e) != 0) fail_msg("open: %s", e.message);
    local_file(local, 3000, 12);
    if (i2v__blob_put_file(b, "enc.json", local, NULL, &e) != 0) fail_msg("put: %s", e.message);
    i2v_blob_info info;
    assert_int_equal(i2v__blob_stat(b, "enc.json", &info, &e), 0);
    assert_int_equal(info.size, 3000);
    assert_string_equal(info.ctype, "application/json");
    check_range(b, "enc.json", 10, 2000, 12, 333);
    assert_int_equal(i2v__blob_url(b, "enc.json", 60, link, sizeof link, &e), 1);
    assert_non_null(strstr(link, "/dir%20with%20space/caf%C3%A9~%2Bx/enc.json?"));
    body got;
    assert_int_equal(plain_get(link, &got), 200);
    assert_int_equal(got.len, 3000);
    free(got.p);
    assert_int_equal(i2v__blob_remove(b, "enc.json", &e), 0);
    assert_int_equal(i2v__blob_stat(b, "enc.json", &info, &e), I2V_ENOTFOUND);
    i2v__blob_close(&b);
}

/* With AWS_SESSION_TOKEN, requests carry x-amz-security-token (signed) and
 * presigned URLs X-Amz-Security-Token. */
static void test_session_token(void **state)
{
    (void)state;
    char url[1024], local[512], link[4096];
    setenv("AWS_SESSION_TOKEN", "session/token+1", 1);
    url_with(url, sizeof url, "token", NULL);
    i2v_blob *b = NULL;
    i2v_error e = {0};
    if (i2v__blob_open(&b, url, &e) != 0) fail_msg("open: %s", e.message);
    unsetenv("AWS_SESSION_TOKEN"); /* read at open */
    local_file(local, 500, 13);
    assert_int_equal(i2v__blob_put_file(b, "t.mp4", local, NULL, &e), 0);
    check_range(b, "t.mp4", 0, 500, 13, 100);
    assert_int_equal(i2v__blob_url(b, "t.mp4", 60, link, sizeof link, &e), 1);
    assert_non_null(strstr(link, "&X-Amz-Security-Token=session%2Ftoken%2B1&"));
    body got;
    assert_int_equal(plain_get(link, &got), 200);
    assert_int_equal(got.len, 500);
    free(got.p);
    i2v__blob_close(&b);
}

/* S3 goes away under an open handle and a reader: every call is
 * I2V_EUNAVAILABLE after its retries, in bounded time; it comes back and
 * the same handle and reader go on. */
static void test_s3_goes_away(void **state)
{
    (void)state;
    char url[1024], local[512];
    url_with(url, sizeof url, "away", NULL); /* the default retries: 4 tries, 0.2+0.4+0.8 s */
    i2v_blob *b = NULL;
    i2v_error e = {0};
    assert_int_equal(i2v__blob_open(&b, url, &e), 0);
    const size_t size = 3 * MIB;
    local_file(local, size, 14);
    assert_int_equal(i2v__blob_put_file(b, "v.mp4", local, NULL, &e), 0);
    i2v_blob_reader *rd = NULL;
    assert_int_equal(i2v__blob_read_open(b, "v.mp4", 0, size, &rd, &e), 0);
    uint8_t *buf = malloc(size);
    assert_int_equal(rd->read(rd, buf, 1000, &e), 1000); /* fetched the first MiB */

    server("I2V_TEST_S3_STOP");
    local_file(local, 2000, 15);
    i2v_blob_info info;
    double t0 = now_s();
    i2v_error e1 = {0};
    assert_int_equal(i2v__blob_put_file(b, "w.mp4", local, NULL, &e1), I2V_EUNAVAILABLE);
    double took = now_s() - t0;
    assert_true(exists(local)); /* left to the caller */
    assert_non_null(strstr(e1.message, "blobs: s3 endpoint http://127.0.0.1:"));
    assert_non_null(strstr(e1.message, " unreachable: "));
    assert_true(took >= 1.2 && took < 10); /* retried, bounded */
    i2v_error e2 = {0};
    t0 = now_s();
    assert_int_equal(i2v__blob_stat(b, "v.mp4", &info, &e2), I2V_EUNAVAILABLE);
    assert_true(now_s() - t0 < 10);
    i2v_error e3 = {0};
    i2v_blob_reader *rd2 = NULL;
    assert_int_equal(i2v__blob_read_open(b, "v.mp4", 0, 1, &rd2, &e3), I2V_EUNAVAILABLE);
    assert_null(rd2);
    i2v_error e4 = {0};
    assert_int_equal(i2v__blob_remove(b, "v.mp4", &e4), I2V_EUNAVAILABLE);
    /* the open reader: what it holds, then unavailable */
    i2v_error e5 = {0};
    assert_int_equal(rd->read(rd, buf + 1000, MIB, &e5), MIB - 1000);
    assert_int_equal(rd->read(rd, buf + MIB, MIB, &e5), I2V_EUNAVAILABLE);
    assert_int_equal(e5.code, I2V_EUNAVAILABLE);
    /* a presigned URL needs no server */
    char link[4096];
    i2v_error e6 = {0};
    assert_int_equal(i2v__blob_url(b, "v.mp4", 60, link, sizeof link, &e6), 1);

    server("I2V_TEST_S3_START");
    i2v_error e7 = {0};
    if (i2v__blob_put_file(b, "w.mp4", local, NULL, &e7) != 0) fail_msg("put: %s", e7.message);
    assert_false(exists(local));
    assert_int_equal(i2v__blob_stat(b, "w.mp4", &info, &e7), 0);
    assert_int_equal(info.size, 2000);
    /* the reader goes on where it stopped */
    size_t got = MIB;
    for (;;) {
        long n = rd->read(rd, buf + got, size - got, &e7);
        if (n < 0) fail_msg("read: %s", e7.message);
        if (n == 0) break;
        got += (size_t)n;
    }
    assert_int_equal(got, size);
    for (size_t i = 0; i < size; i++)
        if (buf[i] != byte_at(14, i)) fail_msg("byte %zu differs", i);
    i2v__blob_reader_close(&rd);
    free(buf);
    body page;
    assert_int_equal(plain_get(link, &page), 200);
    assert_int_equal(page.len, size);
    free(page.p);
    i2v__blob_close(&b);
}

/* A blob replaced while a reader reads it: the reader fails rather than
 * mixing the two. */
static void test_replaced_while_read(void **state)
{
    (void)state;
    char url[1024], local[512];
    url_with(url, sizeof url, "replaced", NULL);
    i2v_blob *b = NULL;
    i2v_error e = {0};
    assert_int_equal(i2v__blob_open(&b, url, &e), 0);
    local_file(local, 2 * MIB, 16);
    assert_int_equal(i2v__blob_put_file(b, "r.mp4", local, NULL, &e), 0);
    i2v_blob_reader *rd = NULL;
    assert_int_equal(i2v__blob_read_open(b, "r.mp4", 0, 2 * MIB, &rd, &e), 0);
    uint8_t *buf = malloc(MIB);
    assert_int_equal(rd->read(rd, buf, MIB, &e), MIB);
    local_file(local, 2 * MIB, 17);
    assert_int_equal(i2v__blob_put_file(b, "r.mp4", local, NULL, &e), 0);
    i2v_error e2 = {0};
    assert_int_equal(rd->read(rd, buf, MIB, &e2), I2V_EIO);
    assert_non_null(strstr(e2.message, "changed while it was read"));
    i2v__blob_reader_close(&rd);
    free(buf);
    i2v__blob_close(&b);
}

int main(void)
{
    base_url = getenv("I2V_TEST_S3_URL");
    if (!base_url || !strchr(base_url, '?')) {
        fprintf(stderr,
                "test_blob_s3: I2V_TEST_S3_URL is not set: run it through "
                "`python3 tests/s3/s3server.py run -- %s`\n",
                "build/tests/unit/blob/blob_test_blob_s3");
        return 1;
    }
    if (!mkdtemp(root)) return 1;
    snprintf(scratch, sizeof scratch, "%s/scratch", root);
    mkdir(scratch, 0755);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    blob_backend be = {"blob contract: s3", open_fresh, NULL, scratch};
    int failed = blob_contract_run(&be);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_urls_refused),        cmocka_unit_test(test_wrong_credentials),
        cmocka_unit_test(test_secret_rotated),      cmocka_unit_test(test_multipart),
        cmocka_unit_test(test_presigned_url),       cmocka_unit_test(test_key_encoding),
        cmocka_unit_test(test_session_token),       cmocka_unit_test(test_s3_goes_away),
        cmocka_unit_test(test_replaced_while_read),
    };
    failed += cmocka_run_group_tests_name("blob s3", tests, NULL, NULL);
    curl_global_cleanup();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0) return 1;
    return failed ? 1 : 0;
}
