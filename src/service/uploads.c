/* uploads.c - photo uploads: taken, checked, stored, shown, used, swept. */
#include "uploads.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "api.h"
#include "blob/blob.h"
#include "common/crypto.h"
#include "common/error.h"
#include "common/log.h"

#define SWEEP_BATCH 200

/* ---- the URL ---- */

int i2v__upload_url_id(const i2v_service *svc, const char *url, char id[33])
{
    const size_t n = strlen(svc->public_url);
    if (!url || strncmp(url, svc->public_url, n) != 0 ||
        strncmp(url + n, I2V_UPLOADS_PREFIX, strlen(I2V_UPLOADS_PREFIX)) != 0)
        return 0;
    const char *p = url + n + strlen(I2V_UPLOADS_PREFIX);
    if (strlen(p) != 32) return 0;
    for (int i = 0; i < 32; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f'))) return 0;
    memcpy(id, p, 33);
    return 1;
}

static void upload_url(const i2v_service *svc, const char *id, char url[1024])
{
    snprintf(url, 1024, "%s" I2V_UPLOADS_PREFIX "%s", svc->public_url, id);
}

int i2v__upload_check(const i2v_service *svc, const char *user, const char *url, char *why,
                      size_t wl)
{
    char id[33];
    if (!i2v__upload_url_id(svc, url, id)) return 0;
    i2v_upload u;
    i2v_error e = {0};
    const int s = svc->store->vt->upload_get(svc->store, id, &u, &e);
    if (s == I2V_ENOTFOUND || (s == 0 && strcmp(u.user_id, user) != 0)) {
        snprintf(why, wl, "no upload %s of this account (upload the photo again)", id);
        return 1;
    }
    if (s) return s;
    if (u.expires_ms <= i2v__now_ms()) {
        snprintf(why, wl, "upload %s has expired (uploads last %lld s; upload the photo again)", id,
                 (long long)(svc->upload_ttl_ms / 1000));
        return 1;
    }
    return 0;
}

int i2v__upload_check_gen(const i2v_service *svc, const i2v_gen *g, const char *first,
                          const char *more, int more_base, const char *last, char *msg, size_t ml)
{
    char why[200], field[64], rest[sizeof g->more_urls];
    int s = i2v__upload_check(svc, g->user_id, g->image_url, why, sizeof why);
    snprintf(field, sizeof field, "%s", first);
    if (!s && g->last_image_url[0]) {
        s = i2v__upload_check(svc, g->user_id, g->last_image_url, why, sizeof why);
        snprintf(field, sizeof field, "%s", last);
    }
    snprintf(rest, sizeof rest, "%s", g->more_urls);
    int i = more_base;
    for (char *save = NULL, *u = strtok_r(rest, "\n", &save); u && !s;
         u = strtok_r(NULL, "\n", &save), i++) {
        s = i2v__upload_check(svc, g->user_id, u, why, sizeof why);
        snprintf(field, sizeof field, more, i);
    }
    if (s == 0) return 0;
    if (s < 0) {
        snprintf(msg, ml, "service temporarily unavailable, please retry");
        return I2V_API_READ_UNAVAILABLE;
    }
    snprintf(msg, ml, "%s: %s", field, why);
    return -1;
}

int i2v__upload_read(i2v_service *svc, const char *user, const char *url, size_t max,
                     unsigned char **data, size_t *len, i2v_error *err)
{
    char id[33];
    *data = NULL;
    *len = 0;
    if (!i2v__upload_url_id(svc, url, id)) return 1;
    i2v_upload u;
    int rc = svc->store->vt->upload_get(svc->store, id, &u, err);
    if (rc == I2V_ENOTFOUND || (rc == 0 && strcmp(u.user_id, user) != 0))
        return i2v__err(err, I2V_ENOTFOUND, "upload %s: not found (expired and removed?)", id);
    if (rc) return rc;
    i2v_blob_info info;
    rc = i2v__blob_stat(svc->blobs, u.blob, &info, err);
    if (rc == I2V_ENOTFOUND)
        return i2v__err(err, I2V_ENOTFOUND, "upload %s: not found (expired and removed?)", id);
    if (rc) return rc;
    if (info.size == 0 || info.size > max)
        return i2v__err(err, I2V_ELIMIT, "upload %s: %llu bytes, above the limit of %zu", id,
                        (unsigned long long)info.size, max);
    i2v_blob_reader *rd = NULL;
    rc = i2v__blob_read_open(svc->blobs, u.blob, 0, info.size, &rd, err);
    if (rc) return rc == I2V_ENOTFOUND ? i2v__err(err, rc, "upload %s: not found", id) : rc;
    unsigned char *buf = malloc((size_t)info.size);
    size_t got = 0;
    if (!buf) rc = i2v__err(err, I2V_ENOMEM, "out of memory");
    while (!rc && got < info.size) {
        const long n = rd->read(rd, buf + got, (size_t)info.size - got, err);
        if (n < 0) rc = (int)n;
        if (n == 0) rc = i2v__err(err, I2V_EIO, "upload %s: cut short at %zu bytes", id, got);
        if (n > 0) got += (size_t)n;
    }
    i2v__blob_reader_close(&rd);
    if (rc) {
        free(buf);
        return rc;
    }
    *data = buf;
    *len = got;
    return 0;
}

/* ---- POST /api/i2v/v1/uploads ---- */

static json_t *upload_json(const i2v_service *svc, const i2v_upload *u)
{
    char url[1024];
    upload_url(svc, u->id, url);
    return json_pack("{s:s, s:s, s:s, s:i, s:i, s:I, s:o, s:o}", "id", u->id, "url", url, "format",
                     u->format, "width", u->width, "height", u->height, "bytes",
                     (json_int_t)u->bytes, "created_at", i2v__api_time(u->created_ms), "expires_at",
                     i2v__api_time(u->expires_ms));
}

/* A multipart/form-data body being read: the one field "file". */
typedef struct form {
    size_t max;
    unsigned char *buf;
    size_t len, cap;
    int files;        /* parts named "file" */
    int over;         /* the file is larger than max */
    char unknown[64]; /* the first other field */
    int nomem;
} form;

static enum MHD_Result form_part(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *filename, const char *ctype, const char *enc,
                                 const char *data, uint64_t off, size_t size)
{
    form *f = cls;
    (void)kind;
    (void)filename;
    (void)ctype;
    (void)enc;
    if (!key || strcmp(key, "file") != 0) {
        snprintf(f->unknown, sizeof f->unknown, "%.60s", key && *key ? key : "(unnamed)");
        return MHD_NO;
    }
    if (off == 0) f->files++;
    if (f->files > 1) return MHD_NO;
    if (size == 0) return MHD_YES;
    if (off != f->len || size > f->max - f->len) {
        f->over = off == f->len;
        return MHD_NO;
    }
    if (f->len + size > f->cap) {
        size_t cap = f->cap ? f->cap : 65536;
        while (cap < f->len + size)
            cap *= 2;
        unsigned char *nb = realloc(f->buf, cap);
        if (!nb) {
            f->nomem = 1;
            return MHD_NO;
        }
        f->buf = nb;
        f->cap = cap;
    }
    memcpy(f->buf + f->len, data, size);
    f->len += size;
    return MHD_YES;
}

/* The photo's bytes from r: the raw body, or the form's field "file"
 * (*field names the one the errors speak of). 0 with *data (borrowed from
 * r, or in *own, which the caller frees), or 1 after answering (*ret). */
static int photo_bytes(i2v_service *svc, i2v_req *r, const unsigned char **data, size_t *len,
                       unsigned char **own, const char **field, int *ret)
{
    const char *ct = i2v__req_header(r, "Content-Type");
    *own = NULL;
    *field = "body";
    if (ct && strncasecmp(ct, "multipart/form-data", 19) == 0) {
        *field = "file";
        form f = {.max = svc->upload_max};
        struct MHD_PostProcessor *pp = MHD_create_post_processor(r->conn, 16384, form_part, &f);
        if (!pp) {
            *ret = i2v__native_error(r, I2V_API_PARAM,
                                     "Content-Type: multipart/form-data needs a boundary");
            return 1;
        }
        const int ok = MHD_post_process(pp, r->body ? r->body : "", r->body_len) == MHD_YES;
        const int whole = MHD_destroy_post_processor(pp) == MHD_YES;
        if (f.nomem)
            *ret = i2v__native_error(r, I2V_API_INTERNAL, "out of memory");
        else if (f.unknown[0])
            *ret = i2v__native_error(r, I2V_API_PARAM,
                                     "%s: unknown field (send the photo as the field file)",
                                     f.unknown);
        else if (f.files > 1)
            *ret = i2v__native_error(r, I2V_API_PARAM, "file: give one file, not %d", f.files);
        else if (f.over)
            *ret = i2v__native_error(r, I2V_API_TOO_LARGE, "file: larger than %zu bytes",
                                     svc->upload_max);
        else if (!ok || !whole)
            *ret = i2v__native_error(r, I2V_API_PARAM,
                                     "body: not a complete multipart/form-data form");
        else if (f.files == 0)
            *ret = i2v__native_error(r, I2V_API_PARAM,
                                     "file: required (a multipart/form-data field named file)");
        else {
            *data = f.buf;
            *len = f.len;
            *own = f.buf;
            return 0;
        }
        free(f.buf);
        return 1;
    }
    if (ct && strncasecmp(ct, "image/", 6) != 0 &&
        strncasecmp(ct, "application/octet-stream", 24) != 0) {
        *ret = i2v__native_error(r, I2V_API_PARAM,
                                 "Content-Type: send the photo as the body (image/jpeg, "
                                 "image/png, ...) or as the field file of multipart/form-data");
        return 1;
    }
    if (r->body_len > svc->upload_max) {
        *ret =
            i2v__native_error(r, I2V_API_TOO_LARGE, "body: larger than %zu bytes", svc->upload_max);
        return 1;
    }
    *data = (const unsigned char *)r->body;
    *len = r->body_len;
    return 0;
}

/* Writes len bytes to a new scratch file: 0 with its path, or a code. */
static int scratch_file(const i2v_service *svc, const unsigned char *data, size_t len,
                        char path[1200], i2v_error *err)
{
    char rnd[33];
    i2v__random_hex(rnd, 16);
    snprintf(path, 1200, "%s/upload-%s.part", svc->scratch_dir, rnd);
    const int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return i2v__err(err, I2V_EIO, "cannot create %s: %s", path, strerror(errno));
    size_t done = 0;
    while (done < len) {
        const ssize_t n = write(fd, data + done, len - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        done += (size_t)n;
    }
    if (close(fd) != 0 || done != len) {
        unlink(path);
        return i2v__err(err, I2V_EIO, "cannot write %s", path);
    }
    return 0;
}

static const char *ext_of(const char *format)
{
    return strcmp(format, "jpeg") == 0 ? "jpg" : format;
}

/* Checks the photo, stores it and records it for user; answers. */
static int take(i2v_service *svc, i2v_req *r, const char *user, const char *field,
                const unsigned char *data, size_t len)
{
    i2v_error e = {0};
    if (len == 0)
        return i2v__native_error(r, I2V_API_PARAM, "%s: empty; send the photo's bytes", field);
    /* exactly the checks of a fetched photo: the format from the bytes, the
     * byte and pixel limits and the header walk */
    i2v_limits lim;
    i2v_limits_init(&lim);
    lim.max_bytes = svc->upload_max;
    lim.max_pixels = svc->max_pixels;
    i2v_photo *photo = NULL;
    int s = i2v_photo_open_memory(&photo, data, len, &lim, &e);
    if (s == I2V_ENOMEM) return i2v__native_error(r, I2V_API_INTERNAL, "out of memory");
    if (s) {
        i2v__log(I2V_LOG_INFO, "upload_refused", " user=%s bytes=%zu reason=\"%s\"", user, len,
                 e.message);
        return i2v__native_error(r, I2V_API_PARAM, "%s: %s", field, e.message);
    }
    i2v_upload u = {0};
    i2v__random_hex(u.id, 16);
    snprintf(u.user_id, sizeof u.user_id, "%s", user);
    snprintf(u.format, sizeof u.format, "%s", i2v_photo_format(photo));
    u.width = i2v_photo_width(photo);
    u.height = i2v_photo_height(photo);
    i2v_photo_free(&photo);
    u.bytes = (int64_t)len;
    u.created_ms = i2v__now_ms();
    u.expires_ms = u.created_ms + svc->upload_ttl_ms;
    char rnd[33], ctype[32];
    i2v__random_hex(rnd, 16);
    snprintf(u.blob, sizeof u.blob, "u-%s.%s", rnd, ext_of(u.format));
    snprintf(ctype, sizeof ctype, "image/%s", u.format);
    const char *key = i2v__req_header(r, "Idempotency-Key");
    if (key) {
        snprintf(u.idem_key, sizeof u.idem_key, "%s", key);
        i2v__sha256_hex(data, len, u.idem_hash); /* the same photo is the same request */
    }
    char path[1200];
    s = scratch_file(svc, data, len, path, &e);
    if (!s) {
        s = i2v__blob_put_file(svc->blobs, u.blob, path, ctype, &e);
        if (s) unlink(path);
    }
    if (s) {
        i2v__log(I2V_LOG_ERROR, "upload_put_failed", " user=%s error=\"%s\"", user, e.message);
        return s == I2V_EUNAVAILABLE ? i2v__native_error(r, I2V_API_UNAVAILABLE,
                                                         "the blob store is unavailable; retry")
                                     : i2v__native_error(r, I2V_API_INTERNAL,
                                                         "the upload could not be stored; retry");
    }
    i2v_upload first;
    s = svc->store->vt->upload_add(svc->store, &u, &first, &e);
    if (s) i2v__blob_remove(svc->blobs, u.blob, NULL);
    if (s == I2V_EDUPLICATE) {
        if (strcmp(first.idem_hash, u.idem_hash) != 0)
            return i2v__native_error(r, I2V_API_IDEMPOTENCY,
                                     "Idempotency-Key: already used with a different photo; send "
                                     "a new key for a new upload");
        r->replayed = 1;
        return i2v__respond_json(r, 201, upload_json(svc, &first));
    }
    if (s) return i2v__api_store_error(r, s, i2v__native_error);
    i2v__log(I2V_LOG_INFO, "upload_stored", " user=%s upload=%s format=%s size=%dx%d bytes=%zu",
             user, u.id, u.format, u.width, u.height, len);
    return i2v__respond_json(r, 201, upload_json(svc, &u));
}

int i2v__upload_post(i2v_service *svc, i2v_req *r)
{
    char user[37];
    int ret;
    if (i2v__native_auth(svc, r, user, &ret)) return ret;
    const char *key = i2v__req_header(r, "Idempotency-Key");
    if (key && !i2v__idem_key_ok(key))
        return i2v__native_error(r, I2V_API_PARAM,
                                 "Idempotency-Key: 1 to %d printable ASCII characters without "
                                 "spaces",
                                 I2V_IDEM_KEY_MAX);
    const unsigned char *data = NULL;
    unsigned char *own = NULL;
    size_t len = 0;
    const char *field;
    if (photo_bytes(svc, r, &data, &len, &own, &field, &ret)) return ret;
    ret = take(svc, r, user, field, data, len);
    free(own);
    return ret;
}

/* ---- GET /u/<id>: the owner's preview ---- */

static ssize_t read_blob(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos; /* called in order from the start */
    i2v_error e = {0};
    const long n = ((i2v_blob_reader *)cls)->read(cls, buf, max, &e);
    if (n > 0) return (ssize_t)n;
    if (n < 0) i2v__log(I2V_LOG_ERROR, "upload_read_failed", " error=\"%s\"", e.message);
    return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void close_blob(void *cls)
{
    i2v_blob_reader *rd = cls;
    i2v__blob_reader_close(&rd);
}

static int show(i2v_service *svc, i2v_req *r)
{
    char user[37], id[33], url[1024];
    int ret;
    const char *rest = r->path + strlen(I2V_UPLOADS_PREFIX);
    snprintf(url, sizeof url, "%s" I2V_UPLOADS_PREFIX "%.64s", svc->public_url, rest);
    if (!i2v__upload_url_id(svc, url, id))
        return i2v__native_error(r, I2V_API_NOTFOUND, "upload %.64s: not found", rest);
    if (i2v__native_auth(svc, r, user, &ret)) return ret;
    i2v_upload u;
    i2v_error e = {0};
    int s = svc->store->vt->upload_get(svc->store, id, &u, &e);
    if (s == I2V_ENOTFOUND ||
        (s == 0 && (strcmp(u.user_id, user) != 0 || u.expires_ms <= i2v__now_ms())))
        return i2v__native_error(r, I2V_API_NOTFOUND, "upload %s: not found", id);
    if (s) return i2v__api_store_error(r, s, i2v__native_error);
    i2v_blob_info info;
    s = i2v__blob_stat(svc->blobs, u.blob, &info, &e);
    i2v_blob_reader *rd = NULL;
    const int head = strcmp(r->method, "HEAD") == 0;
    if (!s && !head) s = i2v__blob_read_open(svc->blobs, u.blob, 0, info.size, &rd, &e);
    if (s == I2V_ENOTFOUND)
        return i2v__native_error(r, I2V_API_NOTFOUND, "upload %s: not found", id);
    if (s) return i2v__native_error(r, I2V_API_UNAVAILABLE, "the blob store is unavailable; retry");
    struct MHD_Response *resp = MHD_create_response_from_callback(info.size, 64 * 1024, read_blob,
                                                                  rd, rd ? close_blob : NULL);
    if (!resp) {
        i2v__blob_reader_close(&rd);
        return -1;
    }
    char ctype[32];
    snprintf(ctype, sizeof ctype, "image/%s", u.format);
    MHD_add_response_header(resp, "Content-Type", ctype);
    MHD_add_response_header(resp, "Cache-Control", "private, max-age=300");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    r->status = 200;
    const int ok = MHD_queue_response(r->conn, 200, resp) == MHD_YES;
    MHD_destroy_response(resp);
    return ok ? 0 : -1;
}

const i2v_route i2v__upload_routes[1] = {{"GET HEAD", I2V_UPLOADS_PREFIX, show}};

/* ---- the sweep ---- */

typedef struct sweep {
    i2v_service *svc;
    int removed, failed;
} sweep;

static int sweep_one(void *user, const i2v_upload *u)
{
    sweep *w = user;
    i2v_error e = {0};
    /* the blob first: a record without its blob is harmless, a blob
     * without its record would never be found again */
    int s = i2v__blob_remove(w->svc->blobs, u->blob, &e);
    if (s == 0 || s == I2V_ENOTFOUND)
        s = w->svc->store->vt->upload_remove(w->svc->store, u->id, &e);
    if (s == 0) w->removed++;
    if (s && s != I2V_ENOTFOUND) {
        if (!w->failed++)
            i2v__log(I2V_LOG_WARN, "upload_sweep_failed", " upload=%s error=\"%s\"", u->id,
                     e.message);
        return s == I2V_EUNAVAILABLE; /* the store is away: try again next time */
    }
    return 0;
}

int i2v__uploads_sweep(i2v_service *svc)
{
    sweep w = {svc, 0, 0};
    i2v_error e = {0};
    const int s =
        svc->store->vt->upload_expired(svc->store, i2v__now_ms(), SWEEP_BATCH, sweep_one, &w, &e);
    if (s) return s;
    if (w.removed) i2v__log(I2V_LOG_INFO, "uploads_expired", " removed=%d", w.removed);
    return w.removed;
}
