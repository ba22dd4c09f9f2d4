/* netaddr.c - classifying IPv4/IPv6 addresses as public or not. */
#include "netaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct range {
    unsigned char net[16];
    int prefix;
    const char *why;
} range;

/* IPv4 ranges that are not public unicast (RFC 6890 and friends). */
static const range v4[] = {
    {{0}, 8, "this-network"},
    {{10}, 8, "private"},
    {{100, 64}, 10, "shared"},
    {{127}, 8, "loopback"},
    {{169, 254}, 16, "link-local"},
    {{172, 16}, 12, "private"},
    {{192, 0, 0}, 24, "reserved"},
    {{192, 0, 2}, 24, "documentation"},
    {{192, 88, 99}, 24, "reserved"},
    {{192, 168}, 16, "private"},
    {{198, 18}, 15, "benchmarking"},
    {{198, 51, 100}, 24, "documentation"},
    {{203, 0, 113}, 24, "documentation"},
    {{224}, 4, "multicast"},
    {{240}, 4, "reserved"},
};

static const range v6[] = {
    {{0}, 128, "unspecified"},
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128, "loopback"},
    {{0x01, 0x00}, 64, "discard"},
    {{0x20, 0x01, 0x0d, 0xb8}, 32, "documentation"},
    {{0x20, 0x01, 0x00, 0x10}, 28, "reserved"}, /* ORCHID */
    {{0x20, 0x01, 0x00, 0x20}, 28, "reserved"}, /* ORCHIDv2 */
    {{0xfc}, 7, "unique-local"},
    {{0xfe, 0x80}, 10, "link-local"},
    {{0xfe, 0xc0}, 10, "site-local"},
    {{0xff}, 8, "multicast"},
    {{0x3f, 0xfe}, 16, "reserved"}, /* old 6bone */
};

static int in_prefix(const unsigned char *a, const unsigned char *net, int prefix)
{
    int i = 0;
    for (; prefix >= 8; prefix -= 8, i++)
        if (a[i] != net[i]) return 0;
    if (prefix == 0) return 1;
    const unsigned char mask = (unsigned char)(0xff << (8 - prefix));
    return (a[i] & mask) == (net[i] & mask);
}

static int allowed(int family, const unsigned char *a, const i2v_allow *allow)
{
    if (!allow) return 0;
    for (int i = 0; i < allow->count; i++)
        if (allow->net[i].family == family &&
            in_prefix(a, allow->net[i].addr, allow->net[i].prefix))
            return 1;
    return 0;
}

static const char *v4_refused(const unsigned char *a)
{
    for (size_t i = 0; i < sizeof v4 / sizeof v4[0]; i++)
        if (in_prefix(a, v4[i].net, v4[i].prefix)) return v4[i].why;
    return NULL;
}

const char *i2v__addr_bytes_refused(int family, const unsigned char *a, const i2v_allow *allow)
{
    if (allowed(family, a, allow)) return NULL;
    if (family == AF_INET) return v4_refused(a);
    if (family != AF_INET6) return "not-ip";
    static const unsigned char zero[12] = {0};
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b};
    const unsigned char *embedded = NULL;
    /* IPv4 inside IPv6: the embedded address decides (and the allow list is
     * asked about it too, so "127.0.0.1/32" also allows ::ffff:127.0.0.1). */
    if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0)
        embedded = a + 12;
    else if (memcmp(a, zero, 12) == 0 && (a[12] | a[13] | a[14] | a[15]) &&
             !(a[12] == 0 && a[13] == 0 && a[14] == 0 && a[15] == 1))
        embedded = a + 12; /* IPv4-compatible ::a.b.c.d (deprecated) */
    else if (a[0] == 0x00 && a[1] == 0x64 && a[2] == 0xff && a[3] == 0x9b && a[4] == 0 && a[5] == 1)
        return "nat64-local"; /* 64:ff9b:1::/48, local-use NAT64 */
    else if (a[0] == 0x20 && a[1] == 0x02)
        embedded = a + 2; /* 6to4 2002:AABB:CCDD:: */
    else if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0 && a[3] == 0) {
        /* Teredo 2001:0::/32: the client's IPv4 is the last 32 bits, inverted. */
        unsigned char inv[4] = {(unsigned char)~a[12], (unsigned char)~a[13], (unsigned char)~a[14],
                                (unsigned char)~a[15]};
        if (allowed(AF_INET, inv, allow)) return NULL;
        const char *why = v4_refused(inv);
        if (why) return why;
        return v4_refused(a + 4); /* the Teredo server address */
    }
    if (embedded) {
        if (allowed(AF_INET, embedded, allow)) return NULL;
        return v4_refused(embedded);
    }
    for (size_t i = 0; i < sizeof v6 / sizeof v6[0]; i++)
        if (in_prefix(a, v6[i].net, v6[i].prefix)) return v6[i].why;
    return NULL;
}

const char *i2v__addr_refused(const struct sockaddr *sa, const i2v_allow *allow)
{
    if (!sa) return "no-address";
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
        return i2v__addr_bytes_refused(AF_INET, (const unsigned char *)&s4->sin_addr, allow);
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
        return i2v__addr_bytes_refused(AF_INET6, s6->sin6_addr.s6_addr, allow);
    }
    return "not-ip";
}

int i2v__allow_parse(i2v_allow *allow, const char *list, char *msg, size_t ml)
{
    memset(allow, 0, sizeof *allow);
    if (!list) return 0;
    const char *p = list;
    while (*p) {
        while (*p == ',' || *p == ' ')
            p++;
        if (!*p) break;
        size_t n = strcspn(p, ", ");
        char item[80];
        if (n >= sizeof item || allow->count >= I2V_ALLOW_MAX) {
            snprintf(msg, ml, "allow list: too many or too long entries");
            return -1;
        }
        memcpy(item, p, n);
        item[n] = '\0';
        p += n;
        i2v_cidr *c = &allow->net[allow->count];
        char *slash = strchr(item, '/');
        if (slash) *slash = '\0';
        if (inet_pton(AF_INET, item, c->addr) == 1) {
            c->family = AF_INET;
            c->prefix = 32;
        } else if (inet_pton(AF_INET6, item, c->addr) == 1) {
            c->family = AF_INET6;
            c->prefix = 128;
        } else {
            snprintf(msg, ml, "allow list: '%s' is not an IP address", item);
            return -1;
        }
        if (slash) {
            char *end;
            long pl = strtol(slash + 1, &end, 10);
            if (end == slash + 1 || *end || pl < 0 || pl > c->prefix) {
                snprintf(msg, ml, "allow list: '%s' has a bad prefix length", slash + 1);
                return -1;
            }
            c->prefix = (int)pl;
        }
        allow->count++;
    }
    return 0;
}

int i2v__parse_listen(const char *s, struct sockaddr_storage *ss, unsigned *len)
{
    char host[128];
    const char *colon = strrchr(s, ':');
    if (!colon) return -1;
    size_t hl = (size_t)(colon - s);
    if (hl >= sizeof host) return -1;
    memcpy(host, s, hl);
    host[hl] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end || port < 0 || port > 65535) return -1;
    memset(ss, 0, sizeof *ss);
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        host[hl - 1] = '\0';
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1) return -1;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        *len = sizeof *a;
        return 0;
    }
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    if (inet_pton(AF_INET, hl ? host : "0.0.0.0", &a->sin_addr) != 1) return -1;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    *len = sizeof *a;
    return 0;
}
