/* test_camera.c - paths stay inside the frame, ease, start and end exactly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>

#include "engine/camera.h"

#define FX 10.0
#define FY 20.0
#define FW 1600.0
#define FH 900.0
#define NF 150

static i2v_steer steer_default(void)
{
    i2v_steer s;
    i2v__steer_init(&s);
    return s;
}

static void test_easing(void **state)
{
    (void)state;
    for (int e = I2V_EASE_IN_OUT; e <= I2V_EASE_LINEAR; e++) {
        assert_true(i2v__ease(e, 0.0) == 0.0);
        assert_true(i2v__ease(e, 1.0) == 1.0);
        assert_true(fabs(i2v__ease(e, 0.5) - 0.5) < 1e-12);
        double prev = 0;
        for (int i = 1; i <= 100; i++) {
            const double v = i2v__ease(e, i / 100.0);
            assert_true(v >= prev);
            prev = v;
        }
    }
    /* Ease-in-out starts and ends slowly; linear does not. */
    assert_true(i2v__ease(I2V_EASE_IN_OUT, 0.05) < 0.01);
    assert_true(fabs(i2v__ease(I2V_EASE_LINEAR, 0.05) - 0.05) < 1e-12);
}

static void test_views_never_leave_the_frame(void **state)
{
    (void)state;
    const double foci[] = {0.0, 0.1, 0.5, 0.9, 1.0};
    const char *prompts[] = {NULL, "dramatic fast", "subtle slow constant speed"};
    for (int m = 0; m < I2V_MOVE_AUTO_EFFECTS; m++)
        for (int p = 0; p < 3; p++)
            for (int a = 0; a < 5; a++)
                for (int b = 0; b < 5; b++) {
                    i2v_steer s;
                    i2v__prompt_parse(prompts[p], &s);
                    i2v_path path;
                    i2v__path_make(&path, (i2v_move)m, foci[a], foci[b], &s);
                    for (int i = 0; i < NF; i++) {
                        i2v_cam c = i2v__path_at(&path, i, NF);
                        i2v_view v = i2v__cam_view(c, FX, FY, FW, FH);
                        if (c.z < 1.0 || v.x < FX - 1e-9 || v.y < FY - 1e-9 ||
                            v.x + v.w > FX + FW + 1e-9 || v.y + v.h > FY + FH + 1e-9)
                            fail_msg("move %d focus (%g,%g) frame %d: view %g,%g %gx%g", m, foci[a],
                                     foci[b], i, v.x, v.y, v.w, v.h);
                        /* The view keeps the output aspect. */
                        assert_true(fabs(v.w / v.h - FW / FH) < 1e-9);
                    }
                }
}

static void test_zoom_in_exact_ends_and_fixed_point(void **state)
{
    (void)state;
    i2v_steer s = steer_default();
    i2v_path p;
    i2v__path_make(&p, I2V_MOVE_ZOOM_IN, 0.7, 0.3, &s);
    i2v_view first = i2v__cam_view(i2v__path_at(&p, 0, NF), FX, FY, FW, FH);
    assert_true(first.x == FX && first.y == FY && first.w == FW && first.h == FH);
    i2v_cam last = i2v__path_at(&p, NF - 1, NF);
    assert_true(fabs(last.z - 1.3) < 1e-12);
    /* The focus point stays at the same place on screen all the way. */
    for (int i = 0; i < NF; i++) {
        i2v_cam c = i2v__path_at(&p, i, NF);
        const double sx = (0.7 - (c.cx - 0.5 / c.z)) * c.z;
        const double sy = (0.3 - (c.cy - 0.5 / c.z)) * c.z;
        assert_true(fabs(sx - 0.7) < 1e-9 && fabs(sy - 0.3) < 1e-9);
    }
    /* Zoom grows every frame, ZOOM_OUT is the reverse. */
    i2v_path q;
    i2v__path_make(&q, I2V_MOVE_ZOOM_OUT, 0.7, 0.3, &s);
    for (int i = 0; i < NF; i++) {
        i2v_cam a = i2v__path_at(&p, i, NF), b = i2v__path_at(&q, NF - 1 - i, NF);
        assert_true(fabs(a.z - b.z) < 1e-12 && fabs(a.cx - b.cx) < 1e-12);
        if (i) assert_true(a.z > i2v__path_at(&p, i - 1, NF).z);
    }
}

static void test_pans_travel_the_named_way(void **state)
{
    (void)state;
    i2v_steer s;
    i2v__prompt_parse("constant speed", &s);
    const struct {
        i2v_move m;
        int axis, sign;
    } pans[] = {{I2V_MOVE_PAN_RIGHT, 0, 1},
                {I2V_MOVE_PAN_LEFT, 0, -1},
                {I2V_MOVE_PAN_DOWN, 1, 1},
                {I2V_MOVE_PAN_UP, 1, -1}};
    for (int k = 0; k < 4; k++) {
        i2v_path p;
        i2v__path_make(&p, pans[k].m, 0.5, 0.5, &s);
        i2v_view v0 = i2v__cam_view(i2v__path_at(&p, 0, NF), FX, FY, FW, FH);
        i2v_view v1 = i2v__cam_view(i2v__path_at(&p, NF - 1, NF), FX, FY, FW, FH);
        const double a0 = pans[k].axis ? v0.y : v0.x, a1 = pans[k].axis ? v1.y : v1.x;
        const double lo = pans[k].axis ? FY : FX;
        const double hi = pans[k].axis ? FY + FH - v0.h : FX + FW - v0.w;
        /* From one edge of the frame to the other, at zoom 1.2. */
        assert_true(fabs(v0.w - FW / 1.2) < 1e-9);
        assert_true(fabs((pans[k].sign > 0 ? a0 : a1) - lo) < 1e-9);
        assert_true(fabs((pans[k].sign > 0 ? a1 : a0) - hi) < 1e-9);
        /* Constant speed: every step is the same, to rounding. */
        double prev = a0, step0 = 0;
        for (int i = 1; i < NF; i++) {
            i2v_view v = i2v__cam_view(i2v__path_at(&p, i, NF), FX, FY, FW, FH);
            const double a = pans[k].axis ? v.y : v.x, step = a - prev;
            if (i == 1) step0 = step;
            assert_true(step * pans[k].sign > 0);
            assert_true(fabs(step - step0) < 1e-9);
            prev = a;
        }
    }
}

static void test_push_out_and_reverse(void **state)
{
    (void)state;
    i2v_steer s = steer_default();
    i2v_path p;
    i2v__path_make(&p, I2V_MOVE_CAMERA_PUSH_OUT, 0.8, 0.8, &s);
    i2v_cam c0 = i2v__path_at(&p, 0, NF), c1 = i2v__path_at(&p, NF - 1, NF);
    assert_true(c0.z > 1.3 && c0.cx > 0.6 && c0.cy > 0.6);
    assert_true(c1.z == 1.0 && c1.cx == 0.5 && c1.cy == 0.5);
    p.reversed = 1;
    i2v_cam r0 = i2v__path_at(&p, 0, NF);
    assert_true(r0.z == 1.0 && r0.cx == 0.5);
}

static void test_amount_and_speed_scale_the_move(void **state)
{
    (void)state;
    i2v_steer subtle, dramatic;
    i2v__prompt_parse("subtle", &subtle);
    i2v__prompt_parse("dramatic", &dramatic);
    i2v_path a, b;
    i2v__path_make(&a, I2V_MOVE_ZOOM_IN, 0.5, 0.5, &subtle);
    i2v__path_make(&b, I2V_MOVE_ZOOM_IN, 0.5, 0.5, &dramatic);
    assert_true(fabs(a.z1 - 1.15) < 1e-9);
    assert_true(b.z1 > 1.45);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_easing),
        cmocka_unit_test(test_views_never_leave_the_frame),
        cmocka_unit_test(test_zoom_in_exact_ends_and_fixed_point),
        cmocka_unit_test(test_pans_travel_the_named_way),
        cmocka_unit_test(test_push_out_and_reverse),
        cmocka_unit_test(test_amount_and_speed_scale_the_move),
    };
    return cmocka_run_group_tests_name("camera", tests, NULL, NULL);
}
