/*
 * Image dimensions from header bytes, without decoding: the bounded parsers that let the
 * thumbnailer refuse decompression bombs before any pixel is allocated. Pure functions over
 * untrusted bytes (fuzzed by fuzz/fuzz_media.c), any thread.
 */
#ifndef HERALD_MEDIA_IMAGE_INFO_H
#define HERALD_MEDIA_IMAGE_INFO_H

#include <stddef.h>
#include <stdint.h>

/* At most this many leading bytes of a file are read by image_info_read_file(). */
#define IMAGE_INFO_READ_MAX (1024u * 1024u)

/* format is static storage: "png", "jpeg", "gif" or "webp". */
struct image_info {
    uint32_t width, height;
    const char *format;
};

/* Reads dimensions from the header bytes of a PNG, JPEG (scans segments to SOFn), GIF or WebP
 * (VP8, VP8L, VP8X). 0 on success (both dimensions > 0), -1 when not an image or
 * truncated/corrupt; *out is untouched on failure. */
int image_info_read(const uint8_t *buf, size_t len, struct image_info *out);

/* Same on a file: reads as much of its start as needed (bounded, at most IMAGE_INFO_READ_MAX
 * bytes). -1 also when the file cannot be read. Blocking: not on the event loop. */
int image_info_read_file(const char *path, struct image_info *out);

#endif
