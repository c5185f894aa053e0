/*
 * Presence (docs/chat.md): a user is online while at least one of their WebSocket connections is
 * open, on any loop. The count lives in one process-wide table under a mutex (the rt watcher
 * calls in on every open and close). The first device to connect makes the user online: a
 * `presence` {user_id, online:true, last_seen:null} event goes to the users who share a direct
 * or group conversation with them (one store read, at most PRESENCE_AUDIENCE_MAX users; the frame
 * encoded once, published to each one's user topic on the bus). When the last device goes, the
 * user stays online for the grace (HERALD_PRESENCE_GRACE): a reconnect within it sends nothing.
 * After it, one write stores last_seen (when the last device went) and reads the audience, and
 * `presence` {user_id, online:false, last_seen} follows. A grace thread fires the offlines in
 * order (the grace is one constant, so a FIFO of departures is ordered by deadline).
 *
 * With several nodes (HERALD_REDIS_URL) each node's online users are also its members of the
 * shared set "p:<app>" (bus/bus_redis.h): a user is online when any node has them, an offline
 * event is not sent while another node still has the user, and /users/online lists every node's
 * users (docs/chat.md, "Presence across nodes").
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bus/bus.h"
#include "bus/bus_redis.h"
#include "chat/internal.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/frame.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "identity/app_auth.h"
#include "identity/identity.h"
#include "identity/user_auth.h"
#include "net/http.h"
#include "router/request.h"
#include "rt/rt.h"
#include "store/sql.h"
#include "store/store.h"

#define PRES_BUCKETS 4096

struct pres_entry { /* one per user online (or within its grace): sized to its ids */
    struct pres_entry *next;
    int64_t gone_at; /* > 0: the last one closed then; offline pending */
    int count;       /* open connections */
    bool announcing; /* the offline event's op is under way: online again waits for it */
    bool due;        /* a later departure's grace ended while announcing */
    uint8_t user_at; /* the user id starts at key + user_at */
    char key[];      /* the app id, NUL, the user id, NUL */
};

#define ENTRY_APP(e) ((e)->key)
#define ENTRY_USER(e) ((e)->key + (e)->user_at)

struct pres_gone { /* a departure waiting for its grace */
    struct pres_gone *next;
    int64_t gone_at;
    char app[JWT_APP_MAX + 1];
    char user[JWT_SUB_MAX + 1];
};

struct presence {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool stop;
    int inflight; /* store ops whose callback has not finished */
    int grace_ms;
    struct store *store; /* borrowed */
    struct rt *rt;       /* borrowed */
    struct pres_gone *head, *tail;
    struct pres_entry *buckets[PRES_BUCKETS];
    struct bus_redis *cluster;                                     /* borrowed; NULL: one node */
    void (*on_agent)(void *ud, const char *app, const char *user); /* service.c's routing */
    void *on_agent_ud;
    const char *node_id; /* borrowed: this node's id, in the routing's flags */
};

static unsigned hash_key(const char *app, const char *user)
{
    unsigned h = 2166136261u;
    for (const char *p = app; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    h = (h ^ '/') * 16777619u;
    for (const char *p = user; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h % PRES_BUCKETS;
}

/* The entry of (app, user), or NULL; with prev set to the link that points at it. Locked. */
static struct pres_entry *find(struct presence *p, const char *app, const char *user,
                               struct pres_entry ***link)
{
    struct pres_entry **l = &p->buckets[hash_key(app, user)];
    for (; *l != NULL; l = &(*l)->next)
        if (strcmp(ENTRY_APP(*l), app) == 0 && strcmp(ENTRY_USER(*l), user) == 0)
            break;
    if (link != NULL)
        *link = l;
    return *l;
}

/* ---- the events: audience from the store, frame encoded once, one publish per user */

struct pres_op {
    struct presence *p;
    bool online;
    int64_t last_seen;
    char app[JWT_APP_MAX + 1];
    char user[JWT_SUB_MAX + 1];
};

static void dispatch(struct presence *p, const char *app, const char *user, bool online,
                     int64_t last_seen);

/* The shared set of an app's online users (bus_redis.h) into out. */
static void shared_set(char *out, size_t n, const char *app)
{
    snprintf(out, n, "p:%s", app);
}

/* This node has the user online (in) or no longer (out), for the other nodes. */
static void share(struct presence *p, const char *app, const char *user, bool in)
{
    if (p->cluster == NULL)
        return;
    char set[JWT_APP_MAX + 3];
    shared_set(set, sizeof(set), app);
    bus_redis_set_member(p->cluster, set, user, in);
}

/* Another node has the user online. */
static bool online_elsewhere(struct presence *p, const char *app, const char *user)
{
    if (p->cluster == NULL)
        return false;
    char set[JWT_APP_MAX + 3];
    shared_set(set, sizeof(set), app);
    return bus_redis_has_remote(p->cluster, set, user);
}

/*
 * After an offline event: the entry waited for it. Back online meanwhile: now the online event;
 * gone again and its grace over: that offline; else the entry goes (or waits for its grace).
 */
static void after_offline(struct presence *p, const struct pres_op *o)
{
    struct pres_entry **link;
    int next = 0; /* 1 online, 2 offline */
    int64_t gone_at = 0;
    pthread_mutex_lock(&p->mu);
    struct pres_entry *e = find(p, o->app, o->user, &link);
    if (e != NULL) {
        e->announcing = false;
        if (e->count > 0) {
            next = 1;
        } else if (e->due) {
            e->due = false;
            e->announcing = true;
            gone_at = e->gone_at;
            next = 2;
        } else if (e->gone_at == o->last_seen) {
            *link = e->next;
            free(e);
        }
    }
    pthread_mutex_unlock(&p->mu);
    if (next != 0)
        dispatch(p, o->app, o->user, next == 1, gone_at);
}

static void op_done(int status, struct store_result *res, void *ud)
{
    struct pres_op *o = ud;
    const struct store_rows *r = status == 0 ? store_result_step(res, -1) : NULL;
    if (status != 0)
        log_warn("presence", "presence event of a user not sent: status %d", status);
    if (o->online && r != NULL && o->p->on_agent != NULL) { /* step 0: the user's kind */
        const struct store_rows *u = store_result_step(res, 0);
        const char *kind = u != NULL && u->nrows > 0 ? store_rows_text(u, 0, 1) : NULL;
        if (kind != NULL && strcmp(kind, "agent") == 0)
            o->p->on_agent(o->p->on_agent_ud, o->app, o->user);
    }
    if (r != NULL && r->nrows > 0) {
        struct buf b = BUF_INIT;
        buf_puts(&b, "{\"type\":\"presence\",\"user_id\":");
        buf_json_str(&b, o->user);
        if (o->online)
            buf_puts(&b, ",\"online\":true,\"last_seen\":null}");
        else
            buf_printf(&b, ",\"online\":false,\"last_seen\":%lld}", (long long)o->last_seen);
        struct frame *f = ws_frame_text(b.data, b.len);
        buf_release(&b);
        chat__publish_rows(o->p->rt, o->app, r, 0, NULL, f, 0);
        frame_unref(f);
    }
    store_result_free(res);
    struct presence *p = o->p;
    if (!o->online)
        after_offline(p, o);
    free(o);
    pthread_mutex_lock(&p->mu);
    p->inflight--;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* Starts the event of (app, user): online, or offline with last_seen stored first. Unlocked. */
static void dispatch(struct presence *p, const char *app, const char *user, bool online,
                     int64_t last_seen)
{
    struct pres_op *o = xcalloc(1, sizeof(*o));
    o->p = p;
    o->online = online;
    o->last_seen = last_seen;
    snprintf(o->app, sizeof(o->app), "%s", app);
    snprintf(o->user, sizeof(o->user), "%s", user);
    share(p, app, user, online);
    struct store_op *op = store_op_new();
    if (!online) {
        store_op_add(op, &SQL_USERS_LAST_SEEN_SET);
        store_bind_text(op, app);
        store_bind_text(op, user);
        store_bind_int(op, last_seen);
        store_op_add(op, &SQL_SUPPORT_AGENT_OFFLINE); /* an agent takes no new conversations */
        store_bind_text(op, app);
        store_bind_text(op, user);
        store_bind_text(op, p->node_id ? p->node_id : "");
    } else {
        store_op_add(op, &SQL_SERVICE_KINDS); /* an agent: the support queue is routed */
        store_bind_text(op, app);
        store_bind_text(op, user);
        store_bind_text(op, NULL);
    }
    store_op_add(op, &SQL_CONVERSATION_MEMBERS_CO);
    store_bind_text(op, app);
    store_bind_text(op, user);
    store_bind_int(op, PRESENCE_AUDIENCE_MAX);
    if (online)
        store_op_background(op); /* one per user coming online: store.h */
    pthread_mutex_lock(&p->mu);
    p->inflight++;
    pthread_mutex_unlock(&p->mu);
    int rc = online ? store_read(p->store, op, op_done, o) : store_write(p->store, op, op_done, o);
    if (rc != 0) { /* refused at once: done never runs */
        log_warn("presence", "presence event of a user not sent: the store refused (%d)", rc);
        if (!online)
            after_offline(p, o);
        free(o);
        pthread_mutex_lock(&p->mu);
        p->inflight--;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
}

/* ---- the routing's flag of a user online on another node too (no presence event) */

static void here_done(int status, struct store_result *res, void *ud)
{
    struct presence *p = ud;
    if (status != 0)
        log_warn("presence", "an agent's flag for this node not cleared: status %d", status);
    store_result_free(res);
    pthread_mutex_lock(&p->mu);
    p->inflight--;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* The user (online on another node as well) is connected here: the routing's flag for this
 * node (service.c; an agent's arrival routes the queue) — or no longer: the flag goes. */
static void here(struct presence *p, const char *app, const char *user, bool in)
{
    if (in) {
        if (p->on_agent != NULL)
            p->on_agent(p->on_agent_ud, app, user);
        return;
    }
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_SUPPORT_AGENT_OFFLINE);
    store_bind_text(op, app);
    store_bind_text(op, user);
    store_bind_text(op, p->node_id ? p->node_id : "");
    pthread_mutex_lock(&p->mu);
    p->inflight++;
    pthread_mutex_unlock(&p->mu);
    if (store_write(p->store, op, here_done, p) != 0) {
        log_warn("presence", "an agent's flag for this node not cleared: the store refused");
        pthread_mutex_lock(&p->mu);
        p->inflight--;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
}

/* ---- connections come and go (rt's watcher; any loop thread) */

static void on_session(struct rt_session *s, bool open, void *ud)
{
    struct presence *p = ud;
    struct pres_entry **link;
    bool announce = false;
    pthread_mutex_lock(&p->mu);
    struct pres_entry *e = find(p, s->app_id, s->user_id, &link);
    if (open) {
        if (e == NULL) {
            size_t la = strnlen(s->app_id, JWT_APP_MAX), lu = strnlen(s->user_id, RT_USER_MAX);
            e = xcalloc(1, sizeof(*e) + la + lu + 2);
            memcpy(e->key, s->app_id, la);
            e->user_at = (uint8_t)(la + 1);
            memcpy(e->key + e->user_at, s->user_id, lu);
            *link = e;
        }
        /* back within the grace: nothing; while the offline goes out: after it */
        announce = e->count++ == 0 && e->gone_at == 0 && !e->announcing;
        e->gone_at = 0;
    } else if (e != NULL && --e->count == 0) {
        struct pres_gone *g = xcalloc(1, sizeof(*g));
        e->gone_at = g->gone_at = clock_wall_ms();
        snprintf(g->app, sizeof(g->app), "%s", ENTRY_APP(e));
        snprintf(g->user, sizeof(g->user), "%s", ENTRY_USER(e));
        if (p->tail != NULL)
            p->tail->next = g;
        else
            p->head = g;
        p->tail = g;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    if (announce && online_elsewhere(p, s->app_id, s->user_id)) {
        share(p, s->app_id, s->user_id, true); /* already online on another node: no event */
        here(p, s->app_id, s->user_id, true);
    } else if (announce)
        dispatch(p, s->app_id, s->user_id, true, 0);
}

/* The grace thread: each departure whose grace has passed, still without a device, goes offline. */
static void *grace_main(void *arg)
{
    struct presence *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        if (p->head == NULL) {
            pthread_cond_wait(&p->cv, &p->mu);
            continue;
        }
        int64_t due = p->head->gone_at + p->grace_ms;
        int64_t now = clock_wall_ms();
        if (now < due) {
            struct timespec ts = {.tv_sec = due / 1000, .tv_nsec = (due % 1000) * 1000000};
            pthread_cond_timedwait(&p->cv, &p->mu, &ts);
            continue;
        }
        struct pres_gone *g = p->head;
        p->head = g->next;
        if (p->head == NULL)
            p->tail = NULL;
        struct pres_entry **link;
        struct pres_entry *e = find(p, g->app, g->user, &link);
        if (e != NULL && e->count == 0 && e->gone_at == g->gone_at && e->announcing) {
            e->due = true; /* after_offline sends it */
        } else if (e != NULL && e->count == 0 && e->gone_at == g->gone_at &&
                   online_elsewhere(p, g->app, g->user)) {
            *link = e->next; /* still online on another node: no offline event, no last_seen */
            free(e);
            share(p, g->app, g->user, false);
            pthread_mutex_unlock(&p->mu);
            here(p, g->app, g->user, false);
            pthread_mutex_lock(&p->mu);
        } else if (e != NULL && e->count == 0 && e->gone_at == g->gone_at) {
            e->announcing = true;
            pthread_mutex_unlock(&p->mu);
            dispatch(p, g->app, g->user, false, g->gone_at);
            pthread_mutex_lock(&p->mu);
        }
        free(g);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

struct presence *chat__presence_new(struct store *store, struct rt *rt, int grace_ms)
{
    struct presence *p = xcalloc(1, sizeof(*p));
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->store = store;
    p->rt = rt;
    p->grace_ms = grace_ms;
    if (pthread_create(&p->thread, NULL, grace_main, p) != 0)
        abort(); /* start-up: no thread, no server */
    rt_watch(rt, on_session, p);
    return p;
}

void chat__presence_flush(struct presence *p, int wait_ms)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->grace_ms = 0; /* every departure is due now, and so are the ones still to come */
    pthread_cond_broadcast(&p->cv);
    int64_t until = clock_wall_ms() + wait_ms;
    while ((p->head != NULL || p->inflight > 0) && clock_wall_ms() < until) {
        struct timespec ts = clock_deadline(CLOCK_REALTIME, 10);
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
    }
    pthread_mutex_unlock(&p->mu);
}

/*
 * After the server has stopped (the store too: a departure still in its grace, when
 * chat__presence_flush did not run, is dropped, its last_seen not stored). Waits for the events
 * under way. NULL-safe.
 */
void chat__presence_free(struct presence *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    pthread_mutex_lock(&p->mu);
    while (p->inflight > 0)
        pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
    while (p->head != NULL) {
        struct pres_gone *g = p->head;
        p->head = g->next;
        free(g);
    }
    for (int i = 0; i < PRES_BUCKETS; i++)
        while (p->buckets[i] != NULL) {
            struct pres_entry *e = p->buckets[i];
            p->buckets[i] = e->next;
            free(e);
        }
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

/* A device, or the last one gone within the grace (not once its offline is under way). */
static bool entry_online(const struct pres_entry *e)
{
    return e != NULL && (e->count > 0 || !e->announcing);
}

void chat__presence_on_agent(struct presence *p, void (*fn)(void *, const char *, const char *),
                             void *ud, const char *node_id)
{
    p->on_agent = fn;
    p->on_agent_ud = ud;
    p->node_id = node_id;
}

bool chat__presence_online(struct presence *p, const char *app, const char *user)
{
    pthread_mutex_lock(&p->mu);
    bool on = entry_online(find(p, app, user, NULL));
    pthread_mutex_unlock(&p->mu);
    return on || online_elsewhere(p, app, user);
}

void chat__presence_cluster(struct presence *p, struct bus_redis *cluster)
{
    p->cluster = cluster;
}

void chat__presence_peer(struct chat *c, const char *app, cJSON *conv)
{
    cJSON *peer = cJSON_GetObjectItemCaseSensitive(conv, "peer");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(peer, "id");
    if (cJSON_IsString(id))
        cJSON_AddBoolToObject(peer, "online",
                              chat__presence_online(c->presence, app, id->valuestring));
}

/* ---- GET /api/v1/presence?user_ids=a,b */

static void presence_done(struct kit_job *j)
{
    struct chctx *c = chat__ctx(j);
    if (j->status != 0) {
        kit_fail_store(j, "user", NULL);
        return;
    }
    const struct store_rows *r = store_result_step(j->res, 0);
    cJSON *arr = cJSON_CreateArray();
    const cJSON *it;
    cJSON_ArrayForEach(it, c->ids.json)
    {
        const char *uid = it->valuestring;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "user_id", uid);
        int row = -1;
        for (int k = 0; r != NULL && k < r->nrows && row < 0; k++) {
            const char *rid = store_rows_text(r, k, 0);
            if (rid != NULL && strcmp(rid, uid) == 0)
                row = k;
        }
        /* a user of another app, or none: offline and never seen, like one who never came */
        bool online = row >= 0 && chat__presence_online(c->chat->presence, c->app_id, uid);
        cJSON_AddBoolToObject(o, "online", online);
        if (row < 0 || store_rows_is_null(r, row, 1))
            cJSON_AddNullToObject(o, "last_seen");
        else
            cJSON_AddNumberToObject(o, "last_seen", (double)store_rows_int(r, row, 1));
        cJSON_AddItemToArray(arr, o);
    }
    cJSON *out = cJSON_CreateObject();
    cJSON_AddItemToObject(out, "results", arr);
    char *s = cJSON_PrintUnformatted(out);
    http_respond_json(j->req, 200, s, strlen(s));
    cJSON_free(s);
    cJSON_Delete(out);
}

static void presence_authed(struct http_req *req, const struct user_principal *pr, void *ud)
{
    char q[PRESENCE_IDS_MAX * 66 + 2];
    const char *raw = http_req_query(req);
    bool given = strncmp(raw, "user_ids=", 9) == 0 || strstr(raw, "&user_ids=") != NULL;
    int n = http_req_query_param(req, "user_ids", q, sizeof(q));
    if (n <= 0) {
        http_respond_error(req, 422, "validation_failed",
                           given && n < 0 ? "at most 100 user ids"
                                          : "user_ids is required: 1 to 100 user ids separated "
                                            "by commas",
                           "user_ids");
        return;
    }
    struct kit_job *j = chat__job_new(req, ud, pr);
    struct chctx *c = chat__ctx(j);
    cJSON *list = cJSON_CreateArray();
    char *rest = q;
    for (char *t = strsep(&rest, ","); t != NULL; t = strsep(&rest, ",")) {
        /* an empty item (a,,b) is a malformed id too */
        if (!kit_id_is_valid(t) || cJSON_GetArraySize(list) == PRESENCE_IDS_MAX) {
            http_respond_error(req, 422, "validation_failed",
                               kit_id_is_valid(t) ? "at most 100 user ids"
                                                  : "each user id is 1-64 characters of A-Z a-z "
                                                    "0-9 _ . @ : -",
                               "user_ids");
            cJSON_Delete(list);
            kit_job_end(j);
            return;
        }
        cJSON_AddItemToArray(list, cJSON_CreateString(t));
    }
    if (cJSON_GetArraySize(list) == 0) {
        http_respond_error(req, 422, "validation_failed", "give 1 to 100 user ids", "user_ids");
        cJSON_Delete(list);
        kit_job_end(j);
        return;
    }
    c->body = list; /* c->ids borrows it */
    c->ids.json = list;
    c->ids.n = cJSON_GetArraySize(list);
    c->ids_json = cJSON_PrintUnformatted(list);
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_USERS_LAST_SEEN);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->ids_json);
    kit_store(j, op, KIT_READ, presence_done);
}

/* App credentials (X-App-Key + X-App-Secret, or a bearer app token): the app asks, as no user. */
static void presence_app_authed(struct http_req *req, const char *app_id, void *ud)
{
    struct user_principal pr = {0};
    snprintf(pr.app_id, sizeof(pr.app_id), "%s", app_id);
    presence_authed(req, &pr, ud);
}

static void online_authed(struct http_req *req, const struct user_principal *pr, void *ud);

static void online_app_authed(struct http_req *req, const char *app_id, void *ud)
{
    struct user_principal pr = {0};
    snprintf(pr.app_id, sizeof(pr.app_id), "%s", app_id);
    online_authed(req, &pr, ud);
}

/* An end user's token, or the app's key and secret or app token (a business backend asking). */
static void either_auth(struct chat *c, struct http_req *req, user_auth_fn user, app_auth_fn app)
{
    if (http_req_header(req, "X-App-Key") != NULL || identity_bearer_is_app(c->id, req))
        identity_app_auth(c->id, req, app, c);
    else
        identity_user_auth(c->id, req, user, c);
}

void chat_presence_get(struct http_req *req, void *ud)
{
    either_auth(ud, req, presence_authed, presence_app_authed);
}

/* ---- GET /api/v1/users/online?page=&page_size= (this node's table and, with several nodes, the
 * other nodes' members of the app's shared set: docs/chat.md) */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

struct id_list {
    char **ids;
    size_t n, cap;
};

static void id_list_add(const char *id, void *ud)
{
    struct id_list *l = ud;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->ids = xrealloc(l->ids, l->cap * sizeof(*l->ids));
    }
    l->ids[l->n++] = xstrdup(id);
}

static void online_authed(struct http_req *req, const struct user_principal *pr, void *ud)
{
    struct chat *chat = ud;
    struct chctx page = {0};
    if (!chat__paging(req, &page))
        return;
    struct presence *p = chat->presence;
    struct id_list l = {0};
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < PRES_BUCKETS; i++)
        for (struct pres_entry *e = p->buckets[i]; e != NULL; e = e->next)
            if (strcmp(ENTRY_APP(e), pr->app_id) == 0 && entry_online(e))
                id_list_add(ENTRY_USER(e), &l);
    pthread_mutex_unlock(&p->mu);
    if (p->cluster != NULL) {
        char set[JWT_APP_MAX + 3];
        shared_set(set, sizeof(set), pr->app_id);
        bus_redis_each_remote(p->cluster, set, id_list_add, &l);
    }
    char **ids = l.ids;
    size_t n = 0; /* sorted, each once (a user may be online on several nodes) */
    if (l.n > 0) {
        qsort(ids, l.n, sizeof(*ids), cmp_str);
        for (size_t i = 0; i < l.n; i++) {
            if (n > 0 && strcmp(ids[n - 1], ids[i]) == 0)
                free(ids[i]);
            else
                ids[n++] = ids[i];
        }
    }
    struct buf b = BUF_INIT;
    buf_printf(&b, "{\"count\":%zu,\"results\":[", n);
    size_t from = (size_t)((page.page - 1) * page.page_size);
    for (size_t i = from; i < n && i < from + (size_t)page.page_size; i++) {
        buf_puts(&b, i > from ? ",{\"user_id\":" : "{\"user_id\":");
        buf_json_str(&b, ids[i]);
        buf_puts(&b, ",\"online\":true}");
    }
    buf_printf(&b, "],\"page\":%lld,\"page_size\":%lld}", (long long)page.page,
               (long long)page.page_size);
    http_respond_json(req, 200, b.data, b.len);
    buf_release(&b);
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

void chat_users_online(struct http_req *req, void *ud)
{
    either_auth(ud, req, online_authed, online_app_authed);
}
