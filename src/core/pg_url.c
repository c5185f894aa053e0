#include "core/pg_url.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

/* A port list as libpq takes it (one per host, comma-separated): each 1..65535. */
static int ports_ok(const char *v)
{
    const char *p = v;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n > 0) { /* an empty item is libpq's default port */
            if (n > 5 || strspn(p, "0123456789") < n)
                return 0;
            long port = strtol(p, NULL, 10);
            if (port < 1 || port > 65535)
                return 0;
        }
        if (end == NULL)
            return 1;
        p = end + 1;
    }
}

int pg_url_check(const char *url, char *err, size_t errlen)
{
    static const char *const sslmodes[] = {"disable", "allow",     "prefer",
                                           "require", "verify-ca", "verify-full"};
    char *why = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &why);
    if (opts == NULL) {
        /* not libpq's message: it quotes the part it could not read, the password included */
        PQfreemem(why);
        snprintf(err, errlen,
                 "not a PostgreSQL URL libpq can read (check the percent-encoding, the query "
                 "parameters and the [] around an IPv6 address)");
        return -1;
    }
    int rc = 0;
    for (PQconninfoOption *o = opts; o->keyword != NULL && rc == 0; o++) {
        if (o->val == NULL)
            continue;
        bool integer = strcmp(o->keyword, "connect_timeout") == 0 ||
                       strncmp(o->keyword, "keepalives", 10) == 0 ||
                       strcmp(o->keyword, "tcp_user_timeout") == 0;
        if (integer && (o->val[0] == '\0' || strlen(o->val) > 9 ||
                        strspn(o->val, "0123456789") != strlen(o->val))) {
            snprintf(err, errlen, "%s must be a whole number", o->keyword);
            rc = -1;
        } else if (strcmp(o->keyword, "port") == 0 && !ports_ok(o->val)) {
            snprintf(err, errlen, "the port must be a number from 1 to 65535");
            rc = -1;
        } else if (strcmp(o->keyword, "sslmode") == 0) {
            bool known = false;
            for (size_t i = 0; i < sizeof(sslmodes) / sizeof(sslmodes[0]); i++)
                known |= strcmp(o->val, sslmodes[i]) == 0;
            if (!known) {
                snprintf(err, errlen,
                         "sslmode must be disable, allow, prefer, require, verify-ca or "
                         "verify-full");
                rc = -1;
            }
        }
    }
    PQconninfoFree(opts);
    return rc;
}
