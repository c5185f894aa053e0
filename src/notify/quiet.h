/*
 * Quiet hours (docs/notifications.md, "Quiet hours"): a user's daily window of local wall-clock
 * time, "HH:MM" to "HH:MM" (end excluded; a window whose end is before its start runs past
 * midnight), in the user's time zone (an IANA name such as "Asia/Shanghai", "UTC", or a fixed
 * offset "+08:00"). Non-urgent deliveries due inside the window wait until it ends. Pure code:
 * the zones are read from the system's TZif files by notify/tz.c, DST transitions included,
 * without touching the process's TZ. Any thread.
 */
#ifndef HERALD_NOTIFY_QUIET_H
#define HERALD_NOTIFY_QUIET_H

#include <stdbool.h>
#include <stdint.h>

/* Minutes after midnight of "HH:MM" (00:00 to 23:59, two digits each), or -1. */
int notify_quiet_parse_hhmm(const char *s);

/* True when name is a zone quiet hours can use: "UTC", "+HH:MM"/"-HH:MM" (up to 14 h), or an
 * IANA name whose TZif file exists and is valid (read and cached). For validating on save. */
bool notify_tz_is_valid(const char *name);

/* When now_ms (ms since the epoch) is inside the quiet window start..end in zone tz, returns
 * the instant (ms since the epoch, > now_ms) the window ends: the first instant at which the
 * local clock shows end (after a spring-forward gap that skips end, the end of the gap; when
 * a fall-back repeats end, its first occurrence after now). Returns 0 when now is outside the
 * window, when start or end is NULL or "" (no quiet hours) or when start == end. tz NULL or ""
 * means UTC. ERR_INVAL (negative) for a malformed start or end, an unknown zone or a now_ms before
 * the epoch. */
int64_t notify_quiet_until(const char *start, const char *end, const char *tz, int64_t now_ms);

#endif
