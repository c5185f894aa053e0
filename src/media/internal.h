/*
 * Shared inside src/media only: the image header probe with the one fact the thumbnailer
 * needs beyond the public struct image_info -- whether libvips must hold the whole decoded
 * frame in memory (GIF, WebP, interlaced PNG, progressive JPEG) or can stream it row by row
 * (other PNG and JPEG).
 */
#ifndef HERALD_MEDIA_INTERNAL_H
#define HERALD_MEDIA_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/image_info.h"

/* image_info_read() that also sets *whole; *out and *whole untouched on failure. */
int media__probe(const uint8_t *buf, size_t len, struct image_info *out, bool *whole);

/* image_info_read_file() that also sets *whole. */
int media__probe_file(const char *path, struct image_info *out, bool *whole);

#endif
