/*
 * libFuzzer target for the media parsers of untrusted bytes (src/media): each input is
 * sniffed (whole and as its first MEDIA_SNIFF_LEN bytes), read as an image header, and parsed
 * as a Range header against several file sizes. Checked: nothing crashes, reads out of
 * bounds or leaks; a sniffed type is the table's own entry (media_type_by_mime gives it back)
 * and only png, jpeg, gif and webp are images; an image header that parses has both
 * dimensions > 0, a known format, agrees with the sniffer and the thumbnailer's probe and
 * leaves *out untouched when it fails; a satisfiable range lies within the file, and an empty file
 * is never satisfiable.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media/image_info.h"
#include "media/internal.h"
#include "media/range.h"
#include "media/sniff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_sniff(const uint8_t *data, size_t size)
{
    const struct media_type *t = media_sniff(data, size);
    if (t == NULL)
        return;
    if (media_type_by_mime(t->mime) != t || t->ext == NULL || t->ext[0] == '\0')
        __builtin_trap();
    bool image = strncmp(t->mime, "image/", 6) == 0;
    if (image != t->image)
        __builtin_trap();
}

static const char *image_mime(const char *format)
{
    if (strcmp(format, "png") == 0)
        return "image/png";
    if (strcmp(format, "jpeg") == 0)
        return "image/jpeg";
    if (strcmp(format, "gif") == 0)
        return "image/gif";
    if (strcmp(format, "webp") == 0)
        return "image/webp";
    __builtin_trap();
}

static void check_image_info(const uint8_t *data, size_t size)
{
    struct image_info ii = {7, 7, "untouched"};
    int rc = image_info_read(data, size, &ii);
    if (rc != 0) {
        if (rc != -1 || ii.width != 7 || ii.height != 7 || strcmp(ii.format, "untouched") != 0)
            __builtin_trap();
        return;
    }
    if (ii.width == 0 || ii.height == 0)
        __builtin_trap();
    /* the probe agrees, and GIF and WebP are always decoded whole */
    struct image_info pi;
    bool whole = false;
    if (media__probe(data, size, &pi, &whole) != 0 || pi.width != ii.width ||
        pi.height != ii.height || pi.format != ii.format)
        __builtin_trap();
    if (!whole && (strcmp(ii.format, "gif") == 0 || strcmp(ii.format, "webp") == 0))
        __builtin_trap();
    const struct media_type *t = media_sniff(data, size);
    if (t == NULL || strcmp(t->mime, image_mime(ii.format)) != 0 || !t->image)
        __builtin_trap();
}

static void check_range(const char *h, uint64_t size)
{
    uint64_t start = 0, end = 0;
    int rc = http_range_parse(h, size, &start, &end);
    if (rc < -1 || rc > 1)
        __builtin_trap();
    if (rc == 0 && (size == 0 || start > end || end >= size))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_sniff(data, size);
    if (size > MEDIA_SNIFF_LEN)
        check_sniff(data, MEDIA_SNIFF_LEN);
    check_image_info(data, size);

    if (size <= 4096) {
        char *h = malloc(size + 1);
        memcpy(h, data, size);
        h[size] = '\0';
        uint64_t sizes[] = {0, 1, 100, 1000000, UINT64_MAX};
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
            check_range(h, sizes[i]);
        free(h);
    }
    return 0;
}
