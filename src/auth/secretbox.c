/*
 * AES-256-GCM sealing of secrets at rest and the server key's loading; see
 * secretbox.h. The key file is text (64 hex digits and a newline) so an
 * operator can copy it into HERALD_ENCRYPTION_KEY unchanged.
 */
#include "secretbox.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "auth/internal.h"
#include "core/err.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/url.h"
#include "core/xalloc.h"

#define NONCE_LEN 12
#define TAG_LEN 16
#define PREFIX "v1:"
#define PREFIX_LEN 3
#define KEY_TEXT_MAX 256 /* longest key file read; a key is 64 characters */
#define SEALED_MAX (PREFIX_LEN + AUTH_B64_LEN(NONCE_LEN + SECRETBOX_MAX_PLAINTEXT + TAG_LEN))

static int fail(int rc, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(int rc, char *err, size_t errlen, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Decodes 32 bytes from hex or base64 (either alphabet, padding optional) text s[0..n). */
static bool parse_key(const char *s, size_t n, uint8_t key[SECRETBOX_KEY_LEN])
{
    while (n > 0 && is_space(*s)) {
        s++;
        n--;
    }
    while (n > 0 && is_space(s[n - 1]))
        n--;
    if (n == 2 * SECRETBOX_KEY_LEN) {
        bool ok = true;
        for (size_t i = 0; i < SECRETBOX_KEY_LEN && ok; i++) {
            int hi = url_hexval((unsigned char)s[2 * i]),
                lo = url_hexval((unsigned char)s[2 * i + 1]);
            ok = hi >= 0 && lo >= 0;
            if (ok)
                key[i] = (uint8_t)(hi << 4 | lo);
        }
        if (ok)
            return true;
    }
    char b64[48];
    uint8_t dec[48];
    if (n != 43 && n != 44)
        return false;
    for (size_t i = 0; i < n; i++)
        b64[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
    if (n == 43)
        b64[n++] = '=';
    bool ok = auth__b64_decode(dec, b64, n) == SECRETBOX_KEY_LEN;
    if (ok)
        memcpy(key, dec, SECRETBOX_KEY_LEN);
    OPENSSL_cleanse(b64, sizeof(b64));
    OPENSSL_cleanse(dec, sizeof(dec));
    return ok;
}

/* Reads an existing key file. ERR_NOTFOUND when it does not exist. */
static int read_key_file(const char *path, uint8_t key[SECRETBOX_KEY_LEN], char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return ERR_NOTFOUND;
        return fail(ERR_IO, err, errlen, "cannot open key file %s: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return fail(ERR_IO, err, errlen, "cannot stat key file %s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return fail(ERR_INVAL, err, errlen, "key file %s is not a regular file", path);
    }
    if ((st.st_mode & 077) != 0) {
        close(fd);
        return fail(ERR_DENIED, err, errlen,
                    "key file %s is accessible by group or others (mode %04o); "
                    "check who could read it, then run: chmod 600 %s",
                    path, (unsigned)(st.st_mode & 07777), path);
    }
    char text[KEY_TEXT_MAX + 1];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof(text) && (r = read(fd, text + n, sizeof(text) - n)) != 0) {
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            OPENSSL_cleanse(text, sizeof(text));
            return fail(ERR_IO, err, errlen, "cannot read key file %s: %s", path, strerror(e));
        }
        n += (size_t)r;
    }
    close(fd);
    bool ok = n <= KEY_TEXT_MAX && parse_key(text, n, key);
    OPENSSL_cleanse(text, sizeof(text));
    if (!ok)
        return fail(ERR_INVAL, err, errlen,
                    "key file %s does not hold a 32-byte key (64 hex digits or base64)", path);
    return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/*
 * Creates the key file with a new random key. Returns 0, ERR_EXISTS when
 * another process created it first (the caller reads that one), or an error.
 */
static int create_key_file(const char *dir, const char *path, uint8_t key[SECRETBOX_KEY_LEN],
                           char *err, size_t errlen)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return fail(ERR_IO, err, errlen, "cannot create data folder %s: %s", dir, strerror(errno));

    size_t plen = strlen(path);
    char *tmp = xmalloc(plen + sizeof(".tmp.XXXXXX"));
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", sizeof(".tmp.XXXXXX"));
    int rc = 0;
    char text[2 * SECRETBOX_KEY_LEN + 2];
    uint8_t fresh[SECRETBOX_KEY_LEN];

    int fd = mkostemp(tmp, O_CLOEXEC); /* mode 0600 */
    if (fd < 0) {
        rc = fail(ERR_IO, err, errlen, "cannot create key file in %s: %s", dir, strerror(errno));
        goto out_free;
    }
    rand_bytes(fresh, sizeof(fresh));
    auth__hex_encode(text, fresh, sizeof(fresh));
    text[2 * SECRETBOX_KEY_LEN] = '\n';
    if (fchmod(fd, 0600) != 0 || write_all(fd, text, 2 * SECRETBOX_KEY_LEN + 1) != 0 ||
        fsync(fd) != 0) {
        rc = fail(ERR_IO, err, errlen, "cannot write key file %s: %s", tmp, strerror(errno));
        close(fd);
        goto out_unlink;
    }
    if (close(fd) != 0) {
        rc = fail(ERR_IO, err, errlen, "cannot write key file %s: %s", tmp, strerror(errno));
        goto out_unlink;
    }
    /* link() never replaces an existing file: the first process to get here wins. */
    if (link(tmp, path) != 0) {
        if (errno == EEXIST) {
            rc = ERR_EXISTS;
        } else if ((errno == EPERM || errno == ENOTSUP || errno == ENOSYS) &&
                   rename(tmp, path) == 0) {
            /* File systems without hard links: rename is atomic but may replace a racing
             * creator's file; acceptable for a first start. */
            goto out_done;
        } else {
            rc = fail(ERR_IO, err, errlen, "cannot create key file %s: %s", path, strerror(errno));
        }
        goto out_unlink;
    }
out_done:
    memcpy(key, fresh, SECRETBOX_KEY_LEN);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    log_warn("auth", "generated a new key in %s; back it up with the database", path);
out_unlink:
    (void)unlink(tmp);
out_free:
    OPENSSL_cleanse(text, sizeof(text));
    OPENSSL_cleanse(fresh, sizeof(fresh));
    free(tmp);
    return rc;
}

int secretbox_key_load(const char *env_value, const char *data_dir, uint8_t key[SECRETBOX_KEY_LEN],
                       char *err, size_t errlen)
{
    return secretbox_keyfile_load("HERALD_ENCRYPTION_KEY", env_value, data_dir, SECRETBOX_KEY_FILE,
                                  key, err, errlen);
}

int secretbox_keyfile_load(const char *setting, const char *env_value, const char *data_dir,
                           const char *file_name, uint8_t key[SECRETBOX_KEY_LEN], char *err,
                           size_t errlen)
{
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (env_value != NULL && env_value[0] != '\0') {
        if (!parse_key(env_value, strlen(env_value), key))
            return fail(ERR_INVAL, err, errlen, "%s must be 32 bytes as 64 hex digits or base64",
                        setting);
        return 0;
    }
    if (data_dir == NULL || data_dir[0] == '\0')
        return fail(ERR_INVAL, err, errlen, "no %s and no data folder to keep a generated key in",
                    setting);

    size_t dlen = strlen(data_dir), flen = strlen(file_name);
    char *path = xmalloc(dlen + 1 + flen + 1);
    memcpy(path, data_dir, dlen);
    path[dlen] = '/';
    memcpy(path + dlen + 1, file_name, flen + 1);

    int rc = read_key_file(path, key, err, errlen);
    if (rc == ERR_NOTFOUND) {
        rc = create_key_file(data_dir, path, key, err, errlen);
        if (rc == ERR_EXISTS) /* lost the race: use the winner's key */
            rc = read_key_file(path, key, err, errlen);
        if (rc == ERR_NOTFOUND)
            rc = fail(ERR_IO, err, errlen, "key file %s vanished while created", path);
    }
    free(path);
    return rc;
}

int secretbox_seal(const uint8_t key[SECRETBOX_KEY_LEN], const void *plaintext, size_t len,
                   char **out)
{
    if (len > SECRETBOX_MAX_PLAINTEXT)
        return ERR_TOOBIG;
    size_t raw_len = NONCE_LEN + len + TAG_LEN;
    uint8_t *raw = xmalloc(raw_len);
    int rc = ERR_BACKEND, n;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL)
        goto out;
    rand_bytes(raw, NONCE_LEN);
    if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
        EVP_EncryptInit_ex(ctx, NULL, NULL, key, raw) != 1)
        goto out;
    if (len > 0 && EVP_EncryptUpdate(ctx, raw + NONCE_LEN, &n, plaintext, (int)len) != 1)
        goto out;
    if (EVP_EncryptFinal_ex(ctx, raw + NONCE_LEN + len, &n) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, raw + NONCE_LEN + len) != 1)
        goto out;
    char *s = xmalloc(PREFIX_LEN + AUTH_B64_LEN(raw_len) + 1);
    memcpy(s, PREFIX, PREFIX_LEN);
    auth__b64_encode(s + PREFIX_LEN, raw, raw_len);
    *out = s;
    rc = 0;
out:
    EVP_CIPHER_CTX_free(ctx);
    free(raw);
    if (rc != 0)
        log_error("auth", "cannot seal a secret: openssl failure");
    return rc;
}

int secretbox_open(const uint8_t key[SECRETBOX_KEY_LEN], const char *sealed, uint8_t **out,
                   size_t *out_len)
{
    if (sealed == NULL || strncmp(sealed, PREFIX, PREFIX_LEN) != 0)
        return ERR_INVAL;
    const char *b64 = sealed + PREFIX_LEN;
    size_t blen = strnlen(b64, SEALED_MAX + 1);
    if (blen > SEALED_MAX - PREFIX_LEN || blen < AUTH_B64_LEN(NONCE_LEN + TAG_LEN))
        return ERR_INVAL;
    uint8_t *raw = xmalloc(blen / 4 * 3 + 1);
    uint8_t *pt = NULL;
    int rc = ERR_INVAL, n;
    EVP_CIPHER_CTX *ctx = NULL;
    long raw_len = auth__b64_decode(raw, b64, blen);
    if (raw_len < NONCE_LEN + TAG_LEN)
        goto out;
    size_t ct_len = (size_t)raw_len - NONCE_LEN - TAG_LEN;
    pt = xmalloc(ct_len + 1);
    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL)
        goto out;
    if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
        EVP_DecryptInit_ex(ctx, NULL, NULL, key, raw) != 1)
        goto out;
    if (ct_len > 0 && EVP_DecryptUpdate(ctx, pt, &n, raw + NONCE_LEN, (int)ct_len) != 1)
        goto out;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, raw + NONCE_LEN + ct_len) != 1 ||
        EVP_DecryptFinal_ex(ctx, pt + ct_len, &n) != 1)
        goto out; /* tag mismatch: altered, or another key */
    pt[ct_len] = '\0';
    *out = pt;
    *out_len = ct_len;
    pt = NULL;
    rc = 0;
out:
    EVP_CIPHER_CTX_free(ctx);
    if (pt != NULL) {
        OPENSSL_cleanse(pt, (size_t)raw_len - NONCE_LEN - TAG_LEN + 1);
        free(pt);
    }
    free(raw);
    return rc;
}

const char *secret_mask(const char *s, char out[SECRET_MASK_SIZE])
{
    out[0] = '\0';
    if (s == NULL || s[0] == '\0')
        return out;
    memcpy(out, "****", 5);
    size_t len = strlen(s), chars = 0, start = len;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            chars++;
    if (chars < 12)
        return out;
    /* Start of the 4th character from the end (UTF-8 lead bytes only). */
    for (int k = 0; k < 4 && start > 0;) {
        start--;
        if (((unsigned char)s[start] & 0xC0) != 0x80)
            k++;
    }
    size_t tail = len - start;
    if (tail > SECRET_MASK_SIZE - 5) /* invalid UTF-8 with long continuation runs */
        tail = SECRET_MASK_SIZE - 5;
    memcpy(out + 4, s + len - tail, tail);
    out[4 + tail] = '\0';
    return out;
}
