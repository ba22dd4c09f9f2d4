/* test_resample.c - constant stays constant; sub-pixel shifts land exactly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/resample.h"

static void resample(const i2v_plane *src, i2v_plane *dst, double cx, double sx, double cy,
                     double sy, i2v_kernel k)
{
    i2v_axis ax = {0}, ay = {0};
    i2v_rscratch s = {0};
    assert_int_equal(i2v__axis_build(&ax, dst->width, src->width, cx, sx, k, NULL), 0);
    assert_int_equal(i2v__axis_build(&ay, dst->height, src->height, cy, sy, k, NULL), 0);
    assert_int_equal(i2v__rscratch_reserve(&s, (size_t)(ax.hi - ax.lo), NULL), 0);
    i2v__resample_rows(src, dst, &ax, &ay, 0, dst->height, &s);
    i2v__axis_release(&ax);
    i2v__axis_release(&ay);
    i2v__rscratch_release(&s);
}

static i2v_plane plane_new(int w, int h)
{
    i2v_plane p = {calloc((size_t)w * h, 1), w, h, w};
    return p;
}

static void test_weights_sum_to_one(void **state)
{
    (void)state;
    const double steps[] = {0.25, 0.77, 1.0, 1.3, 2.5, 7.9};
    for (int k = I2V_KERNEL_TRIANGLE; k <= I2V_KERNEL_LANCZOS3; k++)
        for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
            i2v_axis ax = {0};
            assert_int_equal(i2v__axis_build(&ax, 100, 400, -3.3, steps[s], k, NULL), 0);
            for (int o = 0; o < 100; o++) {
                int sum = 0;
                for (int t = 0; t < ax.wstride; t++)
                    sum += ax.w[o * ax.wstride + t];
                assert_int_equal(sum, 1 << I2V_WEIGHT_BITS);
                assert_true(ax.start[o] >= 0 && ax.start[o] + ax.taps <= 400);
            }
            /* The filter widens when minifying. */
            if (steps[s] > 1) assert_true(ax.taps >= (int)(2 * i2v__kernel_radius(k) * steps[s]));
            i2v__axis_release(&ax);
        }
}

static void test_constant_image_stays_constant(void **state)
{
    (void)state;
    i2v_plane src = plane_new(300, 200), dst = plane_new(173, 97);
    memset(src.data, 137, 300 * 200);
    for (int k = I2V_KERNEL_TRIANGLE; k <= I2V_KERNEL_LANCZOS3; k++) {
        resample(&src, &dst, 3.37, 1.41, 2.11, 1.29, k);
        for (int i = 0; i < 173 * 97; i++)
            assert_int_equal(dst.data[i], 137);
        resample(&src, &dst, 100.2, 0.31, 50.9, 0.47, k); /* magnifying */
        for (int i = 0; i < 173 * 97; i++)
            assert_int_equal(dst.data[i], 137);
    }
    free(src.data);
    free(dst.data);
}

/* Intensity-weighted centroid of a plane, background removed. */
static void centroid(const i2v_plane *p, double *cx, double *cy)
{
    double sx = 0, sy = 0, sw = 0;
    for (int y = 0; y < p->height; y++)
        for (int x = 0; x < p->width; x++) {
            /* Ringing below the background counts too (negative weight). */
            const double v = p->data[y * p->stride + x] - 16.0;
            sx += v * x, sy += v * y, sw += v;
        }
    *cx = sx / sw;
    *cy = sy / sw;
}

static void test_subpixel_shift_lands_where_it_should(void **state)
{
    (void)state;
    /* A Gaussian blob at (60.0, 40.0), sigma 4, on a dark background. */
    i2v_plane src = plane_new(128, 96), dst = plane_new(128, 96);
    for (int y = 0; y < 96; y++)
        for (int x = 0; x < 128; x++) {
            const double r2 = (x - 60.0) * (x - 60.0) + (y - 40.0) * (y - 40.0);
            src.data[y * 128 + x] = (uint8_t)lrint(16 + 219 * exp(-r2 / (2 * 16.0)));
        }
    double bx, by;
    centroid(&src, &bx, &by);
    const double shifts[] = {0.0, 0.1, 0.25, 0.37, 0.5, 0.83, 1.62};
    for (int k = I2V_KERNEL_CUBIC; k <= I2V_KERNEL_LANCZOS3; k++)
        for (size_t i = 0; i < sizeof shifts / sizeof shifts[0]; i++) {
            const double d = shifts[i];
            /* Output sample o samples source position o + d: content moves by -d. */
            resample(&src, &dst, d, 1.0, -d / 2, 1.0, k);
            double cx, cy;
            centroid(&dst, &cx, &cy);
            if (fabs((bx - cx) - d) > 0.02 || fabs((by - cy) + d / 2) > 0.02)
                fail_msg("kernel %d shift %.2f: moved %.4f,%.4f", k, d, bx - cx, by - cy);
        }
    /* Minifying by 2 around the origin halves the blob's coordinates. */
    i2v_plane half = plane_new(64, 48);
    resample(&src, &half, 0.5, 2.0, 0.5, 2.0, I2V_KERNEL_CUBIC);
    double hx, hy;
    centroid(&half, &hx, &hy);
    assert_true(fabs(hx - (bx - 0.5) / 2) < 0.03 && fabs(hy - (by - 0.5) / 2) < 0.03);
    free(half.data);
    free(src.data);
    free(dst.data);
}

/* A fine stripe pattern (period 2 source pixels) minified by 3.3 must average
 * out to flat grey instead of aliasing into coarse bands. */
static void test_minification_is_antialiased(void **state)
{
    (void)state;
    i2v_plane src = plane_new(660, 8), dst = plane_new(200, 2);
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 660; x++)
            src.data[y * 660 + x] = (x & 1) ? 235 : 16;
    resample(&src, &dst, 1.15, 3.3, 1.5, 3.3, I2V_KERNEL_CUBIC);
    int lo = 255, hi = 0;
    for (int x = 4; x < 196; x++) {
        const int v = dst.data[x];
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    assert_true(hi - lo <= 6);
    assert_true(abs((lo + hi) / 2 - 125) <= 4);
    free(src.data);
    free(dst.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_weights_sum_to_one),
        cmocka_unit_test(test_constant_image_stays_constant),
        cmocka_unit_test(test_subpixel_shift_lands_where_it_should),
        cmocka_unit_test(test_minification_is_antialiased),
    };
    return cmocka_run_group_tests_name("resample", tests, NULL, NULL);
}
