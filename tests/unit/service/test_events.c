/* test_events.c - the SSE framing and fingerprints of live progress. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "service/events.h"

static void test_one_event(void **state)
{
    (void)state;
    char buf[256];
    const char *json = "{\"id\":\"a\",\"state\":\"queued\"}";
    const size_t n = i2v__sse_format(buf, sizeof buf, "0.1f-0000abcd", "generation", json);
    assert_string_equal(buf, "id: 0.1f-0000abcd\nevent: generation\n"
                             "data: {\"id\":\"a\",\"state\":\"queued\"}\n\n");
    assert_int_equal(n, strlen(buf));
}

static void test_multiline_data_and_no_id(void **state)
{
    (void)state;
    char buf[256];
    i2v__sse_format(buf, sizeof buf, NULL, NULL, "a\nb\r\nc\rd");
    assert_string_equal(buf, "data: a\ndata: b\ndata: c\ndata: d\n\n");
    i2v__sse_format(buf, sizeof buf, NULL, "x", "");
    assert_string_equal(buf, "event: x\ndata: \n\n");
}

static void test_too_small_and_bad_fields(void **state)
{
    (void)state;
    char buf[8];
    const size_t need = i2v__sse_format(buf, sizeof buf, "1", "generation", "{}");
    assert_int_equal(need, strlen("id: 1\nevent: generation\ndata: {}\n\n"));
    assert_true(strlen(buf) < sizeof buf); /* cut short, still a string */
    char big[64];
    assert_int_equal(i2v__sse_format(big, sizeof big, "1\n2", "e", "{}"), 0);
    assert_int_equal(i2v__sse_format(big, sizeof big, "1", "e\r", "{}"), 0);
}

static void test_fingerprint(void **state)
{
    (void)state;
    /* FNV-1a 32: published test values */
    assert_int_equal(i2v__sse_fingerprint("", 0), 0x811c9dc5u);
    assert_int_equal(i2v__sse_fingerprint("a", 1), 0xe40c292cu);
    assert_int_equal(i2v__sse_fingerprint("foobar", 6), 0xbf9cf968u);
    assert_int_not_equal(i2v__sse_fingerprint("{\"progress\":41}", 15),
                         i2v__sse_fingerprint("{\"progress\":42}", 15));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_event),
        cmocka_unit_test(test_multiline_data_and_no_id),
        cmocka_unit_test(test_too_small_and_bad_fields),
        cmocka_unit_test(test_fingerprint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
