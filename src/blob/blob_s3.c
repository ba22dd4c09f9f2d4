/*
 * blob_s3.c - the S3 blob store: one object per blob in a bucket of Amazon
 * S3 or of an S3-compatible server, under an optional key prefix, spoken to
 * with libcurl.
 *
 *   s3://BUCKET[/PREFIX][?endpoint=URL&region=REGION&path_style=1&...]
 *
 * The parameters are a table (params below). Credentials come only from the
 * environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)
 * and appear in no message. libcurl signs every request (CURLOPT_AWS_SIGV4);
 * libcurl 7.88 signs the payload hash and the query string as they are
 * given, so each request carries x-amz-content-sha256 (the body's real
 * SHA-256) and a query already in canonical form (sorted, encoded).
 *
 * - put_file: one PutObject up to part_size bytes; above, a multipart upload
 *   (create, parts, complete; aborted on failure). S3 makes either atomic.
 * - stat: HeadObject (the ETag is S3's, a strong validator).
 * - open: a HEAD, then each read that needs bytes GETs the next chunk of at
 *   most READ_CHUNK with a Range and If-Match of the ETag seen at open, so a
 *   replaced object is an error rather than a mix of two.
 * - remove: a HEAD (S3's DELETE answers 204 for a missing key), then DELETE.
 * - url: a presigned GET (sigv4.c).
 * Requests are retried with a doubling delay on 5xx, 429 and transport
 * errors; an easy handle per request comes from a small pool, so any thread
 * may call any function.
 */
#include "blob.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common/error.h"
#include "common/log.h"
#include "sigv4.h"

#define MIB (1024ull * 1024)
#define PART_MIN (5 * MIB)        /* S3's smallest part but the last */
#define PART_MAX (5 * 1024 * MIB) /* and largest */
#define PARTS_MAX 10000           /* parts in one upload */
#define READ_CHUNK MIB            /* bytes a reader GETs at a time */
#define TEXT_MAX (64 * 1024)      /* bytes of an XML answer kept */
#define POOL_MAX 8                /* idle easy handles kept */
#define KEY_MAX 1024              /* S3's longest key, in bytes */
#define PREFIX_MAX 512            /* longest prefix, so names always fit */
#define URL_MAX 8192              /* longest request URL */
#define CONNECT_TIMEOUT_S 10      /* to open a connection */
#define LOW_SPEED_BPS 1024        /* a transfer slower than this ... */
#define LOW_SPEED_S 30            /* ... for this long is a timeout */
/* An answer S3 may think over for minutes, sending a space now and then
 * (completing a multipart upload), stalls only after this long without a byte. */
#define SLOW_ANSWER_S 300
#define UPLOAD_ID_MAX 1024 /* longest multipart upload id accepted */
#define ETAG_SIZE 80       /* as i2v_blob_info.etag */

/* ---- the URL's parameters, as data ---- */

enum { P_ENDPOINT, P_REGION, P_PATH_STYLE, P_PART_SIZE, P_ATTEMPTS, P_BACKOFF, P_COUNT };

typedef struct s3_param {
    const char *name;
    int is_int;
    long long min, max, def; /* integers */
    const char *help;
} s3_param;

static const s3_param params[P_COUNT] = {
    [P_ENDPOINT] =
        {"endpoint", 0, 0, 0, 0,
         "http(s)://HOST[:PORT] of the S3 API (default https://s3.REGION.amazonaws.com)"},
    [P_REGION] = {"region", 0, 0, 0, 0, "the signing region (default us-east-1)"},
    [P_PATH_STYLE] = {"path_style", 1, 0, 1, 0,
                      "1: ENDPOINT/BUCKET/KEY; 0: BUCKET.ENDPOINT-HOST/KEY (virtual-hosted)"},
    [P_PART_SIZE] = {"part_size", 1, (long long)PART_MIN, (long long)PART_MAX,
                     (long long)(16 * MIB), "bytes per part; larger files go in parts"},
    [P_ATTEMPTS] = {"attempts", 1, 1, 10, 4, "tries of a request on 5xx, 429 and transport errors"},
    [P_BACKOFF] = {"backoff_ms", 1, 0, 10000, 200, "delay before the first retry, then doubled"},
};

/* ---- the store and its requests ---- */

typedef struct s3_blob {
    i2v_blob base;
    char *origin;          /* "SCHEME://HOST[:PORT]" requests go to (with the bucket when
                              virtual-hosted) */
    char *host;            /* the HOST[:PORT] of origin, for presigned URLs */
    char *bucket, *prefix; /* prefix: "" or "PATH/" */
    char *region, *sigv4;  /* sigv4: "aws:amz:REGION:s3" */
    char *access_key, *secret_key, *session_token; /* token: NULL when none */
    int path_style, attempts;
    long backoff_ms;
    uint64_t part_size;
    pthread_mutex_t lock; /* guards idle */
    CURL *idle[POOL_MAX];
    int nidle;
} s3_blob;

typedef struct s3_req {
    /* what to send */
    const char *method;   /* GET HEAD PUT POST DELETE */
    const char *key;      /* the object's key, not encoded; NULL: the bucket */
    const char *query;    /* in canonical form, or NULL */
    const char *ctype;    /* Content-Type, or NULL */
    const char *range;    /* "bytes=A-B", or NULL */
    const char *if_match; /* an ETag, or NULL */
    const char *body;     /* a POST body from memory ... */
    size_t body_len;
    int fd; /* ... or a PUT body from bytes [off, off + len) of fd (>= 0) */
    uint64_t off, len;
    const char *payload_hash; /* SHA-256 hex of the file range (PUT) */
    int slow_answer;          /* the answer may take minutes (SLOW_ANSWER_S) */
    unsigned char *sink;      /* a 2xx answer's bytes [sink_from, sink_from + sink_cap) of
                                 the object go here (GET) ... */
    size_t sink_cap;
    uint64_t sink_from;
    /* what came back */
    long status;
    char etag[ETAG_SIZE], ctype_out[64], bucket_region[64];
    int64_t length; /* Content-Length, -1: none */
    char *text;     /* ... other bodies here, cut at TEXT_MAX */
    size_t text_len, sink_len;
    int64_t body_at; /* the object offset of the next byte of a 2xx body; -1: unknown */
    int sink_full, sink_bad, read_errno;
    uint64_t sent;
    CURL *h;
} s3_req;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void curl_init(void)
{
    curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static int has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return 1;
    return 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- the pool of easy handles ---- */

static CURL *pool_get(s3_blob *s)
{
    CURL *h = NULL;
    pthread_mutex_lock(&s->lock);
    if (s->nidle > 0) h = s->idle[--s->nidle];
    pthread_mutex_unlock(&s->lock);
    return h ? h : curl_easy_init();
}

static void pool_put(s3_blob *s, CURL *h)
{
    pthread_mutex_lock(&s->lock);
    if (s->nidle < POOL_MAX) {
        s->idle[s->nidle++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&s->lock);
    if (h) curl_easy_cleanup(h);
}

/* ---- one request ---- */

/* The request path, not encoded: "/BUCKET[/KEY]" path-style, "/[KEY]"
 * virtual-hosted. 0, or -1 when it does not fit. */
static int path_of(const s3_blob *s, const char *key, char *buf, size_t cap)
{
    int n = s->path_style ? snprintf(buf, cap, "/%s%s%s", s->bucket, key ? "/" : "", key ? key : "")
                          : snprintf(buf, cap, "/%s", key ? key : "");
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* ORIGIN + the encoded path [+ "?" + query] into buf. */
static int url_of(const s3_blob *s, const char *key, const char *query, char *buf, size_t cap)
{
    char path[KEY_MAX + 128];
    if (path_of(s, key, path, sizeof path) != 0) return -1;
    size_t n = strlen(s->origin);
    if (n >= cap) return -1;
    memcpy(buf, s->origin, n + 1);
    long e = i2v__sigv4_encode(path, strlen(path), 1, buf + n, cap - n);
    if (e < 0) return -1;
    n += (size_t)e;
    if (query && *query) {
        int q = snprintf(buf + n, cap - n, "?%s", query);
        if (q < 0 || (size_t)q >= cap - n) return -1;
    }
    return 0;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *user)
{
    s3_req *rq = user;
    const size_t len = size * nmemb;
    long status = 0;
    curl_easy_getinfo(rq->h, CURLINFO_RESPONSE_CODE, &status);
    if (rq->sink && status / 100 == 2) {
        /* Where the body starts: a server may send more than the range asked
         * (s3rver answers "bytes=0-0" with everything) or the whole object
         * (200); the bytes asked are taken from it and the rest not read. */
        if (rq->body_at < 0) {
            struct curl_header *cr = NULL;
            unsigned long long a = 0;
            rq->body_at = 0;
            if (status == 206 &&
                (curl_easy_header(rq->h, "Content-Range", 0, CURLH_HEADER, -1, &cr) != CURLHE_OK ||
                 sscanf(cr->value, "bytes %llu-", &a) != 1))
                rq->sink_bad = 1;
            rq->body_at = (int64_t)a;
            if (rq->sink_bad || (uint64_t)rq->body_at > rq->sink_from) {
                rq->sink_bad = 1;
                return 0;
            }
        }
        size_t skip = 0;
        if ((uint64_t)rq->body_at < rq->sink_from)
            skip = rq->sink_from - (uint64_t)rq->body_at < len
                       ? (size_t)(rq->sink_from - (uint64_t)rq->body_at)
                       : len;
        rq->body_at += (int64_t)len;
        size_t take = len - skip;
        if (take > rq->sink_cap - rq->sink_len) take = rq->sink_cap - rq->sink_len;
        memcpy(rq->sink + rq->sink_len, ptr + skip, take);
        rq->sink_len += take;
        if (rq->sink_len == rq->sink_cap && skip + take < len) {
            rq->sink_full = 1;
            return 0; /* enough: the transfer stops here (CURLE_WRITE_ERROR) */
        }
        return len;
    }
    size_t keep = TEXT_MAX - rq->text_len < len ? TEXT_MAX - rq->text_len : len;
    if (keep) {
        if (!rq->text && !(rq->text = malloc(TEXT_MAX + 1))) return 0;
        memcpy(rq->text + rq->text_len, ptr, keep);
        rq->text_len += keep;
        rq->text[rq->text_len] = '\0';
    }
    return len; /* the rest of a long answer is dropped */
}

static size_t on_read(char *buf, size_t size, size_t nmemb, void *user)
{
    s3_req *rq = user;
    size_t want = size * nmemb;
    if (want > rq->len - rq->sent) want = (size_t)(rq->len - rq->sent);
    if (!want) return 0;
    ssize_t n;
    do
        n = pread(rq->fd, buf, want, (off_t)(rq->off + rq->sent));
    while (n < 0 && errno == EINTR);
    if (n <= 0) {
        rq->read_errno = n < 0 ? errno : EIO;
        return CURL_READFUNC_ABORT;
    }
    rq->sent += (uint64_t)n;
    return (size_t)n;
}

/* libcurl rewinds an upload to send it again on a new connection. */
static int on_seek(void *user, curl_off_t offset, int origin)
{
    s3_req *rq = user;
    if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > rq->len) return CURL_SEEKFUNC_FAIL;
    rq->sent = (uint64_t)offset;
    return CURL_SEEKFUNC_OK;
}

static void header_copy(CURL *h, const char *name, char *out, size_t cap)
{
    struct curl_header *hh = NULL;
    out[0] = '\0';
    if (curl_easy_header(h, name, 0, CURLH_HEADER, -1, &hh) == CURLHE_OK && hh->value)
        snprintf(out, cap, "%s", hh->value);
}

/* One attempt: the answer's status and headers into rq. */
static CURLcode perform(s3_blob *s, CURL *h, s3_req *rq, char *errbuf)
{
    static const char empty_hash[] =
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    char url[URL_MAX], line[UPLOAD_ID_MAX + 128], hash[I2V_SIGV4_HEX + 1];
    struct curl_slist *hdrs = NULL, *t;
    CURLcode res = CURLE_OK;

    rq->status = 0;
    rq->etag[0] = rq->ctype_out[0] = rq->bucket_region[0] = '\0';
    rq->length = -1;
    rq->text_len = rq->sink_len = 0;
    rq->sink_full = rq->sink_bad = rq->read_errno = 0;
    rq->body_at = -1;
    rq->sent = 0;
    rq->h = h;
    errbuf[0] = '\0';
    if (url_of(s, rq->key, rq->query, url, sizeof url) != 0) {
        snprintf(errbuf, CURL_ERROR_SIZE, "the request URL is too long");
        return CURLE_URL_MALFORMAT;
    }

    /* x-amz-content-sha256: curl 7.88 signs this value as the payload hash */
    const char *payload = empty_hash;
    if (rq->fd >= 0)
        payload = rq->payload_hash;
    else if (rq->body_len) {
        i2v__sigv4_sha256_hex(rq->body, rq->body_len, hash);
        payload = hash;
    }
    snprintf(line, sizeof line, "x-amz-content-sha256: %s", payload);
    if (!(t = curl_slist_append(hdrs, line))) goto oom;
    hdrs = t;
    if (s->session_token) {
        char *tok = malloc(strlen(s->session_token) + 32);
        if (!tok) goto oom;
        sprintf(tok, "x-amz-security-token: %s", s->session_token);
        t = curl_slist_append(hdrs, tok);
        OPENSSL_cleanse(tok, strlen(tok));
        free(tok);
        if (!t) goto oom;
        hdrs = t;
    }
    if (rq->ctype) {
        snprintf(line, sizeof line, "Content-Type: %s", rq->ctype);
        if (!(t = curl_slist_append(hdrs, line))) goto oom;
        hdrs = t;
    }
    if (rq->range) {
        snprintf(line, sizeof line, "Range: %s", rq->range);
        if (!(t = curl_slist_append(hdrs, line))) goto oom;
        hdrs = t;
    }
    if (rq->if_match) {
        snprintf(line, sizeof line, "If-Match: %s", rq->if_match);
        if (!(t = curl_slist_append(hdrs, line))) goto oom;
        hdrs = t;
    }

    curl_easy_reset(h); /* keeps the live connections */
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT_S);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, rq->slow_answer ? 1L : (long)LOW_SPEED_BPS);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME,
                     rq->slow_answer ? (long)SLOW_ANSWER_S : (long)LOW_SPEED_S);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "i2v/" I2V_VERSION);
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, s->sigv4);
    curl_easy_setopt(h, CURLOPT_USERNAME, s->access_key);
    curl_easy_setopt(h, CURLOPT_PASSWORD, s->secret_key);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, rq);
    if (strcmp(rq->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(rq->method, "PUT") == 0) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, rq);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, rq);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->len);
    } else if (strcmp(rq->method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
    } else if (strcmp(rq->method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
    }

    res = curl_easy_perform(h);
    if (res == CURLE_WRITE_ERROR && rq->sink_full) res = CURLE_OK; /* stopped: enough */
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rq->status);
    if (res == CURLE_OK) {
        curl_off_t cl = -1;
        if (curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) == CURLE_OK)
            rq->length = cl;
        header_copy(h, "ETag", rq->etag, sizeof rq->etag);
        header_copy(h, "Content-Type", rq->ctype_out, sizeof rq->ctype_out);
        header_copy(h, "x-amz-bucket-region", rq->bucket_region, sizeof rq->bucket_region);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(hdrs);
    return res;
oom:
    curl_slist_free_all(hdrs);
    snprintf(errbuf, CURL_ERROR_SIZE, "out of memory");
    return CURLE_OUT_OF_MEMORY;
}

/* A transport error worth another try. */
static int transient(CURLcode res)
{
    switch (res) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_PARTIAL_FILE:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_AGAIN:
        return 1;
    default:
        return 0;
    }
}

/* Sends rq, retrying 5xx, 429 and transient transport errors with a doubling
 * delay. 0 when an answer came (any status: see answer()), else a negative
 * code: I2V_EUNAVAILABLE when the endpoint could not be reached. what names
 * the request in messages ("PUT x.mp4"). */
static int s3_do(s3_blob *s, s3_req *rq, const char *what, i2v_error *err)
{
    char errbuf[CURL_ERROR_SIZE];
    CURLcode res = CURLE_OK;
    int rc = 0;
    long delay = s->backoff_ms;
    CURL *h = pool_get(s);
    if (!h) return i2v__err(err, I2V_ENOMEM, "out of memory");
    for (int attempt = 1;; attempt++) {
        res = perform(s, h, rq, errbuf);
        const int again = res != CURLE_OK ? transient(res) : rq->status >= 500 || rq->status == 429;
        if (!again || attempt >= s->attempts) break;
        i2v__log(I2V_LOG_WARN, "blob_s3_retry", " request=\"%s\" status=%ld curl=%d attempt=%d",
                 what, rq->status, (int)res, attempt);
        sleep_ms(delay);
        delay *= 2;
    }
    if (res == CURLE_OK) goto out;
    if (!errbuf[0]) snprintf(errbuf, sizeof errbuf, "%s", curl_easy_strerror(res));
    if (res == CURLE_OUT_OF_MEMORY)
        rc = i2v__err(err, I2V_ENOMEM, "out of memory");
    else if (res == CURLE_WRITE_ERROR && rq->sink_bad)
        rc = i2v__err(err, I2V_EIO, "blob: s3 answered %s with other bytes than asked for", what);
    else if (rq->read_errno)
        rc = i2v__err(err, I2V_EIO, "blob: reading the file to upload (%s): %s", what,
                      strerror(rq->read_errno));
    else if (res == CURLE_URL_MALFORMAT)
        rc = i2v__err(err, I2V_EINVAL, "blob: %s: %s", what, errbuf);
    else
        rc = i2v__err(err, I2V_EUNAVAILABLE, "blobs: s3 endpoint %s unreachable: %s", s->origin,
                      errbuf);
out:
    /* a connection that failed mid-request is not reused */
    if (res != CURLE_OK && h) {
        curl_easy_cleanup(h);
        h = NULL;
    }
    if (h) pool_put(s, h);
    return rc;
}

/* S3's error <Code> from an XML answer into out ("" when none). */
static void error_code(const s3_req *rq, char *out, size_t cap)
{
    out[0] = '\0';
    const char *a = rq->text ? strstr(rq->text, "<Code>") : NULL;
    if (!a) return;
    a += 6;
    size_t n = 0;
    while (a[n] && a[n] != '<' && n + 1 < cap &&
           ((a[n] >= 'A' && a[n] <= 'Z') || (a[n] >= 'a' && a[n] <= 'z') ||
            (a[n] >= '0' && a[n] <= '9') || a[n] == '.'))
        n++;
    memcpy(out, a, n);
    out[n] = '\0';
}

/* What an answer means: 0 for 2xx; I2V_ENOTFOUND for 404 when missing names
 * the blob; I2V_EDENIED for 403; I2V_EUNAVAILABLE for 503 and 429 (after the
 * retries: S3 is overloaded or throttling);
 * I2V_EIO with the status and S3's code otherwise. */
static int answer(const s3_blob *s, const s3_req *rq, const char *what, const char *missing,
                  i2v_error *err)
{
    char code[64];
    if (rq->status / 100 == 2) return 0;
    error_code(rq, code, sizeof code);
    if (rq->status == 404 && missing) return i2v__err(err, I2V_ENOTFOUND, "blob: no %s", missing);
    if (rq->status == 403)
        return i2v__err(
            err, I2V_EDENIED,
            "blobs: access denied by s3%s%s (check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)",
            code[0] ? ": " : "", code);
    if (rq->status == 503 || rq->status == 429)
        return i2v__err(err, I2V_EUNAVAILABLE, "blobs: s3 endpoint %s unavailable: %ld %s",
                        s->origin, rq->status, code[0] ? code : "(no error code)");
    return i2v__err(err, I2V_EIO, "blob: s3 answered %ld %s to %s", rq->status,
                    code[0] ? code : "(no error code)", what);
}

static void req_init(s3_req *rq, const char *method, const char *key)
{
    memset(rq, 0, sizeof *rq);
    rq->method = method;
    rq->key = key;
    rq->fd = -1;
}

static void req_free(s3_req *rq)
{
    free(rq->text);
    rq->text = NULL;
}

/* ---- the interface ---- */

static int key_of(const s3_blob *s, const char *name, char *key, size_t cap, i2v_error *err)
{
    if ((size_t)snprintf(key, cap, "%s%s", s->prefix, name) >= cap)
        return i2v__err(err, I2V_EINVAL, "blob: the key of '%.80s' is too long", name);
    return 0;
}

static void s3_close(i2v_blob *b)
{
    s3_blob *s = (s3_blob *)b;
    for (int i = 0; i < s->nidle; i++)
        curl_easy_cleanup(s->idle[i]);
    pthread_mutex_destroy(&s->lock);
    char *secrets[] = {s->secret_key, s->session_token, s->access_key};
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
        if (secrets[i]) {
            OPENSSL_cleanse(secrets[i], strlen(secrets[i]));
            free(secrets[i]);
        }
    free(s->origin);
    free(s->host);
    free(s->bucket);
    free(s->prefix);
    free(s->region);
    free(s->sigv4);
    free(s);
}

static int head(s3_blob *s, const char *name, i2v_blob_info *info, i2v_error *err)
{
    char key[KEY_MAX + 1], what[I2V_BLOB_NAME_MAX + 8];
    s3_req rq;
    int rc = key_of(s, name, key, sizeof key, err);
    if (rc) return rc;
    snprintf(what, sizeof what, "HEAD %s", name);
    req_init(&rq, "HEAD", key);
    rc = s3_do(s, &rq, what, err);
    if (!rc) rc = answer(s, &rq, what, name, err);
    if (rc) goto out;
    memset(info, 0, sizeof *info);
    if (rq.length < 0 || !rq.etag[0]) {
        rc = i2v__err(err, I2V_EIO, "blob: s3 sent no %s for %s",
                      rq.length < 0 ? "Content-Length" : "ETag", name);
        goto out;
    }
    info->size = (uint64_t)rq.length;
    if (rq.etag[0] == '"' || strncmp(rq.etag, "W/", 2) == 0)
        snprintf(info->etag, sizeof info->etag, "%s", rq.etag);
    else
        snprintf(info->etag, sizeof info->etag, "\"%.*s\"", (int)sizeof info->etag - 3, rq.etag);
    snprintf(info->ctype, sizeof info->ctype, "%s",
             rq.ctype_out[0] ? rq.ctype_out : i2v__blob_ctype(name));
out:
    req_free(&rq);
    return rc;
}

static int s3_stat(i2v_blob *b, const char *name, i2v_blob_info *info, i2v_error *err)
{
    return head((s3_blob *)b, name, info, err);
}

static int put_single(s3_blob *s, const char *key, const char *name, int fd, uint64_t size,
                      const char *ctype, i2v_error *err)
{
    char hash[I2V_SIGV4_HEX + 1], what[I2V_BLOB_NAME_MAX + 8];
    s3_req rq;
    int rc = i2v__sigv4_sha256_fd(fd, 0, size, hash, err);
    if (rc) return rc;
    snprintf(what, sizeof what, "PUT %s", name);
    req_init(&rq, "PUT", key);
    rq.ctype = ctype;
    rq.fd = fd;
    rq.len = size;
    rq.payload_hash = hash;
    rc = s3_do(s, &rq, what, err);
    if (!rc) rc = answer(s, &rq, what, NULL, err);
    req_free(&rq);
    return rc;
}

/* The text between <tag> and </tag> of an XML answer into out. */
static int xml_value(const char *text, const char *tag, char *out, size_t cap)
{
    char open[64], close[64];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    const char *a = text ? strstr(text, open) : NULL;
    const char *z = a ? strstr(a, close) : NULL;
    if (!a || !z) return -1;
    a += strlen(open);
    if ((size_t)(z - a) >= cap || z == a) return -1;
    memcpy(out, a, (size_t)(z - a));
    out[z - a] = '\0';
    return 0;
}

static int put_multipart(s3_blob *s, const char *key, const char *name, int fd, uint64_t size,
                         const char *ctype, i2v_error *err)
{
    char what[I2V_BLOB_NAME_MAX + 40], id[UPLOAD_ID_MAX + 1], id_enc[3 * UPLOAD_ID_MAX + 1];
    char query[3 * UPLOAD_ID_MAX + 64], hash[I2V_SIGV4_HEX + 1];
    char(*etags)[ETAG_SIZE] = NULL;
    char *xml = NULL;
    s3_req rq;
    int rc = 0, created = 0;
    uint64_t part = s->part_size;
    if ((size + part - 1) / part > PARTS_MAX) /* keep within 10,000 parts */
        part = ((size + PARTS_MAX - 1) / PARTS_MAX + MIB - 1) / MIB * MIB;
    const uint64_t nparts = (size + part - 1) / part;

    /* create */
    snprintf(what, sizeof what, "CreateMultipartUpload %s", name);
    req_init(&rq, "POST", key);
    rq.query = "uploads=";
    rq.ctype = ctype;
    rc = s3_do(s, &rq, what, err);
    if (!rc) rc = answer(s, &rq, what, NULL, err);
    if (!rc && (xml_value(rq.text, "UploadId", id, sizeof id) != 0 || has_ctl(id)))
        rc = i2v__err(err, I2V_EIO, "blob: s3 sent no UploadId for %s", name);
    req_free(&rq);
    if (rc) goto out;
    if (i2v__sigv4_encode(id, strlen(id), 0, id_enc, sizeof id_enc) < 0) {
        rc = i2v__err(err, I2V_EIO, "blob: s3's UploadId for %s is too long", name);
        goto out;
    }
    created = 1;
    if (!(etags = calloc((size_t)nparts, sizeof *etags)) ||
        !(xml = malloc((size_t)nparts * (ETAG_SIZE * 2 + 64) + 128))) {
        rc = i2v__err(err, I2V_ENOMEM, "out of memory");
        goto out;
    }

    /* the parts, in order */
    for (uint64_t i = 0; i < nparts; i++) {
        const uint64_t off = i * part, len = size - off < part ? size - off : part;
        rc = i2v__sigv4_sha256_fd(fd, off, len, hash, err);
        if (rc) goto out;
        snprintf(query, sizeof query, "partNumber=%" PRIu64 "&uploadId=%s", i + 1, id_enc);
        snprintf(what, sizeof what, "UploadPart %" PRIu64 " of %s", i + 1, name);
        req_init(&rq, "PUT", key);
        rq.query = query;
        rq.fd = fd;
        rq.off = off;
        rq.len = len;
        rq.payload_hash = hash;
        rc = s3_do(s, &rq, what, err);
        if (!rc) rc = answer(s, &rq, what, NULL, err);
        if (!rc && (!rq.etag[0] || strchr(rq.etag, '<') || strchr(rq.etag, '&')))
            rc = i2v__err(err, I2V_EIO, "blob: s3 sent no ETag for part %" PRIu64 " of %s", i + 1,
                          name);
        if (!rc) snprintf(etags[i], sizeof etags[i], "%s", rq.etag);
        req_free(&rq);
        if (rc) goto out;
    }

    /* complete with the list of parts */
    size_t n = (size_t)sprintf(xml, "<CompleteMultipartUpload>");
    for (uint64_t i = 0; i < nparts; i++)
        n += (size_t)sprintf(xml + n,
                             "<Part><PartNumber>%" PRIu64 "</PartNumber><ETag>%s</ETag></Part>",
                             i + 1, etags[i]);
    n += (size_t)sprintf(xml + n, "</CompleteMultipartUpload>");
    snprintf(query, sizeof query, "uploadId=%s", id_enc);
    snprintf(what, sizeof what, "CompleteMultipartUpload %s", name);
    req_init(&rq, "POST", key);
    rq.query = query;
    rq.ctype = "application/xml";
    rq.body = xml;
    rq.body_len = n;
    rq.slow_answer = 1;
    rc = s3_do(s, &rq, what, err);
    if (!rc) rc = answer(s, &rq, what, NULL, err);
    if (!rc && rq.text && strstr(rq.text, "<Error>")) { /* S3 may fail a 200 late */
        char code[64];
        error_code(&rq, code, sizeof code);
        rc = i2v__err(err, I2V_EIO, "blob: s3 failed to complete %s: %s", name,
                      code[0] ? code : "(no error code)");
    }
    req_free(&rq);
    if (!rc) created = 0; /* done: nothing to abort */
out:
    if (created) { /* leave no parts behind; a failure here changes nothing */
        i2v_error ignored = {0};
        snprintf(query, sizeof query, "uploadId=%s", id_enc);
        snprintf(what, sizeof what, "AbortMultipartUpload %s", name);
        req_init(&rq, "DELETE", key);
        rq.query = query;
        if (s3_do(s, &rq, what, &ignored) == 0 && rq.status / 100 != 2)
            i2v__log(I2V_LOG_WARN, "blob_s3_abort", " name=%s status=%ld", name, rq.status);
        req_free(&rq);
    }
    free(xml);
    free(etags);
    return rc;
}

static int s3_put_file(i2v_blob *b, const char *name, const char *path, const char *ctype,
                       i2v_error *err)
{
    s3_blob *s = (s3_blob *)b;
    char key[KEY_MAX + 1];
    struct stat st;
    int rc = key_of(s, name, key, sizeof key, err);
    if (rc) return rc;
    if (!ctype) ctype = i2v__blob_ctype(name);
    if (has_ctl(ctype) || strlen(ctype) > 200)
        return i2v__err(err, I2V_EINVAL, "blob: the Content-Type of %s is not a header value",
                        name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return i2v__err(err, I2V_EIO, "blob: cannot read %.200s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = i2v__err(err, I2V_EIO, "blob: %.200s is not a file", path);
        goto out;
    }
    if ((uint64_t)st.st_size <= s->part_size)
        rc = put_single(s, key, name, fd, (uint64_t)st.st_size, ctype, err);
    else
        rc = put_multipart(s, key, name, fd, (uint64_t)st.st_size, ctype, err);
out:
    close(fd);
    if (!rc) unlink(path); /* the contract: the store took the file */
    return rc;
}

typedef struct s3_reader {
    i2v_blob_reader base;
    s3_blob *s;
    char key[KEY_MAX + 1], name[I2V_BLOB_NAME_MAX + 1], etag[ETAG_SIZE];
    uint64_t pos, end; /* the next byte to return, and the range's end */
    unsigned char *buf;
    size_t cap, have, at; /* buf holds have bytes from pos - at */
} s3_reader;

/* Fills the buffer with the next chunk of the range. */
static int fetch(s3_reader *r, i2v_error *err)
{
    char range[64], what[I2V_BLOB_NAME_MAX + 8];
    s3_req rq;
    const uint64_t want = r->end - r->pos < r->cap ? r->end - r->pos : r->cap;
    snprintf(range, sizeof range, "bytes=%" PRIu64 "-%" PRIu64, r->pos, r->pos + want - 1);
    snprintf(what, sizeof what, "GET %s", r->name);
    req_init(&rq, "GET", r->key);
    rq.range = range;
    rq.if_match = r->etag;
    rq.sink = r->buf;
    rq.sink_cap = (size_t)want;
    rq.sink_from = r->pos;
    int rc = s3_do(r->s, &rq, what, err);
    if (rc) goto out;
    /* If-Match fails with 412; a server that ignores it still sends the ETag */
    if (rq.status == 412 || (rq.status / 100 == 2 && rq.etag[0] && strcmp(rq.etag, r->etag) != 0)) {
        rc = i2v__err(err, I2V_EIO, "blob: %s changed while it was read", r->name);
        goto out;
    }
    rc = answer(r->s, &rq, what, r->name, err);
    if (rc) goto out;
    if (rq.sink_len != want) {
        rc = i2v__err(err, I2V_EIO, "blob: s3 sent %zu of %" PRIu64 " bytes of %s", rq.sink_len,
                      want, r->name);
        goto out;
    }
    r->have = (size_t)want;
    r->at = 0;
out:
    req_free(&rq);
    return rc;
}

static long s3_read(i2v_blob_reader *rd, void *buf, size_t len, i2v_error *err)
{
    s3_reader *r = (s3_reader *)rd;
    if (r->pos >= r->end || len == 0) return 0;
    if (r->at >= r->have) {
        int rc = fetch(r, err);
        if (rc) return rc;
    }
    size_t n = r->have - r->at < len ? r->have - r->at : len;
    if (n > (size_t)LONG_MAX) n = (size_t)LONG_MAX;
    memcpy(buf, r->buf + r->at, n);
    r->at += n;
    r->pos += n;
    return (long)n;
}

static void s3_reader_close(i2v_blob_reader *rd)
{
    s3_reader *r = (s3_reader *)rd;
    free(r->buf);
    free(r);
}

static int s3_open(i2v_blob *b, const char *name, uint64_t offset, uint64_t length,
                   i2v_blob_reader **out, i2v_error *err)
{
    s3_blob *s = (s3_blob *)b;
    i2v_blob_info info;
    int rc = head(s, name, &info, err);
    if (rc) return rc;
    if (offset > info.size || length > info.size - offset)
        return i2v__err(err, I2V_EINVAL, "blob: bytes %" PRIu64 "+%" PRIu64 " are outside %.80s",
                        offset, length, name);
    s3_reader *r = calloc(1, sizeof *r);
    if (!r) return i2v__err(err, I2V_ENOMEM, "out of memory");
    r->cap = length < READ_CHUNK ? (size_t)length : READ_CHUNK;
    if (r->cap && !(r->buf = malloc(r->cap))) {
        free(r);
        return i2v__err(err, I2V_ENOMEM, "out of memory");
    }
    r->base.read = s3_read;
    r->base.close = s3_reader_close;
    r->s = s;
    key_of(s, name, r->key, sizeof r->key, NULL);
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->etag, sizeof r->etag, "%s", info.etag);
    r->pos = offset;
    r->end = offset + length;
    *out = &r->base;
    return 0;
}

static int s3_remove(i2v_blob *b, const char *name, i2v_error *err)
{
    s3_blob *s = (s3_blob *)b;
    char key[KEY_MAX + 1], what[I2V_BLOB_NAME_MAX + 8];
    i2v_blob_info info;
    s3_req rq;
    int rc = head(s, name, &info, err);
    if (rc) return rc;
    key_of(s, name, key, sizeof key, NULL);
    snprintf(what, sizeof what, "DELETE %s", name);
    req_init(&rq, "DELETE", key);
    rc = s3_do(s, &rq, what, err);
    if (!rc) rc = answer(s, &rq, what, name, err);
    req_free(&rq);
    return rc;
}

static int s3_url(i2v_blob *b, const char *name, int ttl_s, char *buf, size_t len, i2v_error *err)
{
    s3_blob *s = (s3_blob *)b;
    char key[KEY_MAX + 1], path[KEY_MAX + 128], query[4096];
    int rc = key_of(s, name, key, sizeof key, err);
    if (rc) return rc;
    if (path_of(s, key, path, sizeof path) != 0)
        return i2v__err(err, I2V_EINVAL, "blob: the key of '%.80s' is too long", name);
    i2v_sigv4_presign p = {
        .method = "GET",
        .host = s->host,
        .path = path,
        .region = s->region,
        .service = "s3",
        .access_key = s->access_key,
        .secret_key = s->secret_key,
        .session_token = s->session_token,
        .now = time(NULL),
        .expires = ttl_s,
    };
    rc = i2v__sigv4_presign(&p, query, sizeof query, NULL, err);
    if (rc) return rc;
    if (url_of(s, key, query, buf, len) != 0) {
        if (len) buf[0] = '\0';
        return i2v__err(err, I2V_EINVAL, "blob: the URL of %s does not fit in %zu bytes", name,
                        len);
    }
    return 1;
}

static const i2v_blob_vt s3_vt = {
    "s3", s3_close, s3_put_file, s3_stat, s3_open, s3_remove, s3_url,
};

/* ---- opening: the URL, the credentials, a HEAD on the bucket ---- */

static int unhex(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Percent-decodes n bytes of s into a new string; NULL on a bad escape or
 * a decoded control character or NUL (*bad is set) or out of memory. */
static char *decode(const char *s, size_t n, int *bad)
{
    char *d = malloc(n + 1);
    size_t k = 0;
    *bad = 0;
    if (!d) return NULL;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n) {
                *bad = 1;
                break;
            }
            int a = unhex((unsigned char)s[i + 1]), b = unhex((unsigned char)s[i + 2]);
            if (a < 0 || b < 0) {
                *bad = 1;
                break;
            }
            c = a * 16 + b;
            i += 2;
        }
        if (c < 0x20 || c == 0x7f) {
            *bad = 1;
            break;
        }
        d[k++] = (char)c;
    }
    if (*bad) {
        free(d);
        return NULL;
    }
    d[k] = '\0';
    return d;
}

static int bucket_ok(const char *b, size_t n)
{
    if (n < 3 || n > 63) return 0;
    for (size_t i = 0; i < n; i++) {
        const char c = b[i];
        const int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && ((c != '-' && c != '.') || i == 0 || i == n - 1)) return 0;
    }
    return 1;
}

/* "http(s)://HOST[:PORT][/]" into origin "SCHEME://HOST[:PORT]" (a default
 * port dropped) and host "HOST[:PORT]"; with bucket (virtual-hosted) the host
 * is BUCKET.HOST. */
static int parse_endpoint(s3_blob *s, const char *ep, const char *bucket, i2v_error *err)
{
    const char *scheme = NULL, *rest = NULL;
    if (strncmp(ep, "http://", 7) == 0)
        scheme = "http", rest = ep + 7;
    else if (strncmp(ep, "https://", 8) == 0)
        scheme = "https", rest = ep + 8;
    else
        return i2v__err(err, I2V_EINVAL,
                        "blobs: the s3 endpoint must start with http:// or https://");
    size_t n = strcspn(rest, "/");
    if (strchr(ep, '@'))
        return i2v__err(err, I2V_EINVAL,
                        "blobs: the s3 endpoint takes no credentials (set AWS_ACCESS_KEY_ID and "
                        "AWS_SECRET_ACCESS_KEY)");
    if (n == 0 || (rest[n] && strcmp(rest + n, "/") != 0))
        return i2v__err(
            err, I2V_EINVAL,
            "blobs: the s3 endpoint '%.200s' must be http(s)://HOST[:PORT] without a path", ep);
    for (size_t i = 0; i < n; i++) {
        const char c = rest[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == ':' || c == '[' || c == ']'))
            return i2v__err(err, I2V_EINVAL, "blobs: the s3 endpoint '%.200s' has a bad host", ep);
    }
    /* the port's colon: the last one, after an IPv6 address's ']' */
    const char *colon = NULL;
    for (size_t i = 0; i < n; i++)
        if (rest[i] == ':')
            colon = rest + i;
        else if (rest[i] == ']')
            colon = NULL;
    size_t hn = n;
    if (bucket &&
        (rest[0] == '[' || strspn(rest, "0123456789.") == (colon ? (size_t)(colon - rest) : n)))
        return i2v__err(err, I2V_EINVAL,
                        "blobs: the s3 endpoint is an IP address: set path_style=1");
    if (colon && ((strcmp(scheme, "http") == 0 && (size_t)(rest + n - colon) == 3 &&
                   strncmp(colon, ":80", 3) == 0) ||
                  (strcmp(scheme, "https") == 0 && (size_t)(rest + n - colon) == 4 &&
                   strncmp(colon, ":443", 4) == 0)))
        hn = (size_t)(colon - rest);
    size_t cap = strlen(scheme) + 3 + (bucket ? strlen(bucket) + 1 : 0) + hn + 1;
    s->origin = malloc(cap);
    s->host = malloc(cap);
    if (!s->origin || !s->host) return i2v__err(err, I2V_ENOMEM, "out of memory");
    snprintf(s->host, cap, "%s%s%.*s", bucket ? bucket : "", bucket ? "." : "", (int)hn, rest);
    snprintf(s->origin, cap, "%s://%s", scheme, s->host);
    return 0;
}

/* Fills s from the URL (not the credentials). */
static int parse_url(s3_blob *s, const char *url, i2v_error *err)
{
    char *val[P_COUNT] = {0};
    int rc = 0, bad = 0;
    if (strncmp(url, "s3://", 5) != 0) {
        rc = i2v__err(err, I2V_EINVAL, "blobs: an s3 URL starts with s3://");
        goto out;
    }
    const char *loc = url + 5, *q = strchr(loc, '?');
    const size_t loclen = q ? (size_t)(q - loc) : strlen(loc);
    if (memchr(loc, '@', loclen)) {
        rc = i2v__err(
            err, I2V_EINVAL,
            "blobs: s3 URLs take no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
        goto out;
    }
    const size_t blen = strcspn(loc, "/?");
    if (!bucket_ok(loc, blen)) {
        rc = i2v__err(
            err, I2V_EINVAL,
            "blobs: s3://BUCKET needs a bucket name of 3..63 characters a-z, 0-9, '.' and '-'");
        goto out;
    }
    if (!(s->bucket = dup_n(loc, blen))) goto oom;

    /* the prefix: segments without '.' or '..' (libcurl would resolve them) */
    const char *p = loc + blen;
    size_t plen = loclen - blen;
    while (plen && *p == '/')
        p++, plen--;
    while (plen && p[plen - 1] == '/')
        plen--;
    char *prefix = decode(p, plen, &bad);
    if (bad) {
        rc = i2v__err(err, I2V_EINVAL,
                      "blobs: the s3 prefix has a bad %%-escape or a control character");
        goto out;
    }
    if (!prefix) goto oom;
    int dots = 0;
    for (char *seg = prefix; *prefix && seg;) {
        char *slash = strchr(seg, '/');
        size_t sl = slash ? (size_t)(slash - seg) : strlen(seg);
        if (sl == 0 || (sl == 1 && seg[0] == '.') || (sl == 2 && seg[0] == '.' && seg[1] == '.'))
            dots = 1;
        seg = slash ? slash + 1 : NULL;
    }
    if (dots || strlen(prefix) > PREFIX_MAX) {
        free(prefix);
        rc = i2v__err(
            err, I2V_EINVAL,
            "blobs: the s3 prefix must be at most %d bytes without empty, '.' or '..' segments",
            PREFIX_MAX);
        goto out;
    }
    s->prefix = malloc(strlen(prefix) + 2);
    if (!s->prefix) {
        free(prefix);
        goto oom;
    }
    sprintf(s->prefix, "%s%s", prefix, *prefix ? "/" : "");
    free(prefix);

    /* the parameters */
    for (const char *a = q ? q + 1 : NULL; a && *a;) {
        const size_t n = strcspn(a, "&"), eq = strcspn(a, "=&");
        int k = 0;
        while (k < P_COUNT &&
               !(strlen(params[k].name) == eq && strncmp(a, params[k].name, eq) == 0))
            k++;
        if (k == P_COUNT) {
            rc = i2v__err(err, I2V_EINVAL,
                          "blobs: unknown s3 URL parameter '%.*s' (endpoint, region, path_style, "
                          "part_size, attempts, backoff_ms)",
                          (int)(eq < 40 ? eq : 40), a);
            goto out;
        }
        if (val[k]) {
            rc = i2v__err(err, I2V_EINVAL, "blobs: s3 URL parameter %s is given twice",
                          params[k].name);
            goto out;
        }
        if (eq >= n) {
            rc = i2v__err(err, I2V_EINVAL, "blobs: s3 URL parameter %s needs a value (%s=...)",
                          params[k].name, params[k].name);
            goto out;
        }
        if (!(val[k] = decode(a + eq + 1, n - eq - 1, &bad))) {
            if (!bad) goto oom;
            rc = i2v__err(err, I2V_EINVAL, "blobs: s3 URL parameter %s has a bad %%-escape",
                          params[k].name);
            goto out;
        }
        a += n + (a[n] == '&');
    }
    long long ival[P_COUNT];
    for (int k = 0; k < P_COUNT; k++) {
        ival[k] = params[k].def;
        if (!params[k].is_int || !val[k]) continue;
        char *end = NULL;
        errno = 0;
        long long v = strtoll(val[k], &end, 10);
        if (!val[k][0] || *end || errno || v < params[k].min || v > params[k].max) {
            rc = i2v__err(err, I2V_EINVAL, "blobs: s3 URL parameter %s must be %lld..%lld (%s)",
                          params[k].name, params[k].min, params[k].max, params[k].help);
            goto out;
        }
        ival[k] = v;
    }
    s->path_style = (int)ival[P_PATH_STYLE];
    s->part_size = (uint64_t)ival[P_PART_SIZE];
    s->attempts = (int)ival[P_ATTEMPTS];
    s->backoff_ms = (long)ival[P_BACKOFF];

    const char *region = val[P_REGION] ? val[P_REGION] : "us-east-1";
    size_t rl = strlen(region);
    if (rl == 0 || rl > 40 || strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-") != rl) {
        rc = i2v__err(err, I2V_EINVAL, "blobs: the s3 region must be a-z, 0-9 and '-' (us-east-1)");
        goto out;
    }
    if (!(s->region = strdup(region))) goto oom;
    if (!(s->sigv4 = malloc(rl + 16))) goto oom;
    sprintf(s->sigv4, "aws:amz:%s:s3", region);

    char def[128];
    snprintf(def, sizeof def, "https://s3.%s.amazonaws.com", region);
    rc = parse_endpoint(s, val[P_ENDPOINT] ? val[P_ENDPOINT] : def,
                        s->path_style ? NULL : s->bucket, err);
    goto out;
oom:
    rc = i2v__err(err, I2V_ENOMEM, "out of memory");
out:
    for (int k = 0; k < P_COUNT; k++)
        free(val[k]);
    return rc;
}

/* The credentials from the environment. */
static int credentials(s3_blob *s, i2v_error *err)
{
    static const char *const names[] = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                        "AWS_SESSION_TOKEN"};
    char **dst[] = {&s->access_key, &s->secret_key, &s->session_token};
    for (int i = 0; i < 3; i++) {
        const char *v = getenv(names[i]);
        if (!v || !*v) {
            if (i == 2) continue; /* the token is optional */
            return i2v__err(err, I2V_EINVAL, "blobs: %s is not set", names[i]);
        }
        if (has_ctl(v) || strlen(v) > 4096)
            return i2v__err(err, I2V_EINVAL, "blobs: %s is not a valid credential", names[i]);
        if (!(*dst[i] = strdup(v))) return i2v__err(err, I2V_ENOMEM, "out of memory");
    }
    return 0;
}

/* A HEAD on the bucket: reachable, existing, and the credentials work. */
static int check_bucket(s3_blob *s, i2v_error *err)
{
    s3_req rq;
    char what[128];
    snprintf(what, sizeof what, "HEAD bucket %s", s->bucket);
    req_init(&rq, "HEAD", NULL);
    int rc = s3_do(s, &rq, what, err);
    if (rc) goto out;
    if (rq.status == 404)
        rc = i2v__err(err, I2V_EINVAL, "blobs: there is no s3 bucket %s at %s", s->bucket,
                      s->origin);
    else if ((rq.status == 301 || rq.status == 400) && rq.bucket_region[0] &&
             strcmp(rq.bucket_region, s->region) != 0)
        rc = i2v__err(err, I2V_EINVAL,
                      "blobs: s3 bucket %s is in region %.40s, not %s (set region=%.40s)",
                      s->bucket, rq.bucket_region, s->region, rq.bucket_region);
    else
        rc = answer(s, &rq, what, NULL, err);
out:
    req_free(&rq);
    return rc;
}

int i2v__blob_open_s3(i2v_blob **out, const char *url, i2v_error *err)
{
    *out = NULL;
    s3_blob *s = calloc(1, sizeof *s);
    if (!s) return i2v__err(err, I2V_ENOMEM, "out of memory");
    s->base.vt = &s3_vt;
    pthread_mutex_init(&s->lock, NULL);
    int rc = parse_url(s, url, err);
    if (!rc) rc = credentials(s, err);
    if (!rc) {
        pthread_once(&curl_once, curl_init);
        if (curl_init_result != CURLE_OK)
            rc = i2v__err(err, I2V_EINTERNAL, "blobs: libcurl failed to start: %s",
                          curl_easy_strerror(curl_init_result));
    }
    if (!rc) rc = check_bucket(s, err);
    if (rc) {
        s3_close(&s->base);
        return rc;
    }
    *out = &s->base;
    return 0;
}
