/* colour.c - RGB <-> BT.709 YCbCr (limited range). */
#include "colour.h"

#include <stdlib.h>

#include "common/error.h"

#define KR 0.2126
#define KB 0.0722
#define KG (1.0 - KR - KB)

static inline uint8_t sat(double v)
{
    return v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)(v + 0.5);
}

int i2v__ycc_from_rgb(const i2v_rgb *rgb, i2v_ycc *out, i2v_error *err)
{
    const int w = rgb->width, h = rgb->height, cw = (w + 1) / 2, ch = (h + 1) / 2;
    const size_t ysz = (size_t)w * h, csz = (size_t)cw * ch;
    out->mem = malloc(ysz + 2 * csz);
    if (!out->mem) return i2v__err(err, I2V_ENOMEM, "out of memory converting a %dx%d image", w, h);
    out->p[0] = (i2v_plane){out->mem, w, h, w};
    out->p[1] = (i2v_plane){out->mem + ysz, cw, ch, cw};
    out->p[2] = (i2v_plane){out->mem + ysz + csz, cw, ch, cw};
    /* Integer luma: 219/255 scale folded into Q16 coefficients. */
    const int32_t cr = (int32_t)(KR * 219.0 / 255.0 * 65536 + 0.5);
    const int32_t cg = (int32_t)(KG * 219.0 / 255.0 * 65536 + 0.5);
    const int32_t cb = (int32_t)(KB * 219.0 / 255.0 * 65536 + 0.5);
    for (int y = 0; y < h; y++) {
        const uint8_t *s = rgb->pixels + (size_t)y * w * 3;
        uint8_t *d = out->p[0].data + (size_t)y * w;
        for (int x = 0; x < w; x++, s += 3)
            d[x] = (uint8_t)(16 + ((cr * s[0] + cg * s[1] + cb * s[2] + 32768) >> 16));
    }
    for (int y = 0; y < ch; y++) {
        const int y0 = 2 * y, y1 = 2 * y + 1 < h ? 2 * y + 1 : 2 * y;
        for (int x = 0; x < cw; x++) {
            const int x0 = 2 * x, x1 = 2 * x + 1 < w ? 2 * x + 1 : 2 * x;
            const uint8_t *a = rgb->pixels + ((size_t)y0 * w + x0) * 3;
            const uint8_t *b = rgb->pixels + ((size_t)y0 * w + x1) * 3;
            const uint8_t *c = rgb->pixels + ((size_t)y1 * w + x0) * 3;
            const uint8_t *d = rgb->pixels + ((size_t)y1 * w + x1) * 3;
            const double r = (a[0] + b[0] + c[0] + d[0]) * 0.25;
            const double g = (a[1] + b[1] + c[1] + d[1]) * 0.25;
            const double bl = (a[2] + b[2] + c[2] + d[2]) * 0.25;
            const double yy = KR * r + KG * g + KB * bl;
            out->p[1].data[(size_t)y * cw + x] =
                sat(128.0 + 224.0 / 255.0 * (bl - yy) / (2 * (1 - KB)));
            out->p[2].data[(size_t)y * cw + x] =
                sat(128.0 + 224.0 / 255.0 * (r - yy) / (2 * (1 - KR)));
        }
    }
    return 0;
}

void i2v__ycc_release(i2v_ycc *y)
{
    if (!y) return;
    free(y->mem);
    y->mem = NULL;
}

void i2v__yuv420_to_rgb(const uint8_t *const planes[3], const int strides[3], int w, int h,
                        uint8_t *rgb)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            const double Y = (planes[0][(size_t)y * strides[0] + x] - 16) * (255.0 / 219.0);
            const double U =
                (planes[1][(size_t)(y / 2) * strides[1] + x / 2] - 128) * (255.0 / 224.0);
            const double V =
                (planes[2][(size_t)(y / 2) * strides[2] + x / 2] - 128) * (255.0 / 224.0);
            uint8_t *d = rgb + ((size_t)y * w + x) * 3;
            d[0] = sat(Y + 2 * (1 - KR) * V);
            d[1] = sat(Y - 2 * (1 - KB) * KB / KG * U - 2 * (1 - KR) * KR / KG * V);
            d[2] = sat(Y + 2 * (1 - KB) * U);
        }
}
