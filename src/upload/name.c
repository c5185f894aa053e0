/*
 * Upload file names (see name.h): decoding UTF-8 code point by code point so that what is
 * dropped is always a whole character and what is kept is always valid.
 */
#include "upload/name.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

/* Length of the UTF-8 sequence at s (n bytes left) and its code point, or 0 if invalid. */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if ((c & 0xe0) == 0xc0) {
        len = 2, v = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3, v = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

static bool is_dropped(uint32_t cp)
{
    return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp == 0x200e || cp == 0x200f ||
           cp == 0x061c || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
           cp == 0xfeff;
}

void upload_name_sanitize(const char *in, size_t n, char *out)
{
    const unsigned char *s = (const unsigned char *)(in ? in : "");
    /* the last path component */
    size_t start = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '/' || s[i] == '\\')
            start = i + 1;
    size_t o = 0;
    for (size_t i = start; i < n;) {
        uint32_t cp;
        size_t len = utf8_next(s + i, n - i, &cp);
        if (len == 0) {
            i++; /* not UTF-8: dropped */
            continue;
        }
        bool lead = o == 0 && (cp == '.' || cp == ' ');
        if (!is_dropped(cp) && !lead) {
            if (o + len > UPLOAD_NAME_MAX)
                break; /* cut on a character boundary */
            memcpy(out + o, s + i, len);
            o += len;
        }
        i += len;
    }
    while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '.'))
        o--;
    if (o == 0) {
        strcpy(out, "file");
        return;
    }
    out[o] = '\0';
}

void upload_name_ext(const char *name, const char *ext, char *out)
{
    const char *dot = strrchr(name, '.');
    bool same = false;
    if (dot != NULL) {
        const char *own = dot + 1;
        same =
            strcasecmp(own, ext) == 0 || (strcmp(ext, "jpg") == 0 && strcasecmp(own, "jpeg") == 0);
        for (const char *p = own; same && *p; p++)
            same = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9');
        same = same && strlen(own) <= 15;
        if (same) {
            size_t i = 0;
            for (; own[i]; i++)
                out[i] = (char)(own[i] >= 'A' && own[i] <= 'Z' ? own[i] - 'A' + 'a' : own[i]);
            out[i] = '\0';
            return;
        }
    }
    size_t n = strlen(ext);
    if (n > 15)
        n = 15;
    memcpy(out, ext, n);
    out[n] = '\0';
}

int upload_name_ascii(const char *s, char *out, size_t outlen)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if (c >= 0x80 && (c & 0xC0) == 0x80)
            continue; /* a continuation byte: its sequence has its '_' already */
        if (o + 1 >= outlen)
            return -1;
        out[o++] = c >= 0x20 && c < 0x7F && c != '"' && c != '\\' ? (char)c : '_';
    }
    out[o] = '\0';
    return (int)o;
}

int upload_name_pct(const char *s, char *out, size_t outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '_' || c == '~';
        if (o + (keep ? 1 : 3) >= outlen)
            return -1;
        if (keep) {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    return (int)o;
}
