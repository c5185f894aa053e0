/*
 * Real-time protocol frame dispatch; see rt.h. Frames pass the strict JSON check of request bodies
 * (core/json_check: no repeated keys, no \u0000 cut short), then are parsed with cJSON (a
 * ping is a few dozen bytes, checked and parsed in well under a microsecond) and answers are
 * written with the escaping writer in core/buf.
 */
#include "rt/rt.h"

#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/frame.h"
#include "core/err.h"
#include "core/json_check.h"
#include "core/xalloc.h"
#include "identity/identity.h"
#include "identity/internal.h"
#include "identity/revoke.h"
#include "identity/user_auth.h"
#include "net/http.h"
#include "router/request.h"
#include "rt/internal.h"

#define RT_CMDS_MAX 32

struct rt_cmd {
    const char *type;
    rt_cmd_fn fn;
    void *ud;
};

/* A subscription of an operator's session to a monitor topic. */
struct rt_monitor_sub {
    struct bus_sub sub;
    struct rt_session *s;
};

/* An operator session's own state (rt_session.op). */
struct rt_operator {
    int64_t iat_ms;  /* its token's issue time: a revocation after it closes it */
    char *apps_json; /* owned: the apps it monitors (a JSON array), NULL every app */
    int nmonitor;
    struct rt_monitor_sub *monitor; /* owned: one per monitored app's topic "m:<app>" (or
                                       "m:*") */
    char id[JWT_SUB_MAX + 1];
};

struct rt {
    struct identity *id;
    _Atomic(struct server *) srv; /* set once the server runs */
    int nloops;
    struct bus *bus;
    atomic_uint_fast64_t next_id; /* session ids */
    _Atomic int64_t cursor;       /* the newest event cursor known here (hello's cursor) */
    struct rt_cmd cmds[RT_CMDS_MAX];
    int ncmds;
    struct {
        rt_watch_fn fn;
        void *ud;
    } watch[RT_WATCH_MAX];
    int nwatch;
    rt_operator_auth_fn op_auth;
    void *op_auth_ud;
    atomic_int nmonitors; /* open monitor sessions, all loops (rt_has_monitors) */
};

void rt_send_error(struct ws_conn *c, const char *code, const char *message, const char *field)
{
    struct buf b = BUF_INIT;
    buf_puts(&b, "{\"type\":\"error\",\"code\":");
    buf_json_str(&b, code);
    buf_puts(&b, ",\"message\":");
    buf_json_str(&b, message);
    if (field) {
        buf_puts(&b, ",\"field\":");
        buf_json_str(&b, field);
    }
    buf_putc(&b, '}');
    ws_conn_send_text(c, b.data, b.len);
    buf_release(&b);
}

void rt_cursor_seen(struct rt *rt, int64_t cursor)
{
    int64_t cur = atomic_load(&rt->cursor);
    while (cursor > cur && !atomic_compare_exchange_weak(&rt->cursor, &cur, cursor))
        ;
}

static void on_user_event(struct bus_sub *sub, const struct bus_event *ev);
static void on_app_event(struct bus_sub *sub, const struct bus_event *ev);
static void on_monitor_event(struct bus_sub *sub, const struct bus_event *ev);

/* An operator's session opens: its operator topics and the monitor topic of each of its apps
 * (once each: two roles may name the same app), or "m:*" for every app; hello names the
 * operator and the apps (null: every app). */
static void operator_open(struct rt *rt, struct rt_session *s, struct buf *b)
{
    struct rt_operator *o = s->op;
    char topic[BUS_TOPIC_MAX + 1];
    bus_topic_operator(topic, o->id);
    bus_subscribe(rt->bus, s->loop, topic, &s->user_sub);
    bus_topic_operator(topic, "*");
    bus_subscribe(rt->bus, s->loop, topic, &s->app_sub);
    buf_puts(b, "null,\"operator\":{\"id\":");
    /* hello: {"type":"hello","user":null,"operator":{"id","apps"},...} */
    buf_json_str(b, o->id);
    buf_puts(b, ",\"apps\":");
    cJSON *apps = o->apps_json != NULL ? cJSON_Parse(o->apps_json) : NULL;
    int n = cJSON_IsArray(apps) ? cJSON_GetArraySize(apps) : 1;
    o->monitor = xcalloc((size_t)(n > 0 ? n : 1), sizeof(*o->monitor));
    if (apps == NULL) {
        buf_puts(b, "null");
        bus_topic_monitor(topic, "*");
        o->monitor[0] =
            (struct rt_monitor_sub){.sub = {.fn = on_monitor_event, .id = s->id}, .s = s};
        bus_subscribe(rt->bus, s->loop, topic, &o->monitor[0].sub);
        o->nmonitor = 1;
    } else {
        buf_putc(b, '[');
        const cJSON *a;
        cJSON_ArrayForEach(a, apps)
        {
            bool seen = !cJSON_IsString(a);
            for (const cJSON *e = apps->child; e != a && !seen; e = e->next)
                seen = cJSON_IsString(e) && strcmp(e->valuestring, a->valuestring) == 0;
            if (seen)
                continue;
            if (o->nmonitor > 0)
                buf_putc(b, ',');
            buf_json_str(b, a->valuestring);
            bus_topic_monitor(topic, a->valuestring);
            struct rt_monitor_sub *m = &o->monitor[o->nmonitor++];
            *m = (struct rt_monitor_sub){.sub = {.fn = on_monitor_event, .id = s->id}, .s = s};
            bus_subscribe(rt->bus, s->loop, topic, &m->sub);
        }
        buf_putc(b, ']');
    }
    cJSON_Delete(apps);
    buf_putc(b, '}');
    if (o->nmonitor > 0)
        atomic_fetch_add_explicit(&rt->nmonitors, 1, memory_order_relaxed);
}

bool rt_has_monitors(struct rt *rt)
{ /* with other nodes, theirs count too: their monitors get what this node publishes */
    return atomic_load_explicit(&rt->nmonitors, memory_order_relaxed) > 0 || bus_bridged(rt->bus);
}

/* The operator was revoked while its handshake was being authorized (before its topics were
 * subscribed above, so the REVOKE event went by): it closes at once. */
static void operator_check(struct rt *rt, struct rt_session *s)
{
    if (revoke_is_revoked(rt->id->revoke, REVOKE_OPERATOR, "", s->op->id, s->op->iat_ms))
        ws_conn_close(s->conn, RT_CLOSE_REVOKED, "token revoked");
}

static void on_open(struct ws_conn *c, void *ud)
{
    struct rt *rt = ud;
    struct rt_session *s = ws_conn_user(c);
    struct buf b = BUF_INIT;
    buf_puts(&b, "{\"type\":\"hello\",\"user\":");
    bool op = s && s->operator;
    int64_t cursor = 0;
    if (op) {
        s->conn = c;
        s->loop = ws_conn_loop(c);
        operator_open(rt, s, &b);
        cursor = atomic_load(&rt->cursor);
    } else if (s) {
        char topic[BUS_TOPIC_MAX + 1];
        int loop = ws_conn_loop(c);
        s->conn = c;
        s->loop = loop;
        bus_topic_user(topic, s->app_id, s->user_id);
        bus_subscribe(rt->bus, loop, topic, &s->user_sub);
        bus_topic_app(topic, s->app_id);
        bus_subscribe(rt->bus, loop, topic, &s->app_sub);
        /* read once subscribed, before the watchers run: an event published from now on with
         * a cursor at or below this one was committed before (publishers call rt_cursor_seen
         * first), so it is in what the client reads after hello (sync, or its first HTTP
         * load), and is not sent live; what the watchers cause (an agent's queue sweep) is
         * committed after, so above it */
        cursor = atomic_load(&rt->cursor);
        buf_puts(&b, "{\"id\":");
        buf_json_str(&b, s->user_id);
        buf_putc(&b, '}');
        for (int w = 0; w < rt->nwatch; w++)
            rt->watch[w].fn(s, true, rt->watch[w].ud);
    } else {
        buf_puts(&b, "{\"id\":null}");
        cursor = atomic_load(&rt->cursor);
    }
    if (s != NULL)
        s->hello_cursor = cursor;
    buf_puts(&b, ",\"session_id\":");
    buf_json_str(&b, ws_conn_session_id(c));
    buf_printf(&b, ",\"cursor\":\"%lld\",\"heartbeat_ms\":%d}", (long long)cursor,
               ws_conn_heartbeat_ms(c));
    ws_conn_send_text(c, b.data, b.len);
    buf_release(&b);
    if (op)
        operator_check(rt, s);
}

static void on_ping(struct rt_session *sess, const cJSON *msg, void *ud)
{
    (void)ud;
    struct ws_conn *c = sess->conn;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
    struct buf b = BUF_INIT;
    buf_puts(&b, "{\"type\":\"pong\"");
    if (id && (cJSON_IsString(id) || cJSON_IsNumber(id))) {
        char *s = cJSON_PrintUnformatted(id);
        if (s) {
            buf_puts(&b, ",\"id\":");
            buf_puts(&b, s);
            cJSON_free(s);
        }
    } else if (id && !cJSON_IsNull(id)) {
        buf_release(&b);
        rt_send_error(c, "validation_failed", "id must be a string or a number", "id");
        return;
    }
    buf_putc(&b, '}');
    ws_conn_send_text(c, b.data, b.len);
    buf_release(&b);
}

static void on_text(struct ws_conn *c, const char *data, size_t len, void *ud)
{
    struct rt *rt = ud;
    /* the same strict check as request bodies: no repeated keys, no \u0000 cut short */
    struct json_check_result chk;
    int rc = json_check(data, len, REQUEST_JSON_DEPTH, &chk);
    if (rc == ERR_INVAL) {
        rt_send_error(c, "validation_failed", chk.message, chk.path);
        return;
    }
    cJSON *msg = rc == 0 ? cJSON_ParseWithLength(data, len) : NULL;
    if (msg == NULL) {
        char why[224];
        snprintf(why, sizeof(why), "frame is not valid JSON: %s", chk.message);
        rt_send_error(c, "invalid_json", why, chk.path[0] ? chk.path : NULL);
        return;
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(msg, "type");
    if (!cJSON_IsObject(msg)) {
        rt_send_error(c, "validation_failed", "frame must be a JSON object", NULL);
    } else if (!cJSON_IsString(type)) {
        rt_send_error(c, "validation_failed", "type is required and must be a string", "type");
    } else {
        const struct rt_cmd *cmd = NULL;
        for (int i = 0; i < rt->ncmds && cmd == NULL; i++)
            if (strcmp(rt->cmds[i].type, type->valuestring) == 0)
                cmd = &rt->cmds[i];
        struct rt_session *s = ws_conn_user(c);
        if (s != NULL && !s->spoke)
            rt__replay_spoke(s, cmd != NULL && strcmp(cmd->type, "sync") == 0);
        if (cmd == NULL || s == NULL)
            rt_send_error(c, "unknown_type", "unknown frame type", "type");
        else if (s->operator&& strcmp(cmd->type, "ping") != 0)
            rt_send_error(c, "forbidden", "a monitoring operator's connection is read-only",
                          "type");
        else
            cmd->fn(s, msg, cmd->ud);
    }
    cJSON_Delete(msg);
}

static void session_free(struct rt_session *s)
{
    rt__replay_free(s);
    if (s->op != NULL) {
        free(s->op->monitor);
        free(s->op->apps_json);
        free(s->op);
    }
    free(s);
}

static void on_close(struct ws_conn *c, void *ud)
{
    struct rt *rt = ud;
    struct rt_session *s = ws_conn_user(c);
    if (s == NULL)
        return;
    if (s->conn) {
        bus_unsubscribe(rt->bus, ws_conn_loop(c), &s->user_sub);
        bus_unsubscribe(rt->bus, ws_conn_loop(c), &s->app_sub);
        int nmonitor = s->op != NULL ? s->op->nmonitor : 0;
        for (int i = 0; i < nmonitor; i++)
            bus_unsubscribe(rt->bus, ws_conn_loop(c), &s->op->monitor[i].sub);
        if (nmonitor > 0)
            atomic_fetch_sub_explicit(&rt->nmonitors, 1, memory_order_relaxed);
        for (int w = 0; w < rt->nwatch && !s->operator; w++)
            rt->watch[w].fn(s, false, rt->watch[w].ud);
    }
    s->conn = NULL;
    s->closed = true;
    if (s->holds == 0)
        session_free(s);
}

void rt_session_hold(struct rt_session *s)
{
    s->holds++;
    server_work_begin(atomic_load(&s->rt->srv), s->loop);
}

void rt_session_release(struct rt_session *s)
{
    struct server *srv = atomic_load(&s->rt->srv);
    int loop = s->loop;
    if (--s->holds == 0 && s->closed)
        session_free(s);
    server_work_end(srv, loop); /* last: the loop may end here */
}

void rt_session_post(struct rt_session *s, void (*fn)(void *arg), void *arg)
{
    server_post(atomic_load(&s->rt->srv), s->loop, fn, arg);
}

/* ---- bus events for one connection */

static void deliver(struct rt_session *s, const struct bus_event *ev)
{
    if (s->conn == NULL)
        return;
    if (ev->kind == BUS_KIND_FRAME && ev->frame != NULL) {
        int64_t cursor = ev->frame->cursor;
        if (cursor > 0 && cursor <= s->hello_cursor && !ev->remote)
            return; /* committed before hello (on_open): not news to this socket */
        if (cursor <= 0 || rt__replay_live(s, ev->frame))
            ws_conn_send_frame(s->conn, ev->frame);
    } else if (ev->kind == BUS_KIND_REVOKE &&
               (ev->arg[0] == '\0' || strcmp(ev->arg, s->session_id) == 0))
        ws_conn_close(s->conn, RT_CLOSE_REVOKED, "token revoked");
}

static void on_user_event(struct bus_sub *sub, const struct bus_event *ev)
{
    deliver((struct rt_session *)((char *)sub - offsetof(struct rt_session, user_sub)), ev);
}

static void on_app_event(struct bus_sub *sub, const struct bus_event *ev)
{
    deliver((struct rt_session *)((char *)sub - offsetof(struct rt_session, app_sub)), ev);
}

/* A monitor topic's event: its frame only. */
static void on_monitor_event(struct bus_sub *sub, const struct bus_event *ev)
{
    struct rt_monitor_sub *m =
        (struct rt_monitor_sub *)((char *)sub - offsetof(struct rt_monitor_sub, sub));
    if (ev->kind == BUS_KIND_FRAME)
        deliver(m->s, ev);
}

/* ---- handshake: the user's token (or demo id) decides */

/* Appends str to the session's text at *at; returns where it starts. */
static const char *session_text(struct rt_session *s, size_t *at, const char *str, size_t len)
{
    char *dst = s->text + *at;
    memcpy(dst, str, len);
    dst[len] = '\0';
    *at += len + 1;
    return dst;
}

/* A session of the app's user (operators: all ""), its strings copied into its allocation. */
static struct rt_session *session_new(struct rt *rt, const char *app_id, const char *user_id,
                                      const char *device_id, const char *session_id)
{
    size_t la = strnlen(app_id, JWT_APP_MAX), lu = strnlen(user_id, RT_USER_MAX),
           ld = strnlen(device_id, RT_DEVICE_MAX), ls = strnlen(session_id, REVOKE_SESSION_MAX);
    struct rt_session *s = xcalloc(1, sizeof(*s) + la + lu + ld + ls + 4);
    size_t at = 0;
    s->app_id = session_text(s, &at, app_id, la);
    s->user_id = session_text(s, &at, user_id, lu);
    s->device_id = session_text(s, &at, device_id, ld);
    s->session_id = session_text(s, &at, session_id, ls);
    s->rt = rt;
    s->opened_ms = clock_mono_ms();
    s->id = atomic_fetch_add(&rt->next_id, 1) + 1;
    s->user_sub.fn = on_user_event;
    s->user_sub.id = s->id;
    s->app_sub.fn = on_app_event;
    s->app_sub.id = s->id;
    return s;
}

static bool device_id_is_valid(const char *d)
{
    size_t n = strlen(d);
    if (n == 0 || n > RT_DEVICE_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = d[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-' || ch == '.' || ch == ':'))
            return false;
    }
    return true;
}

static void handshake_authed(struct http_req *req, const struct user_principal *p, void *ud)
{
    struct rt *rt = ud;
    char device[4 * RT_DEVICE_MAX];
    device[0] = '\0';
    bool given = http_req_has_query_param(req, "device_id");
    if (given && (http_req_query_param(req, "device_id", device, sizeof(device)) < 0 ||
                  !device_id_is_valid(device))) {
        http_respond_error(req, 422, "validation_failed",
                           "device_id must be 1-64 characters of A-Z a-z 0-9 _ - . :", "device_id");
        return;
    }
    struct rt_session *s = session_new(rt, p->app_id, p->user_id, device, p->session_id);
    s->demo = p->demo;
    if (!ws_accept(req, s))
        session_free(s);
}

static void on_handshake(struct http_req *req, void *ud)
{
    struct rt *rt = ud;
    char qtok[JWT_MAX_LEN + 1];
    const char *tok = NULL;
    size_t len = 0;
    if (rt->op_auth != NULL && identity_req_token(req, qtok, sizeof(qtok), &tok, &len) &&
        tok != NULL) {
        struct jwt_claims c;
        bool op = jwt_verify(rt->id->jwt, tok, len, JWT_TYP_OPERATOR, clock_wall_ms() / 1000, &c,
                             NULL) == 0;
        jwt_claims_release(&c);
        if (op) {
            rt->op_auth(req, tok, len, rt->op_auth_ud);
            return;
        }
    }
    identity_user_auth(rt->id, req, handshake_authed, rt);
}

/* The issue time (ms) of req's operator token, checked already: "iatm", else iat; 0 when it
 * cannot be read again (then any revocation of the operator counts). */
static int64_t token_iat_ms(struct rt *rt, struct http_req *req)
{
    char qtok[JWT_MAX_LEN + 1];
    const char *tok = NULL;
    size_t len = 0;
    int64_t ms = 0;
    if (!identity_req_token(req, qtok, sizeof(qtok), &tok, &len) || tok == NULL)
        return 0;
    struct jwt_claims c;
    if (jwt_verify(rt->id->jwt, tok, len, JWT_TYP_OPERATOR, clock_wall_ms() / 1000, &c, NULL) ==
        0) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(c.json, "iatm");
        ms = cJSON_IsNumber(m) ? (int64_t)m->valuedouble : c.iat * 1000;
    }
    jwt_claims_release(&c);
    return ms;
}

void rt_operator_auth(struct rt *rt, rt_operator_auth_fn fn, void *ud)
{
    rt->op_auth = fn;
    rt->op_auth_ud = ud;
}

void rt_operator_accept(struct rt *rt, struct http_req *req, const char *operator_id,
                        const char *apps_json)
{
    struct rt_session *s = session_new(rt, "", "", "", "");
    s->operator= true;
    s->op = xcalloc(1, sizeof(*s->op));
    snprintf(s->op->id, sizeof(s->op->id), "%s", operator_id);
    s->op->apps_json = apps_json != NULL ? xstrdup(apps_json) : NULL;
    s->op->iat_ms = token_iat_ms(rt, req);
    if (!ws_accept(req, s))
        session_free(s);
}

/* ---- revocation: a REVOKE event on the user's (or app's) topic closes its sockets */

static void on_revoked(enum revoke_kind kind, const char *app_id, const char *subject_id,
                       const char *session_id, void *ud)
{
    struct rt *rt = ud;
    if (atomic_load(&rt->srv) == NULL)
        return;
    char topic[BUS_TOPIC_MAX + 1];
    if (kind == REVOKE_OPERATOR || kind == REVOKE_RIGHTS) /* monitoring sockets ("": all) */
        bus_topic_operator(topic, subject_id[0] != '\0' ? subject_id : "*");
    else if (kind == REVOKE_APP)
        bus_topic_app(topic, subject_id);
    else
        bus_topic_user(topic, app_id, subject_id);
    struct bus_event *ev = bus_event_new(BUS_KIND_REVOKE, topic, NULL);
    if (kind == REVOKE_SESSION)
        snprintf(ev->arg, sizeof(ev->arg), "%s", session_id);
    bus_publish(rt->bus, ev);
}

static void wake_loop(int idx, void *ud)
{
    struct rt *rt = ud;
    struct server *srv = atomic_load(&rt->srv);
    if (srv != NULL)
        server_wake(srv, idx);
}

static void on_wake(int idx, void *ud)
{
    struct rt *rt = ud;
    bus_loop_run(rt->bus, idx);
}

struct identity *rt__identity(struct rt *rt)
{
    return rt->id;
}

struct bus *rt_bus(struct rt *rt)
{
    return rt->bus;
}

void rt_publish(struct rt *rt, const char *topic, const char *json, size_t len, uint64_t skip,
                int64_t cursor)
{
    struct frame *f = ws_frame_text(json, len);
    f->cursor = cursor;
    struct bus_event *ev = bus_event_new(BUS_KIND_FRAME, topic, f);
    ev->skip = skip;
    bus_publish(rt->bus, ev);
}

void rt_register(struct rt *rt, const char *type, rt_cmd_fn fn, void *ud)
{
    for (int i = 0; i < rt->ncmds; i++)
        if (strcmp(rt->cmds[i].type, type) == 0)
            abort(); /* a type registered twice: a programming error */
    if (rt->ncmds == RT_CMDS_MAX)
        abort(); /* raise RT_CMDS_MAX */
    rt->cmds[rt->ncmds++] = (struct rt_cmd){.type = type, .fn = fn, .ud = ud};
}

void rt_watch(struct rt *rt, rt_watch_fn fn, void *ud)
{
    if (rt->nwatch == RT_WATCH_MAX)
        abort(); /* raise RT_WATCH_MAX */
    rt->watch[rt->nwatch].fn = fn;
    rt->watch[rt->nwatch].ud = ud;
    rt->nwatch++;
}

/* ---- life cycle */

struct rt *rt_new(struct identity *id, int nloops)
{
    struct rt *rt = xcalloc(1, sizeof(*rt));
    rt->id = id;
    rt->nloops = nloops;
    rt->bus = bus_new(nloops, wake_loop, rt);
    rt_register(rt, "ping", on_ping, NULL);
    if (id->revoke)
        revoke_listen(id->revoke, on_revoked, rt);
    return rt;
}

void rt_attach(struct rt *rt, struct server *srv)
{
    atomic_store(&rt->srv, srv);
    /* An event published before (herald serve starts the notification queue's dispatcher
     * first) could wake no loop; a loop is woken only when its inbox goes from empty to not
     * empty, so without this its inbox would never be read again (audit F7). */
    for (int i = 0; srv != NULL && i < rt->nloops; i++)
        server_wake(srv, i);
}

void rt_free(struct rt *rt)
{
    if (rt == NULL)
        return;
    bus_free(rt->bus);
    free(rt);
}

static void on_tick(struct ws_conn *c, void *ud)
{
    (void)ud;
    struct rt_session *s = ws_conn_user(c);
    if (s != NULL && s->replay != NULL)
        rt__replay_tick(s);
}

void rt_ws_app(struct rt *rt, struct ws_app *app)
{
    app->on_handshake = on_handshake;
    app->on_open = on_open;
    app->on_text = on_text;
    app->on_close = on_close;
    app->on_wake = on_wake;
    app->on_tick = on_tick;
    app->ud = rt;
}
