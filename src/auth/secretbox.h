/*
 * Secrets at rest (channel passwords, provider keys, webhook signing keys):
 * AES-256-GCM under one 32-byte server key, sealed into a printable string
 * "v1:" + base64(nonce(12) || ciphertext || tag(16)) that the store keeps as
 * text. A fresh random nonce per seal; opening detects any change to the
 * string. The version prefix leaves room for a new scheme or key later.
 *
 * The key comes from HERALD_ENCRYPTION_KEY, or from <data_dir>/encryption.key,
 * which the first start creates (zero-config). Losing that file
 * makes every sealed secret unreadable: back it up with the database.
 *
 * Threads: every function may be called from any thread; none keeps state.
 * Never log a key, a plaintext or a sealed value.
 */
#ifndef HERALD_AUTH_SECRETBOX_H
#define HERALD_AUTH_SECRETBOX_H

#include <stddef.h>
#include <stdint.h>

#define SECRETBOX_KEY_LEN 32
#define SECRETBOX_MAX_PLAINTEXT (1024 * 1024) /* secrets are small; this bounds the work */
#define SECRETBOX_KEY_FILE "encryption.key"
#define SECRET_MASK_SIZE 21 /* "****" + 4 UTF-8 characters + NUL */

/*
 * Loads the server key into key.
 *  - env_value (HERALD_ENCRYPTION_KEY) not NULL and not empty: 32 bytes as 64
 *    hex digits or base64 (standard or url alphabet, padding optional).
 *  - otherwise <data_dir>/encryption.key (same formats, surrounding whitespace
 *    ignored). When it does not exist, 32 random bytes are written there as
 *    hex, mode 0600, atomically (a temporary file linked into place, so two
 *    processes starting together end up with the same key); data_dir is
 *    created (0700) when missing.
 * A key file readable or writable by group or others is refused, not fixed:
 * the key may already have leaked, and the operator must decide (chmod 600).
 * Returns 0; ERR_INVAL (bad value or file content, no data_dir), ERR_DENIED
 * (file mode), ERR_IO (file system). On error err[0..errlen) holds one line
 * naming the setting or file, without key material. Startup only (blocking
 * file I/O); any thread.
 */
int secretbox_key_load(const char *env_value, const char *data_dir, uint8_t key[SECRETBOX_KEY_LEN],
                       char *err, size_t errlen);

/*
 * secretbox_key_load for any 32-byte server key: setting names the variable
 * in errors ("HERALD_JWT_SECRET"), file_name the key file in data_dir
 * ("jwt.key"). Same formats, modes and errors as above.
 */
int secretbox_keyfile_load(const char *setting, const char *env_value, const char *data_dir,
                           const char *file_name, uint8_t key[SECRETBOX_KEY_LEN], char *err,
                           size_t errlen);

/*
 * Seals plaintext[0..len) (len <= SECRETBOX_MAX_PLAINTEXT). Returns 0 and sets
 * *out to a NUL-terminated "v1:..." string the caller frees with free();
 * ERR_TOOBIG over the limit; ERR_BACKEND when OpenSSL fails (logged).
 */
int secretbox_seal(const uint8_t key[SECRETBOX_KEY_LEN], const void *plaintext, size_t len,
                   char **out);

/*
 * Opens a string made by secretbox_seal with the same key. Returns 0 and sets
 * *out to the plaintext (caller frees with free(); one NUL byte follows the
 * *out_len bytes, so text secrets read as C strings) ; ERR_INVAL when sealed
 * is malformed, of an unknown version, altered, or sealed under another key.
 */
int secretbox_open(const uint8_t key[SECRETBOX_KEY_LEN], const char *sealed, uint8_t **out,
                   size_t *out_len);

/*
 * Writes a display form of secret s to out and returns out: "****" followed
 * by its last 4 characters when s has at least 12 characters (UTF-8 code
 * points), else "****"; "" when s is NULL or empty (nothing set).
 */
const char *secret_mask(const char *s, char out[SECRET_MASK_SIZE]);

#endif
