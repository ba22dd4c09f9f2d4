/* test_web.c - the Developer Space's sessions and pages without a server:
 * session tokens (made, checked, forged, expired, under another secret),
 * CSRF tokens, the sign-in limit per address and the embedded files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "service/web.h"

static const char USER[] = "5ed5ed8c-8824-4fcb-834e-087141f61aed";

static i2v_web *new_web(const char *secret, int per_minute)
{
    i2v_web *w = NULL;
    char msg[128];
    const i2v_web_config cfg = {secret, 3600, per_minute, 0};
    assert_int_equal(i2v__web_new(&w, &cfg, msg, sizeof msg), 0);
    return w;
}

static void test_token_round_trip(void **state)
{
    (void)state;
    i2v_web *w = new_web("a secret of some length", 10);
    char tok[I2V_SESSION_TOKEN_MAX], key_id[24], user[37];
    int64_t exp = 0;
    assert_int_equal(i2v__web_token(w, "i2v_qBKA1-0P", USER, 2000000000, tok), 0);
    assert_int_equal(strncmp(tok, "i2v_qBKA1-0P.5ed5ed8c-", 22), 0);
    assert_int_equal(i2v__web_token_check(w, tok, 1999999999, key_id, user, &exp), 0);
    assert_string_equal(key_id, "i2v_qBKA1-0P");
    assert_string_equal(user, USER);
    assert_int_equal(exp, 2000000000);
    /* expired */
    assert_int_equal(i2v__web_token_check(w, tok, 2000000000, key_id, user, &exp), -1);
    /* every single changed character is refused */
    for (size_t i = 0; i < strlen(tok); i++) {
        char bad[I2V_SESSION_TOKEN_MAX];
        snprintf(bad, sizeof bad, "%s", tok);
        bad[i] = bad[i] == 'a' ? 'b' : 'a';
        if (i2v__web_token_check(w, bad, 1, key_id, user, &exp) == 0)
            fail_msg("a token changed at %zu was accepted: %s", i, bad);
    }
    /* a later expiry with the old MAC */
    char later[I2V_SESSION_TOKEN_MAX];
    snprintf(later, sizeof later, "i2v_qBKA1-0P.%s.2000000999%s", USER, strrchr(tok, '.'));
    assert_int_equal(i2v__web_token_check(w, later, 1, key_id, user, &exp), -1);
    /* malformed */
    const char *bad[] = {"", "a.b.c.d", "i2v_x", tok + 1, "....", NULL};
    for (int i = 0; bad[i]; i++)
        assert_int_equal(i2v__web_token_check(w, bad[i], 1, key_id, user, &exp), -1);
    /* ids that cannot be part of a token */
    assert_int_equal(i2v__web_token(w, "a.b", USER, 2000000000, tok), -1);
    assert_int_equal(i2v__web_token(w, "i2v_x", "a b", 2000000000, tok), -1);
    i2v__web_free(&w);
    assert_null(w);
    i2v__web_free(&w); /* freeing NULL does nothing */
}

static void test_secrets(void **state)
{
    (void)state;
    /* the same secret on two servers: each takes the other's tokens */
    i2v_web *a = new_web("shared secret 0123456789", 10),
            *b = new_web("shared secret 0123456789", 10);
    i2v_web *c = new_web("another secret 012345678", 10), *r1 = new_web(NULL, 10),
            *r2 = new_web("", 10);
    char tok[I2V_SESSION_TOKEN_MAX], key_id[24], user[37];
    int64_t exp;
    assert_int_equal(i2v__web_token(a, "i2v_qBKA1-0P", USER, 2000000000, tok), 0);
    assert_int_equal(i2v__web_token_check(b, tok, 1, key_id, user, &exp), 0);
    assert_int_equal(i2v__web_token_check(c, tok, 1, key_id, user, &exp), -1);
    /* random secrets: a process's own only */
    assert_int_equal(i2v__web_token(r1, "i2v_qBKA1-0P", USER, 2000000000, tok), 0);
    assert_int_equal(i2v__web_token_check(r1, tok, 1, key_id, user, &exp), 0);
    assert_int_equal(i2v__web_token_check(r2, tok, 1, key_id, user, &exp), -1);
    /* CSRF tokens: per session, per secret, not the session's MAC */
    char t2[I2V_SESSION_TOKEN_MAX], c1[65], c2[65], c3[65], c4[65];
    assert_int_equal(i2v__web_token(a, "i2v_qBKA1-0P", USER, 2000000001, t2), 0);
    i2v__web_csrf(a, tok, c1);
    i2v__web_csrf(b, tok, c2);
    i2v__web_csrf(a, t2, c3);
    i2v__web_csrf(c, tok, c4);
    assert_int_equal(strlen(c1), 64);
    assert_string_equal(c1, c2);
    assert_string_not_equal(c1, c3);
    assert_string_not_equal(c1, c4);
    assert_null(strstr(tok, c1));
    /* too short a secret */
    i2v_web *w = NULL;
    char msg[128];
    const i2v_web_config cfg = {"short", 3600, 10, 0};
    assert_int_equal(i2v__web_new(&w, &cfg, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "I2V_SESSION_SECRET"));
    i2v__web_free(&a);
    i2v__web_free(&b);
    i2v__web_free(&c);
    i2v__web_free(&r1);
    i2v__web_free(&r2);
}

static void test_signin_limit(void **state)
{
    (void)state;
    i2v_web *w = new_web(NULL, 3);
    const int64_t t = 1000000;
    for (int i = 0; i < 3; i++)
        assert_int_equal(i2v__web_rate(w, "192.0.2.1", t + i), 0);
    assert_int_equal(i2v__web_rate(w, "192.0.2.1", t + 10), 60); /* Retry-After */
    assert_int_equal(i2v__web_rate(w, "192.0.2.1", t + 30500), 30);
    /* others are not held up */
    assert_int_equal(i2v__web_rate(w, "192.0.2.2", t + 10), 0);
    assert_int_equal(i2v__web_rate(w, "2001:db8::1", t + 10), 0);
    /* a minute later: allowed again */
    assert_int_equal(i2v__web_rate(w, "192.0.2.1", t + 60000), 0);
    /* many addresses: the table stays bounded and keeps counting the busy one */
    char addr[64];
    for (int i = 0; i < 100000; i++) {
        snprintf(addr, sizeof addr, "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
        assert_int_equal(i2v__web_rate(w, addr, t + 60000), 0);
    }
    i2v__web_free(&w);
}

static void test_assets(void **state)
{
    (void)state;
    const i2v_web_asset *index = i2v__web_asset("index.html");
    assert_non_null(index);
    assert_string_equal(index->ctype, "text/html; charset=utf-8");
    assert_int_equal(strlen((const char *)index->data), index->len);
    /* the page loads its script from a file: no inline script or style */
    assert_non_null(
        strstr((const char *)index->data, "<script type=\"module\" src=\"/assets/js/app.js\">"));
    assert_null(strstr((const char *)index->data, "<script>"));
    assert_null(strstr((const char *)index->data, "style="));
    assert_null(strstr((const char *)index->data, "<style"));
    const i2v_web_asset *js = i2v__web_asset("js/app.js");
    assert_non_null(js);
    assert_string_equal(js->ctype, "text/javascript; charset=utf-8");
    assert_non_null(i2v__web_asset("app.css"));
    assert_null(i2v__web_asset("../web.c"));
    assert_null(i2v__web_asset(""));
    for (size_t i = 0; i < i2v__web_nfiles; i++) {
        const i2v_web_asset *a = &i2v__web_files[i];
        assert_int_equal(strlen(a->etag), 18);
        assert_int_equal(a->etag[0], '"');
        /* no page builds HTML from strings */
        if (strstr(a->name, ".js"))
            if (strstr((const char *)a->data, "innerHTML") ||
                strstr((const char *)a->data, "insertAdjacentHTML") ||
                strstr((const char *)a->data, "document.write") ||
                strstr((const char *)a->data, "eval("))
                fail_msg("%s builds HTML from strings or evaluates code", a->name);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_round_trip),
        cmocka_unit_test(test_secrets),
        cmocka_unit_test(test_signin_limit),
        cmocka_unit_test(test_assets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
