/*
 * The bus across nodes through Redis; see bus_redis.h. Keys (docs/deployment.md):
 *
 *   herald:bus                  the channel: "F<node>\n<n> <cursor>\n<topic 1>\n...<topic n>\n
 *                               <frame>" (one frame for n topics: a message to a room's members
 *                               is one publish; cursor the frame's, 0 for none) and
 * "P<node>\n<+|->\n<set>\n<member>" (a set change) herald:nodes                sorted set: node id
 * -> its last heartbeat (ms); live: < 5 s old herald:n:<node>:sets        the names of the node's
 * sets herald:n:<node>:s:<set>     the node's members of a set
 *
 * A node's keys expire KEY_TTL_MS after its last heartbeat, so a node that dies leaves nothing
 * behind for long. The writer thread also re-reads the other live nodes' sets every RESYNC_MS
 * and replaces the mirror: a change missed while the subscription was away, or the members of
 * a node that died, are right again within that time.
 */
#include "bus/bus_redis.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "bus/bus.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/frame.h"
#include "core/log.h"
#include "core/redis_url.h"
#include "core/smap.h"
#include "core/xalloc.h"

#define CHANNEL "herald:bus"
#define NODES_KEY "herald:nodes"
#define BEAT_MS 1000
#define LIVE_MS 5000     /* a node whose heartbeat is older is not counted */
#define KEY_TTL_MS 10000 /* a node's keys outlive its last heartbeat this long */
#define RESYNC_MS 2000
#define PRUNE_MS 30000   /* the nodes' sorted set forgets nodes gone for a minute */
#define QUEUE_MAX 200000 /* events waiting for the writer; past it new ones are dropped */
#define GROUP_TOPICS 512 /* topics of one frame in one publish, at most */
#define BACKOFF_MS 500
#define READY_MS 3000

/* "a" US "b" (US: the unit separator, never in a set name, node id or user id) into out. */
static void join2(struct buf *out, const char *a, const char *b)
{
    out->len = 0;
    buf_puts(out, a);
    buf_putc(out, '\x1f');
    buf_puts(out, b);
}

/* ---- the module */

enum item_kind { IT_FRAME, IT_MEMBER };

struct item {
    struct item *next;
    enum item_kind kind;
    bool in;
    struct frame *frame; /* IT_FRAME: a reference */
    char *a;             /* IT_FRAME: the topic; IT_MEMBER: the set */
    char *b;             /* IT_MEMBER: the member */
};

struct bus_redis {
    struct bus *bus;
    struct redis_url url;
    char node[BUS_REDIS_NODE_LEN + 1];
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* the writer: items queued (or stop) */
    pthread_cond_t stop_cv; /* a back-off sleep: stop */
    bool stop;
    pthread_t writer, reader;
    bool writer_started, reader_started;
    struct item *head, *tail;
    size_t nitems;
    uint64_t dropped;   /* events dropped since the writer last took the count */
    struct smap local;  /* "set US member" of this node */
    struct smap sets;   /* this node's set names -> members */
    struct smap remote; /* "node US set US member" of the other live nodes */
    struct smap rcount; /* "set US member" -> how many other nodes have it */
    int sub_fd;         /* the subscription's socket, -1 when none (stop shuts it down) */
    atomic_bool subscribed;
    atomic_llong last_ok; /* wall ms of the writer's last answered heartbeat */
    redisContext *pub;    /* the writer thread's */
    void (*on_cursor)(int64_t cursor, void *ud); /* under mu */
    void *on_cursor_ud;
};

void bus_redis_on_cursor(struct bus_redis *r, void (*fn)(int64_t cursor, void *ud), void *ud)
{
    pthread_mutex_lock(&r->mu);
    r->on_cursor = fn;
    r->on_cursor_ud = ud;
    pthread_mutex_unlock(&r->mu);
}

const char *bus_redis_node(const struct bus_redis *r)
{
    return r->node;
}

bool bus_redis_is_ready(struct bus_redis *r)
{
    return atomic_load(&r->subscribed) && clock_wall_ms() - atomic_load(&r->last_ok) < READY_MS;
}

static void item_free(struct item *it)
{
    frame_unref(it->frame);
    free(it->a);
    free(it->b);
    free(it);
}

/* Queues it (taken). Under mu. */
static void enqueue(struct bus_redis *r, struct item *it)
{
    if (r->tail != NULL)
        r->tail->next = it;
    else
        r->head = it;
    r->tail = it;
    r->nitems++;
    if (r->nitems == 1)
        pthread_cond_signal(&r->cv);
}

/* The bus bridge: a frame event of this node goes out to the others. Any thread. */
static void bridge(const struct bus_event *ev, void *ud)
{
    struct bus_redis *r = ud;
    pthread_mutex_lock(&r->mu);
    if (r->nitems >= QUEUE_MAX || r->pub == NULL) { /* behind, or Redis away: live delivery to
                                                        other nodes is lost; their clients sync */
        r->dropped++;
        pthread_mutex_unlock(&r->mu);
        return;
    }
    struct item *it = xcalloc(1, sizeof(*it));
    it->kind = IT_FRAME;
    it->frame = frame_ref(ev->frame);
    it->a = xstrdup(ev->topic);
    enqueue(r, it);
    pthread_mutex_unlock(&r->mu);
}

void bus_redis_set_member(struct bus_redis *r, const char *set, const char *member, bool in)
{
    struct buf k = BUF_INIT;
    join2(&k, set, member);
    pthread_mutex_lock(&r->mu);
    bool had = smap_get(&r->local, k.data) != NULL;
    if (had != in) {
        struct smap_entry *s = smap_add(&r->sets, set);
        if (in) {
            smap_add(&r->local, k.data)->count = 1;
            s->count++;
        } else {
            smap_del(&r->local, k.data);
            s->count--;
        }
        struct item *it = xcalloc(1, sizeof(*it));
        it->kind = IT_MEMBER;
        it->in = in;
        it->a = xstrdup(set);
        it->b = xstrdup(member);
        enqueue(r, it);
    }
    pthread_mutex_unlock(&r->mu);
    buf_release(&k);
}

bool bus_redis_has_remote(struct bus_redis *r, const char *set, const char *member)
{
    struct buf k = BUF_INIT;
    join2(&k, set, member);
    pthread_mutex_lock(&r->mu);
    struct smap_entry *e = smap_get(&r->rcount, k.data);
    bool has = e != NULL && e->count > 0;
    pthread_mutex_unlock(&r->mu);
    buf_release(&k);
    return has;
}

void bus_redis_each_remote(struct bus_redis *r, const char *set,
                           void (*fn)(const char *member, void *ud), void *ud)
{
    size_t n = strlen(set);
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->rcount.nb; i++)
        for (struct smap_entry *e = r->rcount.b[i]; e != NULL; e = e->next)
            if (e->count > 0 && strncmp(e->key, set, n) == 0 && e->key[n] == '\x1f')
                fn(e->key + n + 1, ud);
    pthread_mutex_unlock(&r->mu);
}

/* A remote node's change of one member. Under mu. */
static void remote_change(struct bus_redis *r, const char *node, const char *set,
                          const char *member, bool in)
{
    struct buf k = BUF_INIT, c = BUF_INIT;
    join2(&c, set, member);
    join2(&k, node, c.data);
    bool had = smap_get(&r->remote, k.data) != NULL;
    if (in && !had) {
        smap_add(&r->remote, k.data)->count = 1;
        smap_add(&r->rcount, c.data)->count++;
    } else if (!in && had) {
        smap_del(&r->remote, k.data);
        struct smap_entry *e = smap_get(&r->rcount, c.data);
        if (e != NULL && --e->count <= 0)
            smap_del(&r->rcount, c.data);
    }
    buf_release(&k);
    buf_release(&c);
}

/* ---- connections */

static int sleep_or_stop(struct bus_redis *r, int ms)
{
    struct timespec ts = clock_deadline(CLOCK_REALTIME, ms);
    pthread_mutex_lock(&r->mu);
    while (!r->stop && pthread_cond_timedwait(&r->stop_cv, &r->mu, &ts) != ETIMEDOUT) {
    }
    bool stop = r->stop;
    pthread_mutex_unlock(&r->mu);
    return stop ? -1 : 0;
}

/* A command's reply, NULL (and c unusable) on a connection error; an error reply is logged. */
static redisReply *command(redisContext *c, const char *what, int argc, const char **argv,
                           const size_t *lens)
{
    redisReply *rep = redisCommandArgv(c, argc, argv, lens);
    if (rep != NULL && rep->type == REDIS_REPLY_ERROR) {
        log_warn("redis", "%s refused: %s", what, rep->str);
        freeReplyObject(rep);
        return NULL;
    }
    return rep;
}

/* A connection with AUTH and SELECT done, or NULL (the reason logged when said is false). */
static redisContext *connect_redis(struct bus_redis *r, bool *said)
{
    struct timeval tv = {.tv_sec = 2};
    redisContext *c = redisConnectWithTimeout(r->url.host, r->url.port, tv);
    const char *why = c == NULL ? "out of memory" : c->err ? c->errstr : NULL;
    if (why == NULL && r->url.pass[0] != '\0') {
        const char *argv[3] = {"AUTH", r->url.user, r->url.pass};
        int argc = r->url.user[0] != '\0' ? 3 : 2;
        if (argc == 2)
            argv[1] = r->url.pass;
        size_t lens[3] = {4, strlen(argv[1]), argc == 3 ? strlen(argv[2]) : 0};
        redisReply *rep = command(c, "AUTH", argc, argv, lens);
        why = rep == NULL ? "AUTH failed" : NULL;
        freeReplyObject(rep);
    }
    if (why == NULL && r->url.db != 0) {
        redisReply *rep = redisCommand(c, "SELECT %d", r->url.db);
        why = rep == NULL || rep->type == REDIS_REPLY_ERROR ? "SELECT failed" : NULL;
        freeReplyObject(rep);
    }
    if (why == NULL) {
        (void)redisEnableKeepAlive(c);
        if (*said)
            log_info("redis", "connected to %s:%d", r->url.host, r->url.port);
        *said = false;
        return c;
    }
    if (!*said)
        log_warn("redis", "cannot reach %s:%d: %s (retrying)", r->url.host, r->url.port, why);
    *said = true;
    if (c != NULL)
        redisFree(c);
    return NULL;
}

/* ---- the writer thread */

/* Appends one command; counts it. */
static void append(redisContext *c, int *n, int argc, const char **argv, const size_t *lens)
{
    redisAppendCommandArgv(c, argc, argv, lens);
    (*n)++;
}

/* Reads n replies; -1 when the connection failed. */
static int replies(redisContext *c, int n)
{
    for (int i = 0; i < n; i++) {
        redisReply *rep = NULL;
        if (redisGetReply(c, (void **)&rep) != REDIS_OK || rep == NULL)
            return -1;
        if (rep->type == REDIS_REPLY_ERROR) /* a refusal is not a lost connection */
            log_warn("redis", "a command was refused: %s", rep->str);
        freeReplyObject(rep);
    }
    return 0;
}

static void key_of(struct buf *b, const char *node, const char *set)
{
    b->len = 0;
    if (set == NULL)
        buf_printf(b, "herald:n:%s:sets", node);
    else
        buf_printf(b, "herald:n:%s:s:%s", node, set);
}

/* One member change: the key, the registry of set names, the announcement. */
static void append_member(struct bus_redis *r, redisContext *c, int *n, const struct item *it)
{
    struct buf key = BUF_INIT, reg = BUF_INIT, msg = BUF_INIT;
    key_of(&key, r->node, it->a);
    key_of(&reg, r->node, NULL);
    const char *v1[3] = {it->in ? "SADD" : "SREM", key.data, it->b};
    size_t l1[3] = {4, strlen(key.data), strlen(it->b)};
    append(c, n, 3, v1, l1);
    if (it->in) {
        const char *v2[3] = {"SADD", reg.data, it->a};
        size_t l2[3] = {4, strlen(reg.data), strlen(it->a)};
        append(c, n, 3, v2, l2);
    }
    buf_printf(&msg, "P%s\n%c\n%s\n%s", r->node, it->in ? '+' : '-', it->a, it->b);
    const char *v3[3] = {"PUBLISH", CHANNEL, msg.data};
    size_t l3[3] = {7, strlen(CHANNEL), msg.len};
    append(c, n, 3, v3, l3);
    buf_release(&key);
    buf_release(&reg);
    buf_release(&msg);
}

/* Sends a batch (freed here): frames grouped by frame, member changes. -1: connection lost. */
static int send_batch(struct bus_redis *r, struct item *batch)
{
    redisContext *c = r->pub;
    int n = 0;
    struct buf msg = BUF_INIT;
    while (batch != NULL) {
        struct item *it = batch;
        if (it->kind == IT_MEMBER) {
            append_member(r, c, &n, it);
            batch = it->next;
            item_free(it);
            continue;
        }
        /* the run of items with this frame: one publish */
        int k = 0;
        struct item *end = it;
        while (end != NULL && end->kind == IT_FRAME && end->frame == it->frame &&
               k < GROUP_TOPICS) {
            k++;
            end = end->next;
        }
        msg.len = 0;
        buf_printf(&msg, "F%s\n%d %lld\n", r->node, k, (long long)it->frame->cursor);
        for (struct item *x = it; x != end; x = x->next) {
            buf_puts(&msg, x->a);
            buf_putc(&msg, '\n');
        }
        buf_append(&msg, it->frame->data, it->frame->len);
        const char *v[3] = {"PUBLISH", CHANNEL, msg.data};
        size_t l[3] = {7, strlen(CHANNEL), msg.len};
        append(c, &n, 3, v, l);
        while (batch != end) {
            struct item *x = batch;
            batch = x->next;
            item_free(x);
        }
    }
    buf_release(&msg);
    return replies(c, n);
}

/* The names of this node's sets (a copy, NULL-terminated). */
static char **set_names(struct bus_redis *r)
{
    pthread_mutex_lock(&r->mu);
    char **names = xcalloc(r->sets.n + 1, sizeof(*names));
    size_t k = 0;
    for (size_t i = 0; i < r->sets.nb; i++)
        for (struct smap_entry *e = r->sets.b[i]; e != NULL; e = e->next)
            names[k++] = xstrdup(e->key);
    pthread_mutex_unlock(&r->mu);
    return names;
}

static void free_names(char **names)
{
    for (size_t i = 0; names[i] != NULL; i++)
        free(names[i]);
    free(names);
}

/* The heartbeat: this node is live, its keys live on. -1: connection lost. */
static int beat(struct bus_redis *r, int64_t now, bool prune)
{
    redisContext *c = r->pub;
    int n = 0;
    char score[24], ttl[24];
    snprintf(score, sizeof(score), "%lld", (long long)now);
    snprintf(ttl, sizeof(ttl), "%d", KEY_TTL_MS);
    const char *v[4] = {"ZADD", NODES_KEY, score, r->node};
    size_t l[4] = {4, strlen(NODES_KEY), strlen(score), strlen(r->node)};
    append(c, &n, 4, v, l);
    struct buf key = BUF_INIT;
    char **names = set_names(r);
    for (size_t i = 0; i == 0 || names[i - 1] != NULL; i++) { /* the registry, then each set */
        key_of(&key, r->node, i == 0 ? NULL : names[i - 1]);
        const char *pv[3] = {"PEXPIRE", key.data, ttl};
        size_t pl[3] = {7, strlen(key.data), strlen(ttl)};
        append(c, &n, 3, pv, pl);
    }
    if (prune) {
        char upto[24];
        snprintf(upto, sizeof(upto), "%lld", (long long)(now - 60000));
        const char *zv[4] = {"ZREMRANGEBYSCORE", NODES_KEY, "-inf", upto};
        size_t zl[4] = {16, strlen(NODES_KEY), 4, strlen(upto)};
        append(c, &n, 4, zv, zl);
    }
    free_names(names);
    buf_release(&key);
    if (replies(c, n) != 0)
        return -1;
    atomic_store(&r->last_ok, now);
    return 0;
}

/* After a (re)connection: this node's sets written again in full (Redis may have restarted, or
 * the keys expired while it was away). -1: connection lost. */
static int push_all(struct bus_redis *r)
{
    redisContext *c = r->pub;
    int n = 0;
    struct buf key = BUF_INIT;
    key_of(&key, r->node, NULL);
    const char *dv[2] = {"DEL", key.data};
    size_t dl[2] = {3, strlen(key.data)};
    append(c, &n, 2, dv, dl);
    char **names = set_names(r);
    for (size_t i = 0; names[i] != NULL; i++) {
        key_of(&key, r->node, names[i]);
        const char *v[2] = {"DEL", key.data};
        size_t l[2] = {3, strlen(key.data)};
        append(c, &n, 2, v, l);
    }
    pthread_mutex_lock(&r->mu); /* the members, as set_member left them */
    for (size_t i = 0; i < r->local.nb; i++)
        for (struct smap_entry *e = r->local.b[i]; e != NULL; e = e->next) {
            char *us = strchr(e->key, '\x1f');
            struct item it = {.kind = IT_MEMBER, .in = true};
            it.a = strndup(e->key, (size_t)(us - e->key));
            it.b = us + 1;
            append_member(r, c, &n, &it);
            free(it.a);
        }
    pthread_mutex_unlock(&r->mu);
    free_names(names);
    buf_release(&key);
    return replies(c, n);
}

/* The array reply of a command as strings (NULL on failure). */
static redisReply *array_of(redisContext *c, int argc, const char **argv)
{
    size_t lens[8];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    redisReply *rep = command(c, argv[0], argc, argv, lens);
    if (rep != NULL && rep->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(rep);
        return NULL;
    }
    return rep;
}

/* Reads the other live nodes' sets and replaces the mirror. -1: connection lost. */
static int resync(struct bus_redis *r, int64_t now)
{
    redisContext *c = r->pub;
    char from[24];
    snprintf(from, sizeof(from), "%lld", (long long)(now - LIVE_MS));
    redisReply *nodes = array_of(c, 4, (const char *[]){"ZRANGEBYSCORE", NODES_KEY, from, "+inf"});
    if (nodes == NULL)
        return c->err ? -1 : 0;
    struct smap remote = {0}, rcount = {0};
    struct buf key = BUF_INIT, a = BUF_INIT, b = BUF_INIT;
    int rc = 0;
    for (size_t i = 0; i < nodes->elements && rc == 0; i++) {
        const char *node = nodes->element[i]->str;
        if (node == NULL || strcmp(node, r->node) == 0)
            continue;
        key_of(&key, node, NULL);
        redisReply *sets = array_of(c, 2, (const char *[]){"SMEMBERS", key.data});
        if (sets == NULL) {
            rc = c->err ? -1 : 0;
            continue;
        }
        for (size_t s = 0; s < sets->elements && rc == 0; s++) {
            const char *set = sets->element[s]->str;
            if (set == NULL)
                continue;
            key_of(&key, node, set);
            redisReply *mem = array_of(c, 2, (const char *[]){"SMEMBERS", key.data});
            if (mem == NULL) {
                rc = c->err ? -1 : 0;
                continue;
            }
            for (size_t m = 0; m < mem->elements; m++) {
                if (mem->element[m]->str == NULL)
                    continue;
                join2(&a, set, mem->element[m]->str);
                join2(&b, node, a.data);
                if (smap_get(&remote, b.data) == NULL) {
                    smap_add(&remote, b.data)->count = 1;
                    smap_add(&rcount, a.data)->count++;
                }
            }
            freeReplyObject(mem);
        }
        freeReplyObject(sets);
    }
    freeReplyObject(nodes);
    buf_release(&key);
    buf_release(&a);
    buf_release(&b);
    if (rc != 0) {
        smap_clear(&remote);
        smap_clear(&rcount);
        return rc;
    }
    pthread_mutex_lock(&r->mu);
    smap_clear(&r->remote);
    smap_clear(&r->rcount);
    r->remote = remote;
    r->rcount = rcount;
    pthread_mutex_unlock(&r->mu);
    return 0;
}

static void drop_pub(struct bus_redis *r)
{
    pthread_mutex_lock(&r->mu);
    redisContext *c = r->pub;
    r->pub = NULL; /* the bridge drops events from now on */
    pthread_mutex_unlock(&r->mu);
    if (c != NULL)
        redisFree(c);
    atomic_store(&r->last_ok, 0);
}

static void *writer_main(void *arg)
{
    struct bus_redis *r = arg;
    int64_t next_beat = 0, next_sync = 0, next_prune = 0, dropped_said = 0;
    uint64_t dropped_total = 0;
    bool said = false;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        while (!r->stop && r->head == NULL && clock_wall_ms() < next_beat) {
            struct timespec ts = clock_deadline(CLOCK_REALTIME, next_beat - clock_wall_ms());
            pthread_cond_timedwait(&r->cv, &r->mu, &ts);
        }
        if (r->stop && (r->head == NULL || r->pub == NULL)) { /* what is queued goes first */
            pthread_mutex_unlock(&r->mu);
            break;
        }
        struct item *batch = r->head;
        r->head = r->tail = NULL;
        r->nitems = 0;
        uint64_t dropped = r->dropped;
        r->dropped = 0;
        bool connected = r->pub != NULL;
        pthread_mutex_unlock(&r->mu);
        int64_t now = clock_wall_ms();
        dropped_total += dropped;
        if (dropped_total > 0 && now - dropped_said >= 10000) { /* a line per 10 s at most */
            log_warn("redis", "%llu events not sent to other nodes (Redis away or behind)",
                     (unsigned long long)dropped_total);
            dropped_total = 0;
            dropped_said = now;
        }
        if (!connected) {
            while (batch != NULL) { /* written again in full once connected (push_all) */
                struct item *x = batch;
                batch = x->next;
                item_free(x);
            }
            redisContext *c = connect_redis(r, &said);
            if (c == NULL) {
                if (sleep_or_stop(r, BACKOFF_MS) != 0)
                    break;
                continue;
            }
            pthread_mutex_lock(&r->mu);
            r->pub = c;
            pthread_mutex_unlock(&r->mu);
            if (push_all(r) != 0) {
                drop_pub(r);
                continue;
            }
            next_beat = next_sync = 0;
        }
        if (batch != NULL && send_batch(r, batch) != 0) {
            log_warn("redis", "lost the connection to %s:%d (reconnecting)", r->url.host,
                     r->url.port);
            drop_pub(r);
            continue;
        }
        now = clock_wall_ms();
        if (now >= next_beat) {
            if (beat(r, now, now >= next_prune) != 0) {
                drop_pub(r);
                continue;
            }
            if (now >= next_prune)
                next_prune = now + PRUNE_MS;
            next_beat = now + BEAT_MS;
        }
        if (now >= next_sync) {
            if (resync(r, now) != 0) {
                drop_pub(r);
                continue;
            }
            next_sync = now + RESYNC_MS;
        }
    }
    drop_pub(r);
    pthread_mutex_lock(&r->mu);
    while (r->head != NULL) {
        struct item *x = r->head;
        r->head = x->next;
        item_free(x);
    }
    r->tail = NULL;
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* ---- the subscription thread */

/* One message of the channel from node != this one: published here, or applied to the mirror. */
static void on_message(struct bus_redis *r, const char *p, size_t len)
{
    const char *end = p + len;
    const char *nl = memchr(p, '\n', len);
    if (len < 2 || nl == NULL || (size_t)(nl - p - 1) != strlen(r->node))
        return;
    if (memcmp(p + 1, r->node, strlen(r->node)) == 0)
        return; /* this node's own */
    char node[BUS_REDIS_NODE_LEN + 1];
    memcpy(node, p + 1, BUS_REDIS_NODE_LEN);
    node[BUS_REDIS_NODE_LEN] = '\0';
    const char *q = nl + 1;
    if (p[0] == 'F') {
        char *sp;
        long n = strtol(q, &sp, 10);
        long long cursor = *sp == ' ' ? strtoll(sp + 1, NULL, 10) : 0;
        q = memchr(q, '\n', (size_t)(end - q));
        if (q == NULL || n <= 0 || n > GROUP_TOPICS || cursor < 0)
            return;
        q++;
        const char *topics = q;
        for (int i = 0; i < n; i++) { /* find the frame's start */
            q = memchr(q, '\n', (size_t)(end - q));
            if (q == NULL)
                return;
            q++;
        }
        struct frame *f = frame_new_copy(q, (size_t)(end - q));
        f->cursor = cursor;
        if (cursor > 0) { /* committed there, and so every cursor below it (store_pg.c) */
            pthread_mutex_lock(&r->mu);
            void (*fn)(int64_t, void *) = r->on_cursor;
            void *ud = r->on_cursor_ud;
            pthread_mutex_unlock(&r->mu);
            if (fn != NULL)
                fn(cursor, ud);
        }
        const char *t = topics;
        for (int i = 0; i < n; i++) {
            const char *te = memchr(t, '\n', (size_t)(end - t));
            char topic[BUS_TOPIC_MAX + 1];
            size_t tl = (size_t)(te - t) < BUS_TOPIC_MAX ? (size_t)(te - t) : BUS_TOPIC_MAX;
            memcpy(topic, t, tl);
            topic[tl] = '\0';
            struct bus_event *ev = bus_event_new(BUS_KIND_FRAME, topic, frame_ref(f));
            ev->remote = true;
            bus_publish(r->bus, ev);
            t = te + 1;
        }
        frame_unref(f);
    } else if (p[0] == 'P' && end - q > 2 && (q[0] == '+' || q[0] == '-') && q[1] == '\n') {
        bool in = q[0] == '+';
        const char *set = q + 2;
        const char *se = memchr(set, '\n', (size_t)(end - set));
        if (se == NULL)
            return;
        char *s = strndup(set, (size_t)(se - set));
        char *m = strndup(se + 1, (size_t)(end - se - 1));
        pthread_mutex_lock(&r->mu);
        remote_change(r, node, s, m, in);
        pthread_mutex_unlock(&r->mu);
        free(s);
        free(m);
    }
}

static void *reader_main(void *arg)
{
    struct bus_redis *r = arg;
    bool said = true; /* the writer says the first failure */
    for (;;) {
        pthread_mutex_lock(&r->mu);
        bool stop = r->stop;
        pthread_mutex_unlock(&r->mu);
        if (stop)
            break;
        redisContext *c = connect_redis(r, &said);
        if (c == NULL) {
            if (sleep_or_stop(r, BACKOFF_MS) != 0)
                break;
            continue;
        }
        redisReply *rep = redisCommand(c, "SUBSCRIBE %s", CHANNEL);
        if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
            freeReplyObject(rep);
            redisFree(c);
            if (sleep_or_stop(r, BACKOFF_MS) != 0)
                break;
            continue;
        }
        freeReplyObject(rep);
        pthread_mutex_lock(&r->mu);
        r->sub_fd = c->fd;
        stop = r->stop;
        pthread_mutex_unlock(&r->mu);
        if (stop)
            shutdown(c->fd, SHUT_RDWR);
        atomic_store(&r->subscribed, true);
        for (;;) {
            rep = NULL;
            if (redisGetReply(c, (void **)&rep) != REDIS_OK || rep == NULL)
                break;
            if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 &&
                rep->element[0]->type == REDIS_REPLY_STRING &&
                strcmp(rep->element[0]->str, "message") == 0 &&
                rep->element[2]->type == REDIS_REPLY_STRING)
                on_message(r, rep->element[2]->str, rep->element[2]->len);
            freeReplyObject(rep);
        }
        atomic_store(&r->subscribed, false);
        pthread_mutex_lock(&r->mu);
        r->sub_fd = -1;
        pthread_mutex_unlock(&r->mu);
        redisFree(c);
    }
    return NULL;
}

/* ---- lifecycle */

struct bus_redis *bus_redis_new(struct bus *bus, const char *url, const char *node, char *err,
                                size_t errlen)
{
    if (strlen(node) != BUS_REDIS_NODE_LEN ||
        strspn(node, "0123456789abcdef") != BUS_REDIS_NODE_LEN) {
        snprintf(err, errlen, "the node id must be %d hex characters", BUS_REDIS_NODE_LEN);
        return NULL;
    }
    struct bus_redis *r = xcalloc(1, sizeof(*r));
    if (redis_url_parse(url, &r->url, err, errlen) != 0) {
        free(r);
        return NULL;
    }
    r->bus = bus;
    r->sub_fd = -1;
    memcpy(r->node, node, BUS_REDIS_NODE_LEN + 1);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    pthread_cond_init(&r->stop_cv, NULL);
    if (pthread_create(&r->writer, NULL, writer_main, r) != 0) {
        snprintf(err, errlen, "cannot start the Redis writer thread");
        bus_redis_free(r);
        return NULL;
    }
    r->writer_started = true;
    if (pthread_create(&r->reader, NULL, reader_main, r) != 0) {
        snprintf(err, errlen, "cannot start the Redis subscription thread");
        bus_redis_free(r);
        return NULL;
    }
    r->reader_started = true;
    bus_set_bridge(bus, bridge, r);
    return r;
}

void bus_redis_free(struct bus_redis *r)
{
    if (r == NULL)
        return;
    bus_set_bridge(r->bus, NULL, NULL);
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_cond_broadcast(&r->cv);
    pthread_cond_broadcast(&r->stop_cv);
    if (r->sub_fd >= 0)
        shutdown(r->sub_fd, SHUT_RDWR); /* wakes the subscription's blocking read */
    pthread_mutex_unlock(&r->mu);
    if (r->writer_started)
        pthread_join(r->writer, NULL);
    if (r->reader_started)
        pthread_join(r->reader, NULL);
    smap_clear(&r->local);
    smap_clear(&r->sets);
    smap_clear(&r->remote);
    smap_clear(&r->rcount);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    pthread_cond_destroy(&r->stop_cv);
    explicit_bzero(r->url.pass, sizeof(r->url.pass));
    free(r);
}
