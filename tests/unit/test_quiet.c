/*
 * Quiet hours (notify/quiet) and the time zones under them (notify/tz): windows inside a day
 * and past midnight, New York around both DST changes (a window ending in the spring-forward
 * gap, one ending in the repeated fall-back hour), Shanghai past midnight, fixed offsets; the
 * TZif reader on the system's files and on damaged copies (every truncation refused), the
 * POSIX TZ rules after a file's last transition (north and south), names refused before any
 * file is opened, and the cache used from several threads. Expected instants were computed
 * independently (Python's zoneinfo) and pinned here.
 */
#include "test.h"

#include <pthread.h>
#include <stdlib.h>

#include "core/err.h"
#include "notify/quiet.h"
#include "notify/tz.h"

#define NY "America/New_York"
#define SH "Asia/Shanghai"

TEST(parse_hhmm)
{
    CHECK_INT(notify_quiet_parse_hhmm("00:00"), 0);
    CHECK_INT(notify_quiet_parse_hhmm("07:30"), 450);
    CHECK_INT(notify_quiet_parse_hhmm("23:59"), 1439);
    static const char *const bad[] = {"24:00", "7:00",  "07:60", "0700", "07:00 ", " 07:00",
                                      "ab:cd", "07-00", "",      "07:0", "+1:00",  NULL};
    for (int i = 0; bad[i]; i++)
        CHECK_INT(notify_quiet_parse_hhmm(bad[i]), -1);
    CHECK_INT(notify_quiet_parse_hhmm(NULL), -1);
}

TEST(zone_names)
{
    static const char *const ok[] = {
        NY,       SH,       "UTC",           "Etc/UTC",   "+08:00",
        "-05:30", "+14:00", "Europe/London", "Etc/GMT+5", "America/Argentina/Buenos_Aires",
        NULL};
    for (int i = 0; ok[i]; i++) {
        if (!notify_tz_is_valid(ok[i]))
            fprintf(stderr, "  zone %s\n", ok[i]);
        CHECK(notify_tz_is_valid(ok[i]));
    }
    static const char *const bad[] = {"",
                                      "../etc/passwd",
                                      "/etc/localtime",
                                      "America//New_York",
                                      "America/",
                                      "America",
                                      "Foo/Bar",
                                      "zone.tab",
                                      "tzdata.zi",
                                      "right/UTC",
                                      "+15:00",
                                      "+08:60",
                                      "+8:00",
                                      "08:00",
                                      "America/New York",
                                      "America/New_York\n",
                                      "Asia/Shanghai/",
                                      "utc",
                                      NULL};
    for (int i = 0; bad[i]; i++) {
        if (notify_tz_is_valid(bad[i]))
            fprintf(stderr, "  zone %s\n", bad[i]);
        CHECK(!notify_tz_is_valid(bad[i]));
    }
    CHECK(!notify_tz_is_valid(NULL));
    char longname[80];
    memset(longname, 'A', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    CHECK(!notify_tz_name_is_valid(longname));
    CHECK(notify_tz_name_is_valid("Nowhere/Town")); /* syntax only: no file read */
    CHECK(!notify_tz_is_valid("Nowhere/Town"));
}

TEST(new_york_spring_forward)
{
    /* 2026-03-07 23:00 EST: quiet 22:00-07:00 ends 2026-03-08 07:00 EDT = 11:00 UTC, not 12:00 */
    CHECK_INT(notify_quiet_until("22:00", "07:00", NY, 1772942400000), 1772967600000);
    /* 01:30 EST, window 01:00-02:30: 02:30 never happens; it ends at the jump, 07:00 UTC */
    CHECK_INT(notify_quiet_until("01:00", "02:30", NY, 1772951400000), 1772953200000);
    /* one second before the jump: still quiet, same end */
    CHECK_INT(notify_quiet_until("01:00", "02:30", NY, 1772953199000), 1772953200000);
    /* at the jump (03:00 EDT) it is over */
    CHECK_INT(notify_quiet_until("01:00", "02:30", NY, 1772953200000), 0);
}

TEST(new_york_fall_back)
{
    /* 2026-11-01 00:30 EDT, window 00:00-01:30: ends at the first 01:30 (EDT) */
    CHECK_INT(notify_quiet_until("00:00", "01:30", NY, 1793507400000), 1793511000000);
    /* 01:40 EDT: past the first 01:30, outside */
    CHECK_INT(notify_quiet_until("00:00", "01:30", NY, 1793511600000), 0);
    /* 01:10 EST, the repeated hour: inside again, until 01:30 EST */
    CHECK_INT(notify_quiet_until("00:00", "01:30", NY, 1793513400000), 1793514600000);
    /* 06:00 EST, window 22:00-07:00: ends 07:00 EST = 12:00 UTC */
    CHECK_INT(notify_quiet_until("22:00", "07:00", NY, 1793530800000), 1793534400000);
    /* midsummer noon: outside */
    CHECK_INT(notify_quiet_until("22:00", "07:00", NY, 1782921600000), 0);
}

TEST(shanghai_past_midnight)
{
    /* 2026-06-01 23:30 CST: quiet 22:00-08:00 until 2026-06-02 08:00 CST = 00:00 UTC */
    CHECK_INT(notify_quiet_until("22:00", "08:00", SH, 1780327800000), 1780358400000);
    CHECK_INT(notify_quiet_until("22:00", "08:00", SH, 1780358340000), 1780358400000); /* 07:59 */
    CHECK_INT(notify_quiet_until("22:00", "08:00", SH, 1780358399999), 1780358400000);
    CHECK_INT(notify_quiet_until("22:00", "08:00", SH, 1780358400000), 0); /* 08:00: over */
    CHECK_INT(notify_quiet_until("22:00", "08:00", SH, 1780322400000), 1780358400000); /* 22:00 */
    CHECK_INT(notify_quiet_until("22:00", "08:00", SH, 1780322399999), 0); /* 21:59:59.999 */
    /* the same with the fixed offset */
    CHECK_INT(notify_quiet_until("22:00", "08:00", "+08:00", 1780327800000), 1780358400000);
    /* a window inside the day */
    CHECK_INT(notify_quiet_until("12:00", "14:00", SH, 1780327800000), 0);
    CHECK_INT(notify_quiet_until("07:00", "09:00", SH, 1780358340000), 1780362000000);
}

TEST(utc_and_edge_cases)
{
    int64_t noon = 1782907200000; /* 2026-07-01 12:00:00 UTC */
    CHECK_INT(notify_quiet_until("11:00", "13:00", "UTC", noon), noon + 3600000);
    CHECK_INT(notify_quiet_until("11:00", "13:00", NULL, noon), noon + 3600000);
    CHECK_INT(notify_quiet_until("11:00", "13:00", "", noon), noon + 3600000);
    CHECK_INT(notify_quiet_until("11:00", "13:00", "-05:30", noon), 0); /* 06:30 there */
    CHECK_INT(notify_quiet_until("06:00", "07:00", "-05:30", noon), noon + 1800000);
    CHECK_INT(notify_quiet_until("12:00", "12:00", "UTC", noon), 0); /* empty window */
    CHECK_INT(notify_quiet_until(NULL, "13:00", "UTC", noon), 0);
    CHECK_INT(notify_quiet_until("", "", "UTC", noon), 0);
    CHECK_INT(notify_quiet_until("25:00", "13:00", "UTC", noon), ERR_INVAL);
    CHECK_INT(notify_quiet_until("11:00", "1300", "UTC", noon), ERR_INVAL);
    CHECK_INT(notify_quiet_until("11:00", "13:00", "Nowhere/Town", noon), ERR_INVAL);
    CHECK_INT(notify_quiet_until("11:00", "13:00", "../../etc/passwd", noon), ERR_INVAL);
    /* the first hour of the epoch; before it is refused (answers are instants > 0) */
    CHECK_INT(notify_quiet_until("00:00", "01:00", "UTC", 1000), 3600000);
    CHECK_INT(notify_quiet_until("00:00", "01:00", "UTC", -1000), ERR_INVAL);
}

static int32_t off_at(const char *zone, int64_t t)
{
    const struct notify_tz *z;
    if (notify_tz_acquire(zone, &z) != 0)
        return -999999;
    int32_t o = notify_tz_utoff(z, t);
    notify_tz_release(z);
    return o;
}

TEST(tzif_offsets)
{
    CHECK_INT(off_at(SH, -2208988800), 29143); /* LMT, before the first transition */
    CHECK_INT(off_at(SH, -615513600), 28800);
    CHECK_INT(off_at(SH, 583718400), 32400); /* 1988 DST */
    /* past the file's last transition: the footer rule EST5EDT,M3.2.0,M11.1.0 */
    CHECK_INT(off_at(NY, 2215061999), -18000);
    CHECK_INT(off_at(NY, 2215062000), -14400);
    CHECK_INT(off_at(NY, 2235621599), -14400);
    CHECK_INT(off_at(NY, 2235621600), -18000);
    CHECK_INT(off_at("Australia/Sydney", 2216822399), 39600);
    CHECK_INT(off_at("Australia/Sydney", 2216822400), 36000);
    CHECK_INT(off_at("Australia/Sydney", 2233151999), 36000);
    CHECK_INT(off_at("Australia/Sydney", 2233152000), 39600);
    CHECK_INT(off_at("+05:45", 0), 20700);
    CHECK_INT(off_at("-00:30", 0), -1800);
}

TEST(posix_rules)
{
    struct notify_tz *z;
    CHECK_INT(notify_tz_parse_posix("EST5EDT,M3.2.0,M11.1.0", 22, &z), 0);
    CHECK_INT(notify_tz_utoff(z, 2215061999), -18000);
    CHECK_INT(notify_tz_utoff(z, 2215062000), -14400);
    CHECK_INT(notify_tz_utoff(z, 2235621600), -18000);
    notify_tz_free(z);
    const char *syd = "AEST-10AEDT,M10.1.0,M4.1.0/3";
    CHECK_INT(notify_tz_parse_posix(syd, strlen(syd), &z), 0);
    CHECK_INT(notify_tz_utoff(z, 2216822399), 39600);
    CHECK_INT(notify_tz_utoff(z, 2216822400), 36000);
    CHECK_INT(notify_tz_utoff(z, 2233152000), 39600);
    notify_tz_free(z);
    const char *fixed = "<+0545>-5:45";
    CHECK_INT(notify_tz_parse_posix(fixed, strlen(fixed), &z), 0);
    CHECK_INT(notify_tz_utoff(z, 12345), 20700);
    notify_tz_free(z);
    /* Julian days: J60 is March 1 in every year; 2040 is a leap year */
    const char *jul = "XST0XDT,J60/0,J305/0";
    CHECK_INT(notify_tz_parse_posix(jul, strlen(jul), &z), 0);
    CHECK_INT(notify_tz_utoff(z, 2214172800 - 1), 0); /* 2040-02-29 23:59:59 UTC */
    CHECK_INT(notify_tz_utoff(z, 2214172800), 3600);  /* 2040-03-01 00:00:00 UTC */
    notify_tz_free(z);
    static const char *const bad[] = {"",
                                      "EST",
                                      "ES5",
                                      "EST5EDT,M3.2.0",
                                      "EST5EDT,M13.2.0,M11.1.0",
                                      "EST5EDT,M3.6.0,M11.1.0",
                                      "EST5EDT,M3.2.7,M11.1.0",
                                      "EST5EDT,J0,J365",
                                      "EST5EDT,366,0",
                                      "EST25",
                                      "EST5EDT,M3.2.0/168,M11.1.0",
                                      "<+08-8",
                                      "<+8>-8",
                                      "EST5EDT,M3.2.0,M11.1.0x",
                                      NULL};
    for (int i = 0; bad[i]; i++) {
        z = (struct notify_tz *)1;
        if (notify_tz_parse_posix(bad[i], strlen(bad[i]), &z) != ERR_INVAL)
            fprintf(stderr, "  posix %s\n", bad[i]);
        CHECK(z == NULL);
    }
    CHECK_INT(notify_tz_parse_posix("EST5EDT", 7, &z), 0); /* no rule: the US one */
    CHECK_INT(notify_tz_utoff(z, 2215062000), -14400);
    notify_tz_free(z);
}

static unsigned char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    unsigned char *d = malloc(NOTIFY_TZ_FILE_MAX);
    *n = fread(d, 1, NOTIFY_TZ_FILE_MAX, f);
    fclose(f);
    return d;
}

TEST(tzif_damaged_files)
{
    size_t n;
    unsigned char *d = read_all(NOTIFY_TZ_DIR "/" NY, &n);
    CHECK(d != NULL);
    if (d == NULL)
        return;
    struct notify_tz *z;
    CHECK_INT(notify_tz_parse_tzif(d, n, &z), 0);
    CHECK_INT(notify_tz_utoff(z, 1782921600), -14400);
    notify_tz_free(z);
    for (size_t i = 0; i < n; i++) { /* every truncation is refused */
        z = (struct notify_tz *)1;
        if (notify_tz_parse_tzif(d, i, &z) != ERR_INVAL) {
            fprintf(stderr, "  truncated at %zu accepted\n", i);
            CHECK(0);
            break;
        }
        CHECK(z == NULL);
    }
    unsigned char *c = malloc(n);
    memcpy(c, d, n);
    c[0] = 'X'; /* magic */
    CHECK_INT(notify_tz_parse_tzif(c, n, &z), ERR_INVAL);
    memcpy(c, d, n);
    c[4] = '\0'; /* version 1 */
    CHECK_INT(notify_tz_parse_tzif(c, n, &z), ERR_INVAL);
    memcpy(c, d, n);
    c[n - 3] = '!'; /* a broken footer rule */
    CHECK_INT(notify_tz_parse_tzif(c, n, &z), ERR_INVAL);
    memcpy(c, d, n);
    c[34] = 0x0f; /* v1 transition count 4095: its block runs past the file */
    c[35] = 0xff;
    CHECK_INT(notify_tz_parse_tzif(c, n, &z), ERR_INVAL);
    free(c);
    free(d);
}

/* Inside the window at t, by the local clock alone (tz's offsets). */
static bool inside(const struct notify_tz *z, int s, int e, int64_t t)
{
    int64_t w = t + notify_tz_utoff(z, t);
    int64_t tod = ((w % 86400) + 86400) % 86400 / 60;
    return s < e ? tod >= s && tod < e : tod >= s || tod < e;
}

/* Around both 2026 DST changes in New York, every 10 minutes, for several windows: the answer
 * is 0 exactly when the clock shows a time outside the window, else the first whole minute at
 * which it no longer does (found by walking the clock minute by minute). */
TEST(new_york_sweep_against_the_clock)
{
    static const char *const win[][2] = {{"22:00", "07:00"}, {"00:00", "01:30"},
                                         {"01:00", "02:30"}, {"23:00", "02:00"},
                                         {"01:00", "02:00"}, {"12:00", "13:00"}};
    static const int64_t from[] = {1772755200, 1793318400}; /* 2026-03-06, 2026-10-30 UTC */
    const struct notify_tz *z;
    CHECK_INT(notify_tz_acquire(NY, &z), 0);
    int mismatches = 0;
    for (size_t w = 0; w < sizeof(win) / sizeof(win[0]); w++) {
        int s = notify_quiet_parse_hhmm(win[w][0]), e = notify_quiet_parse_hhmm(win[w][1]);
        for (size_t f = 0; f < 2; f++) {
            for (int64_t now = from[f] + 7; now < from[f] + 5 * 86400; now += 600) {
                int64_t want = 0;
                if (inside(z, s, e, now)) {
                    int64_t t = (now / 60 + 1) * 60;
                    while (inside(z, s, e, t))
                        t += 60;
                    want = t * 1000;
                }
                int64_t got = notify_quiet_until(win[w][0], win[w][1], NY, now * 1000 + 500);
                if (got != want && mismatches++ < 5)
                    fprintf(stderr, "  %s-%s at %lld: %lld != %lld\n", win[w][0], win[w][1],
                            (long long)now, (long long)got, (long long)want);
            }
        }
    }
    CHECK_INT(mismatches, 0);
    notify_tz_release(z);
}

struct thread_arg {
    int bad;
};

static void *worker(void *p)
{
    struct thread_arg *a = p;
    for (int i = 0; i < 200; i++) {
        if (notify_quiet_until("22:00", "07:00", NY, 1772942400000) != 1772967600000 ||
            notify_quiet_until("22:00", "08:00", SH, 1780327800000) != 1780358400000 ||
            !notify_tz_is_valid("Europe/Paris"))
            a->bad++;
    }
    return NULL;
}

TEST(threads_share_the_cache)
{
    notify_tz_cache_clear();
    pthread_t th[4];
    struct thread_arg args[4] = {{0}};
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, worker, &args[i]);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT(args[i].bad, 0);
    }
}

int main(void)
{
    RUN(parse_hhmm);
    RUN(zone_names);
    RUN(new_york_spring_forward);
    RUN(new_york_fall_back);
    RUN(shanghai_past_midnight);
    RUN(utc_and_edge_cases);
    RUN(new_york_sweep_against_the_clock);
    RUN(tzif_offsets);
    RUN(posix_rules);
    RUN(tzif_damaged_files);
    RUN(threads_share_the_cache);
    notify_tz_cache_clear();
    return test_summary();
}
