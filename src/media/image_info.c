/*
 * Header parsers for PNG, JPEG, GIF and WebP dimensions. Every read is checked against the
 * buffer's length before it happens; lengths taken from the input are only ever compared
 * with what remains, never added to an offset before that comparison. Nothing is allocated
 * except the bounded read buffer of image_info_read_file().
 */
#include "media/image_info.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/xalloc.h"
#include "media/internal.h"

static uint32_t be16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t le16(const uint8_t *p)
{
    return (uint32_t)p[1] << 8 | p[0];
}

static uint32_t le24(const uint8_t *p)
{
    return (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static int done(struct image_info *out, uint32_t w, uint32_t h, const char *format)
{
    if (w == 0 || h == 0)
        return -1;
    out->width = w;
    out->height = h;
    out->format = format;
    return 0;
}

/* The signature, then IHDR as the first chunk: length 13, type "IHDR", width and height in
 * 1..2^31-1, a bit depth allowed for the colour type. The CRC is not checked. */
static int png_info(const uint8_t *b, size_t len, struct image_info *out, bool *whole)
{
    if (len < 8 + 8 + 13)
        return -1;
    const uint8_t *c = b + 8;
    if (be32(c) != 13 || memcmp(c + 4, "IHDR", 4) != 0)
        return -1;
    uint32_t w = be32(c + 8), h = be32(c + 12);
    unsigned depth = c[16], color = c[17];
    if (w > 0x7FFFFFFFu || h > 0x7FFFFFFFu)
        return -1;
    bool ok;
    switch (color) {
    case 0:
        ok = depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16;
        break;
    case 3:
        ok = depth == 1 || depth == 2 || depth == 4 || depth == 8;
        break;
    case 2:
    case 4:
    case 6:
        ok = depth == 8 || depth == 16;
        break;
    default:
        ok = false;
    }
    if (!ok || c[18] != 0 || c[19] != 0 || c[20] > 1)
        return -1;
    *whole = c[20] == 1; /* Adam7 interlacing */
    return done(out, w, h, "png");
}

/* SOI, then segments up to the first frame header. Fill bytes (extra 0xFF) before a marker
 * are skipped; APPn (EXIF, ICC, ...) and every other segment with a length are stepped over;
 * SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size. Start of scan or
 * end of image before a frame header, a stuffed 0x00 or bytes between segments are corrupt. */
static int jpeg_info(const uint8_t *b, size_t len, struct image_info *out, bool *whole)
{
    size_t pos = 2;
    if (len < 4 || b[0] != 0xFF || b[1] != 0xD8)
        return -1;
    for (;;) {
        if (pos >= len || b[pos] != 0xFF)
            return -1;
        while (pos < len && b[pos] == 0xFF)
            pos++;
        if (pos >= len)
            return -1;
        uint8_t m = b[pos++];
        if (m == 0x00 || m == 0xD8 || m == 0xD9 || m == 0xDA)
            return -1;
        if (m == 0x01 || (m >= 0xD0 && m <= 0xD7))
            continue; /* TEM, RSTn: no length */
        if (len - pos < 2)
            return -1;
        uint32_t seglen = be16(b + pos);
        if (seglen < 2)
            return -1;
        bool sof = m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
        if (sof) {
            /* length, precision, height, width, component count, 3 bytes per component */
            if (seglen < 8 || len - pos < 8)
                return -1;
            unsigned ncomp = b[pos + 7];
            if (b[pos + 2] == 0 || ncomp == 0 || seglen < 8 + 3 * ncomp)
                return -1;
            *whole = (m & 3) == 2; /* progressive: C2, C6, CA, CE */
            return done(out, be16(b + pos + 5), be16(b + pos + 3), "jpeg");
        }
        if (seglen > len - pos)
            return -1;
        pos += seglen;
    }
}

/* Steps over GIF data sub-blocks starting at *pos; false when the buffer ends first. */
static bool gif_skip_blocks(const uint8_t *b, size_t len, size_t *pos)
{
    while (*pos < len) {
        size_t n = b[(*pos)++];
        if (n == 0)
            return true;
        if (n > len - *pos)
            return false;
        *pos += n;
    }
    return false;
}

/* The logical screen, grown to cover the first image descriptor when it lies within the
 * buffer (a frame may extend past the screen, and decoders differ on what they do then). */
static int gif_info(const uint8_t *b, size_t len, struct image_info *out, bool *whole)
{
    if (len < 13)
        return -1;
    uint32_t w = le16(b + 6), h = le16(b + 8);
    size_t pos = 13;
    *whole = true;
    if (b[10] & 0x80) {
        size_t table = (size_t)3 << ((b[10] & 7) + 1);
        if (table > len - pos)
            return done(out, w, h, "gif");
        pos += table;
    }
    while (pos < len) {
        uint8_t kind = b[pos++];
        if (kind == 0x21) { /* extension: label, then sub-blocks */
            if (pos >= len)
                break;
            pos++;
            if (!gif_skip_blocks(b, len, &pos))
                break;
        } else if (kind == 0x2C) { /* image descriptor */
            if (len - pos < 9)
                break;
            uint32_t right = le16(b + pos) + le16(b + pos + 4);
            uint32_t bottom = le16(b + pos + 2) + le16(b + pos + 6);
            if (right > w)
                w = right;
            if (bottom > h)
                h = bottom;
            break;
        } else {
            break; /* trailer or corrupt: the screen is what the header declares */
        }
    }
    return done(out, w, h, "gif");
}

/* RIFF "WEBP" with a first chunk VP8 (lossy key frame), VP8L (lossless) or VP8X (extended,
 * canvas size). */
static int webp_info(const uint8_t *b, size_t len, struct image_info *out, bool *whole)
{
    if (len < 20 || memcmp(b, "RIFF", 4) != 0 || memcmp(b + 8, "WEBP", 4) != 0)
        return -1;
    uint32_t riff = le32(b + 4), csize = le32(b + 16);
    const uint8_t *d = b + 20;
    size_t avail = len - 20;
    *whole = true; /* libvips decodes every WebP into a full frame */
    if (riff < 4 + 8 || csize > riff - 4 - 8)
        return -1;
    if (memcmp(b + 12, "VP8 ", 4) == 0) {
        if (csize < 10 || avail < 10)
            return -1;
        if ((d[0] & 1) != 0 || d[3] != 0x9D || d[4] != 0x01 || d[5] != 0x2A)
            return -1; /* not a key frame, or no start code */
        return done(out, le16(d + 6) & 0x3FFF, le16(d + 8) & 0x3FFF, "webp");
    }
    if (memcmp(b + 12, "VP8L", 4) == 0) {
        if (csize < 5 || avail < 5 || d[0] != 0x2F)
            return -1;
        uint32_t bits = le32(d + 1);
        if ((bits >> 29) != 0) /* version */
            return -1;
        return done(out, (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, "webp");
    }
    if (memcmp(b + 12, "VP8X", 4) == 0) {
        if (csize < 10 || avail < 10)
            return -1;
        uint32_t w = le24(d + 4) + 1, h = le24(d + 7) + 1;
        if ((uint64_t)w * h > 0xFFFFFFFFu) /* the format's own limit */
            return -1;
        return done(out, w, h, "webp");
    }
    return -1;
}

int media__probe(const uint8_t *buf, size_t len, struct image_info *out, bool *whole)
{
    if (buf == NULL || out == NULL || whole == NULL)
        return -1;
    struct image_info tmp;
    bool w = false;
    int rc = -1;
    if (len >= 8 && memcmp(buf, "\x89PNG\r\n\x1A\n", 8) == 0)
        rc = png_info(buf, len, &tmp, &w);
    else if (len >= 3 && buf[0] == 0xFF && buf[1] == 0xD8 && buf[2] == 0xFF)
        rc = jpeg_info(buf, len, &tmp, &w);
    else if (len >= 6 && (memcmp(buf, "GIF87a", 6) == 0 || memcmp(buf, "GIF89a", 6) == 0))
        rc = gif_info(buf, len, &tmp, &w);
    else if (len >= 12 && memcmp(buf, "RIFF", 4) == 0 && memcmp(buf + 8, "WEBP", 4) == 0)
        rc = webp_info(buf, len, &tmp, &w);
    if (rc == 0) {
        *out = tmp;
        *whole = w;
    }
    return rc;
}

int image_info_read(const uint8_t *buf, size_t len, struct image_info *out)
{
    bool whole;
    return media__probe(buf, len, out, &whole);
}

/* Fills buf[*have..want) from fd; false on a read error. *have < want afterwards means EOF. */
static bool read_upto(int fd, uint8_t *buf, size_t *have, size_t want)
{
    while (*have < want) {
        ssize_t n = read(fd, buf + *have, want - *have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return false;
        if (n == 0)
            break;
        *have += (size_t)n;
    }
    return true;
}

int media__probe_file(const char *path, struct image_info *out, bool *whole)
{
    if (path == NULL || out == NULL || whole == NULL)
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    /* Most headers fit in the first 64 KiB; a JPEG with large APPn segments may need more. */
    size_t have = 0, want = 64 * 1024;
    uint8_t *buf = xmalloc(want);
    int rc = -1;
    for (;;) {
        if (!read_upto(fd, buf, &have, want))
            break;
        rc = media__probe(buf, have, out, whole);
        if (rc == 0 || have < want || want == IMAGE_INFO_READ_MAX)
            break;
        want = IMAGE_INFO_READ_MAX;
        buf = xrealloc(buf, want);
    }
    free(buf);
    close(fd);
    return rc;
}

int image_info_read_file(const char *path, struct image_info *out)
{
    bool whole;
    return media__probe_file(path, out, &whole);
}
