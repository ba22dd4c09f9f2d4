/*
 * test_room.c - room geometry from one photo: line segments on drawn edges
 * and on noise, vanishing points and focal length from synthetic line sets
 * (exact vanishing points, noise and outliers) and from the POV-Ray renders
 * of tests/rooms (known intrinsics and pose), rooms and non-rooms among real
 * photos.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/lines.h"
#include "engine/room.h"
#include "engine/vanish.h"

#define DEG (M_PI / 180)

/* ---- line segments ---- */

/* A grey rectangle rotated by `angle` on a lighter background, anti-aliased
 * by 8x8 supersampling; its corners in *c. */
static float *rect_image(int w, int h, double angle, double c[4][2])
{
    float *img = malloc(sizeof(float) * (size_t)w * h);
    const double cx = w / 2.0, cy = h / 2.0, hw = w * 0.3, hh = h * 0.25;
    const double ca = cos(angle), sa = sin(angle);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int in = 0;
            for (int j = 0; j < 8; j++)
                for (int i = 0; i < 8; i++) {
                    const double px = x + (i + 0.5) / 8 - cx, py = y + (j + 0.5) / 8 - cy;
                    const double u = ca * px + sa * py, v = -sa * px + ca * py;
                    in += fabs(u) <= hw && fabs(v) <= hh;
                }
            img[(size_t)y * w + x] = (float)(200 - 120 * in / 64.0);
        }
    const double s[4][2] = {{-hw, -hh}, {hw, -hh}, {hw, hh}, {-hw, hh}};
    for (int k = 0; k < 4; k++) {
        c[k][0] = cx + ca * s[k][0] - sa * s[k][1];
        c[k][1] = cy + sa * s[k][0] + ca * s[k][1];
    }
    return img;
}

static void test_segments_on_drawn_edges(void **state)
{
    (void)state;
    double c[4][2];
    const int w = 320, h = 240;
    float *img = rect_image(w, h, 10 * DEG, c);
    i2v_segment *seg = NULL;
    int n = 0;
    assert_int_equal(i2v__lines_detect(img, w, h, &seg, &n, NULL), 0);
    /* Each edge of the rectangle: a segment along it, most of its length,
     * within 0.35 px and 0.3 degrees. */
    for (int k = 0; k < 4; k++) {
        const double *a = c[k], *b = c[(k + 1) % 4];
        const double len = hypot(b[0] - a[0], b[1] - a[1]);
        const double nx = -(b[1] - a[1]) / len, ny = (b[0] - a[0]) / len;
        int found = 0;
        for (int i = 0; i < n && !found; i++) {
            const i2v_segment *s = &seg[i];
            const double d1 = (s->x1 - a[0]) * nx + (s->y1 - a[1]) * ny;
            const double d2 = (s->x2 - a[0]) * nx + (s->y2 - a[1]) * ny;
            if (fabs(d1) < 0.35 && fabs(d2) < 0.35 && i2v__segment_length(s) > 0.8 * len) {
                const double ang = fabs(d2 - d1) / i2v__segment_length(s);
                found = ang < 0.3 * DEG;
                printf("edge %d: segment %.2f,%.2f -> %.2f,%.2f, offsets %.3f %.3f px\n", k, s->x1,
                       s->y1, s->x2, s->y2, d1, d2);
            }
        }
        assert_true(found);
    }
    free(seg);
    free(img);
}

static void test_no_segments_in_noise(void **state)
{
    (void)state;
    const int w = 256, h = 256;
    float *img = malloc(sizeof(float) * w * h);
    uint32_t s = 1;
    for (int i = 0; i < w * h; i++) {
        s = s * 1664525u + 1013904223u;
        img[i] = (float)(s >> 24);
    }
    i2v_segment *seg = NULL;
    int n = 0;
    assert_int_equal(i2v__lines_detect(img, w, h, &seg, &n, NULL), 0);
    printf("white noise: %d segments\n", n);
    assert_true(n <= 2); /* NFA <= 1: less than one false detection expected */
    free(seg);
    free(img);
}

/* ---- vanishing points and focal length on synthetic line sets ---- */

/* Room -> camera rotation for a camera turned `yaw` right and `pitch` up. */
static void camera_rotation(double yaw, double pitch, double R[9])
{
    const double y = yaw * DEG, p = pitch * DEG;
    const double fwd[3] = {sin(y) * cos(p), -sin(p), cos(y) * cos(p)};
    const double right[3] = {cos(y), 0, -sin(y)};
    const double down[3] = {fwd[1] * right[2] - fwd[2] * right[1],
                            fwd[2] * right[0] - fwd[0] * right[2],
                            fwd[0] * right[1] - fwd[1] * right[0]};
    for (int i = 0; i < 3; i++)
        R[i] = right[i], R[3 + i] = down[i], R[6 + i] = fwd[i];
}

static double gauss(uint32_t *s)
{
    double u = 0;
    for (int i = 0; i < 12; i++) {
        *s = *s * 1664525u + 1013904223u;
        u += (*s >> 8) / 16777216.0;
    }
    return u - 6;
}

static double uni(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return (*s >> 8) / 16777216.0;
}

/* Segments of 3D lines along the room axes seen by (f, R) in a w x h image,
 * end points with Gaussian noise of sigma px, plus a share of random
 * segments. */
static int synth_lines(double f, const double R[9], int w, int h, int per_axis, double sigma,
                       double outliers, i2v_segment *out, uint32_t seed)
{
    int n = 0;
    uint32_t s = seed;
    for (int k = 0; k < 3; k++)
        for (int tries = 0, got = 0; got < per_axis && tries < 100000; tries++) {
            /* A point seen at a random pixel, 2..8 m away, and a length along axis k. */
            const double u = uni(&s) * w, v = uni(&s) * h, z = 2 + 6 * uni(&s);
            const double pc[3] = {(u - w / 2.0) / f * z, (v - h / 2.0) / f * z, z};
            double P[3];
            for (int i = 0; i < 3; i++)
                P[i] = R[i] * pc[0] + R[3 + i] * pc[1] + R[6 + i] * pc[2];
            const double L = 0.3 + 1.2 * uni(&s);
            double e[2][2];
            int ok = 1;
            for (int j = 0; j < 2; j++) {
                double Q[3] = {P[0], P[1], P[2]}, q[3];
                Q[k] += (j ? 0.5 : -0.5) * L;
                for (int i = 0; i < 3; i++)
                    q[i] = R[i * 3] * Q[0] + R[i * 3 + 1] * Q[1] + R[i * 3 + 2] * Q[2];
                if (q[2] < 0.2) ok = 0;
                e[j][0] = f * q[0] / q[2] + w / 2.0 + sigma * gauss(&s);
                e[j][1] = f * q[1] / q[2] + h / 2.0 + sigma * gauss(&s);
                if (e[j][0] < 0 || e[j][1] < 0 || e[j][0] > w || e[j][1] > h) ok = 0;
            }
            if (!ok || hypot(e[1][0] - e[0][0], e[1][1] - e[0][1]) < 15) continue;
            out[n++] = (i2v_segment){e[0][0], e[0][1], e[1][0], e[1][1], 1, 10};
            got++;
        }
    const int nout = (int)(outliers / (1 - outliers) * n);
    for (int i = 0; i < nout; i++) {
        const double x = uni(&s) * w, y = uni(&s) * h, a = uni(&s) * M_PI, l = 20 + 130 * uni(&s);
        out[n++] = (i2v_segment){
            x, y, fmin(w, fmax(0, x + l * cos(a))), fmin(h, fmax(0, y + l * sin(a))), 1, 10};
    }
    return n;
}

/* Largest angle between a true room axis and the estimated one (sign and
 * the order of the two horizontal axes aside), degrees. */
static double axes_error(const double Rt[9], const double Re[9])
{
    double worst = 0;
    for (int k = 0; k < 3; k++) {
        double best = 180;
        for (int j = 0; j < 3; j++) {
            double dot = 0;
            for (int i = 0; i < 3; i++)
                dot += Rt[i * 3 + k] * Re[i * 3 + j];
            const double a = acos(fmin(1, fabs(dot))) / DEG;
            if (a < best) best = a;
        }
        if (best > worst) worst = best;
    }
    return worst;
}

typedef struct line_case {
    double yaw, pitch, f;
    int measured; /* the focal length is observable */
} line_case;

static void test_vanishing_points_from_synthetic_lines(void **state)
{
    (void)state;
    const int w = 960, h = 640;
    static const line_case cases[] = {
        {30, -10, 700, 1}, /* three finite vanishing points */
        {20, 0, 500, 1},   /* level: the vertical one at infinity */
        {-40, 8, 1100, 1}, /* long lens, looking up */
        {0, 0, 800, 0},    /* one-point perspective: f is not observable */
        {0, -12, 600, 1},  /* frontal, looking down: the lateral VP at infinity */
    };
    i2v_segment *seg = malloc(sizeof *seg * 1000);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const line_case *lc = &cases[c];
        double R[9];
        camera_rotation(lc->yaw, lc->pitch, R);
        const int n = synth_lines(lc->f, R, w, h, 80, 0.5, 0.3, seg, 7 + (uint32_t)c);
        i2v_manhattan m;
        i2v__manhattan_fit(seg, n, w, h, &m, NULL);
        assert_true(m.found);
        const double ferr = fabs(m.f / lc->f - 1), aerr = axes_error(R, m.R);
        printf("yaw %+.0f pitch %+.0f f %.0f: %d segments (30%% outliers, 0.5 px noise): "
               "f %.1f (%.2f%%, %s), axes within %.3f deg, inliers %.2f\n",
               lc->yaw, lc->pitch, lc->f, n, m.f, 100 * ferr,
               m.focal_measured ? "measured" : "prior", aerr, m.share);
        assert_true(aerr < 0.3);
        if (lc->measured) {
            assert_true(m.focal_measured);
            assert_true(ferr < 0.02);
        } else {
            assert_false(m.focal_measured);
        }
    }
    free(seg);
}

/* ---- the POV-Ray renders: known intrinsics and pose (tests/rooms/truth.json) ---- */

#define TRUE_F 457.0073621574767
#define TRUE_YAW 15.0
#define TRUE_PITCH -9.0

static void open_room(const char *path, i2v_room *r)
{
    i2v_photo *p = NULL;
    i2v_error err = {0};
    if (i2v_photo_open_file(&p, path, NULL, &err)) fail_msg("%s: %s", path, err.message);
    if (i2v_photo_room(p, r, &err)) fail_msg("%s: %s", path, err.message);
    i2v_photo_free(&p);
}

typedef struct render_case {
    const char *file;
    double forward; /* metres walked along the heading */
} render_case;

static void test_renders_give_the_true_camera(void **state)
{
    (void)state;
    static const render_case cases[] = {
        {"tests/rooms/dolly_00.png", 0},
        {"tests/rooms/night.png", 0},
        {"tests/rooms/dolly_08.png", 0.5},
        {"tests/rooms/dolly_16.png", 1.0},
    };
    double Rt[9];
    camera_rotation(TRUE_YAW, TRUE_PITCH, Rt);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        i2v_room r;
        open_room(cases[c].file, &r);
        const double ferr = fabs(r.focal / TRUE_F - 1), aerr = axes_error(Rt, r.rotation);
        /* The room: x -2.4..2.6, z -1..5; the camera at x 0.3 + 0.259 s, z 0.966 s. */
        const double back = 5.0 - 0.9659258 * cases[c].forward;
        const double right = 2.3 - 0.2588190 * cases[c].forward;
        const double derr = r.face[I2V_FACE_BACK].distance / back - 1;
        const double rerr = r.face[I2V_FACE_RIGHT].distance / right - 1;
        printf("%s: room %d (%.2f), f %.2f px (%.2f%%, %s), axes within %.3f deg, yaw %.2f "
               "pitch %.2f, back wall %.2f m (true %.2f, %+.1f%%), right wall %.2f m (true "
               "%.2f, %+.1f%%), ceiling %.2f m (true 1.20)\n",
               cases[c].file, r.is_room, r.confidence, r.focal, 100 * ferr,
               r.focal_measured ? "measured" : "prior", aerr, r.yaw, r.pitch,
               r.face[I2V_FACE_BACK].distance, back, 100 * derr, r.face[I2V_FACE_RIGHT].distance,
               right, 100 * rerr, r.face[I2V_FACE_CEILING].distance);
        assert_true(r.is_room);
        assert_true(r.focal_measured);
        assert_true(ferr < 0.01);
        assert_true(aerr < 0.3);
        assert_true(fabs(r.yaw - TRUE_YAW) < 0.3 && fabs(r.pitch - TRUE_PITCH) < 0.3);
        assert_true(fabs(r.roll) < 0.3);
        assert_true(fabs(r.face[I2V_FACE_FLOOR].distance - 1.5) < 1e-9); /* by assumption */
        /* The floor-wall edge is found on the baseboard's top (0.09 m up):
         * the back wall comes out ~6% far; 12% is the tolerance. The right
         * wall is ~6% far too, except where the cabinet standing against it
         * is taken for the wall (-24% from 0.5 m in): 30%. */
        assert_true(fabs(derr) < 0.12);
        assert_true(fabs(rerr) < 0.30);
        assert_true(r.face[I2V_FACE_FLOOR].visible && r.face[I2V_FACE_BACK].visible &&
                    r.face[I2V_FACE_RIGHT].visible);
    }
}

/* ---- real photos ---- */

static void test_non_rooms_are_not_taken_for_rooms(void **state)
{
    (void)state;
    static const char *const photos[] = {
        "photos/Bridge_by_Sander_Klootwijk.jpg",
        "photos/Dragonfly_by_Bolly.jpg",
        "photos/Kleiber_by_Lukas_Baubkus.jpg",
        "photos/picosdeeuropa_by_Aitzol_Berasategi.jpg",
        "photos/seeding_by_Clements_Engelhardt.jpg",
        "photos/sunset_by_Aitzol_Berasategi.jpg",
        "photos/coffee.png",
    };
    for (size_t i = 0; i < sizeof photos / sizeof photos[0]; i++) {
        i2v_room r;
        open_room(photos[i], &r);
        printf("%s: room %d, confidence %.3f: %s\n", photos[i], r.is_room, r.confidence, r.reason);
        assert_false(r.is_room);
        assert_true(r.confidence < I2V_ROOM_THRESHOLD);
        assert_true(strlen(r.reason) > 10);
    }
}

static void test_real_interiors(void **state)
{
    (void)state;
    static const struct {
        const char *path;
        int room; /* 1: must be taken for a room; -1: not asserted (see the note) */
    } photos[] = {
        {"photos/interiors/kitchen_blue-white-island_NeONBRAND_CC0.jpg", 1},
        {"photos/interiors/kitchen_corner-sink_amslerPIX_CC-BY-2.0.jpg", 1},
        {"photos/interiors/kitchen_terrytown-lamps-on_Infrogmation_CC-BY-SA-4.0.jpg", 1},
        {"photos/interiors/livingroom_sofa-balcony-window_Shixart1985_CC-BY-2.0.jpg", 1},
        /* A close, tilted view of a bed: the diagonal headboard and the curtains'
         * folds win the vanishing point vote; not found as a room (known miss). */
        {"photos/interiors/bedroom_pillows-drapes_Shixart1985_CC-BY-2.0.jpg", -1},
        /* An interior too (a table, a bottle, a drum before a glass-block wall). */
        {"photos/Wine_by_Jakkub_Mede.jpg", -1},
    };
    for (size_t i = 0; i < sizeof photos / sizeof photos[0]; i++) {
        i2v_room r;
        open_room(photos[i].path, &r);
        printf("%s: room %d, confidence %.3f (%s), f %.0f px = %.1f mm (%s), yaw %.1f pitch "
               "%.1f roll %.1f, layout support %.2f\n",
               photos[i].path, r.is_room, r.confidence, r.reason, r.focal, r.focal_35mm,
               r.focal_measured ? "measured" : "prior", r.yaw, r.pitch, r.roll, r.layout_support);
        if (photos[i].room == 1) {
            assert_true(r.is_room);
            assert_true(r.focal_35mm > 12 && r.focal_35mm < 60);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_segments_on_drawn_edges),
        cmocka_unit_test(test_no_segments_in_noise),
        cmocka_unit_test(test_vanishing_points_from_synthetic_lines),
        cmocka_unit_test(test_renders_give_the_true_camera),
        cmocka_unit_test(test_non_rooms_are_not_taken_for_rooms),
        cmocka_unit_test(test_real_interiors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
