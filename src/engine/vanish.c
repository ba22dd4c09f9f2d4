/*
 * vanish.c - Manhattan frame (three orthogonal vanishing points), focal length
 * and rotation from line segments; see vanish.h.
 */
#include "vanish.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MIN_LEN_FRAC 0.012 /* segments shorter than this share of the diagonal are ignored */
#define SAMPLE_MAX 300     /* longest segments that hypotheses are drawn from and scored on */
#define HYP_PAIRS 1500     /* hypotheses from two pairs of segments */
#define HYP_PRIOR 1500     /* hypotheses from a pair, a segment and a prior focal length */
#define F_MIN 0.25         /* focal length / diagonal: 10.8 mm .. 173 mm in 35 mm terms */
#define F_MAX 4.0
#define F_PRIOR 0.55 /* 24 mm in 35 mm terms: the usual interior lens */
#define PRIOR_WEIGHT 0.02

static const double prior_f[] = {0.35, 0.45, 0.55, 0.7, 0.9, 1.2, 1.6};

typedef struct seg_n {
    double mx, my;   /* midpoint, centred on the principal point */
    double ux, uy;   /* unit direction */
    double len, tol; /* length, angular tolerance */
    double l[3];     /* the line through it, (a, b) unit */
} seg_n;

static uint32_t rnd(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

double i2v__segment_tolerance(double length)
{
    /* An end point 1.5 px off the line, within 1 .. 5 degrees. */
    const double t = atan2(1.5, 0.5 * length);
    const double lo = M_PI / 180, hi = 5 * M_PI / 180;
    return t < lo ? lo : t > hi ? hi : t;
}

static double angle_to(const seg_n *s, const double v[3])
{
    const double dx = v[0] - v[2] * s->mx, dy = v[1] - v[2] * s->my;
    const double n = sqrt(dx * dx + dy * dy);
    if (n < 1e-12) return M_PI / 2;
    double c = fabs(s->ux * dy - s->uy * dx) / n;
    return asin(c > 1 ? 1 : c);
}

double i2v__segment_vp_angle(const i2v_segment *s, const double v[3])
{
    const double len = i2v__segment_length(s);
    seg_n t = {0.5 * (s->x1 + s->x2), 0.5 * (s->y1 + s->y2), 0, 0, len, 0, {0, 0, 0}};
    if (len > 0) t.ux = (s->x2 - s->x1) / len, t.uy = (s->y2 - s->y1) / len;
    return angle_to(&t, v);
}

static void cross(const double a[3], const double b[3], double o[3])
{
    o[0] = a[1] * b[2] - a[2] * b[1];
    o[1] = a[2] * b[0] - a[0] * b[2];
    o[2] = a[0] * b[1] - a[1] * b[0];
}

static int normalize(double v[3])
{
    const double n = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    if (!(n > 1e-300)) return -1;
    v[0] /= n, v[1] /= n, v[2] /= n;
    return 0;
}

/* Vanishing point (centred coordinates) of direction d: K d. */
static void vp_of(double f, const double d[3], double v[3])
{
    v[0] = f * d[0], v[1] = f * d[1], v[2] = d[2];
}

/* Score of three directions: inlier length, softly weighted by error. */
static double score(const seg_n *s, int n, double f, const double d[3][3])
{
    double v[3][3], sc = 0;
    for (int k = 0; k < 3; k++)
        vp_of(f, d[k], v[k]);
    for (int i = 0; i < n; i++) {
        double best = 1e9;
        for (int k = 0; k < 3; k++) {
            const double a = angle_to(&s[i], v[k]);
            if (a < best) best = a;
        }
        const double e = best / s[i].tol;
        if (e < 1) sc += s[i].len * (1 - e * e);
    }
    return sc;
}

/* Directions from two vanishing points (centred, homogeneous): the focal
 * length that makes them orthogonal, or -1. */
static double dirs_from_two(const double v1[3], const double v2[3], double fmin, double fmax,
                            double d[3][3])
{
    if (fabs(v1[2]) < 1e-12 || fabs(v2[2]) < 1e-12) return -1;
    const double f2 = -(v1[0] * v2[0] + v1[1] * v2[1]) / (v1[2] * v2[2]);
    if (!(f2 > fmin * fmin && f2 < fmax * fmax)) return -1;
    const double f = sqrt(f2);
    for (int k = 0; k < 3; k++) {
        d[0][k] = k < 2 ? v1[k] / f : v1[2];
        d[1][k] = k < 2 ? v2[k] / f : v2[2];
    }
    if (normalize(d[0]) || normalize(d[1])) return -1;
    cross(d[0], d[1], d[2]);
    if (normalize(d[2])) return -1;
    return f;
}

/* Directions from one vanishing point, a segment of another direction and f. */
static int dirs_from_one(const double v1[3], const double l[3], double f, double d[3][3])
{
    d[0][0] = v1[0] / f, d[0][1] = v1[1] / f, d[0][2] = v1[2];
    if (normalize(d[0])) return -1;
    const double pl[3] = {f * l[0], f * l[1], l[2]}; /* normal of the segment's plane: K^T l */
    cross(d[0], pl, d[1]);
    if (normalize(d[1])) return -1;
    cross(d[0], d[1], d[2]);
    return normalize(d[2]);
}

void i2v__axis_rotation(const double k[3], double a, double M[9])
{
    const double c = cos(a), s = sin(a), t = 1 - c;
    M[0] = c + t * k[0] * k[0], M[1] = t * k[0] * k[1] - s * k[2],
    M[2] = t * k[0] * k[2] + s * k[1];
    M[3] = t * k[0] * k[1] + s * k[2], M[4] = c + t * k[1] * k[1],
    M[5] = t * k[1] * k[2] - s * k[0];
    M[6] = t * k[0] * k[2] - s * k[1], M[7] = t * k[1] * k[2] + s * k[0],
    M[8] = c + t * k[2] * k[2];
}

/* The rotation vector w (axis times angle) as a matrix. */
static void rodrigues(const double w[3], double M[9])
{
    const double th = sqrt(w[0] * w[0] + w[1] * w[1] + w[2] * w[2]);
    double k[3] = {0, 0, 0};
    if (th > 1e-15) k[0] = w[0] / th, k[1] = w[1] / th, k[2] = w[2] / th;
    i2v__axis_rotation(k, th, M);
}

static void matmul(const double A[9], const double B[9], double C[9])
{
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++)
            C[r * 3 + c] = A[r * 3] * B[c] + A[r * 3 + 1] * B[3 + c] + A[r * 3 + 2] * B[6 + c];
}

/* Columns of R as directions. */
static void dirs_of(const double R[9], double d[3][3])
{
    for (int k = 0; k < 3; k++)
        for (int r = 0; r < 3; r++)
            d[k][r] = R[r * 3 + k];
}

/* Residuals of the refinement at (R0 * exp(w), f): per inlier its angular
 * error over its tolerance (Cauchy-weighted through sqrt weights). */
static int residuals(const seg_n *s, int n, const int *lab, const double R0[9], const double w[3],
                     double lf, const double *rw, double *r)
{
    double E[9], R[9], d[3][3], v[3][3];
    rodrigues(w, E);
    matmul(R0, E, R);
    dirs_of(R, d);
    const double f = exp(lf);
    for (int k = 0; k < 3; k++)
        vp_of(f, d[k], v[k]);
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (lab[i] < 0) continue;
        r[m++] = rw[i] * angle_to(&s[i], v[lab[i]]) / s[i].tol;
    }
    return m;
}

/* Solves the 4x4 system A x = b (Gaussian elimination, partial pivoting). */
static int solve4(double A[16], double b[4], double x[4])
{
    for (int c = 0; c < 4; c++) {
        int p = c;
        for (int r = c + 1; r < 4; r++)
            if (fabs(A[r * 4 + c]) > fabs(A[p * 4 + c])) p = r;
        if (fabs(A[p * 4 + c]) < 1e-18) return -1;
        if (p != c) {
            for (int k = 0; k < 4; k++) {
                const double t = A[c * 4 + k];
                A[c * 4 + k] = A[p * 4 + k], A[p * 4 + k] = t;
            }
            const double t = b[c];
            b[c] = b[p], b[p] = t;
        }
        for (int r = c + 1; r < 4; r++) {
            const double q = A[r * 4 + c] / A[c * 4 + c];
            for (int k = c; k < 4; k++)
                A[r * 4 + k] -= q * A[c * 4 + k];
            b[r] -= q * b[c];
        }
    }
    for (int c = 3; c >= 0; c--) {
        double acc = b[c];
        for (int k = c + 1; k < 4; k++)
            acc -= A[c * 4 + k] * x[k];
        x[c] = acc / A[c * 4 + c];
    }
    return 0;
}

static void assign(const seg_n *s, int n, double f, const double R[9], double gate, int *lab,
                   double *rw)
{
    double d[3][3], v[3][3];
    dirs_of(R, d);
    for (int k = 0; k < 3; k++)
        vp_of(f, d[k], v[k]);
    for (int i = 0; i < n; i++) {
        int best = -1;
        double ba = 1e9;
        for (int k = 0; k < 3; k++) {
            const double a = angle_to(&s[i], v[k]);
            if (a < ba) ba = a, best = k;
        }
        const double e = ba / s[i].tol;
        lab[i] = e < gate ? best : -1;
        if (rw) rw[i] = sqrt(s[i].len / (1 + e * e)); /* length x Cauchy weight */
    }
}

/* Gauss-Newton on (rotation increment, ln f); returns the final f and, in
 * *sigma, the standard deviation of ln f from the lines alone. */
static double refine(const seg_n *s, int n, double f, double R[9], double diag, double *sigma,
                     int *lab, double *rw, double *r0, double *r1)
{
    double lf = log(f);
    const double lprior = log(F_PRIOR * diag);
    *sigma = INFINITY;
    for (int it = 0; it < 12; it++) {
        assign(s, n, exp(lf), R, 2.0, lab, rw);
        const double w0[3] = {0, 0, 0};
        const int m = residuals(s, n, lab, R, w0, lf, rw, r0);
        if (m < 4) break;
        double JtJ[16] = {0}, Jtr[4] = {0}, J[4];
        /* Numeric Jacobian, one column at a time, accumulated. */
        double *jac = r1; /* m x 4, column-major in r1 */
        for (int p = 0; p < 4; p++) {
            double w[3] = {0, 0, 0}, l = lf;
            const double h = 1e-6;
            if (p < 3)
                w[p] = h;
            else
                l += h;
            residuals(s, n, lab, R, w, l, rw, jac + (size_t)p * m);
            for (int i = 0; i < m; i++)
                jac[(size_t)p * m + i] = (jac[(size_t)p * m + i] - r0[i]) / h;
        }
        for (int i = 0; i < m; i++) {
            for (int p = 0; p < 4; p++)
                J[p] = jac[(size_t)p * m + i];
            for (int p = 0; p < 4; p++) {
                Jtr[p] += J[p] * r0[i];
                for (int q = 0; q < 4; q++)
                    JtJ[p * 4 + q] += J[p] * J[q];
            }
        }
        /* The marginal variance of ln f from the lines alone. */
        {
            double A[16], b[4] = {0, 0, 0, 1}, x[4];
            memcpy(A, JtJ, sizeof A);
            for (int p = 0; p < 3; p++)
                A[p * 4 + p] += 1e-9;
            *sigma = (solve4(A, b, x) == 0 && x[3] > 0) ? sqrt(x[3]) : INFINITY;
        }
        /* The prior on ln f, and a little damping. */
        JtJ[15] += PRIOR_WEIGHT;
        Jtr[3] += PRIOR_WEIGHT * (lf - lprior);
        for (int p = 0; p < 4; p++)
            JtJ[p * 4 + p] *= 1.0 + 1e-6;
        double x[4], b[4] = {-Jtr[0], -Jtr[1], -Jtr[2], -Jtr[3]};
        if (solve4(JtJ, b, x)) break;
        double E[9], Rn[9];
        rodrigues(x, E);
        matmul(R, E, Rn);
        memcpy(R, Rn, sizeof Rn);
        lf += x[3];
        lf = fmin(fmax(lf, log(F_MIN * diag)), log(F_MAX * diag));
        if (fabs(x[0]) + fabs(x[1]) + fabs(x[2]) + fabs(x[3]) < 1e-9) break;
    }
    return exp(lf);
}

void i2v__manhattan_vp(const i2v_manhattan *m, int k, double v[3])
{
    const double d[3] = {m->R[k], m->R[3 + k], m->R[6 + k]};
    /* K d with the principal point at (cx, cy). */
    v[0] = m->f * d[0] + m->cx * d[2];
    v[1] = m->f * d[1] + m->cy * d[2];
    v[2] = d[2];
}

void i2v__manhattan_fit(const i2v_segment *seg, int n, int w, int h, i2v_manhattan *m, int *label)
{
    memset(m, 0, sizeof *m);
    m->cx = 0.5 * w, m->cy = 0.5 * h;
    const double diag = sqrt((double)w * w + (double)h * h);
    seg_n *s = calloc((size_t)n + 1, sizeof *s);
    int *idx = calloc((size_t)n + 1, sizeof *idx), *lab = calloc((size_t)n + 1, sizeof *lab);
    double *rw = calloc((size_t)n + 1, sizeof *rw);
    double *r0 = calloc((size_t)n + 1, sizeof *r0), *r1 = calloc(4 * (size_t)n + 4, sizeof *r1);
    double *cum = calloc(SAMPLE_MAX + 1, sizeof *cum);
    if (label)
        for (int i = 0; i < n; i++)
            label[i] = -1;
    if (!s || !idx || !lab || !rw || !r0 || !r1 || !cum) goto out;
    int ns = 0;
    for (int i = 0; i < n; i++) {
        const double len = i2v__segment_length(&seg[i]);
        if (len < MIN_LEN_FRAC * diag) continue;
        seg_n *t = &s[ns];
        t->mx = 0.5 * (seg[i].x1 + seg[i].x2) - m->cx;
        t->my = 0.5 * (seg[i].y1 + seg[i].y2) - m->cy;
        t->ux = (seg[i].x2 - seg[i].x1) / len;
        t->uy = (seg[i].y2 - seg[i].y1) / len;
        t->len = len;
        t->tol = i2v__segment_tolerance(len);
        /* The line through the midpoint with normal (-uy, ux). */
        t->l[0] = -t->uy, t->l[1] = t->ux, t->l[2] = -(t->l[0] * t->mx + t->l[1] * t->my);
        m->total_len += len;
        idx[ns++] = i;
    }
    if (ns < 6) goto out;
    /* Segments are sorted longest first: hypotheses come from the longest. */
    const int nsamp = ns < SAMPLE_MAX ? ns : SAMPLE_MAX;
    for (int i = 0; i < nsamp; i++)
        cum[i + 1] = cum[i] + s[i].len;
    uint32_t seed = 0x9e3779b9u;
    double best = -1, bf = 0, bd[3][3];
    for (int it = 0; it < HYP_PAIRS + HYP_PRIOR; it++) {
        int a, b, c, e;
        double v1[3], v2[3], d[3][3], f;
        {
            a = (int)(rnd(&seed) % (uint32_t)nsamp);
            const double u = (rnd(&seed) >> 8) * (1.0 / 16777216.0) * cum[nsamp];
            /* length-weighted second pick */
            int lo = 0, hi = nsamp;
            while (hi - lo > 1) {
                const int mid = (lo + hi) / 2;
                if (cum[mid] <= u)
                    lo = mid;
                else
                    hi = mid;
            }
            b = lo;
        }
        if (a == b) continue;
        cross(s[a].l, s[b].l, v1);
        c = (int)(rnd(&seed) % (uint32_t)nsamp);
        if (c == a || c == b) continue;
        if (it < HYP_PAIRS) {
            e = (int)(rnd(&seed) % (uint32_t)nsamp);
            if (e == a || e == b || e == c) continue;
            cross(s[c].l, s[e].l, v2);
            f = dirs_from_two(v1, v2, F_MIN * diag, F_MAX * diag, d);
            if (f < 0) continue;
        } else {
            f = prior_f[rnd(&seed) % (sizeof prior_f / sizeof prior_f[0])] * diag;
            if (dirs_from_one(v1, s[c].l, f, d)) continue;
        }
        const double sc = score(s, nsamp, f, d);
        if (sc > best) {
            best = sc, bf = f;
            memcpy(bd, d, sizeof bd);
        }
    }
    if (best <= 0) goto out;
    /* Columns: vertical = most along the image's y axis, pointing down;
     * depth = the more forward of the other two, pointing away; X = Y x Z. */
    int ky = 0;
    for (int k = 1; k < 3; k++)
        if (fabs(bd[k][1]) > fabs(bd[ky][1])) ky = k;
    int kz = (ky + 1) % 3, kx = (ky + 2) % 3;
    if (fabs(bd[kx][2]) > fabs(bd[kz][2])) {
        const int t = kz;
        kz = kx, kx = t;
    }
    double Y[3], Z[3], X[3];
    for (int r = 0; r < 3; r++)
        Y[r] = bd[ky][r], Z[r] = bd[kz][r];
    if (Y[1] < 0)
        for (int r = 0; r < 3; r++)
            Y[r] = -Y[r];
    if (Z[2] < 0)
        for (int r = 0; r < 3; r++)
            Z[r] = -Z[r];
    cross(Y, Z, X);
    normalize(X);
    for (int r = 0; r < 3; r++)
        m->R[r * 3 + 0] = X[r], m->R[r * 3 + 1] = Y[r], m->R[r * 3 + 2] = Z[r];
    m->f = refine(s, ns, bf, m->R, diag, &m->focal_sigma, lab, rw, r0, r1);
    m->focal_measured = m->focal_sigma < 0.1;
    m->found = 1;
    /* Final inliers at the plain tolerance. */
    assign(s, ns, m->f, m->R, 1.0, lab, NULL);
    double se = 0;
    int ne = 0;
    {
        double d[3][3], v[3][3];
        dirs_of(m->R, d);
        for (int k = 0; k < 3; k++)
            vp_of(m->f, d[k], v[k]);
        for (int i = 0; i < ns; i++) {
            if (lab[i] < 0) continue;
            m->fam_len[lab[i]] += s[i].len;
            m->fam_n[lab[i]]++;
            const double a = angle_to(&s[i], v[lab[i]]);
            se += a * a, ne++;
        }
    }
    m->rms_deg = ne ? sqrt(se / ne) * 180 / M_PI : 0;
    m->share =
        m->total_len > 0 ? (m->fam_len[0] + m->fam_len[1] + m->fam_len[2]) / m->total_len : 0;
    if (label)
        for (int i = 0; i < ns; i++)
            label[idx[i]] = lab[i];
out:
    free(s);
    free(idx);
    free(lab);
    free(rw);
    free(r0);
    free(r1);
    free(cum);
}
