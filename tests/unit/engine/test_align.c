/* test_align.c - feature matching and homography estimation (src/engine/align.c). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/align.h"
#include "engine/photo.h"

/* A real photo, decoded at about 1/4 size. */
static i2v_rgb load(const char *path)
{
    i2v_photo *p = NULL;
    i2v_error err = {0};
    i2v_rgb rgb = {0};
    if (i2v_photo_open_file(&p, path, NULL, &err)) fail_msg("%s", err.message);
    if (i2v__photo_decode(p, 1000, 560, &rgb, &err)) fail_msg("%s", err.message);
    i2v_photo_free(&p);
    return rgb;
}

/* Grey crop (x, y, w, h) of rgb, resampled bilinearly by `zoom` (output pixel
 * (u, v) shows source (x + u / zoom, y + v / zoom)). */
static i2v_grey crop(const i2v_rgb *rgb, double x, double y, int w, int h, double zoom)
{
    i2v_grey g = {w, h, 1, malloc(sizeof(float) * w * h)};
    for (int v = 0; v < h; v++)
        for (int u = 0; u < w; u++) {
            const double sx = x + (u + 0.5) / zoom - 0.5, sy = y + (v + 0.5) / zoom - 0.5;
            const int x0 = (int)sx, y0 = (int)sy;
            const double fx = sx - x0, fy = sy - y0;
            double acc = 0;
            for (int k = 0; k < 4; k++) {
                const int xx = x0 + (k & 1), yy = y0 + (k >> 1);
                const uint8_t *p = rgb->pixels + ((size_t)yy * rgb->width + xx) * 3;
                const double l = (0.2126 * p[0] + 0.7152 * p[1] + 0.0722 * p[2]) / 255.0;
                acc += l * ((k & 1) ? fx : 1 - fx) * ((k >> 1) ? fy : 1 - fy);
            }
            g.px[v * w + u] = (float)acc;
        }
    return g;
}

static void test_shift_is_recovered(void **state)
{
    (void)state;
    i2v_rgb rgb = load("photos/Bridge_by_Sander_Klootwijk.jpg");
    const int shifts[][2] = {{37, -11}, {-90, 24}, {0, 0}, {150, 60}};
    for (size_t i = 0; i < sizeof shifts / sizeof shifts[0]; i++) {
        const int dx = shifts[i][0], dy = shifts[i][1];
        i2v_grey a = crop(&rgb, 200, 100, 640, 360, 1.0);
        i2v_grey b = crop(&rgb, 200 + dx, 100 + dy, 640, 360, 1.0);
        i2v_align al;
        assert_int_equal(i2v__align(&a, &b, &al, NULL), 0);
        print_message("shift %d,%d: features %d/%d matches %d inliers %d rms %.2f H %.4f %.4f "
                      "%.2f / %.4f %.4f %.2f\n",
                      dx, dy, al.features_a, al.features_b, al.matches, al.inliers, al.rms, al.H[0],
                      al.H[1], al.H[2], al.H[3], al.H[4], al.H[5]);
        assert_true(al.found);
        /* A point of a lies at (x - dx, y - dy) in b: check over the frame. */
        for (int y = 0; y <= 360; y += 90)
            for (int x = 0; x <= 640; x += 160) {
                double ox, oy;
                i2v__homography_apply(al.H, x, y, &ox, &oy);
                assert_true(fabs(ox - (x - dx)) < 1.0);
                assert_true(fabs(oy - (y - dy)) < 1.0);
            }
        i2v__grey_release(&a);
        i2v__grey_release(&b);
    }
    i2v__rgb_release(&rgb);
}

static void test_zoom_is_recovered(void **state)
{
    (void)state;
    i2v_rgb rgb = load("photos/sunset_by_Aitzol_Berasategi.jpg");
    i2v_grey a = crop(&rgb, 150, 80, 640, 360, 1.0);
    i2v_grey b = crop(&rgb, 250, 130, 640, 360, 1.3); /* closer, elsewhere */
    i2v_align al;
    assert_int_equal(i2v__align(&a, &b, &al, NULL), 0);
    print_message("zoom: matches %d inliers %d rms %.2f\n", al.matches, al.inliers, al.rms);
    assert_true(al.found);
    /* a's (x, y) is image (150 + x, 80 + y), which b shows at 1.3 * (image - (250, 130)). */
    for (int y = 60; y <= 300; y += 80)
        for (int x = 150; x <= 500; x += 100) {
            double ox, oy;
            i2v__homography_apply(al.H, x, y, &ox, &oy);
            assert_true(fabs(ox - 1.3 * (150 + x - 250)) < 1.5);
            assert_true(fabs(oy - 1.3 * (80 + y - 130)) < 1.5);
        }
    double s, tx, ty;
    i2v__homography_similarity(al.H, 0, 0, 640, 360, &s, &tx, &ty);
    assert_true(fabs(s - 1.3) < 0.01);
    i2v__grey_release(&a);
    i2v__grey_release(&b);
    i2v__rgb_release(&rgb);
}

static void test_unrelated_photos_do_not_align(void **state)
{
    (void)state;
    const char *pairs[][2] = {
        {"photos/Bridge_by_Sander_Klootwijk.jpg", "photos/Dragonfly_by_Bolly.jpg"},
        {"photos/Wine_by_Jakkub_Mede.jpg", "photos/picosdeeuropa_by_Aitzol_Berasategi.jpg"},
        {"photos/Kleiber_by_Lukas_Baubkus.jpg", "photos/sunset_by_Aitzol_Berasategi.jpg"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        i2v_rgb r1 = load(pairs[i][0]), r2 = load(pairs[i][1]);
        i2v_grey a = crop(&r1, 0, 0, 640, 360, 1.0), b = crop(&r2, 0, 0, 640, 360, 1.0);
        i2v_align al;
        assert_int_equal(i2v__align(&a, &b, &al, NULL), 0);
        print_message("unrelated %zu: matches %d inliers %d\n", i, al.matches, al.inliers);
        assert_false(al.found);
        i2v__grey_release(&a);
        i2v__grey_release(&b);
        i2v__rgb_release(&r1);
        i2v__rgb_release(&r2);
    }
}

static void test_four_points(void **state)
{
    (void)state;
    /* A known projective map, recovered exactly from four pairs. */
    const double H[9] = {1.1, 0.05, 12, -0.03, 0.95, -7, 1e-4, -2e-4, 1};
    double src[8] = {0, 0, 100, 0, 100, 80, 0, 80}, dst[8];
    for (int i = 0; i < 4; i++)
        i2v__homography_apply(H, src[2 * i], src[2 * i + 1], &dst[2 * i], &dst[2 * i + 1]);
    double G[9];
    assert_int_equal(i2v__homography_4pt(src, dst, G), 0);
    for (int i = 0; i < 9; i++)
        assert_true(fabs(G[i] - H[i]) < 1e-6 * (1 + fabs(H[i])));
    /* Collinear points are refused. */
    double line[8] = {0, 0, 1, 1, 2, 2, 3, 3};
    assert_int_not_equal(i2v__homography_4pt(line, line, G), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_four_points),
        cmocka_unit_test(test_shift_is_recovered),
        cmocka_unit_test(test_zoom_is_recovered),
        cmocka_unit_test(test_unrelated_photos_do_not_align),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
