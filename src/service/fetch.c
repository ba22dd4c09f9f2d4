/* fetch.c - guarded HTTP client on libcurl (photos in, webhooks out). */
#include "fetch.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/error.h"

void i2v__fetch_limits_init(i2v_fetch_limits *lim)
{
    lim->max_bytes = 64u << 20;
    lim->timeout_ms = 30000;
    lim->connect_ms = 10000;
    lim->max_redirects = 5;
    lim->allow = NULL;
    lim->cancel = NULL;
}

void i2v__fetch_global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

typedef struct xfer {
    const i2v_fetch_limits *lim;
    unsigned char *buf;
    size_t len, cap;
    int over;          /* byte limit hit */
    char refused[160]; /* address refused: why */
} xfer;

static size_t on_data(char *p, size_t size, size_t n, void *user)
{
    xfer *x = user;
    const size_t add = size * n;
    if (add > x->lim->max_bytes - x->len) {
        x->over = 1;
        return 0; /* aborts the transfer */
    }
    if (x->len + add > x->cap) {
        size_t cap = x->cap ? x->cap : 65536;
        while (cap < x->len + add)
            cap *= 2;
        if (cap > x->lim->max_bytes) cap = x->lim->max_bytes;
        unsigned char *nb = realloc(x->buf, cap);
        if (!nb) return 0;
        x->buf = nb;
        x->cap = cap;
    }
    memcpy(x->buf + x->len, p, add);
    x->len += add;
    return add;
}

/* libcurl calls it often (at least about every 100 ms while a transfer
 * waits): nonzero aborts. */
static int on_progress(void *user, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    const xfer *x = user;
    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    return x->lim->cancel && *x->lim->cancel ? 1 : 0;
}

static size_t discard(char *p, size_t size, size_t n, void *user)
{
    (void)p;
    (void)user;
    return size * n;
}

/* Called by libcurl for every connection it opens, with the address it is
 * about to connect to: the one place the guard cannot be bypassed by DNS
 * tricks or redirects. */
static curl_socket_t on_open(void *user, curlsocktype purpose, struct curl_sockaddr *a)
{
    xfer *x = user;
    (void)purpose;
    const char *why = i2v__addr_refused(&a->addr, x->lim->allow);
    if (why) {
        char ip[64] = "?";
        if (a->family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)&a->addr)->sin_addr, ip, sizeof ip);
        else if (a->family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)&a->addr)->sin6_addr, ip,
                      sizeof ip);
        snprintf(x->refused, sizeof x->refused, "address %s is %s", ip, why);
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype, a->protocol);
}

int i2v__url_ok(const char *url, char *why, size_t wl)
{
    if (!url || !*url) {
        snprintf(why, wl, "is empty");
        return 0;
    }
    if (strlen(url) > 2048) {
        snprintf(why, wl, "is longer than 2048 characters");
        return 0;
    }
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f) {
            snprintf(why, wl, "contains spaces or control characters");
            return 0;
        }
    CURLU *u = curl_url();
    int ok = 0;
    char *scheme = NULL, *host = NULL, *user = NULL;
    if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
        snprintf(why, wl, "is not a valid URL");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)) {
        snprintf(why, wl, "must be an http or https URL");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host) {
        snprintf(why, wl, "has no host");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK && user) {
        snprintf(why, wl, "must not contain a user name");
        goto out;
    }
    ok = 1;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(user);
    curl_url_cleanup(u);
    return ok;
}

static CURL *easy(xfer *x, const char *url, char *errbuf)
{
    CURL *c = curl_easy_init();
    if (!c) return NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_PROXY, ""); /* never a proxy from the environment */
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, x->lim->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, x->lim->connect_ms);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L); /* bytes/s ... */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 10L);    /* ... over 10 s */
    curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, on_open);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, x);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "i2v/" I2V_VERSION);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->lim->max_bytes);
    curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
    if (x->lim->cancel) {
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    }
    return c;
}

static int fail(CURLcode rc, const xfer *x, const char *errbuf, const char *url, i2v_error *err)
{
    if (x->refused[0]) return i2v__err(err, I2V_EDENIED, "%s: refused: %s", url, x->refused);
    if (rc == CURLE_ABORTED_BY_CALLBACK && x->lim->cancel && *x->lim->cancel)
        return i2v__err(err, I2V_ECANCELLED, "%s: cancelled", url);
    if (x->over || rc == CURLE_FILESIZE_EXCEEDED)
        return i2v__err(err, I2V_ELIMIT, "%s: larger than the %zu-byte limit", url,
                        x->lim->max_bytes);
    if (rc == CURLE_TOO_MANY_REDIRECTS)
        return i2v__err(err, I2V_ELIMIT, "%s: more than %d redirects", url, x->lim->max_redirects);
    if (rc == CURLE_OPERATION_TIMEDOUT)
        return i2v__err(err, I2V_ELIMIT, "%s: timed out (%s)", url, errbuf[0] ? errbuf : "limit");
    if (rc == CURLE_UNSUPPORTED_PROTOCOL)
        return i2v__err(err, I2V_EDENIED, "%s: only http and https URLs are fetched", url);
    return i2v__err(err, I2V_EFETCH, "%s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
}

int i2v__fetch(const char *url, const i2v_fetch_limits *lim, unsigned char **data, size_t *len,
               i2v_error *err)
{
    char why[96];
    *data = NULL;
    *len = 0;
    if (!i2v__url_ok(url, why, sizeof why)) return i2v__err(err, I2V_EDENIED, "URL %s", why);
    xfer x = {.lim = lim};
    char errbuf[CURL_ERROR_SIZE] = "";
    CURL *c = easy(&x, url, errbuf);
    if (!c) return i2v__err(err, I2V_ENOMEM, "libcurl: out of memory");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, lim->max_redirects > 0 ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, (long)lim->max_redirects);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
    CURLcode rc = curl_easy_perform(c);
    int ret = 0;
    if (rc != CURLE_OK) {
        ret = fail(rc, &x, errbuf, url, err);
        goto out;
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299) {
        ret = i2v__err(err, I2V_EFETCH, "%s: HTTP status %ld", url, status);
        goto out;
    }
    *data = x.buf;
    *len = x.len;
    x.buf = NULL;
out:
    free(x.buf);
    curl_easy_cleanup(c);
    return ret;
}

int i2v__post(const char *url, const char *const *headers, const char *body, size_t len,
              const i2v_fetch_limits *lim, long *status, i2v_error *err)
{
    char why[96];
    *status = 0;
    if (!i2v__url_ok(url, why, sizeof why)) return i2v__err(err, I2V_EDENIED, "URL %s", why);
    xfer x = {.lim = lim};
    char errbuf[CURL_ERROR_SIZE] = "";
    CURL *c = easy(&x, url, errbuf);
    struct curl_slist *hl = NULL;
    if (!c) return i2v__err(err, I2V_ENOMEM, "libcurl: out of memory");
    hl = curl_slist_append(hl, "Content-Type: application/json");
    hl = curl_slist_append(hl, "Expect:");
    for (int i = 0; headers && headers[i]; i++)
        hl = curl_slist_append(hl, headers[i]);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    CURLcode rc = curl_easy_perform(c);
    int ret = 0;
    if (rc != CURLE_OK)
        ret = fail(rc, &x, errbuf, url, err);
    else
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    return ret;
}
