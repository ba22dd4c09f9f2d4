/* test_plan.c - framing around the detail, AUTO choices, exact first view. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "engine/render.h"

/* Flat grey everywhere except a noisy textured region [x0,x1)x[y0,y1). */
static i2v_photo *textured(int w, int h, int x0, int y0, int x1, int y1)
{
    uint8_t *rgb = malloc((size_t)w * h * 3);
    uint32_t seed = 12345;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t v = 128;
            if (x >= x0 && x < x1 && y >= y0 && y < y1) {
                seed = seed * 1664525u + 1013904223u;
                v = (uint8_t)(40 + ((seed >> 24) % 176));
            }
            memset(rgb + ((size_t)y * w + x) * 3, v, 3);
        }
    buf b = make_jpeg(rgb, w, h, SUB_420, 0, 0);
    i2v_photo *p = NULL;
    assert_int_equal(i2v_photo_open_memory(&p, b.data, b.len, NULL, NULL), 0);
    free(b.data);
    free(rgb);
    return p;
}

static i2v_plan *plan_for(i2v_photo *p, i2v_move m, int w, int h)
{
    i2v_spec s;
    i2v_spec_init(&s);
    s.move = m;
    s.width = w;
    s.height = h;
    i2v_plan *plan = NULL;
    i2v_error err = {0};
    if (i2v_plan_new(&plan, p, &s, &err)) fail_msg("plan: %s", err.message);
    return plan;
}

static double cx_of(const i2v_plan *p, int i)
{
    i2v_view v;
    assert_int_equal(i2v_plan_view(p, i, &v), 0);
    return v.x + v.w / 2;
}

static double cy_of(const i2v_plan *p, int i)
{
    i2v_view v;
    assert_int_equal(i2v_plan_view(p, i, &v), 0);
    return v.y + v.h / 2;
}

static void test_auto_moves_towards_the_detail(void **state)
{
    (void)state;
    /* Detail on the right: the camera ends right of where it started. */
    i2v_photo *p = textured(1600, 900, 1100, 0, 1600, 900);
    i2v_plan *plan = plan_for(p, I2V_MOVE_AUTO_EFFECTS, 1280, 720);
    const int n = i2v_plan_frames(plan);
    assert_true(cx_of(plan, n - 1) > cx_of(plan, 0) + 50);
    assert_true(strlen(i2v_plan_description(plan)) > 20);
    assert_true(i2v_plan_move(plan) != I2V_MOVE_AUTO_EFFECTS);
    /* AUTO_REVERSE plays the same path backwards. */
    i2v_plan *rev = plan_for(p, I2V_MOVE_AUTO_REVERSE, 1280, 720);
    assert_int_equal(i2v_plan_move(rev), i2v_plan_move(plan));
    assert_true(i2v_plan_reversed(rev));
    for (int i = 0; i < n; i++)
        assert_true(fabs(cx_of(rev, i) - cx_of(plan, n - 1 - i)) < 1e-9);
    assert_non_null(strstr(i2v_plan_description(rev), "reverse"));
    i2v_plan_free(&rev);
    i2v_plan_free(&plan);
    assert_null(plan);
    i2v_photo_free(&p);

    /* Detail on the left. */
    p = textured(1600, 900, 0, 0, 500, 900);
    plan = plan_for(p, I2V_MOVE_AUTO_EFFECTS, 1280, 720);
    assert_true(cx_of(plan, i2v_plan_frames(plan) - 1) < cx_of(plan, 0) - 50);
    i2v_plan_free(&plan);
    i2v_photo_free(&p);

    /* Detail at the top of a portrait photo, portrait output. */
    p = textured(900, 1600, 0, 0, 900, 500);
    plan = plan_for(p, I2V_MOVE_AUTO_EFFECTS, 720, 1280);
    assert_true(cy_of(plan, i2v_plan_frames(plan) - 1) < cy_of(plan, 0) - 50);
    i2v_plan_free(&plan);
    i2v_photo_free(&p);
}

static void test_zoom_targets_the_detail(void **state)
{
    (void)state;
    i2v_photo *p = textured(1600, 900, 1200, 100, 1450, 350); /* upper right patch */
    i2v_plan *plan = plan_for(p, I2V_MOVE_ZOOM_IN, 1280, 720);
    i2v_view v0, v1;
    i2v_plan_view(plan, 0, &v0);
    i2v_plan_view(plan, i2v_plan_frames(plan) - 1, &v1);
    /* First frame is exactly the full (16:9) photo; the last is 1.3x closer,
     * moved towards the patch. */
    assert_true(v0.x == 0 && v0.y == 0 && fabs(v0.w - 1600) < 1e-9 && fabs(v0.h - 900) < 1e-9);
    assert_true(fabs(v1.w - 1600 / 1.3) < 1e-6);
    assert_true(v1.x + v1.w / 2 > 800 && v1.y + v1.h / 2 < 450);
    i2v_plan_free(&plan);
    i2v_photo_free(&p);
}

static void test_cover_crop_slides_to_the_detail(void **state)
{
    (void)state;
    /* A 3:1 panorama with detail in its right third: the 16:9 frame slides right. */
    i2v_photo *p = textured(2700, 900, 2000, 0, 2700, 900);
    i2v_plan *plan = plan_for(p, I2V_MOVE_ZOOM_IN, 1280, 720);
    assert_true(fabs(plan->shot[0].fw - 1600) < 1e-6 && plan->shot[0].fh == 900);
    assert_true(plan->shot[0].fx > 900);
    i2v_plan_free(&plan);
    i2v_photo_free(&p);
    /* Flat photo: centred crop. */
    p = textured(2700, 900, 0, 0, 0, 0);
    plan = plan_for(p, I2V_MOVE_ZOOM_IN, 1280, 720);
    assert_true(fabs(plan->shot[0].fx - 550) < 1e-6);
    i2v_plan_free(&plan);
    i2v_photo_free(&p);
}

static void test_spec_validation_names_the_field(void **state)
{
    (void)state;
    i2v_spec s;
    i2v_error err = {0};
    i2v_spec_init(&s);
    s.width = 100, s.height = 100;
    assert_int_equal(i2v_spec_validate(&s, &err), I2V_EINVAL);
    assert_non_null(strstr(err.message, "size"));
    i2v_spec_init(&s);
    s.fps = 0;
    i2v_error e2 = {0};
    assert_int_equal(i2v_spec_validate(&s, &e2), I2V_EINVAL);
    assert_non_null(strstr(e2.message, "fps"));
    i2v_spec_init(&s);
    s.width = 641, s.height = 480;
    i2v_error e3 = {0};
    assert_int_equal(i2v_spec_validate(&s, &e3), I2V_EINVAL);
    assert_non_null(strstr(e3.message, "even"));
    i2v_move m;
    assert_int_equal(i2v_move_parse("pan_left", &m), 0);
    assert_int_equal(m, I2V_MOVE_PAN_LEFT);
    assert_int_equal(i2v_move_parse("PAN_SIDEWAYS", &m), I2V_EINVAL);
    assert_string_equal(i2v_move_name(I2V_MOVE_CAMERA_PUSH_OUT), "CAMERA_PUSH_OUT");
}

/* A 20 MP JPEG is decoded at the smallest DCT scale the video needs. */
static void test_large_jpeg_decoded_at_reduced_size(void **state)
{
    (void)state;
    i2v_photo *p = NULL;
    i2v_error err = {0};
    if (i2v_photo_open_file(&p, "photos/Kleiber_by_Lukas_Baubkus.jpg", NULL, &err))
        fail_msg("%s", err.message);
    const struct {
        int w, h, want_w;
    } cases[] = {{1280, 720, 2261}, {1920, 1080, 3014}, {854, 480, 1507}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        i2v_plan *plan = plan_for(p, I2V_MOVE_ZOOM_IN, cases[i].w, cases[i].h);
        int mw, mh;
        i2v__render_min_size(p, plan, 0, &mw, &mh);
        assert_true(mw >= (int)(cases[i].w * 1.3) && mw < 6028);
        i2v_rgb rgb;
        assert_int_equal(i2v__photo_decode(p, mw, mh, &rgb, &err), 0);
        if (rgb.width != cases[i].want_w)
            fail_msg("%dx%d output: decoded %d wide, want %d", cases[i].w, cases[i].h, rgb.width,
                     cases[i].want_w);
        i2v__rgb_release(&rgb);
        i2v_plan_free(&plan);
    }
    i2v_photo_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auto_moves_towards_the_detail),
        cmocka_unit_test(test_zoom_targets_the_detail),
        cmocka_unit_test(test_cover_crop_slides_to_the_detail),
        cmocka_unit_test(test_spec_validation_names_the_field),
        cmocka_unit_test(test_large_jpeg_decoded_at_reduced_size),
    };
    return cmocka_run_group_tests_name("plan", tests, NULL, NULL);
}
