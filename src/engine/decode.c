/* decode.c - format recognition, header limits and orientation for all decoders. */
#include "decode.h"

#include <libexif/exif-data.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

static const i2v_decoder *const decoders[] = {
    &i2v__decoder_jpeg,
    &i2v__decoder_png,
    &i2v__decoder_webp,
    &i2v__decoder_heic,
};

const i2v_decoder *i2v__decoder_find(const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < sizeof decoders / sizeof decoders[0]; i++)
        if (decoders[i]->sniff(data, len)) return decoders[i];
    return NULL;
}

int i2v__decode_probe(const i2v_decoder *dec, const uint8_t *data, size_t len, uint64_t max_pixels,
                      i2v_probe *info, i2v_error *err)
{
    memset(info, 0, sizeof *info);
    info->orientation = 1;
    int rc = dec->probe(data, len, info, err);
    if (rc) return rc;
    if (info->width <= 0 || info->height <= 0)
        return i2v__err(err, I2V_ECORRUPT, "%s header is truncated or gives no size (%dx%d)",
                        dec->name, info->width, info->height);
    uint64_t px = (uint64_t)info->width * (uint64_t)info->height;
    if (px > max_pixels)
        return i2v__err(err, I2V_ELIMIT, "image is %dx%d (%.1f MP), above the limit of %.1f MP",
                        info->width, info->height, px / 1e6, max_pixels / 1e6);
    if (info->orientation < 1 || info->orientation > 8) info->orientation = 1;
    return 0;
}

int i2v__decode(const i2v_decoder *dec, const uint8_t *data, size_t len, const i2v_probe *info,
                int min_w, int min_h, i2v_rgb *out, i2v_error *err)
{
    if (i2v__orientation_swaps(info->orientation)) {
        int t = min_w;
        min_w = min_h;
        min_h = t;
    }
    int rc = dec->decode(data, len, min_w, min_h, out, err);
    if (rc) return rc;
    /* The pixels must be the header's picture, whole or evenly scaled down
     * (a decoder may scale, e.g. JPEG by n/8): a file whose header lies
     * about its size would otherwise be drawn from memory it does not have. */
    const double fx = (double)out->width / info->width, fy = (double)out->height / info->height;
    if (out->width > info->width || out->height > info->height ||
        fabs(fx - fy) * (info->width > info->height ? info->width : info->height) > 8.0 + 1e-9 ||
        ((min_w <= 0 && min_h <= 0) &&
         (out->width != info->width || out->height != info->height))) {
        rc = i2v__err(err, I2V_ECORRUPT, "%s decoded to %dx%d, but its header says %dx%d",
                      dec->name, out->width, out->height, info->width, info->height);
        i2v__rgb_release(out);
        return rc;
    }
    rc = i2v__rgb_orient(out, info->orientation, err);
    if (rc) i2v__rgb_release(out);
    return rc;
}

int i2v__exif_orientation(const uint8_t *exif, size_t len)
{
    static const uint8_t prefix[6] = {'E', 'x', 'i', 'f', 0, 0};
    int orientation = 1;
    if (!exif || len < 8 || len > (1u << 24)) return 1;
    /* exif_data_new_from_data wants the "Exif\0\0" header in front. */
    uint8_t *buf = NULL;
    const uint8_t *p = exif;
    size_t n = len;
    if (memcmp(exif, prefix, 6) != 0) {
        buf = malloc(len + 6);
        if (!buf) return 1;
        memcpy(buf, prefix, 6);
        memcpy(buf + 6, exif, len);
        p = buf;
        n = len + 6;
    }
    ExifData *ed = exif_data_new_from_data(p, (unsigned int)n);
    if (ed) {
        ExifEntry *e = exif_content_get_entry(ed->ifd[EXIF_IFD_0], EXIF_TAG_ORIENTATION);
        if (e && e->format == EXIF_FORMAT_SHORT && e->components >= 1)
            orientation = exif_get_short(e->data, exif_data_get_byte_order(ed));
        exif_data_unref(ed);
    }
    free(buf);
    return (orientation >= 1 && orientation <= 8) ? orientation : 1;
}
