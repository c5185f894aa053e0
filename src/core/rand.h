/*
 * Random identifiers from OpenSSL's CSPRNG: session ids, request ids.
 */
#ifndef HERALD_CORE_RAND_H
#define HERALD_CORE_RAND_H

#include <stddef.h>

/* Fills out with 2*nbytes lowercase hex characters and a NUL (out holds 2*nbytes+1). */
void rand_hex(char *out, size_t nbytes);

/* Fills p with n random bytes; aborts if the CSPRNG fails. */
void rand_bytes(void *p, size_t n);

#endif
