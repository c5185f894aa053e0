/*
 * Static files for the web UI. The folder is read into memory once at start
 * (the UI is a few MiB at most): requests are served without touching the
 * disk, and a path that is not a key of the in-memory table cannot reach any
 * file, so nothing can escape the folder. Symbolic links are not followed.
 */
#ifndef HERALD_NET_STATIC_FILES_H
#define HERALD_NET_STATIC_FILES_H

#include <stdbool.h>
#include <stddef.h>

struct http_req;
struct static_files;

/* One file of the UI built into the binary (src/net/ui_embed.h). */
struct static_embedded {
    const char *path; /* URL path, "/index.html" */
    const unsigned char *data;
    size_t len;
};

/*
 * Loads every regular file under dir (at most max_total bytes in all).
 * Returns NULL when dir does not exist (no UI installed) or on error (logged).
 */
struct static_files *static_files_load(const char *dir, size_t max_total);
/*
 * A table of the files built into the binary (copied). n == 0 means the UI was not built: the
 * table then answers "/" and the SPA routes with a plain page saying so.
 */
struct static_files *static_files_embedded(const struct static_embedded *files, size_t n);

/*
 * Branding: replaces the placeholders __HERALD_APP_TITLE__ and __HERALD_APP_DESCRIPTION__ in
 * /index.html with title and description, HTML-escaped (and its ETag). Before serving.
 */
void static_files_brand(struct static_files *sf, const char *title, const char *description);

void static_files_free(struct static_files *sf);
size_t static_files_count(const struct static_files *sf);

/*
 * Answers a GET/HEAD for the request path if a file matches (directory paths
 * serve their index.html; the SPA routes /login, /chat and /admin… serve
 * /index.html). "/" redirects to /chat (302, query kept) when the table has a
 * /chat page to serve. Handles If-None-Match. Returns false, without
 * answering, when no file matches. Loop thread.
 */
bool static_files_serve(const struct static_files *sf, struct http_req *req);

/* MIME type for a file name by extension ("application/octet-stream" by default). */
const char *static_mime_type(const char *name);

#endif
