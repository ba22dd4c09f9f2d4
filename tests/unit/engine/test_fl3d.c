/*
 * test_fl3d.c - two photos as two viewpoints of one room: synthetic rooms
 * seen from two known poses, their matches projected through the box (with
 * outliers); the offset and turn come back, the walk's poses start and end
 * on the two cameras, and rooms that disagree (a wall moved, a tilted second
 * camera, not a room) are refused with the reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine/fl3d.h"
#include "engine/vanish.h"

#define PW 640
#define PH 360
#define FOCAL 457.0

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

/* A room seen by a camera at room position P (metres, X lateral, Y down, Z
 * depth; the box spans X -2.7..2.3, Y -1.2..1.5, Z ..5 around the origin),
 * turned by yaw and pitched by pitch (degrees). */
static void room_at(i2v_room *r, const double P[3], double yaw, double pitch)
{
    memset(r, 0, sizeof *r);
    r->is_room = 1;
    r->confidence = 1;
    r->width = PW, r->height = PH;
    r->focal = FOCAL;
    r->yaw = yaw, r->pitch = pitch;
    const double up[3] = {0, 1, 0}, side[3] = {1, 0, 0};
    double Ry[9], Rx[9];
    i2v__axis_rotation(up, -yaw * M_PI / 180, Ry);
    i2v__axis_rotation(side, pitch * M_PI / 180, Rx);
    mul3(Rx, Ry, r->rotation);
    static const double n_room[I2V_FACE_COUNT][3] = {
        {0, 1, 0}, {0, -1, 0}, {-1, 0, 0}, {1, 0, 0}, {0, 0, 1}};
    static const double d_room[I2V_FACE_COUNT] = {1.5, 1.2, 2.7, 2.3, 5.0};
    for (int k = 0; k < I2V_FACE_COUNT; k++) {
        mulv(r->rotation, n_room[k], r->face[k].normal);
        const double *n = n_room[k];
        r->face[k].distance = d_room[k] - (n[0] * P[0] + n[1] * P[1] + n[2] * P[2]);
        r->face[k].visible = 1;
        r->face[k].support = 0.8;
    }
}

/* Matches: a grid of photo-a pixels traced into a's box and projected into
 * b; with outliers, every third one replaced by an unrelated pair. */
static int make_matches(const i2v_room *a, const i2v_room *b, const double Pa[3],
                        const double Pb[3], double (*m)[4], int outliers)
{
    double RaT[9];
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++)
            RaT[r * 3 + c] = a->rotation[c * 3 + r];
    int n = 0;
    unsigned rng = 12345;
    for (int j = 0; j < 9; j++)
        for (int i = 0; i < 16; i++) {
            const double x = 20 + i * 40.0, y = 20 + j * 40.0;
            const double ray[3] = {(x - PW / 2.0) / FOCAL, (y - PH / 2.0) / FOCAL, 1};
            double lam = INFINITY;
            for (int k = 0; k < I2V_FACE_COUNT; k++) {
                const double *nn = a->face[k].normal;
                const double t = nn[0] * ray[0] + nn[1] * ray[1] + nn[2] * ray[2];
                if (t > 1e-9) lam = fmin(lam, a->face[k].distance / t);
            }
            /* camera a -> room -> camera b */
            double Xc[3] = {lam * ray[0], lam * ray[1], lam * ray[2]}, Xr[3], Xb[3];
            mulv(RaT, Xc, Xr);
            for (int c = 0; c < 3; c++)
                Xr[c] += Pa[c] - Pb[c];
            mulv(b->rotation, Xr, Xb);
            if (Xb[2] < 0.1) continue;
            const double u = PW / 2.0 + FOCAL * Xb[0] / Xb[2];
            const double v = PH / 2.0 + FOCAL * Xb[1] / Xb[2];
            if (u < 0 || v < 0 || u >= PW || v >= PH) continue;
            m[n][0] = x, m[n][1] = y, m[n][2] = u, m[n][3] = v;
            if (outliers && n % 3 == 2) {
                rng = rng * 1103515245u + 12345u;
                m[n][2] = (rng >> 8) % PW;
                rng = rng * 1103515245u + 12345u;
                m[n][3] = (rng >> 8) % PH;
            }
            n++;
        }
    return n;
}

static void test_two_viewpoints_of_one_room(void **state)
{
    (void)state;
    const double Pa[3] = {0, 0, 0}, Pb[3] = {0.3, 0, 0.8};
    i2v_room a, b;
    room_at(&a, Pa, 15, -9);
    room_at(&b, Pb, 25, -9);
    double m[200][4], want[3];
    mulv(a.rotation, Pb, want); /* the truth, in camera a's coordinates */
    i2v_fl3d f;
    for (int outliers = 0; outliers < 2; outliers++) {
        const int n = make_matches(&a, &b, Pa, Pb, m, outliers);
        assert_true(n > 40);
        char why[256] = "";
        const int rc = i2v__fl3d_relate(&a, &b, (const double(*)[4])m, n, &f, why, sizeof why);
        const double err =
            sqrt(pow(f.C2[0] - want[0], 2) + pow(f.C2[1] - want[1], 2) + pow(f.C2[2] - want[2], 2));
        printf("outliers %d: rc %d (%s): C2 %.4f %.4f %.4f (true %.4f %.4f %.4f, error %.4f m), "
               "turn %.2f deg, %d of %d agree, walls %.4f m, points %.4f m\n",
               outliers, rc, why, f.C2[0], f.C2[1], f.C2[2], want[0], want[1], want[2], err, f.dyaw,
               f.inliers, f.matches, f.walk_walls, f.walk_points);
        assert_int_equal(rc, 0);
        /* Exact matches: exact; a third of them unrelated: within 1 cm (the
         * few that fall near the epipolar lines by chance pull a little). */
        assert_true(err < (outliers ? 0.01 : 1e-4));
        assert_true(fabs(f.dyaw - 10) < 1e-9);
        assert_true(fabs(f.walk_walls - hypot(0.3, 0.8)) < (outliers ? 0.01 : 1e-4));
    }
    /* The walk: from camera a (photo a's own pose) to camera b. */
    f.fo[0] = f.fo[1] = 500, f.cox[0] = f.cox[1] = 320, f.coy[0] = f.coy[1] = 180;
    const i2v_cam3d s0 = i2v__fl3d_pose(&f, 0, 0), s1 = i2v__fl3d_pose(&f, 1, 1);
    const i2v_cam3d e0 = i2v__fl3d_pose(&f, 1, 0), e1 = i2v__fl3d_pose(&f, 0, 1);
    for (int i = 0; i < 9; i++) {
        assert_true(fabs(s0.Rf[i] - (i % 4 == 0)) < 1e-12);
        assert_true(fabs(s1.Rf[i] - (i % 4 == 0)) < 1e-12);
        assert_true(fabs(e0.Rf[i] - f.Rc[i]) < 1e-12); /* a's render ends looking as b */
    }
    for (int i = 0; i < 3; i++) {
        assert_true(fabs(s0.C[i]) < 1e-12 && fabs(s1.C[i]) < 1e-12);
        assert_true(fabs(e0.C[i] - f.C2[i]) < 1e-12);
    }
    /* b's render starts at a's camera: X_b = Rc (X_a - C2) at X_a = 0. */
    double cb[3], neg[3] = {-f.C2[0], -f.C2[1], -f.C2[2]};
    mulv(f.Rc, neg, cb);
    for (int i = 0; i < 3; i++)
        assert_true(fabs(e1.C[i] - cb[i]) < 1e-12);
}

static void test_rooms_that_disagree_are_refused(void **state)
{
    (void)state;
    const double Pa[3] = {0, 0, 0}, Pb[3] = {0.3, 0, 0.8};
    i2v_room a, b;
    double m[200][4];
    i2v_fl3d f;
    char why[256];
    /* The second layout's back wall a metre too far. */
    room_at(&a, Pa, 15, -9);
    room_at(&b, Pb, 25, -9);
    int n = make_matches(&a, &b, Pa, Pb, m, 1);
    b.face[I2V_FACE_BACK].distance += 1.0;
    assert_int_equal(i2v__fl3d_relate(&a, &b, (const double(*)[4])m, n, &f, why, sizeof why), -1);
    printf("back wall moved: %s\n", why);
    assert_non_null(strstr(why, "disagree"));
    /* A second camera pitched 8 degrees more. */
    room_at(&b, Pb, 25, -17);
    n = make_matches(&a, &b, Pa, Pb, m, 1);
    assert_int_equal(i2v__fl3d_relate(&a, &b, (const double(*)[4])m, n, &f, why, sizeof why), -1);
    printf("tilted: %s\n", why);
    assert_non_null(strstr(why, "tilt"));
    /* Headings 50 degrees apart. */
    room_at(&b, Pb, 65, -9);
    assert_int_equal(i2v__fl3d_relate(&a, &b, (const double(*)[4])m, n, &f, why, sizeof why), -1);
    assert_non_null(strstr(why, "degrees apart"));
    /* Not a room. */
    room_at(&b, Pb, 25, -9);
    b.is_room = 0;
    snprintf(b.reason, sizeof b.reason, "few lines");
    assert_int_equal(i2v__fl3d_relate(&a, &b, (const double(*)[4])m, n, &f, why, sizeof why), -1);
    assert_non_null(strstr(why, "the last photo is not taken for a room"));
    /* Matches that are all noise. */
    room_at(&b, Pb, 25, -9);
    n = make_matches(&a, &b, Pa, Pb, m, 1);
    for (int i = 0; i < n; i++)
        m[i][2] = fmod(m[i][2] * 7.3 + 101, PW), m[i][3] = fmod(m[i][3] * 5.1 + 37, PH);
    assert_int_equal(i2v__fl3d_relate(&a, &b, (const double(*)[4])m, n, &f, why, sizeof why), -1);
    printf("noise: %s\n", why);
    /* The same viewpoint: nothing to walk. */
    room_at(&b, Pa, 15, -9);
    n = make_matches(&a, &b, Pa, Pa, m, 1);
    assert_int_equal(i2v__fl3d_relate(&a, &b, (const double(*)[4])m, n, &f, why, sizeof why), -1);
    assert_non_null(strstr(why, "one viewpoint"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_viewpoints_of_one_room),
        cmocka_unit_test(test_rooms_that_disagree_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
