/*
 * The email driver (docs/providers/email.md): SMTP through libcurl with a pool of accounts per
 * channel. Accounts are tried round-robin (an idle connection before a busy one); one that fails
 * (cannot connect, refuses the login, answers 4xx) is cooled down for cooldown_s and the same
 * message moves on to the next one in the same send; an account over its rate_per_min (token
 * bucket) is skipped. When no account is usable the answer is NOTIFY_RETRY with the wait. A 5xx
 * reply to the message is NOTIFY_PERMANENT. Each account keeps `connections` CURL handles (1 by
 * default), each under a mutex of its own, so its SMTP connections are reused and several
 * messages go through one account at once. Never logs credentials or mail content.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "auth/ratelimit.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/xalloc.h"
#include "notify/drivers.h"
#include "notify/internal.h"

#define ACCOUNTS_MAX 16
#define CONNS_MAX 8 /* SMTP connections kept per account */
#define FROM_MAX 320
#define CRED_MAX 256
#define CA_PEM_MAX 8192
#define RATE_MAX 100000
#define COOLDOWN_MAX 86400
#define COOLDOWN_DEFAULT 60
#define CONNECT_TIMEOUT_S 10
#define TOTAL_TIMEOUT_S 30

enum security { SEC_STARTTLS, SEC_SMTPS, SEC_NONE };

struct account {
    char url[300];
    char *user, *pass; /* NULL: no AUTH */
    char *ca_pem;      /* the CA certificates to verify the server with; NULL: the system's */
    enum security sec;
    int nconns;
    struct conn {
        pthread_mutex_t mu; /* the handle and its connection */
        CURL *curl;
    } conns[CONNS_MAX];
    /* under email.mu */
    bool limited;
    struct ratelimit_bucket bucket;
    uint64_t cool_until_ms; /* monotonic */
};

struct email {
    char *from_hdr;      /* the From header's value */
    char from_addr[256]; /* the envelope sender */
    int64_t cooldown_ms;
    int n;
    struct account *acc;
    pthread_mutex_t mu; /* every account's rate and cool-down state */
    atomic_uint next;   /* round robin */
};

static const char *const secret_fields[] = {"accounts[].password", NULL};

/* ---- config */

static bool has_controls(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return true;
    }
    return false;
}

/* Splits "Name <addr>" or "addr" into name and addr; false when it is neither. */
static bool parse_from(const char *s, char *name, size_t namesz, char *addr, size_t addrsz)
{
    if (has_controls(s) || strlen(s) > FROM_MAX)
        return false;
    const char *lt = strrchr(s, '<');
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == ' ')
        n--;
    if (lt == NULL) {
        const char *b = s;
        while (*b == ' ')
            b++;
        name[0] = '\0';
        if ((size_t)(s + n - b) >= addrsz)
            return false;
        memcpy(addr, b, (size_t)(s + n - b));
        addr[s + n - b] = '\0';
        return notify__mail_addr_ok(addr);
    }
    if (n == 0 || s[n - 1] != '>' || (size_t)(s + n - 1 - (lt + 1)) >= addrsz)
        return false;
    memcpy(addr, lt + 1, (size_t)(s + n - 1 - (lt + 1)));
    addr[s + n - 1 - (lt + 1)] = '\0';
    const char *b = s, *e = lt;
    while (b < e && *b == ' ')
        b++;
    while (e > b && e[-1] == ' ')
        e--;
    if (e - b >= 2 && *b == '"' && e[-1] == '"') {
        b++;
        e--;
    }
    if ((size_t)(e - b) >= namesz)
        return false;
    memcpy(name, b, (size_t)(e - b));
    name[e - b] = '\0';
    return notify__mail_addr_ok(addr) && strchr(name, '<') == NULL && strchr(name, '>') == NULL;
}

static bool host_ok(const char *h)
{
    size_t n = strlen(h);
    if (n == 0 || n > 253)
        return false;
    if (h[0] == '[') { /* an IPv6 literal */
        if (n < 3 || h[n - 1] != ']')
            return false;
        for (size_t i = 1; i + 1 < n; i++) {
            if (!isxdigit((unsigned char)h[i]) && h[i] != ':' && h[i] != '.')
                return false;
        }
        return true;
    }
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)h[i]) && h[i] != '.' && h[i] != '-')
            return false;
    }
    return true;
}

static int bad(char *field, size_t fieldsz, char *msg, size_t msgsz, const char *f, const char *m)
{
    snprintf(field, fieldsz, "%s", f);
    snprintf(msg, msgsz, "%s", m);
    return ERR_INVAL;
}

static bool int_in(const cJSON *v, double lo, double hi)
{
    return cJSON_IsNumber(v) && v->valuedouble == (double)(int64_t)v->valuedouble &&
           v->valuedouble >= lo && v->valuedouble <= hi;
}

static int check_account(const cJSON *a, int i, char *field, size_t fieldsz, char *msg,
                         size_t msgsz)
{
    char f[64];
    if (!cJSON_IsObject(a)) {
        snprintf(f, sizeof(f), "accounts[%d]", i);
        return bad(field, fieldsz, msg, msgsz, f, "must be an object");
    }
    static const char *const known[] = {"host",        "port",         "username",
                                        "password",    "security",     "ca_pem",
                                        "connections", "rate_per_min", NULL};
    const cJSON *m;
    cJSON_ArrayForEach(m, a)
    {
        int k = 0;
        while (known[k] != NULL && strcmp(known[k], m->string) != 0)
            k++;
        if (known[k] == NULL) {
            snprintf(f, sizeof(f), "accounts[%d].%.32s", i, m->string);
            return bad(field, fieldsz, msg, msgsz, f, "unknown field");
        }
    }
    const cJSON *host = cJSON_GetObjectItemCaseSensitive(a, "host");
    snprintf(f, sizeof(f), "accounts[%d].host", i);
    if (!cJSON_IsString(host) || !host_ok(host->valuestring))
        return bad(field, fieldsz, msg, msgsz, f, "must be a host name or an IP address");
    const cJSON *port = cJSON_GetObjectItemCaseSensitive(a, "port");
    snprintf(f, sizeof(f), "accounts[%d].port", i);
    if (port != NULL && !int_in(port, 1, 65535))
        return bad(field, fieldsz, msg, msgsz, f, "must be a port number (1-65535)");
    static const char *const creds[] = {"username", "password"};
    for (int k = 0; k < 2; k++) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(a, creds[k]);
        snprintf(f, sizeof(f), "accounts[%d].%s", i, creds[k]);
        if (c != NULL && (!cJSON_IsString(c) || strlen(c->valuestring) > CRED_MAX ||
                          has_controls(c->valuestring)))
            return bad(field, fieldsz, msg, msgsz, f,
                       "must be a string of at most 256 bytes without control characters");
    }
    const cJSON *sec = cJSON_GetObjectItemCaseSensitive(a, "security");
    snprintf(f, sizeof(f), "accounts[%d].security", i);
    if (sec != NULL && (!cJSON_IsString(sec) || (strcmp(sec->valuestring, "starttls") != 0 &&
                                                 strcmp(sec->valuestring, "smtps") != 0 &&
                                                 strcmp(sec->valuestring, "none") != 0)))
        return bad(field, fieldsz, msg, msgsz, f, "must be starttls, smtps or none");
    const cJSON *rate = cJSON_GetObjectItemCaseSensitive(a, "rate_per_min");
    snprintf(f, sizeof(f), "accounts[%d].rate_per_min", i);
    if (rate != NULL && !int_in(rate, 0, RATE_MAX))
        return bad(field, fieldsz, msg, msgsz, f, "must be a whole number from 0 to 100000");
    const cJSON *conns = cJSON_GetObjectItemCaseSensitive(a, "connections");
    snprintf(f, sizeof(f), "accounts[%d].connections", i);
    if (conns != NULL && !int_in(conns, 1, CONNS_MAX))
        return bad(field, fieldsz, msg, msgsz, f, "must be a whole number from 1 to 8");
    const cJSON *ca = cJSON_GetObjectItemCaseSensitive(a, "ca_pem");
    snprintf(f, sizeof(f), "accounts[%d].ca_pem", i);
    if (ca != NULL && (!cJSON_IsString(ca) || strlen(ca->valuestring) > CA_PEM_MAX ||
                       strstr(ca->valuestring, "-----BEGIN CERTIFICATE-----") == NULL))
        return bad(field, fieldsz, msg, msgsz, f, "must be PEM certificates (at most 8192 bytes)");
    return 0;
}

static int email_check(const cJSON *config, char *field, size_t fieldsz, char *msg, size_t msgsz)
{
    const cJSON *m;
    cJSON_ArrayForEach(m, config)
    {
        if (strcmp(m->string, "from") != 0 && strcmp(m->string, "accounts") != 0 &&
            strcmp(m->string, "cooldown_s") != 0) {
            char f[48];
            snprintf(f, sizeof(f), "%.40s", m->string);
            return bad(field, fieldsz, msg, msgsz, f, "unknown field");
        }
    }
    const cJSON *from = cJSON_GetObjectItemCaseSensitive(config, "from");
    char name[FROM_MAX + 1], addr[256];
    if (!cJSON_IsString(from) ||
        !parse_from(from->valuestring, name, sizeof(name), addr, sizeof(addr)))
        return bad(field, fieldsz, msg, msgsz, "from",
                   "must be an e-mail address, optionally as \"Name <address>\"");
    const cJSON *accs = cJSON_GetObjectItemCaseSensitive(config, "accounts");
    int n = cJSON_GetArraySize(accs);
    if (!cJSON_IsArray(accs) || n < 1 || n > ACCOUNTS_MAX)
        return bad(field, fieldsz, msg, msgsz, "accounts",
                   "must be an array of 1 to 16 SMTP accounts");
    for (int i = 0; i < n; i++) {
        int rc = check_account(cJSON_GetArrayItem(accs, i), i, field, fieldsz, msg, msgsz);
        if (rc != 0)
            return rc;
    }
    const cJSON *cool = cJSON_GetObjectItemCaseSensitive(config, "cooldown_s");
    if (cool != NULL && !int_in(cool, 0, COOLDOWN_MAX))
        return bad(field, fieldsz, msg, msgsz, "cooldown_s",
                   "must be a whole number of seconds from 0 to 86400");
    return 0;
}

/* ---- state */

static char *str_or_null(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) && v->valuestring[0] != '\0' ? xstrdup(v->valuestring) : NULL;
}

static void wipe_free(char *s)
{
    if (s != NULL) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static void email_close(void *state)
{
    struct email *e = state;
    if (e == NULL)
        return;
    for (int i = 0; i < e->n; i++) {
        struct account *a = &e->acc[i];
        for (int k = 0; k < a->nconns; k++) {
            if (a->conns[k].curl != NULL)
                curl_easy_cleanup(a->conns[k].curl);
            pthread_mutex_destroy(&a->conns[k].mu);
        }
        wipe_free(a->user);
        wipe_free(a->pass);
        free(a->ca_pem);
    }
    pthread_mutex_destroy(&e->mu);
    free(e->acc);
    free(e->from_hdr);
    free(e);
}

/* The From value: the address alone, a quoted ASCII name, or an encoded one. */
static char *from_header(const char *name, const char *addr)
{
    struct buf b = BUF_INIT;
    if (name[0] != '\0') {
        bool ascii = true;
        for (const unsigned char *p = (const unsigned char *)name; *p; p++)
            ascii &= *p >= 0x20 && *p < 0x7f;
        if (ascii) {
            buf_putc(&b, '"');
            for (const char *p = name; *p; p++) {
                if (*p == '"' || *p == '\\')
                    buf_putc(&b, '\\');
                buf_putc(&b, *p);
            }
            buf_putc(&b, '"');
        } else {
            notify__mail_header_text(&b, name);
        }
        buf_putc(&b, ' ');
    }
    buf_printf(&b, "<%s>", addr);
    return buf_detach(&b, NULL);
}

static void *email_open(const cJSON *config, const struct notify_driver_env *env)
{
    (void)env; /* SMTP relays are often local: HERALD_ALLOW_PRIVATE_TARGETS is for HTTP */
    char field[64], msg[128];
    if (email_check(config, field, sizeof(field), msg, sizeof(msg)) != 0)
        return NULL;
    char name[FROM_MAX + 1];
    struct email *e = xcalloc(1, sizeof(*e));
    parse_from(cJSON_GetObjectItemCaseSensitive(config, "from")->valuestring, name, sizeof(name),
               e->from_addr, sizeof(e->from_addr));
    e->from_hdr = from_header(name, e->from_addr);
    const cJSON *cool = cJSON_GetObjectItemCaseSensitive(config, "cooldown_s");
    e->cooldown_ms = (cool ? (int64_t)cool->valuedouble : COOLDOWN_DEFAULT) * 1000;
    pthread_mutex_init(&e->mu, NULL);
    const cJSON *accs = cJSON_GetObjectItemCaseSensitive(config, "accounts");
    e->n = cJSON_GetArraySize(accs);
    e->acc = xcalloc((size_t)e->n, sizeof(*e->acc));
    uint64_t now = clock_mono_ms();
    for (int i = 0; i < e->n; i++) {
        const cJSON *c = cJSON_GetArrayItem(accs, i);
        struct account *a = &e->acc[i];
        const cJSON *sec = cJSON_GetObjectItemCaseSensitive(c, "security");
        a->sec = !cJSON_IsString(sec)                     ? SEC_STARTTLS
                 : strcmp(sec->valuestring, "smtps") == 0 ? SEC_SMTPS
                 : strcmp(sec->valuestring, "none") == 0  ? SEC_NONE
                                                          : SEC_STARTTLS;
        const cJSON *port = cJSON_GetObjectItemCaseSensitive(c, "port");
        int p = port ? (int)port->valuedouble : a->sec == SEC_SMTPS ? 465 : 587;
        snprintf(a->url, sizeof(a->url), "%s://%s:%d", a->sec == SEC_SMTPS ? "smtps" : "smtp",
                 cJSON_GetObjectItemCaseSensitive(c, "host")->valuestring, p);
        a->user = str_or_null(c, "username");
        a->pass = str_or_null(c, "password");
        a->ca_pem = str_or_null(c, "ca_pem");
        const cJSON *conns = cJSON_GetObjectItemCaseSensitive(c, "connections");
        a->nconns = conns ? (int)conns->valuedouble : 1;
        for (int k = 0; k < a->nconns; k++)
            pthread_mutex_init(&a->conns[k].mu, NULL);
        const cJSON *rate = cJSON_GetObjectItemCaseSensitive(c, "rate_per_min");
        if (rate != NULL && rate->valuedouble > 0) {
            a->limited = true;
            ratelimit_bucket_init(&a->bucket, rate->valuedouble, rate->valuedouble / 60.0, now);
        }
    }
    return e;
}

/* ---- sending */

struct upload {
    const char *p;
    size_t left;
};

static size_t read_cb(char *dst, size_t size, size_t nmemb, void *ud)
{
    struct upload *u = ud;
    size_t n = size * nmemb < u->left ? size * nmemb : u->left;
    memcpy(dst, u->p, n);
    u->p += n;
    u->left -= n;
    return n;
}

/* Ends a transfer at shutdown (also one waiting for a reply: called at least once a second). */
static int progress_cb(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)ud, (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    return notify_drivers_aborting() ? 1 : 0;
}

enum try_result { TRY_SENT, TRY_ACCOUNT_FAILED, TRY_PERMANENT };

/* One SMTP transaction through connection cn of account a, whose mutex the caller holds.
 * Blocking (its timeouts bound it). */
static enum try_result try_account(struct email *e, struct account *a, struct conn *cn,
                                   const char *to, const struct buf *mail, struct notify_result *r)
{
    CURLcode rc = CURLE_OK;
    long code = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (cn->curl == NULL) {
            cn->curl = curl_easy_init();
            if (cn->curl == NULL) {
                snprintf(r->detail, sizeof(r->detail), "cannot start an SMTP client");
                return TRY_ACCOUNT_FAILED;
            }
            CURL *c = cn->curl;
            curl_easy_setopt(c, CURLOPT_URL, a->url);
            curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
            curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT_S);
            curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)TOTAL_TIMEOUT_S);
            curl_easy_setopt(c, CURLOPT_USE_SSL,
                             a->sec == SEC_NONE ? (long)CURLUSESSL_NONE : (long)CURLUSESSL_ALL);
            if (a->ca_pem != NULL) {
                struct curl_blob ca = {a->ca_pem, strlen(a->ca_pem), CURL_BLOB_COPY};
                curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &ca);
            }
            if (a->user != NULL)
                curl_easy_setopt(c, CURLOPT_USERNAME, a->user);
            if (a->pass != NULL)
                curl_easy_setopt(c, CURLOPT_PASSWORD, a->pass);
            curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
            curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress_cb);
            curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
        }
        char from[260];
        snprintf(from, sizeof(from), "<%s>", e->from_addr);
        struct curl_slist *rcpt = curl_slist_append(NULL, to);
        struct upload up = {mail->data, mail->len};
        curl_easy_setopt(cn->curl, CURLOPT_MAIL_FROM, from);
        curl_easy_setopt(cn->curl, CURLOPT_MAIL_RCPT, rcpt);
        curl_easy_setopt(cn->curl, CURLOPT_READDATA, &up);
        curl_easy_setopt(cn->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)mail->len);
        rc = curl_easy_perform(cn->curl);
        code = 0;
        long connects = 1;
        curl_easy_getinfo(cn->curl, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_getinfo(cn->curl, CURLINFO_NUM_CONNECTS, &connects);
        curl_easy_setopt(cn->curl, CURLOPT_MAIL_RCPT, NULL);
        curl_easy_setopt(cn->curl, CURLOPT_READDATA, NULL);
        curl_slist_free_all(rcpt);
        /* a reused connection the server had closed meanwhile: once more on a new one */
        if (rc == CURLE_OK || code != 0 || connects != 0)
            break;
    }
    r->code = (int)code;
    if (rc == CURLE_OK)
        return TRY_SENT;
    if (rc == CURLE_LOGIN_DENIED) {
        snprintf(r->detail, sizeof(r->detail), "the SMTP server refused the login (%ld)", code);
        return TRY_ACCOUNT_FAILED;
    }
    if (code >= 500 && code < 600 && rc != CURLE_USE_SSL_FAILED) {
        snprintf(r->detail, sizeof(r->detail), "the SMTP server refused the message (%ld)", code);
        return TRY_PERMANENT;
    }
    if (code >= 400 && code < 500)
        snprintf(r->detail, sizeof(r->detail), "the SMTP server answered %ld", code);
    else
        snprintf(r->detail, sizeof(r->detail), "SMTP failed: %s", curl_easy_strerror(rc));
    return TRY_ACCOUNT_FAILED;
}

static void email_send(void *state, const struct notify_msg *m, struct notify_result *r)
{
    struct email *e = state;
    memset(r, 0, sizeof(*r));
    if (m->address == NULL || !notify__mail_addr_ok(m->address)) {
        r->outcome = NOTIFY_PERMANENT;
        snprintf(r->detail, sizeof(r->detail), "not a valid e-mail address");
        return;
    }
    char msgid[NOTIFY_MSGID_MAX];
    notify__mail_message_id(msgid, sizeof(msgid), m->delivery_id);
    struct buf mail = BUF_INIT;
    notify__mail_build(&mail, e->from_hdr, m->address, m->title, m->content, m->html, msgid,
                       clock_wall_ms());
    unsigned start = atomic_fetch_add(&e->next, 1u);
    uint64_t wait_ms = UINT64_MAX;
    int tried = 0;
    struct notify_result last = {.outcome = NOTIFY_RETRY};
    bool seen[ACCOUNTS_MAX] = {false};
    /* in turn from start, each account at most once: first those with an idle connection,
     * then waiting for the others */
    for (int pass = 0; pass < 2; pass++) {
        for (int k = 0; k < e->n; k++) {
            unsigned idx = (start + (unsigned)k) % (unsigned)e->n;
            struct account *a = &e->acc[idx];
            if (seen[idx] || notify_drivers_aborting())
                continue;
            struct conn *cn = NULL;
            for (int c = 0; pass == 0 && c < a->nconns && cn == NULL; c++)
                if (pthread_mutex_trylock(&a->conns[c].mu) == 0)
                    cn = &a->conns[c];
            if (pass == 0 && cn == NULL)
                continue;
            if (pass == 1) {
                cn = &a->conns[start % (unsigned)a->nconns];
                pthread_mutex_lock(&cn->mu);
            }
            seen[idx] = true;
            uint64_t now = clock_mono_ms();
            pthread_mutex_lock(&e->mu);
            uint64_t w = a->cool_until_ms > now ? a->cool_until_ms - now : 0;
            if (w == 0 && a->limited)
                w = ratelimit_take(&a->bucket, now, 1.0);
            pthread_mutex_unlock(&e->mu);
            if (w != 0) {
                pthread_mutex_unlock(&cn->mu);
                wait_ms = w < wait_ms ? w : wait_ms;
                continue;
            }
            tried++;
            struct notify_result t = {0};
            enum try_result tr = try_account(e, a, cn, m->address, &mail, &t);
            pthread_mutex_unlock(&cn->mu);
            if (tr == TRY_ACCOUNT_FAILED && notify_drivers_aborting()) {
                snprintf(last.detail, sizeof(last.detail), "the server is stopping");
                break; /* not the account's fault: no cool-down */
            }
            if (tr == TRY_SENT || tr == TRY_PERMANENT) {
                r->outcome = tr == TRY_SENT ? NOTIFY_SENT : NOTIFY_PERMANENT;
                r->code = t.code;
                snprintf(r->detail, sizeof(r->detail), "%s", tr == TRY_SENT ? "" : t.detail);
                snprintf(r->provider_id, sizeof(r->provider_id), "%s", msgid);
                buf_release(&mail);
                return;
            }
            if (e->cooldown_ms > 0) {
                pthread_mutex_lock(&e->mu);
                a->cool_until_ms = clock_mono_ms() + (uint64_t)e->cooldown_ms;
                pthread_mutex_unlock(&e->mu);
                uint64_t cool = (uint64_t)e->cooldown_ms;
                wait_ms = cool < wait_ms ? cool : wait_ms;
            }
            last = t;
        }
    }
    buf_release(&mail);
    r->outcome = NOTIFY_RETRY;
    r->code = last.code;
    if (tried == 0)
        snprintf(r->detail, sizeof(r->detail), "every account is rate-limited or cooling down");
    else
        snprintf(r->detail, sizeof(r->detail), "%s", last.detail);
    if (wait_ms != UINT64_MAX && wait_ms != RATELIMIT_NEVER)
        r->retry_after_s = (int)((wait_ms + 999) / 1000);
}

const struct notify_driver notify_driver_email = {
    .kind = "email",
    .secret_fields = secret_fields,
    .check = email_check,
    .open = email_open,
    .close = email_close,
    .send = email_send,
};
