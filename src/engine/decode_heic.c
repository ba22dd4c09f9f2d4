/*
 * decode_heic.c - HEIC/HEIF through libheif. libheif applies the container's
 * rotation and mirroring (irot/imir) itself, so the size reported here is
 * already upright and no EXIF orientation is applied on top.
 */
#include <libheif/heif.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "common/error.h"

static int heic_sniff(const uint8_t *d, size_t n)
{
    static const char *const brands[] = {"heic", "heix", "hevc", "hevx", "heim",
                                         "heis", "mif1", "msf1", "avif"};
    if (n < 12 || memcmp(d + 4, "ftyp", 4) != 0) return 0;
    for (size_t i = 0; i < sizeof brands / sizeof brands[0]; i++)
        if (memcmp(d + 8, brands[i], 4) == 0) return 1;
    return 0;
}

static int open_heif(const uint8_t *d, size_t n, struct heif_context **ctx,
                     struct heif_image_handle **h, i2v_error *err)
{
    *h = NULL;
    *ctx = heif_context_alloc();
    if (!*ctx) return i2v__err(err, I2V_ENOMEM, "cannot start the HEIF decoder");
    heif_context_set_maximum_image_size_limit(*ctx, 65535);
    struct heif_error he = heif_context_read_from_memory_without_copy(*ctx, d, n, NULL);
    if (he.code != heif_error_Ok)
        return i2v__err(err, I2V_ECORRUPT, "HEIF container is invalid: %s", he.message);
    he = heif_context_get_primary_image_handle(*ctx, h);
    if (he.code != heif_error_Ok)
        return i2v__err(err, I2V_ECORRUPT, "HEIF has no primary image: %s", he.message);
    return 0;
}

static void close_heif(struct heif_context *ctx, struct heif_image_handle *h)
{
    if (h) heif_image_handle_release(h);
    if (ctx) heif_context_free(ctx);
}

static int heic_probe(const uint8_t *d, size_t n, i2v_probe *info, i2v_error *err)
{
    struct heif_context *ctx;
    struct heif_image_handle *h;
    int rc = open_heif(d, n, &ctx, &h, err);
    if (!rc) {
        info->width = heif_image_handle_get_width(h);
        info->height = heif_image_handle_get_height(h);
        info->orientation = 1;
    }
    close_heif(ctx, h);
    return rc;
}

static int heic_decode(const uint8_t *d, size_t n, int min_w, int min_h, i2v_rgb *out,
                       i2v_error *err)
{
    (void)min_w;
    (void)min_h;
    struct heif_context *ctx;
    struct heif_image_handle *h;
    struct heif_image *img = NULL;
    int rc = open_heif(d, n, &ctx, &h, err);
    if (rc) goto out;
    const int alpha = heif_image_handle_has_alpha_channel(h);
    struct heif_error he =
        heif_decode_image(h, &img, heif_colorspace_RGB,
                          alpha ? heif_chroma_interleaved_RGBA : heif_chroma_interleaved_RGB, NULL);
    if (he.code != heif_error_Ok) {
        rc = i2v__err(err, I2V_ECORRUPT, "HEIF image data is corrupt: %s", he.message);
        goto out;
    }
    int stride = 0;
    const uint8_t *px = heif_image_get_plane_readonly(img, heif_channel_interleaved, &stride);
    const int w = heif_image_get_width(img, heif_channel_interleaved);
    const int hh = heif_image_get_height(img, heif_channel_interleaved);
    if (!px || w <= 0 || hh <= 0) {
        rc = i2v__err(err, I2V_ECORRUPT, "HEIF decoder returned no pixels");
        goto out;
    }
    rc = i2v__rgb_alloc(out, w, hh, err);
    if (rc) goto out;
    for (int y = 0; y < hh; y++) {
        const uint8_t *s = px + (size_t)y * stride;
        uint8_t *dst = out->pixels + (size_t)y * w * 3;
        if (alpha)
            i2v__rgba_over_white(s, dst, (size_t)w);
        else
            memcpy(dst, s, (size_t)w * 3);
    }
out:
    if (img) heif_image_release(img);
    close_heif(ctx, h);
    return rc;
}

const i2v_decoder i2v__decoder_heic = {"heic", heic_sniff, heic_probe, heic_decode};
