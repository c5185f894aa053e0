/*
 * POST /api/v1/uploads (docs/uploads.md): one upload from the request head to its answer.
 *
 * The route is a streaming one (router_add_stream): the handler runs when the head has
 * arrived, refuses a Content-Length over the limit at once (413), authenticates the user,
 * takes one token of the user's upload rate, then lets the body flow into the multipart
 * parser. The file part's first bytes (up to MEDIA_SNIFF_LEN) are held to sniff its type;
 * once accepted, a temp file is created next to its final place and the data written to it,
 * one write in flight; past HIGH_WATER bytes waiting, reading stops (back-pressure) until
 * the write drains them. At the body's end: close, image size, rename to the final name, the
 * thumbnail (worker pool), the row (store), and 201. Every file operation runs on the
 * module's disk workers, below the loops' priority ("the disk writers" below). Every refusal
 * or interruption (a limit, a bad body, the client gone, the server stopping) waits for the
 * operation in flight, then closes and removes what was written before answering: no file
 * is left behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "auth/ratelimit.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/fs.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/workpool.h"
#include "core/xalloc.h"
#include "identity/identity.h"
#include "identity/user_auth.h"
#include "kit/job.h"
#include "kit/media_url.h"
#include "media/image_info.h"
#include "media/sniff.h"
#include "media/thumb.h"
#include "net/http.h"
#include "store/sql.h"
#include "store/store.h"
#include "upload/internal.h"
#include "upload/multipart.h"
#include "upload/name.h"

#define HIGH_WATER (256 * 1024) /* bytes waiting for the disk before reading stops */
#define UPLOAD_ID_HEX 12        /* random bytes of an upload id ("u" + 24 hex) */
#define NAME_RANDOM_BYTES 16    /* 128 bits in a stored file's name (32 hex characters) */
#define REL_MAX 96              /* "uploads/YYYY/MM/DD/<32 hex>_thumb.<ext>" */

/* One upload in progress; loop thread (a worker only while `working` for the thumbnail). */
struct up {
    struct upload *u;
    struct http_req *req;
    char app_id[JWT_APP_MAX + 1];
    char user_id[JWT_SUB_MAX + 1];
    struct multipart *mp;
    uint64_t body_bytes, body_max;
    bool in_sink; /* inside the sink's on_data: an answer waits for a later turn */
    /* the file part */
    bool file_seen, in_file, sniffed, file_done;
    char name[UPLOAD_NAME_MAX + 1];
    uint8_t head[MEDIA_SNIFF_LEN];
    size_t head_len;
    const struct media_type *type;
    uint64_t size;
    /* disk */
    char rel[REL_MAX], thumb_rel[REL_MAX];
    char *dir, *tmp_abs, *final_abs, *thumb_abs; /* owned */
    int fd;
    bool created, renamed, thumbed; /* files that exist: removed on a refusal */
    bool opening, writing, working;
    ssize_t written; /* the disk writer's result: bytes, or -errno */
    void (*disk_work)(struct up *up), (*disk_done)(struct up *up); /* disk_submit's */
    struct buf wbuf, inflight; /* waiting for the disk; being written */
    int work_errno;
    /* the end */
    bool body_ended, finishing, answered;
    bool kit_answered; /* the store refused the insert and the kit answered: free after cleanup */
    char id[UPLOAD_ID_HEX * 2 + 2];
    bool has_info;
    struct image_info info;
    /* a refusal: the first one wins */
    bool failed;
    int fail_status;
    const char *fail_code, *fail_field;
    char fail_msg[200];
};

static void settle(struct up *up);

static void up_free(struct up *up)
{
    multipart_free(up->mp);
    buf_release(&up->wbuf);
    buf_release(&up->inflight);
    free(up->dir);
    free(up->tmp_abs);
    free(up->final_abs);
    free(up->thumb_abs);
    free(up);
}

static void fail(struct up *up, int status, const char *code, const char *field, const char *msg)
{
    if (up->failed)
        return;
    up->failed = true;
    up->fail_status = status;
    up->fail_code = code;
    up->fail_field = field;
    snprintf(up->fail_msg, sizeof(up->fail_msg), "%s", msg);
}

static void fail_too_big(struct up *up)
{
    char msg[120];
    snprintf(msg, sizeof(msg), "the file is larger than the limit of %zu bytes",
             up->u->cfg->max_upload);
    fail(up, 413, "payload_too_large", "file", msg);
}

static void fail_parse(struct up *up, int rc)
{
    char msg[160];
    switch (rc) {
    case MULTIPART_PARTS:
        snprintf(msg, sizeof(msg), "too many parts in the body (at most %d)", UPLOAD_MAX_PARTS);
        fail(up, 413, "payload_too_large", NULL, msg);
        break;
    case MULTIPART_HEADERS:
        fail(up, 400, "bad_request", NULL, "a part's headers are too large");
        break;
    case MULTIPART_STOPPED:
        break; /* the callback that stopped it has said why */
    default:
        snprintf(msg, sizeof(msg), "malformed multipart body: %s", multipart_why(up->mp));
        fail(up, 400, "bad_request", NULL, msg);
        break;
    }
}

/* ---- answers */

static void answer_error_now(struct up *up)
{
    struct http_req *req = up->req;
    up->answered = true;
    http_respond_error(req, up->fail_status, up->fail_code, up->fail_msg, up->fail_field);
    up_free(up);
}

static void answer_error_posted(void *arg)
{
    answer_error_now(arg);
}

static void answer_error(struct up *up)
{
    if (up->in_sink)
        http_req_post(up->req, answer_error_posted, up); /* not from inside the parser */
    else
        answer_error_now(up);
}

static void answer_ok(struct up *up)
{
    char path[REL_MAX + 8], url[2048];
    snprintf(path, sizeof(path), "/media/%s", up->rel);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", up->id);
    if (media_url_abs(up->req, path, url, sizeof(url)) == 0)
        cJSON_AddStringToObject(o, "url", url);
    cJSON_AddStringToObject(o, "path", path);
    cJSON_AddStringToObject(o, "name", up->name);
    cJSON_AddNumberToObject(o, "size", (double)up->size);
    cJSON_AddStringToObject(o, "mime", up->type->mime);
    if (up->has_info) {
        cJSON_AddNumberToObject(o, "width", up->info.width);
        cJSON_AddNumberToObject(o, "height", up->info.height);
    }
    if (up->thumbed) {
        snprintf(path, sizeof(path), "/media/%s", up->thumb_rel);
        if (media_url_abs(up->req, path, url, sizeof(url)) == 0)
            cJSON_AddStringToObject(o, "thumbnail_url", url);
    }
    char *s = cJSON_PrintUnformatted(o);
    up->answered = true;
    http_respond_json(up->req, 201, s, strlen(s));
    cJSON_free(s);
    cJSON_Delete(o);
    up_free(up);
}

/* ---- the disk writers: every file operation of an upload, one at a time
 *
 * On the module's disk workers (upload.c), which run at SCHED_IDLE: they take the core only
 * when the loops leave it idle, so hundreds of megabytes a second copied into the page cache
 * (and ext4's block allocation when a written file is closed) never delay a request on a
 * loop (BENCHMARKS.md, "Issue 10: uploads"); the back-pressure above (HIGH_WATER) slows the
 * uploads instead. */

static void disk_posted(void *arg)
{
    struct up *up = arg;
    up->disk_done(up);
}

/* Disk worker thread. */
static void disk_job(void *arg)
{
    struct up *up = arg;
    up->disk_work(up);
    http_req_post(up->req, disk_posted, up);
}

/* Runs work(up) on a disk worker, then done(up) on the loop. When the workers refuse (the
 * server is stopping, or the queue is full) work runs here, done still on a later turn. */
static void disk_submit(struct up *up, void (*work)(struct up *), void (*done)(struct up *))
{
    up->disk_work = work;
    up->disk_done = done;
    if (workpool_submit(up->u->disk, disk_job, up) != 0) {
        work(up);
        http_req_post(up->req, disk_posted, up);
    }
}

/* ---- removing what was written */

static void cleanup_work(struct up *up)
{
    if (up->fd >= 0)
        close(up->fd);
    if (up->created)
        unlink(up->tmp_abs);
    if (up->renamed)
        unlink(up->final_abs);
    if (up->thumbed)
        unlink(up->thumb_abs);
}

static void cleanup_done(struct up *up)
{
    up->working = false;
    up->fd = -1;
    up->created = up->renamed = up->thumbed = false;
    settle(up);
}

static void start_cleanup(struct up *up)
{
    up->working = true;
    disk_submit(up, cleanup_work, cleanup_done);
}

/* ---- the temp file */

static void open_work(struct up *up)
{
    up->work_errno = 0;
    if (workpool_is_cancelled()) {
        up->work_errno = ECANCELED; /* the server is stopping */
        return;
    }
    if (fs_make_dirs(up->dir, 0750) != 0) {
        up->work_errno = errno;
        return;
    }
    up->fd = open(up->tmp_abs, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (up->fd < 0)
        up->work_errno = errno;
}

static void open_done(struct up *up)
{
    up->opening = false;
    if (up->fd < 0) {
        log_error("upload", "cannot create %s: %s", up->tmp_abs, strerror(up->work_errno));
        fail(up, 500, "internal", NULL, "the file could not be stored");
    } else {
        up->created = true;
    }
    settle(up);
}

/* ---- writing */

static void on_written(struct up *up)
{
    ssize_t n = up->written;
    up->writing = false;
    if (n < 0) {
        log_error("upload", "cannot write %s: %s", up->tmp_abs, strerror((int)-n));
        fail(up, 500, "internal", NULL, "the file could not be stored");
    } else if ((size_t)n < up->inflight.len) {
        /* a short write: the rest goes first */
        memmove(up->inflight.data, up->inflight.data + n, up->inflight.len - (size_t)n);
        up->inflight.len -= (size_t)n;
        struct buf t = up->wbuf;
        up->wbuf = up->inflight;
        buf_append(&up->wbuf, t.data, t.len);
        buf_release(&t);
        buf_init(&up->inflight);
    } else {
        up->inflight.len = 0;
    }
    settle(up);
}

/* One write of what is in flight (none once the server is stopping). */
static void write_work(struct up *up)
{
    ssize_t n = -ECANCELED;
    if (!workpool_is_cancelled()) {
        do
            n = write(up->fd, up->inflight.data, up->inflight.len);
        while (n < 0 && errno == EINTR);
        if (n < 0)
            n = -errno;
    }
    up->written = n;
}

static void kick_write(struct up *up)
{
    struct buf t = up->inflight; /* empty, its memory kept for the next turn */
    up->inflight = up->wbuf;
    up->wbuf = t;
    up->writing = true;
    disk_submit(up, write_work, on_written);
}

/* ---- the end: close, size, rename (disk worker), thumbnail (worker), row (store) */

static void inserted(struct kit_job *j)
{
    struct up *up = j->ctx;
    up->working = false;
    if (j->status != 0) {
        char msg[120];
        snprintf(msg, sizeof(msg), "the upload could not be recorded: %s", err_str(j->status));
        fail(up, err_http_status(j->status), err_code(j->status), NULL, msg);
        if (j->status == ERR_AGAIN || j->status == ERR_UNAVAIL)
            http_res_header(up->req, "Retry-After", "1");
        settle(up);
        return;
    }
    answer_ok(up);
}

static void ctx_keep(void *ctx)
{
    (void)ctx; /* the upload outlives its store step: settle() frees it */
}

static void start_insert(struct up *up)
{
    struct kit_job *j = kit_job_new(up->req, up->u->id->store, NULL, up, ctx_keep);
    up->id[0] = 'u';
    rand_hex(up->id + 1, UPLOAD_ID_HEX);
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_UPLOADS_INSERT);
    store_bind_text(op, up->id);
    store_bind_text(op, up->app_id);
    store_bind_text(op, up->user_id);
    store_bind_text(op, up->rel);
    store_bind_text(op, up->name);
    store_bind_int(op, (int64_t)up->size);
    store_bind_text(op, up->type->mime);
    if (up->has_info) {
        store_bind_int(op, up->info.width);
        store_bind_int(op, up->info.height);
    } else {
        store_bind_null(op);
        store_bind_null(op);
    }
    if (up->thumbed)
        store_bind_text(op, up->thumb_rel);
    else
        store_bind_null(op);
    store_bind_int(op, clock_wall_ms());
    up->working = true;
    if (!kit_store(j, op, KIT_WRITE, inserted)) {
        /* refused at once and answered (503): only the files remain to remove */
        up->working = false;
        up->kit_answered = true;
        fail(up, 503, "unavailable", NULL, "busy");
        settle(up);
    }
}

static void thumb_done(void *arg)
{
    struct up *up = arg;
    up->working = false;
    start_insert(up);
}

/* Worker thread: the thumbnail, unless the server is stopping. */
static void thumb_work(void *arg)
{
    struct up *up = arg;
    char err[200] = "";
    if (!workpool_is_cancelled()) {
        if (media_thumbnail(up->final_abs, up->thumb_abs, UPLOAD_THUMB_SIDE, err, sizeof(err)) ==
            0) {
            up->thumbed = true;
        } else {
            unlink(up->thumb_abs); /* nothing half-written stays */
            log_info("upload", "no thumbnail for %s: %s", up->rel, err);
        }
    }
    http_req_post(up->req, thumb_done, up);
}

static void finalize_work(struct up *up)
{
    up->work_errno = 0;
    if (close(up->fd) != 0) {
        up->fd = -1;
        up->work_errno = errno;
        return;
    }
    up->fd = -1;
    if (up->type->image)
        up->has_info = image_info_read_file(up->tmp_abs, &up->info) == 0;
    if (rename(up->tmp_abs, up->final_abs) != 0) {
        up->work_errno = errno;
        return;
    }
    up->created = false;
    up->renamed = true;
}

static void finalize_done(struct up *up)
{
    up->working = false;
    if (up->work_errno != 0) {
        log_error("upload", "cannot store %s: %s", up->rel, strerror(up->work_errno));
        fail(up, 500, "internal", NULL, "the file could not be stored");
        settle(up);
        return;
    }
    /* a thumbnail for images whose declared size is sane; a bomb is stored without one */
    if (up->has_info && up->thumb_abs != NULL &&
        (uint64_t)up->info.width * up->info.height <= MEDIA_MAX_PIXELS) {
        up->working = true;
        if (workpool_submit(up->u->thumbs, thumb_work, up) == 0)
            return;
        up->working = false; /* the worker is busy or stopping: no thumbnail */
    }
    start_insert(up);
}

/*
 * The one place that moves an upload on after any event: waits while an operation is in
 * flight, removes the files of a refused upload then answers, writes what is waiting,
 * resumes reading once the disk has caught up, and finishes a complete one.
 */
static void settle(struct up *up)
{
    if (up->opening || up->writing || up->working)
        return;
    if (up->failed) {
        if (up->fd >= 0 || up->created || up->renamed || up->thumbed) {
            start_cleanup(up);
            return;
        }
        if (up->kit_answered)
            up_free(up);
        else
            answer_error(up);
        return;
    }
    if (up->fd >= 0 && up->wbuf.len > 0) {
        kick_write(up);
        if (up->wbuf.len < HIGH_WATER)
            http_req_body_resume(up->req);
        return;
    }
    if (!up->body_ended) {
        http_req_body_resume(up->req);
        return;
    }
    if (up->file_done && up->fd >= 0 && !up->finishing) {
        up->finishing = true;
        up->working = true;
        disk_submit(up, finalize_work, finalize_done);
    }
}

/* ---- the file part */

static bool type_allowed(const struct upload *u, const struct media_type *t)
{
    for (int i = 0; i < u->ntypes; i++)
        if (u->types[i] == t)
            return true;
    return false;
}

/* The first bytes are in: accept the type (and name the files) or refuse. 0 or -1. */
static int sniff_decide(struct up *up)
{
    up->sniffed = true;
    if (up->head_len == 0) {
        fail(up, 422, "validation_failed", "file", "the file is empty");
        return -1;
    }
    const struct media_type *t = media_sniff(up->head, up->head_len);
    if (t == NULL || !type_allowed(up->u, t)) {
        fail(up, 415, "unsupported_media_type", "file",
             "this type of file is not accepted (told by its content, not its name)");
        return -1;
    }
    up->type = t;
    char hex[NAME_RANDOM_BYTES * 2 + 1], ext[16], day[16];
    rand_hex(hex, NAME_RANDOM_BYTES);
    upload_name_ext(up->name, t->ext, ext);
    time_t now = (time_t)(clock_wall_ms() / 1000);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(day, sizeof(day), "%Y/%m/%d", &tm);
    snprintf(up->rel, sizeof(up->rel), "uploads/%s/%s.%s", day, hex, ext);
    struct buf b = BUF_INIT;
    buf_printf(&b, "%s/uploads/%s", up->u->media_dir, day);
    up->dir = buf_detach(&b, NULL);
    buf_printf(&b, "%s/.%s.part", up->dir, hex);
    up->tmp_abs = buf_detach(&b, NULL);
    buf_printf(&b, "%s/%s", up->u->media_dir, up->rel);
    up->final_abs = buf_detach(&b, NULL);
    if (t->image) {
        /* PNG keeps transparency (png, gif, webp sources); JPEG otherwise */
        const char *text = strcmp(t->ext, "jpg") == 0 ? "jpg" : "png";
        snprintf(up->thumb_rel, sizeof(up->thumb_rel), "uploads/%s/%s_thumb.%s", day, hex, text);
        buf_printf(&b, "%s/%s", up->u->media_dir, up->thumb_rel);
        up->thumb_abs = buf_detach(&b, NULL);
    }
    buf_append(&up->wbuf, up->head, up->head_len);
    up->opening = true;
    disk_submit(up, open_work, open_done);
    return 0;
}

static int part_begin(const struct multipart_part *p, void *ud)
{
    struct up *up = ud;
    up->in_file = strcmp(p->name, "file") == 0;
    if (!up->in_file)
        return 0; /* other fields are read and ignored (the body limit bounds them) */
    if (up->file_seen) {
        fail(up, 400, "bad_request", "file", "one file per upload");
        return -1;
    }
    up->file_seen = true;
    upload_name_sanitize(p->filename, p->filename ? p->filename_len : 0, up->name);
    return 0;
}

static int part_data(const uint8_t *d, size_t n, void *ud)
{
    struct up *up = ud;
    if (!up->in_file)
        return 0;
    up->size += n;
    if (up->size > up->u->cfg->max_upload) {
        fail_too_big(up);
        return -1;
    }
    if (!up->sniffed) {
        size_t take = MEDIA_SNIFF_LEN - up->head_len;
        if (take > n)
            take = n;
        memcpy(up->head + up->head_len, d, take);
        up->head_len += take;
        d += take;
        n -= take;
        if (up->head_len < MEDIA_SNIFF_LEN)
            return 0;
        if (sniff_decide(up) != 0)
            return -1;
    }
    if (n > 0)
        buf_append(&up->wbuf, d, n);
    return 0;
}

static int part_end(void *ud)
{
    struct up *up = ud;
    if (!up->in_file)
        return 0;
    up->in_file = false;
    if (!up->sniffed && sniff_decide(up) != 0)
        return -1;
    up->file_done = true;
    return 0;
}

static const struct multipart_cb parser_cb = {
    .on_part_begin = part_begin,
    .on_part_data = part_data,
    .on_part_end = part_end,
};

/* ---- the body, from the HTTP layer */

static int sink_data(struct http_req *req, const char *data, size_t len, void *ud)
{
    struct up *up = ud;
    up->in_sink = true;
    up->body_bytes += len;
    if (up->body_bytes > up->body_max) {
        fail_too_big(up);
    } else {
        int rc = multipart_feed(up->mp, (const uint8_t *)data, len);
        if (rc != 0)
            fail_parse(up, rc);
    }
    if (!up->failed && up->wbuf.len >= HIGH_WATER)
        http_req_body_pause(req); /* back-pressure: the disk is behind */
    bool failed = up->failed;
    settle(up); /* may post the answer: up lives until it runs */
    up->in_sink = false;
    return failed ? 1 : 0;
}

static void sink_end(struct http_req *req, void *ud)
{
    (void)req;
    struct up *up = ud;
    up->body_ended = true;
    int rc = multipart_finish(up->mp);
    if (rc != 0)
        fail_parse(up, rc);
    else if (!up->file_seen)
        fail(up, 422, "validation_failed", "file",
             "a part named \"file\" with the file is required");
    settle(up);
}

static void sink_abort(struct http_req *req, void *ud)
{
    (void)req;
    struct up *up = ud;
    up->body_ended = true;
    fail(up, 400, "bad_request", NULL, "the upload was interrupted before its end");
    settle(up);
}

static const struct http_body_sink sink = {
    .on_data = sink_data,
    .on_end = sink_end,
    .on_abort = sink_abort,
};

/* ---- the head */

static void authed(struct http_req *req, const struct user_principal *p, void *ud)
{
    struct upload *u = ud;
    if (u->rate != NULL) {
        char key[JWT_APP_MAX + JWT_SUB_MAX + 2];
        snprintf(key, sizeof(key), "%s/%s", p->app_id, p->user_id);
        uv_mutex_lock(&u->rate_mu);
        uint64_t wait = ratelimit_table_take(u->rate, key, clock_mono_ms(), 1);
        uv_mutex_unlock(&u->rate_mu);
        if (wait != 0) {
            char ra[24];
            snprintf(ra, sizeof(ra), "%llu",
                     wait == RATELIMIT_NEVER ? 60ULL : (unsigned long long)((wait + 999) / 1000));
            http_res_header(req, "Retry-After", ra);
            http_respond_error(req, 429, "rate_limited", "too many uploads; retry later", NULL);
            return;
        }
    }
    int64_t cl = http_req_content_length(req);
    uint64_t max = (uint64_t)u->cfg->max_upload + UPLOAD_BODY_SLACK;
    if (cl >= 0 && (uint64_t)cl > max) { /* refused before a byte of it is read */
        char msg[120];
        snprintf(msg, sizeof(msg), "the body is larger than the upload limit of %zu bytes",
                 u->cfg->max_upload);
        http_respond_error(req, 413, "payload_too_large", msg, NULL);
        return;
    }
    char boundary[MULTIPART_BOUNDARY_MAX + 1];
    if (multipart_boundary(http_req_header(req, "Content-Type"), boundary) != 0) {
        http_respond_error(req, 415, "unsupported_media_type",
                           "the body must be multipart/form-data with a boundary", "Content-Type");
        return;
    }
    struct up *up = xcalloc(1, sizeof(*up));
    up->u = u;
    up->req = req;
    up->fd = -1;
    up->body_max = (uint64_t)u->cfg->max_upload + UPLOAD_BODY_SLACK;
    snprintf(up->app_id, sizeof(up->app_id), "%s", p->app_id);
    snprintf(up->user_id, sizeof(up->user_id), "%s", p->user_id);
    buf_init(&up->wbuf);
    buf_init(&up->inflight);
    const struct multipart_limits lim = {.max_parts = UPLOAD_MAX_PARTS,
                                         .max_header_bytes = UPLOAD_PART_HEADER_MAX};
    up->mp = multipart_new(boundary, &lim, &parser_cb, up);
    http_req_body_stream(req, &sink, up);
}

/* Who asks comes first (401 before 413 or 415), then the head's checks (authed). */
void upload__post(struct http_req *req, void *ud)
{
    struct upload *u = ud;
    identity_user_auth(u->id, req, authed, u);
}
