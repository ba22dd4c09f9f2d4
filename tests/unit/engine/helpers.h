/*
 * helpers.h - test images made in memory: JPEG (TurboJPEG, any subsampling,
 * grey, CMYK, progressive, with an EXIF orientation), PNG (libpng), WebP
 * (libwebp) and HEIC (libheif), plus a quadrant pattern whose orientation
 * can be checked after decoding.
 */
#ifndef I2V_TEST_HELPERS_H
#define I2V_TEST_HELPERS_H

#include <stddef.h>
#include <stdint.h>

typedef struct buf {
    uint8_t *data;
    size_t len;
} buf;

/* Upright test pattern w x h: top-left red, top-right green, bottom-left
 * blue, bottom-right white. */
uint8_t *pattern_rgb(int w, int h);
/* The stored image that EXIF orientation n turns into the upright image u
 * (built from the EXIF definitions, independently of src/engine/image.c). */
uint8_t *stored_for_orientation(const uint8_t *u, int w, int h, int n, int *sw, int *sh);

enum { SUB_444, SUB_422, SUB_420, SUB_GRAY };
buf make_jpeg(const uint8_t *rgb, int w, int h, int subsamp, int progressive, int orientation);
buf make_jpeg_cmyk(const uint8_t *cmyk, int w, int h);
/* bit_depth 8 or 16; color_type a libpng PNG_COLOR_TYPE_*; rgba has 4 channels. */
buf make_png(const uint8_t *rgba, int w, int h, int color_type, int bit_depth, int orientation);
buf make_webp(const uint8_t *rgba, int w, int h, int alpha, int lossless);
/* The same with an EXIF chunk carrying orientation (WebPMux). */
buf make_webp_oriented(const uint8_t *rgba, int w, int h, int orientation);
buf make_heic(const uint8_t *rgb, int w, int h);

/* Mean colour of a box of an RGB image. */
void box_mean(const uint8_t *rgb, int w, int x0, int y0, int bw, int bh, double out[3]);

#endif
