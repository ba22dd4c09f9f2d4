/*
 * decode_jpeg.c - JPEG through libjpeg-turbo's TurboJPEG API.
 *
 * Large photos are decoded with DCT-domain scaling straight to the smallest
 * size (1/8 .. 8/8) that still covers what the video needs, so a 20 MP photo
 * for a 720p video never exists at full size in memory. Baseline and
 * progressive, any subsampling, greyscale and CMYK/YCCK are handled; warnings
 * (truncated data) are treated as errors, and progressive scans are limited.
 */
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "decode.h"
#include "common/error.h"

static int jpeg_sniff(const uint8_t *d, size_t n)
{
    return n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF;
}

/* Finds the APP1 "Exif\0\0" segment by walking the markers before SOS. */
static int jpeg_exif_orientation(const uint8_t *d, size_t n)
{
    size_t i = 2;
    while (i + 4 <= n) {
        if (d[i] != 0xFF) return 1;
        uint8_t m = d[i + 1];
        if (m == 0xFF) { /* fill byte */
            i++;
            continue;
        }
        if (m == 0xDA || m == 0xD9) /* SOS / EOI: no more metadata */
            return 1;
        size_t seglen = ((size_t)d[i + 2] << 8) | d[i + 3];
        if (seglen < 2 || i + 2 + seglen > n) return 1;
        if (m == 0xE1 && seglen >= 8 && memcmp(d + i + 4, "Exif\0\0", 6) == 0)
            return i2v__exif_orientation(d + i + 4, seglen - 2);
        i += 2 + seglen;
    }
    return 1;
}

/* Starts a TurboJPEG decompressor and reads the header; on failure *tj is
 * still returned (or NULL) for the caller to destroy. */
static int jpeg_open(const uint8_t *d, size_t n, tjhandle *tj, int *w, int *h, int *cs,
                     i2v_error *err)
{
    int subsamp = 0;
    *tj = tjInitDecompress();
    if (!*tj) return i2v__err(err, I2V_ENOMEM, "cannot start the JPEG decoder");
    if (tjDecompressHeader3(*tj, d, (unsigned long)n, w, h, &subsamp, cs) != 0)
        return i2v__err(err, I2V_ECORRUPT, "JPEG header is invalid: %s", tjGetErrorStr2(*tj));
    return 0;
}

static int jpeg_probe(const uint8_t *d, size_t n, i2v_probe *info, i2v_error *err)
{
    int w = 0, h = 0, cs = 0;
    tjhandle tj = NULL;
    int rc = jpeg_open(d, n, &tj, &w, &h, &cs, err);
    if (!rc) {
        info->width = w;
        info->height = h;
        info->orientation = jpeg_exif_orientation(d, n);
    }
    if (tj) tjDestroy(tj);
    return rc;
}

/* Adobe CMYK JPEGs (the common kind) store inverted ink: 255 means no ink. */
static void cmyk_to_rgb(const uint8_t *cmyk, uint8_t *rgb, size_t npix)
{
    for (size_t i = 0; i < npix; i++) {
        unsigned k = cmyk[4 * i + 3];
        for (int c = 0; c < 3; c++)
            rgb[3 * i + c] = (uint8_t)((cmyk[4 * i + c] * k + 127) / 255);
    }
}

static int jpeg_decode(const uint8_t *d, size_t n, int min_w, int min_h, i2v_rgb *out,
                       i2v_error *err)
{
    int w = 0, h = 0, cs = 0, nsf = 0;
    uint8_t *cmyk = NULL;
    tjhandle tj = NULL;
    int rc = jpeg_open(d, n, &tj, &w, &h, &cs, err);
    if (rc) goto out;
    /* Smallest scaling factor <= 1 whose result still covers min_w x min_h. */
    tjscalingfactor *sf = tjGetScalingFactors(&nsf);
    int sw = w, sh = h;
    for (int i = 0; sf && i < nsf && (min_w > 0 || min_h > 0); i++) {
        if (sf[i].num > sf[i].denom) continue;
        int tw = TJSCALED(w, sf[i]), th = TJSCALED(h, sf[i]);
        if (tw >= min_w && th >= min_h && (uint64_t)tw * th < (uint64_t)sw * sh) {
            sw = tw;
            sh = th;
        }
    }
    rc = i2v__rgb_alloc(out, sw, sh, err);
    if (rc) goto out;
    const int flags = TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS;
    int ok;
    if (cs == TJCS_CMYK || cs == TJCS_YCCK) {
        cmyk = malloc((size_t)sw * sh * 4);
        if (!cmyk) {
            rc = i2v__err(err, I2V_ENOMEM, "out of memory decoding a CMYK JPEG");
            goto out;
        }
        ok = tjDecompress2(tj, d, (unsigned long)n, cmyk, sw, 0, sh, TJPF_CMYK, flags) == 0;
        if (ok) cmyk_to_rgb(cmyk, out->pixels, (size_t)sw * sh);
    } else {
        ok = tjDecompress2(tj, d, (unsigned long)n, out->pixels, sw, 0, sh, TJPF_RGB, flags) == 0;
    }
    if (!ok)
        rc = i2v__err(err, I2V_ECORRUPT, "JPEG data is corrupt or truncated: %s",
                      tjGetErrorStr2(tj));
out:
    if (rc) i2v__rgb_release(out);
    free(cmyk);
    if (tj) tjDestroy(tj);
    return rc;
}

const i2v_decoder i2v__decoder_jpeg = {"jpeg", jpeg_sniff, jpeg_probe, jpeg_decode};
