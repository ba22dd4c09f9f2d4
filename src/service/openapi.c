/*
 * openapi.c - GET/HEAD /openapi.json. The embedded document is parsed once,
 * given "servers": [{"url": PUBLIC_URL}] and this build's info.version, and
 * kept with the ETag of its bytes; every request copies it out under a lock
 * (a different public URL, as in tests with several services in one
 * process, rebuilds it). If-None-Match with that ETag (weak or strong, in a
 * list, or "*") answers 304.
 */
#include "openapi.h"

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "common/crypto.h"
#include "common/log.h"
#include "i2v/i2v.h"
#include "openapi_doc.h"

const char *i2v__openapi_document(size_t *len)
{
    *len = i2v__openapi_openapi_json_len;
    return (const char *)i2v__openapi_openapi_json;
}

/* The document as served, built on first use. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char url[sizeof((i2v_service *)0)->public_url];
    char *text; /* owned; replaced only under lock */
    size_t len;
    char etag[40]; /* "\"" + 32 hex + "\"" */
} served;

/* Builds the document for svc into served: 0, or -1 (logged). Under lock. */
static int build(const i2v_service *svc)
{
    size_t n;
    const char *src = i2v__openapi_document(&n);
    json_error_t je;
    json_t *doc = json_loadb(src, n, 0, &je);
    if (!json_is_object(doc)) {
        i2v__log(I2V_LOG_ERROR, "openapi_invalid", " line=%d error=\"%s\"", je.line, je.text);
        json_decref(doc);
        return -1;
    }
    json_object_set_new(doc, "servers", json_pack("[{s:s}]", "url", svc->public_url));
    json_t *info = json_object_get(doc, "info");
    if (json_is_object(info)) json_object_set_new(info, "version", json_string(I2V_VERSION));
    char *text = json_dumps(doc, JSON_INDENT(2));
    json_decref(doc);
    if (!text) return -1;
    char hash[I2V_HASH_HEX + 1];
    free(served.text);
    served.text = text;
    served.len = strlen(text);
    i2v__sha256_hex(text, served.len, hash);
    snprintf(served.etag, sizeof served.etag, "\"%.32s\"", hash);
    snprintf(served.url, sizeof served.url, "%s", svc->public_url);
    return 0;
}

/* 1 when the If-None-Match header h names etag (or is "*"). */
static int etag_matches(const char *h, const char *etag)
{
    const size_t el = strlen(etag);
    while (h && *h) {
        while (*h == ' ' || *h == '\t' || *h == ',')
            h++;
        if (strncmp(h, "W/", 2) == 0) h += 2;
        const size_t n = strcspn(h, ", \t");
        if ((n == 1 && *h == '*') || (n == el && strncmp(h, etag, el) == 0)) return 1;
        h += n;
    }
    return 0;
}

static int serve(i2v_service *svc, i2v_req *r)
{
    const char *inm = i2v__req_header(r, "If-None-Match");
    char etag[sizeof served.etag];
    struct MHD_Response *resp = NULL;
    int status = 200;
    pthread_mutex_lock(&lock);
    if ((!served.text || strcmp(served.url, svc->public_url) != 0) && build(svc) != 0) {
        pthread_mutex_unlock(&lock);
        return i2v__req_error(r, I2V_API_INTERNAL, "openapi: the embedded document is invalid");
    }
    snprintf(etag, sizeof etag, "%s", served.etag);
    if (etag_matches(inm, etag)) {
        status = 304;
        resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    } else {
        resp = MHD_create_response_from_buffer(served.len, served.text, MHD_RESPMEM_MUST_COPY);
    }
    pthread_mutex_unlock(&lock);
    if (!resp) return -1;
    if (status == 200) MHD_add_response_header(resp, "Content-Type", "application/json");
    MHD_add_response_header(resp, "ETag", etag);
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    r->status = status;
    const int ok = MHD_queue_response(r->conn, (unsigned)status, resp) == MHD_YES;
    MHD_destroy_response(resp);
    return ok ? 0 : -1;
}

static const i2v_route routes[] = {{"GET HEAD", I2V_OPENAPI_PATH, serve}};

const i2v_api_family i2v__openapi_family = {"openapi", I2V_OPENAPI_PATH, i2v__native_error, routes,
                                            (int)(sizeof routes / sizeof routes[0])};
