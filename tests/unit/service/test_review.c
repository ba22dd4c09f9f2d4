/* test_review.c - the prompt word list matches whole words and phrases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/review.h"

static void test_matching(void **state)
{
    (void)state;
    i2v_review *r = i2v__review_from_text("# comment\nbanned\nred door  # a phrase\n\n  ");
    assert_int_equal(i2v__review_count(r), 2);
    assert_string_equal(i2v__review_check(r, "a BANNED word"), "banned");
    assert_string_equal(i2v__review_check(r, "banned"), "banned");
    assert_string_equal(i2v__review_check(r, "the red, door!"), "red door");
    assert_string_equal(i2v__review_check(r, "the Red\n\tDoor"), "red door");
    assert_null(i2v__review_check(r, "unbanned bannedly"));
    assert_null(i2v__review_check(r, "red doors"));
    assert_null(i2v__review_check(r, "a red front door"));
    assert_null(i2v__review_check(r, ""));
    assert_null(i2v__review_check(r, NULL));
    i2v__review_free(&r);
    assert_null(r);
    i2v__review_free(&r); /* NULL is a no-op */
}

static void test_builtin_and_files(void **state)
{
    (void)state;
    char msg[128];
    i2v_review *r = i2v__review_load(NULL, msg, sizeof msg);
    assert_non_null(r);
    assert_true(i2v__review_count(r) > 5);
    assert_non_null(i2v__review_check(r, "a nude figure"));
    assert_null(i2v__review_check(r, "a cosy living room, slow zoom in"));
    i2v__review_free(&r);
    assert_null(i2v__review_load("/nonexistent/words.txt", msg, sizeof msg));
    assert_non_null(strstr(msg, "review-words"));
    char path[] = "/tmp/i2v-review-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("window\n", f);
    fclose(f);
    r = i2v__review_load(path, msg, sizeof msg);
    assert_string_equal(i2v__review_check(r, "zoom into the window"), "window");
    assert_null(i2v__review_check(r, "nude")); /* the file replaces the built-in list */
    i2v__review_free(&r);
    remove(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_matching),
                                       cmocka_unit_test(test_builtin_and_files)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
