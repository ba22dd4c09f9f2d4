/*
 * blob.c - what every blob store shares: opening one from its URL (dir: or
 * s3://, the backend parses the rest), the name check made before any
 * backend is called, and Content-Types by extension.
 */
#include "blob.h"

#include <string.h>
#include <strings.h>

#include "common/error.h"

int i2v__blob_name_ok(const char *name)
{
    if (!name || !name[0] || name[0] == '.') return 0;
    size_t n = 0;
    for (const char *p = name; *p; p++, n++) {
        const char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return n <= I2V_BLOB_NAME_MAX;
}

const char *i2v__blob_ctype(const char *name)
{
    static const struct {
        const char *ext, *ctype;
    } types[] = {
        {"mp4", "video/mp4"},         {"jpg", "image/jpeg"},  {"jpeg", "image/jpeg"},
        {"png", "image/png"},         {"webp", "image/webp"}, {"heic", "image/heic"},
        {"json", "application/json"},
    };
    const char *dot = name ? strrchr(name, '.') : NULL;
    if (dot)
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (strcasecmp(dot + 1, types[i].ext) == 0) return types[i].ctype;
    return "application/octet-stream";
}

static int check(const char *name, i2v_error *err)
{
    if (i2v__blob_name_ok(name)) return 0;
    return i2v__err(err, I2V_EINVAL, "blob: '%.80s' is not a valid name", name ? name : "(null)");
}

int i2v__blob_open(i2v_blob **out, const char *url, i2v_error *err)
{
    *out = NULL;
    if (!url || !*url) return i2v__err(err, I2V_EINVAL, "blobs: empty URL");
    if (strncmp(url, "dir:", 4) == 0) {
        if (!url[4]) return i2v__err(err, I2V_EINVAL, "blobs: 'dir:' needs a folder (dir:PATH)");
        return i2v__blob_open_dir(out, url + 4, err);
    }
    if (strncmp(url, "s3://", 5) == 0) return i2v__blob_open_s3(out, url, err);
    return i2v__err(err, I2V_EINVAL,
                    "blobs: '%.200s' is not a blob store URL (dir:PATH or s3://BUCKET[/PREFIX])",
                    url);
}

void i2v__blob_close(i2v_blob **b)
{
    if (!b || !*b) return;
    (*b)->vt->close(*b);
    *b = NULL;
}

int i2v__blob_put_file(i2v_blob *b, const char *name, const char *path, const char *ctype,
                       i2v_error *err)
{
    int r = check(name, err);
    return r ? r : b->vt->put_file(b, name, path, ctype ? ctype : i2v__blob_ctype(name), err);
}

int i2v__blob_stat(i2v_blob *b, const char *name, i2v_blob_info *info, i2v_error *err)
{
    int r = check(name, err);
    return r ? r : b->vt->stat(b, name, info, err);
}

int i2v__blob_read_open(i2v_blob *b, const char *name, uint64_t offset, uint64_t length,
                        i2v_blob_reader **out, i2v_error *err)
{
    *out = NULL;
    int r = check(name, err);
    return r ? r : b->vt->open(b, name, offset, length, out, err);
}

int i2v__blob_remove(i2v_blob *b, const char *name, i2v_error *err)
{
    int r = check(name, err);
    return r ? r : b->vt->remove(b, name, err);
}

int i2v__blob_url(i2v_blob *b, const char *name, int ttl_s, char *buf, size_t len, i2v_error *err)
{
    int r = check(name, err);
    return r ? r : b->vt->url(b, name, ttl_s, buf, len, err);
}

void i2v__blob_reader_close(i2v_blob_reader **rd)
{
    if (!rd || !*rd) return;
    (*rd)->close(*rd);
    *rd = NULL;
}
