/*
 * fuzz_url.c - what decides where i2v may connect: URL checking (scheme,
 * host, user names) through libcurl's parser, the address classifier for
 * IPv4 and IPv6 bytes (embedded IPv4 forms included), and the operator's
 * allow list parser. Invariants: a loopback, private or link-local address is
 * never allowed, however it is embedded.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "service/fetch.h"
#include "service/netaddr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return 0;
}

/* Loopback, this-network, private and link-local IPv4: always refused. */
static int must_refuse_v4(const unsigned char *a)
{
    return a[0] == 127 || a[0] == 0 || a[0] == 10 || (a[0] == 169 && a[1] == 254) ||
           (a[0] == 172 && (a[1] & 0xf0) == 16) || (a[0] == 192 && a[1] == 168) ||
           (a[0] == 100 && (a[1] & 0xc0) == 64);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) abort();
    memcpy(s, data, size);
    s[size] = '\0';
    char why[96] = "";
    if (!i2v__url_ok(s, why, sizeof why) && !why[0]) abort();

    i2v_allow allow;
    char msg[128];
    i2v__allow_parse(&allow, s, msg, sizeof msg);

    /* the bytes as addresses */
    if (size >= 4) {
        const char *r = i2v__addr_bytes_refused(AF_INET, data, NULL);
        if (must_refuse_v4(data) && !r) abort();
    }
    if (size >= 16) {
        const char *r = i2v__addr_bytes_refused(AF_INET6, data, NULL);
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b};
        if ((memcmp(data, mapped, 12) == 0 || memcmp(data, nat64, 12) == 0) &&
            must_refuse_v4(data + 12) && !r)
            abort();
        if (data[0] == 0x20 && data[1] == 0x02 && must_refuse_v4(data + 2) && !r) abort();
        if ((data[0] & 0xfe) == 0xfc && !r) abort();                        /* ULA */
        if (data[0] == 0xfe && (data[1] & 0xc0) == 0x80 && !r) abort();     /* link-local */
        /* the same bytes, as text, through inet_ntop/inet_pton: same verdict */
        char text[INET6_ADDRSTRLEN];
        unsigned char back[16];
        if (inet_ntop(AF_INET6, data, text, sizeof text) &&
            inet_pton(AF_INET6, text, back) == 1 &&
            (i2v__addr_bytes_refused(AF_INET6, back, NULL) == NULL) != (r == NULL))
            abort();
    }
    free(s);
    return 0;
}
