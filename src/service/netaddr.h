/*
 * netaddr.h - which addresses i2v may connect to when it fetches a photo or
 * delivers a webhook. Public unicast addresses pass; loopback, private,
 * shared (100.64/10), link-local, multicast, reserved, documentation and
 * unique-local addresses are refused, including IPv4 addresses embedded in
 * IPv6 (mapped, compatible, NAT64 64:ff9b::/96 and 64:ff9b:1::/48, 6to4
 * 2002::/16, Teredo). An operator's allow list (CIDRs) overrides the refusal.
 */
#ifndef I2V_NETADDR_H
#define I2V_NETADDR_H

#include <stddef.h>
#include <sys/socket.h>

#define I2V_ALLOW_MAX 16

typedef struct i2v_cidr {
    int family; /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    int prefix;
} i2v_cidr;

typedef struct i2v_allow {
    i2v_cidr net[I2V_ALLOW_MAX];
    int count;
} i2v_allow;

/* Parses "127.0.0.1/32,::1/128" (a bare address means a single host) into
 * allow. Returns 0, or -1 with a message naming the bad entry. */
int i2v__allow_parse(i2v_allow *allow, const char *list, char *msg, size_t msglen);
/* NULL when addr may be connected to; else a short reason ("loopback",
 * "private", ...). allow may be NULL. */
const char *i2v__addr_refused(const struct sockaddr *addr, const i2v_allow *allow);
/* Same for raw bytes: family AF_INET (4 bytes) or AF_INET6 (16 bytes). */
const char *i2v__addr_bytes_refused(int family, const unsigned char *a, const i2v_allow *allow);

/* A listen address "HOST:PORT" / "[v6]:PORT" (an empty host: every IPv4
 * address) into ss: 0, or -1. */
int i2v__parse_listen(const char *s, struct sockaddr_storage *ss, unsigned *len);

#endif
