/*
 * Password-check throttling (issue 3 §8, issue 7): every password check takes
 * a token from two buckets before it is queued for hashing, one for the
 * account (LOGIN_GUARD_FAILURES per minute) and one for the client IP
 * (LOGIN_GUARD_IP_FAILURES per minute), and a check that succeeds gives both
 * back. So at most that many wrong passwords are checked per window, however
 * many requests arrive at once: while either bucket is empty, every login for
 * that IP or account is refused with 429 and Retry-After, the right password
 * too, before any hashing; other accounts and other IPs are unaffected. End-user
 * and operator logins and password changes use one guard; accounts are
 * namespaced by the caller ("user:<app_id>:<user_id>", "operator:<name>").
 *
 * Self-registration has its own buckets, per client IP and per app: each
 * attempt that reaches the hashing (whatever its outcome, "username taken"
 * included) takes one token, and nothing is given back.
 *
 * Threads: every call may come from any thread (one mutex; a login costs
 * tens of milliseconds of hashing anyway). Memory is bounded: the tables
 * evict their least recently used keys (ratelimit.h).
 */
#ifndef HERALD_AUTH_LOGIN_GUARD_H
#define HERALD_AUTH_LOGIN_GUARD_H

#include <stdint.h>

/* failed logins per minute per account */
#define LOGIN_GUARD_FAILURES 10
/* failed logins per minute per client IP (many accounts may share one address: offices, NAT) */
#define LOGIN_GUARD_IP_FAILURES 100
/* registrations per hour per client IP (the whole hour's worth may come at once) */
#define LOGIN_GUARD_REGISTER_IP 60
/* registrations per hour per app: bounds the hashing a flood from many addresses can cause */
#define LOGIN_GUARD_REGISTER_APP 1000

struct login_guard;

/* A guard with empty tables; NULL when out of memory. */
struct login_guard *login_guard_new(void);

/* NULL-safe. */
void login_guard_free(struct login_guard *g);

/*
 * What login_guard_take would answer now, without taking anything: 0 when ip
 * and account may try, else the seconds (>= 1) to wait.
 */
uint64_t login_guard_check(struct login_guard *g, const char *ip, const char *account,
                           uint64_t now_ms);

/*
 * Before a password check is queued: when both the ip and the account
 * buckets hold a token, takes one from each and returns 0; otherwise takes
 * nothing and returns the seconds (>= 1) the client should wait (the
 * Retry-After value). Atomic: concurrent callers never take more tokens than
 * the buckets hold.
 */
uint64_t login_guard_take(struct login_guard *g, const char *ip, const char *account,
                          uint64_t now_ms);

/*
 * Gives back the tokens of one login_guard_take: the password was right, or
 * the check never ran (queue full, store error). Buckets never exceed their
 * capacity.
 */
void login_guard_refund(struct login_guard *g, const char *ip, const char *account,
                        uint64_t now_ms);

/*
 * Before a self-registration is hashed: takes one token from the ip bucket
 * and one from the app bucket and returns 0, or takes nothing and returns the
 * seconds (>= 1) to wait.
 */
uint64_t login_guard_register_take(struct login_guard *g, const char *ip, const char *app_id,
                                   uint64_t now_ms);

#endif
