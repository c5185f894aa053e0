/*
 * HERALD_REDIS_URL: redis://[[USER]:PASSWORD@]HOST[:PORT][/DB], the Redis several nodes share
 * (docs/deployment.md, "Several nodes"). Parsed once by the configuration (to refuse a bad value
 * at start, naming the setting) and again by the bus that connects (bus/bus_redis.c).
 */
#ifndef HERALD_CORE_REDIS_URL_H
#define HERALD_CORE_REDIS_URL_H

#include <stddef.h>

struct redis_url {
    char host[256]; /* a name, an IPv4 address, or an IPv6 address written in [] (kept without) */
    int port;       /* 6379 when absent */
    int db;         /* 0 when absent */
    char user[128]; /* "" when absent (Redis 6 ACL user; "" = the default user) */
    char pass[256]; /* "" when absent; percent-decoded */
};

/* Fills out from url. Returns 0, or -1 with a reason (no setting name) in err. */
int redis_url_parse(const char *url, struct redis_url *out, char *err, size_t errlen);

#endif
