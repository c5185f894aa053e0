/*
 * HERALD_DATABASE_URL when it names PostgreSQL (postgres:// or postgresql://): checked by the
 * configuration with libpq's own parser, so that a value check-config accepts does not fail at
 * start for its syntax (docs/deployment.md); whether the server is there is the store's to find.
 */
#ifndef HERALD_CORE_PG_URL_H
#define HERALD_CORE_PG_URL_H

#include <stddef.h>

/* 0, or -1 with a reason (no setting name, no password) in err: what libpq refuses to parse,
 * a port that is not a number from 1 to 65535, a timeout or keepalive setting that is not a
 * whole number, an sslmode libpq does not know. */
int pg_url_check(const char *url, char *err, size_t errlen);

#endif
