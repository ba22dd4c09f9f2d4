/* crypto.c - random identifiers, key hashes and webhook signatures (OpenSSL). */
#include "crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void i2v__random(void *buf, size_t len)
{
    if (RAND_bytes(buf, (int)len) != 1) {
        fprintf(stderr, "i2v: the random number generator failed\n");
        abort();
    }
}

static const char hexd[] = "0123456789abcdef";

void i2v__uuid(char out[37])
{
    unsigned char b[16];
    i2v__random(b, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    int o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
        out[o++] = hexd[b[i] >> 4];
        out[o++] = hexd[b[i] & 15];
    }
    out[o] = '\0';
}

int i2v__uuid_valid(const char *s)
{
    if (!s || strlen(s) != 36) return 0;
    for (int i = 0; i < 36; i++) {
        const char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') return 0;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return 0;
        }
    }
    return 1;
}

void i2v__random_hex(char *out, size_t nbytes)
{
    unsigned char b[64];
    if (nbytes > sizeof b) nbytes = sizeof b;
    i2v__random(b, nbytes);
    for (size_t i = 0; i < nbytes; i++) {
        out[2 * i] = hexd[b[i] >> 4];
        out[2 * i + 1] = hexd[b[i] & 15];
    }
    out[2 * nbytes] = '\0';
}

int64_t i2v__random_task_id(void)
{
    uint64_t r;
    i2v__random(&r, sizeof r);
    const uint64_t lo = (uint64_t)1 << 40, hi = (uint64_t)1 << 53;
    return (int64_t)(lo + r % (hi - lo));
}

void i2v__base64(const void *data, size_t len, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
}

void i2v__new_api_key(char key[I2V_KEY_LEN + 1])
{
    unsigned char b[32];
    char b64[48];
    i2v__random(b, sizeof b);
    i2v__base64(b, sizeof b, b64); /* 44 chars, last is '=' */
    for (int i = 0; i < 43; i++) {
        char c = b64[i];
        key[4 + i] = c == '+' ? '-' : c == '/' ? '_' : c;
    }
    memcpy(key, "i2v_", 4);
    key[I2V_KEY_LEN] = '\0';
}

void i2v__new_webhook_secret(char out[64])
{
    unsigned char b[24];
    char b64[40];
    i2v__random(b, sizeof b);
    i2v__base64(b, sizeof b, b64);
    snprintf(out, 64, "whsec_%s", b64);
}

void i2v__sha256_hex(const void *data, size_t len, char out[I2V_HASH_HEX + 1])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(data, len, md);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
        out[2 * i] = hexd[md[i] >> 4];
        out[2 * i + 1] = hexd[md[i] & 15];
    }
    out[64] = '\0';
}

int i2v__webhook_sign(const char *secret, const char *id, long long timestamp, const char *body,
                      size_t body_len, char *out, size_t outlen)
{
    const char *b64 = strncmp(secret, "whsec_", 6) == 0 ? secret + 6 : secret;
    unsigned char key[128];
    const size_t kl = strlen(b64);
    if (kl == 0 || kl % 4 || kl / 4 * 3 > sizeof key) return -1;
    int n = EVP_DecodeBlock(key, (const unsigned char *)b64, (int)kl);
    if (n < 0) return -1;
    if (kl >= 1 && b64[kl - 1] == '=') n--;
    if (kl >= 2 && b64[kl - 2] == '=') n--;

    char head[160];
    const int hl = snprintf(head, sizeof head, "%s.%lld.", id, timestamp);
    if (hl < 0 || (size_t)hl >= sizeof head) return -1;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
                           OSSL_PARAM_construct_end()};
    int ok = ctx && EVP_MAC_init(ctx, key, (size_t)n, params) &&
             EVP_MAC_update(ctx, (const unsigned char *)head, (size_t)hl) &&
             EVP_MAC_update(ctx, (const unsigned char *)body, body_len);
    size_t ml = 0;
    if (ok) ok = EVP_MAC_final(ctx, md, &ml, sizeof md);
    mdlen = (unsigned int)ml;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    if (!ok || outlen < 3 + 4 * ((mdlen + 2) / 3) + 1) return -1;
    memcpy(out, "v1,", 3);
    i2v__base64(md, mdlen, out + 3);
    return 0;
}

void i2v__hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                      unsigned char out[32])
{
    unsigned int n = 0;
    if (!HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &n) || n != 32) {
        fprintf(stderr, "i2v: HMAC-SHA256 failed\n");
        abort();
    }
}

int i2v__equal_ct(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}
