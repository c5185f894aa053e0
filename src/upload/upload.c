/*
 * The uploads module (see upload.h): its settings, routes, the thumbnail worker and the
 * absolute URLs of media paths.
 */
#include "upload/upload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/ratelimit.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/fs.h"
#include "core/workpool.h"
#include "core/xalloc.h"
#include "media/sniff.h"
#include "net/http.h"
#include "router/router.h"
#include "upload/internal.h"

#define RATE_TABLE_MAX 100000 /* users tracked at once (least recently seen evicted) */

/* Parses the comma list of mimes into types; -1 with err naming the first unknown one. */
static int types_parse(const char *list, const struct media_type **types, int *ntypes, char *err,
                       size_t errlen)
{
    *ntypes = 0;
    const char *p = list ? list : UPLOAD_TYPES_DEFAULT;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *s = p;
        while (*p && *p != ',')
            p++;
        const char *e = p;
        while (e > s && e[-1] == ' ')
            e--;
        if (e == s)
            continue;
        char mime[96];
        if ((size_t)(e - s) >= sizeof(mime)) {
            snprintf(err, errlen, "HERALD_UPLOAD_TYPES: type too long");
            return -1;
        }
        memcpy(mime, s, (size_t)(e - s));
        mime[e - s] = '\0';
        const struct media_type *t = media_type_by_mime(mime);
        if (t == NULL) {
            snprintf(err, errlen,
                     "HERALD_UPLOAD_TYPES: unknown type \"%s\" (known: " UPLOAD_TYPES_DEFAULT ")",
                     mime);
            return -1;
        }
        if (*ntypes == UPLOAD_MAX_TYPES) {
            snprintf(err, errlen, "HERALD_UPLOAD_TYPES: at most %d types", UPLOAD_MAX_TYPES);
            return -1;
        }
        types[(*ntypes)++] = t;
    }
    if (*ntypes == 0) {
        snprintf(err, errlen, "HERALD_UPLOAD_TYPES: no type listed");
        return -1;
    }
    return 0;
}

int upload_settings_check(const struct config *cfg, char *err, size_t errlen)
{
    const struct media_type *types[UPLOAD_MAX_TYPES];
    int n;
    return types_parse(cfg->upload_types, types, &n, err, errlen);
}

struct upload *upload_new(const struct config *cfg, struct identity *id, char *err, size_t errlen)
{
    struct upload *u = xcalloc(1, sizeof(*u));
    u->cfg = cfg;
    u->id = id;
    if (types_parse(cfg->upload_types, u->types, &u->ntypes, err, errlen) != 0) {
        free(u);
        return NULL;
    }
    struct buf b = BUF_INIT;
    buf_printf(&b, "%s/media", cfg->data_dir);
    u->media_dir = buf_detach(&b, NULL);
    /* the media folder exists from the first start (SPEC §1), before any upload */
    if (fs_make_dirs(u->media_dir, 0750) != 0) {
        snprintf(err, errlen, "cannot create the media folder %s: %s", u->media_dir,
                 strerror(errno));
        free(u->media_dir);
        free(u);
        return NULL;
    }
    u->thumbs = workpool_new(1, 64);
    u->disk = workpool_new_idle(UPLOAD_DISK_WRITERS, UPLOAD_DISK_QUEUE);
    if (u->thumbs == NULL || u->disk == NULL) {
        snprintf(err, errlen, "uploads: cannot start the thumbnail and disk workers");
        workpool_free(u->thumbs);
        workpool_free(u->disk);
        free(u->media_dir);
        free(u);
        return NULL;
    }
    uv_mutex_init(&u->rate_mu);
    if (cfg->upload_rate > 0)
        u->rate = ratelimit_table_new(RATE_TABLE_MAX, cfg->upload_rate, cfg->upload_rate / 60.0);
    return u;
}

void upload_register(struct upload *u, struct router *r)
{
    router_add_stream(r, HTTP_M_POST, "/api/v1/uploads", upload__post, u);
    router_add(r, HTTP_M_GET, "/media/*", upload__media_get, u);
}

void upload_stop(struct upload *u)
{
    if (u != NULL) {
        workpool_stop(u->thumbs, true);
        workpool_stop(u->disk, true);
    }
}

void upload_free(struct upload *u)
{
    if (u == NULL)
        return;
    workpool_free(u->thumbs);
    workpool_free(u->disk);
    ratelimit_table_free(u->rate);
    uv_mutex_destroy(&u->rate_mu);
    free(u->media_dir);
    free(u);
}
