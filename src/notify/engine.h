/*
 * What the engine files of src/notify/ share (notify.c, send.c, queue.c, inapp.c, queries.c,
 * inbox.c, admin.c; see notify.h): the module, the queue's entry points,
 * and the JSON of rows.
 */
#ifndef HERALD_NOTIFY_ENGINE_H
#define HERALD_NOTIFY_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "kit/decode.h"
#include "notify/sending.h"

struct http_req;
struct identity;
struct kit_job;
struct rt;
struct rt_session;
struct store;
struct store_rows;

#define NOTIFY_RECIPIENTS_MAX 1000             /* recipients of one call ("subscribers" aside) */
#define NOTIFY_IDEM_WINDOW_MS (24 * 3600000LL) /* SPEC §5: the de-dup window's default */
#define NOTIFY_RESEND_DAYS 7 /* in-app deliveries re-sent to a device: this recent */

struct notify_queue;
struct notify_events;
struct notify_quota;

struct notify_engine {
    struct identity *id; /* borrowed */
    struct store *store; /* borrowed (id->store) */
    struct rt *rt;       /* borrowed */
    struct notify_queue *q;
    struct notify_events *ev;   /* borrowed, NULL: none (events.h, notify_engine_set_events) */
    struct notify_quota *quota; /* the apps' daily quotas (quota.h) */
    int64_t idem_window_ms;     /* HERALD_IDEMPOTENCY_WINDOW (notify_engine_set_idem_window) */
};

/* ---- the queue (queue.c) */

struct notify_channels;
/* chs: the channel registry the driver sends go through (borrowed; NULL: in-app only). */
struct notify_queue *notify__queue_new(struct notify_engine *n, struct notify_channels *chs);
int notify__queue_start(struct notify_queue *q);
void notify__queue_stop(struct notify_queue *q);
void notify__queue_free(struct notify_queue *q);
/* Appends the queue's figures to /metrics (a metrics source: ud is the queue). */
struct buf;
void notify__queue_render(struct buf *out, void *ud);
/* Wakes the dispatcher: new jobs may be due. Any thread. */
void notify__queue_kick(struct notify_queue *q);
/* The back-off before attempt `attempts + 1` after `attempts` failed ones: 2 s doubling, at
 * most 1 h, the upper half jittered; at least retry_after_s when the provider gave one. */
int64_t notify__backoff_ms(int attempts, int retry_after_s);

/* ---- in-app (inapp.c) */

/* Pushes the notification frame of a claimed in-app delivery (row i of r, SQL_JOBS_CLAIMED),
 * with the cursor of its notification event (0: null), to every connection of its user. Any
 * thread. */
void notify__inapp_push(struct notify_engine *n, const struct store_rows *r, int i, int64_t cursor);
/* The `ack` command and the session watcher. */
void notify__inapp_register(struct notify_engine *n);

/* ---- the HTTP handlers */

void notify__send_register(struct notify_engine *n, struct router *r);    /* send.c */
void notify__queries_register(struct notify_engine *n, struct router *r); /* queries.c */
void notify__inbox_register(struct notify_engine *n, struct router *r);   /* inbox.c */
void notify__admin_register(struct notify_engine *n, struct router *r);   /* admin.c */

/* ---- a send's request (send.c) */

#define NOTIFY_KINDS_MAX 9 /* channel kinds */

struct notify_recip {
    const char *val;  /* borrowed from the body */
    const char *kind; /* NULL: a user id; else the address's channel kind */
};

/* The decoded and checked body of POST /notifications (console: also app_id). Strings
 * borrow from the body; recips is owned (notify__send_req_release). */
struct notify_send_req {
    const char *app_id;
    const char *type, *title, *content, *priority, *key, *locale;
    const cJSON *recipients, *params, *data;
    struct kit_array channels;
    int64_t ttl, send_at;               /* KIT_INT_ABSENT when not given */
    const char *over[NOTIFY_KINDS_MAX]; /* the channels override, in order */
    int nover;
    bool subscribers;
    struct notify_recip *recips;
    int nrecips;
};

/* Decodes and checks body (any thread, no I/O). Returns 0, or ERR_INVAL with err naming the
 * first bad member (nothing to release then). */
int notify__send_parse(const cJSON *body, bool console, struct notify_send_req *in,
                       struct kit_error *err);
void notify__send_req_release(struct notify_send_req *in);
/* A message type code as a send names it: 1-64 of A-Z a-z 0-9 _ . : - (the console's codes,
 * notify__code_is_valid, are the lowercase subset). */
bool notify__eng_type_valid(const char *s);
/* An idempotency key: 1-128 printable ASCII characters. */
bool notify__eng_key_valid(const char *s);
/* Whether k is one of list[0..n). */
bool notify__eng_kind_in(const char *const *list, int n, const char *k);

/* The console's send (admin.c): the same path as the app's, for app_id, by operator_id. */
void notify__send_as(struct notify_engine *n, struct http_req *req, const char *app_id,
                     const char *operator_id, const char *apps_json);

/* The reads shared by the app's routes (app set) and the console's (app NULL: the apps of
 * apps_json, NULL every app; ?app_id= narrows): queries.c. Each answers itself. */
void notify__notifications_page(struct notify_engine *n, struct http_req *req, const char *app,
                                const char *apps_json);
void notify__notification_get(struct notify_engine *n, struct http_req *req, const char *app,
                              const char *apps_json);
/* Cancels a scheduled notification that has not started (200, 409 otherwise, 404 another
 * app's). The app's route: app set; the console's: app NULL, the notification's app must be in
 * apps_json (NULL: every app), and the write is audited for operator_id. */
void notify__notification_cancel(struct notify_engine *n, struct http_req *req, const char *app,
                                 const char *apps_json, const char *operator_id);
void notify__deliveries_page(struct notify_engine *n, struct http_req *req, const char *app,
                             const char *apps_json);
/* One delivery with its attempt_log (404: none, or another app's / outside apps_json). */
void notify__delivery_get(struct notify_engine *n, struct http_req *req, const char *app,
                          const char *apps_json);

/* ---- JSON of rows (queries.c) */

/* Row i of r as an object named by cols (one name per column; a name starting with '=' is a
 * JSON text column, parsed; NULL skips the column). */
cJSON *notify__eng_row_json(const struct store_rows *r, int i, const char *const *cols);
/* The notification columns of SQL_NOTIFICATIONS_* and the delivery columns of
 * SQL_DELIVERIES_*, as notify__eng_row_json names them. */
extern const char *const notify__eng_notification_cols[];
extern const char *const notify__eng_delivery_cols[];
extern const char *const notify__eng_attempt_cols[];

/* ?page=&page_size= (1, 20; at most 100). false after answering 422. */
bool notify__eng_paging(struct http_req *req, int64_t *page, int64_t *size);
/* An optional query parameter into out; false after answering 422 (too long). out[0] = 0
 * when absent. */
bool notify__eng_query_text(struct http_req *req, const char *name, char *out, size_t n);
/* An optional integer query parameter (ms times): KIT_INT_ABSENT when absent; false after
 * answering 422. */
bool notify__eng_query_int(struct http_req *req, const char *name, int64_t *out);
/* The paged answer {"count","results","page","page_size"} of count and rows. */
void notify__eng_respond_page(struct http_req *req, int64_t count, const struct store_rows *rows,
                              const char *const *cols, int64_t page, int64_t size);
/* Whether app is in the JSON array text apps_json (NULL: every app). */
bool notify__eng_app_in(const char *apps_json, const char *app);
/* The job context of a read: the module and an id. */
struct nctx {
    struct notify_engine *n;
    char app_id[72];
    char id[72];
    char operator_id[72];
    char *apps_json; /* owned */
    int64_t page, size;
    bool app_named; /* a console list narrowed by ?app_id=: its last step reads the app */
};
struct kit_job *notify__eng_job(struct http_req *req, struct notify_engine *n, const char *app_id);

#endif
