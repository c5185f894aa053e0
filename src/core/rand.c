/*
 * Random bytes and hex ids on OpenSSL's RAND_bytes (thread-safe).
 */
#include "rand.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>

void rand_bytes(void *p, size_t n)
{
    if (RAND_bytes(p, (int)n) != 1) {
        fprintf(stderr, "fatal: RAND_bytes failed\n");
        abort();
    }
}

void rand_hex(char *out, size_t nbytes)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char tmp[64];
    while (nbytes > 0) {
        size_t n = nbytes < sizeof(tmp) ? nbytes : sizeof(tmp);
        rand_bytes(tmp, n);
        for (size_t i = 0; i < n; i++) {
            *out++ = hex[tmp[i] >> 4];
            *out++ = hex[tmp[i] & 15];
        }
        nbytes -= n;
    }
    *out = '\0';
}
