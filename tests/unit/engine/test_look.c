/* test_look.c - colour grades from words (src/engine/look.c). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/look.h"

static void test_words(void **state)
{
    (void)state;
    static const struct {
        const char *prompt;
        double temp_sign, sat;
        int vignette, night;
    } cases[] = {
        {"slow zoom in", 0, 1, 0, 0},
        {"Warm afternoon light", 1, 1, 0, 0},
        {"a cool, blue morning", -1, 1, 0, 0},
        {"golden hour over the hills", 1, 1.15, 0, 0},
        {"black and white, please", 0, 0, 0, 0},
        {"Black & White", 0, 0, 0, 0},
        {"cinematic pan left", 0, 0.9, 1, 0},
        {"day to night", 0, 1, 0, 1},
        {"warmest regards", 0, 1, 0, 0}, /* whole words only */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        i2v_look l;
        i2v__look_parse(cases[i].prompt, &l);
        const double sign = l.temperature > 0 ? 1 : l.temperature < 0 ? -1 : 0;
        print_message("%s -> temp %.2f sat %.2f vig %.2f night %d\n", cases[i].prompt,
                      l.temperature, l.saturation, l.vignette, l.day_to_night);
        assert_true(sign == cases[i].temp_sign);
        assert_true(fabs(l.saturation - cases[i].sat) < 1e-9);
        assert_int_equal(l.vignette > 0, cases[i].vignette);
        assert_int_equal(l.day_to_night, cases[i].night);
        assert_int_equal(i2v__look_any(&l), !(sign == 0 && cases[i].sat == 1 &&
                                              !cases[i].vignette && !cases[i].night));
    }
}

static void test_grades(void **state)
{
    (void)state;
    i2v_look l;
    i2v_grade g;
    /* No look: identity. */
    i2v__look_parse(NULL, &l);
    i2v__look_grade(&l, 0.5, &g);
    for (int i = 16; i <= 235; i++)
        assert_int_equal(g.y[i], i);
    for (int i = 16; i <= 240; i++)
        assert_true(g.cb[i] == i && g.cr[i] == i);
    /* Warm: red up, blue down. */
    i2v__look_parse("warm", &l);
    i2v__look_grade(&l, 0, &g);
    assert_true(g.cr[128] > 128 && g.cb[128] < 128);
    /* Black and white: no chroma at all. */
    i2v__look_parse("black and white", &l);
    i2v__look_grade(&l, 0, &g);
    for (int i = 16; i <= 240; i++)
        assert_true(g.cb[i] == 128 && g.cr[i] == 128);
    /* Day to night: unchanged at the start, much darker and bluer at the end. */
    i2v__look_parse("day to night", &l);
    i2v__look_grade(&l, 0, &g);
    assert_int_equal(g.y[180], 180);
    i2v__look_grade(&l, 1, &g);
    assert_true(g.y[180] < 16 + (180 - 16) / 2);
    assert_true(g.cb[128] > 128);
    /* Cinematic: a vignette darker at the corners than the centre, 1 in the middle. */
    i2v__look_parse("cinematic", &l);
    int failed = 0;
    uint16_t *v = i2v__look_vignette(&l, 64, 36, &failed);
    assert_non_null(v);
    assert_int_equal(v[18 * 64 + 32], 32768);
    assert_true(v[0] < 32768 * 0.75);
    free(v);
    i2v__look_parse("warm", &l);
    assert_null(i2v__look_vignette(&l, 64, 36, &failed));
    assert_false(failed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_words),
        cmocka_unit_test(test_grades),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
