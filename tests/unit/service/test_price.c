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

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_table),
                                       cmocka_unit_test(test_resolutions)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
