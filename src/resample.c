/* resample.c - the separable polyphase resampler used for every frame. */
#include "resample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

#define ONE (1 << I2V_WEIGHT_BITS)
#define MAX_TAPS 64

double i2v__kernel_radius(i2v_kernel k)
{
    switch (k) {
    case I2V_KERNEL_TRIANGLE: return 1.0;
    case I2V_KERNEL_CUBIC: return 2.0;
    case I2V_KERNEL_LANCZOS3: return 3.0;
    }
    return 2.0;
}

double i2v__kernel_eval(i2v_kernel k, double x)
{
    x = fabs(x);
    switch (k) {
    case I2V_KERNEL_TRIANGLE:
        return x < 1.0 ? 1.0 - x : 0.0;
    case I2V_KERNEL_LANCZOS3: {
        if (x < 1e-9)
            return 1.0;
        if (x >= 3.0)
            return 0.0;
        const double px = M_PI * x;
        return 3.0 * sin(px) * sin(px / 3.0) / (px * px);
    }
    case I2V_KERNEL_CUBIC:
    default: {
        const double a = -0.5;
        if (x < 1.0)
            return ((a + 2) * x - (a + 3)) * x * x + 1;
        if (x < 2.0)
            return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
        return 0.0;
    }
    }
}

void i2v__axis_release(i2v_axis *ax)
{
    free(ax->start);
    free(ax->w);
    memset(ax, 0, sizeof *ax);
}

int i2v__axis_build(i2v_axis *ax, int n_out, int n_src, double c0, double step, i2v_kernel k,
                    i2v_error *err)
{
    const double f = step > 1.0 ? step : 1.0; /* widen the filter when minifying */
    const double support = i2v__kernel_radius(k) * f;
    int taps = (int)ceil(2.0 * support) + 1;
    if (taps > n_src)
        taps = n_src;
    if (taps > MAX_TAPS || n_out <= 0 || n_src <= 0)
        return i2v__err(err, I2V_EINVAL, "resampling %d -> %d samples is out of range", n_src,
                        n_out);
    /* Buffers are allocated for the largest request seen (no shrink). */
    if (!ax->start || ax->n_out < n_out || ax->taps < taps) {
        free(ax->start);
        free(ax->w);
        ax->start = malloc(sizeof(int32_t) * n_out);
        ax->w = malloc(sizeof(int16_t) * (size_t)n_out * taps);
        if (!ax->start || !ax->w) {
            i2v__axis_release(ax);
            return i2v__err(err, I2V_ENOMEM, "out of memory for resampling weights");
        }
    }
    ax->n_out = n_out;
    ax->taps = taps;
    ax->lo = n_src;
    ax->hi = 0;
    double fw[MAX_TAPS];
    for (int o = 0; o < n_out; o++) {
        const double c = c0 + step * o;
        const int first = (int)ceil(c - support);
        int start = first;
        if (start > n_src - taps)
            start = n_src - taps;
        if (start < 0)
            start = 0;
        for (int j = 0; j < taps; j++)
            fw[j] = 0.0;
        double sum = 0.0;
        for (int i = first; i < first + taps; i++) {
            const double wv = i2v__kernel_eval(k, (i - c) / f);
            const int ci = i < 0 ? 0 : i >= n_src ? n_src - 1 : i; /* replicate edges */
            fw[ci - start] += wv;
            sum += wv;
        }
        /* Quantise so that the weights sum exactly to ONE: a constant image
         * stays exactly constant. The rounding residue goes to the largest tap. */
        int16_t *w = ax->w + (size_t)o * taps;
        int isum = 0, big = 0;
        for (int j = 0; j < taps; j++) {
            const double v = sum != 0.0 ? fw[j] / sum : (j == 0);
            w[j] = (int16_t)lrint(v * ONE);
            isum += w[j];
            if (abs(w[j]) > abs(w[big]))
                big = j;
        }
        w[big] = (int16_t)(w[big] + (ONE - isum));
        ax->start[o] = start;
        if (start < ax->lo)
            ax->lo = start;
        if (start + taps > ax->hi)
            ax->hi = start + taps;
    }
    return 0;
}

int i2v__rscratch_reserve(i2v_rscratch *s, size_t n, i2v_error *err)
{
    if (s->cap >= n)
        return 0;
    free(s->acc);
    free(s->row);
    s->acc = malloc(sizeof(int32_t) * n);
    s->row = malloc(sizeof(int16_t) * (n + MAX_TAPS));
    if (!s->acc || !s->row) {
        i2v__rscratch_release(s);
        return i2v__err(err, I2V_ENOMEM, "out of memory for resampling");
    }
    s->cap = n;
    return 0;
}

void i2v__rscratch_release(i2v_rscratch *s)
{
    free(s->acc);
    free(s->row);
    memset(s, 0, sizeof *s);
}

/* Vertical pass: acc = sum_k w_k * src_row_k over [lo, hi), result in Q6. */
static void vpass(const i2v_plane *src, const i2v_axis *ay, int y, int lo, int n,
                  int32_t *restrict acc, int16_t *restrict out)
{
    const int taps = ay->taps;
    const int16_t *w = ay->w + (size_t)y * taps;
    const uint8_t *row = src->data + (ptrdiff_t)ay->start[y] * src->stride + lo;
    {
        const int32_t wk = w[0];
        for (int x = 0; x < n; x++)
            acc[x] = wk * row[x] + (1 << 7);
    }
    for (int k = 1; k < taps; k++) {
        const int32_t wk = w[k];
        const uint8_t *r = row + (ptrdiff_t)k * src->stride;
        if (wk == 0)
            continue;
        for (int x = 0; x < n; x++)
            acc[x] += wk * r[x];
    }
    for (int x = 0; x < n; x++)
        out[x] = (int16_t)(acc[x] >> 8);
}

static inline uint8_t clamp_u8(int32_t v)
{
    return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

/* Horizontal pass with a compile-time tap count so the inner loop unrolls. */
#define HPASS_FIXED(T)                                                                      \
    static void hpass_##T(const int16_t *restrict row, const i2v_axis *ax, int lo,          \
                          uint8_t *restrict out)                                            \
    {                                                                                       \
        const int16_t *w = ax->w;                                                           \
        for (int x = 0; x < ax->n_out; x++, w += T) {                                       \
            const int16_t *r = row + (ax->start[x] - lo);                                   \
            int32_t acc = 1 << 19;                                                          \
            for (int k = 0; k < T; k++)                                                     \
                acc += (int32_t)w[k] * r[k];                                                \
            out[x] = clamp_u8(acc >> 20);                                                   \
        }                                                                                   \
    }
HPASS_FIXED(2)
HPASS_FIXED(3)
HPASS_FIXED(4)
HPASS_FIXED(5)
HPASS_FIXED(6)
HPASS_FIXED(7)
HPASS_FIXED(8)

static void hpass_any(const int16_t *restrict row, const i2v_axis *ax, int lo,
                      uint8_t *restrict out)
{
    const int taps = ax->taps;
    const int16_t *w = ax->w;
    for (int x = 0; x < ax->n_out; x++, w += taps) {
        const int16_t *r = row + (ax->start[x] - lo);
        int32_t acc = 1 << 19;
        for (int k = 0; k < taps; k++)
            acc += (int32_t)w[k] * r[k];
        out[x] = clamp_u8(acc >> 20);
    }
}

void i2v__resample_rows(const i2v_plane *src, i2v_plane *dst, const i2v_axis *ax,
                        const i2v_axis *ay, int y0, int y1, i2v_rscratch *s)
{
    const int lo = ax->lo, n = ax->hi - ax->lo;
    for (int y = y0; y < y1; y++) {
        vpass(src, ay, y, lo, n, s->acc, s->row);
        uint8_t *out = dst->data + (ptrdiff_t)y * dst->stride;
        switch (ax->taps) {
        case 2: hpass_2(s->row, ax, lo, out); break;
        case 3: hpass_3(s->row, ax, lo, out); break;
        case 4: hpass_4(s->row, ax, lo, out); break;
        case 5: hpass_5(s->row, ax, lo, out); break;
        case 6: hpass_6(s->row, ax, lo, out); break;
        case 7: hpass_7(s->row, ax, lo, out); break;
        case 8: hpass_8(s->row, ax, lo, out); break;
        default: hpass_any(s->row, ax, lo, out); break;
        }
    }
}
