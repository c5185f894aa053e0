/*
 * Real-time protocol frame dispatch; see rt.h. Frames pass the strict JSON check of request bodies
 * (core/json_check: no repeated keys, no \u0000 cut short), then are parsed with cJSON (a
 * ping is a few dozen bytes, checked and parsed in well under a microsecond) and answers are
 * written with the escaping writer in core/buf.
 */
#include "rt/rt.h"

#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/json_check.h"
#include "core/xalloc.h"
#include "identity/identity.h"
#include "identity/internal.h"
#include "identity/revoke.h"
#include "identity/user_auth.h"
#include "net/http.h"
#include "router/request.h"
#include "rt/sessions.h"

#define RT_CLOSE_REVOKED 4001 /* the user's tokens were revoked */

struct rt {
    struct identity *id;
    _Atomic(struct server *) srv; /* set once the server runs */
    int nloops;
    struct rt_sessions **loops; /* one table per loop, owned by that loop */
};

static void send_error(struct ws_conn *c, const char *code, const char *message, const char *field)
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

static void on_open(struct ws_conn *c, void *ud)
{
    struct rt *rt = ud;
    struct rt_session *s = ws_conn_user(c);
    struct buf b = BUF_INIT;
    buf_puts(&b, "{\"type\":\"hello\",\"user\":{\"id\":");
    if (s) {
        s->conn = c;
        rt_sessions_add(rt->loops[ws_conn_loop(c)], s);
        buf_json_str(&b, s->user_id);
    } else {
        buf_puts(&b, "null");
    }
    buf_puts(&b, "},\"session_id\":");
    buf_json_str(&b, ws_conn_session_id(c));
    /* no events exist yet (chat and notifications come with later issues): cursor "0" */
    buf_printf(&b, ",\"cursor\":\"0\",\"heartbeat_ms\":%d}", ws_conn_heartbeat_ms(c));
    ws_conn_send_text(c, b.data, b.len);
    buf_release(&b);
}

static void on_ping(struct ws_conn *c, const cJSON *msg)
{
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
        send_error(c, "validation_failed", "id must be a string or a number", "id");
        return;
    }
    buf_putc(&b, '}');
    ws_conn_send_text(c, b.data, b.len);
    buf_release(&b);
}

static void on_text(struct ws_conn *c, const char *data, size_t len, void *ud)
{
    (void)ud;
    /* the same strict check as request bodies: no repeated keys, no \u0000 cut short */
    struct json_check_result chk;
    int rc = json_check(data, len, REQUEST_JSON_DEPTH, &chk);
    if (rc == ERR_INVAL) {
        send_error(c, "validation_failed", chk.message, chk.path);
        return;
    }
    cJSON *msg = rc == 0 ? cJSON_ParseWithLength(data, len) : NULL;
    if (msg == NULL) {
        char why[224];
        snprintf(why, sizeof(why), "frame is not valid JSON: %s", chk.message);
        send_error(c, "invalid_json", why, chk.path[0] ? chk.path : NULL);
        return;
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(msg, "type");
    if (!cJSON_IsObject(msg)) {
        send_error(c, "validation_failed", "frame must be a JSON object", NULL);
    } else if (!cJSON_IsString(type)) {
        send_error(c, "validation_failed", "type is required and must be a string", "type");
    } else if (strcmp(type->valuestring, "ping") == 0) {
        on_ping(c, msg);
    } else {
        send_error(c, "unknown_type", "unknown frame type", "type");
    }
    cJSON_Delete(msg);
}

static void on_close(struct ws_conn *c, void *ud)
{
    struct rt *rt = ud;
    struct rt_session *s = ws_conn_user(c);
    if (s == NULL)
        return;
    if (s->conn)
        rt_sessions_remove(rt->loops[ws_conn_loop(c)], s);
    free(s);
}

/* ---- handshake: the user's token (or demo id) decides */

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
    (void)ud;
    char device[4 * RT_DEVICE_MAX];
    device[0] = '\0';
    const char *q = http_req_query(req);
    bool given = q && (strncmp(q, "device_id=", 10) == 0 || strstr(q, "&device_id="));
    if (given && (http_req_query_param(req, "device_id", device, sizeof(device)) < 0 ||
                  !device_id_is_valid(device))) {
        http_respond_error(req, 422, "validation_failed",
                           "device_id must be 1-64 characters of A-Z a-z 0-9 _ - . :", "device_id");
        return;
    }
    struct rt_session *s = xcalloc(1, sizeof(*s));
    snprintf(s->app_id, sizeof(s->app_id), "%s", p->app_id);
    size_t ulen = strnlen(p->user_id, sizeof(s->user_id) - 1); /* ids are checked: <= 64 */
    memcpy(s->user_id, p->user_id, ulen);
    snprintf(s->device_id, sizeof(s->device_id), "%s", device);
    snprintf(s->session_id, sizeof(s->session_id), "%s", p->session_id);
    s->demo = p->demo;
    if (!ws_accept(req, s))
        free(s);
}

static void on_handshake(struct http_req *req, void *ud)
{
    struct rt *rt = ud;
    identity_user_auth(rt->id, req, handshake_authed, rt);
}

/* ---- revocation: close the subject's sockets on every loop */

struct revoked_post {
    struct rt *rt;
    int loop;
    enum revoke_kind kind;
    char app_id[JWT_APP_MAX + 1];
    char subject_id[JWT_SUB_MAX + 1];
    char session_id[REVOKE_SESSION_MAX + 1]; /* REVOKE_SESSION: the one session to close */
};

/* ud: NULL for every session of the user, or the session id whose connections close. */
static void close_revoked(struct rt_session *s, void *ud)
{
    const char *only = ud;
    if (s->conn && (only == NULL || strcmp(s->session_id, only) == 0))
        ws_conn_close(s->conn, RT_CLOSE_REVOKED, "token revoked");
}

static void revoked_on_loop(void *arg)
{
    struct revoked_post *p = arg;
    struct rt_sessions *t = p->rt->loops[p->loop];
    if (p->kind == REVOKE_USER)
        rt_sessions_each(t, p->app_id, p->subject_id, close_revoked, NULL);
    else if (p->kind == REVOKE_SESSION)
        rt_sessions_each(t, p->app_id, p->subject_id, close_revoked, p->session_id);
    else if (p->kind == REVOKE_APP)
        rt_sessions_each(t, p->subject_id, NULL, close_revoked, NULL);
    free(p);
}

static void on_revoked(enum revoke_kind kind, const char *app_id, const char *subject_id,
                       const char *session_id, void *ud)
{
    struct rt *rt = ud;
    struct server *srv = atomic_load(&rt->srv);
    if (srv == NULL || kind == REVOKE_OPERATOR)
        return;
    for (int i = 0; i < rt->nloops; i++) {
        struct revoked_post *p = xcalloc(1, sizeof(*p));
        p->rt = rt;
        p->loop = i;
        p->kind = kind;
        snprintf(p->app_id, sizeof(p->app_id), "%s", app_id);
        snprintf(p->subject_id, sizeof(p->subject_id), "%s", subject_id);
        snprintf(p->session_id, sizeof(p->session_id), "%s", session_id);
        server_post(srv, i, revoked_on_loop, p);
    }
}

/* ---- life cycle */

struct rt *rt_new(struct identity *id, int nloops)
{
    struct rt *rt = xcalloc(1, sizeof(*rt));
    rt->id = id;
    rt->nloops = nloops;
    rt->loops = xcalloc((size_t)nloops, sizeof(*rt->loops));
    for (int i = 0; i < nloops; i++)
        rt->loops[i] = rt_sessions_new();
    if (id->revoke)
        revoke_listen(id->revoke, on_revoked, rt);
    return rt;
}

void rt_attach(struct rt *rt, struct server *srv)
{
    atomic_store(&rt->srv, srv);
}

void rt_free(struct rt *rt)
{
    if (rt == NULL)
        return;
    for (int i = 0; i < rt->nloops; i++)
        rt_sessions_free(rt->loops[i]);
    free(rt->loops);
    free(rt);
}

void rt_ws_app(struct rt *rt, struct ws_app *app)
{
    app->on_handshake = on_handshake;
    app->on_open = on_open;
    app->on_text = on_text;
    app->on_close = on_close;
    app->ud = rt;
}
