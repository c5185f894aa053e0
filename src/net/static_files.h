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

/*
 * Loads every regular file under dir (at most max_total bytes in all).
 * Returns NULL when dir does not exist (no UI installed) or on error (logged).
 */
struct static_files *static_files_load(const char *dir, size_t max_total);
void static_files_free(struct static_files *sf);
size_t static_files_count(const struct static_files *sf);

/*
 * Answers a GET/HEAD for the request path if a file matches ("/" and
 * directory paths serve index.html; the SPA routes /login, /chat and /admin…
 * serve index.html too). Handles If-None-Match. Returns false, without
 * answering, when no file matches. Loop thread.
 */
bool static_files_serve(const struct static_files *sf, struct http_req *req);

/* MIME type for a file name by extension ("application/octet-stream" by default). */
const char *static_mime_type(const char *name);

#endif
