/*
 * HS256 JSON Web Tokens; see jwt.h. HMAC-SHA256 is the RFC 2104 construction
 * on EVP digests with the key's inner and outer pads absorbed once in
 * jwt_key_new: OpenSSL 3's one-shot HMAC() fetches the algorithm and builds
 * a context on every call (about 2 µs here), four times the cost of the two
 * SHA-256 runs themselves (ADR 0006). The checks run in the order that reads
 * the least untrusted input first: size, segments, header, signature, and
 * only then the payload and its claims.
 */
#include "jwt.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "auth/internal.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/xalloc.h"

#define MAC_LEN 32
#define MAC_B64_LEN 43 /* AUTH_B64URL_LEN(32) */
#define SHA256_BLOCK 64
#define HEADER_MAX_MEMBERS 16               /* bounds the duplicate scan on untrusted input */
#define NUMERIC_DATE_MAX 9007199254740992.0 /* 2^53: exact in a double */

/* base64url of {"alg":"HS256","typ":"JWT"}, the header jwt_sign writes. */
static const char std_header[] = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

static const char *const typ_names[] = {"user", "app", "operator"};

struct jwt_key {
    EVP_MD *md;
    EVP_MD_CTX *inner; /* SHA-256 state after (key ^ ipad); only ever copied from */
    EVP_MD_CTX *outer; /* SHA-256 state after (key ^ opad) */
};

const char *jwt_typ_name(enum jwt_typ typ)
{
    if ((unsigned)typ < sizeof(typ_names) / sizeof(typ_names[0]))
        return typ_names[typ];
    return "unknown";
}

const char *jwt_fail_str(enum jwt_fail why)
{
    switch (why) {
    case JWT_OK:
        return "ok";
    case JWT_FAIL_TOOBIG:
        return "token too long";
    case JWT_FAIL_FORMAT:
        return "malformed token";
    case JWT_FAIL_HEADER:
        return "bad header";
    case JWT_FAIL_ALG:
        return "unsupported alg";
    case JWT_FAIL_SIGNATURE:
        return "bad signature";
    case JWT_FAIL_PAYLOAD:
        return "bad payload";
    case JWT_FAIL_CLAIMS:
        return "bad claims";
    case JWT_FAIL_TYP:
        return "wrong token type";
    case JWT_FAIL_EXPIRED:
        return "expired";
    case JWT_FAIL_NOT_YET:
        return "not yet valid";
    }
    return "unknown";
}

struct jwt_key *jwt_key_new(const void *secret, size_t len)
{
    if (secret == NULL || len < JWT_KEY_MIN)
        return NULL;
    struct jwt_key *k = xcalloc(1, sizeof(*k));
    uint8_t block[SHA256_BLOCK] = {0};
    uint8_t pad[SHA256_BLOCK];
    unsigned int n;

    k->md = EVP_MD_fetch(NULL, "SHA256", NULL);
    k->inner = EVP_MD_CTX_new();
    k->outer = EVP_MD_CTX_new();
    if (k->md == NULL || k->inner == NULL || k->outer == NULL)
        goto fail;
    /* RFC 2104: a key longer than the block is replaced by its hash. */
    if (len > SHA256_BLOCK) {
        if (EVP_Digest(secret, len, block, &n, k->md, NULL) != 1)
            goto fail;
    } else {
        memcpy(block, secret, len);
    }
    for (int i = 0; i < SHA256_BLOCK; i++)
        pad[i] = block[i] ^ 0x36;
    if (EVP_DigestInit_ex(k->inner, k->md, NULL) != 1 ||
        EVP_DigestUpdate(k->inner, pad, sizeof(pad)) != 1)
        goto fail;
    for (int i = 0; i < SHA256_BLOCK; i++)
        pad[i] = block[i] ^ 0x5c;
    if (EVP_DigestInit_ex(k->outer, k->md, NULL) != 1 ||
        EVP_DigestUpdate(k->outer, pad, sizeof(pad)) != 1)
        goto fail;
    OPENSSL_cleanse(block, sizeof(block));
    OPENSSL_cleanse(pad, sizeof(pad));
    return k;

fail:
    OPENSSL_cleanse(block, sizeof(block));
    OPENSSL_cleanse(pad, sizeof(pad));
    jwt_key_free(k);
    log_error("auth", "cannot set up the hs256 key: openssl failure");
    return NULL;
}

void jwt_key_free(struct jwt_key *key)
{
    if (key == NULL)
        return;
    EVP_MD_CTX_free(key->inner); /* EVP_MD_CTX_free cleanses the digest state */
    EVP_MD_CTX_free(key->outer);
    EVP_MD_free(key->md);
    free(key);
}

/* HMAC-SHA256 of msg[0..n) into mac; 0 or ERR_BACKEND. Thread-safe: key is only read. */
static int hmac(const struct jwt_key *key, const void *msg, size_t n, uint8_t mac[MAC_LEN])
{
    uint8_t ih[MAC_LEN];
    unsigned int len;
    int rc = ERR_BACKEND;
    EVP_MD_CTX *w = EVP_MD_CTX_new();
    if (w == NULL)
        return ERR_BACKEND;
    if (EVP_MD_CTX_copy_ex(w, key->inner) != 1 || EVP_DigestUpdate(w, msg, n) != 1 ||
        EVP_DigestFinal_ex(w, ih, &len) != 1)
        goto out;
    if (EVP_MD_CTX_copy_ex(w, key->outer) != 1 || EVP_DigestUpdate(w, ih, sizeof(ih)) != 1 ||
        EVP_DigestFinal_ex(w, mac, &len) != 1)
        goto out;
    rc = 0;
out:
    EVP_MD_CTX_free(w);
    OPENSSL_cleanse(ih, sizeof(ih));
    return rc;
}

static bool is_registered(const char *name)
{
    static const char *const names[] = {"sub", "app", "typ", "iat", "nbf", "exp", "jti"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(name, names[i]) == 0)
            return true;
    return false;
}

static bool str_ok(const char *s, size_t max)
{
    if (s == NULL)
        return false;
    size_t n = strnlen(s, max + 1);
    return n >= 1 && n <= max;
}

int jwt_sign(const struct jwt_key *key, const struct jwt_payload *p, char **out)
{
    if (key == NULL || p == NULL || out == NULL || (unsigned)p->typ > JWT_TYP_OPERATOR)
        return ERR_INVAL;
    if (!str_ok(p->sub, JWT_SUB_MAX))
        return ERR_INVAL;
    bool has_app = p->app != NULL && p->app[0] != '\0';
    if (has_app ? !str_ok(p->app, JWT_APP_MAX) : p->typ != JWT_TYP_OPERATOR)
        return ERR_INVAL;
    if (p->jti != NULL && p->jti[0] != '\0' && !str_ok(p->jti, JWT_JTI_MAX))
        return ERR_INVAL;
    if (p->exp <= p->iat || p->exp <= p->nbf || p->iat < 0 || p->nbf < 0 ||
        (double)p->exp > NUMERIC_DATE_MAX)
        return ERR_INVAL;
    if (p->extra != NULL) {
        if (!cJSON_IsObject(p->extra))
            return ERR_INVAL;
        for (const cJSON *m = p->extra->child; m != NULL; m = m->next)
            if (m->string == NULL || is_registered(m->string))
                return ERR_INVAL;
    }

    struct buf json = BUF_INIT;
    buf_puts(&json, "{\"sub\":");
    buf_json_str(&json, p->sub);
    if (has_app) {
        buf_puts(&json, ",\"app\":");
        buf_json_str(&json, p->app);
    }
    buf_printf(&json, ",\"typ\":\"%s\",\"iat\":%lld", typ_names[p->typ], (long long)p->iat);
    if (p->nbf != 0)
        buf_printf(&json, ",\"nbf\":%lld", (long long)p->nbf);
    buf_printf(&json, ",\"exp\":%lld,\"jti\":", (long long)p->exp);
    if (p->jti != NULL && p->jti[0] != '\0') {
        buf_json_str(&json, p->jti);
    } else {
        char jti[33];
        rand_hex(jti, 16);
        buf_json_str(&json, jti);
    }
    if (p->extra != NULL && p->extra->child != NULL) {
        char *extra = cJSON_PrintUnformatted(p->extra);
        if (extra == NULL) {
            buf_release(&json);
            return log_fail(ERR_BACKEND, "auth", "cannot print extra jwt claims");
        }
        size_t n = strlen(extra); /* "{...}": append what is between the braces */
        buf_putc(&json, ',');
        buf_append(&json, extra + 1, n - 2);
        cJSON_free(extra);
    }
    buf_putc(&json, '}');

    size_t total = sizeof(std_header) - 1 + 1 + AUTH_B64URL_LEN(json.len) + 1 + MAC_B64_LEN;
    if (total > JWT_MAX_LEN) {
        buf_release(&json);
        return ERR_TOOBIG;
    }
    char *tok = xmalloc(total + 1);
    size_t n = sizeof(std_header) - 1;
    memcpy(tok, std_header, n);
    tok[n++] = '.';
    n += auth__b64url_encode(tok + n, json.data, json.len);
    buf_release(&json);

    uint8_t mac[MAC_LEN];
    if (hmac(key, tok, n, mac) != 0) {
        free(tok);
        return log_fail(ERR_BACKEND, "auth", "cannot sign jwt: openssl failure");
    }
    tok[n++] = '.';
    n += auth__b64url_encode(tok + n, mac, sizeof(mac));
    *out = tok;
    return 0;
}

void jwt_claims_release(struct jwt_claims *c)
{
    if (c == NULL)
        return;
    cJSON_Delete(c->json);
    memset(c, 0, sizeof(*c));
}

/* Parses in[0..n) as exactly one JSON object with nothing after it but whitespace. */
static cJSON *parse_object(const char *in, size_t n)
{
    if (memchr(in, '\0', n) != NULL)
        return NULL;
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(in, n, &end, 0);
    if (j == NULL)
        return NULL;
    while (end != NULL && end < in + n &&
           (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
        end++;
    if (!cJSON_IsObject(j) || end != in + n) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

/* Checks a decoded non-standard header; JWT_OK or the reason. */
static enum jwt_fail check_header(const char *h, size_t n)
{
    cJSON *j = parse_object(h, n);
    if (j == NULL)
        return JWT_FAIL_HEADER;
    enum jwt_fail why = JWT_OK;
    int members = 0;
    const cJSON *alg = NULL;
    for (const cJSON *m = j->child; m != NULL && why == JWT_OK; m = m->next) {
        if (++members > HEADER_MAX_MEMBERS) {
            why = JWT_FAIL_HEADER;
            break;
        }
        for (const cJSON *o = j->child; o != m; o = o->next)
            if (strcmp(o->string, m->string) == 0)
                why = JWT_FAIL_HEADER;
        if (strcmp(m->string, "alg") == 0)
            alg = m;
        else if (strcmp(m->string, "crit") == 0) /* RFC 7515 §4.1.11: no extension understood */
            why = JWT_FAIL_HEADER;
        else if (strcmp(m->string, "typ") == 0 &&
                 (!cJSON_IsString(m) || strcasecmp(m->valuestring, "JWT") != 0))
            why = JWT_FAIL_HEADER;
    }
    if (why == JWT_OK &&
        (alg == NULL || !cJSON_IsString(alg) || strcmp(alg->valuestring, "HS256") != 0))
        why = JWT_FAIL_ALG;
    cJSON_Delete(j);
    return why;
}

/* Reads an optional NumericDate claim; false when present but not a usable number. */
static bool get_date(const cJSON *v, int64_t *out)
{
    *out = 0;
    if (v == NULL)
        return true;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 ||
        v->valuedouble > NUMERIC_DATE_MAX)
        return false;
    *out = (int64_t)v->valuedouble;
    return true;
}

/* Copies an optional string claim into dst[max + 1]; false when present and not a fitting string.
 */
static bool get_str(const cJSON *v, char *dst, size_t max)
{
    dst[0] = '\0';
    if (v == NULL)
        return true;
    if (!cJSON_IsString(v) || !str_ok(v->valuestring, max))
        return false;
    strcpy(dst, v->valuestring);
    return true;
}

static enum jwt_fail check_claims(cJSON *j, enum jwt_typ expected, int64_t now_s,
                                  struct jwt_claims *c)
{
    const cJSON *sub = NULL, *app = NULL, *typ = NULL, *iat = NULL, *nbf = NULL, *exp = NULL,
                *jti = NULL;
    const cJSON **slot[] = {&sub, &app, &typ, &iat, &nbf, &exp, &jti};
    static const char *const names[] = {"sub", "app", "typ", "iat", "nbf", "exp", "jti"};

    /* One pass; a registered claim given twice is refused (parsers disagree on which wins). */
    for (const cJSON *m = j->child; m != NULL; m = m->next) {
        const char *s = m->string;
        if (s[0] == '\0' || s[1] == '\0' || s[2] == '\0' || s[3] != '\0')
            continue; /* every registered name has three letters */
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
            if (memcmp(s, names[i], 3) == 0) {
                if (*slot[i] != NULL)
                    return JWT_FAIL_CLAIMS;
                *slot[i] = m;
                break;
            }
    }

    if (!cJSON_IsString(typ))
        return JWT_FAIL_CLAIMS;
    int t = -1;
    for (int i = 0; i <= JWT_TYP_OPERATOR; i++)
        if (strcmp(typ->valuestring, typ_names[i]) == 0)
            t = i;
    if (t < 0)
        return JWT_FAIL_CLAIMS;
    if (t != (int)expected)
        return JWT_FAIL_TYP;
    c->typ = (enum jwt_typ)t;

    if (exp == NULL || !get_date(exp, &c->exp) || !get_date(nbf, &c->nbf) ||
        !get_date(iat, &c->iat))
        return JWT_FAIL_CLAIMS;
    if (sub == NULL || !get_str(sub, c->sub, JWT_SUB_MAX) || !get_str(app, c->app, JWT_APP_MAX) ||
        !get_str(jti, c->jti, JWT_JTI_MAX))
        return JWT_FAIL_CLAIMS;
    if (c->app[0] == '\0' && c->typ != JWT_TYP_OPERATOR)
        return JWT_FAIL_CLAIMS;

    if (now_s >= c->exp + JWT_LEEWAY_S)
        return JWT_FAIL_EXPIRED;
    if (nbf != NULL && c->nbf > now_s + JWT_LEEWAY_S)
        return JWT_FAIL_NOT_YET;
    if (iat != NULL && c->iat > now_s + JWT_LEEWAY_S)
        return JWT_FAIL_NOT_YET;
    return JWT_OK;
}

static int refuse(struct jwt_claims *out, enum jwt_fail *why, enum jwt_fail reason)
{
    jwt_claims_release(out);
    if (why != NULL)
        *why = reason;
    return ERR_UNAUTH;
}

int jwt_verify(const struct jwt_key *key, const char *token, size_t len, enum jwt_typ expected,
               int64_t now_s, struct jwt_claims *out, enum jwt_fail *why)
{
    memset(out, 0, sizeof(*out));
    if (key == NULL || token == NULL || len == 0)
        return refuse(out, why, JWT_FAIL_FORMAT);
    if (len > JWT_MAX_LEN)
        return refuse(out, why, JWT_FAIL_TOOBIG);

    const char *dot1 = memchr(token, '.', len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (dot2 == NULL || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)) != NULL)
        return refuse(out, why, JWT_FAIL_FORMAT);
    size_t hlen = (size_t)(dot1 - token);
    const char *pay = dot1 + 1;
    size_t plen = (size_t)(dot2 - pay);
    const char *sig = dot2 + 1;
    size_t slen = len - (size_t)(sig - token);
    if (hlen == 0 || plen == 0 || slen != MAC_B64_LEN)
        return refuse(out, why, JWT_FAIL_FORMAT);

    /* Decoded header and payload each fit here: 3/4 of JWT_MAX_LEN. */
    uint8_t dec[JWT_MAX_LEN / 4 * 3 + 4];

    if (hlen != sizeof(std_header) - 1 || memcmp(token, std_header, hlen) != 0) {
        long n = auth__b64url_decode(dec, token, hlen);
        if (n < 0)
            return refuse(out, why, JWT_FAIL_FORMAT);
        enum jwt_fail h = check_header((const char *)dec, (size_t)n);
        if (h != JWT_OK)
            return refuse(out, why, h);
    }

    uint8_t given[MAC_LEN + 2], mac[MAC_LEN];
    if (auth__b64url_decode(given, sig, slen) != MAC_LEN)
        return refuse(out, why, JWT_FAIL_FORMAT);
    if (hmac(key, token, (size_t)(dot2 - token), mac) != 0)
        return refuse(out, why, JWT_FAIL_SIGNATURE);
    if (CRYPTO_memcmp(given, mac, MAC_LEN) != 0)
        return refuse(out, why, JWT_FAIL_SIGNATURE);

    long n = auth__b64url_decode(dec, pay, plen);
    if (n < 0)
        return refuse(out, why, JWT_FAIL_FORMAT);
    out->json = parse_object((const char *)dec, (size_t)n);
    if (out->json == NULL)
        return refuse(out, why, JWT_FAIL_PAYLOAD);
    enum jwt_fail c = check_claims(out->json, expected, now_s, out);
    if (c != JWT_OK)
        return refuse(out, why, c);
    if (why != NULL)
        *why = JWT_OK;
    return 0;
}
