/* test_netaddr.c - which addresses may be fetched, table-driven. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <string.h>

#include "service/netaddr.h"

static const struct {
    const char *addr;
    int refused;
} cases[] = {
    {"8.8.8.8", 0},
    {"93.184.216.34", 0},
    {"127.0.0.1", 1},
    {"127.255.255.254", 1},
    {"0.0.0.0", 1},
    {"10.1.2.3", 1},
    {"172.16.0.1", 1},
    {"172.31.255.255", 1},
    {"172.32.0.1", 0},
    {"192.168.1.1", 1},
    {"100.64.0.1", 1},
    {"100.127.255.255", 1},
    {"100.128.0.1", 0},
    {"169.254.169.254", 1},
    {"224.0.0.1", 1},
    {"255.255.255.255", 1},
    {"198.18.0.1", 1},
    {"2001:4860:4860::8888", 0},
    {"::1", 1},
    {"::", 1},
    {"::ffff:127.0.0.1", 1},
    {"::ffff:7f00:1", 1},
    {"::ffff:8.8.8.8", 0},
    {"::127.0.0.1", 1},
    {"64:ff9b::7f00:1", 1},
    {"64:ff9b::a9fe:a9fe", 1},
    {"64:ff9b::808:808", 0},
    {"64:ff9b:1::1", 1},
    {"2002:7f00:1::", 1},
    {"2002:c0a8:101::1", 1},
    {"2002:808:808::1", 0},
    {"fc00::1", 1},
    {"fd12:3456::1", 1},
    {"fe80::1", 1},
    {"ff02::1", 1},
    {"2001:db8::1", 1},
    {"2001:0:4136:e378:8000:63bf:80ff:fffe", 1}, /* Teredo, client 127.0.0.1 */
};

static void test_classify(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned char a[16];
        int fam = strchr(cases[i].addr, ':') ? AF_INET6 : AF_INET;
        assert_int_equal(inet_pton(fam, cases[i].addr, a), 1);
        const char *why = i2v__addr_bytes_refused(fam, a, NULL);
        if ((why != NULL) != cases[i].refused)
            fail_msg("%s: expected %s, got %s", cases[i].addr,
                     cases[i].refused ? "refused" : "allowed", why ? why : "allowed");
    }
}

static void test_allow_list(void **state)
{
    (void)state;
    i2v_allow allow;
    char msg[128];
    unsigned char a[16];
    assert_int_equal(i2v__allow_parse(&allow, "127.0.0.1/32, 10.0.0.0/8,::1", msg, sizeof msg), 0);
    assert_int_equal(allow.count, 3);
    inet_pton(AF_INET, "127.0.0.1", a);
    assert_null(i2v__addr_bytes_refused(AF_INET, a, &allow));
    inet_pton(AF_INET, "127.0.0.2", a);
    assert_non_null(i2v__addr_bytes_refused(AF_INET, a, &allow));
    inet_pton(AF_INET, "10.200.1.1", a);
    assert_null(i2v__addr_bytes_refused(AF_INET, a, &allow));
    inet_pton(AF_INET6, "::ffff:127.0.0.1", a);
    assert_null(i2v__addr_bytes_refused(AF_INET6, a, &allow)); /* the embedded v4 is allowed */
    inet_pton(AF_INET6, "::1", a);
    assert_null(i2v__addr_bytes_refused(AF_INET6, a, &allow));
    assert_int_equal(i2v__allow_parse(&allow, "localhost", msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "localhost"));
    assert_int_equal(i2v__allow_parse(&allow, "10.0.0.0/33", msg, sizeof msg), -1);
    assert_int_equal(i2v__allow_parse(&allow, "", msg, sizeof msg), 0);
    assert_int_equal(allow.count, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_classify),
                                       cmocka_unit_test(test_allow_list)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
