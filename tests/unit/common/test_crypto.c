/* test_crypto.c - identifiers, key hashes and the webhook signature. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "common/crypto.h"

static void test_webhook_signature_vector(void **state)
{
    (void)state;
    /* The Standard Webhooks specification's example. */
    char sig[128];
    const char *body = "{\"test\": 2432232314}";
    assert_int_equal(i2v__webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                       "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body,
                                       strlen(body), sig, sizeof sig),
                     0);
    assert_string_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    assert_int_equal(i2v__webhook_sign("whsec_!!", "id", 1, "x", 1, sig, sizeof sig), -1);
}

static void test_hmac_vector(void **state)
{
    (void)state;
    /* RFC 4231, test case 2 */
    unsigned char mac[32];
    char hex[65];
    const char *data = "what do ya want for nothing?";
    i2v__hmac_sha256("Jefe", 4, data, strlen(data), mac);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", mac[i]);
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    unsigned char other[32];
    memcpy(other, mac, 32);
    assert_true(i2v__equal_ct(mac, other, 32));
    other[31] ^= 1;
    assert_false(i2v__equal_ct(mac, other, 32));
}

static void test_ids(void **state)
{
    (void)state;
    char a[37], b[37];
    i2v__uuid(a);
    i2v__uuid(b);
    assert_true(i2v__uuid_valid(a));
    assert_string_not_equal(a, b);
    assert_int_equal(a[14], '4');
    assert_false(i2v__uuid_valid("not-a-uuid"));
    assert_false(i2v__uuid_valid("0000000000000000000000000000000000000"));
    assert_true(i2v__uuid_valid("00000000-0000-4000-8000-000000000000"));
    for (int i = 0; i < 1000; i++) {
        int64_t t = i2v__random_task_id();
        assert_true(t >= (int64_t)1 << 40 && t < (int64_t)1 << 53);
    }
    char key[I2V_KEY_LEN + 1];
    i2v__new_api_key(key);
    assert_int_equal(strlen(key), I2V_KEY_LEN);
    assert_memory_equal(key, "i2v_", 4);
    assert_null(strpbrk(key, "+/="));
    char hash[65];
    i2v__sha256_hex("abc", 3, hash);
    assert_string_equal(hash, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    char secret[64];
    i2v__new_webhook_secret(secret);
    assert_memory_equal(secret, "whsec_", 6);
    char sig[128];
    assert_int_equal(i2v__webhook_sign(secret, "msg_1", 5, "{}", 2, sig, sizeof sig), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_webhook_signature_vector),
                                       cmocka_unit_test(test_hmac_vector),
                                       cmocka_unit_test(test_ids)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
