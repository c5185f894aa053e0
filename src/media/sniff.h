/*
 * Content sniffing for uploads: identifies a file's type from its first bytes (magic numbers,
 * container headers, strict UTF-8 for text), never from a client-supplied name or
 * Content-Type. Only passive types are known: SVG, HTML and XML are active content and never
 * match (text that starts with markup is not text/plain). Pure functions, any thread.
 */
#ifndef HERALD_MEDIA_SNIFF_H
#define HERALD_MEDIA_SNIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How many leading bytes callers pass to media_sniff() (fewer for a shorter file). */
#define MEDIA_SNIFF_LEN 4096

/* A known type; static storage, never freed. ext is the canonical extension without the dot;
 * image is true only for png, jpeg, gif and webp (the types thumbnails are made of). */
struct media_type {
    const char *mime;
    const char *ext;
    bool image;
};

/* Identifies content from its first bytes (callers pass up to the first 4 KiB; len may be
 * smaller for small files). NULL when the bytes match no known type. Never trusts names.
 * Binary signatures win over text: a JPEG that also holds HTML is image/jpeg (it is served
 * as image/jpeg with X-Content-Type-Options: nosniff, so browsers never render it as HTML). */
const struct media_type *media_sniff(const uint8_t *buf, size_t len);

/* Looks up a known type by its mime, case-insensitively (for the HERALD_UPLOAD_TYPES
 * allow-list); NULL if unknown. */
const struct media_type *media_type_by_mime(const char *mime);

#endif
