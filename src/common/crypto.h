/*
 * crypto.h - the small pieces of OpenSSL the service uses: random bytes,
 * UUIDs, API keys (shown once, stored as SHA-256), webhook secrets and the
 * Standard Webhooks signature (base64 HMAC-SHA256 of "id.timestamp.body").
 */
#ifndef I2V_CRYPTO_H
#define I2V_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define I2V_UUID_LEN 36
#define I2V_KEY_LEN 47 /* "i2v_" + 43 base64url characters (32 random bytes) */
#define I2V_HASH_HEX 64

/* Fills buf with cryptographically random bytes; aborts if the RNG fails. */
void i2v__random(void *buf, size_t len);
/* A random version-4 UUID, lower-case, into out[37]. */
void i2v__uuid(char out[37]);
/* 1 when s is a UUID in canonical 8-4-4-4-12 hexadecimal form. */
int i2v__uuid_valid(const char *s);
/* Random lower-case hex of 2*nbytes characters into out (2*nbytes+1). */
void i2v__random_hex(char *out, size_t nbytes);
/* A random integer in [2^40, 2^53): unguessable, exact as a JavaScript number. */
int64_t i2v__random_task_id(void);
/* A new API key into key[48]. */
void i2v__new_api_key(char key[I2V_KEY_LEN + 1]);
/* A new webhook secret "whsec_<base64 of 24 random bytes>" into out[64]. */
void i2v__new_webhook_secret(char out[64]);
/* SHA-256 of len bytes as lower-case hex into out[65]. */
void i2v__sha256_hex(const void *data, size_t len, char out[I2V_HASH_HEX + 1]);
/* Standard Webhooks signature "v1,<base64>" of id.timestamp.body under the
 * secret (whsec_ prefix + base64 key). Returns 0, or -1 for a bad secret. */
int i2v__webhook_sign(const char *secret, const char *id, long long timestamp, const char *body,
                      size_t body_len, char *out, size_t outlen);
/* HMAC-SHA256 of len bytes under key into out[32]. */
void i2v__hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                      unsigned char out[32]);
/* 1 when the n bytes at a and b are equal, in time independent of where
 * they differ. */
int i2v__equal_ct(const void *a, const void *b, size_t n);
/* Standard base64 (with padding) of len bytes; out needs 4*((len+2)/3)+1. */
void i2v__base64(const void *data, size_t len, char *out);

#endif
