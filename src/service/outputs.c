/*
 * outputs.c - serving the output files: GET/HEAD /v/<32 hex>.mp4|.jpg with
 * Content-Type, Content-Length, a strong ETag, If-None-Match (304) and one
 * byte range (206 / 416) so browsers can seek. The name is random (128 bits),
 * so the URL is the capability; anything not of that exact shape is a 404
 * before the blob store is asked. The bytes are read from the blob store as
 * the client takes them; a store with direct URLs gets a 302 to one instead.
 */
#include "outputs.h"

#include <inttypes.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "blob/blob.h"
#include "common/log.h"

static int not_found(i2v_req *r)
{
    return i2v__req_error(r, I2V_API_NOTFOUND, "no such file");
}

/* Parses "bytes=a-b", "bytes=a-", "bytes=-n" against size. Returns 1 with
 * [*from, *to] set, 0 when the header should be ignored (absent, several
 * ranges), -1 when unsatisfiable. */
static int parse_range(const char *h, uint64_t size, uint64_t *from, uint64_t *to)
{
    if (!h || strncmp(h, "bytes=", 6) != 0 || strchr(h, ',')) return 0;
    const char *p = h + 6;
    char *end;
    if (*p == '-') {
        uint64_t n = strtoull(p + 1, &end, 10);
        if (end == p + 1 || *end) return 0;
        if (n == 0 || size == 0) return -1;
        *from = n >= size ? 0 : size - n;
        *to = size - 1;
        return 1;
    }
    uint64_t a = strtoull(p, &end, 10);
    if (end == p || *end != '-') return 0;
    p = end + 1;
    uint64_t b = size ? size - 1 : 0;
    if (*p) {
        b = strtoull(p, &end, 10);
        if (end == p || *end) return 0;
        if (b < a) return 0;
        if (b >= size) b = size - 1;
    }
    if (a >= size) return -1;
    *from = a;
    *to = b;
    return 1;
}

/* libmicrohttpd pulls the body through these as the client reads it. */
static ssize_t read_blob(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos; /* called in order from the start of the range */
    i2v_error e = {0};
    long n = ((i2v_blob_reader *)cls)->read(cls, buf, max, &e);
    if (n > 0) return (ssize_t)n;
    if (n < 0) i2v__log(I2V_LOG_ERROR, "output_read_failed", " error=\"%s\"", e.message);
    return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void close_blob(void *cls)
{
    i2v_blob_reader *rd = cls;
    i2v__blob_reader_close(&rd);
}

static int serve(i2v_service *svc, i2v_req *r)
{
    const char *name = r->path + strlen(I2V_OUTPUTS_PREFIX);
    /* exactly 32 lower-case hex digits and .mp4 / .jpg */
    if (strlen(name) != 36 || name[32] != '.') return not_found(r);
    for (int i = 0; i < 32; i++)
        if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
            return not_found(r);
    if (strcmp(name + 33, "mp4") != 0 && strcmp(name + 33, "jpg") != 0) return not_found(r);

    i2v_error e = {0};
    i2v_blob_info info;
    int rc = i2v__blob_stat(svc->blobs, name, &info, &e);
    if (rc == I2V_ENOTFOUND) return not_found(r);
    if (rc) {
        i2v__log(I2V_LOG_ERROR, "output_stat_failed", " name=%s error=\"%s\"", name, e.message);
        return i2v__req_error(r, I2V_API_UNAVAILABLE, "output store unavailable, please retry");
    }
    /* HEAD is answered here from the blob's metadata: a presigned URL is
     * signed for GET only. */
    const int head = strcmp(r->method, "HEAD") == 0;
    char direct[2048];
    rc = svc->blob_proxy || head
             ? 0
             : i2v__blob_url(svc->blobs, name, svc->blob_url_ttl_s, direct, sizeof direct, &e);
    if (rc == 1) {
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        if (!resp) return -1;
        MHD_add_response_header(resp, "Location", direct);
        MHD_add_response_header(resp, "Cache-Control", "no-store");
        r->status = 302;
        int ok = MHD_queue_response(r->conn, 302, resp) == MHD_YES;
        MHD_destroy_response(resp);
        return ok ? 0 : -1;
    }

    const uint64_t size = info.size;
    struct MHD_Response *resp;
    int status = 200;
    const char *inm = i2v__req_header(r, "If-None-Match");
    if (inm && (strcmp(inm, info.etag) == 0 || strcmp(inm, "*") == 0)) {
        resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        status = 304;
    } else {
        uint64_t from = 0, to = size ? size - 1 : 0;
        const char *ir = i2v__req_header(r, "If-Range");
        int ranged = (!ir || strcmp(ir, info.etag) == 0)
                         ? parse_range(i2v__req_header(r, "Range"), size, &from, &to)
                         : 0;
        if (ranged < 0) {
            resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
            if (!resp) return -1;
            char cr[64];
            snprintf(cr, sizeof cr, "bytes */%" PRIu64, size);
            MHD_add_response_header(resp, "Content-Range", cr);
            status = 416;
        } else {
            const uint64_t len = size ? to - from + 1 : 0;
            i2v_blob_reader *rd = NULL;
            rc = head ? 0 : i2v__blob_read_open(svc->blobs, name, from, len, &rd, &e);
            if (rc == I2V_ENOTFOUND) return not_found(r);
            if (rc) {
                i2v__log(I2V_LOG_ERROR, "output_open_failed", " name=%s error=\"%s\"", name,
                         e.message);
                return i2v__req_error(r, I2V_API_UNAVAILABLE,
                                      "output store unavailable, please retry");
            }
            /* (no body is read for HEAD: the callback is never called) */
            resp = MHD_create_response_from_callback(len, 64 * 1024, read_blob, rd,
                                                     rd ? close_blob : NULL);
            if (!resp) {
                i2v__blob_reader_close(&rd);
                return -1;
            }
            if (ranged) {
                char cr[96];
                snprintf(cr, sizeof cr, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, from, to, size);
                MHD_add_response_header(resp, "Content-Range", cr);
                status = 206;
            }
            MHD_add_response_header(resp, "Content-Type", info.ctype);
        }
    }
    if (!resp) return -1;
    MHD_add_response_header(resp, "ETag", info.etag);
    MHD_add_response_header(resp, "Accept-Ranges", "bytes");
    MHD_add_response_header(resp, "Cache-Control", "public, max-age=31536000, immutable");
    r->status = status;
    int ok = MHD_queue_response(r->conn, (unsigned)status, resp) == MHD_YES;
    MHD_destroy_response(resp);
    return ok ? 0 : -1;
}

const i2v_route i2v__outputs_routes[1] = {{"GET HEAD", I2V_OUTPUTS_PREFIX, serve}};
