/* warp3d.c - frames of the 3D camera by per-sample inverse mapping (see warp3d.h). */
#include "warp3d.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX2_PATH 1
#endif

#define FRONT_M 75.0 /* the wall behind the camera, metres: never seen */
#define TAPS_MAX 64
#define SEG_MAX 128         /* samples per segment of interpolated positions */
#define SEG_MIN 16          /* shorter ones are mapped exactly */
#define SEG_TOL (1.0 / 512) /* their largest position error, source pixels */

void i2v__scene3d_init(i2v_scene3d *s, const i2v_room *room, int pw, int ph, double fx, double fy,
                       double fw, double fh, int out_w, int out_h)
{
    memset(s, 0, sizeof *s);
    s->f = room->focal;
    s->pw = pw, s->ph = ph;
    for (int k = 0; k < I2V_FACE_COUNT; k++) {
        memcpy(s->n[k], room->face[k].normal, sizeof s->n[k]);
        s->d[k] = room->face[k].distance;
    }
    for (int i = 0; i < 3; i++)
        s->n[I2V_PLANES - 1][i] = -room->face[I2V_FACE_BACK].normal[i];
    s->d[I2V_PLANES - 1] = FRONT_M;
    s->fx = fx, s->fy = fy, s->fw = fw, s->fh = fh;
    s->out_w = out_w, s->out_h = out_h;
}

void i2v__scene3d_intrinsics(const i2v_scene3d *s, double zoom, double *fo, double *cox,
                             double *coy)
{
    const double sc = s->out_w / s->fw;
    *fo = sc * zoom * s->f;
    *cox = s->out_w / 2.0 + sc * zoom * (s->pw / 2 - s->fx - s->fw / 2);
    *coy = s->out_h / 2.0 + sc * zoom * (s->ph / 2 - s->fy - s->fh / 2);
}

static void mul3(const double A[9], const double B[9], double C[9])
{
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++)
            C[r * 3 + c] = A[r * 3] * B[c] + A[r * 3 + 1] * B[3 + c] + A[r * 3 + 2] * B[6 + c];
}

void i2v__warp_setup(i2v_warp *w, const i2v_scene3d *s, const i2v_cam3d *cam, double kx, double ky,
                     i2v_kernel kernel)
{
    double fo, cox, coy;
    if (cam->has_k) {
        fo = cam->fo, cox = cam->cox, coy = cam->coy;
    } else {
        const double z = cam->zoom > 0 ? cam->zoom : 1;
        i2v__scene3d_intrinsics(s, z, &fo, &cox, &coy);
    }
    const double A[9] = {1 / fo, 0, -cox / fo, 0, 1 / fo, -coy / fo, 0, 0, 1};
    double RfT[9], B[9];
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++)
            RfT[r * 3 + c] = cam->Rf[c * 3 + r];
    mul3(RfT, A, B); /* output pixel -> ray direction, photo camera coordinates */
    const double SK[9] = {kx * s->f, 0, kx * s->pw / 2, 0, ky * s->f, ky * s->ph / 2, 0, 0, 1};
    w->kernel = kernel;
#ifdef HAVE_AVX2_PATH
    w->avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    w->avx2 = 0;
#endif
    for (int k = 0; k < I2V_PLANES; k++) {
        const double *n = s->n[k];
        double e = s->d[k] - (n[0] * cam->C[0] + n[1] * cam->C[1] + n[2] * cam->C[2]);
        if (e < 1e-6) e = 1e-6; /* the camera never leaves the box; stay finite */
        for (int c = 0; c < 3; c++)
            w->sel[k][c] = (n[0] * B[c] + n[1] * B[3 + c] + n[2] * B[6 + c]) / e;
        double M[9], T[9];
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 3; c++)
                M[r * 3 + c] = cam->C[r] * n[c] + (r == c ? e : 0);
        mul3(M, B, T);
        mul3(SK, T, w->G[k]);
    }
}

static inline int pick(const i2v_warp *w, double x, double y)
{
    int best = -1;
    double bv = 0;
    for (int k = 0; k < I2V_PLANES; k++) {
        const double v = w->sel[k][0] * x + w->sel[k][1] * y + w->sel[k][2];
        if (v > bv) bv = v, best = k;
    }
    return best;
}

int i2v__warp_map(const i2v_warp *w, double x, double y, double *u, double *v, int *plane,
                  double J[4])
{
    const int k = pick(w, x, y);
    if (plane) *plane = k;
    if (k < 0) return -1;
    const double *G = w->G[k];
    const double uw = G[0] * x + G[1] * y + G[2], vw = G[3] * x + G[4] * y + G[5];
    const double ww = G[6] * x + G[7] * y + G[8];
    if (!(ww > 1e-12)) return -1;
    *u = uw / ww, *v = vw / ww;
    if (J) {
        J[0] = (G[0] - *u * G[6]) / ww, J[1] = (G[1] - *u * G[7]) / ww;
        J[2] = (G[3] - *v * G[6]) / ww, J[3] = (G[4] - *v * G[7]) / ww;
    }
    return 0;
}

static inline double kern(i2v_kernel k, double x)
{
    x = fabs(x);
    if (k == I2V_KERNEL_CUBIC) { /* Keys, a = -0.5 */
        if (x < 1.0) return (1.5 * x - 2.5) * x * x + 1;
        if (x < 2.0) return ((-0.5 * x + 2.5) * x - 4) * x + 2;
        return 0;
    }
    return i2v__kernel_eval(k, x);
}

/* Builds the taps of one axis at position p (sample-index units) with the
 * kernel stretched by s; returns the count, first index in *first. */
static inline int taps(i2v_kernel k, double radius, double p, double s, int n, int *first, int *idx,
                       float *wt)
{
    const double r = radius * s;
    int a = (int)floor(p - r) + 1, b = (int)ceil(p + r) - 1;
    if (b - a + 1 > TAPS_MAX) b = a + TAPS_MAX - 1;
    double sum = 0;
    int m = 0;
    for (int i = a; i <= b; i++, m++) {
        const double v = kern(k, (i - p) / s);
        wt[m] = (float)v;
        sum += v;
        idx[m] = i < 0 ? 0 : i >= n ? n - 1 : i;
    }
    const float inv = sum != 0 ? (float)(1.0 / sum) : 0.0f;
    for (int i = 0; i < m; i++)
        wt[i] *= inv;
    /* As the separable path does: a stretched kernel's first moment is not
     * exactly zero; moving weight between the two taps around p restores it,
     * so content lands exactly where the camera puts it. Not at the edges. */
    const int i0 = (int)floor(p) - a;
    if (a >= 0 && b < n && i0 >= 0 && i0 + 1 < m) {
        double mom = 0;
        for (int i = 0; i < m; i++)
            mom += wt[i] * (a + i - p);
        wt[i0] += (float)mom;
        wt[i0 + 1] -= (float)mom;
    }
    *first = a;
    return m;
}

/* Keys cubic (a = -0.5) weights of the four taps around a sample at
 * fractional offset t in [0, 1) past tap 1. They sum to 1. */
static inline void keys4(float t, float w[4])
{
    const float t2 = t * t;
    w[0] = ((-0.5f * t + 1.0f) * t - 0.5f) * t;
    w[1] = (1.5f * t - 2.5f) * t2 + 1.0f;
    w[2] = ((-1.5f * t + 2.0f) * t + 0.5f) * t;
    w[3] = (0.5f * t - 0.5f) * t2;
}

/* The general case: kernel stretched by (su, sv), edges replicated. */
static uint8_t sample_general(const i2v_plane *src, i2v_kernel k, double radius, double pu,
                              double pv, double su, double sv)
{
    int ix[TAPS_MAX], iy[TAPS_MAX], first;
    float wx[TAPS_MAX], wy[TAPS_MAX];
    const int nx = taps(k, radius, pu, su, src->width, &first, ix, wx);
    const int ny = taps(k, radius, pv, sv, src->height, &first, iy, wy);
    float acc = 0;
    for (int j = 0; j < ny; j++) {
        const uint8_t *row = src->data + (ptrdiff_t)iy[j] * src->stride;
        float h = 0;
        for (int i = 0; i < nx; i++)
            h += wx[i] * row[ix[i]];
        acc += wy[j] * h;
    }
    const long q = lrintf(acc);
    return (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
}

#ifdef HAVE_AVX2_PATH
/* The least and the greatest of eight, in every lane. */
__attribute__((target("avx2"))) static inline __m256i hmin8(__m256i a)
{
    a = _mm256_min_epi32(a, _mm256_permute2x128_si256(a, a, 1));
    a = _mm256_min_epi32(a, _mm256_shuffle_epi32(a, 0x4e));
    return _mm256_min_epi32(a, _mm256_shuffle_epi32(a, 0xb1));
}

__attribute__((target("avx2"))) static inline __m256i hmax8(__m256i a)
{
    a = _mm256_max_epi32(a, _mm256_permute2x128_si256(a, a, 1));
    a = _mm256_max_epi32(a, _mm256_shuffle_epi32(a, 0x4e));
    return _mm256_max_epi32(a, _mm256_shuffle_epi32(a, 0xb1));
}

/* Eight samples' horizontal sums (weights in 1/16384) over the 16 bytes at
 * p: taps 0, 1 picked as 16-bit numbers by ca and weighted by w01, taps 2, 3
 * by cb and w23. */
__attribute__((target("avx2"), always_inline)) static inline __m256i
hrow(const uint8_t *p, __m256i ca, __m256i cb, __m256i w01, __m256i w23)
{
    const __m256i r = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)p));
    return _mm256_add_epi32(_mm256_madd_epi16(_mm256_shuffle_epi8(r, ca), w01),
                            _mm256_madd_epi16(_mm256_shuffle_epi8(r, cb), w23));
}

/* Keys interpolation of eight samples, all inside: the first taps (iu, iv),
 * the least of them (u0, v0) and how far the others are from it (spread_u,
 * spread_v), and the fractional offsets (tu, tv) past the second; written to
 * out, and (data2 not NULL) from a second plane of the same layout to out2. */
__attribute__((target("avx2,fma"), always_inline)) static inline void
filter8(const i2v_plane *src, const uint8_t *data2, __m256i iu, __m256i iv, __m256 tu, __m256 tv,
        int u0, int v0, int spread_u, int spread_v, uint8_t *out, uint8_t *out2)
{
    /* Keys weights, as keys4(). */
    const __m256 c05 = _mm256_set1_ps(0.5f), c1 = _mm256_set1_ps(1.0f), c15 = _mm256_set1_ps(1.5f);
    const __m256 c2 = _mm256_set1_ps(2.0f), c25 = _mm256_set1_ps(2.5f);
    __m256 wx[4], wy[4];
    for (int h = 0; h < 2; h++) {
        const __m256 t = h ? tv : tu, t2 = _mm256_mul_ps(t, t);
        __m256 *o = h ? wy : wx;
        o[0] = _mm256_mul_ps(_mm256_fmsub_ps(_mm256_fnmadd_ps(c05, t, c1), t, c05), t);
        o[1] = _mm256_fmadd_ps(_mm256_fmsub_ps(c15, t, c25), t2, c1);
        o[2] = _mm256_mul_ps(_mm256_fmadd_ps(_mm256_fnmadd_ps(c15, t, c2), t, c05), t);
        o[3] = _mm256_mul_ps(_mm256_fmsub_ps(c05, t, c05), t2);
    }
    /* Horizontal weights in 1/16384 as 16-bit pairs (taps 0 and 1, 2 and 3)
     * for multiply-adds of 16-bit samples; tap 1's takes the rounding, so
     * each row's weights sum to exactly 16384 (flat stays flat). The
     * vertical weights carry the 1/16384 back. */
    const __m256 q14 = _mm256_set1_ps(16384.0f);
    const __m256i k0 = _mm256_cvtps_epi32(_mm256_mul_ps(wx[0], q14));
    const __m256i k2 = _mm256_cvtps_epi32(_mm256_mul_ps(wx[2], q14));
    const __m256i k3 = _mm256_cvtps_epi32(_mm256_mul_ps(wx[3], q14));
    const __m256i k1 =
        _mm256_sub_epi32(_mm256_set1_epi32(16384), _mm256_add_epi32(_mm256_add_epi32(k0, k2), k3));
    const __m256i lo16 = _mm256_set1_epi32(0xffff);
    const __m256i w01 = _mm256_or_si256(_mm256_and_si256(k0, lo16), _mm256_slli_epi32(k1, 16));
    const __m256i w23 = _mm256_or_si256(_mm256_and_si256(k2, lo16), _mm256_slli_epi32(k3, 16));
    for (int j = 0; j < 4; j++)
        wy[j] = _mm256_mul_ps(wy[j], _mm256_set1_ps(1.0f / 16384));
    /* The 4x4 source bytes of each sample, row by row, as two 32-bit words
     * per sample holding taps 0, 1 and taps 2, 3 as 16-bit numbers. When
     * the eight samples' taps lie within 16 bytes of a few source rows, each
     * row is loaded once and the words are picked out of it by byte shuffles;
     * otherwise gathered and spread. */
    const __m256i du = _mm256_sub_epi32(iu, _mm256_set1_epi32(u0));
    const __m256i dv = _mm256_sub_epi32(iv, _mm256_set1_epi32(v0));
    const int rows = spread_u <= 12 && spread_v < 4 && u0 + 16 <= src->width ? 4 + spread_v : 0;
    /* Bytes of sample s's words: du_s + k of the loaded 16, and zeros
     * (indices with the top bit set). */
    const __m256i dus = _mm256_shuffle_epi8(du, _mm256_set_epi8(12, 12, 12, 12, 8, 8, 8, 8, 4, 4, 4,
                                                                4, 0, 0, 0, 0, 12, 12, 12, 12, 8, 8,
                                                                8, 8, 4, 4, 4, 4, 0, 0, 0, 0));
    const __m256i ca = _mm256_add_epi32(dus, _mm256_set1_epi32((int)0x80018000u));
    const __m256i cb = _mm256_add_epi32(dus, _mm256_set1_epi32((int)0x80038002u));
    /* A gathered sample's bytes are those of its own word. */
    const __m256i own = _mm256_set_epi32(0x0c0c0c0c, 0x08080808, 0x04040404, 0, 0x0c0c0c0c,
                                         0x08080808, 0x04040404, 0);
    const __m256i ga = _mm256_add_epi32(own, _mm256_set1_epi32((int)0x80018000u));
    const __m256i gb = _mm256_add_epi32(own, _mm256_set1_epi32((int)0x80038002u));
    __m256i rowmask[3];
    for (int d = 1; d < 4; d++)
        rowmask[d - 1] = _mm256_cmpeq_epi32(dv, _mm256_set1_epi32(d));
    const __m256i stride = _mm256_set1_epi32((int)src->stride);
    const __m256i idx0 = _mm256_add_epi32(_mm256_mullo_epi32(iv, stride), iu);
    /* The plane, then (data2) a second one of the same layout at the same
     * positions: the two chroma planes share their map and weights. */
    for (int pl = 0; pl < (data2 ? 2 : 1); pl++) {
        const uint8_t *plane = pl ? data2 : src->data;
        const int *base = (const int *)plane;
        __m256i idx = idx0;
        __m256 acc = _mm256_setzero_ps();
        for (int j = 0; j < 4; j++, idx = _mm256_add_epi32(idx, stride)) {
            __m256i h;
            if (rows) {
                const uint8_t *p = plane + (ptrdiff_t)(v0 + j) * src->stride + u0;
                h = hrow(p, ca, cb, w01, w23);
                for (int d = 1; d + 4 <= rows; d++)
                    h = _mm256_blendv_epi8(h, hrow(p + d * src->stride, ca, cb, w01, w23),
                                           rowmask[d - 1]);
            } else {
                const __m256i g = _mm256_i32gather_epi32(base, idx, 1);
                h = _mm256_add_epi32(_mm256_madd_epi16(_mm256_shuffle_epi8(g, ga), w01),
                                     _mm256_madd_epi16(_mm256_shuffle_epi8(g, gb), w23));
            }
            acc = _mm256_fmadd_ps(wy[j], _mm256_cvtepi32_ps(h), acc);
        }
        const __m256i q = _mm256_cvtps_epi32(acc); /* round to nearest */
        const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
        const __m128i p16 = _mm_packs_epi32(lo, hi);
        const __m128i p8 = _mm_packus_epi16(p16, p16);
        _mm_storel_epi64((__m128i *)(pl ? out2 : out), p8);
    }
}

/* Eight output samples x0 .. x0+7 of one row, all on plane G, all magnified
 * (Keys interpolation) and away from the edges: returns 0 and writes them,
 * or -1 (nothing written) when any of them is not so. The same arithmetic as
 * the scalar fast path, positions in double, weights in float. */
__attribute__((target("avx2,fma"))) static int run8(const double *G, const i2v_plane *src,
                                                    const uint8_t *data2, double xo0, double step,
                                                    double yo, int chroma, uint8_t *out,
                                                    uint8_t *out2)
{
    const __m256d lane = _mm256_set_pd(3, 2, 1, 0);
    const __m256d xa =
        _mm256_add_pd(_mm256_set1_pd(xo0), _mm256_mul_pd(lane, _mm256_set1_pd(step)));
    const __m256d xb = _mm256_add_pd(xa, _mm256_set1_pd(4 * step));
    const __m256d one = _mm256_set1_pd(1.0);
    const __m256d half = _mm256_set1_pd(0.5);
    __m128i iu4[2], iv4[2];
    __m128 tu4[2], tv4[2];
    __m256d bad = _mm256_setzero_pd();
    const __m256d lim_u = _mm256_set1_pd(src->width - 4), lim_v = _mm256_set1_pd(src->height - 4);
    for (int h = 0; h < 2; h++) {
        const __m256d x = h ? xb : xa;
        const __m256d cu = _mm256_set1_pd(G[1] * yo + G[2]), cv = _mm256_set1_pd(G[4] * yo + G[5]);
        const __m256d cw = _mm256_set1_pd(G[7] * yo + G[8]);
        const __m256d ww = _mm256_fmadd_pd(_mm256_set1_pd(G[6]), x, cw);
        bad = _mm256_or_pd(bad, _mm256_cmp_pd(ww, _mm256_set1_pd(1e-12), _CMP_LE_OQ));
        const __m256d iw = _mm256_div_pd(one, ww);
        const __m256d u = _mm256_mul_pd(_mm256_fmadd_pd(_mm256_set1_pd(G[0]), x, cu), iw);
        const __m256d v = _mm256_mul_pd(_mm256_fmadd_pd(_mm256_set1_pd(G[3]), x, cv), iw);
        /* The Jacobian's rows: at most one source pixel per output pixel. */
        const __m256d j0 =
            _mm256_mul_pd(_mm256_fnmadd_pd(u, _mm256_set1_pd(G[6]), _mm256_set1_pd(G[0])), iw);
        const __m256d j1 =
            _mm256_mul_pd(_mm256_fnmadd_pd(u, _mm256_set1_pd(G[7]), _mm256_set1_pd(G[1])), iw);
        const __m256d j2 =
            _mm256_mul_pd(_mm256_fnmadd_pd(v, _mm256_set1_pd(G[6]), _mm256_set1_pd(G[3])), iw);
        const __m256d j3 =
            _mm256_mul_pd(_mm256_fnmadd_pd(v, _mm256_set1_pd(G[7]), _mm256_set1_pd(G[4])), iw);
        const __m256d su2 = _mm256_fmadd_pd(j0, j0, _mm256_mul_pd(j1, j1));
        const __m256d sv2 = _mm256_fmadd_pd(j2, j2, _mm256_mul_pd(j3, j3));
        bad = _mm256_or_pd(bad, _mm256_cmp_pd(su2, one, _CMP_GT_OQ));
        bad = _mm256_or_pd(bad, _mm256_cmp_pd(sv2, one, _CMP_GT_OQ));
        const __m256d pu =
            chroma ? _mm256_mul_pd(_mm256_sub_pd(u, one), half) : _mm256_sub_pd(u, half);
        const __m256d pv =
            chroma ? _mm256_mul_pd(_mm256_sub_pd(v, one), half) : _mm256_sub_pd(v, half);
        const __m256d fu = _mm256_floor_pd(pu), fv = _mm256_floor_pd(pv);
        const __m256d au = _mm256_sub_pd(fu, one), av = _mm256_sub_pd(fv, one);
        /* first tap >= 0 and last tap <= size - 1 (NaN fails too) */
        bad = _mm256_or_pd(bad, _mm256_cmp_pd(au, _mm256_setzero_pd(), _CMP_NGE_UQ));
        bad = _mm256_or_pd(bad, _mm256_cmp_pd(av, _mm256_setzero_pd(), _CMP_NGE_UQ));
        bad = _mm256_or_pd(bad, _mm256_cmp_pd(au, lim_u, _CMP_NLE_UQ));
        bad = _mm256_or_pd(bad, _mm256_cmp_pd(av, lim_v, _CMP_NLE_UQ));
        if (_mm256_movemask_pd(bad)) return -1;
        iu4[h] = _mm256_cvttpd_epi32(au);
        iv4[h] = _mm256_cvttpd_epi32(av);
        tu4[h] = _mm256_cvtpd_ps(_mm256_sub_pd(pu, fu));
        tv4[h] = _mm256_cvtpd_ps(_mm256_sub_pd(pv, fv));
    }
    const __m256i iu = _mm256_set_m128i(iu4[1], iu4[0]), iv = _mm256_set_m128i(iv4[1], iv4[0]);
    const __m256 tu = _mm256_set_m128(tu4[1], tu4[0]), tv = _mm256_set_m128(tv4[1], tv4[0]);
    const __m256i umin = hmin8(iu), vmin = hmin8(iv);
    const int u0 = _mm256_cvtsi256_si32(umin), v0 = _mm256_cvtsi256_si32(vmin);
    const int spread_u = _mm256_cvtsi256_si32(hmax8(iu)) - u0;
    const int spread_v = _mm256_cvtsi256_si32(hmax8(iv)) - v0;
    filter8(src, data2, iu, iv, tu, tv, u0, v0, spread_u, spread_v, out, out2);
    return 0;
}

/* The output samples s = s0 .. s0+n-1 (n a multiple of 8) at source tap
 * positions pu + bu s + cu s^2, pv + bv s + cv s^2 (the first of the four
 * taps is one before their floor), all magnified and on one plane, eight at
 * a time: returns how many were written, less than n where a group has a tap
 * outside the source. */
__attribute__((target("avx2,fma"))) static int quad_run(const i2v_plane *src, const uint8_t *data2,
                                                        const double qu[3], const double qv[3],
                                                        int s0, int n, uint8_t *out, uint8_t *out2)
{
    const __m256 lane = _mm256_set_ps(7, 6, 5, 4, 3, 2, 1, 0);
    const __m256 lane2 = _mm256_mul_ps(lane, lane);
    const __m256 cu = _mm256_set1_ps((float)qu[2]), cv = _mm256_set1_ps((float)qv[2]);
    int g = 0;
    for (; g < n; g += 8) {
        const double s = s0 + g;
        const double pu = qu[0] + (qu[1] + qu[2] * s) * s, pv = qv[0] + (qv[1] + qv[2] * s) * s;
        const double fu = floor(pu), fv = floor(pv);
        if (!(fu >= 1 && fu < src->width && fv >= 1 && fv < src->height)) break;
        /* Offsets from the floor of the group's first sample: small, exact
         * enough in float. */
        const __m256 ou =
            _mm256_fmadd_ps(lane, _mm256_set1_ps((float)(qu[1] + 2 * qu[2] * s)),
                            _mm256_fmadd_ps(lane2, cu, _mm256_set1_ps((float)(pu - fu))));
        const __m256 ov =
            _mm256_fmadd_ps(lane, _mm256_set1_ps((float)(qv[1] + 2 * qv[2] * s)),
                            _mm256_fmadd_ps(lane2, cv, _mm256_set1_ps((float)(pv - fv))));
        const __m256 flu = _mm256_floor_ps(ou), flv = _mm256_floor_ps(ov);
        const __m256i iu =
            _mm256_add_epi32(_mm256_set1_epi32((int)fu - 1), _mm256_cvtps_epi32(flu));
        const __m256i iv =
            _mm256_add_epi32(_mm256_set1_epi32((int)fv - 1), _mm256_cvtps_epi32(flv));
        /* The positions move monotonically over eight samples (almost
         * always): the least and greatest taps are the first and last
         * samples'; checked, else searched. */
        int u0 = _mm256_cvtsi256_si32(iu), v0 = _mm256_cvtsi256_si32(iv);
        int u1 = _mm256_extract_epi32(iu, 7), v1 = _mm256_extract_epi32(iv, 7);
        if (u0 > u1) u0 ^= u1, u1 ^= u0, u0 ^= u1;
        if (v0 > v1) v0 ^= v1, v1 ^= v0, v0 ^= v1;
        __m256i out_of = _mm256_or_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(u0), iu),
                                         _mm256_cmpgt_epi32(iu, _mm256_set1_epi32(u1)));
        out_of = _mm256_or_si256(out_of, _mm256_cmpgt_epi32(_mm256_set1_epi32(v0), iv));
        out_of = _mm256_or_si256(out_of, _mm256_cmpgt_epi32(iv, _mm256_set1_epi32(v1)));
        if (!_mm256_testz_si256(out_of, out_of)) {
            u0 = _mm256_cvtsi256_si32(hmin8(iu)), u1 = _mm256_cvtsi256_si32(hmax8(iu));
            v0 = _mm256_cvtsi256_si32(hmin8(iv)), v1 = _mm256_cvtsi256_si32(hmax8(iv));
        }
        if (u0 < 0 || v0 < 0 || u1 > src->width - 4 || v1 > src->height - 4) break;
        filter8(src, data2, iu, iv, _mm256_sub_ps(ou, flu), _mm256_sub_ps(ov, flv), u0, v0, u1 - u0,
                v1 - v0, out + g, out2 ? out2 + g : NULL);
    }
    return g;
}
#endif

/* One output sample at (xo, yo) on plane G (NULL: none in front). */
static inline uint8_t sample_one(const i2v_warp *w, const double *G, const i2v_plane *src,
                                 double radius, int cubic, int chroma, double xo, double yo)
{
    const double ww = G ? G[6] * xo + G[7] * yo + G[8] : 0;
    if (!(ww > 1e-12)) return chroma ? 128 : 16;
    const double iw = 1.0 / ww;
    const double u = (G[0] * xo + G[1] * yo + G[2]) * iw;
    const double v = (G[3] * xo + G[4] * yo + G[5]) * iw;
    /* Source pixels per output pixel along each source axis. */
    const double j0 = (G[0] - u * G[6]) * iw, j1 = (G[1] - u * G[7]) * iw;
    const double j2 = (G[3] - v * G[6]) * iw, j3 = (G[4] - v * G[7]) * iw;
    const double su2 = j0 * j0 + j1 * j1, sv2 = j2 * j2 + j3 * j3;
    const double pu = chroma ? 0.5 * (u - 1) : u - 0.5;
    const double pv = chroma ? 0.5 * (v - 1) : v - 0.5;
    const double fu = floor(pu), fv = floor(pv);
    const int iu = (int)fu - 1, iv = (int)fv - 1;
    if (cubic && su2 <= 1 && sv2 <= 1 && iu >= 0 && iv >= 0 && iu + 3 < src->width &&
        iv + 3 < src->height) {
        /* Magnifying, away from the edges: plain Keys interpolation at the
         * exact position. */
        float wx[4], wy[4];
        keys4((float)(pu - fu), wx);
        keys4((float)(pv - fv), wy);
        const ptrdiff_t ss = src->stride;
        const uint8_t *r = src->data + (ptrdiff_t)iv * ss + iu;
        float acc = 0;
        for (int j = 0; j < 4; j++, r += ss)
            acc += wy[j] * (wx[0] * r[0] + wx[1] * r[1] + wx[2] * r[2] + wx[3] * r[3]);
        const long q = lrintf(acc);
        return (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
    }
    double su = sqrt(su2), sv = sqrt(sv2);
    su = su < 1 ? 1 : su > I2V_WARP_FOOTPRINT_MAX ? I2V_WARP_FOOTPRINT_MAX : su;
    sv = sv < 1 ? 1 : sv > I2V_WARP_FOOTPRINT_MAX ? I2V_WARP_FOOTPRINT_MAX : sv;
    return sample_general(src, w->kernel, radius, pu, pv, su, sv);
}

/* The first sample index after x0 (of n, at output positions a + b x on
 * row yo) where a plane other than k wins the selection: the selection
 * values are linear along the row, so that is where the first of the others
 * catches up with k. */
static int plane_run_end(const i2v_warp *w, int k, int x0, int n, double a, double b, double yo)
{
    const double sk = w->sel[k][0], ck = w->sel[k][1] * yo + w->sel[k][2];
    int end = n;
    for (int j = 0; j < I2V_PLANES; j++) {
        const double sj = w->sel[j][0];
        if (j == k || !(sj > sk)) continue;
        const double cj = w->sel[j][1] * yo + w->sel[j][2];
        const double xc = (ck - cj) / (sj - sk); /* output position where they meet */
        const double i = ceil((xc - a) / b);
        if (i < end) end = i <= x0 ? x0 + 1 : (int)i;
    }
    return end;
}

/* What the segments of a row on one plane need: along the row (yo fixed)
 * u = N/D and v = M/D with N, M, D linear in xo; then du/dxo = cu / D^2,
 * d3u/dxo3 = 6 G[6]^2 cu / D^4 (cu constant along the row) and
 * du/dyo = (a1 xo + b1) / D^2; likewise for v. */
typedef struct seg_row {
    const double *G;
    double yo, cu, cv, a1, b1, a3, b3;
} seg_row;

static void seg_row_init(seg_row *r, const double *G, double yo)
{
    r->G = G, r->yo = yo;
    r->cu = G[0] * (G[7] * yo + G[8]) - G[6] * (G[1] * yo + G[2]);
    r->cv = G[3] * (G[7] * yo + G[8]) - G[6] * (G[4] * yo + G[5]);
    r->a1 = G[1] * G[6] - G[7] * G[0], r->b1 = G[1] * G[8] - G[7] * G[2];
    r->a3 = G[4] * G[6] - G[7] * G[3], r->b3 = G[4] * G[8] - G[7] * G[5];
}

/* Whether the n samples from output xs on (step b, on the row's plane) may
 * take their source positions from the quadratic through the exact ones at
 * the first, middle and last sample: every position within SEG_TOL source
 * pixels (times scale: 1/2 for chroma taps) of the exact one, and every
 * sample magnified (the Jacobian's rows at most 1 long, bounded over the
 * segment). Then the quadratics in the sample index, tap coordinates
 * (scale u + off): q[0] + q[1] s + q[2] s^2. */
static int seg_fit(const seg_row *r, double xs, double b, int n, double scale, double off,
                   double qu[3], double qv[3])
{
    const double *G = r->G, xe = xs + b * (n - 1), len = xe - xs;
    const double ds = G[6] * xs + G[7] * r->yo + G[8], de = G[6] * xe + G[7] * r->yo + G[8];
    if (!(ds > 1e-12 && de > 1e-12)) return 0;
    const double dm = ds < de ? ds : de, dm2 = dm * dm;
    /* Interpolation at three evenly spaced points: the error is at most
     * len^3 / (72 sqrt 3) times the largest third derivative, which is where
     * D is least (an end). */
    const double k = scale * len * len * len / (72 * sqrt(3.0)) * 6 * G[6] * G[6];
    const double tol = SEG_TOL * dm2 * dm2;
    if (k * fabs(r->cu) > tol || k * fabs(r->cv) > tol) return 0;
    const double n1s = fabs(r->a1 * xs + r->b1), n1e = fabs(r->a1 * xe + r->b1);
    const double n3s = fabs(r->a3 * xs + r->b3), n3e = fabs(r->a3 * xe + r->b3);
    const double n1 = n1s > n1e ? n1s : n1e, n3 = n3s > n3e ? n3s : n3e;
    const double lim = dm2 * dm2 * (1 - 1e-9);
    if (r->cu * r->cu + n1 * n1 > lim || r->cv * r->cv + n3 * n3 > lim) return 0;
    double pu[3], pv[3];
    for (int i = 0; i < 3; i++) {
        const double x = xs + len * i / 2, iw = 1 / (G[6] * x + G[7] * r->yo + G[8]);
        pu[i] = scale * (G[0] * x + G[1] * r->yo + G[2]) * iw + off;
        pv[i] = scale * (G[3] * x + G[4] * r->yo + G[5]) * iw + off;
    }
    const double m = (n - 1) / 2.0;
    qu[0] = pu[0], qu[2] = (pu[0] - 2 * pu[1] + pu[2]) / (2 * m * m);
    qu[1] = (pu[1] - pu[0]) / m - qu[2] * m;
    qv[0] = pv[0], qv[2] = (pv[0] - 2 * pv[1] + pv[2]) / (2 * m * m);
    qv[1] = (pv[1] - pv[0]) / m - qv[2] * m;
    return 1;
}

/* Rows [y0, y1) of dst from src, and (src2, dst2 not NULL) of dst2 from
 * src2 at the same positions. */
static void warp_rows(const i2v_warp *w, const i2v_plane *src, i2v_plane *dst,
                      const i2v_plane *src2, i2v_plane *dst2, int chroma, int y0, int y1)
{
    const double radius = i2v__kernel_radius(w->kernel);
    const int cubic = w->kernel == I2V_KERNEL_CUBIC;
    /* Output sample x sits at xo = a + b x (luma: x + 0.5; chroma: 2x + 0.5). */
    const double a = 0.5, b = chroma ? 2.0 : 1.0;
    const int n = dst->width;
    for (int y = y0; y < y1; y++) {
        uint8_t *out = dst->data + (ptrdiff_t)y * dst->stride;
        uint8_t *out2 = dst2 ? dst2->data + (ptrdiff_t)y * dst2->stride : NULL;
        const double yo = chroma ? 2.0 * y + 1.0 : y + 0.5;
        /* Runs of samples that see one plane. */
        for (int x = 0; x < n;) {
            const int k = pick(w, a + b * x, yo);
            if (k < 0) {
                out[x] = chroma ? 128 : 16;
                if (out2) out2[x] = out[x];
                x++;
                continue;
            }
            const double *G = w->G[k];
            const int end = plane_run_end(w, k, x, n, a, b, yo);
#ifdef HAVE_AVX2_PATH
            seg_row sr;
            if (w->avx2 && cubic && end - x >= SEG_MIN) seg_row_init(&sr, G, yo);
#endif
            while (x < end) {
                int m = end - x < 8 ? end - x : 8;
#ifdef HAVE_AVX2_PATH
                /* Segments whose positions come from a quadratic. */
                int len = end - x < SEG_MAX ? end - x : SEG_MAX;
                len -= len % 8;
                double qu[3] = {0}, qv[3] = {0};
                while (w->avx2 && cubic && len >= SEG_MIN &&
                       !seg_fit(&sr, a + b * x, b, len, chroma ? 0.5 : 1, -0.5, qu, qv))
                    len = len / 2 - (len / 2) % 8;
                if (w->avx2 && cubic && len >= SEG_MIN) {
                    for (int g = 0; g < len;) {
                        const int done = quad_run(src, src2 ? src2->data : NULL, qu, qv, g, len - g,
                                                  out + x, out2 ? out2 + x : NULL);
                        g += done, x += done;
                        if (g == len) break;
                        /* A group near the source's edge: mapped exactly. */
                        if (run8(G, src, src2 ? src2->data : NULL, a + b * x, b, yo, chroma,
                                 out + x, out2 ? out2 + x : NULL) != 0)
                            for (int i = x; i < x + 8; i++) {
                                out[i] =
                                    sample_one(w, G, src, radius, cubic, chroma, a + b * i, yo);
                                if (out2)
                                    out2[i] = sample_one(w, G, src2, radius, cubic, chroma,
                                                         a + b * i, yo);
                            }
                        g += 8, x += 8;
                    }
                    continue;
                }
                if (w->avx2 && cubic && m == 8 &&
                    run8(G, src, src2 ? src2->data : NULL, a + b * x, b, yo, chroma, out + x,
                         out2 ? out2 + x : NULL) == 0) {
                    x += 8;
                    continue;
                }
#endif
                for (; m > 0; m--, x++) {
                    out[x] = sample_one(w, G, src, radius, cubic, chroma, a + b * x, yo);
                    if (out2)
                        out2[x] = sample_one(w, G, src2, radius, cubic, chroma, a + b * x, yo);
                }
            }
        }
    }
}

void i2v__warp_rows(const i2v_warp *w, const i2v_plane *src, i2v_plane *dst, int chroma, int y0,
                    int y1)
{
    warp_rows(w, src, dst, NULL, NULL, chroma, y0, y1);
}

void i2v__warp_rows2(const i2v_warp *w, const i2v_plane *src, i2v_plane *dst, const i2v_plane *src2,
                     i2v_plane *dst2, int y0, int y1)
{
    if (src2->width == src->width && src2->height == src->height && src2->stride == src->stride &&
        dst2->width == dst->width) {
        warp_rows(w, src, dst, src2, dst2, 1, y0, y1);
    } else {
        warp_rows(w, src, dst, NULL, NULL, 1, y0, y1);
        warp_rows(w, src2, dst2, NULL, NULL, 1, y0, y1);
    }
}

void i2v__warp_cover_row(const i2v_warp *w, double src_w, double src_h, int chroma, int y, int n,
                         double feather, float *cov)
{
    const double b = chroma ? 2.0 : 1.0, yo = chroma ? 2.0 * y + 1.0 : y + 0.5;
    for (int x = 0; x < n; x++) {
        double u, v, J[4];
        if (i2v__warp_map(w, 0.5 + b * x, yo, &u, &v, NULL, J)) {
            cov[x] = 0;
            continue;
        }
        /* Distance inside the source's edge, in output pixels. */
        const double scale = sqrt(fabs(J[0] * J[3] - J[1] * J[2]));
        const double in = fmin(fmin(u, src_w - u), fmin(v, src_h - v)) / fmax(scale, 1e-9);
        const double k = in >= 0 ? 1.0 : 1.0 + in / feather;
        cov[x] = (float)(k < 0 ? 0 : k);
    }
}

/* Output points checked: a grid, and the border every few pixels. */
static int check_points(const i2v_scene3d *s, int i, double *x, double *y)
{
    const int gx = 17, gy = 10, nb = 64;
    const double W = s->out_w, H = s->out_h;
    if (i < gx * gy) {
        *x = 0.5 + (W - 1) * (i % gx) / (gx - 1);
        *y = 0.5 + (H - 1) * (double)(i / gx) / (gy - 1);
        return 1;
    }
    i -= gx * gy;
    if (i >= 4 * nb) return 0;
    const double t = (double)(i % nb) / (nb - 1);
    switch (i / nb) {
    case 0:
        *x = 0.5 + t * (W - 1), *y = 0.5;
        break;
    case 1:
        *x = 0.5 + t * (W - 1), *y = H - 0.5;
        break;
    case 2:
        *x = 0.5, *y = 0.5 + t * (H - 1);
        break;
    default:
        *x = W - 0.5, *y = 0.5 + t * (H - 1);
        break;
    }
    return 1;
}

void i2v__warp_extent(const i2v_scene3d *s, const i2v_cam3d *cam, double *x0, double *y0,
                      double *x1, double *y1, double *min_scale)
{
    i2v_warp w;
    i2v__warp_setup(&w, s, cam, 1, 1, I2V_KERNEL_CUBIC);
    *x0 = *y0 = INFINITY, *x1 = *y1 = -INFINITY, *min_scale = INFINITY;
    double x, y;
    for (int i = 0; check_points(s, i, &x, &y); i++) {
        double u, v, J[4];
        if (i2v__warp_map(&w, x, y, &u, &v, NULL, J)) continue;
        *x0 = fmin(*x0, u), *y0 = fmin(*y0, v), *x1 = fmax(*x1, u), *y1 = fmax(*y1, v);
        /* smallest singular value of J */
        const double a = J[0] * J[0] + J[2] * J[2], b = J[0] * J[1] + J[2] * J[3],
                     c = J[1] * J[1] + J[3] * J[3];
        const double l = 0.5 * (a + c - sqrt((a - c) * (a - c) + 4 * b * b));
        *min_scale = fmin(*min_scale, sqrt(fmax(l, 0)));
    }
}

void i2v__warp_max_scale(const i2v_scene3d *s, const i2v_cam3d *cam, double *su, double *sv)
{
    i2v_warp w;
    i2v__warp_setup(&w, s, cam, 1, 1, I2V_KERNEL_CUBIC);
    const int step = 16, nx = (s->out_w + step - 1) / step, ny = (s->out_h + step - 1) / step;
    *su = *sv = 0;
    for (int j = 0; j <= ny; j++)
        for (int i = 0; i <= nx; i++) {
            const double x = fmin(0.5 + (double)i * step, s->out_w - 0.5);
            const double y = fmin(0.5 + (double)j * step, s->out_h - 0.5);
            double u, v, J[4];
            if (i2v__warp_map(&w, x, y, &u, &v, NULL, J)) continue;
            *su = fmax(*su, sqrt(J[0] * J[0] + J[1] * J[1]));
            *sv = fmax(*sv, sqrt(J[2] * J[2] + J[3] * J[3]));
        }
}

int i2v__warp_reduce(const i2v_ycc *src, int w, int h, i2v_kernel k, i2v_ycc *out, i2v_error *err)
{
    const int sw = src->p[0].width, sh = src->p[0].height, cw = (w + 1) / 2, ch = (h + 1) / 2;
    const size_t ysz = (size_t)w * h, csz = (size_t)cw * ch;
    out->mem = malloc(ysz + 2 * csz);
    if (!out->mem) return i2v__err(err, I2V_ENOMEM, "out of memory resampling the photo");
    out->p[0] = (i2v_plane){out->mem, w, h, w};
    out->p[1] = (i2v_plane){out->mem + ysz, cw, ch, cw};
    out->p[2] = (i2v_plane){out->mem + ysz + csz, cw, ch, cw};
    const double sx = (double)sw / w, sy = (double)sh / h;
    i2v_axis ax[2] = {{0}}, ay[2] = {{0}};
    i2v_rscratch scr = {0};
    int rc = i2v__axis_build(&ax[0], w, sw, 0.5 * sx - 0.5, sx, k, err);
    if (!rc) rc = i2v__axis_build(&ay[0], h, sh, 0.5 * sy - 0.5, sy, k, err);
    if (!rc) rc = i2v__axis_build(&ax[1], cw, src->p[1].width, 0.5 * (sx - 1), sx, k, err);
    if (!rc) rc = i2v__axis_build(&ay[1], ch, src->p[1].height, 0.5 * (sy - 1), sy, k, err);
    if (!rc) {
        const int n0 = ax[0].hi - ax[0].lo, n1 = ax[1].hi - ax[1].lo;
        rc = i2v__rscratch_reserve(&scr, (size_t)(n0 > n1 ? n0 : n1), err);
    }
    if (!rc) {
        i2v__resample_rows(&src->p[0], &out->p[0], &ax[0], &ay[0], 0, h, &scr);
        i2v__resample_rows(&src->p[1], &out->p[1], &ax[1], &ay[1], 0, ch, &scr);
        i2v__resample_rows(&src->p[2], &out->p[2], &ax[1], &ay[1], 0, ch, &scr);
    }
    for (int i = 0; i < 2; i++) {
        i2v__axis_release(&ax[i]);
        i2v__axis_release(&ay[i]);
    }
    i2v__rscratch_release(&scr);
    if (rc) i2v__ycc_release(out);
    return rc;
}

int i2v__warp_inside(const i2v_scene3d *s, const i2v_cam3d *cam, double margin)
{
    i2v_warp w;
    i2v__warp_setup(&w, s, cam, 1, 1, I2V_KERNEL_CUBIC);
    /* The camera itself must stay inside the box, 0.25 m from every plane. */
    for (int k = 0; k < I2V_PLANES; k++)
        if (s->d[k] - (s->n[k][0] * cam->C[0] + s->n[k][1] * cam->C[1] + s->n[k][2] * cam->C[2]) <
            0.25)
            return 0;
    double x, y;
    for (int i = 0; check_points(s, i, &x, &y); i++) {
        double u, v;
        if (i2v__warp_map(&w, x, y, &u, &v, NULL, NULL)) return 0;
        if (u < margin || v < margin || u > s->pw - margin || v > s->ph - margin) return 0;
    }
    return 1;
}
