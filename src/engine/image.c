/* image.c - RGB buffers and the eight EXIF orientations. */
#include "image.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"

int i2v__rgb_alloc(i2v_rgb *img, int width, int height, i2v_error *err)
{
    img->width = img->height = 0;
    img->pixels = NULL;
    if (width <= 0 || height <= 0 || (size_t)width > SIZE_MAX / 3 / (size_t)height)
        return i2v__err(err, I2V_ELIMIT, "image size %dx%d is invalid", width, height);
    img->pixels = malloc((size_t)width * (size_t)height * 3);
    if (!img->pixels)
        return i2v__err(err, I2V_ENOMEM, "out of memory for a %dx%d image", width, height);
    img->width = width;
    img->height = height;
    return 0;
}

void i2v__rgb_release(i2v_rgb *img)
{
    if (!img) return;
    free(img->pixels);
    img->pixels = NULL;
    img->width = img->height = 0;
}

/*
 * EXIF orientation n says how the stored pixels must be transformed to be
 * shown upright: 2 mirror horizontally, 3 rotate 180, 4 mirror vertically,
 * 5 transpose, 6 rotate 90 clockwise, 7 transverse, 8 rotate 90 counter-clockwise.
 * For each output pixel (x, y) we compute the stored pixel it comes from.
 */
int i2v__rgb_orient(i2v_rgb *img, int orientation, i2v_error *err)
{
    if (orientation <= 1 || orientation > 8) return 0;
    const int sw = img->width, sh = img->height;
    const int swap = i2v__orientation_swaps(orientation);
    const int dw = swap ? sh : sw, dh = swap ? sw : sh;
    i2v_rgb out;
    int rc = i2v__rgb_alloc(&out, dw, dh, err);
    if (rc) return rc;
    for (int y = 0; y < dh; y++) {
        uint8_t *d = out.pixels + (size_t)y * dw * 3;
        for (int x = 0; x < dw; x++, d += 3) {
            int sx, sy;
            switch (orientation) {
            case 2:
                sx = sw - 1 - x;
                sy = y;
                break;
            case 3:
                sx = sw - 1 - x;
                sy = sh - 1 - y;
                break;
            case 4:
                sx = x;
                sy = sh - 1 - y;
                break;
            case 5:
                sx = y;
                sy = x;
                break;
            case 6:
                sx = y;
                sy = sh - 1 - x;
                break;
            case 7:
                sx = sw - 1 - y;
                sy = sh - 1 - x;
                break;
            default:
                sx = sw - 1 - y;
                sy = x;
                break; /* 8 */
            }
            const uint8_t *s = img->pixels + ((size_t)sy * sw + sx) * 3;
            d[0] = s[0];
            d[1] = s[1];
            d[2] = s[2];
        }
    }
    i2v__rgb_release(img);
    *img = out;
    return 0;
}

void i2v__rgba_over_white(const uint8_t *rgba, uint8_t *rgb, size_t npixels)
{
    for (size_t i = 0; i < npixels; i++) {
        const unsigned a = rgba[4 * i + 3];
        for (int c = 0; c < 3; c++) {
            unsigned v = rgba[4 * i + c] * a + 255u * (255u - a);
            rgb[3 * i + c] = (uint8_t)((v + 127) / 255);
        }
    }
}

int i2v__grey_reduce(const i2v_rgb *rgb, int step, i2v_grey *out, i2v_error *err)
{
    out->step = step;
    out->width = rgb->width / step;
    out->height = rgb->height / step;
    out->px = malloc(sizeof(float) * (size_t)out->width * out->height);
    if (!out->px)
        return i2v__err(err, I2V_ENOMEM, "out of memory reducing a %dx%d picture", rgb->width,
                        rgb->height);
    const float norm = 1.0f / (255.0f * step * step);
    for (int y = 0; y < out->height; y++)
        for (int x = 0; x < out->width; x++) {
            float acc = 0;
            for (int dy = 0; dy < step; dy++) {
                const uint8_t *p =
                    rgb->pixels + ((size_t)(y * step + dy) * rgb->width + (size_t)x * step) * 3;
                for (int dx = 0; dx < step; dx++, p += 3)
                    acc += 0.2126f * p[0] + 0.7152f * p[1] + 0.0722f * p[2];
            }
            out->px[(size_t)y * out->width + x] = acc * norm;
        }
    return 0;
}

void i2v__grey_release(i2v_grey *g)
{
    if (!g) return;
    free(g->px);
    g->px = NULL;
}
