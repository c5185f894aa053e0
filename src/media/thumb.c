/*
 * The thumbnailer: libvips behind two guards. Before libvips sees a file, image_info reads
 * its declared size from the header and refuses more than MEDIA_MAX_PIXELS; then libvips's
 * own header read (lazy, no pixels) must agree that it is within the limit, so a parser
 * disagreement cannot slip a bomb through. libvips runs with one worker thread and no
 * operation cache so that its memory stays bounded per call, and only the four image loaders
 * Herald accepts are enabled. The output is written beside dst and renamed into place.
 */
#include "media/thumb.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <vips/vips.h>

#include "core/log.h"
#include "media/image_info.h"

#define THUMB_MAX_SIDE 4096
#define THUMB_JPEG_Q 80

static bool g_inited;
static guint g_log_handler;

/* libvips's warnings (corrupt input, mostly) go to Herald's log at debug level instead of
 * raw stderr; they are about a client's file, not about the server. */
static void on_vips_log(const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer ud)
{
    (void)domain;
    (void)level;
    (void)ud;
    log_debug("media", "libvips: %s", msg);
}

int media_thumb_init(void)
{
    static const char *const loaders[] = {"VipsForeignLoadPng", "VipsForeignLoadJpeg",
                                          "VipsForeignLoadNsgif", "VipsForeignLoadWebp"};
    if (g_inited)
        return 0;
    if (vips_init("herald") != 0) {
        log_error("media", "cannot start libvips: %s", vips_error_buffer());
        vips_error_clear();
        return -1;
    }
    vips_concurrency_set(1);
    vips_cache_set_max(0);
    vips_cache_set_max_mem(0);
    vips_cache_set_max_files(0);
    vips_block_untrusted_set(TRUE);
    vips_operation_block_set("VipsForeignLoad", TRUE);
    for (size_t i = 0; i < sizeof(loaders) / sizeof(loaders[0]); i++)
        vips_operation_block_set(loaders[i], FALSE);
    g_log_handler = g_log_set_handler(
        "VIPS", G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG,
        on_vips_log, NULL);
    g_inited = true;
    return 0;
}

void media_thumb_shutdown(void)
{
    if (!g_inited)
        return;
    g_log_remove_handler("VIPS", g_log_handler);
    vips_shutdown();
    g_inited = false;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Fails with libvips's first error line (and clears its error buffer). */
static int fail_vips(char *err, size_t errlen, const char *what)
{
    char *msg = vips_error_buffer_copy();
    size_t n = strcspn(msg, "\n");
    int rc = fail(err, errlen, "%s: %.*s", what, (int)(n > 200 ? 200 : n), msg);
    g_free(msg);
    return rc;
}

static bool ends_with_png(const char *path)
{
    size_t n = strlen(path);
    return n >= 4 && strcasecmp(path + n - 4, ".png") == 0;
}

/* libvips's own reading of the header (no pixels decoded) within the limit too. */
static int check_vips_header(const char *src, char *err, size_t errlen)
{
    VipsImage *hdr = vips_image_new_from_file(src, "access", VIPS_ACCESS_SEQUENTIAL, "fail_on",
                                              VIPS_FAIL_ON_ERROR, NULL);
    if (hdr == NULL)
        return fail_vips(err, errlen, "cannot read image");
    uint64_t px = (uint64_t)vips_image_get_width(hdr) * (uint64_t)vips_image_get_height(hdr);
    g_object_unref(hdr);
    if (px == 0 || px > MEDIA_MAX_PIXELS)
        return fail(err, errlen, "image too large: %llu pixels (limit %u)", (unsigned long long)px,
                    MEDIA_MAX_PIXELS);
    return 0;
}

/* Makes the thumbnail and saves it to tmp. */
static int thumb_save(const char *src, const char *tmp, int max_side, bool png, char *err,
                      size_t errlen)
{
    VipsImage *t[3] = {NULL, NULL, NULL};
    int rc = -1;
    if (vips_thumbnail(src, &t[0], max_side, "height", max_side, "size", VIPS_SIZE_DOWN, "fail_on",
                       VIPS_FAIL_ON_ERROR, NULL) != 0) {
        rc = fail_vips(err, errlen, "cannot make thumbnail");
        goto out;
    }
    VipsImage *img = t[0];
    /* 16-bit and float sources to 8-bit sRGB (or grey): thumbnails need no more. */
    if (vips_image_get_format(img) != VIPS_FORMAT_UCHAR) {
        VipsInterpretation to =
            vips_image_get_bands(img) >= 3 ? VIPS_INTERPRETATION_sRGB : VIPS_INTERPRETATION_B_W;
        if (vips_colourspace(img, &t[1], to, NULL) != 0) {
            rc = fail_vips(err, errlen, "cannot convert thumbnail");
            goto out;
        }
        img = t[1];
    }
    if (!png && vips_image_hasalpha(img)) {
        VipsArrayDouble *white = vips_array_double_newv(1, 255.0);
        int frc = vips_flatten(img, &t[2], "background", white, NULL);
        vips_area_unref(VIPS_AREA(white));
        if (frc != 0) {
            rc = fail_vips(err, errlen, "cannot flatten thumbnail");
            goto out;
        }
        img = t[2];
    }
    int src_rc = png ? vips_pngsave(img, tmp, "strip", TRUE, "compression", 6, NULL)
                     : vips_jpegsave(img, tmp, "strip", TRUE, "Q", THUMB_JPEG_Q, NULL);
    if (src_rc != 0) {
        rc = fail_vips(err, errlen, "cannot write thumbnail");
        goto out;
    }
    rc = 0;
out:
    for (int i = 2; i >= 0; i--)
        if (t[i] != NULL)
            g_object_unref(t[i]);
    return rc;
}

int media_thumbnail(const char *src, const char *dst, int max_side, char *err, size_t errlen)
{
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (src == NULL || dst == NULL || max_side < 1 || max_side > THUMB_MAX_SIDE)
        return fail(err, errlen, "bad thumbnail arguments");
    if (!g_inited)
        return fail(err, errlen, "libvips is not started");
    struct image_info ii;
    if (image_info_read_file(src, &ii) != 0)
        return fail(err, errlen, "not a png, jpeg, gif or webp image");
    if ((uint64_t)ii.width * ii.height > MEDIA_MAX_PIXELS)
        return fail(err, errlen, "image too large: %ux%u pixels (limit %u)", ii.width, ii.height,
                    MEDIA_MAX_PIXELS);
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", dst) >= sizeof(tmp))
        return fail(err, errlen, "thumbnail path too long");

    int rc = check_vips_header(src, err, errlen);
    if (rc == 0)
        rc = thumb_save(src, tmp, max_side, ends_with_png(dst), err, errlen);
    if (rc == 0 && rename(tmp, dst) != 0)
        rc = fail(err, errlen, "cannot rename thumbnail: %s", strerror(errno));
    if (rc != 0)
        unlink(tmp);
    vips_thread_shutdown(); /* this thread's libvips buffers */
    return rc;
}
