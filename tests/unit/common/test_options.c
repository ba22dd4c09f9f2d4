/* test_options.c - the option table: flags, env variables, validation, help. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "common/options.h"

static const i2v_option table[] = {
    {"output", 'o', I2V_OPT_STRING, NULL, 0, 0, NULL, NULL, "output"},
    {"fps", 0, I2V_OPT_INT, "30", 1, 60, NULL, "I2V_TEST_FPS", "fps"},
    {"duration", 0, I2V_OPT_NUMBER, "5", 1, 30, NULL, NULL, "seconds"},
    {"model", 0, I2V_OPT_CHOICE, "flash", 0, 0, "flash|base", "I2V_TEST_MODEL", "model"},
    {"help", 'h', I2V_OPT_FLAG, NULL, 0, 0, NULL, NULL, "help"},
};
#define N (int)(sizeof table / sizeof table[0])

static int parse(i2v_opts *o, char *msg, int argc, ...)
{
    char *argv[16];
    va_list ap;
    va_start(ap, argc);
    for (int i = 0; i < argc; i++)
        argv[i] = va_arg(ap, char *);
    va_end(ap);
    return i2v__opts_parse(o, table, N, argc, argv, msg, 256);
}

static void test_defaults_and_flags(void **state)
{
    (void)state;
    i2v_opts o;
    char msg[256];
    unsetenv("I2V_TEST_FPS");
    assert_int_equal(parse(&o, msg, 5, "in.jpg", "-o", "out.mp4", "--model=BASE", "--help"), 0);
    assert_int_equal(o.nargs, 1);
    assert_string_equal(o.args[0], "in.jpg");
    assert_string_equal(i2v__opt_str(&o, "output"), "out.mp4");
    assert_int_equal(i2v__opt_int(&o, "fps"), 30);
    assert_true(i2v__opt_num(&o, "duration") == 5.0);
    assert_string_equal(i2v__opt_str(&o, "model"), "BASE");
    assert_true(i2v__opt_given(&o, "help"));
    assert_false(i2v__opt_given(&o, "fps"));
}

static void test_env_fallback_and_cli_precedence(void **state)
{
    (void)state;
    i2v_opts o;
    char msg[256];
    setenv("I2V_TEST_FPS", "24", 1);
    assert_int_equal(parse(&o, msg, 0), 0);
    assert_int_equal(i2v__opt_int(&o, "fps"), 24);
    assert_int_equal(parse(&o, msg, 2, "--fps", "60"), 0);
    assert_int_equal(i2v__opt_int(&o, "fps"), 60);
    setenv("I2V_TEST_FPS", "abc", 1);
    assert_int_equal(parse(&o, msg, 0), -1);
    assert_non_null(strstr(msg, "I2V_TEST_FPS"));
    unsetenv("I2V_TEST_FPS");
}

static void test_errors_name_the_option(void **state)
{
    (void)state;
    i2v_opts o;
    char msg[256];
    assert_int_equal(parse(&o, msg, 2, "--fps", "61"), -1);
    assert_non_null(strstr(msg, "--fps"));
    assert_int_equal(parse(&o, msg, 2, "--duration", "5s"), -1);
    assert_non_null(strstr(msg, "--duration"));
    assert_int_equal(parse(&o, msg, 2, "--model", "turbo"), -1);
    assert_non_null(strstr(msg, "--model"));
    assert_non_null(strstr(msg, "flash|base"));
    assert_int_equal(parse(&o, msg, 1, "--colour"), -1);
    assert_non_null(strstr(msg, "--colour"));
    assert_int_equal(parse(&o, msg, 1, "--fps"), -1);
    assert_non_null(strstr(msg, "needs a value"));
    assert_int_equal(parse(&o, msg, 1, "--help=yes"), -1);
}

static void test_help_lists_every_option_with_default(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    i2v__opts_help(f, table, N);
    fclose(f);
    for (int i = 0; i < N; i++)
        assert_non_null(strstr(text, table[i].name));
    assert_non_null(strstr(text, "[default: 30]"));
    assert_non_null(strstr(text, "[env: I2V_TEST_FPS]"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_flags),
        cmocka_unit_test(test_env_fallback_and_cli_precedence),
        cmocka_unit_test(test_errors_name_the_option),
        cmocka_unit_test(test_help_lists_every_option_with_default),
    };
    return cmocka_run_group_tests_name("options", tests, NULL, NULL);
}
