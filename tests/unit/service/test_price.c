/* test_price.c - the price table of SPEC.md, every cell. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "service/price.h"

static void test_table(void **state)
{
    (void)state;
    /* rows: Flash, Base, Base + audio; columns 480p 5/10, 720p 5/10, 1080p 5/10 */
    static const int want[3][6] = {
        {10, 20, 20, 40, 40, 80}, {8, 16, 16, 32, 32, 64}, {16, 32, 32, 64, 64, 128}};
    for (int row = 0; row < 3; row++)
        for (int c = 0; c < 6; c++) {
            const int base = row > 0, audio = row == 2;
            const int got = i2v__price(base, audio, (i2v_resolution)(c / 2), c % 2 ? 10 : 5);
            if (got != want[row][c]) fail_msg("row %d col %d: %d != %d", row, c, got, want[row][c]);
        }
    /* audio is a Base feature: Flash ignores it */
    assert_int_equal(i2v__price(0, 1, I2V_RES_720P, 5), 20);
}

static void test_resolutions(void **state)
{
    (void)state;
    i2v_resolution r;
    int w, h;
    assert_int_equal(i2v__resolution_parse("1080p", &r), 0);
    i2v__resolution_size(r, &w, &h);
    assert_int_equal(w, 1920);
    assert_int_equal(h, 1080);
    assert_int_equal(i2v__resolution_parse("480p", &r), 0);
    i2v__resolution_size(r, &w, &h);
    assert_int_equal(w, 854);
    assert_int_equal(i2v__resolution_parse("720P", &r), -1);
    assert_int_equal(i2v__resolution_parse("", &r), -1);
    assert_int_equal(i2v__resolution_parse(NULL, &r), -1);
}

/* Any size: the tier whose pixel budget covers it; above 1080p, once per
 * 1080p's pixels started; durations per 5 s started. */
static void test_sizes(void **state)
{
    (void)state;
    assert_int_equal(i2v__price_size(0, 0, 854, 480, 5), 10);
    assert_int_equal(i2v__price_size(0, 0, 480, 854, 5), 10);
    assert_int_equal(i2v__price_size(0, 0, 128, 128, 5), 10);
    assert_int_equal(i2v__price_size(0, 0, 856, 480, 5), 20);
    assert_int_equal(i2v__price_size(0, 0, 1280, 720, 5), 20);
    assert_int_equal(i2v__price_size(0, 0, 1280, 768, 5), 20); /* Animation v2's size */
    assert_int_equal(i2v__price_size(0, 0, 768, 1280, 10), 40);
    assert_int_equal(i2v__price_size(0, 0, 1920, 1080, 5), 40);
    assert_int_equal(i2v__price_size(1, 1, 1080, 1920, 5), 64);
    assert_int_equal(i2v__price_size(0, 0, 1922, 1080, 5), 80);
    assert_int_equal(i2v__price_size(0, 0, 3840, 2160, 5), 160);
    assert_int_equal(i2v__price_size(0, 0, 4096, 4096, 5), 40 * 9);
    /* 1..5 s one unit, 6..10 two, ... 30 s six */
    assert_int_equal(i2v__price_size(0, 0, 854, 480, 1), 10);
    assert_int_equal(i2v__price_size(0, 0, 854, 480, 6), 20);
    assert_int_equal(i2v__price_size(1, 0, 1280, 720, 30), 16 * 6);
    /* the same as the table for the seed's sizes */
    assert_int_equal(i2v__price_size(1, 0, 1920, 1080, 10), i2v__price(1, 0, I2V_RES_1080P, 10));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_table),
                                       cmocka_unit_test(test_resolutions),
                                       cmocka_unit_test(test_sizes)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
