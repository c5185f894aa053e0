/*
 * Login throttling (issue 3 §8): failed password checks are counted per
 * account (LOGIN_GUARD_FAILURES per minute) and per client IP
 * (LOGIN_GUARD_IP_FAILURES per minute) in token buckets refilled continuously. While either bucket
 * is empty, every login for that IP or account is refused with 429 and Retry-After, even with the
 * right password, before any hashing happens; other accounts and other IPs
 * are unaffected. Both end-user and operator logins use one guard; accounts
 * are namespaced by the caller ("user:<app_id>:<user_id>", "operator:<name>").
 *
 * Threads: every call may come from any thread (one mutex; a login costs
 * tens of milliseconds of hashing anyway). Memory is bounded: the tables
 * evict their least recently used keys (ratelimit.h).
 */
#ifndef HERALD_AUTH_LOGIN_GUARD_H
#define HERALD_AUTH_LOGIN_GUARD_H

#include <stdint.h>

#define LOGIN_GUARD_FAILURES 10 /* failed logins per minute per account */
#define LOGIN_GUARD_IP_FAILURES                                                                    \
    100 /* failed logins per minute per client IP (many accounts                                   \
           may share one address: offices, NAT) */

struct login_guard;

/* A guard with empty tables; NULL when out of memory. */
struct login_guard *login_guard_new(void);

/* NULL-safe. */
void login_guard_free(struct login_guard *g);

/*
 * Before checking a password: 0 when ip and account may try now, else the
 * seconds (>= 1) the client should wait (the Retry-After value). Takes nothing.
 */
uint64_t login_guard_check(struct login_guard *g, const char *ip, const char *account,
                           uint64_t now_ms);

/* After a wrong password (or an unknown account): takes one token from both buckets. */
void login_guard_failed(struct login_guard *g, const char *ip, const char *account,
                        uint64_t now_ms);

#endif
