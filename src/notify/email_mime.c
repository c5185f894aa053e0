/*
 * The e-mail message of the email driver (internal.h): RFC 5322 headers with RFC 2047 encoded
 * words for anything that is not plain printable ASCII, and a text/plain body, or a
 * multipart/alternative of text/plain and text/html, each part base64-encoded (no line length
 * or leading-dot concerns). Nothing given by a sender reaches a header raw unless it is
 * printable ASCII without CR or LF, so no header can be added through a subject, a name or an
 * address.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/rand.h"
#include "notify/internal.h"

#define WORD_IN 45 /* bytes of text per encoded word: base64 of 45 is 60, a word stays < 76 */

bool notify__mail_addr_ok(const char *a)
{
    size_t n = a ? strlen(a) : 0;
    if (n < 3 || n > 254)
        return false;
    int at = 0;
    for (const unsigned char *p = (const unsigned char *)a; *p; p++) {
        if (*p <= 0x20 || *p >= 0x7f || strchr("<>()[],;:\\\"", *p) != NULL)
            return false;
        at += *p == '@';
    }
    const char *d = strchr(a, '@');
    return at == 1 && d != a && d[1] != '\0' && strchr(d, '.') != NULL && d[strlen(d) - 1] != '.';
}

static bool plain_ascii(const char *s, size_t max)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++, n++) {
        if (*p < 0x20 || *p >= 0x7f)
            return false;
    }
    return n <= max;
}

/* Length of the UTF-8 sequence starting with c (1 for a stray byte). */
static size_t seq_len(unsigned char c)
{
    if (c >= 0xf0 && c < 0xf8)
        return 4;
    if (c >= 0xe0)
        return c < 0xf0 ? 3 : 1;
    if (c >= 0xc0)
        return 2;
    return 1;
}

static void put_b64(struct buf *out, const void *p, size_t n)
{
    unsigned char enc[4 * ((WORD_IN + 2) / 3) + 1];
    EVP_EncodeBlock(enc, p, (int)n);
    buf_puts(out, (const char *)enc);
}

void notify__mail_header_text(struct buf *out, const char *s)
{
    if (plain_ascii(s, 900)) {
        buf_puts(out, s);
        return;
    }
    /* controls (CR, LF, TAB, ...) become spaces; the rest is encoded as UTF-8 B words */
    char clean[4096];
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && n < sizeof(clean) - 1; p++)
        clean[n++] = (char)((*p < 0x20 || *p == 0x7f) ? ' ' : *p);
    while (n > 0 && s[n] != '\0' && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--; /* cut short: at a character boundary */
    clean[n] = '\0';
    size_t i = 0;
    bool first = true;
    while (i < n) {
        size_t j = i;
        while (j < n) {
            size_t l = seq_len((unsigned char)clean[j]);
            if (j + l > n || j + l - i > WORD_IN)
                break;
            j += l;
        }
        if (j == i)
            j = i + 1;
        if (!first)
            buf_puts(out, "\r\n ");
        buf_puts(out, "=?UTF-8?B?");
        put_b64(out, clean + i, j - i);
        buf_puts(out, "?=");
        first = false;
        i = j;
    }
}

static void put_body_b64(struct buf *out, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i += 57) { /* 57 bytes: 76 characters per line */
        size_t k = n - i < 57 ? n - i : 57;
        unsigned char enc[77];
        EVP_EncodeBlock(enc, (const unsigned char *)s + i, (int)k);
        buf_puts(out, (const char *)enc);
        buf_puts(out, "\r\n");
    }
}

static void put_date(struct buf *out, int64_t now_ms)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t)(now_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    buf_printf(out, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n", days[tm.tm_wday], tm.tm_mday,
               months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void notify__mail_message_id(char *out, size_t outsz, const char *delivery_id)
{
    char id[NOTIFY_MSGID_MAX];
    size_t n = 0;
    for (const char *p = delivery_id ? delivery_id : ""; *p && n < 64; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-' || c == '_';
        id[n++] = ok ? c : '_';
    }
    if (n == 0) {
        rand_hex(id, 16);
        n = 32;
    }
    id[n] = '\0';
    snprintf(out, outsz, "<%s@herald>", id);
}

int notify__mail_build(struct buf *out, const char *from_hdr, const char *to, const char *subject,
                       const char *text, const char *html, const char *message_id, int64_t now_ms)
{
    if (!notify__mail_addr_ok(to))
        return ERR_INVAL;
    put_date(out, now_ms);
    buf_printf(out, "From: %s\r\nTo: <%s>\r\nSubject: ", from_hdr, to);
    notify__mail_header_text(out, subject ? subject : "");
    buf_printf(out, "\r\nMessage-ID: %s\r\nMIME-Version: 1.0\r\n", message_id);
    if (html == NULL) {
        buf_puts(out, "Content-Type: text/plain; charset=utf-8\r\n"
                      "Content-Transfer-Encoding: base64\r\n\r\n");
        put_body_b64(out, text ? text : "");
        return 0;
    }
    char boundary[40];
    memcpy(boundary, "=_herald_", 9);
    rand_hex(boundary + 9, 12); /* "=_" cannot occur in base64 parts */
    buf_printf(out, "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n", boundary);
    buf_printf(out,
               "--%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
               "Content-Transfer-Encoding: base64\r\n\r\n",
               boundary);
    put_body_b64(out, text ? text : "");
    buf_printf(out,
               "--%s\r\nContent-Type: text/html; charset=utf-8\r\n"
               "Content-Transfer-Encoding: base64\r\n\r\n",
               boundary);
    put_body_b64(out, html);
    buf_printf(out, "--%s--\r\n", boundary);
    return 0;
}
