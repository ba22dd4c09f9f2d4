/*
 * align.c - feature matching and a robust homography between two photos.
 *
 * 1. A four-level pyramid (steps of sqrt 2) of each greyscale preview.
 * 2. Harris corners on every level, strongest first after non-maximum
 *    suppression; each described by an 8x8 grid of samples over a 21 px
 *    window of its level, normalised to zero mean and unit length (so the
 *    description ignores brightness and contrast, e.g. day against night).
 * 3. Mutual nearest neighbours whose best distance passes Lowe's ratio test
 *    against the best other place in the second photo.
 * 4. RANSAC over four-point homographies (upright, orientation-preserving,
 *    scale 1/4..4), then least squares on the inliers, twice.
 */
#include "align.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

#define LEVELS 4
#define PER_LEVEL 350
#define DESC 64
#define RATIO2 0.64 /* Lowe's 0.8, on squared distances */
#define RANSAC_ITERS 2000
#define INLIER_PX 2.5
#define MIN_INLIERS 20

int i2v__grey_from_rgb(const i2v_rgb *rgb, int max_side, i2v_grey *out, i2v_error *err)
{
    const int longest = rgb->width > rgb->height ? rgb->width : rgb->height;
    const int step = longest > max_side ? longest / max_side : 1;
    if (rgb->width / step < 16 || rgb->height / step < 16)
        return i2v__err(err, I2V_EINVAL, "photo is too small to align (%dx%d)", rgb->width,
                        rgb->height);
    return i2v__grey_reduce(rgb, step, out, err);
}

/* One pass of a 1-D kernel (radius r) over n lines of len samples, sample i
 * of line l at l*lstride + i*istride; borders clamped. */
static void pass(const float *in, float *out, int n, int len, int lstride, int istride,
                 const float *k, int r)
{
    for (int l = 0; l < n; l++)
        for (int i = 0; i < len; i++) {
            float acc = 0;
            for (int j = -r; j <= r; j++) {
                const int ii = i + j < 0 ? 0 : i + j >= len ? len - 1 : i + j;
                acc += k[j + r] * in[(size_t)l * lstride + (size_t)ii * istride];
            }
            out[(size_t)l * lstride + (size_t)i * istride] = acc;
        }
}

/* Separable Gaussian blur, borders clamped; tmp has w*h floats. */
static void blur(float *img, float *tmp, int w, int h, double sigma)
{
    if (sigma < 0.3) return;
    float k[32];
    int r = (int)ceil(3 * sigma);
    if (r > 15) r = 15;
    double sum = 0;
    for (int i = -r; i <= r; i++)
        sum += k[i + r] = (float)exp(-0.5 * i * i / (sigma * sigma));
    for (int i = 0; i <= 2 * r; i++)
        k[i] = (float)(k[i] / sum);
    pass(img, tmp, h, w, w, 1, k, r); /* rows */
    pass(tmp, img, w, h, 1, w, k, r); /* columns */
}

static float sample(const float *img, int w, int h, double x, double y)
{
    if (x < 0) x = 0;
    if (y < 0) y = 0;
    if (x > w - 1.001) x = w - 1.001;
    if (y > h - 1.001) y = h - 1.001;
    const int x0 = (int)x, y0 = (int)y;
    const float fx = (float)(x - x0), fy = (float)(y - y0);
    const float *p = img + (size_t)y0 * w + x0;
    return (1 - fy) * ((1 - fx) * p[0] + fx * p[1]) + fy * ((1 - fx) * p[w] + fx * p[w + 1]);
}

typedef struct feature {
    double x, y;   /* level-0 preview pixels */
    float d[DESC]; /* unit length, zero mean */
} feature;

typedef struct cand {
    int x, y;
    float r;
    float sx, sy; /* sub-pixel offset of the peak */
} cand;

static int cand_cmp(const void *a, const void *b)
{
    const float ra = ((const cand *)a)->r, rb = ((const cand *)b)->r;
    return ra < rb ? 1 : ra > rb ? -1 : 0;
}

/* Detects and describes the corners of one level (scale = level px per
 * level-0 px), appending to f[*n]. */
static int level_features(const float *lv, int w, int h, double scale, feature *f, int *n, int cap)
{
    const size_t sz = (size_t)w * h;
    float *buf = malloc(sizeof(float) * sz * 5);
    cand *c = malloc(sizeof(cand) * sz);
    if (!buf || !c) {
        free(buf);
        free(c);
        return -1;
    }
    float *xx = buf, *yy = buf + sz, *xy = buf + 2 * sz, *tmp = buf + 3 * sz, *resp = buf + 4 * sz;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            const int xl = x ? x - 1 : x, xr = x + 1 < w ? x + 1 : x;
            const int yu = y ? y - 1 : y, yd = y + 1 < h ? y + 1 : y;
            const float gx = 0.5f * (lv[y * w + xr] - lv[y * w + xl]);
            const float gy = 0.5f * (lv[yd * w + x] - lv[yu * w + x]);
            xx[y * w + x] = gx * gx;
            yy[y * w + x] = gy * gy;
            xy[y * w + x] = gx * gy;
        }
    blur(xx, tmp, w, h, 1.5);
    blur(yy, tmp, w, h, 1.5);
    blur(xy, tmp, w, h, 1.5);
    float maxr = 0;
    for (size_t i = 0; i < sz; i++) {
        const float det = xx[i] * yy[i] - xy[i] * xy[i], tr = xx[i] + yy[i];
        resp[i] = det - 0.05f * tr * tr;
        if (resp[i] > maxr) maxr = resp[i];
    }
    const int border = 13, nms = 3;
    int nc = 0;
    for (int y = border; y < h - border; y++)
        for (int x = border; x < w - border; x++) {
            const float r = resp[y * w + x];
            if (r <= 1e-5f * maxr || r <= 1e-12f) continue;
            int peak = 1;
            for (int dy = -nms; dy <= nms && peak; dy++)
                for (int dx = -nms; dx <= nms; dx++)
                    if ((dx || dy) && resp[(y + dy) * w + x + dx] >= r &&
                        (resp[(y + dy) * w + x + dx] > r || dy < 0 || (dy == 0 && dx < 0))) {
                        peak = 0;
                        break;
                    }
            if (peak) {
                /* Parabola through the peak and its neighbours, per axis. */
                const float *q = resp + y * w + x;
                const float ddx = 2 * q[0] - q[-1] - q[1], ddy = 2 * q[0] - q[-w] - q[w];
                float sx = ddx > 0 ? 0.5f * (q[1] - q[-1]) / ddx : 0;
                float sy = ddy > 0 ? 0.5f * (q[w] - q[-w]) / ddy : 0;
                sx = sx < -0.5f ? -0.5f : sx > 0.5f ? 0.5f : sx;
                sy = sy < -0.5f ? -0.5f : sy > 0.5f ? 0.5f : sy;
                c[nc++] = (cand){x, y, r, sx, sy};
            }
        }
    qsort(c, (size_t)nc, sizeof *c, cand_cmp);
    for (int i = 0; i < nc && i < PER_LEVEL && *n < cap; i++) {
        feature *ft = &f[*n];
        double mean = 0, norm = 0;
        for (int j = 0; j < 8; j++)
            for (int k = 0; k < 8; k++) {
                const float v = sample(lv, w, h, c[i].x + c[i].sx + (k - 3.5) * 3.0,
                                       c[i].y + c[i].sy + (j - 3.5) * 3.0);
                ft->d[j * 8 + k] = v;
                mean += v;
            }
        mean /= DESC;
        for (int j = 0; j < DESC; j++) {
            ft->d[j] -= (float)mean;
            norm += (double)ft->d[j] * ft->d[j];
        }
        if (norm < 1e-6) continue; /* flat: nothing to match */
        const float inv = (float)(1.0 / sqrt(norm));
        for (int j = 0; j < DESC; j++)
            ft->d[j] *= inv;
        ft->x = (c[i].x + c[i].sx + 0.5) / scale - 0.5;
        ft->y = (c[i].y + c[i].sy + 0.5) / scale - 0.5;
        (*n)++;
    }
    free(buf);
    free(c);
    return 0;
}

static int features(const i2v_grey *g, feature **out, int *n)
{
    const int cap = LEVELS * PER_LEVEL;
    const size_t sz = (size_t)g->width * g->height;
    feature *f = malloc(sizeof(feature) * cap);
    float *base = malloc(sizeof(float) * sz), *lv = malloc(sizeof(float) * sz),
          *tmp = malloc(sizeof(float) * sz);
    int rc = -1;
    *n = 0;
    if (!f || !base || !lv || !tmp) goto out;
    memcpy(base, g->px, sizeof(float) * sz);
    blur(base, tmp, g->width, g->height, 1.0);
    for (int l = 0; l < LEVELS; l++) {
        const double scale = pow(0.5, l / 2.0);
        const int w = (int)(g->width * scale), h = (int)(g->height * scale);
        if (w < 40 || h < 40) break;
        if (l == 0) {
            memcpy(lv, base, sizeof(float) * sz);
        } else {
            /* Blur the base to the level's scale, then sample it. */
            memcpy(tmp, base, sizeof(float) * sz);
            blur(tmp, lv, g->width, g->height, 0.7 * sqrt(1.0 / (scale * scale) - 1.0));
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    lv[y * w + x] = sample(tmp, g->width, g->height, (x + 0.5) / scale - 0.5,
                                           (y + 0.5) / scale - 0.5);
        }
        if (level_features(lv, w, h, scale, f, n, cap) != 0) goto out;
    }
    rc = 0;
out:
    free(base);
    free(lv);
    free(tmp);
    if (rc) {
        free(f);
        f = NULL;
    }
    *out = f;
    return rc;
}

static float dist2(const float *a, const float *b)
{
    float acc = 0;
    for (int i = 0; i < DESC; i++) {
        const float d = a[i] - b[i];
        acc += d * d;
    }
    return acc;
}

/* Gaussian elimination with partial pivoting on an n x n system (n <= 8). */
static int solve(double *A, double *b, int n)
{
    for (int c = 0; c < n; c++) {
        int p = c;
        for (int r = c + 1; r < n; r++)
            if (fabs(A[r * n + c]) > fabs(A[p * n + c])) p = r;
        if (fabs(A[p * n + c]) < 1e-12) return -1;
        if (p != c) {
            for (int k = 0; k < n; k++) {
                double t = A[c * n + k];
                A[c * n + k] = A[p * n + k];
                A[p * n + k] = t;
            }
            double t = b[c];
            b[c] = b[p];
            b[p] = t;
        }
        for (int r = c + 1; r < n; r++) {
            const double f = A[r * n + c] / A[c * n + c];
            for (int k = c; k < n; k++)
                A[r * n + k] -= f * A[c * n + k];
            b[r] -= f * b[c];
        }
    }
    for (int c = n - 1; c >= 0; c--) {
        double s = b[c];
        for (int k = c + 1; k < n; k++)
            s -= A[c * n + k] * b[k];
        b[c] = s / A[c * n + c];
    }
    return 0;
}

void i2v__homography_apply(const double H[9], double x, double y, double *ox, double *oy)
{
    const double w = H[6] * x + H[7] * y + H[8];
    const double iw = fabs(w) > 1e-12 ? 1.0 / w : 1e12;
    *ox = (H[0] * x + H[1] * y + H[2]) * iw;
    *oy = (H[3] * x + H[4] * y + H[5]) * iw;
}

/* Least squares with h33 = 1 over n point pairs, in coordinates normalised
 * for conditioning (centroid at 0, mean distance sqrt 2). */
static int fit(const double *src, const double *dst, int n, double H[9])
{
    double ca[2] = {0}, cb[2] = {0}, sa = 0, sb = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 2; k++) {
            ca[k] += src[2 * i + k] / n;
            cb[k] += dst[2 * i + k] / n;
        }
    for (int i = 0; i < n; i++) {
        sa += hypot(src[2 * i] - ca[0], src[2 * i + 1] - ca[1]) / n;
        sb += hypot(dst[2 * i] - cb[0], dst[2 * i + 1] - cb[1]) / n;
    }
    if (sa < 1e-9 || sb < 1e-9) return -1;
    sa = sqrt(2.0) / sa;
    sb = sqrt(2.0) / sb;
    double A[64] = {0}, b[8] = {0};
    for (int i = 0; i < n; i++) {
        const double x = (src[2 * i] - ca[0]) * sa, y = (src[2 * i + 1] - ca[1]) * sa;
        const double u = (dst[2 * i] - cb[0]) * sb, v = (dst[2 * i + 1] - cb[1]) * sb;
        const double r1[8] = {x, y, 1, 0, 0, 0, -x * u, -y * u};
        const double r2[8] = {0, 0, 0, x, y, 1, -x * v, -y * v};
        for (int j = 0; j < 8; j++) {
            for (int k = 0; k < 8; k++)
                A[j * 8 + k] += r1[j] * r1[k] + r2[j] * r2[k];
            b[j] += r1[j] * u + r2[j] * v;
        }
    }
    if (solve(A, b, 8) != 0) return -1;
    const double Hn[9] = {b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], 1};
    /* H = Tb^-1 * Hn * Ta with Ta = [sa 0 -sa*ca; 0 sa -sa*ca; 0 0 1]. */
    const double Ta[9] = {sa, 0, -sa * ca[0], 0, sa, -sa * ca[1], 0, 0, 1};
    const double Tbi[9] = {1 / sb, 0, cb[0], 0, 1 / sb, cb[1], 0, 0, 1};
    double M[9] = {0};
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++)
            for (int k = 0; k < 3; k++)
                M[r * 3 + c] += Hn[r * 3 + k] * Ta[k * 3 + c];
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) {
            H[r * 3 + c] = 0;
            for (int k = 0; k < 3; k++)
                H[r * 3 + c] += Tbi[r * 3 + k] * M[k * 3 + c];
        }
    if (fabs(H[8]) < 1e-12) return -1;
    for (int i = 0; i < 9; i++)
        H[i] /= H[8];
    return 0;
}

int i2v__homography_4pt(const double src[8], const double dst[8], double H[9])
{
    return fit(src, dst, 4, H);
}

/* Upright photos of one scene: orientation kept, no strong shear or
 * perspective, scale within 1/4..4 (checked on the local Jacobian at a point). */
static int plausible(const double H[9], double cx, double cy)
{
    const double e = 1.0;
    double x0, y0, x1, y1, x2, y2;
    i2v__homography_apply(H, cx, cy, &x0, &y0);
    i2v__homography_apply(H, cx + e, cy, &x1, &y1);
    i2v__homography_apply(H, cx, cy + e, &x2, &y2);
    const double a = x1 - x0, b = x2 - x0, c = y1 - y0, d = y2 - y0;
    const double det = a * d - b * c;
    if (!(det > 1.0 / 16 && det < 16)) return 0;
    const double s = sqrt(det);
    /* Rotation or shear beyond ~15 degrees is not a camera move between
     * upright photos. */
    if (fabs(b) > 0.27 * s || fabs(c) > 0.27 * s) return 0;
    return fabs(H[6]) < 0.01 && fabs(H[7]) < 0.01;
}

static int count_inliers(const double H[9], const double *src, const double *dst, int n,
                         unsigned char *mask, double *sse)
{
    int k = 0;
    double acc = 0;
    for (int i = 0; i < n; i++) {
        double x, y;
        i2v__homography_apply(H, src[2 * i], src[2 * i + 1], &x, &y);
        const double e =
            (x - dst[2 * i]) * (x - dst[2 * i]) + (y - dst[2 * i + 1]) * (y - dst[2 * i + 1]);
        const int in = e < INLIER_PX * INLIER_PX;
        if (mask) mask[i] = (unsigned char)in;
        if (in) {
            k++;
            acc += e;
        }
    }
    if (sse) *sse = acc;
    return k;
}

int i2v__align(const i2v_grey *a, const i2v_grey *b, i2v_align *out, i2v_error *err)
{
    feature *fa = NULL, *fb = NULL;
    int na = 0, nb = 0, rc = 0;
    double *src = NULL, *dst = NULL, *sel = NULL;
    int *best_ab = NULL, *best_ba = NULL;
    unsigned char *mask = NULL;
    memset(out, 0, sizeof *out);
    if (features(a, &fa, &na) != 0 || features(b, &fb, &nb) != 0) {
        rc = i2v__err(err, I2V_ENOMEM, "out of memory aligning photos");
        goto out;
    }
    out->features_a = na;
    out->features_b = nb;
    if (na < 4 || nb < 4) goto out;
    best_ab = malloc(sizeof(int) * na);
    best_ba = malloc(sizeof(int) * nb);
    src = malloc(sizeof(double) * 2 * na);
    dst = malloc(sizeof(double) * 2 * na);
    sel = malloc(sizeof(double) * 4 * na);
    mask = malloc((size_t)na);
    if (!best_ab || !best_ba || !src || !dst || !sel || !mask) {
        rc = i2v__err(err, I2V_ENOMEM, "out of memory aligning photos");
        goto out;
    }
    /* b's nearest neighbour in a, for the mutual check. */
    for (int j = 0; j < nb; j++) {
        float best = FLT_MAX;
        best_ba[j] = -1;
        for (int i = 0; i < na; i++) {
            const float d = dist2(fa[i].d, fb[j].d);
            if (d < best) {
                best = d;
                best_ba[j] = i;
            }
        }
    }
    int m = 0;
    for (int i = 0; i < na; i++) {
        float best = FLT_MAX, second = FLT_MAX;
        int bj = -1;
        for (int j = 0; j < nb; j++) {
            const float d = dist2(fa[i].d, fb[j].d);
            if (d < best) {
                best = d;
                bj = j;
            }
        }
        best_ab[i] = bj;
        if (bj < 0 || best_ba[bj] != i) continue;
        /* Second best somewhere else (the same corner on another level
         * does not count against it). */
        for (int j = 0; j < nb; j++) {
            if (hypot(fb[j].x - fb[bj].x, fb[j].y - fb[bj].y) < 6.0) continue;
            const float d = dist2(fa[i].d, fb[j].d);
            if (d < second) second = d;
        }
        if (best > RATIO2 * second || best > 0.6f) continue;
        src[2 * m] = fa[i].x;
        src[2 * m + 1] = fa[i].y;
        dst[2 * m] = fb[bj].x;
        dst[2 * m + 1] = fb[bj].y;
        if (m < I2V_ALIGN_KEEP) {
            out->match[m][0] = fa[i].x, out->match[m][1] = fa[i].y;
            out->match[m][2] = fb[bj].x, out->match[m][3] = fb[bj].y;
            out->kept = m + 1;
        }
        m++;
    }
    out->matches = m;
    if (m < 8) goto out;

    uint64_t rng = 0x9E3779B97F4A7C15ull;
    int best_in = 0;
    double bestH[9] = {0};
    for (int it = 0; it < RANSAC_ITERS; it++) {
        int idx[4];
        for (int k = 0; k < 4; k++) {
        again:
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            idx[k] = (int)(rng % (uint64_t)m);
            for (int q = 0; q < k; q++)
                if (idx[q] == idx[k]) goto again;
        }
        double s4[8], d4[8], H[9];
        for (int k = 0; k < 4; k++) {
            s4[2 * k] = src[2 * idx[k]];
            s4[2 * k + 1] = src[2 * idx[k] + 1];
            d4[2 * k] = dst[2 * idx[k]];
            d4[2 * k + 1] = dst[2 * idx[k] + 1];
        }
        if (i2v__homography_4pt(s4, d4, H) != 0) continue;
        if (!plausible(H, a->width / 2.0, a->height / 2.0)) continue;
        const int in = count_inliers(H, src, dst, m, NULL, NULL);
        if (in > best_in) {
            best_in = in;
            memcpy(bestH, H, sizeof bestH);
        }
    }
    if (best_in < 4) goto out;
    double H[9];
    memcpy(H, bestH, sizeof H);
    for (int round = 0; round < 3; round++) {
        count_inliers(H, src, dst, m, mask, NULL);
        int k = 0;
        for (int i = 0; i < m; i++)
            if (mask[i]) {
                sel[4 * k] = src[2 * i];
                sel[4 * k + 1] = src[2 * i + 1];
                sel[4 * k + 2] = dst[2 * i];
                sel[4 * k + 3] = dst[2 * i + 1];
                k++;
            }
        if (k < 4) break;
        double *ps = malloc(sizeof(double) * 4 * k);
        if (!ps) {
            rc = i2v__err(err, I2V_ENOMEM, "out of memory aligning photos");
            goto out;
        }
        for (int i = 0; i < k; i++) {
            ps[2 * i] = sel[4 * i];
            ps[2 * i + 1] = sel[4 * i + 1];
            ps[2 * k + 2 * i] = sel[4 * i + 2];
            ps[2 * k + 2 * i + 1] = sel[4 * i + 3];
        }
        double Hr[9];
        const int ok = fit(ps, ps + 2 * k, k, Hr) == 0;
        free(ps);
        if (!ok || !plausible(Hr, a->width / 2.0, a->height / 2.0)) break;
        memcpy(H, Hr, sizeof H);
    }
    /* Occam: when the inliers fit an upright similarity (scale and shift)
     * about as well, keep that; the extra freedom of a homography only
     * follows noise when the features lie along one line (a bridge, a
     * horizon). */
    {
        double sse_h = 0;
        const int in_h = count_inliers(H, src, dst, m, mask, &sse_h);
        double pm[2] = {0}, qm[2] = {0}, num = 0, den = 0;
        for (int i = 0; i < m; i++)
            if (mask[i])
                for (int c = 0; c < 2; c++) {
                    pm[c] += src[2 * i + c] / in_h;
                    qm[c] += dst[2 * i + c] / in_h;
                }
        for (int i = 0; i < m; i++)
            if (mask[i])
                for (int c = 0; c < 2; c++) {
                    num += (src[2 * i + c] - pm[c]) * (dst[2 * i + c] - qm[c]);
                    den += (src[2 * i + c] - pm[c]) * (src[2 * i + c] - pm[c]);
                }
        if (in_h >= 4 && den > 0) {
            const double sc = num / den;
            const double S[9] = {sc, 0, qm[0] - sc * pm[0], 0, sc, qm[1] - sc * pm[1], 0, 0, 1};
            double sse_s = 0;
            const int in_s = count_inliers(S, src, dst, m, NULL, &sse_s);
            const double rms_h = sqrt(sse_h / in_h), rms_s = in_s ? sqrt(sse_s / in_s) : 1e9;
            if (in_s >= in_h * 0.95 && rms_s <= rms_h * 1.25 + 0.15) memcpy(H, S, sizeof H);
        }
    }
    double sse = 0;
    const int in = count_inliers(H, src, dst, m, NULL, &sse);
    memcpy(out->H, H, sizeof H);
    out->inliers = in;
    out->rms = in ? sqrt(sse / in) : 0;
    out->found = in >= MIN_INLIERS && in * 5 >= m && plausible(H, a->width / 2.0, a->height / 2.0);
out:
    free(fa);
    free(fb);
    free(src);
    free(dst);
    free(sel);
    free(best_ab);
    free(best_ba);
    free(mask);
    return rc;
}

void i2v__homography_similarity(const double H[9], double x, double y, double w, double h,
                                double *s, double *tx, double *ty)
{
    double p[25][2], q[25][2], pm[2] = {0}, qm[2] = {0};
    for (int j = 0; j < 5; j++)
        for (int i = 0; i < 5; i++) {
            const int k = j * 5 + i;
            p[k][0] = x + w * i / 4.0;
            p[k][1] = y + h * j / 4.0;
            i2v__homography_apply(H, p[k][0], p[k][1], &q[k][0], &q[k][1]);
            pm[0] += p[k][0] / 25;
            pm[1] += p[k][1] / 25;
            qm[0] += q[k][0] / 25;
            qm[1] += q[k][1] / 25;
        }
    double num = 0, den = 0;
    for (int k = 0; k < 25; k++) {
        num += (p[k][0] - pm[0]) * (q[k][0] - qm[0]) + (p[k][1] - pm[1]) * (q[k][1] - qm[1]);
        den += (p[k][0] - pm[0]) * (p[k][0] - pm[0]) + (p[k][1] - pm[1]) * (p[k][1] - pm[1]);
    }
    *s = den > 0 ? num / den : 1.0;
    *tx = qm[0] - *s * pm[0];
    *ty = qm[1] - *s * pm[1];
}
