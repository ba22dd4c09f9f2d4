/* test_prompt.c - phrases to motion settings, table-driven. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "engine/prompt.h"

static const struct {
    const char *prompt;
    double speed, amount;
    i2v_easing easing;
    int has_focus;
    double fx, fy;
} cases[] = {
    {NULL, 1, 1, I2V_EASE_DEFAULT, 0, 0.5, 0.5},
    {"", 1, 1, I2V_EASE_DEFAULT, 0, 0.5, 0.5},
    {"Elegant modern living room", 1, 1, I2V_EASE_DEFAULT, 0, 0.5, 0.5},
    {"slow zoom", 0.6, 1, I2V_EASE_DEFAULT, 0, 0.5, 0.5},
    {"FAST, dramatic push!", 1.5, 1.7, I2V_EASE_DEFAULT, 0, 0.5, 0.5},
    {"a subtle move at constant speed", 1, 0.5, I2V_EASE_LINEAR, 0, 0.5, 0.5},
    {"slowly towards the left", 0.6, 1, I2V_EASE_DEFAULT, 1, 0.15, 0.5},
    {"zoom into the upper right corner", 1, 1, I2V_EASE_DEFAULT, 1, 0.8, 0.2},
    {"fast then slow", 0.6, 1, I2V_EASE_DEFAULT, 0, 0.5, 0.5}, /* later words win */
    {"breakfast", 1, 1, I2V_EASE_DEFAULT, 0, 0.5, 0.5},        /* whole words only */
    {"linear but smooth", 1, 1, I2V_EASE_IN_OUT, 0, 0.5, 0.5},
};

static void test_phrases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        i2v_steer s;
        i2v__prompt_parse(cases[i].prompt, &s);
        if (s.speed != cases[i].speed || s.amount != cases[i].amount ||
            s.easing != cases[i].easing || s.has_focus != cases[i].has_focus ||
            s.focus_x != cases[i].fx || s.focus_y != cases[i].fy)
            fail_msg("prompt '%s': speed %g amount %g easing %d focus %d (%g,%g)",
                     cases[i].prompt ? cases[i].prompt : "(null)", s.speed, s.amount, s.easing,
                     s.has_focus, s.focus_x, s.focus_y);
    }
}

static void test_describe(void **state)
{
    (void)state;
    i2v_steer s;
    char buf[160];
    i2v__prompt_parse("slow subtle constant speed", &s);
    i2v__steer_describe(&s, buf, sizeof buf);
    assert_string_equal(buf, "speed=slow amount=subtle timing=constant-speed focus=auto");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_phrases),
        cmocka_unit_test(test_describe),
    };
    return cmocka_run_group_tests_name("prompt", tests, NULL, NULL);
}
