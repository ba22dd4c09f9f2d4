/* fl3d.c - two photos as two viewpoints of one room (see fl3d.h). */
#include "fl3d.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "align.h"
#include "vanish.h"

#define YAW_MAX 30.0     /* degrees between the two headings */
#define TILT_MAX 5.0     /* degrees of pitch or roll between them */
#define EPI_DIAG 0.006   /* epipolar consensus: Sampson error, share of the diagonal */
#define REPROJ_DIAG 0.02 /* reprojection consensus (box depths are rough) */
#define FLOOR_MIN 6      /* floor points needed to check the depth scale */
#define WALK_AGREE 1.4   /* walls and points may differ by this factor on the distance */
#define INLIERS_MIN 10
#define WALL_TOL_M 0.25 /* a wall seen in both may be off by this ... */
#define WALL_TOL 0.15   /* ... plus this share of its distance */
#define SUPPORT_MIN 0.3 /* a wall "seen" when image lines confirm this share of its edges */
#define MOVE_MIN 0.03   /* metres: below this it is one viewpoint */
#define MOVE_MAX 4.0
#define INSIDE_M 0.25 /* the camera stays this far inside both boxes */

static void mul3(const double A[9], const double B[9], double C[9])
{
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++)
            C[r * 3 + c] = A[r * 3] * B[c] + A[r * 3 + 1] * B[3 + c] + A[r * 3 + 2] * B[6 + c];
}

static void mulv(const double A[9], const double v[3], double o[3])
{
    for (int r = 0; r < 3; r++)
        o[r] = A[r * 3] * v[0] + A[r * 3 + 1] * v[1] + A[r * 3 + 2] * v[2];
}

static void mulTv(const double A[9], const double v[3], double o[3])
{
    for (int r = 0; r < 3; r++)
        o[r] = A[r] * v[0] + A[3 + r] * v[1] + A[6 + r] * v[2];
}

/* Where the ray through photo pixel (x, y) meets the room's box (camera
 * coordinates); the face it meets, or -1 when it meets none. */
static int box_point(const i2v_room *r, double x, double y, double X[3])
{
    const double ray[3] = {(x - r->width / 2.0) / r->focal, (y - r->height / 2.0) / r->focal, 1};
    double best = INFINITY;
    int face = -1;
    for (int k = 0; k < I2V_FACE_COUNT; k++) {
        const double *n = r->face[k].normal;
        const double t = n[0] * ray[0] + n[1] * ray[1] + n[2] * ray[2];
        if (t <= 1e-9) continue;
        const double lam = r->face[k].distance / t;
        if (lam < best) best = lam, face = k;
    }
    if (face < 0) return -1;
    for (int i = 0; i < 3; i++)
        X[i] = best * ray[i];
    return face;
}

typedef struct obs {
    int face;      /* the first room's face the point lies on */
    double Y[3];   /* the point in the second camera's axes, before the offset */
    double xn, yn; /* where it was matched, normalised second-photo coordinates */
} obs;

/* The squared reprojection error (normalised units) of o for offset t
 * (second camera axes); INFINITY when the point falls behind the camera. */
static double residual2(const obs *o, const double t[3])
{
    const double z = o->Y[2] - t[2];
    if (z < 0.1) return INFINITY;
    const double ex = (o->Y[0] - t[0]) / z - o->xn, ey = (o->Y[1] - t[1]) / z - o->yn;
    return ex * ex + ey * ey;
}

/* The squared Sampson error (normalised units) of o for the essential
 * matrix [t]x with the rotation already applied (t need not be unit). */
static double sampson2(const obs *o, const double t[3])
{
    const double x2[3] = {o->xn, o->yn, 1};
    const double *y = o->Y;
    /* E y = t x y, E^T x2 = -(t x x2) = x2 x t. */
    const double Ey[3] = {t[1] * y[2] - t[2] * y[1], t[2] * y[0] - t[0] * y[2],
                          t[0] * y[1] - t[1] * y[0]};
    const double Ex[3] = {x2[1] * t[2] - x2[2] * t[1], x2[2] * t[0] - x2[0] * t[2],
                          x2[0] * t[1] - x2[1] * t[0]};
    const double r = x2[0] * Ey[0] + x2[1] * Ey[1] + x2[2] * Ey[2];
    const double g = Ey[0] * Ey[0] + Ey[1] * Ey[1] + Ex[0] * Ex[0] + Ex[1] * Ex[1];
    return g > 1e-30 ? r * r / g : INFINITY;
}

/* The signed distance along dir (second camera axes) that best reprojects
 * the epipolar-consenting points of o on face (-1: any face), by a
 * truncated least-squares search over a grid; *used: how many there were. */
static double walk_along(const obs *o, int m, const double dir[3], int face, double ethr2,
                         double rthr2, int *used)
{
    *used = 0;
    for (int i = 0; i < m; i++)
        if ((face < 0 || o[i].face == face) && sampson2(&o[i], dir) <= ethr2) (*used)++;
    double s = 0, best = INFINITY;
    for (int step = 0; step < 2; step++) {
        const double c0 = s;
        for (int q = -400; q <= 400; q++) {
            const double sc = step ? c0 + q * 0.0001 : q * (MOVE_MAX / 400);
            const double t[3] = {sc * dir[0], sc * dir[1], sc * dir[2]};
            double cost = 0;
            for (int i = 0; i < m; i++)
                if ((face < 0 || o[i].face == face) && sampson2(&o[i], dir) <= ethr2)
                    cost += fmin(residual2(&o[i], t), rthr2);
            if (cost < best) best = cost, s = sc;
        }
    }
    return s;
}

static int inside(const i2v_room *r, const double C[3])
{
    for (int k = 0; k < I2V_FACE_COUNT; k++) {
        const double *n = r->face[k].normal;
        if (r->face[k].distance - (n[0] * C[0] + n[1] * C[1] + n[2] * C[2]) < INSIDE_M) return 0;
    }
    return 1;
}

int i2v__fl3d_relate(const i2v_room *a, const i2v_room *b, const double (*match)[4], int n,
                     i2v_fl3d *out, char *why, size_t why_len)
{
    static const char *const face_name[] = {"floor", "ceiling", "left wall", "right wall",
                                            "back wall"};
    memset(out, 0, sizeof *out);
    for (int i = 0; i < 3; i++)
        out->T_box[i] = NAN;
    if (!a->is_room || !b->is_room) {
        const i2v_room *r = a->is_room ? b : a;
        snprintf(why, why_len, "the %s photo is not taken for a room (confidence %.2f): %s",
                 a->is_room ? "last" : "first", r->confidence, r->reason);
        return -1;
    }
    /* The relative rotation, and that it is a turn about the vertical. */
    double R1T[9];
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++)
            R1T[r * 3 + c] = a->rotation[c * 3 + r];
    mul3(b->rotation, R1T, out->Rc);
    double dyaw = b->yaw - a->yaw;
    dyaw -= 360 * floor((dyaw + 180) / 360);
    out->dyaw = dyaw;
    out->dpitch = b->pitch - a->pitch;
    const double droll = b->roll - a->roll;
    if (fabs(dyaw) > YAW_MAX) {
        snprintf(why, why_len,
                 "the rooms' axes are %.0f degrees apart (at most %.0f: one room seen from nearby)",
                 fabs(dyaw), YAW_MAX);
        return -1;
    }
    if (fabs(out->dpitch) > TILT_MAX || fabs(droll) > TILT_MAX) {
        snprintf(why, why_len,
                 "the cameras' tilt differs by %.1f degrees of pitch and %.1f of roll (at most "
                 "%.0f)",
                 out->dpitch, droll, TILT_MAX);
        return -1;
    }
    {
        const double *R = out->Rc;
        const double c = fmax(-1, fmin(1, 0.5 * (R[0] + R[4] + R[8] - 1))), th = acos(c);
        const double v[3] = {R[7] - R[5], R[2] - R[6], R[3] - R[1]};
        const double s = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
        for (int i = 0; i < 3; i++)
            out->w[i] = s > 1e-12 ? v[i] / s * th : 0.5 * v[i];
    }

    /* The matches: rays of the first camera turned into the second's axes,
     * with the point where they meet the first room's box. */
    obs o[I2V_ALIGN_KEEP];
    int m = 0;
    for (int i = 0; i < n && m < I2V_ALIGN_KEEP; i++) {
        double X[3];
        o[m].face = box_point(a, match[i][0], match[i][1], X);
        if (o[m].face < 0) continue;
        mulv(out->Rc, X, o[m].Y);
        o[m].xn = (match[i][2] - b->width / 2.0) / b->focal;
        o[m].yn = (match[i][3] - b->height / 2.0) / b->focal;
        m++;
    }
    out->matches = m;
    if (m < INLIERS_MIN) {
        snprintf(why, why_len, "too few matching points to place the last viewpoint (%d)", m);
        return -1;
    }
    /* The offset is horizontal (both at eye height): cos(phi) along the
     * room's X, sin(phi) along its Z, in the second camera's axes. Its
     * direction needs no depth: the epipolar constraint (y x x2) . t = 0,
     * scored by the Sampson error over a fine grid of directions. */
    const double A[3] = {b->rotation[0], b->rotation[3], b->rotation[6]};
    const double B[3] = {b->rotation[2], b->rotation[5], b->rotation[8]};
    const double diag = hypot(b->width, b->height);
    const double ethr = EPI_DIAG * diag / b->focal, ethr2 = ethr * ethr;
    double best_phi = 0, best_cost = INFINITY;
    for (int step = 0; step < 2; step++) {
        const double c0 = best_phi;
        const int nphi = step ? 200 : 1800;
        for (int q = 0; q < nphi; q++) {
            const double phi = step ? c0 + (q - nphi / 2) * (M_PI / 1800) / 100
                                    : q * M_PI / nphi; /* sign: later */
            const double cp = cos(phi), sp = sin(phi);
            const double t[3] = {cp * A[0] + sp * B[0], cp * A[1] + sp * B[1],
                                 cp * A[2] + sp * B[2]};
            double cost = 0;
            for (int i = 0; i < m; i++)
                cost += fmin(sampson2(&o[i], t), ethr2);
            if (cost < best_cost) best_cost = cost, best_phi = phi;
        }
    }
    {
        /* Refined over the consenting matches alone, with a bounded
         * influence (Geman-McClure) so that an outlier that happens to fall
         * inside the threshold pulls little. */
        const double c0 = best_phi, sig2 = ethr2 / 16;
        const double t0[3] = {cos(c0) * A[0] + sin(c0) * B[0], cos(c0) * A[1] + sin(c0) * B[1],
                              cos(c0) * A[2] + sin(c0) * B[2]};
        unsigned char keep[I2V_ALIGN_KEEP];
        for (int i = 0; i < m; i++)
            keep[i] = sampson2(&o[i], t0) <= ethr2;
        best_cost = INFINITY;
        for (int q = -1000; q <= 1000; q++) {
            const double phi = c0 + q * (M_PI / 1800) / 1000;
            const double cp = cos(phi), sp = sin(phi);
            const double t[3] = {cp * A[0] + sp * B[0], cp * A[1] + sp * B[1],
                                 cp * A[2] + sp * B[2]};
            double cost = 0;
            for (int i = 0; i < m; i++)
                if (keep[i]) {
                    const double r2 = sampson2(&o[i], t);
                    cost += r2 / (r2 + sig2);
                }
            if (cost < best_cost) best_cost = cost, best_phi = phi;
        }
    }
    double dir[3] = {cos(best_phi) * A[0] + sin(best_phi) * B[0],
                     cos(best_phi) * A[1] + sin(best_phi) * B[1],
                     cos(best_phi) * A[2] + sin(best_phi) * B[2]};
    int in = 0;
    double sse = 0;
    for (int i = 0; i < m; i++) {
        const double r2 = sampson2(&o[i], dir);
        if (r2 <= ethr2) in++, sse += r2;
    }
    out->inliers = in;
    out->rms_px = in ? sqrt(sse / in) * b->focal : 0;
    if (in < INLIERS_MIN || in * 3 < m) {
        snprintf(why, why_len,
                 "the photos' matching points do not fit two level viewpoints of one room (%d of "
                 "%d agree)",
                 in, m);
        return -1;
    }
    /* How far, and which way, from the points on the first box. */
    const double rthr = REPROJ_DIAG * diag / b->focal;
    int used;
    double s_m = walk_along(o, m, dir, -1, ethr * ethr, rthr * rthr, &used);
    if (s_m < 0) {
        s_m = -s_m;
        for (int i = 0; i < 3; i++)
            dir[i] = -dir[i];
        best_phi += M_PI;
    }
    /* The floor is where the scale comes from (the eye height): its points
     * alone must agree. */
    const double s_f = walk_along(o, m, dir, I2V_FACE_FLOOR, ethr * ethr, rthr * rthr, &used);
    out->floor_points = used;
    out->walk_floor = s_f;
    if (used >= FLOOR_MIN && fabs(log(fmax(s_f, 1e-9) / fmax(s_m, 1e-9))) > log(WALK_AGREE)) {
        snprintf(why, why_len,
                 "the rooms' depths disagree: the matching points on the floor put the last "
                 "viewpoint %.2f m away, all of them %.2f m",
                 s_f, s_m);
        return -1;
    }
    out->walk_points = s_m;
    /* The walls seen in both photos say how far too: a wall's distance
     * changes by the offset along its normal (room axes: left -X, right +X,
     * back +Z). */
    static const int walls[3] = {I2V_FACE_LEFT, I2V_FACE_RIGHT, I2V_FACE_BACK};
    static const double along[3][2] = {{-1, 0}, {1, 0}, {0, 1}};
    const double ux = cos(best_phi), uz = sin(best_phi);
    double num = 0, den = 0, sum_x = 0;
    int nx = 0, seen = 0;
    for (int q = 0; q < 3; q++) {
        const i2v_room_face *fa = &a->face[walls[q]], *fb = &b->face[walls[q]];
        if (!fa->visible || !fb->visible || fa->support < SUPPORT_MIN || fb->support < SUPPORT_MIN)
            continue;
        seen |= 1 << q;
        const double g = along[q][0] * ux + along[q][1] * uz, dd = fa->distance - fb->distance;
        num += g * dd, den += g * g;
        if (q < 2)
            sum_x += q ? dd : -dd, nx++;
        else
            out->T_box[2] = dd;
    }
    if (nx) out->T_box[0] = sum_x / nx, out->T_box[1] = 0;
    if (!seen) {
        snprintf(why, why_len, "no wall is seen clearly in both photos to check the rooms agree");
        return -1;
    }
    double dist = s_m;
    if (den >= 0.25) {
        const double s_w = num / den;
        out->walk_walls = s_w;
        if (fmax(fabs(s_w), s_m) < MOVE_MIN) {
            snprintf(why, why_len, "one viewpoint (%.2f m apart): nothing to walk", s_m);
            return -1;
        }
        if (!(s_w > 0) || fabs(log(s_w / fmax(s_m, 1e-9))) > log(WALK_AGREE)) {
            snprintf(why, why_len,
                     "the rooms disagree: their walls put the last viewpoint %.2f m away, the "
                     "matching points %.2f m",
                     s_w, s_m);
            return -1;
        }
        dist = s_w;
    }
    if (dist < MOVE_MIN) {
        snprintf(why, why_len, "one viewpoint (%.2f m apart): nothing to walk", dist);
        return -1;
    }
    if (dist > MOVE_MAX) {
        snprintf(why, why_len, "the viewpoints are %.1f m apart (at most %.0f)", dist, MOVE_MAX);
        return -1;
    }
    const double t[3] = {dist * dir[0], dist * dir[1], dist * dir[2]};
    out->T[0] = dist * ux, out->T[1] = 0, out->T[2] = dist * uz;
    mulTv(out->Rc, t, out->C2);
    /* Every wall seen in both where the first room, moved, puts it. */
    for (int q = 0; q < 3; q++) {
        if (!(seen >> q & 1)) continue;
        const int k = walls[q];
        const double want =
            a->face[k].distance - (along[q][0] * out->T[0] + along[q][1] * out->T[2]);
        const double err = b->face[k].distance - want;
        if (fabs(err) > out->wall_err) out->wall_err = fabs(err);
        if (fabs(err) > WALL_TOL_M + WALL_TOL * b->face[k].distance) {
            snprintf(why, why_len,
                     "the rooms disagree: the %s is %.2f m from the last viewpoint, %.2f m in the "
                     "first room moved by the viewpoints' offset",
                     face_name[k], b->face[k].distance, want);
            return -1;
        }
    }
    const double zero[3] = {0, 0, 0};
    double C1in2[3];
    for (int i = 0; i < 3; i++)
        C1in2[i] = -t[i];
    if (!inside(a, zero) || !inside(a, out->C2) || !inside(b, zero) || !inside(b, C1in2)) {
        snprintf(why, why_len, "the walk between the viewpoints leaves one of the rooms");
        return -1;
    }
    return 0;
}

i2v_cam3d i2v__fl3d_pose(const i2v_fl3d *f, double e, int k)
{
    i2v_cam3d c;
    memset(&c, 0, sizeof c);
    c.zoom = 1;
    c.has_k = 1;
    c.fo = exp((1 - e) * log(f->fo[0]) + e * log(f->fo[1]));
    c.cox = (1 - e) * f->cox[0] + e * f->cox[1];
    c.coy = (1 - e) * f->coy[0] + e * f->coy[1];
    /* In the first camera's coordinates: along the straight line, turning
     * at an even rate about the relative rotation's axis. */
    double C[3], Rf[9];
    for (int i = 0; i < 3; i++)
        C[i] = e * f->C2[i];
    const double th = sqrt(f->w[0] * f->w[0] + f->w[1] * f->w[1] + f->w[2] * f->w[2]);
    if (th > 1e-12) {
        const double ax[3] = {f->w[0] / th, f->w[1] / th, f->w[2] / th};
        i2v__axis_rotation(ax, e * th, Rf);
    } else {
        memset(Rf, 0, sizeof Rf);
        Rf[0] = Rf[4] = Rf[8] = 1;
    }
    if (k == 0) {
        memcpy(c.C, C, sizeof c.C);
        memcpy(c.Rf, Rf, sizeof c.Rf);
        return c;
    }
    /* In the second camera's: X2 = Rc (X1 - C2). */
    double d[3], RcT[9];
    for (int i = 0; i < 3; i++)
        d[i] = C[i] - f->C2[i];
    mulv(f->Rc, d, c.C);
    for (int r = 0; r < 3; r++)
        for (int q = 0; q < 3; q++)
            RcT[r * 3 + q] = f->Rc[q * 3 + r];
    mul3(Rf, RcT, c.Rf);
    return c;
}
