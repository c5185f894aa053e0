/*
 * Time zones for quiet hours (tz.h): a TZif v2+ reader with bounds checks on every field, a
 * POSIX TZ string parser for the instants after a file's last transition, the offset at an
 * instant, and a name-keyed cache. Zones are immutable once built, so a cached zone is read
 * by any thread without a lock; the mutex only guards the cache's table.
 */
#include "notify/tz.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/xalloc.h"

#define MAX_TRANSITIONS 4096
#define MAX_FOOTER 128
#define DAY 86400

struct rule_date {
    char kind; /* 'J' (1..365, no Feb 29), 'D' (0..365), 'M' (month.week.day) */
    int n, m, w, d;
    int32_t time; /* seconds after local midnight of that day, may be negative or > 24 h */
};

struct posix_tz {
    int32_t std_off, dst_off; /* seconds east of UTC */
    bool has_dst;
    struct rule_date start, end;
};

struct notify_tz {
    int64_t *times; /* transitions, strictly ascending */
    uint8_t *idx;   /* type of each transition */
    size_t n;
    int32_t utoff[256];
    size_t ntypes;
    bool has_rule; /* rule applies after the last transition (all instants if n == 0) */
    struct posix_tz rule;
    bool cached;
};

/* ---- calendar (proleptic Gregorian, days since 1970-01-01) ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int64_t year_of_days(int64_t z)
{
    z += 719468;
    int64_t era = floor_div(z, 146097);
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    return (int64_t)yoe + era * 400 + (m <= 2);
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int64_t y, int m)
{
    static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : len[m - 1];
}

/* The day (since the epoch) a rule date falls on in year y. */
static int64_t rule_day(int64_t y, const struct rule_date *r)
{
    int64_t jan1 = days_from_civil(y, 1, 1);
    if (r->kind == 'J')
        return jan1 + r->n - 1 + (is_leap(y) && r->n >= 60);
    if (r->kind == 'D')
        return jan1 + r->n;
    int64_t first = days_from_civil(y, (unsigned)r->m, 1);
    int wd_first = (int)((first % 7 + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
    int64_t day = first + (r->d - wd_first + 7) % 7 + (int64_t)(r->w - 1) * 7;
    while (day >= first + month_days(y, r->m))
        day -= 7; /* week 5: the last such weekday */
    return day;
}

static int32_t rule_utoff(const struct posix_tz *r, int64_t t)
{
    if (!r->has_dst)
        return r->std_off;
    int64_t y = year_of_days(floor_div(t + r->std_off, DAY));
    int64_t start = rule_day(y, &r->start) * DAY + r->start.time - r->std_off;
    int64_t end = rule_day(y, &r->end) * DAY + r->end.time - r->dst_off;
    bool dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
    return dst ? r->dst_off : r->std_off;
}

int32_t notify_tz_utoff(const struct notify_tz *z, int64_t t)
{
    if (z->n == 0)
        return z->has_rule ? rule_utoff(&z->rule, t) : z->utoff[0];
    if (t < z->times[0])
        return z->utoff[0];
    if (t >= z->times[z->n - 1] && z->has_rule)
        return rule_utoff(&z->rule, t);
    size_t lo = 0, hi = z->n; /* the last transition at or before t */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->times[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return z->utoff[z->idx[lo]];
}

/* ---- POSIX TZ strings ---- */

struct cursor {
    const char *p, *end;
};

static bool at(const struct cursor *c, char ch)
{
    return c->p < c->end && *c->p == ch;
}

static bool is_digit_at(const struct cursor *c)
{
    return c->p < c->end && *c->p >= '0' && *c->p <= '9';
}

/* Up to max_digits digits into *v; false when there is none. */
static bool number(struct cursor *c, int max_digits, int *v)
{
    int n = 0, x = 0;
    while (n < max_digits && is_digit_at(c)) {
        x = x * 10 + (*c->p++ - '0');
        n++;
    }
    *v = x;
    return n > 0;
}

static bool zone_abbr(struct cursor *c)
{
    size_t n = 0;
    if (at(c, '<')) {
        c->p++;
        while (c->p < c->end && *c->p != '>') {
            char ch = *c->p++;
            if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                  (ch >= '0' && ch <= '9') || ch == '+' || ch == '-'))
                return false;
            n++;
        }
        if (!at(c, '>'))
            return false;
        c->p++;
        return n >= 3;
    }
    while (c->p < c->end && ((*c->p >= 'A' && *c->p <= 'Z') || (*c->p >= 'a' && *c->p <= 'z'))) {
        c->p++;
        n++;
    }
    return n >= 3;
}

/* [+-]h[h...][:mm[:ss]] in seconds, hours at most max_h. */
static bool hms(struct cursor *c, int max_h, int32_t *out)
{
    int sign = 1, h, m = 0, s = 0;
    if (at(c, '+') || at(c, '-'))
        sign = *c->p++ == '-' ? -1 : 1;
    if (!number(c, 3, &h) || h > max_h)
        return false;
    if (at(c, ':')) {
        c->p++;
        if (!number(c, 2, &m) || m > 59)
            return false;
        if (at(c, ':')) {
            c->p++;
            if (!number(c, 2, &s) || s > 59)
                return false;
        }
    }
    *out = sign * (h * 3600 + m * 60 + s);
    return true;
}

static bool rule_date(struct cursor *c, struct rule_date *r)
{
    r->time = 2 * 3600;
    if (at(c, 'J')) {
        c->p++;
        r->kind = 'J';
        if (!number(c, 3, &r->n) || r->n < 1 || r->n > 365)
            return false;
    } else if (at(c, 'M')) {
        c->p++;
        r->kind = 'M';
        if (!number(c, 2, &r->m) || r->m < 1 || r->m > 12 || !at(c, '.'))
            return false;
        c->p++;
        if (!number(c, 1, &r->w) || r->w < 1 || r->w > 5 || !at(c, '.'))
            return false;
        c->p++;
        if (!number(c, 1, &r->d) || r->d > 6)
            return false;
    } else {
        r->kind = 'D';
        if (!number(c, 3, &r->n) || r->n > 365)
            return false;
    }
    if (at(c, '/')) {
        c->p++;
        if (!hms(c, 167, &r->time)) /* RFC 8536 3.3.1: -167 to 167 hours */
            return false;
    }
    return true;
}

static int parse_posix(const char *s, size_t len, struct posix_tz *r)
{
    struct cursor c = {s, s + len};
    int32_t off;
    memset(r, 0, sizeof(*r));
    if (!zone_abbr(&c) || !hms(&c, 24, &off))
        return ERR_INVAL;
    r->std_off = -off; /* POSIX offsets count west of Greenwich */
    if (c.p == c.end)
        return 0;
    if (!zone_abbr(&c))
        return ERR_INVAL;
    r->has_dst = true;
    r->dst_off = r->std_off + 3600;
    if (c.p < c.end && !at(&c, ',')) {
        if (!hms(&c, 24, &off))
            return ERR_INVAL;
        r->dst_off = -off;
    }
    if (c.p == c.end) { /* no rule: the US one, as POSIX leaves it to the implementation */
        r->start = (struct rule_date){.kind = 'M', .m = 3, .w = 2, .d = 0, .time = 7200};
        r->end = (struct rule_date){.kind = 'M', .m = 11, .w = 1, .d = 0, .time = 7200};
        return 0;
    }
    if (!at(&c, ','))
        return ERR_INVAL;
    c.p++;
    if (!rule_date(&c, &r->start) || !at(&c, ','))
        return ERR_INVAL;
    c.p++;
    if (!rule_date(&c, &r->end) || c.p != c.end)
        return ERR_INVAL;
    return 0;
}

int notify_tz_parse_posix(const char *s, size_t len, struct notify_tz **out)
{
    struct posix_tz r;
    *out = NULL;
    if (len == 0 || len > MAX_FOOTER || parse_posix(s, len, &r) != 0)
        return ERR_INVAL;
    struct notify_tz *z = xcalloc(1, sizeof(*z));
    z->ntypes = 1;
    z->utoff[0] = r.std_off;
    z->has_rule = true;
    z->rule = r;
    *out = z;
    return 0;
}

/* ---- TZif (RFC 8536) ---- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct tzif_counts {
    uint32_t isut, isstd, leap, time, type, chars;
};

/* Reads a 44-byte header at p[0..avail); 0 or ERR_INVAL. The counts of the version 1 block
 * (skipped) are only bounded; those of the 64-bit block also checked for consistency. */
static int tzif_header(const unsigned char *p, size_t avail, bool strict, struct tzif_counts *k,
                       char *version)
{
    if (avail < 44 || memcmp(p, "TZif", 4) != 0)
        return ERR_INVAL;
    *version = (char)p[4];
    k->isut = be32(p + 20);
    k->isstd = be32(p + 24);
    k->leap = be32(p + 28);
    k->time = be32(p + 32);
    k->type = be32(p + 36);
    k->chars = be32(p + 40);
    if (k->type > 256 || k->time > MAX_TRANSITIONS || k->leap > MAX_TRANSITIONS ||
        k->chars > 65536 || k->isut > 256 || k->isstd > 256)
        return ERR_INVAL;
    if (strict && (k->type == 0 || k->chars == 0 || (k->isut != 0 && k->isut != k->type) ||
                   (k->isstd != 0 && k->isstd != k->type)))
        return ERR_INVAL;
    return 0;
}

static size_t tzif_block_size(const struct tzif_counts *k, size_t time_size)
{
    return (size_t)k->time * time_size + k->time + (size_t)k->type * 6 + k->chars +
           (size_t)k->leap * (time_size + 4) + k->isstd + k->isut;
}

int notify_tz_parse_tzif(const void *data, size_t len, struct notify_tz **out)
{
    const unsigned char *p = data;
    struct tzif_counts k;
    char version;
    *out = NULL;
    if (tzif_header(p, len, false, &k, &version) != 0 || version < '2')
        return ERR_INVAL; /* version 1 files carry only 32-bit data */
    size_t v1 = tzif_block_size(&k, 4);
    if (v1 > len - 44)
        return ERR_INVAL;
    p += 44 + v1;
    len -= 44 + v1;
    if (tzif_header(p, len, true, &k, &version) != 0 || version < '2' || k.leap != 0)
        return ERR_INVAL; /* leap-second ("right/") zones count TAI-like seconds */
    size_t v2 = tzif_block_size(&k, 8);
    if (v2 > len - 44)
        return ERR_INVAL;
    const unsigned char *times = p + 44, *idx = times + (size_t)k.time * 8, *types = idx + k.time,
                        *chars = types + (size_t)k.type * 6;
    const unsigned char *footer = p + 44 + v2, *end = p + len;

    struct notify_tz *z = xcalloc(1, sizeof(*z));
    z->n = k.time;
    z->ntypes = k.type;
    if (z->n > 0) {
        z->times = xmalloc(z->n * sizeof(*z->times));
        z->idx = xmalloc(z->n);
    }
    for (size_t i = 0; i < k.type; i++) {
        int32_t off = (int32_t)be32(types + i * 6);
        if (off < -89999 || off > 93599 || types[i * 6 + 4] > 1 || types[i * 6 + 5] >= k.chars)
            goto bad; /* RFC 8536: within -25 h .. +26 h; isdst 0 or 1; an index in chars */
        z->utoff[i] = off;
    }
    if (chars[k.chars - 1] != '\0')
        goto bad;
    for (size_t i = 0; i < z->n; i++) {
        z->times[i] = be64(times + i * 8);
        z->idx[i] = idx[i];
        if (idx[i] >= k.type || (i > 0 && z->times[i] <= z->times[i - 1]))
            goto bad;
    }
    /* footer: "\n" TZ-string "\n" (the string may be empty) */
    if (footer >= end || *footer != '\n')
        goto bad;
    const unsigned char *nl = memchr(footer + 1, '\n', (size_t)(end - footer - 1));
    if (nl == NULL || (size_t)(nl - footer - 1) > MAX_FOOTER)
        goto bad;
    size_t flen = (size_t)(nl - footer - 1);
    if (flen > 0) {
        if (parse_posix((const char *)footer + 1, flen, &z->rule) != 0)
            goto bad;
        z->has_rule = true;
    }
    *out = z;
    return 0;
bad:
    notify_tz_free(z);
    return ERR_INVAL;
}

void notify_tz_free(struct notify_tz *z)
{
    if (z == NULL)
        return;
    free(z->times);
    free(z->idx);
    free(z);
}

/* ---- names, files and the cache ---- */

/* "UTC", or [+-]HH:MM with HH <= 14: *off seconds east. */
static bool fixed_offset(const char *name, int32_t *off)
{
    if (strcmp(name, "UTC") == 0) {
        *off = 0;
        return true;
    }
    if ((name[0] != '+' && name[0] != '-') || strlen(name) != 6 || name[3] != ':')
        return false;
    for (int i = 1; i < 6; i++)
        if (i != 3 && (name[i] < '0' || name[i] > '9'))
            return false;
    int h = (name[1] - '0') * 10 + (name[2] - '0'), m = (name[4] - '0') * 10 + (name[5] - '0');
    if (h > 14 || m > 59)
        return false;
    *off = (name[0] == '-' ? -1 : 1) * (h * 3600 + m * 60);
    return true;
}

static bool iana_name_is_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > NOTIFY_TZ_NAME_MAX || name[0] == '/' || name[n - 1] == '/')
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '+' || ch == '-' || ch == '/'))
            return false;
        if (ch == '/' && name[i + 1] == '/')
            return false;
    }
    return true; /* no '.' is allowed at all, so no ".." either */
}

bool notify_tz_name_is_valid(const char *name)
{
    int32_t off;
    return name != NULL && (fixed_offset(name, &off) || iana_name_is_valid(name));
}

static int load_file(const char *name, struct notify_tz **out)
{
    char path[sizeof(NOTIFY_TZ_DIR) + NOTIFY_TZ_NAME_MAX + 2];
    memcpy(path, NOTIFY_TZ_DIR "/", sizeof(NOTIFY_TZ_DIR));
    memcpy(path + sizeof(NOTIFY_TZ_DIR), name, strlen(name) + 1);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* never wait on a FIFO */
    if (fd < 0)
        return ERR_INVAL;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 44 ||
        st.st_size > NOTIFY_TZ_FILE_MAX) {
        close(fd);
        return ERR_INVAL;
    }
    size_t size = (size_t)st.st_size, got = 0;
    unsigned char *data = xmalloc(size);
    while (got < size) {
        ssize_t r = read(fd, data + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    int rc = notify_tz_parse_tzif(data, got, out);
    free(data);
    return rc;
}

struct cache_entry {
    char name[NOTIFY_TZ_NAME_MAX + 1];
    struct notify_tz *z;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cache_entry *cache;
static size_t cache_n;

static const struct notify_tz *cache_find(const char *name)
{
    for (size_t i = 0; i < cache_n; i++)
        if (strcmp(cache[i].name, name) == 0)
            return cache[i].z;
    return NULL;
}

int notify_tz_acquire(const char *name, const struct notify_tz **out)
{
    *out = NULL;
    int32_t off;
    if (name != NULL && fixed_offset(name, &off)) {
        struct notify_tz *z = xcalloc(1, sizeof(*z));
        z->ntypes = 1;
        z->utoff[0] = off;
        *out = z;
        return 0;
    }
    if (name == NULL || !iana_name_is_valid(name))
        return ERR_INVAL;
    pthread_mutex_lock(&cache_lock);
    const struct notify_tz *hit = cache_find(name);
    pthread_mutex_unlock(&cache_lock);
    if (hit != NULL) {
        *out = hit;
        return 0;
    }
    struct notify_tz *z;
    int rc = load_file(name, &z); /* outside the lock: two threads may read the same file */
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&cache_lock);
    hit = cache_find(name);
    if (hit == NULL && cache_n < NOTIFY_TZ_CACHE_MAX) {
        if (cache == NULL)
            cache = xcalloc(NOTIFY_TZ_CACHE_MAX, sizeof(*cache));
        z->cached = true;
        memcpy(cache[cache_n].name, name, strlen(name) + 1);
        cache[cache_n++].z = z;
    }
    pthread_mutex_unlock(&cache_lock);
    if (hit != NULL) {
        notify_tz_free(z);
        *out = hit;
    } else {
        *out = z; /* cached, or the caller's to release when the cache is full */
    }
    return 0;
}

void notify_tz_release(const struct notify_tz *z)
{
    if (z != NULL && !z->cached)
        notify_tz_free((struct notify_tz *)z);
}

void notify_tz_cache_clear(void)
{
    pthread_mutex_lock(&cache_lock);
    for (size_t i = 0; i < cache_n; i++)
        notify_tz_free(cache[i].z);
    free(cache);
    cache = NULL;
    cache_n = 0;
    pthread_mutex_unlock(&cache_lock);
}
