/*
 * In-memory static file table for the web UI; see static_files.h. Files are
 * found with lstat() (symbolic links and special files are skipped), read
 * once, and kept sorted by URL path for binary search.
 */
#include "net/static_files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/url.h"
#include "core/xalloc.h"
#include "net/http.h"

#define MAX_DEPTH 16

struct sfile {
    char *path; /* URL path, "/assets/app.js" */
    char *data;
    size_t len;
    char etag[24];
    const char *mime;
    const struct sfile *gz; /* the table's "<path>.gz" (precompressed), or NULL */
};

struct static_files {
    struct sfile *files;
    size_t n, cap;
    size_t total;
    bool not_built; /* the embedded table of a binary built without the UI */
};

static void finish_table(struct static_files *sf);

/* What "/" and the SPA routes answer when the binary was built without the UI. */
static const char NOT_BUILT_PAGE[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Herald</title>"
    "</head>\n<body><h1>Herald</h1>\n<p>The web UI was not built into this server: it was "
    "compiled on a machine without Node.js. The HTTP and WebSocket API under /api/v1 and /ws "
    "work.</p>\n<p>To get the UI, install Node.js 20 and npm and run <code>make</code> again, or "
    "point <code>HERALD_STATIC_DIR</code> at a built <code>web/dist</code> folder.</p>\n"
    "</body></html>\n";

const char *static_mime_type(const char *name)
{
    static const struct {
        const char *ext;
        const char *mime;
    } types[] = {
        {"html", "text/html; charset=utf-8"},
        {"htm", "text/html; charset=utf-8"},
        {"js", "text/javascript; charset=utf-8"},
        {"mjs", "text/javascript; charset=utf-8"},
        {"css", "text/css; charset=utf-8"},
        {"json", "application/json"},
        {"map", "application/json"},
        {"svg", "image/svg+xml"},
        {"png", "image/png"},
        {"jpg", "image/jpeg"},
        {"jpeg", "image/jpeg"},
        {"gif", "image/gif"},
        {"webp", "image/webp"},
        {"ico", "image/x-icon"},
        {"avif", "image/avif"},
        {"woff", "font/woff"},
        {"woff2", "font/woff2"},
        {"ttf", "font/ttf"},
        {"otf", "font/otf"},
        {"txt", "text/plain; charset=utf-8"},
        {"xml", "application/xml"},
        {"wasm", "application/wasm"},
        {"webmanifest", "application/manifest+json"},
        {"mp3", "audio/mpeg"},
        {"mp4", "video/mp4"},
        {"webm", "video/webm"},
        {"pdf", "application/pdf"},
    };
    const char *slash = strrchr(name, '/');
    const char *dot = strrchr(slash ? slash : name, '.');
    if (dot == NULL)
        return "application/octet-stream";
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strcasecmp(dot + 1, types[i].ext) == 0)
            return types[i].mime;
    return "application/octet-stream";
}

static int read_whole(const char *fs_path, size_t size, char **out)
{
    int fd = open(fs_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    char *data = xmalloc(size + 1);
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, data + got, size - got);
        if (r <= 0) {
            if (r < 0 && errno == EINTR)
                continue;
            break;
        }
        got += (size_t)r;
    }
    close(fd);
    if (got != size) {
        free(data);
        return -1;
    }
    *out = data;
    return 0;
}

static void set_etag(struct sfile *f)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a over the content */
    for (size_t i = 0; i < f->len; i++) {
        h ^= (unsigned char)f->data[i];
        h *= 1099511628211ULL;
    }
    snprintf(f->etag, sizeof(f->etag), "\"%016llx\"", (unsigned long long)h);
}

static void add_file(struct static_files *sf, const char *url_path, char *data, size_t len)
{
    if (sf->n == sf->cap) {
        sf->cap = sf->cap ? sf->cap * 2 : 64;
        sf->files = xrealloc(sf->files, sf->cap * sizeof(struct sfile));
    }
    struct sfile *f = &sf->files[sf->n++];
    f->path = xstrdup(url_path);
    f->data = data;
    f->len = len;
    f->mime = static_mime_type(url_path);
    set_etag(f);
    sf->total += len;
}

static int scan(struct static_files *sf, const char *fs_dir, const char *url_dir, int depth,
                size_t max_total)
{
    if (depth > MAX_DEPTH)
        return 0;
    DIR *d = opendir(fs_dir);
    if (d == NULL)
        return -1;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue; /* ".", "..", and hidden files are never served */
        struct buf fs = BUF_INIT, url = BUF_INIT;
        buf_printf(&fs, "%s/%s", fs_dir, e->d_name);
        buf_printf(&url, "%s/%s", url_dir, e->d_name);
        struct stat st;
        if (lstat(fs.data, &st) == 0) {
            if (S_ISDIR(st.st_mode)) {
                scan(sf, fs.data, url.data, depth + 1, max_total);
            } else if (S_ISREG(st.st_mode)) {
                char *data;
                if (sf->total + (size_t)st.st_size > max_total) {
                    log_warn("static", "static folder over %zu bytes; skipping %s", max_total,
                             url.data);
                } else if (read_whole(fs.data, (size_t)st.st_size, &data) == 0) {
                    add_file(sf, url.data, data, (size_t)st.st_size);
                }
            }
        }
        buf_release(&fs);
        buf_release(&url);
    }
    closedir(d);
    return rc;
}

static int cmp_file(const void *a, const void *b)
{
    return strcmp(((const struct sfile *)a)->path, ((const struct sfile *)b)->path);
}

struct static_files *static_files_load(const char *dir, size_t max_total)
{
    struct stat st;
    if (dir == NULL || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return NULL;
    struct static_files *sf = xcalloc(1, sizeof(*sf));
    scan(sf, dir, "", 0, max_total);
    finish_table(sf);
    log_info("static", "serving %zu files (%zu bytes) from %s", sf->n, sf->total, dir);
    return sf;
}

struct static_files *static_files_embedded(const struct static_embedded *files, size_t n)
{
    struct static_files *sf = xcalloc(1, sizeof(*sf));
    for (size_t i = 0; i < n; i++) {
        char *data = xmalloc(files[i].len + 1);
        memcpy(data, files[i].data, files[i].len);
        data[files[i].len] = '\0';
        add_file(sf, files[i].path, data, files[i].len);
    }
    finish_table(sf);
    sf->not_built = n == 0;
    if (sf->not_built)
        log_warn("static", "this binary was built without the web UI (no Node.js): API only");
    else
        log_info("static", "serving the built-in web UI (%zu files, %zu bytes)", sf->n, sf->total);
    return sf;
}

static void html_escape(struct buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            buf_append(b, "&amp;", 5);
            break;
        case '<':
            buf_append(b, "&lt;", 4);
            break;
        case '>':
            buf_append(b, "&gt;", 4);
            break;
        case '"':
            buf_append(b, "&quot;", 6);
            break;
        case '\'':
            buf_append(b, "&#39;", 5);
            break;
        default:
            buf_append(b, s, 1);
        }
    }
}

static const struct sfile *find(const struct static_files *sf, const char *path);

/* Sorts the table and links each file to its precompressed "<path>.gz" twin, if any. */
static void finish_table(struct static_files *sf)
{
    if (sf->n == 0)
        return;
    qsort(sf->files, sf->n, sizeof(struct sfile), cmp_file);
    struct buf b = BUF_INIT;
    for (size_t i = 0; i < sf->n; i++) {
        b.len = 0;
        buf_printf(&b, "%s.gz", sf->files[i].path);
        sf->files[i].gz = find(sf, b.data);
    }
    buf_release(&b);
}

void static_files_brand(struct static_files *sf, const char *title, const char *description)
{
    static const char T[] = "__HERALD_APP_TITLE__", D[] = "__HERALD_APP_DESCRIPTION__";
    if (sf == NULL)
        return;
    struct sfile *f = (struct sfile *)find(sf, "/index.html");
    if (f == NULL)
        return;
    struct buf out = BUF_INIT;
    const char *p = f->data, *end = f->data + f->len;
    while (p < end) {
        const char *t = memmem(p, (size_t)(end - p), T, sizeof(T) - 1);
        const char *d = memmem(p, (size_t)(end - p), D, sizeof(D) - 1);
        const char *next = t && (!d || t < d) ? t : d;
        if (next == NULL) {
            buf_append(&out, p, (size_t)(end - p));
            break;
        }
        buf_append(&out, p, (size_t)(next - p));
        html_escape(&out, next == t ? title : description);
        p = next + (next == t ? sizeof(T) - 1 : sizeof(D) - 1);
    }
    size_t len = 0;
    char *data = buf_detach(&out, &len);
    if (data == NULL)
        data = xstrdup("");
    sf->total = sf->total - f->len + len;
    free(f->data);
    f->data = data;
    f->len = len;
    f->gz = NULL; /* a compressed copy would hold the placeholders */
    set_etag(f);
}

void static_files_free(struct static_files *sf)
{
    if (sf == NULL)
        return;
    for (size_t i = 0; i < sf->n; i++) {
        free(sf->files[i].path);
        free(sf->files[i].data);
    }
    free(sf->files);
    free(sf);
}

size_t static_files_count(const struct static_files *sf)
{
    return sf ? sf->n : 0;
}

static const struct sfile *find(const struct static_files *sf, const char *path)
{
    if (sf->n == 0) /* no UI built in: bsearch may not be given a NULL array */
        return NULL;
    struct sfile key = {.path = (char *)path};
    return bsearch(&key, sf->files, sf->n, sizeof(struct sfile), cmp_file);
}

static bool is_spa_route(const char *p)
{
    static const char *roots[] = {"/login", "/chat", "/admin"};
    for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
        size_t n = strlen(roots[i]);
        if (strncmp(p, roots[i], n) == 0 && (p[n] == '\0' || p[n] == '/'))
            return strchr(p + n, '.') == NULL;
    }
    return false;
}

/* Accept-Encoding lists gzip with a non-zero q (RFC 9110 §12.5.3). */
static bool accepts_gzip(const char *ae)
{
    for (const char *p = ae; p && *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *s = p;
        while (*p && *p != ',' && *p != ';' && *p != ' ' && *p != '\t')
            p++;
        bool gzip = (size_t)(p - s) == 4 && strncasecmp(s, "gzip", 4) == 0;
        const char *end = strchr(p, ',');
        const char *q = strstr(p, "q=");
        bool zero = false;
        if (q != NULL && (end == NULL || q < end)) {
            char *qe = NULL;
            zero = strtod(q + 2, &qe) <= 0.0 && qe != q + 2;
        }
        if (gzip)
            return !zero;
        p = end;
    }
    return false;
}

static bool etag_matches(const char *inm, const char *etag)
{
    if (inm == NULL)
        return false;
    if (strcmp(inm, "*") == 0)
        return true;
    size_t el = strlen(etag);
    const char *p = inm;
    while ((p = strstr(p, etag)) != NULL) {
        char after = p[el];
        if (after == '\0' || after == ',' || after == ' ')
            return true;
        p += el;
    }
    return false;
}

static bool serve_file(struct http_req *req, const struct sfile *f, const char *mime);

bool static_files_serve(const struct static_files *sf, struct http_req *req)
{
    if (sf == NULL)
        return false;
    const char *raw = http_req_path(req);
    if (sf->not_built) {
        if (strcmp(raw, "/") != 0 && !is_spa_route(raw))
            return false;
        http_res_header(req, "Cache-Control", "no-cache");
        http_respond(req, 200, "text/html; charset=utf-8", NOT_BUILT_PAGE,
                     sizeof(NOT_BUILT_PAGE) - 1);
        return true;
    }
    if (sf->n == 0)
        return false;
    if (strcmp(raw, "/") == 0 && find(sf, "/index.html") != NULL) {
        /* the UI's home is the chat (SPEC §7); the query (?token=, ?user_id=…) goes along */
        const char *q = http_req_query(req);
        struct buf loc = BUF_INIT;
        buf_printf(&loc, "/chat%s%s", *q ? "?" : "", q);
        http_res_header(req, "Location", loc.data);
        http_res_header(req, "Cache-Control", "no-cache");
        http_respond(req, 302, NULL, NULL, 0);
        buf_release(&loc);
        return true;
    }
    size_t rl = strlen(raw);
    char *path = xmalloc(rl + sizeof("index.html") + 1);
    if (url_decode(raw, rl, path, false) < 0) {
        free(path);
        return false;
    }
    size_t pl = strlen(path);
    if (pl == 0 || path[pl - 1] == '/')
        strcpy(path + pl, "index.html");
    const struct sfile *f = find(sf, path);
    if (f == NULL && is_spa_route(path))
        f = find(sf, "/index.html");
    free(path);
    if (f == NULL)
        return false;
    if (f->gz != NULL) {
        /* the precompressed twin when the client takes gzip (web/scripts/compress.mjs) */
        http_res_header(req, "Vary", "Accept-Encoding");
        if (accepts_gzip(http_req_header(req, "Accept-Encoding"))) {
            http_res_header(req, "Content-Encoding", "gzip");
            const char *mime = f->mime;
            f = f->gz;
            return serve_file(req, f, mime);
        }
    }
    return serve_file(req, f, f->mime);
}

static bool serve_file(struct http_req *req, const struct sfile *f, const char *mime)
{
    http_res_header(req, "ETag", f->etag);
    http_res_header(req, "X-Content-Type-Options", "nosniff");
    http_res_header(req, "Cache-Control",
                    strncmp(mime, "text/html", 9) == 0 ? "no-cache" : "public, max-age=300");
    if (etag_matches(http_req_header(req, "If-None-Match"), f->etag)) {
        http_respond(req, 304, NULL, NULL, 0);
        return true;
    }
    http_respond(req, 200, mime, f->data, f->len);
    return true;
}
