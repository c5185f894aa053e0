/*
 * GET/HEAD /media/... (docs/uploads.md, "Serving"): the files under DATA_DIR/media, to anyone
 * holding the URL. The path is checked before anything is opened: percent-decoded once, then
 * only letters, digits, '.', '_', '-' and '/' between segments that neither are empty nor
 * start with a dot (so no "..", no hidden temp file, no backslash, NUL or absolute path).
 * The file is then opened from the media folder one segment at a time with O_NOFOLLOW
 * (openat), so a symbolic link planted anywhere below cannot lead outside, and only a
 * regular file is served (a folder is a 404: no listing). Its uploads row gives the type and
 * the original name; the type is never text/html or image/svg+xml, only images are inline,
 * everything else is an attachment. The body is streamed in 64 KiB reads, never held whole,
 * with one Range (206/416), ETag and If-None-Match.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/xalloc.h"
#include "identity/identity.h"
#include "kit/job.h"
#include "kit/media_url.h"
#include "media/range.h"
#include "net/http.h"
#include "router/request.h"
#include "store/sql.h"
#include "store/store.h"
#include "upload/internal.h"
#include "upload/name.h"

#define CHUNK (64 * 1024)
#define BACKLOG_HIGH (256 * 1024) /* queued response bytes before reading waits */
#define REL_MAX MEDIA_REL_MAX

/* One download; loop thread. */
struct dl {
    struct upload *u;
    struct http_req *req;
    char rel[REL_MAX + 1];
    char name[UPLOAD_NAME_MAX + 1]; /* from the row; "" without one */
    char mime[128];                 /* from the row; "" without one */
    bool thumb;                     /* the path is a row's thumbnail */
    int fd;
    int open_errno;
    uint64_t size, mtime_ns;
    uint64_t off, left;
    uv_work_t work;
    uv_fs_t fs;
    char *buf;
};

static void dl_free(struct dl *d)
{
    free(d->buf);
    free(d);
}

static void not_found(struct http_req *req)
{
    http_respond_error(req, 404, "not_found", "no such file", NULL);
}

/* ---- thread pool: open below the media folder, never through a link */

static void open_work(uv_work_t *w)
{
    struct dl *d = w->data;
    d->fd = -1;
    int dfd = open(d->u->media_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        d->open_errno = errno;
        return;
    }
    char path[REL_MAX + 1];
    memcpy(path, d->rel, sizeof(path));
    char *seg = path;
    for (char *slash; (slash = strchr(seg, '/')) != NULL; seg = slash + 1) {
        *slash = '\0';
        int nfd = openat(dfd, seg, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        close(dfd);
        if (nfd < 0) {
            d->open_errno = errno;
            return;
        }
        dfd = nfd;
    }
    int fd = openat(dfd, seg, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    d->open_errno = errno;
    close(dfd);
    if (fd < 0)
        return;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        d->open_errno = EISDIR;
        return;
    }
    d->fd = fd;
    d->size = (uint64_t)st.st_size;
    d->mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000ull + (uint64_t)st.st_mtim.tv_nsec;
}

/* ---- streaming the body */

static void read_next(struct dl *d);

static void closed(uv_fs_t *r)
{
    struct dl *d = r->data;
    uv_fs_req_cleanup(r);
    http_res_end(d->req);
    dl_free(d);
}

static void finish(struct dl *d)
{
    d->fs.data = d;
    if (uv_fs_close(http_req_uv_loop(d->req), &d->fs, d->fd, closed) != 0) {
        http_res_end(d->req);
        dl_free(d);
    }
}

static void drained(struct http_req *req, void *ud)
{
    (void)req;
    read_next(ud);
}

static void on_read(uv_fs_t *r)
{
    struct dl *d = r->data;
    ssize_t n = r->result;
    uv_fs_req_cleanup(r);
    if (n <= 0) {
        finish(d); /* an error or a file cut short: the connection closes (fewer bytes) */
        return;
    }
    if ((uint64_t)n > d->left)
        n = (ssize_t)d->left;
    d->off += (uint64_t)n;
    d->left -= (uint64_t)n;
    size_t backlog = http_res_write(d->req, d->buf, (size_t)n);
    if (backlog > BACKLOG_HIGH)
        http_res_when_drained(d->req, CHUNK, drained, d);
    else
        read_next(d);
}

static void read_next(struct dl *d)
{
    if (d->left == 0 || !http_req_has_client(d->req)) {
        finish(d);
        return;
    }
    size_t want = d->left < CHUNK ? (size_t)d->left : CHUNK;
    uv_buf_t b = uv_buf_init(d->buf, (unsigned)want);
    d->fs.data = d;
    if (uv_fs_read(http_req_uv_loop(d->req), &d->fs, d->fd, &b, 1, (int64_t)d->off, on_read) != 0)
        finish(d);
}

/* ---- the head */

static bool is_inline_image(const char *mime)
{
    return strcmp(mime, "image/png") == 0 || strcmp(mime, "image/jpeg") == 0 ||
           strcmp(mime, "image/gif") == 0 || strcmp(mime, "image/webp") == 0;
}

/* The type to send: the row's (never one a browser would run), else by extension. */
static const char *type_of(const struct dl *d)
{
    const char *dot = strrchr(d->rel, '.');
    const char *ext = dot ? dot + 1 : "";
    if (d->mime[0] != '\0' && !d->thumb) {
        if (is_inline_image(d->mime) || strcmp(d->mime, "application/pdf") == 0 ||
            strcmp(d->mime, "application/zip") == 0 || strncmp(d->mime, "audio/", 6) == 0 ||
            strncmp(d->mime, "video/", 6) == 0)
            return d->mime;
        if (strcmp(d->mime, "text/plain") == 0)
            return "text/plain; charset=utf-8";
        return "application/octet-stream";
    }
    if (strcasecmp(ext, "png") == 0)
        return "image/png";
    if (strcasecmp(ext, "jpg") == 0 || strcasecmp(ext, "jpeg") == 0)
        return "image/jpeg";
    if (strcasecmp(ext, "gif") == 0)
        return "image/gif";
    if (strcasecmp(ext, "webp") == 0)
        return "image/webp";
    return "application/octet-stream";
}

static bool etag_matches(const char *inm, const char *etag)
{
    if (inm == NULL)
        return false;
    if (strcmp(inm, "*") == 0)
        return true;
    const char *p = strstr(inm, etag);
    return p != NULL;
}

static void opened(uv_work_t *w, int status)
{
    (void)status;
    struct dl *d = w->data;
    struct http_req *req = d->req;
    if (d->fd < 0) {
        not_found(req);
        dl_free(d);
        return;
    }
    const char *type = type_of(d);
    char etag[48];
    snprintf(etag, sizeof(etag), "\"%llx-%llx\"", (unsigned long long)d->size,
             (unsigned long long)d->mtime_ns);
    const char *slash = strrchr(d->rel, '/');
    const char *name = d->name[0] ? d->name : (slash ? slash + 1 : d->rel);
    char enc[3 * UPLOAD_NAME_MAX + 1], plain[UPLOAD_NAME_MAX + 1], disp[4 * UPLOAD_NAME_MAX + 80];
    upload_name_pct(name, enc, sizeof(enc));
    if (upload_name_ascii(name, plain, sizeof(plain)) < 0)
        snprintf(plain, sizeof(plain), "download");
    /* the plain name for clients that don't read filename* (RFC 6266 §4.3), then the exact one */
    snprintf(disp, sizeof(disp), "%s; filename=\"%s\"; filename*=UTF-8''%s",
             is_inline_image(type) ? "inline" : "attachment", plain, enc);
    http_res_header(req, "X-Content-Type-Options", "nosniff");
    http_res_header(req, "Content-Disposition", disp);
    http_res_header(req, "Cache-Control", "public, max-age=31536000, immutable");
    http_res_header(req, "ETag", etag);
    http_res_header(req, "Accept-Ranges", "bytes");
    if (etag_matches(http_req_header(req, "If-None-Match"), etag)) {
        close(d->fd);
        http_respond(req, 304, NULL, NULL, 0);
        dl_free(d);
        return;
    }
    uint64_t start = 0, end = d->size ? d->size - 1 : 0;
    int status_code = 200;
    int rc = http_range_parse(http_req_header(req, "Range"), d->size, &start, &end);
    if (rc < 0) {
        char cr[48];
        snprintf(cr, sizeof(cr), "bytes */%llu", (unsigned long long)d->size);
        http_res_header(req, "Content-Range", cr);
        close(d->fd);
        http_respond_error(req, 416, "range_not_satisfiable", "the range is outside the file",
                           "Range");
        dl_free(d);
        return;
    }
    if (rc == 0) {
        char cr[80];
        snprintf(cr, sizeof(cr), "bytes %llu-%llu/%llu", (unsigned long long)start,
                 (unsigned long long)end, (unsigned long long)d->size);
        http_res_header(req, "Content-Range", cr);
        status_code = 206;
        d->off = start;
        d->left = end - start + 1;
    } else {
        d->off = 0;
        d->left = d->size;
    }
    http_res_begin(req, status_code, type, d->left);
    if (http_req_method(req) == HTTP_M_HEAD) {
        d->left = 0;
        finish(d);
        return;
    }
    d->buf = xmalloc(CHUNK);
    read_next(d);
}

static void ctx_keep(void *ctx)
{
    (void)ctx; /* the download outlives its store step */
}

static void looked_up(struct kit_job *j)
{
    struct dl *d = j->ctx;
    if (j->status != 0) {
        kit_fail_store(j, "file", NULL);
        dl_free(d);
        return;
    }
    const struct store_rows *r = store_result_step(j->res, 0);
    if (r != NULL && r->nrows > 0) {
        snprintf(d->name, sizeof(d->name), "%s", store_rows_text(r, 0, 0));
        snprintf(d->mime, sizeof(d->mime), "%s", store_rows_text(r, 0, 1));
        d->thumb = store_rows_int(r, 0, 2) != 0;
    }
    d->work.data = d;
    uv_queue_work(http_req_uv_loop(d->req), &d->work, open_work, opened);
}

void upload__media_get(struct http_req *req, void *ud)
{
    struct upload *u = ud;
    struct dl *d = xcalloc(1, sizeof(*d));
    d->u = u;
    d->req = req;
    d->fd = -1;
    if (!media_path_check(http_req_path(req), d->rel)) {
        not_found(req);
        dl_free(d);
        return;
    }
    struct kit_job *j = kit_job_new(req, u->id->store, NULL, d, ctx_keep);
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_UPLOADS_BY_PATH);
    store_bind_text(op, d->rel);
    if (!kit_store(j, op, KIT_READ, looked_up))
        dl_free(d);
}
