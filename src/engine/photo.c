/* photo.c - reading a photo's bytes and header under the configured limits. */
#include "photo.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"

void i2v_limits_init(i2v_limits *lim)
{
    lim->max_bytes = 64u << 20;
    lim->max_pixels = 100000000u;
}

static int photo_adopt(i2v_photo **out, uint8_t *data, size_t len, const i2v_limits *lim,
                       i2v_error *err)
{
    i2v_photo *p = NULL;
    int rc;
    const i2v_decoder *dec = i2v__decoder_find(data, len);
    if (!dec) {
        rc = i2v__err(err, I2V_EFORMAT,
                      "not an image i2v can read (expected JPEG, PNG, WebP or HEIC)");
        goto fail;
    }
    p = calloc(1, sizeof *p);
    if (!p) {
        rc = i2v__err(err, I2V_ENOMEM, "out of memory");
        goto fail;
    }
    p->data = data;
    p->len = len;
    p->decoder = dec;
    rc = i2v__decode_probe(dec, data, len, lim->max_pixels, &p->probe, err);
    if (rc) goto fail;
    const int swap = i2v__orientation_swaps(p->probe.orientation);
    p->width = swap ? p->probe.height : p->probe.width;
    p->height = swap ? p->probe.width : p->probe.height;
    *out = p;
    return 0;
fail:
    free(p);
    free(data);
    return rc;
}

int i2v_photo_open_memory(i2v_photo **out, const void *data, size_t len, const i2v_limits *lim,
                          i2v_error *err)
{
    i2v_limits def;
    *out = NULL;
    if (!lim) {
        i2v_limits_init(&def);
        lim = &def;
    }
    if (!data || len == 0) return i2v__err(err, I2V_EFORMAT, "the image is empty");
    if (len > lim->max_bytes)
        return i2v__err(err, I2V_ELIMIT, "the image is %zu bytes, above the limit of %llu", len,
                        (unsigned long long)lim->max_bytes);
    uint8_t *copy = malloc(len);
    if (!copy) return i2v__err(err, I2V_ENOMEM, "out of memory");
    memcpy(copy, data, len);
    return photo_adopt(out, copy, len, lim, err);
}

int i2v_photo_open_file(i2v_photo **out, const char *path, const i2v_limits *lim, i2v_error *err)
{
    i2v_limits def;
    uint8_t *buf = NULL;
    int rc = 0;
    *out = NULL;
    if (!lim) {
        i2v_limits_init(&def);
        lim = &def;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return i2v__err(err, I2V_EIO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = i2v__err(err, I2V_EIO, "%s is not a regular file", path);
        goto out;
    }
    if (st.st_size == 0) {
        rc = i2v__err(err, I2V_EFORMAT, "%s is empty", path);
        goto out;
    }
    if ((uint64_t)st.st_size > lim->max_bytes) {
        rc = i2v__err(err, I2V_ELIMIT, "%s is %lld bytes, above the limit of %llu", path,
                      (long long)st.st_size, (unsigned long long)lim->max_bytes);
        goto out;
    }
    size_t len = (size_t)st.st_size, got = 0;
    buf = malloc(len);
    if (!buf) {
        rc = i2v__err(err, I2V_ENOMEM, "out of memory reading %s", path);
        goto out;
    }
    while (got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            rc = i2v__err(err, I2V_EIO, "cannot read %s: %s", path,
                          r < 0 ? strerror(errno) : "file shrank");
            goto out;
        }
        got += (size_t)r;
    }
    rc = photo_adopt(out, buf, len, lim, err);
    buf = NULL; /* adopted or freed by photo_adopt */
    if (rc && err && strncmp(err->message, path, strlen(path)) != 0) {
        /* Name the file in the message. */
        char tmp[sizeof err->message];
        memcpy(tmp, err->message, sizeof tmp);
        int n = snprintf(err->message, sizeof err->message, "%s: ", path);
        if (n > 0 && (size_t)n < sizeof err->message)
            snprintf(err->message + n, sizeof err->message - (size_t)n, "%.*s",
                     (int)(sizeof err->message - (size_t)n - 1), tmp);
    }
out:
    free(buf);
    close(fd);
    return rc;
}

void i2v_photo_free(i2v_photo **photo)
{
    if (!photo || !*photo) return;
    free((*photo)->data);
    free(*photo);
    *photo = NULL;
}

int i2v_photo_width(const i2v_photo *p)
{
    return p->width;
}

int i2v_photo_height(const i2v_photo *p)
{
    return p->height;
}

const char *i2v_photo_format(const i2v_photo *p)
{
    return p->decoder->name;
}

int i2v_photo_orientation(const i2v_photo *p)
{
    return p->probe.orientation;
}

int i2v__photo_decode(const i2v_photo *p, int min_w, int min_h, i2v_rgb *out, i2v_error *err)
{
    return i2v__decode(p->decoder, p->data, p->len, &p->probe, min_w, min_h, out, err);
}
