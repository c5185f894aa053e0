/*
 * Password hashing on libxcrypt (crypt_r): new hashes are yescrypt ("$y$",
 * libxcrypt's default cost); stored hashes verify when they are yescrypt or
 * bcrypt ("$2b$", "$2a$", "$2y$", as the source systems wrote them), and
 * password_needs_rehash() tells the login path to upgrade anything that is
 * not yescrypt after a successful check.
 *
 * Cost: every password_hash / password_verify takes 25-230 ms of CPU (about
 * 25 ms for yescrypt, about 230 ms for bcrypt cost 12; figures in ADR 0006).
 * Call them on worker threads (the libuv thread pool), never on a loop
 * thread. They are thread-safe: each call owns its crypt_data (32 KiB, on
 * the heap) and keeps no state between calls.
 *
 * Passwords are bytes of at most PASSWORD_MAX_LEN, without NUL. That is 511,
 * not a rounder 1024: libxcrypt refuses longer passphrases
 * (CRYPT_MAX_PASSPHRASE_SIZE, 512 with the NUL), and pre-hashing longer ones
 * would make our "$y$" strings unreadable to every other yescrypt
 * implementation (ADR 0006). bcrypt reads only the first 72 bytes; yescrypt
 * reads them all. Never log a password or a hash.
 */
#ifndef HERALD_AUTH_PASSWORD_H
#define HERALD_AUTH_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#define PASSWORD_MAX_LEN 511  /* bytes; libxcrypt's limit */
#define PASSWORD_HASH_MAX 128 /* longest hash string this module writes or reads, with NUL */

/*
 * Hashes password[0..len) with yescrypt and a fresh random salt. Returns 0
 * and sets *out to the "$y$..." string (caller frees with free()); ERR_INVAL
 * when len is 0, over PASSWORD_MAX_LEN or the password holds a NUL;
 * ERR_BACKEND when libxcrypt fails (logged). Worker threads only.
 *
 * Inside a work item cancelled by workpool_stop (workpool_is_cancelled) the
 * hash and the checks below skip crypt_r: password_hash and password_verify
 * return ERR_UNAVAIL, the dummy checks ERR_UNAUTH at once.
 */
int password_hash(const char *password, size_t len, char **out);

/*
 * Checks password[0..len) against a stored hash; the computed hash is compared
 * in constant time. Returns 0 on a match; ERR_UNAUTH on a mismatch or a
 * password that could never have been hashed (empty, too long, holding a
 * NUL); ERR_INVAL when hash is not a well-formed yescrypt or bcrypt hash
 * (a store problem, logged without the hash). Worker threads only.
 */
int password_verify(const char *password, size_t len, const char *hash);

/*
 * Spends the time of one yescrypt verification and returns ERR_UNAUTH. The
 * login path calls it when the account does not exist, so response time does
 * not reveal which accounts exist. Worker threads only.
 */
int password_verify_dummy(const char *password, size_t len);

/*
 * The cost of a bcrypt hash ("$2b$12$..." -> 12), or 0 when hash is not a
 * bcrypt hash. Any thread.
 */
int password_bcrypt_cost(const char *hash);

/*
 * bcrypt costs above this take longer than one yescrypt check (cost 8 is
 * about as slow as libxcrypt's default yescrypt; each step doubles).
 */
#define PASSWORD_BCRYPT_SLOWER_FROM 9

/*
 * Spends the time of the slowest check in use and returns ERR_UNAUTH: a
 * bcrypt check at bcrypt_cost when it is at least PASSWORD_BCRYPT_SLOWER_FROM
 * (users imported from a source system), else a yescrypt check
 * (password_verify_dummy). Worker threads only.
 */
int password_verify_dummy_cost(const char *password, size_t len, int bcrypt_cost);

/* True when hash is not yescrypt ("$y$"), so it should be replaced at the next login. Any thread.
 */
bool password_needs_rehash(const char *hash);

#endif
