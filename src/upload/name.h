/*
 * File names of uploads: the original name a client sent, made safe to keep and to offer
 * back (no path, no control or bidi-override characters, valid UTF-8, at most 255 bytes),
 * the extension a stored file gets (from its sniffed type), and the percent-encoding of a
 * name for Content-Disposition's filename*. Pure functions, any thread.
 */
#ifndef HERALD_UPLOAD_NAME_H
#define HERALD_UPLOAD_NAME_H

#include <stddef.h>

#define UPLOAD_NAME_MAX 255 /* bytes of a kept original name */

/*
 * Writes a safe form of the n bytes at in to out (UPLOAD_NAME_MAX + 1 bytes): the part after
 * the last '/' or '\', without bytes that are not UTF-8, C0/C1 controls (CR, LF, NUL...),
 * DEL and the bidirectional controls (U+200E/F, U+061C, U+202A-202E, U+2066-2069), without
 * leading dots and blanks or trailing blanks and dots, cut to 255 bytes on a character
 * boundary. An empty result becomes "file". in may be NULL (n 0).
 */
void upload_name_sanitize(const char *in, size_t n, char *out);

/*
 * The extension a stored file gets: the name's own (lowercased) when it is a spelling of the
 * sniffed type's (jpg/jpeg), else the sniffed one. Writes at most 15 characters to out (16
 * bytes); ext is the sniffed type's, without the dot.
 */
void upload_name_ext(const char *name, const char *ext, char *out);

/* Appends the RFC 8187 percent-encoding of s (all but unreserved characters) to out, which
 * has room for outlen bytes (3 * strlen(s) + 1 always suffices); returns the length or -1. */
int upload_name_pct(const char *s, char *out, size_t outlen);

/*
 * The plain filename= fallback of s (RFC 6266 §4.3) into out (outlen bytes; strlen(s) + 1
 * suffices): printable ASCII kept, but '"', '\\' and every other byte (a UTF-8 sequence
 * turns into one '_') replaced by '_'. Returns the length, or -1 when it does not fit.
 */
int upload_name_ascii(const char *s, char *out, size_t outlen);

#endif
