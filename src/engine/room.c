/*
 * room.c - is this photo a room, and which box is it: the preview, the
 * segments and the Manhattan frame (lines.c, vanish.c), the box layout fitted
 * to them (see room.h), the confidence, and the overlay image that shows it.
 */
#include "room.h"

#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "common/error.h"
#include "photo.h"
#include "resample.h"

#define CELL 8       /* evidence grid, preview pixels */
#define EDGE_TOL 3.0 /* a segment on a box edge: both ends this close, preview pixels */
#define EDGE_WEIGHT 2.0
#define CONFLICT 1.0 /* weight of a segment in a plane that cannot contain it */
#define FLOOR_UPRIGHT 0.6
#define CEIL_PRIOR (1.2 / I2V_EYE_HEIGHT)
#define CEIL_SIGMA 0.3
#define PRIOR_SHARE 0.05
#define FRONT_DIST 50.0 /* the front wall, eye heights: never seen */
#define NGRID 40

enum { P_FLOOR, P_CEIL, P_LEFT, P_RIGHT, P_BACK, P_FRONT };

const double i2v__plane_normal[I2V_PLANES][3] = {{0, 1, 0}, {0, -1, 0}, {-1, 0, 0},
                                                 {1, 0, 0}, {0, 0, 1},  {0, 0, -1}};
static const int plane_axis[I2V_PLANES] = {1, 1, 0, 0, 2, 2};

typedef struct edge {
    int p1, p2, axis;
} edge;

static const edge edges[8] = {
    {P_FLOOR, P_BACK, 0}, {P_FLOOR, P_LEFT, 2}, {P_FLOOR, P_RIGHT, 2}, {P_CEIL, P_BACK, 0},
    {P_CEIL, P_LEFT, 2},  {P_CEIL, P_RIGHT, 2}, {P_LEFT, P_BACK, 1},   {P_RIGHT, P_BACK, 1},
};

/* Wall-wall corners are rarely mimicked by furniture or floor patterns
 * (floor boards, rugs and cabinets draw lines parallel to a floor-wall
 * edge): they count more. */
static const double edge_weight[8] = {1, 1, 1, 1, 1, 1, 3, 3};

static const char *const face_names[I2V_FACE_COUNT] = {"floor", "ceiling", "left", "right", "back"};

int i2v__box_hit(const double dist[I2V_PLANES], const double r[3], double *lambda)
{
    int best = -1;
    double bl = INFINITY;
    for (int k = 0; k < I2V_PLANES; k++) {
        const double *n = i2v__plane_normal[k];
        const double dn = n[0] * r[0] + n[1] * r[1] + n[2] * r[2];
        if (dn > 1e-12) {
            const double l = dist[k] / dn;
            if (l < bl) bl = l, best = k;
        }
    }
    *lambda = bl;
    return best;
}

void i2v__room_fit_release(i2v_room_fit *fit)
{
    if (!fit) return;
    free(fit->seg);
    free(fit->label);
    memset(fit, 0, sizeof *fit);
}

/* ---- geometry helpers (preview pixels, principal point at the centre) ---- */

typedef struct cam {
    double f, cx, cy;
    double R[9]; /* room -> camera */
} cam;

/* Ray in room axes through the image point (x, y). */
static void ray_of(const cam *c, double x, double y, double r[3])
{
    const double q[3] = {(x - c->cx) / c->f, (y - c->cy) / c->f, 1.0};
    for (int i = 0; i < 3; i++)
        r[i] = c->R[i] * q[0] + c->R[3 + i] * q[1] + c->R[6 + i] * q[2];
}

/* Homogeneous image point of a room point (w = camera depth). */
static void project(const cam *c, const double P[3], double x[3])
{
    double q[3];
    for (int i = 0; i < 3; i++)
        q[i] = c->R[i * 3] * P[0] + c->R[i * 3 + 1] * P[1] + c->R[i * 3 + 2] * P[2];
    x[0] = c->f * q[0] + c->cx * q[2];
    x[1] = c->f * q[1] + c->cy * q[2];
    x[2] = q[2];
}

static void cross3(const double a[3], const double b[3], double o[3])
{
    o[0] = a[1] * b[2] - a[2] * b[1];
    o[1] = a[2] * b[0] - a[0] * b[2];
    o[2] = a[0] * b[1] - a[1] * b[0];
}

/* A point on edge e (the free axis coordinate 0). */
static void edge_point(const edge *e, const double dist[I2V_PLANES], double P[3])
{
    P[0] = P[1] = P[2] = 0;
    const int ps[2] = {e->p1, e->p2};
    for (int i = 0; i < 2; i++) {
        const double *n = i2v__plane_normal[ps[i]];
        const int ax = plane_axis[ps[i]];
        P[ax] = n[ax] * dist[ps[i]];
    }
}

/* The image line of edge e, (a, b) of unit length; -1 when degenerate. */
static int edge_line(const cam *c, const edge *e, const double dist[I2V_PLANES], double l[3])
{
    double P[3], p[3], v[3], d[3] = {0, 0, 0};
    edge_point(e, dist, P);
    project(c, P, p);
    d[e->axis] = 1;
    project(c, d, v);
    cross3(p, v, l);
    const double n = hypot(l[0], l[1]);
    if (!(n > 1e-12)) return -1;
    l[0] /= n, l[1] /= n, l[2] /= n;
    return 0;
}

/* ---- evidence ---- */

typedef struct evcell {
    double r[3];  /* ray through the cell centre, room axes */
    double ev[3]; /* segment length per axis */
} evcell;

typedef struct layout_ctx {
    const cam *c;
    int w, h;
    const i2v_segment *seg;
    const int *label;
    int nseg;
    evcell *cells;
    int ncells;
    double ev_total;
} layout_ctx;

static double edge_support(const layout_ctx *L, const double dist[I2V_PLANES], int ei,
                           const double line[3], double *len_out)
{
    const edge *e = &edges[ei];
    double sup = 0;
    for (int i = 0; i < L->nseg; i++) {
        if (L->label[i] != e->axis) continue;
        const i2v_segment *s = &L->seg[i];
        const double d1 = fabs(line[0] * s->x1 + line[1] * s->y1 + line[2]);
        const double d2 = fabs(line[0] * s->x2 + line[1] * s->y2 + line[2]);
        const double dm = fmax(d1, d2);
        if (dm >= EDGE_TOL) continue;
        /* The part of the segment where the edge is seen (not cut off by a
         * third face), from five points along it. */
        int on = 0;
        for (int j = 0; j < 5; j++) {
            double r[3], lam;
            const double t = 0.1 + 0.2 * j;
            ray_of(L->c, s->x1 + t * (s->x2 - s->x1), s->y1 + t * (s->y2 - s->y1), r);
            const int p = i2v__box_hit(dist, r, &lam);
            on += p == e->p1 || p == e->p2;
        }
        if (on < 4) continue;
        const double q = dm / EDGE_TOL;
        sup += edge_weight[ei] * i2v__segment_length(s) * (1 - q * q) * on / 5.0;
    }
    if (len_out) *len_out = sup;
    return sup;
}

/* Length in pixels of the part of edge ei that is in view. */
static double edge_visible(const cam *c, int w, int h, const double dist[I2V_PLANES], int ei)
{
    const edge *e = &edges[ei];
    /* Its extent along the free axis: between the two planes of that axis. */
    int lo = -1, hi = -1;
    for (int k = 0; k < I2V_PLANES; k++)
        if (plane_axis[k] == e->axis) {
            if (i2v__plane_normal[k][e->axis] < 0)
                lo = k;
            else
                hi = k;
        }
    const double t0 = -dist[lo], t1 = dist[hi];
    double P[3], prev[2] = {0, 0}, len = 0;
    int have = 0;
    edge_point(e, dist, P);
    for (int i = 0; i <= 100; i++) {
        P[e->axis] = t0 + (t1 - t0) * i / 100.0;
        double x[3];
        project(c, P, x);
        if (x[2] <= 1e-6) {
            have = 0;
            continue;
        }
        const double u = x[0] / x[2], v = x[1] / x[2];
        if (u < 0 || v < 0 || u > w || v > h) {
            have = 0;
            continue;
        }
        if (have) len += hypot(u - prev[0], v - prev[1]);
        prev[0] = u, prev[1] = v, have = 1;
    }
    return len;
}

static double layout_score(const layout_ctx *L, const double dist[I2V_PLANES])
{
    double sc = 0;
    for (int i = 0; i < L->ncells; i++) {
        const evcell *e = &L->cells[i];
        double lam;
        const int p = i2v__box_hit(dist, e->r, &lam);
        if (p < 0) continue;
        for (int k = 0; k < 3; k++)
            if (k != plane_axis[p])
                sc += e->ev[k];
            else /* uprights in the floor: often furniture, a weaker conflict */
                sc -= (p == P_FLOOR ? FLOOR_UPRIGHT : CONFLICT) * e->ev[k];
    }
    for (int ei = 0; ei < 8; ei++) {
        double line[3];
        if (edge_line(L->c, &edges[ei], dist, line)) continue;
        const double sup = edge_support(L, dist, ei, line, NULL);
        sc += EDGE_WEIGHT * (sup > 0 ? fmin(sup, edge_visible(L->c, L->w, L->h, dist, ei)) : 0);
    }
    /* Ceilings are 2.3 .. 3.2 m high: a log-normal prior on the ceiling's
     * height above the eye (1.2 m for 2.7 m), worth a share of the evidence. */
    const double q = log(dist[P_CEIL] / CEIL_PRIOR) / CEIL_SIGMA;
    sc -= PRIOR_SHARE * L->ev_total * 0.5 * q * q;
    return sc;
}

/* Re-measures the distances of planes whose edges segments confirm: each
 * supporting segment, put on one of its two planes, says where the other is. */
static void remeasure(const layout_ctx *L, double dist[I2V_PLANES])
{
    for (int round = 0; round < 3; round++) {
        double sum[I2V_PLANES] = {0}, wsum[I2V_PLANES] = {0};
        for (int ei = 0; ei < 8; ei++) {
            const edge *e = &edges[ei];
            double line[3];
            if (edge_line(L->c, e, dist, line)) continue;
            for (int i = 0; i < L->nseg; i++) {
                if (L->label[i] != e->axis) continue;
                const i2v_segment *s = &L->seg[i];
                const double d1 = fabs(line[0] * s->x1 + line[1] * s->y1 + line[2]);
                const double d2 = fabs(line[0] * s->x2 + line[1] * s->y2 + line[2]);
                if (fmax(d1, d2) >= EDGE_TOL) continue;
                double r[3], lam;
                ray_of(L->c, 0.5 * (s->x1 + s->x2), 0.5 * (s->y1 + s->y2), r);
                const int p = i2v__box_hit(dist, r, &lam);
                if (p != e->p1 && p != e->p2) continue;
                const double wgt = i2v__segment_length(s);
                /* On plane a (kept), the point tells plane b's distance; the
                 * floor never moves (it sets the scale). */
                for (int side = 0; side < 2; side++) {
                    const int a = side ? e->p2 : e->p1, b = side ? e->p1 : e->p2;
                    if (b == P_FLOOR) continue;
                    const double *na = i2v__plane_normal[a], *nb = i2v__plane_normal[b];
                    const double dn = na[0] * r[0] + na[1] * r[1] + na[2] * r[2];
                    if (dn <= 1e-9) continue;
                    const double t = dist[a] / dn;
                    const double db = t * (nb[0] * r[0] + nb[1] * r[1] + nb[2] * r[2]);
                    if (!(db > 0.05)) continue;
                    /* A floor-anchored estimate counts more than a chained one. */
                    const double k = a == P_FLOOR ? 4.0 : 1.0;
                    sum[b] += k * wgt * log(db);
                    wsum[b] += k * wgt;
                }
            }
        }
        for (int k = 1; k < I2V_PLANES - 1; k++)
            if (wsum[k] > 0) dist[k] = exp(sum[k] / wsum[k]);
    }
}

static double grid_value(int k, int i)
{
    /* ceiling 0.15..4 eye heights; walls 0.12..15; back wall 0.3..30 */
    static const double lo[I2V_PLANES] = {1, 0.15, 0.12, 0.12, 0.3, 1};
    static const double hi[I2V_PLANES] = {1, 4, 15, 15, 30, 1};
    return lo[k] * pow(hi[k] / lo[k], (double)i / (NGRID - 1));
}

static void fit_layout(const layout_ctx *L, double best[I2V_PLANES])
{
    static const double starts[3][4] = {
        {0.8, 2.0, 2.0, 3.0}, {0.8, 1.0, 1.0, 6.0}, {1.0, 4.0, 4.0, 12.0}};
    double bs = -INFINITY;
    for (int s = 0; s < 3; s++) {
        double d[I2V_PLANES] = {1,         starts[s][0], starts[s][1], starts[s][2], starts[s][3],
                                FRONT_DIST};
        double sc = layout_score(L, d);
        for (int round = 0; round < 3; round++)
            for (int k = 1; k <= 4; k++) {
                double bv = d[k];
                for (int i = 0; i < NGRID; i++) {
                    d[k] = grid_value(k, i);
                    const double v = layout_score(L, d);
                    if (v > sc + 1e-9) sc = v, bv = d[k];
                }
                d[k] = bv;
            }
        /* Finer steps around each value. */
        for (int k = 1; k <= 4; k++) {
            double bv = d[k];
            const double step = pow(grid_value(k, 1) / grid_value(k, 0), 1.0 / 8);
            for (int i = -8; i <= 8; i++) {
                d[k] = bv * pow(step, i);
                const double v = layout_score(L, d);
                if (v > sc + 1e-9) sc = v, bv = d[k];
            }
            d[k] = bv;
        }
        if (sc > bs) {
            bs = sc;
            memcpy(best, d, sizeof d);
        }
    }
    remeasure(L, best);
}

/* Convex polygon (image coordinates) where plane p is seen: the image
 * rectangle clipped by the half-planes "p is hit first". */
static int face_poly(const cam *c, int w, int h, const double dist[I2V_PLANES], int p,
                     double poly[12][2])
{
    double a[16][2], b[16][2];
    int n = 4;
    a[0][0] = 0, a[0][1] = 0, a[1][0] = w, a[1][1] = 0;
    a[2][0] = w, a[2][1] = h, a[3][0] = 0, a[3][1] = h;
    /* g(x) = n . r(x) is linear in the image point: its coefficients. */
    double lin[I2V_PLANES][3];
    for (int k = 0; k < I2V_PLANES; k++) {
        double r0[3], rx[3], ry[3];
        ray_of(c, 0, 0, r0);
        ray_of(c, 1, 0, rx);
        ray_of(c, 0, 1, ry);
        const double *nk = i2v__plane_normal[k];
        const double g0 = nk[0] * r0[0] + nk[1] * r0[1] + nk[2] * r0[2];
        const double gx = nk[0] * rx[0] + nk[1] * rx[1] + nk[2] * rx[2] - g0;
        const double gy = nk[0] * ry[0] + nk[1] * ry[1] + nk[2] * ry[2] - g0;
        lin[k][0] = gx, lin[k][1] = gy, lin[k][2] = g0;
    }
    for (int q = -1; q < I2V_PLANES && n > 0; q++) {
        double hp[3]; /* keep hp . (x, y, 1) >= 0 */
        if (q < 0) {
            memcpy(hp, lin[p], sizeof hp);
        } else {
            if (q == p) continue;
            /* d_p (n_q . r) <= d_q (n_p . r) */
            for (int i = 0; i < 3; i++)
                hp[i] = dist[q] * lin[p][i] - dist[p] * lin[q][i];
        }
        int m = 0;
        for (int i = 0; i < n; i++) {
            const double *P = a[i], *Q = a[(i + 1) % n];
            const double vp = hp[0] * P[0] + hp[1] * P[1] + hp[2];
            const double vq = hp[0] * Q[0] + hp[1] * Q[1] + hp[2];
            if (vp >= 0 && m < 16) b[m][0] = P[0], b[m][1] = P[1], m++;
            if ((vp >= 0) != (vq >= 0) && m < 16) {
                const double t = vp / (vp - vq);
                b[m][0] = P[0] + t * (Q[0] - P[0]);
                b[m][1] = P[1] + t * (Q[1] - P[1]);
                m++;
            }
        }
        n = m;
        memcpy(a, b, sizeof(double) * 2 * (size_t)m);
    }
    if (n > 12) n = 12;
    for (int i = 0; i < n; i++)
        poly[i][0] = a[i][0], poly[i][1] = a[i][1];
    return n;
}

static double poly_area(const double p[][2], int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) {
        const int j = (i + 1) % n;
        s += p[i][0] * p[j][1] - p[j][0] * p[i][1];
    }
    return fabs(0.5 * s);
}

static double ramp(double v, double lo, double hi)
{
    const double t = (v - lo) / (hi - lo);
    return t < 0 ? 0 : t > 1 ? 1 : t;
}

void i2v__room_from_segments(const i2v_segment *seg, int n, int w, int h, double sky,
                             i2v_room *room, i2v_room_fit *fit)
{
    i2v_room_fit local = {0};
    if (!fit) fit = &local;
    const int keep_segments = fit != &local;
    i2v_manhattan *m = &fit->m;
    int *label = calloc((size_t)n + 1, sizeof *label);
    evcell *cells = NULL;
    memset(room, 0, sizeof *room);
    room->eye_height = I2V_EYE_HEIGHT;
    room->segments = n;
    if (!label) {
        snprintf(room->reason, sizeof room->reason, "out of memory");
        goto out;
    }
    i2v__manhattan_fit(seg, n, w, h, m, label);
    const double diag = hypot(w, h);
    if (!m->found) {
        snprintf(room->reason, sizeof room->reason,
                 "too few straight lines (%d segments) for three directions", n);
        goto out;
    }
    cam c = {m->f, m->cx, m->cy, {0}};
    memcpy(c.R, m->R, sizeof c.R);
    /* Evidence cells. */
    const int gw = (w + CELL - 1) / CELL, gh = (h + CELL - 1) / CELL;
    cells = calloc((size_t)gw * gh, sizeof *cells);
    if (!cells) {
        snprintf(room->reason, sizeof room->reason, "out of memory");
        goto out;
    }
    double ev_total = 0;
    for (int i = 0; i < n; i++) {
        if (label[i] < 0) continue;
        const i2v_segment *s = &seg[i];
        const double len = i2v__segment_length(s);
        const int steps = (int)ceil(len / 2);
        for (int j = 0; j < steps; j++) {
            const double t = (j + 0.5) / steps;
            const int x = (int)(s->x1 + t * (s->x2 - s->x1)) / CELL;
            const int y = (int)(s->y1 + t * (s->y2 - s->y1)) / CELL;
            if (x < 0 || y < 0 || x >= gw || y >= gh) continue;
            cells[(size_t)y * gw + x].ev[label[i]] += len / steps;
            ev_total += len / steps;
        }
    }
    int nc = 0;
    for (int y = 0; y < gh; y++)
        for (int x = 0; x < gw; x++) {
            evcell *e = &cells[(size_t)y * gw + x];
            if (e->ev[0] + e->ev[1] + e->ev[2] <= 0) continue;
            ray_of(&c, (x + 0.5) * CELL, (y + 0.5) * CELL, e->r);
            cells[nc++] = *e;
        }
    layout_ctx L = {&c, w, h, seg, label, n, cells, nc, ev_total};
    fit_layout(&L, fit->dist);
    fit->dist[P_FLOOR] = 1;
    fit->dist[P_FRONT] = FRONT_DIST;

    /* Agreement of the orientations, and of the edges. */
    double agree = 0;
    for (int i = 0; i < nc; i++) {
        double lam;
        const int p = i2v__box_hit(fit->dist, cells[i].r, &lam);
        for (int k = 0; k < 3; k++)
            if (p >= 0 && k != plane_axis[p]) agree += cells[i].ev[k];
    }
    const double orient = ev_total > 0 ? agree / ev_total : 0;
    double vis_sum = 0, sup_sum = 0, face_vis[I2V_FACE_COUNT] = {0}, face_sup[I2V_FACE_COUNT] = {0};
    for (int ei = 0; ei < 8; ei++) {
        double line[3], sup = 0;
        const double vis = edge_visible(&c, w, h, fit->dist, ei);
        if (vis < 0.02 * diag) continue;
        if (edge_line(&c, &edges[ei], fit->dist, line) == 0)
            edge_support(&L, fit->dist, ei, line, &sup);
        sup = fmin(sup, vis);
        vis_sum += vis, sup_sum += sup;
        face_vis[edges[ei].p1] += vis, face_sup[edges[ei].p1] += sup;
        face_vis[edges[ei].p2] += vis, face_sup[edges[ei].p2] += sup;
    }
    const double edge_share = vis_sum > 0 ? sup_sum / vis_sum : 0;
    room->layout_support = 0.5 * orient + 0.5 * edge_share;

    /* The room, in photo pixels and metres. */
    const double sx = fit->sx > 0 ? fit->sx : 1, sy = fit->sy > 0 ? fit->sy : 1;
    room->focal = m->f * 0.5 * (sx + sy);
    const double pw = w * sx, ph = h * sy;
    room->focal_35mm = room->focal * 43.2666 / hypot(pw, ph);
    room->focal_measured = m->focal_measured;
    memcpy(room->rotation, m->R, sizeof room->rotation);
    for (int k = 0; k < 3; k++) {
        double v[3];
        i2v__manhattan_vp(m, k, v);
        room->vp[k][0] = v[0] * sx, room->vp[k][1] = v[1] * sy, room->vp[k][2] = v[2];
        room->inliers[k] = m->fam_n[k];
    }
    room->share = m->share;
    room->rms_deg = m->rms_deg;
    /* The optical axis in room axes is the third row of R. */
    const double *R = m->R;
    room->yaw = atan2(R[6], R[8]) * 180 / M_PI;
    room->pitch = asin(fmax(-1, fmin(1, -R[7]))) * 180 / M_PI;
    /* Roll: how far the camera's x axis tilts out of the horizontal plane. */
    room->roll = asin(fmax(-1, fmin(1, R[1]))) * 180 / M_PI;
    for (int f = 0; f < I2V_FACE_COUNT; f++) {
        i2v_room_face *F = &room->face[f];
        for (int i = 0; i < 3; i++) {
            const double *nn = i2v__plane_normal[f];
            F->normal[i] = R[i * 3] * nn[0] + R[i * 3 + 1] * nn[1] + R[i * 3 + 2] * nn[2];
        }
        F->distance = fit->dist[f] * I2V_EYE_HEIGHT;
        double poly[12][2];
        const int np = face_poly(&c, w, h, fit->dist, f, poly);
        F->area = np >= 3 ? poly_area(poly, np) / ((double)w * h) : 0;
        F->visible = F->area > 0.005;
        F->n = F->visible ? np : 0;
        for (int i = 0; i < F->n; i++)
            F->poly[i][0] = poly[i][0] * sx, F->poly[i][1] = poly[i][1] * sy;
        F->support = face_vis[f] > 0 ? face_sup[f] / face_vis[f] : 0;
    }

    /* Confidence: each factor is a ramp between "not a room" and "clearly". */
    const double tot = m->total_len > 0 ? m->total_len : 1;
    const int nin = m->fam_n[0] + m->fam_n[1] + m->fam_n[2];
    const double c_share = ramp(m->share, 0.35, 0.6);
    const double c_count = ramp(nin, 15, 50);
    const double c_vert = ramp(m->fam_len[1] / tot, 0.03, 0.10);
    const double c_hor = ramp((m->fam_len[0] + m->fam_len[2]) / tot, 0.08, 0.20);
    /* Rooms are photographed level: little roll, moderate pitch. */
    const double c_up = (1 - ramp(fabs(room->roll), 5, 12)) * (1 - ramp(fabs(room->pitch), 20, 30));
    const double c_layout = ramp(edge_share, 0.15, 0.35);
    const double c_sky = 1 - ramp(sky, 0.78, 0.95);
    const double conf = c_share * c_count * c_vert * c_hor * c_up * c_layout * c_sky;
    room->confidence = conf;
    room->is_room = conf >= I2V_ROOM_THRESHOLD;
    /* The weakest factor, in words. */
    const char *why[7] = {"few segments share the three orthogonal directions",
                          "too few straight lines",
                          "no upright (vertical) lines",
                          "no horizontal lines along the floor",
                          "the camera is not level (roll or pitch too large for a room)",
                          "the lines do not outline a floor, walls and ceiling",
                          "open sky at the top of the photo"};
    const double fac[7] = {c_share, c_count, c_vert, c_hor, c_up, c_layout, c_sky};
    int weak = 0;
    for (int i = 1; i < 7; i++)
        if (fac[i] < fac[weak]) weak = i;
    if (fac[weak] < 0.999)
        snprintf(room->reason, sizeof room->reason, "%s (%.2f)", why[weak], fac[weak]);
    else
        snprintf(room->reason, sizeof room->reason, "none");
out:
    free(cells);
    if (keep_segments && label && n > 0) {
        fit->label = label;
        fit->seg = malloc(sizeof *seg * (size_t)n);
        if (fit->seg) memcpy(fit->seg, seg, sizeof *seg * (size_t)n);
        fit->nseg = fit->seg ? n : 0;
        label = NULL;
    }
    free(label);
    room->width = (int)lround(w * (fit->sx > 0 ? fit->sx : 1));
    room->height = (int)lround(h * (fit->sy > 0 ? fit->sy : 1));
}

/* A plane of the picture reduced to w x h by the anti-aliased resampler. */
static int shrink(const uint8_t *src, int sw, int shh, int w, int h, uint8_t *dst, i2v_error *err)
{
    i2v_axis ax = {0}, ay = {0};
    i2v_rscratch s = {0};
    const i2v_plane in = {(uint8_t *)src, sw, shh, sw};
    i2v_plane out = {dst, w, h, w};
    const double kx = (double)sw / w, ky = (double)shh / h;
    int rc = i2v__axis_build(&ax, w, sw, 0.5 * kx - 0.5, kx, I2V_KERNEL_CUBIC, err);
    if (!rc) rc = i2v__axis_build(&ay, h, shh, 0.5 * ky - 0.5, ky, I2V_KERNEL_CUBIC, err);
    if (!rc) rc = i2v__rscratch_reserve(&s, (size_t)(ax.hi - ax.lo), err);
    if (!rc) i2v__resample_rows(&in, &out, &ax, &ay, 0, h, &s);
    i2v__axis_release(&ax);
    i2v__axis_release(&ay);
    i2v__rscratch_release(&s);
    return rc;
}

/* The preview: w x h with the long side I2V_ROOM_PREVIEW (or the picture's
 * own size when smaller), as grey and, when rgb_out is given, as RGB. */
static int make_preview(const i2v_rgb *rgb, int *pw, int *ph, float **grey_out, uint8_t **rgb_out,
                        i2v_error *err)
{
    int rc = 0;
    const int W = rgb->width, H = rgb->height, longest = W > H ? W : H;
    const double k = longest > I2V_ROOM_PREVIEW ? (double)I2V_ROOM_PREVIEW / longest : 1.0;
    const int w = (int)fmax(1, lround(W * k)), h = (int)fmax(1, lround(H * k));
    uint8_t *plane = malloc((size_t)W * H), *small = malloc((size_t)w * h);
    float *g = malloc(sizeof(float) * (size_t)w * h);
    uint8_t *out = rgb_out ? malloc((size_t)w * h * 3) : NULL;
    if (!plane || !small || !g || (rgb_out && !out)) {
        rc = i2v__err(err, I2V_ENOMEM, "out of memory for the room preview");
        goto out;
    }
    for (int c = -1; c < (rgb_out ? 3 : 0) && !rc; c++) {
        for (size_t i = 0; i < (size_t)W * H; i++) {
            const uint8_t *p = rgb->pixels + 3 * i;
            plane[i] = c < 0 ? (uint8_t)lrint(0.2126 * p[0] + 0.7152 * p[1] + 0.0722 * p[2]) : p[c];
        }
        rc = shrink(plane, W, H, w, h, small, err);
        for (size_t i = 0; !rc && i < (size_t)w * h; i++) {
            if (c < 0)
                g[i] = small[i];
            else
                out[3 * i + c] = small[i];
        }
    }
    if (rc) goto out;
    *pw = w, *ph = h;
    *grey_out = g, g = NULL;
    if (rgb_out) *rgb_out = out, out = NULL;
out:
    free(plane);
    free(small);
    free(g);
    free(out);
    return rc;
}

int i2v__room_find(const i2v_rgb *rgb, int photo_w, int photo_h, i2v_room *room, i2v_room_fit *fit,
                   i2v_error *err)
{
    float *grey = NULL;
    i2v_segment *seg = NULL;
    int n = 0, w, h;
    i2v_analysis an;
    i2v_room_fit local = {0};
    i2v_room_fit *F = fit ? fit : &local;
    memset(F, 0, sizeof *F);
    int rc = i2v__analyze(rgb, &an, err);
    if (!rc) rc = make_preview(rgb, &w, &h, &grey, NULL, err);
    if (!rc) rc = i2v__lines_detect(grey, w, h, &seg, &n, err);
    if (rc) goto out;
    F->pw = w, F->ph = h;
    F->sx = (double)photo_w / w, F->sy = (double)photo_h / h;
    i2v__room_from_segments(seg, n, w, h, an.sky, room, F);
    room->width = photo_w, room->height = photo_h;
out:
    free(grey);
    free(seg);
    i2v__room_fit_release(&local);
    return rc;
}

int i2v_photo_room(const i2v_photo *photo, i2v_room *room, i2v_error *err)
{
    i2v_rgb rgb = {0};
    const double k =
        (double)I2V_ROOM_PREVIEW / (photo->width > photo->height ? photo->width : photo->height);
    const int mw = k < 1 ? (int)ceil(photo->width * k) : 0;
    const int mh = k < 1 ? (int)ceil(photo->height * k) : 0;
    memset(room, 0, sizeof *room);
    int rc = i2v__photo_decode(photo, mw, mh, &rgb, err);
    if (!rc) rc = i2v__room_find(&rgb, photo->width, photo->height, room, NULL, err);
    i2v__rgb_release(&rgb);
    return rc;
}

/* ---- the overlay ---- */

static void plot(uint8_t *img, int w, int h, int x, int y, const uint8_t col[3])
{
    if (x < 0 || y < 0 || x >= w || y >= h) return;
    memcpy(img + 3 * ((size_t)y * w + x), col, 3);
}

static void draw_line(uint8_t *img, int w, int h, double x0, double y0, double x1, double y1,
                      int thick, const uint8_t col[3])
{
    const double len = hypot(x1 - x0, y1 - y0);
    const int steps = (int)ceil(len * 2) + 1;
    for (int i = 0; i <= steps; i++) {
        const double t = (double)i / steps;
        const int x = (int)floor(x0 + t * (x1 - x0)), y = (int)floor(y0 + t * (y1 - y0));
        for (int dy = -thick / 2; dy <= thick / 2; dy++)
            for (int dx = -thick / 2; dx <= thick / 2; dx++)
                plot(img, w, h, x + dx, y + dy, col);
    }
}

static int write_png(const char *path, const uint8_t *rgb, int w, int h, i2v_error *err)
{
    FILE *f = fopen(path, "wb");
    if (!f) return i2v__err(err, I2V_EIO, "cannot write %s", path);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        remove(path);
        return i2v__err(err, I2V_EIO, "cannot write %s as PNG", path);
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < h; y++)
        png_write_row(png, rgb + (size_t)y * w * 3);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    if (fclose(f) != 0) return i2v__err(err, I2V_EIO, "cannot write %s", path);
    return 0;
}

int i2v_photo_room_overlay(const i2v_photo *photo, const char *png_path, i2v_room *room_out,
                           i2v_error *err)
{
    i2v_rgb rgb = {0};
    i2v_room room;
    i2v_room_fit fit = {0};
    float *grey = NULL;
    uint8_t *img = NULL;
    int w, h;
    const double k =
        (double)I2V_ROOM_PREVIEW / (photo->width > photo->height ? photo->width : photo->height);
    const int mw = k < 1 ? (int)ceil(photo->width * k) : 0;
    const int mh = k < 1 ? (int)ceil(photo->height * k) : 0;
    int rc = i2v__photo_decode(photo, mw, mh, &rgb, err);
    if (!rc) rc = i2v__room_find(&rgb, photo->width, photo->height, &room, &fit, err);
    if (!rc) rc = make_preview(&rgb, &w, &h, &grey, &img, err);
    if (rc) goto out;
    /* Dim the photo so that the lines stand out. */
    for (size_t i = 0; i < (size_t)w * h * 3; i++)
        img[i] = (uint8_t)(40 + img[i] * 45 / 100);
    static const uint8_t cols[4][3] = {
        {255, 60, 60}, {60, 230, 60}, {70, 110, 255}, {150, 150, 150}};
    for (int i = 0; i < fit.nseg; i++) {
        const i2v_segment *s = &fit.seg[i];
        const int l = fit.label[i];
        draw_line(img, w, h, s->x1, s->y1, s->x2, s->y2, l >= 0 ? 2 : 1, cols[l >= 0 ? l : 3]);
    }
    /* Layout edges: the boundaries of the face polygons. */
    static const uint8_t yellow[3] = {255, 230, 0};
    for (int f = 0; f < I2V_FACE_COUNT; f++) {
        const i2v_room_face *F = &room.face[f];
        for (int i = 0; i < F->n; i++) {
            const int j = (i + 1) % F->n;
            draw_line(img, w, h, F->poly[i][0] / fit.sx, F->poly[i][1] / fit.sy,
                      F->poly[j][0] / fit.sx, F->poly[j][1] / fit.sy, 3, yellow);
        }
    }
    rc = write_png(png_path, img, w, h, err);
    if (!rc && room_out) *room_out = room;
out:
    i2v__rgb_release(&rgb);
    i2v__room_fit_release(&fit);
    free(grey);
    free(img);
    return rc;
}

const char *i2v__face_name(int f)
{
    return f >= 0 && f < I2V_FACE_COUNT ? face_names[f] : "?";
}
