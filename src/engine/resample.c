/* resample.c - the separable polyphase resampler used for every frame. */
#include "resample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

#define ONE (1 << I2V_WEIGHT_BITS)
#define MAX_TAPS 64

double i2v__kernel_radius(i2v_kernel k)
{
    switch (k) {
    case I2V_KERNEL_TRIANGLE:
        return 1.0;
    case I2V_KERNEL_CUBIC:
        return 2.0;
    case I2V_KERNEL_LANCZOS3:
        return 3.0;
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
        if (x < 1e-9) return 1.0;
        if (x >= 3.0) return 0.0;
        const double px = M_PI * x;
        return 3.0 * sin(px) * sin(px / 3.0) / (px * px);
    }
    case I2V_KERNEL_CUBIC:
    default: {
        const double a = -0.5;
        if (x < 1.0) return ((a + 2) * x - (a + 3)) * x * x + 1;
        if (x < 2.0) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
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
    /* Integers in the open interval (c - support, c + support): at most
     * ceil(2 * support) of them, starting at floor(c - support) + 1. */
    int taps = (int)ceil(2.0 * support - 1e-9);
    if (taps > n_src) taps = n_src;
    if (taps > MAX_TAPS || n_out <= 0 || n_src <= 0)
        return i2v__err(err, I2V_EINVAL, "resampling %d -> %d samples is out of range", n_src,
                        n_out);
    /* Buffers are allocated for the largest request seen (no shrink). */
    const int wstride = (taps + 7) & ~7;
    if (!ax->start || ax->n_out < n_out || ax->wstride < wstride) {
        free(ax->start);
        free(ax->w);
        ax->start = malloc(sizeof(int32_t) * n_out);
        ax->w = malloc(sizeof(int16_t) * (size_t)n_out * wstride);
        if (!ax->start || !ax->w) {
            i2v__axis_release(ax);
            return i2v__err(err, I2V_ENOMEM, "out of memory for resampling weights");
        }
    }
    ax->n_out = n_out;
    ax->taps = taps;
    ax->wstride = wstride;
    ax->lo = n_src;
    ax->hi = 0;
    double fw[MAX_TAPS];
    for (int o = 0; o < n_out; o++) {
        const double c = c0 + step * o;
        const int first = (int)floor(c - support) + 1;
        int start = first;
        if (start > n_src - taps) start = n_src - taps;
        if (start < 0) start = 0;
        for (int j = 0; j < taps; j++)
            fw[j] = 0.0;
        double sum = 0.0;
        for (int i = first; i < first + taps; i++) {
            const double wv = i2v__kernel_eval(k, (i - c) / f);
            const int ci = i < 0 ? 0 : i >= n_src ? n_src - 1 : i; /* replicate edges */
            fw[ci - start] += wv;
            sum += wv;
        }
        /* Lanczos does not reproduce a linear ramp exactly: its first moment
         * is slightly off, which would move content by a phase-dependent
         * fraction of a pixel (visible as jitter in slow pans). Moving weight
         * between the two taps around c restores a zero first moment without
         * changing the sum. Skipped at the borders, where taps were folded. */
        if (sum != 0.0 && first == start && first + taps <= n_src) {
            double m = 0.0;
            for (int j = 0; j < taps; j++)
                m += fw[j] / sum * (start + j - c);
            const int i0 = (int)floor(c) - start;
            if (i0 >= 0 && i0 + 1 < taps) {
                fw[i0] += m * sum;
                fw[i0 + 1] -= m * sum;
            }
        }
        /* Quantise so that the weights sum exactly to ONE: a constant image
         * stays exactly constant. The rounding residue goes to the largest tap. */
        int16_t *w = ax->w + (size_t)o * wstride;
        int isum = 0, big = 0;
        for (int j = taps; j < wstride; j++)
            w[j] = 0;
        for (int j = 0; j < taps; j++) {
            const double v = sum != 0.0 ? fw[j] / sum : (j == 0);
            w[j] = (int16_t)lrint(v * ONE);
            isum += w[j];
            if (abs(w[j]) > abs(w[big])) big = j;
        }
        w[big] = (int16_t)(w[big] + (ONE - isum));
        ax->start[o] = start;
        if (start < ax->lo) ax->lo = start;
        if (start + taps > ax->hi) ax->hi = start + taps;
    }
    return 0;
}

int i2v__rscratch_reserve(i2v_rscratch *s, size_t n, i2v_error *err)
{
    if (s->cap >= n) return 0;
    free(s->row);
    /* The horizontal pass reads whole groups of 8 taps: pad and zero the tail. */
    s->row = calloc(n + MAX_TAPS, sizeof(int16_t));
    if (!s->row) {
        i2v__rscratch_release(s);
        return i2v__err(err, I2V_ENOMEM, "out of memory for resampling");
    }
    s->cap = n;
    return 0;
}

void i2v__rscratch_release(i2v_rscratch *s)
{
    free(s->row);
    memset(s, 0, sizeof *s);
}

/* Vertical pass: out = sum_k w_k * src_row_k over [lo, lo+n), in Q6. */
static void vpass_scalar(const uint8_t *row, ptrdiff_t stride, const int16_t *w, int taps, int x0,
                         int n, int16_t *restrict out)
{
    for (int x = x0; x < n; x++) {
        int32_t acc = 1 << 7;
        for (int k = 0; k < taps; k++)
            acc += (int32_t)w[k] * row[(ptrdiff_t)k * stride + x];
        out[x] = (int16_t)(acc >> 8);
    }
}

#if defined(__SSE2__)
#include <emmintrin.h>

/* Taps are taken in pairs: the bytes of rows k and k+1 are interleaved as
 * 16-bit values and multiplied by the pair (w_k, w_k+1) with pmaddwd, giving
 * eight 32-bit sums per 8 pixels. */
static void vpass(const i2v_plane *src, const i2v_axis *ay, int y, int lo, int n,
                  int16_t *restrict out)
{
    const int taps = ay->taps;
    const int16_t *w = ay->w + (size_t)y * ay->wstride;
    const ptrdiff_t stride = src->stride;
    const uint8_t *row = src->data + (ptrdiff_t)ay->start[y] * stride + lo;
    const __m128i zero = _mm_setzero_si128(), round = _mm_set1_epi32(1 << 7);
    __m128i wp[32];
    for (int k = 0; k < taps; k += 2) {
        const uint16_t a = (uint16_t)w[k], b = (uint16_t)(k + 1 < taps ? w[k + 1] : 0);
        wp[k / 2] = _mm_set1_epi32((int32_t)((uint32_t)b << 16 | a));
    }
    int x = 0;
    for (; x + 8 <= n; x += 8) {
        __m128i lo4 = round, hi4 = round;
        for (int k = 0; k < taps; k += 2) {
            const uint8_t *r0 = row + (ptrdiff_t)k * stride + x;
            const __m128i a = _mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *)r0), zero);
            const __m128i b =
                k + 1 < taps
                    ? _mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *)(r0 + stride)), zero)
                    : zero;
            lo4 = _mm_add_epi32(lo4, _mm_madd_epi16(_mm_unpacklo_epi16(a, b), wp[k / 2]));
            hi4 = _mm_add_epi32(hi4, _mm_madd_epi16(_mm_unpackhi_epi16(a, b), wp[k / 2]));
        }
        _mm_storeu_si128((__m128i *)(out + x),
                         _mm_packs_epi32(_mm_srai_epi32(lo4, 8), _mm_srai_epi32(hi4, 8)));
    }
    vpass_scalar(row, stride, w, taps, x, n, out);
}
#else
static void vpass(const i2v_plane *src, const i2v_axis *ay, int y, int lo, int n,
                  int16_t *restrict out)
{
    const uint8_t *row = src->data + (ptrdiff_t)ay->start[y] * src->stride + lo;
    vpass_scalar(row, src->stride, ay->w + (size_t)y * ay->wstride, ay->taps, 0, n, out);
}
#endif

static inline uint8_t clamp_u8(int32_t v)
{
    return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

#if defined(__SSE2__)
/* Sum of the four int32 lanes of each of a, b, c, d, as one vector. */
static inline __m128i hsum4(__m128i a, __m128i b, __m128i c, __m128i d)
{
    const __m128i ab = _mm_add_epi32(_mm_unpacklo_epi32(a, b), _mm_unpackhi_epi32(a, b));
    const __m128i cd = _mm_add_epi32(_mm_unpacklo_epi32(c, d), _mm_unpackhi_epi32(c, d));
    return _mm_add_epi32(_mm_unpacklo_epi64(ab, cd), _mm_unpackhi_epi64(ab, cd));
}

/* One output sample: dot product of wstride weights with the row, as 4 lanes. */
static inline __m128i dot8(const int16_t *row, const int16_t *w, int groups)
{
    __m128i acc =
        _mm_madd_epi16(_mm_loadu_si128((const __m128i *)row), _mm_loadu_si128((const __m128i *)w));
    for (int g = 1; g < groups; g++)
        acc = _mm_add_epi32(acc, _mm_madd_epi16(_mm_loadu_si128((const __m128i *)(row + 8 * g)),
                                                _mm_loadu_si128((const __m128i *)(w + 8 * g))));
    return acc;
}

/* Horizontal pass: pmaddwd over zero-padded groups of 8 taps, four outputs
 * per iteration, rounded, shifted and packed to bytes with saturation. */
static void hpass(const int16_t *restrict row, const i2v_axis *ax, int lo, uint8_t *restrict out)
{
    const int ws = ax->wstride, groups = ws / 8, n = ax->n_out;
    const int16_t *w = ax->w;
    const int32_t *st = ax->start;
    const __m128i round = _mm_set1_epi32(1 << 19);
    int x = 0;
    for (; x + 4 <= n; x += 4, w += 4 * ws) {
        __m128i s =
            hsum4(dot8(row + st[x] - lo, w, groups), dot8(row + st[x + 1] - lo, w + ws, groups),
                  dot8(row + st[x + 2] - lo, w + 2 * ws, groups),
                  dot8(row + st[x + 3] - lo, w + 3 * ws, groups));
        s = _mm_srai_epi32(_mm_add_epi32(s, round), 20);
        s = _mm_packs_epi32(s, s);
        s = _mm_packus_epi16(s, s);
        const int32_t v = _mm_cvtsi128_si32(s);
        memcpy(out + x, &v, 4);
    }
    for (; x < n; x++, w += ws) {
        int32_t acc = 1 << 19;
        const int16_t *r = row + st[x] - lo;
        for (int k = 0; k < ax->taps; k++)
            acc += (int32_t)w[k] * r[k];
        out[x] = clamp_u8(acc >> 20);
    }
}
#else
static void hpass(const int16_t *restrict row, const i2v_axis *ax, int lo, uint8_t *restrict out)
{
    const int ws = ax->wstride;
    const int16_t *w = ax->w;
    for (int x = 0; x < ax->n_out; x++, w += ws) {
        const int16_t *r = row + (ax->start[x] - lo);
        int32_t acc = 1 << 19;
        for (int k = 0; k < ax->taps; k++)
            acc += (int32_t)w[k] * r[k];
        out[x] = clamp_u8(acc >> 20);
    }
}
#endif

void i2v__resample_rows(const i2v_plane *src, i2v_plane *dst, const i2v_axis *ax,
                        const i2v_axis *ay, int y0, int y1, i2v_rscratch *s)
{
    const int lo = ax->lo, n = ax->hi - ax->lo;
    for (int y = y0; y < y1; y++) {
        vpass(src, ay, y, lo, n, s->row);
        hpass(s->row, ax, lo, dst->data + (ptrdiff_t)y * dst->stride);
    }
}
