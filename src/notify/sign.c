/*
 * The request signatures of the HTTP channel drivers (sign.h), on OpenSSL's HMAC.
 */
#include "notify/sign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/xalloc.h"

void notify_hex(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

void notify_base64(const uint8_t *p, size_t n, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, p, (int)n);
}

void notify_pct_encode(struct buf *b, const char *s)
{
    static const char digits[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            buf_putc(b, (char)c);
        } else {
            char e[3] = {'%', digits[c >> 4], digits[c & 15]};
            buf_append(b, e, 3);
        }
    }
}

static void hmac256(const void *key, size_t klen, const void *msg, size_t mlen, uint8_t out[32])
{
    unsigned int len = 32;
    if (HMAC(EVP_sha256(), key, (int)klen, msg, mlen, out, &len) == NULL)
        abort();
}

void notify_sign_webhook(const char *secret, long long ts_ms, const char *body, size_t body_len,
                         char out[NOTIFY_SIGN_HEX256])
{
    struct buf m = BUF_INIT;
    buf_printf(&m, "%lld.", ts_ms);
    buf_append(&m, body, body_len);
    uint8_t mac[32];
    hmac256(secret, strlen(secret), m.data, m.len, mac);
    notify_hex(mac, sizeof mac, out);
    buf_release(&m);
}

void notify_sign_dingtalk(const char *secret, long long ts_ms, char out[NOTIFY_SIGN_B64_256])
{
    struct buf m = BUF_INIT;
    buf_printf(&m, "%lld\n%s", ts_ms, secret);
    uint8_t mac[32];
    hmac256(secret, strlen(secret), m.data, m.len, mac);
    notify_base64(mac, sizeof mac, out);
    buf_release(&m);
}

void notify_sign_feishu(const char *secret, long long ts_s, char out[NOTIFY_SIGN_B64_256])
{
    struct buf k = BUF_INIT;
    buf_printf(&k, "%lld\n%s", ts_s, secret);
    uint8_t mac[32];
    hmac256(k.data, k.len, "", 0, mac);
    notify_base64(mac, sizeof mac, out);
    buf_release(&k);
}

struct kv_pair {
    const char *k, *v;
};

static int kv_cmp(const void *a, const void *b)
{
    return strcmp(((const struct kv_pair *)a)->k, ((const struct kv_pair *)b)->k);
}

void notify_sign_aliyun(const char *method, const char *secret, const char *const *kv, size_t n,
                        struct buf *query, char sig[NOTIFY_SIGN_B64_1])
{
    struct kv_pair *pairs = xmalloc(n * sizeof *pairs);
    for (size_t i = 0; i < n; i++)
        pairs[i] = (struct kv_pair){kv[2 * i], kv[2 * i + 1]};
    qsort(pairs, n, sizeof *pairs, kv_cmp);
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf_putc(query, '&');
        notify_pct_encode(query, pairs[i].k);
        buf_putc(query, '=');
        notify_pct_encode(query, pairs[i].v);
    }
    free(pairs);

    struct buf sts = BUF_INIT, key = BUF_INIT;
    buf_printf(&sts, "%s&%%2F&", method);
    notify_pct_encode(&sts, query->data ? query->data : "");
    buf_printf(&key, "%s&", secret);
    uint8_t mac[20];
    unsigned int len = sizeof mac;
    if (HMAC(EVP_sha1(), key.data, (int)key.len, (const unsigned char *)sts.data, sts.len, mac,
             &len) == NULL)
        abort();
    notify_base64(mac, sizeof mac, sig);
    buf_release(&sts);
    buf_release(&key);
}
