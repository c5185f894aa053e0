/*
 * Shared inside src/upload/ only: the module's state.
 */
#ifndef HERALD_UPLOAD_INTERNAL_H
#define HERALD_UPLOAD_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

struct config;
struct http_req;
struct identity;
struct media_type;
struct ratelimit_table;
struct workpool;

#define UPLOAD_MAX_PARTS 16
#define UPLOAD_PART_HEADER_MAX (16 * 1024) /* one part's header block (a 4 KiB name fits) */
#define UPLOAD_BODY_SLACK (64 * 1024) /* body bytes beyond HERALD_MAX_UPLOAD: framing, fields */
#define UPLOAD_THUMB_SIDE 320
#define UPLOAD_DISK_WRITERS 2   /* threads doing the files' operations (post.c) */
#define UPLOAD_DISK_QUEUE 65536 /* operations waiting (one per upload at most) */
#define UPLOAD_MAX_TYPES 32

struct upload {
    const struct config *cfg;                         /* borrowed */
    struct identity *id;                              /* borrowed */
    char *media_dir;                                  /* DATA_DIR/media */
    const struct media_type *types[UPLOAD_MAX_TYPES]; /* HERALD_UPLOAD_TYPES */
    int ntypes;
    struct workpool *thumbs;      /* owned: thumbnails off the loops */
    struct workpool *disk;        /* owned: the files' operations, at SCHED_IDLE (post.c) */
    uv_mutex_t rate_mu;           /* the rate table is shared by the loops */
    struct ratelimit_table *rate; /* owned; NULL: no limit */
};

/* POST /api/v1/uploads (post.c). */
void upload__post(struct http_req *req, void *ud);
/* GET/HEAD /media/... (media_get.c). */
void upload__media_get(struct http_req *req, void *ud);

#endif
