/*
 * outputs.c - serving the output files: GET/HEAD /v/<32 hex>.mp4|.jpg with
 * Content-Type, Content-Length, a strong ETag, If-None-Match (304) and one
 * byte range (206 / 416) so browsers can seek. The name is random (128 bits),
 * so the URL is the capability; anything not of that exact shape is a 404
 * before the file system is touched.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"

static int not_found(i2v_req *r)
{
    return i2v__v2_error(r, I2V_API_NOTFOUND, "no such file");
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

int i2v__outputs_serve(i2v_service *svc, i2v_req *r, const char *name)
{
    /* exactly 32 lower-case hex digits and .mp4 / .jpg */
    if (strlen(name) != 36) return not_found(r);
    for (int i = 0; i < 32; i++)
        if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
            return not_found(r);
    const char *ext = name + 33;
    const char *ctype;
    if (name[32] != '.') return not_found(r);
    if (strcmp(ext, "mp4") == 0)
        ctype = "video/mp4";
    else if (strcmp(ext, "jpg") == 0)
        ctype = "image/jpeg";
    else
        return not_found(r);
    char key[33], path[1200];
    memcpy(key, name, 32);
    key[32] = '\0';
    i2v__output_path(svc, key, ext, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return not_found(r);
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return not_found(r);
    }
    const uint64_t size = (uint64_t)st.st_size;
    char etag[80];
    snprintf(etag, sizeof etag, "\"%" PRIx64 "-%lx%09lx\"", size, (long)st.st_mtim.tv_sec,
             (long)st.st_mtim.tv_nsec);
    struct MHD_Response *resp;
    int status = 200;
    const char *inm = i2v__req_header(r, "If-None-Match");
    if (inm && (strcmp(inm, etag) == 0 || strcmp(inm, "*") == 0)) {
        close(fd);
        resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        status = 304;
    } else {
        uint64_t from = 0, to = size ? size - 1 : 0;
        const char *ir = i2v__req_header(r, "If-Range");
        int ranged = (!ir || strcmp(ir, etag) == 0)
                         ? parse_range(i2v__req_header(r, "Range"), size, &from, &to)
                         : 0;
        if (ranged < 0) {
            close(fd);
            resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
            char cr[64];
            snprintf(cr, sizeof cr, "bytes */%" PRIu64, size);
            MHD_add_response_header(resp, "Content-Range", cr);
            status = 416;
        } else {
            resp = MHD_create_response_from_fd_at_offset64(size ? to - from + 1 : 0, fd, from);
            if (!resp) {
                close(fd);
                return -1;
            }
            if (ranged) {
                char cr[96];
                snprintf(cr, sizeof cr, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, from, to, size);
                MHD_add_response_header(resp, "Content-Range", cr);
                status = 206;
            }
            MHD_add_response_header(resp, "Content-Type", ctype);
        }
    }
    if (!resp) return -1;
    MHD_add_response_header(resp, "ETag", etag);
    MHD_add_response_header(resp, "Accept-Ranges", "bytes");
    MHD_add_response_header(resp, "Cache-Control", "public, max-age=31536000, immutable");
    r->status = status;
    int ok = MHD_queue_response(r->conn, (unsigned)status, resp) == MHD_YES;
    MHD_destroy_response(resp);
    return ok ? 0 : -1;
}
