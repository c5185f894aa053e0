/*
 * Time zones for quiet hours, read without the C library's TZ machinery (setenv("TZ") +
 * localtime is process-global and not thread-safe). A zone is an IANA name whose TZif file
 * (RFC 8536, version 2 or later: the 64-bit data and the POSIX TZ footer) is read from
 * NOTIFY_TZ_DIR, "UTC", or a fixed offset "+HH:MM" / "-HH:MM". Zones read from files are
 * cached by name (bounded count; any thread). The file is input: every count and offset is
 * checked against its size before it is read.
 */
#ifndef HERALD_NOTIFY_TZ_H
#define HERALD_NOTIFY_TZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NOTIFY_TZ_DIR "/usr/share/zoneinfo"
#define NOTIFY_TZ_NAME_MAX 64          /* bytes of a zone name */
#define NOTIFY_TZ_FILE_MAX (64 * 1024) /* bytes of a TZif file */
#define NOTIFY_TZ_CACHE_MAX 1024       /* zones kept by name; past it a zone is read per use */

struct notify_tz;

/* True when name is syntactically a zone name: a fixed offset ("UTC", "+08:00", "-05:30",
 * hours up to 14), or 1..NOTIFY_TZ_NAME_MAX bytes of [A-Za-z0-9_+-/] with no empty part and
 * no leading or trailing "/". Reads no file. */
bool notify_tz_name_is_valid(const char *name);

/* Finds the zone called name (reading and caching its file the first time). Returns 0 and
 * sets *out, to be handed back with notify_tz_release; ERR_INVAL for a bad name, a missing
 * file or one that is not a valid TZif v2+ file (leap-second "right/" zones included). Any
 * thread. */
int notify_tz_acquire(const char *name, const struct notify_tz **out);

/* Hands back a zone from notify_tz_acquire (frees it when it was not cached). NULL-safe. */
void notify_tz_release(const struct notify_tz *z);

/* Seconds east of UTC in zone z at the instant t (seconds since the epoch). */
int32_t notify_tz_utoff(const struct notify_tz *z, int64_t t);

/* Parses a TZif file held in memory (exposed for the tests and the fuzz target). Returns 0
 * and a new zone in *out (notify_tz_free), or ERR_INVAL. */
int notify_tz_parse_tzif(const void *data, size_t len, struct notify_tz **out);

/* Parses a POSIX TZ string ("EST5EDT,M3.2.0,M11.1.0", "<+08>-8") into a zone. Returns 0 and a
 * new zone in *out (notify_tz_free), or ERR_INVAL. */
int notify_tz_parse_posix(const char *s, size_t len, struct notify_tz **out);

/* NULL-safe. */
void notify_tz_free(struct notify_tz *z);

/* Frees every cached zone; only when no thread uses one (end of tests, shutdown). */
void notify_tz_cache_clear(void);

#endif
