/*
 * lines.c - LSD-style line segment detection (see lines.h for the outline).
 *
 * Written from the algorithm as the IPOL paper describes it, with two
 * simplifications, both on the side of detecting fewer segments: a region too
 * sparse for its rectangle is regrown once at half the angle tolerance and
 * then cut down around its seed (no search over rectangle widths and
 * precisions), and the rectangle's NFA is computed once, at p = 1/8.
 */
#include "lines.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

#define ANG_TOL (M_PI / 8.0) /* 22.5 degrees: p = 1/8 */
#define P_ALIGNED 0.125
#define QUANT 2.0 /* bound on the gradient's quantisation error, grey levels */
#define DENSITY_MIN 0.7
#define NBINS 1024
#define NOTDEF -1000.0f
#define BLUR_SIGMA 0.75 /* LSD's 0.6 / 0.8 */

typedef struct rect {
    double cx, cy, dx, dy; /* centroid and unit direction */
    double l0, l1, w0, w1; /* extent along and across the direction */
    double theta;
} rect;

typedef struct ctx {
    int w, h;
    float *ang, *mag;
    uint8_t *used;
    int *rx, *ry, n; /* the current region */
    double log_nt;
} ctx;

static void blur(const float *in, float *out, float *tmp, int w, int h, double sigma)
{
    const int r = (int)ceil(3 * sigma);
    double k[16];
    double sum = 0;
    for (int i = -r; i <= r; i++)
        sum += k[i + r] = exp(-0.5 * i * i / (sigma * sigma));
    for (int i = 0; i <= 2 * r; i++)
        k[i] /= sum;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double acc = 0;
            for (int i = -r; i <= r; i++) {
                int xx = x + i;
                xx = xx < 0 ? 0 : xx >= w ? w - 1 : xx;
                acc += k[i + r] * in[(size_t)y * w + xx];
            }
            tmp[(size_t)y * w + x] = (float)acc;
        }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double acc = 0;
            for (int i = -r; i <= r; i++) {
                int yy = y + i;
                yy = yy < 0 ? 0 : yy >= h ? h - 1 : yy;
                acc += k[i + r] * tmp[(size_t)yy * w + x];
            }
            out[(size_t)y * w + x] = (float)acc;
        }
}

static double angle_diff(double a, double b)
{
    double d = a - b;
    while (d <= -M_PI)
        d += 2 * M_PI;
    while (d > M_PI)
        d -= 2 * M_PI;
    return fabs(d);
}

static int aligned(float a, double theta, double tol)
{
    return a != NOTDEF && angle_diff(a, theta) <= tol;
}

/* Grows the region of pixels whose level-line angle agrees with the
 * region's mean angle within tol, from the seed. Returns the mean angle. */
static double grow(ctx *c, int sx, int sy, double tol)
{
    const int w = c->w;
    c->n = 0;
    c->rx[c->n] = sx, c->ry[c->n++] = sy;
    c->used[(size_t)sy * w + sx] = 1;
    double theta = c->ang[(size_t)sy * w + sx];
    double sdx = cos(theta), sdy = sin(theta);
    for (int i = 0; i < c->n; i++)
        for (int yy = c->ry[i] - 1; yy <= c->ry[i] + 1; yy++)
            for (int xx = c->rx[i] - 1; xx <= c->rx[i] + 1; xx++) {
                if (xx < 0 || yy < 0 || xx >= w || yy >= c->h) continue;
                const size_t k = (size_t)yy * w + xx;
                if (c->used[k] || !aligned(c->ang[k], theta, tol)) continue;
                c->used[k] = 1;
                c->rx[c->n] = xx, c->ry[c->n++] = yy;
                sdx += cos(c->ang[k]);
                sdy += sin(c->ang[k]);
                theta = atan2(sdy, sdx);
            }
    return theta;
}

static void release_region(ctx *c)
{
    for (int i = 0; i < c->n; i++)
        c->used[(size_t)c->ry[i] * c->w + c->rx[i]] = 0;
}

/* The rectangle of the region: gradient-weighted centroid, the principal
 * axis of its inertia (oriented like the region's angle), extents. */
static void region_rect(const ctx *c, double reg_angle, double tol, rect *r)
{
    double sm = 0, sx = 0, sy = 0;
    for (int i = 0; i < c->n; i++) {
        const double m = c->mag[(size_t)c->ry[i] * c->w + c->rx[i]];
        sm += m, sx += m * c->rx[i], sy += m * c->ry[i];
    }
    r->cx = sx / sm, r->cy = sy / sm;
    double ixx = 0, iyy = 0, ixy = 0;
    for (int i = 0; i < c->n; i++) {
        const double m = c->mag[(size_t)c->ry[i] * c->w + c->rx[i]];
        const double u = c->rx[i] - r->cx, v = c->ry[i] - r->cy;
        ixx += m * v * v, iyy += m * u * u, ixy -= m * u * v;
    }
    const double lam = 0.5 * (ixx + iyy - sqrt((ixx - iyy) * (ixx - iyy) + 4 * ixy * ixy));
    double theta = fabs(ixx) > fabs(iyy) ? atan2(lam - ixx, ixy) : atan2(ixy, lam - iyy);
    if (angle_diff(theta, reg_angle) > tol) theta += M_PI;
    r->theta = theta;
    r->dx = cos(theta), r->dy = sin(theta);
    r->l0 = r->w0 = 1e300, r->l1 = r->w1 = -1e300;
    for (int i = 0; i < c->n; i++) {
        const double u = c->rx[i] - r->cx, v = c->ry[i] - r->cy;
        const double l = u * r->dx + v * r->dy, q = -u * r->dy + v * r->dx;
        r->l0 = fmin(r->l0, l), r->l1 = fmax(r->l1, l);
        r->w0 = fmin(r->w0, q), r->w1 = fmax(r->w1, q);
    }
}

static double rect_len(const rect *r)
{
    return r->l1 - r->l0;
}

static double rect_width(const rect *r)
{
    return fmax(r->w1 - r->w0, 1.0);
}

static double density(const ctx *c, const rect *r)
{
    return c->n / (fmax(rect_len(r), 1.0) * rect_width(r));
}

/* log10 of the binomial tail P[X >= k], X ~ B(n, p). */
static double log10_tail(int n, int k, double p)
{
    if (k <= 0) return 0.0;
    if (k > n) return -INFINITY;
    const double lt =
        lgamma(n + 1.0) - lgamma(k + 1.0) - lgamma(n - k + 1.0) + k * log(p) + (n - k) * log1p(-p);
    double sum = 1.0, term = 1.0;
    for (int i = k; i < n; i++) {
        term *= (double)(n - i) / (i + 1) * p / (1 - p);
        sum += term;
        if (term < 1e-12 * sum) break;
    }
    return (lt + log(sum)) / M_LN10;
}

/* -log10(NFA) of the rectangle: all pixels inside it, and those whose
 * level-line angle is aligned with it. */
static double rect_nfa(const ctx *c, const rect *r)
{
    const double lc = 0.5 * (r->l0 + r->l1), hl = 0.5 * (r->l1 - r->l0) + 0.5;
    const double wc = 0.5 * (r->w0 + r->w1), hw = 0.5 * rect_width(r);
    int n = 0, k = 0;
    /* Rows the rectangle can reach: from its four corners. */
    double ymin = 1e300, ymax = -1e300;
    for (int s = -1; s <= 1; s += 2)
        for (int t = -1; t <= 1; t += 2) {
            const double l = lc + s * hl, q = wc + t * hw;
            const double y = r->cy + l * r->dy + q * r->dx;
            ymin = fmin(ymin, y), ymax = fmax(ymax, y);
        }
    const int y0 = (int)fmax(0, ceil(ymin)), y1 = (int)fmin(c->h - 1, floor(ymax));
    for (int y = y0; y <= y1; y++) {
        /* x where |l - lc| <= hl and |q - wc| <= hw, l = u dx + v dy, q = -u dy + v dx. */
        const double v = y - r->cy;
        double xa = -1e300, xb = 1e300;
        const double a1 = r->dx, b1 = v * r->dy, a2 = -r->dy, b2 = v * r->dx;
        if (fabs(a1) > 1e-12) {
            double p = (lc - hl - b1) / a1, q = (lc + hl - b1) / a1;
            if (p > q) {
                const double t = p;
                p = q, q = t;
            }
            xa = fmax(xa, p), xb = fmin(xb, q);
        } else if (fabs(b1 - lc) > hl)
            continue;
        if (fabs(a2) > 1e-12) {
            double p = (wc - hw - b2) / a2, q = (wc + hw - b2) / a2;
            if (p > q) {
                const double t = p;
                p = q, q = t;
            }
            xa = fmax(xa, p), xb = fmin(xb, q);
        } else if (fabs(b2 - wc) > hw)
            continue;
        const int x0 = (int)fmax(0, ceil(xa + r->cx)), x1 = (int)fmin(c->w - 1, floor(xb + r->cx));
        for (int x = x0; x <= x1; x++) {
            n++;
            k += aligned(c->ang[(size_t)y * c->w + x], r->theta, ANG_TOL);
        }
    }
    if (n == 0) return -1;
    return -c->log_nt - log10_tail(n, k, P_ALIGNED);
}

/* Cuts the region to points within rad of the seed. */
static void cut_region(ctx *c, int sx, int sy, double rad)
{
    int m = 0;
    for (int i = 0; i < c->n; i++) {
        const double dx = c->rx[i] - sx, dy = c->ry[i] - sy;
        if (dx * dx + dy * dy <= rad * rad) {
            c->rx[m] = c->rx[i], c->ry[m++] = c->ry[i];
        } else {
            c->used[(size_t)c->ry[i] * c->w + c->rx[i]] = 0;
        }
    }
    c->n = m;
}

static int cmp_len(const void *a, const void *b)
{
    const double la = i2v__segment_length(a), lb = i2v__segment_length(b);
    return la < lb ? 1 : la > lb ? -1 : 0;
}

int i2v__lines_detect(const float *grey, int w, int h, i2v_segment **out, int *nout, i2v_error *err)
{
    int rc = 0;
    const size_t np = (size_t)w * h;
    ctx c = {.w = w, .h = h};
    float *sm = malloc(np * sizeof(float)), *tmp = malloc(np * sizeof(float));
    int *order = malloc(np * sizeof(int)), *bins = calloc(NBINS + 1, sizeof(int));
    i2v_segment *seg = NULL;
    int nseg = 0, cap = 0;
    c.ang = malloc(np * sizeof(float));
    c.mag = malloc(np * sizeof(float));
    c.used = calloc(np, 1);
    c.rx = malloc(np * sizeof(int));
    c.ry = malloc(np * sizeof(int));
    *out = NULL;
    *nout = 0;
    if (!sm || !tmp || !order || !bins || !c.ang || !c.mag || !c.used || !c.rx || !c.ry) {
        rc = i2v__err(err, I2V_ENOMEM, "out of memory finding lines");
        goto out;
    }
    if (w < 8 || h < 8) goto out;
    blur(grey, sm, tmp, w, h, BLUR_SIGMA);
    const double rho = QUANT / sin(ANG_TOL);
    float maxm = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            const size_t k = (size_t)y * w + x;
            if (x == w - 1 || y == h - 1) {
                c.ang[k] = NOTDEF, c.mag[k] = 0;
                continue;
            }
            const double A = sm[k], B = sm[k + 1], C = sm[k + w], D = sm[k + w + 1];
            const double gx = 0.5 * (B + D - A - C), gy = 0.5 * (C + D - A - B);
            const double m = sqrt(gx * gx + gy * gy);
            c.mag[k] = (float)m;
            c.ang[k] = m <= rho ? NOTDEF : (float)atan2(gx, -gy);
            if (m > maxm) maxm = (float)m;
        }
    /* Pseudo-order: pixels bucketed by magnitude, strongest first; bins[b]
     * becomes the first slot of bin b (the count of pixels in higher bins). */
    int total = 0;
    if (maxm > 0) {
        for (size_t k = 0; k < np; k++)
            if (c.ang[k] != NOTDEF) bins[(int)fmin(NBINS - 1, c.mag[k] * NBINS / maxm)]++;
        int above = 0;
        for (int b = NBINS - 1; b >= 0; b--) {
            const int cnt = bins[b];
            bins[b] = above;
            above += cnt;
        }
        total = above;
        for (size_t k = 0; k < np; k++)
            if (c.ang[k] != NOTDEF)
                order[bins[(int)fmin(NBINS - 1, c.mag[k] * NBINS / maxm)]++] = (int)k;
    }
    c.log_nt = 2.5 * (log10((double)w) + log10((double)h)) + log10(11.0);
    const int min_reg = (int)(-c.log_nt / log10(P_ALIGNED)) + 1;
    for (int i = 0; i < total; i++) {
        const int k = order[i], sx = k % w, sy = k / w;
        if (c.used[k]) continue;
        double theta = grow(&c, sx, sy, ANG_TOL);
        if (c.n < min_reg) continue;
        rect r;
        region_rect(&c, theta, ANG_TOL, &r);
        if (density(&c, &r) < DENSITY_MIN) {
            release_region(&c);
            theta = grow(&c, sx, sy, ANG_TOL / 2);
            if (c.n < min_reg) continue;
            region_rect(&c, theta, ANG_TOL / 2, &r);
            double rad = 0.5 * rect_len(&r);
            while (density(&c, &r) < DENSITY_MIN && c.n >= min_reg) {
                rad *= 0.75;
                cut_region(&c, sx, sy, rad);
                if (c.n < 2) break;
                region_rect(&c, theta, ANG_TOL / 2, &r);
            }
            if (c.n < min_reg || density(&c, &r) < DENSITY_MIN) continue;
        }
        const double lnfa = rect_nfa(&c, &r);
        if (!(lnfa > 0)) continue;
        if (nseg == cap) {
            cap = cap ? 2 * cap : 256;
            i2v_segment *g = realloc(seg, (size_t)cap * sizeof *g);
            if (!g) {
                rc = i2v__err(err, I2V_ENOMEM, "out of memory finding lines");
                goto out;
            }
            seg = g;
        }
        /* The 2x2 gradient at index (x, y) sits at the continuous point (x+1, y+1). */
        const double wc = 0.5 * (r.w0 + r.w1);
        const double ox = r.cx + 1 - wc * r.dy, oy = r.cy + 1 + wc * r.dx;
        seg[nseg++] = (i2v_segment){ox + r.l0 * r.dx, oy + r.l0 * r.dy, ox + r.l1 * r.dx,
                                    oy + r.l1 * r.dy, rect_width(&r),   lnfa};
    }
    if (nseg > 1) qsort(seg, (size_t)nseg, sizeof *seg, cmp_len);
    if (nseg > I2V_SEGMENTS_MAX) nseg = I2V_SEGMENTS_MAX;
    *out = seg;
    *nout = nseg;
    seg = NULL;
out:
    free(seg);
    free(sm);
    free(tmp);
    free(order);
    free(bins);
    free(c.ang);
    free(c.mag);
    free(c.used);
    free(c.rx);
    free(c.ry);
    return rc;
}
