/*
 * test_sigv4.c - the SigV4 pieces of the S3 blob store (src/blob/sigv4.c):
 * the presigned URL of AWS's published example ("Authenticating Requests:
 * Using Query Parameters (AWS Signature Version 4)": its canonical request,
 * string to sign and signature), AWS's URI encoding (spaces, '~', '/',
 * UTF-8), a session token, the limits, and payload hashes of memory and of
 * file ranges.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blob/sigv4.h"

#define AWS_KEY "AKIAIOSFODNN7EXAMPLE"
#define AWS_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define T_20130524 ((time_t)1369353600) /* 2013-05-24T00:00:00Z */

static i2v_sigv4_presign example(void)
{
    return (i2v_sigv4_presign){
        .method = "GET",
        .host = "examplebucket.s3.amazonaws.com",
        .path = "/test.txt",
        .region = "us-east-1",
        .service = "s3",
        .access_key = AWS_KEY,
        .secret_key = AWS_SECRET,
        .now = T_20130524,
        .expires = 86400,
    };
}

/* The value of query parameter name in q, into out. */
static const char *param(const char *q, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);
    for (const char *p = q; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
        if (strncmp(p, name, n) == 0 && p[n] == '=') {
            size_t len = strcspn(p + n + 1, "&");
            assert_true(len < cap);
            memcpy(out, p + n + 1, len);
            out[len] = '\0';
            return out;
        }
    }
    return NULL;
}

static void test_aws_example(void **state)
{
    (void)state;
    i2v_sigv4_presign p = example();
    i2v_sigv4_trace t;
    char q[2048];
    i2v_error e = {0};
    assert_int_equal(i2v__sigv4_presign(&p, q, sizeof q, &t, &e), 0);
    assert_string_equal(t.canonical_request,
                        "GET\n"
                        "/test.txt\n"
                        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%"
                        "2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&"
                        "X-Amz-Expires=86400&X-Amz-SignedHeaders=host\n"
                        "host:examplebucket.s3.amazonaws.com\n"
                        "\n"
                        "host\n"
                        "UNSIGNED-PAYLOAD");
    assert_string_equal(t.string_to_sign,
                        "AWS4-HMAC-SHA256\n"
                        "20130524T000000Z\n"
                        "20130524/us-east-1/s3/aws4_request\n"
                        "3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04");
    assert_string_equal(q, "X-Amz-Algorithm=AWS4-HMAC-SHA256"
                           "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%"
                           "2Faws4_request"
                           "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400"
                           "&X-Amz-SignedHeaders=host"
                           "&X-Amz-Signature="
                           "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    /* without a trace, the same query */
    char q2[2048];
    assert_int_equal(i2v__sigv4_presign(&p, q2, sizeof q2, NULL, &e), 0);
    assert_string_equal(q, q2);
}

static void test_encode(void **state)
{
    (void)state;
    char out[256];
    assert_int_equal(i2v__sigv4_encode("AZaz09-._~", 10, 0, out, sizeof out), 10);
    assert_string_equal(out, "AZaz09-._~");
    i2v__sigv4_encode("a b+c=d&e/f", 11, 0, out, sizeof out);
    assert_string_equal(out, "a%20b%2Bc%3Dd%26e%2Ff");
    i2v__sigv4_encode("/dir with space/x~y/a+b.mp4", 27, 1, out, sizeof out);
    assert_string_equal(out, "/dir%20with%20space/x~y/a%2Bb.mp4");
    i2v__sigv4_encode("caf\xc3\xa9/\xe2\x82\xac", 9, 1, out, sizeof out); /* café/€ */
    assert_string_equal(out, "caf%C3%A9/%E2%82%AC");
    i2v__sigv4_encode("!*'();:@$,?#[]%", 15, 1, out, sizeof out);
    assert_string_equal(out, "%21%2A%27%28%29%3B%3A%40%24%2C%3F%23%5B%5D%25");
    /* a NUL inside the length is a byte like any other */
    assert_int_equal(i2v__sigv4_encode("a\0b", 3, 0, out, sizeof out), 5);
    assert_string_equal(out, "a%00b");
    /* too small: I2V_EINVAL and an empty string, never a cut escape */
    assert_int_equal(i2v__sigv4_encode(" ", 1, 0, out, 3), I2V_EINVAL);
    assert_string_equal(out, "");
    assert_int_equal(i2v__sigv4_encode(" ", 1, 0, out, 4), 3);
    assert_int_equal(i2v__sigv4_encode("abc", 3, 0, out, 3), I2V_EINVAL);
    assert_int_equal(i2v__sigv4_encode("", 0, 0, out, 1), 0);
}

/* A path that needs encoding is encoded once, in the URL and the canonical
 * request alike; the signature follows the key's bytes. */
static void test_encoded_path(void **state)
{
    (void)state;
    i2v_sigv4_presign p = example();
    p.path = "/my bucket/caf\xc3\xa9 ~x/a+b.mp4";
    p.host = "127.0.0.1:9000";
    i2v_sigv4_trace t;
    char q[2048], sig1[80], sig2[80];
    i2v_error e = {0};
    assert_int_equal(i2v__sigv4_presign(&p, q, sizeof q, &t, &e), 0);
    assert_non_null(strstr(t.canonical_request, "GET\n/my%20bucket/caf%C3%A9%20~x/a%2Bb.mp4\n"));
    assert_non_null(strstr(t.canonical_request, "\nhost:127.0.0.1:9000\n"));
    assert_non_null(param(q, "X-Amz-Signature", sig1, sizeof sig1));
    assert_int_equal(strlen(sig1), 64);
    p.path = "/my bucket/cafe ~x/a+b.mp4";
    assert_int_equal(i2v__sigv4_presign(&p, q, sizeof q, NULL, &e), 0);
    assert_non_null(param(q, "X-Amz-Signature", sig2, sizeof sig2));
    assert_string_not_equal(sig1, sig2);
}

static void test_session_token(void **state)
{
    (void)state;
    i2v_sigv4_presign p = example();
    p.session_token = "FQoGZXIvYXdzE/token+with=chars";
    i2v_sigv4_trace t;
    char q[2048], v[256], sig[80];
    i2v_error e = {0};
    assert_int_equal(i2v__sigv4_presign(&p, q, sizeof q, &t, &e), 0);
    /* sorted: ...Expires, Security-Token, SignedHeaders; then the signature */
    assert_non_null(strstr(q, "&X-Amz-Expires=86400&X-Amz-Security-Token=FQoGZXIvYXdzE%2Ftoken%"
                              "2Bwith%3Dchars&X-Amz-SignedHeaders=host&X-Amz-Signature="));
    assert_non_null(strstr(t.canonical_request, "&X-Amz-Security-Token=FQoGZXIvYXdzE%2Ftoken%"
                                                "2Bwith%3Dchars&X-Amz-SignedHeaders=host\n"));
    assert_string_equal(param(q, "X-Amz-Security-Token", v, sizeof v),
                        "FQoGZXIvYXdzE%2Ftoken%2Bwith%3Dchars");
    assert_non_null(param(q, "X-Amz-Signature", sig, sizeof sig));
    assert_string_not_equal(sig,
                            "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    /* an empty token is none */
    p.session_token = "";
    assert_int_equal(i2v__sigv4_presign(&p, q, sizeof q, NULL, &e), 0);
    assert_null(strstr(q, "Security-Token"));
    assert_non_null(strstr(q, "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"));
}

static void test_limits(void **state)
{
    (void)state;
    char q[2048];
    i2v_sigv4_presign p = example();
    i2v_error e = {0};
    p.expires = 0;
    assert_int_equal(i2v__sigv4_presign(&p, q, sizeof q, NULL, &e), I2V_EINVAL);
    assert_non_null(strstr(e.message, "1..604800"));
    assert_string_equal(q, "");
    p.expires = I2V_SIGV4_EXPIRES_MAX + 1;
    i2v_error e2 = {0};
    assert_int_equal(i2v__sigv4_presign(&p, q, sizeof q, NULL, &e2), I2V_EINVAL);
    p.expires = I2V_SIGV4_EXPIRES_MAX;
    assert_int_equal(i2v__sigv4_presign(&p, q, sizeof q, NULL, &e2), 0);
    p.path = "test.txt"; /* no leading '/' */
    i2v_error e3 = {0};
    assert_int_equal(i2v__sigv4_presign(&p, q, sizeof q, NULL, &e3), I2V_EINVAL);
    p = example();
    p.secret_key = NULL;
    i2v_error e4 = {0};
    assert_int_equal(i2v__sigv4_presign(&p, q, sizeof q, NULL, &e4), I2V_EINVAL);
    /* a query that does not fit: an error, never a cut URL */
    p = example();
    i2v_error e5 = {0};
    assert_int_equal(i2v__sigv4_presign(&p, q, 200, NULL, &e5), I2V_EINVAL);
    assert_string_equal(q, "");
    assert_non_null(strstr(e5.message, "too long"));
}

static void test_sha256(void **state)
{
    (void)state;
    char h[I2V_SIGV4_HEX + 1];
    i2v__sigv4_sha256_hex("", 0, h);
    assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    i2v__sigv4_sha256_hex("abc", 3, h);
    assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

    /* a file range: the same as the bytes in memory, whatever the range */
    char path[] = "/tmp/i2v-sigv4-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    size_t n = 700000;
    unsigned char *data = malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (unsigned char)(i * 31 + (i >> 9));
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    const size_t ranges[][2] = {{0, 0}, {0, n}, {1, 262144}, {262143, 300001}, {n - 1, 1}};
    for (size_t k = 0; k < sizeof ranges / sizeof ranges[0]; k++) {
        char a[I2V_SIGV4_HEX + 1], b[I2V_SIGV4_HEX + 1];
        i2v_error e = {0};
        assert_int_equal(i2v__sigv4_sha256_fd(fd, ranges[k][0], ranges[k][1], a, &e), 0);
        i2v__sigv4_sha256_hex(data + ranges[k][0], ranges[k][1], b);
        assert_string_equal(a, b);
    }
    /* past the end of the file: an error */
    i2v_error e = {0};
    assert_int_equal(i2v__sigv4_sha256_fd(fd, n - 10, 11, h, &e), I2V_EIO);
    assert_non_null(strstr(e.message, "shorter"));
    close(fd);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aws_example),  cmocka_unit_test(test_encode),
        cmocka_unit_test(test_encoded_path), cmocka_unit_test(test_session_token),
        cmocka_unit_test(test_limits),       cmocka_unit_test(test_sha256),
    };
    return cmocka_run_group_tests_name("sigv4", tests, NULL, NULL);
}
