/*
 * The Range request header (RFC 9110 §14.2) for serving stored files: one byte range, or the
 * whole file. Pure function over an untrusted header value, any thread.
 */
#ifndef HERALD_MEDIA_RANGE_H
#define HERALD_MEDIA_RANGE_H

#include <stdint.h>

/* Parses a Range header ("bytes=a-b", "bytes=a-", "bytes=-n"; one range only) against a file
 * of size bytes. 0: satisfiable, *start..*end inclusive set (end clamped to size - 1; a
 * suffix longer than the file means the whole file); 1: header absent/ignorable/multi-range
 * (serve whole file, 200) -- also an invalid header (garbage, another unit, last < first),
 * which RFC 9110 says to ignore; -1: unsatisfiable (416 with Content-Range: bytes * /size):
 * first byte at or past the end, a zero-length suffix, or any range of an empty file.
 * The unit is case-insensitive; spaces and tabs around the value and around list elements
 * are allowed; numbers too large for 64 bits saturate. *start and *end are set only on 0. */
int http_range_parse(const char *header, uint64_t size, uint64_t *start, uint64_t *end);

#endif
