/*
 * Quiet hours (quiet.h): whether an instant falls in a user's local quiet window and, if so,
 * the UTC instant the window ends. Local wall-clock arithmetic is done with the zone's offset
 * function (notify/tz.h); the one delicate step is turning a local date and time back into an
 * instant, which has no answer in a spring-forward gap and two in a fall-back overlap.
 */
#include "notify/quiet.h"

#include <stddef.h>

#include "core/err.h"
#include "notify/tz.h"

#define DAY 86400

int notify_quiet_parse_hhmm(const char *s)
{
    if (s == NULL)
        return -1;
    for (int i = 0; i < 5; i++)
        if (i == 2 ? s[i] != ':' : (s[i] < '0' || s[i] > '9'))
            return -1;
    if (s[5] != '\0')
        return -1;
    int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    return h > 23 || m > 59 ? -1 : h * 60 + m;
}

bool notify_tz_is_valid(const char *name)
{
    const struct notify_tz *z;
    if (!notify_tz_name_is_valid(name) || notify_tz_acquire(name, &z) != 0)
        return false;
    notify_tz_release(z);
    return true;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* The first instant after now_s at which the local clock reaches the wall time L (seconds since
 * the epoch as if local time were UTC), or 0 when there is none. Offsets are taken a day
 * before and after L: no zone changes its offset twice within two days. */
static int64_t resolve(const struct notify_tz *z, int64_t wall, int64_t now_s)
{
    int32_t oa = notify_tz_utoff(z, wall - DAY), ob = notify_tz_utoff(z, wall + DAY);
    int64_t ta = wall - oa, tb = wall - ob;
    bool va = notify_tz_utoff(z, ta) == oa, vb = notify_tz_utoff(z, tb) == ob;
    int64_t best = 0;
    if (va && ta > now_s)
        best = ta;
    if (vb && tb > now_s && (best == 0 || tb < best))
        best = tb;
    if (best != 0 || va || vb)
        return best;
    /* a gap: the clock jumps over L; the window ends when the jump happens, the first
     * instant with the later offset between tb (before the jump) and ta (after it) */
    int64_t lo = tb < ta ? tb : ta, hi = tb < ta ? ta : tb;
    if (notify_tz_utoff(z, hi) != ob)
        return 0;
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (notify_tz_utoff(z, mid) == ob)
            hi = mid;
        else
            lo = mid;
    }
    return hi > now_s ? hi : 0;
}

int64_t notify_quiet_until(const char *start, const char *end, const char *tz, int64_t now_ms)
{
    if (start == NULL || end == NULL || start[0] == '\0' || end[0] == '\0')
        return 0;
    int s = notify_quiet_parse_hhmm(start), e = notify_quiet_parse_hhmm(end);
    if (s < 0 || e < 0 || now_ms < 0)
        return ERR_INVAL;
    const struct notify_tz *z;
    if (notify_tz_acquire(tz == NULL || tz[0] == '\0' ? "UTC" : tz, &z) != 0)
        return ERR_INVAL;
    int64_t result = 0;
    if (s != e) {
        int64_t now_s = floor_div(now_ms, 1000);
        int64_t wall = now_s + notify_tz_utoff(z, now_s);
        int64_t day = floor_div(wall, DAY), tod = wall - day * DAY;
        int64_t start_s = (int64_t)s * 60, end_s = (int64_t)e * 60;
        bool inside = true;
        int64_t end_day = day; /* the local day the window ends on */
        if (s > e && tod >= start_s)
            end_day = day + 1; /* past midnight: it ends tomorrow */
        else if (s < e ? tod < start_s || tod >= end_s : tod >= end_s)
            inside = false;
        if (inside) {
            int64_t t = resolve(z, end_day * DAY + end_s, now_s);
            if (end_day != day) { /* a fall-back may show today's end again before midnight */
                int64_t today = resolve(z, day * DAY + end_s, now_s);
                if (today > 0 && (t == 0 || today < t))
                    t = today;
            }
            result = t > 0 ? t * 1000 : 0;
        }
    }
    notify_tz_release(z);
    return result;
}
