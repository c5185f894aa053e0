/*
 * Thumbnails of uploaded images with libvips: shrink-on-load where the format allows it,
 * one vips thread, no operation cache, only the PNG, JPEG, GIF and WebP loaders enabled, and
 * a pixel limit checked on the header before anything is decoded. Blocking; run it on a
 * worker thread, never on the event loop.
 */
#ifndef HERALD_MEDIA_THUMB_H
#define HERALD_MEDIA_THUMB_H

#include <stddef.h>

/* Declared pixel count (width * height) above which an image is refused undecoded. */
#define MEDIA_MAX_PIXELS (50u * 1000u * 1000u)
/* The lower limit for images that libvips can only decode whole into memory (about 4 to 6
 * bytes a pixel): GIF, WebP, interlaced PNG and progressive JPEG. Other PNG and JPEG images
 * are decoded a few rows at a time, JPEG already shrunk by the decoder. */
#define MEDIA_MAX_WHOLE_PIXELS (16u * 1000u * 1000u)

/* Starts libvips for this process and applies the limits above. Call once at start (main or
 * serve) before any media_thumbnail(); 0 ok, -1 when libvips cannot start. */
int media_thumb_init(void);

/* Shuts libvips down (frees its caches and thread data). Call once at exit after every
 * media_thumbnail() has returned; safe without a successful init. */
void media_thumb_shutdown(void);

/* Writes a thumbnail of src (longest side max_side px, aspect kept, never upscaled) to dst
 * (JPEG, or PNG when the source has alpha -- dst's extension decides: ".png" writes PNG,
 * anything else JPEG, alpha flattened on white). Metadata (EXIF, GPS, ICC) is not copied;
 * EXIF orientation is applied. Blocking: run it off the event loop; any thread. Refuses
 * images whose declared pixel count exceeds MEDIA_MAX_PIXELS (decompression bombs) before
 * decoding (MEDIA_MAX_WHOLE_PIXELS for the formats decoded whole). dst is written as dst + ".tmp"
 * and renamed into place, so it either appears whole or not at all (the temporary file is removed
 * on failure). max_side in 1..4096. 0 ok, -1 with err filled (a short reason, NUL-terminated, never
 * longer than errlen). */
int media_thumbnail(const char *src, const char *dst, int max_side, char *err, size_t errlen);

#endif
