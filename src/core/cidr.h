/*
 * IP addresses and CIDR blocks for the trusted-proxy list: parsing (IPv4 and
 * IPv6, IPv4-mapped IPv6 read as IPv4), matching and canonical text. Every
 * address is held in 16 bytes, IPv4 as ::ffff:a.b.c.d, so one comparison
 * covers both families.
 */
#ifndef HERALD_CORE_CIDR_H
#define HERALD_CORE_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Room for the text of any address, and of any block with its "/prefix". */
#define CIDR_ADDR_TEXT 46
#define CIDR_TEXT 50

struct cidr {
    uint8_t addr[16]; /* host bits are zero */
    uint8_t bits;     /* prefix length over the 16 bytes (IPv4 /n is 96 + n) */
};

/*
 * Parses an IPv4 or IPv6 address of n bytes: no brackets, port or scope.
 * Returns true and fills addr.
 */
bool cidr_addr_parse(const char *s, size_t n, uint8_t addr[16]);

/* Writes the canonical text of addr ("192.0.2.1", "2001:db8::1") to out (CIDR_ADDR_TEXT). */
void cidr_addr_format(const uint8_t addr[16], char *out);

/* True when addr is inside block. */
bool cidr_contains(const struct cidr *block, const uint8_t addr[16]);

/*
 * Parses a comma-separated list of addresses and blocks ("127.0.0.1,
 * 10.0.0.0/8, ::1/128"; blanks around items are ignored). A bare address is a
 * block of one. Returns the number of blocks (>= 1) and sets *out (malloc'd,
 * the caller frees it), or -1 after writing why to err: an empty list or item,
 * an invalid address, a prefix out of range, host bits set. When text is not
 * NULL, *text gets the list in canonical form ("10.0.0.0/8,::1/128",
 * malloc'd).
 */
int cidr_list_parse(const char *list, struct cidr **out, char **text, char *err, size_t errlen);

/* True when addr is inside one of the n blocks. */
bool cidr_list_contains(const struct cidr *blocks, size_t n, const uint8_t addr[16]);

#endif
