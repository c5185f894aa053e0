/*
 * The thumbnailer: libvips behind two guards. Before libvips sees a file, the header probe
 * reads its declared size and refuses more than MEDIA_MAX_PIXELS (MEDIA_MAX_WHOLE_PIXELS for
 * the formats libvips decodes whole); then libvips's own header read (lazy, no pixels) must
 * agree, so a parser disagreement cannot slip a bomb through. libvips runs with one worker
 * thread and no operation cache so that its memory stays bounded per call, and only the four
 * image loaders Herald accepts are enabled. JPEG and WebP are decoded already shrunk
 * (vips_thumbnail); PNG and GIF are read sequentially and resized, which holds far less of a
 * large image than vips_thumbnail's pipeline does for them. The output is written beside dst
 * and renamed into place.
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
#include "media/internal.h"

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

/* Opens src lazily (header only, no pixels) and checks that libvips's reading of its size is
 * within limit too. *out is a new reference on success. */
static int open_checked(const char *src, uint64_t limit, VipsImage **out, char *err, size_t errlen)
{
    VipsImage *in = vips_image_new_from_file(src, "access", VIPS_ACCESS_SEQUENTIAL, "fail_on",
                                             VIPS_FAIL_ON_ERROR, NULL);
    if (in == NULL)
        return fail_vips(err, errlen, "cannot read image");
    uint64_t px = (uint64_t)vips_image_get_width(in) * (uint64_t)vips_image_get_height(in);
    if (px == 0 || px > limit) {
        g_object_unref(in);
        return fail(err, errlen, "image too large: %llu pixels (limit %llu)",
                    (unsigned long long)px, (unsigned long long)limit);
    }
    *out = in;
    return 0;
}

/* Resizes in so that its longest side is at most max_side (never up), alpha premultiplied
 * while resampling (so transparent pixels' colour does not bleed into the edges). */
static int shrink(VipsImage *in, int max_side, VipsImage **out, char *err, size_t errlen)
{
    int w = vips_image_get_width(in), h = vips_image_get_height(in);
    int longest = w > h ? w : h;
    if (longest <= max_side) {
        g_object_ref(in);
        *out = in;
        return 0;
    }
    int tw = (int)((double)w * max_side / longest + 0.5),
        th = (int)((double)h * max_side / longest + 0.5);
    tw = tw < 1 ? 1 : tw;
    th = th < 1 ? 1 : th;
    double hs = (double)tw / w, vs = (double)th / h;
    VipsImage *t[3] = {NULL, NULL, NULL};
    int rc;
    if (vips_image_hasalpha(in)) {
        rc = vips_premultiply(in, &t[0], NULL) ||
             vips_resize(t[0], &t[1], hs, "vscale", vs, NULL) ||
             vips_unpremultiply(t[1], &t[2], NULL) ||
             vips_cast(t[2], out, vips_image_get_format(in), NULL);
    } else {
        rc = vips_resize(in, out, hs, "vscale", vs, NULL);
    }
    for (int i = 2; i >= 0; i--)
        if (t[i] != NULL)
            g_object_unref(t[i]);
    return rc != 0 ? fail_vips(err, errlen, "cannot resize image") : 0;
}

/* Makes the thumbnail and saves it to tmp. JPEG and WebP go through vips_thumbnail, which
 * decodes them already shrunk (and applies the EXIF orientation); PNG and GIF are read
 * sequentially and resized. */
static int thumb_save(const char *src, const struct image_info *ii, uint64_t limit, const char *tmp,
                      int max_side, bool png, char *err, size_t errlen)
{
    VipsImage *t[4] = {NULL, NULL, NULL, NULL};
    VipsImage *img;
    int rc = -1;
    if (open_checked(src, limit, &t[0], err, errlen) != 0)
        goto out;
    if (strcmp(ii->format, "jpeg") == 0 || strcmp(ii->format, "webp") == 0) {
        if (vips_thumbnail(src, &t[1], max_side, "height", max_side, "size", VIPS_SIZE_DOWN,
                           "fail_on", VIPS_FAIL_ON_ERROR, NULL) != 0) {
            rc = fail_vips(err, errlen, "cannot make thumbnail");
            goto out;
        }
    } else if (shrink(t[0], max_side, &t[1], err, errlen) != 0) {
        goto out;
    }
    img = t[1];
    /* 16-bit and float sources to 8-bit sRGB (or grey): thumbnails need no more. */
    if (vips_image_get_format(img) != VIPS_FORMAT_UCHAR) {
        VipsInterpretation to =
            vips_image_get_bands(img) >= 3 ? VIPS_INTERPRETATION_sRGB : VIPS_INTERPRETATION_B_W;
        if (vips_colourspace(img, &t[2], to, NULL) != 0) {
            rc = fail_vips(err, errlen, "cannot convert thumbnail");
            goto out;
        }
        img = t[2];
    }
    if (!png && vips_image_hasalpha(img)) {
        VipsArrayDouble *white = vips_array_double_newv(1, 255.0);
        int frc = vips_flatten(img, &t[3], "background", white, NULL);
        vips_area_unref(VIPS_AREA(white));
        if (frc != 0) {
            rc = fail_vips(err, errlen, "cannot flatten thumbnail");
            goto out;
        }
        img = t[3];
    }
    int save_rc = png ? vips_pngsave(img, tmp, "strip", TRUE, "compression", 6, NULL)
                      : vips_jpegsave(img, tmp, "strip", TRUE, "Q", THUMB_JPEG_Q, NULL);
    if (save_rc != 0) {
        rc = fail_vips(err, errlen, "cannot write thumbnail");
        goto out;
    }
    rc = 0;
out:
    for (int i = 3; i >= 0; i--)
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
    bool whole = false;
    if (media__probe_file(src, &ii, &whole) != 0)
        return fail(err, errlen, "not a png, jpeg, gif or webp image");
    uint64_t limit = whole ? MEDIA_MAX_WHOLE_PIXELS : MEDIA_MAX_PIXELS;
    if ((uint64_t)ii.width * ii.height > limit)
        return fail(err, errlen, "image too large: %ux%u pixels (limit %llu for this %s)", ii.width,
                    ii.height, (unsigned long long)limit, ii.format);
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", dst) >= sizeof(tmp))
        return fail(err, errlen, "thumbnail path too long");

    int rc = thumb_save(src, &ii, limit, tmp, max_side, ends_with_png(dst), err, errlen);
    if (rc == 0 && rename(tmp, dst) != 0)
        rc = fail(err, errlen, "cannot rename thumbnail: %s", strerror(errno));
    if (rc != 0)
        unlink(tmp);
    vips_thread_shutdown(); /* this thread's libvips buffers */
    return rc;
}
