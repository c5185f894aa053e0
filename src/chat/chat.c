/*
 * The chat module's shared parts (see chat.h and internal.h): its routes, the request
 * context on the kit job, paging, the conversation JSON and the conversation.updated event.
 */
#include "chat/chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/internal.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/frame.h"
#include "core/rand.h"
#include "core/xalloc.h"
#include "identity/identity.h"
#include "identity/user_auth.h"
#include "kit/media_url.h"
#include "net/http.h"
#include "net/server.h"
#include "router/request.h"
#include "router/router.h"
#include "rt/rt.h"
#include "store/sql.h"
#include "store/store.h"
#include "kit/paging.h"

struct chat *chat_new(struct identity *id, struct rt *rt, int max_chars, int history_days,
                      int presence_grace_ms, int recall_window_ms)
{
    struct chat *c = xcalloc(1, sizeof(*c));
    c->recall_window_ms = recall_window_ms;
    c->history_days = history_days;
    c->id = id;
    c->rt = rt;
    c->max_chars = max_chars;
    c->presence = chat__presence_new(id->store, rt, presence_grace_ms);
    c->directs = chat__directs_new();
    c->support = chat__support_new(id->store);
    chat__presence_on_agent(c->presence, chat__support_agent_online, c, c->node_id);
    /* messages from before the search index: indexed before the server listens (a failure is
     * logged; the rest is indexed at the next start) */
    (void)chat__search_backfill(id->store, true);
    c->indexer = chat__search_indexer_new(id->store);
    if (history_days > 0)
        c->retention = chat__retention_new(id->store, history_days);
    chat__context_init(c);
    return c;
}

void chat_stop(struct chat *c)
{
    if (c == NULL)
        return;
    /* the server has closed every connection: the users it had go offline now, their
     * last_seen stored and their contacts told (here, and on the other nodes through Redis,
     * unless another node still has them), instead of being dropped with the grace */
    chat__presence_flush(c->presence, PRESENCE_FLUSH_MS);
    chat__retention_free(c->retention);
    c->retention = NULL;
    chat__search_indexer_free(c->indexer);
    c->indexer = NULL;
}

void chat_free(struct chat *c)
{
    if (c == NULL)
        return;
    chat_stop(c);
    chat__presence_free(c->presence);
    chat__support_free(c->support);
    chat__directs_free(c->directs);
    free(c);
}

void chat_register(struct chat *c, struct router *r)
{
    router_add(r, HTTP_M_POST, "/api/v1/conversations", chat_conv_create, c);
    router_add(r, HTTP_M_GET, "/api/v1/conversations", chat_conv_list, c);
    router_add(r, HTTP_M_GET, "/api/v1/conversations/{id}", chat_conv_get, c);
    router_add(r, HTTP_M_PATCH, "/api/v1/conversations/{id}", chat_conv_patch, c);
    router_add(r, HTTP_M_POST, "/api/v1/conversations/{id}/members", chat_members_add, c);
    router_add(r, HTTP_M_DELETE, "/api/v1/conversations/{id}/members/{user_id}",
               chat_members_remove, c);
    router_add(r, HTTP_M_PATCH, "/api/v1/conversations/{id}/members/{user_id}", chat_members_role,
               c);
    router_add(r, HTTP_M_POST, "/api/v1/conversations/{id}/leave", chat_conv_leave, c);
    router_add(r, HTTP_M_GET, "/api/v1/rooms", chat_rooms_list, c);
    router_add(r, HTTP_M_POST, "/api/v1/rooms/{id}/join", chat_rooms_join, c);
    router_add(r, HTTP_M_POST, "/api/v1/conversations/{id}/messages", chat_msg_send, c);
    router_add(r, HTTP_M_GET, "/api/v1/conversations/{id}/messages", chat_msg_history, c);
    router_add(r, HTTP_M_POST, "/api/v1/messages", chat_msg_send_to, c);
    router_add(r, HTTP_M_PATCH, "/api/v1/messages/{id}", chat_msg_edit, c);
    router_add(r, HTTP_M_POST, "/api/v1/messages/{id}/recall", chat_msg_recall, c);
    router_add(r, HTTP_M_POST, "/api/v1/conversations/{id}/read", chat_read, c);
    router_add(r, HTTP_M_GET, "/api/v1/sync", chat_sync, c);
    router_add(r, HTTP_M_GET, "/api/v1/events", chat_events_sse, c);
    router_add(r, HTTP_M_POST, "/api/v1/conversations/{id}/status", chat_conv_status, c);
    router_add(r, HTTP_M_POST, "/api/v1/conversations/{id}/transfer", chat_conv_transfer, c);
    router_add(r, HTTP_M_POST, "/api/v1/support/conversations", chat_support_open, c);
    router_add(r, HTTP_M_GET, "/api/v1/support/agents", chat_support_agents, c);
    router_add(r, HTTP_M_GET, "/api/v1/search/messages", chat_search, c);
    router_add(r, HTTP_M_GET, "/api/v1/quick-replies", chat_qr_list, c);
    router_add(r, HTTP_M_POST, "/api/v1/quick-replies", chat_qr_create, c);
    router_add(r, HTTP_M_GET, "/api/v1/quick-replies/{id}", chat_qr_get, c);
    router_add(r, HTTP_M_PATCH, "/api/v1/quick-replies/{id}", chat_qr_patch, c);
    router_add(r, HTTP_M_DELETE, "/api/v1/quick-replies/{id}", chat_qr_delete, c);
    rt_register(c->rt, "send", chat__ws_send, c);
    rt_register(c->rt, "read", chat__ws_read, c);
    rt_register(c->rt, "join", chat__ws_join, c);
    rt_register(c->rt, "leave", chat__ws_leave, c);
    rt_register(c->rt, "sync", chat__ws_sync, c);
    /* hello's cursor starts at the newest event stored */
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_EVENTS_LATEST);
    struct store_result *res = NULL;
    if (store_read_wait(c->id->store, op, &res) == 0)
        rt_cursor_seen(c->rt, store_rows_int(store_result_step(res, 0), 0, 0));
    store_result_free(res);
    router_add(r, HTTP_M_GET, "/api/v1/presence", chat_presence_get, c);
    router_add(r, HTTP_M_GET, "/api/v1/users/online", chat_users_online, c);
    rt_register(c->rt, "typing", chat__ws_typing, c);
    chat__monitor_register(c, r);
}

void chat__ctx_free(void *ctx)
{
    struct chctx *c = ctx;
    if (c->sess != NULL)
        rt_session_release(c->sess);
    cJSON_Delete(c->body);
    free(c->ids_json);
    free(c->content_json);
    free(c->sys_json);
    free(c->apps_json);
    free(c->search);
    free(c->search_expr);
    free(c);
}

struct kit_job *chat__job_new(struct http_req *req, struct chat *chat,
                              const struct user_principal *p)
{
    struct chctx *c = xcalloc(1, sizeof(*c));
    c->chat = chat;
    snprintf(c->app_id, sizeof(c->app_id), "%s", p->app_id);
    snprintf(c->user_id, sizeof(c->user_id), "%s", p->user_id);
    c->demo = p->demo;
    c->ok_status = 200;
    c->publish_step = -1;
    return kit_job_new(req, chat->id->store, NULL, c, chat__ctx_free);
}

const char *chat__path_id(struct http_req *req, const char *name, const char *message)
{
    const char *id = http_req_param(req, name);
    if (id == NULL || !kit_id_is_valid(id)) {
        http_respond_err(req, ERR_NOTFOUND, message, NULL);
        return NULL;
    }
    return id;
}

/* A positive integer query parameter; def when absent or empty; -1 when malformed. */

bool chat__paging(struct http_req *req, struct chctx *c)
{
    return kit_paging(req, &c->page, &c->page_size);
}

bool chat__app_granted(const char *apps, const char *app)
{
    if (apps == NULL)
        return true;
    cJSON *a = cJSON_Parse(apps);
    bool found = false;
    const cJSON *e;
    cJSON_ArrayForEach(e, a)
    {
        if (cJSON_IsString(e) && strcmp(e->valuestring, app) == 0)
            found = true;
    }
    cJSON_Delete(a);
    return found;
}

bool chat__direct_key(const char *a, const char *b, char *out, size_t n)
{
    if (strcmp(a, b) > 0) {
        const char *t = a;
        a = b;
        b = t;
    }
    int len = snprintf(out, n, "%s %s", a, b); /* no user id holds a space */
    return len > 0 && (size_t)len < n && strcmp(a, b) != 0;
}

/* Member columns (the conversation columns: internal.h). */
enum { MB_CONV, MB_USER, MB_ROLE, MB_JOINED, MB_NAME, MB_AVATAR, MB_KIND, MB_LAST_SEEN, MB_META };

static void add_text(cJSON *o, const char *key, const struct store_rows *r, int i, int col)
{
    const char *s = store_rows_text(r, i, col);
    if (s == NULL)
        cJSON_AddNullToObject(o, key);
    else
        cJSON_AddStringToObject(o, key, s);
}

/* An avatar: a stored "/media/..." path absolute (media_url_out). */
static void add_avatar(cJSON *o, const struct store_rows *r, int i, int col, struct http_req *req)
{
    char *abs = media_url_out(req, store_rows_text(r, i, col));
    if (abs == NULL)
        cJSON_AddNullToObject(o, "avatar");
    else
        cJSON_AddStringToObject(o, "avatar", abs);
    free(abs);
}

cJSON *chat__conv_json(const struct store_rows *conv, int i, const struct store_rows *members,
                       const char *me, struct http_req *req)
{
    const char *id = store_rows_text(conv, i, CV_ID);
    const char *type = store_rows_text(conv, i, CV_TYPE);
    cJSON *o = cJSON_CreateObject();
    add_text(o, "id", conv, i, CV_ID);
    add_text(o, "type", conv, i, CV_TYPE);
    add_text(o, "name", conv, i, CV_NAME);
    add_avatar(o, conv, i, CV_AVATAR, req);
    add_text(o, "owner", conv, i, CV_OWNER);
    cJSON_AddNumberToObject(o, "last_seq", (double)store_rows_int(conv, i, CV_SEQ));
    cJSON_AddNumberToObject(o, "last_activity_at", (double)store_rows_int(conv, i, CV_ACT));
    cJSON_AddNumberToObject(o, "created_at", (double)store_rows_int(conv, i, CV_CREATED));
    cJSON_AddNumberToObject(o, "updated_at", (double)store_rows_int(conv, i, CV_UPDATED));
    cJSON_AddNumberToObject(o, "member_count", (double)store_rows_int(conv, i, CV_N));
    add_text(o, "status", conv, i, CV_STATUS);
    add_text(o, "assignee", conv, i, CV_ASSIGNEE);
    add_text(o, "customer", conv, i, CV_CUSTOMER);
    if (type == NULL || id == NULL || strcmp(type, "room") == 0 || members == NULL)
        return o;
    bool direct = strcmp(type, "direct") == 0;
    bool mine = false; /* a direct conversation has a peer only for one of its two members */
    for (int k = 0; direct && me != NULL && k < members->nrows && !mine; k++) {
        const char *cid = store_rows_text(members, k, MB_CONV);
        const char *uid = store_rows_text(members, k, MB_USER);
        mine = cid != NULL && uid != NULL && strcmp(cid, id) == 0 && strcmp(uid, me) == 0;
    }
    cJSON *arr = cJSON_AddArrayToObject(o, "members");
    for (int k = 0; k < members->nrows; k++) {
        const char *cid = store_rows_text(members, k, MB_CONV);
        if (cid == NULL || strcmp(cid, id) != 0)
            continue;
        cJSON *m = cJSON_CreateObject();
        add_text(m, "user_id", members, k, MB_USER);
        add_text(m, "role", members, k, MB_ROLE);
        cJSON_AddNumberToObject(m, "joined_at", (double)store_rows_int(members, k, MB_JOINED));
        add_text(m, "name", members, k, MB_NAME);
        add_avatar(m, members, k, MB_AVATAR, req);
        if (direct)
            chat__metadata_add(m, members, k, MB_META);
        cJSON_AddItemToArray(arr, m);
        const char *uid = store_rows_text(members, k, MB_USER);
        if (mine && uid != NULL && strcmp(uid, me) != 0) {
            cJSON *p = cJSON_AddObjectToObject(o, "peer");
            add_text(p, "id", members, k, MB_USER);
            add_text(p, "name", members, k, MB_NAME);
            add_avatar(p, members, k, MB_AVATAR, req);
            add_text(p, "kind", members, k, MB_KIND);
            if (store_rows_is_null(members, k, MB_LAST_SEEN))
                cJSON_AddNullToObject(p, "last_seen");
            else
                cJSON_AddNumberToObject(p, "last_seen",
                                        (double)store_rows_int(members, k, MB_LAST_SEEN));
            chat__metadata_add(p, members, k, MB_META);
        }
    }
    return o;
}

void chat__updated_frame(struct buf *b, const cJSON *conv, const char *removed, int64_t cursor)
{
    char *json = cJSON_PrintUnformatted(conv);
    buf_puts(b, "{\"type\":\"conversation.updated\",\"conversation\":");
    buf_puts(b, json);
    cJSON_free(json);
    if (removed != NULL && removed[0] != '\0') {
        buf_puts(b, ",\"removed\":[");
        buf_json_str(b, removed);
        buf_putc(b, ']');
    }
    if (cursor > 0)
        buf_printf(b, ",\"cursor\":\"%lld\"", (long long)cursor);
    buf_putc(b, '}');
}

void chat__add_event(struct store_op *op, const struct chctx *c, const char *conv_id,
                     const char *direct_key, const char *kind, const char *user, bool only_new)
{
    store_op_add(op, &SQL_EVENTS_INSERT_CONV);
    store_bind_text(op, c->app_id);
    store_bind_text(op, conv_id);
    store_bind_text(op, direct_key);
    store_bind_text(op, kind);
    store_bind_text(op, user);
    store_bind_int(op, clock_wall_ms());
    store_bind_int(op, only_new ? 1 : 0);
    store_op_add(op, &SQL_CONVERSATION_MEMBERS_SET_JOINED);
    store_bind_text(op, c->app_id);
    store_bind_text(op, conv_id);
    store_bind_text(op, direct_key);
}

void chat__add_system(struct store_op *op, struct chctx *c)
{
    char id[CHAT_MSG_ID_LEN + 1];
    id[0] = 'm';
    rand_hex(id + 1, (CHAT_MSG_ID_LEN - 1) / 2);
    int64_t now = clock_wall_ms();
    store_op_add(op, &SQL_CONVERSATIONS_NEXT_SEQ_SYSTEM);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->conv_id);
    store_bind_int(op, now);
    store_op_require_row(op);
    store_op_add(op, &SQL_MESSAGES_INSERT);
    store_bind_text(op, id);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->conv_id);
    store_bind_text(op, c->user_id);
    store_bind_text(op, "system");
    store_bind_text(op, c->sys_json);
    store_bind_text(op, NULL);
    store_bind_text(op, NULL);
    store_bind_int(op, now);
    store_op_require_row(op);
    store_op_add(op, &SQL_EVENTS_INSERT_MESSAGE);
    store_bind_text(op, id);
    store_bind_text(op, "message.new");
    store_op_add(op, &SQL_MESSAGES_GET);
    store_bind_text(op, id);
    store_op_add(op, &SQL_CONVERSATION_MEMBERS_SENT);
    store_bind_text(op, c->conv_id);
    store_bind_text(op, c->user_id);
}

int64_t chat__event_cursor(const struct chctx *c, const struct store_result *res)
{
    const struct store_rows *r =
        store_result_step(res, -4 - (c->sys_json != NULL ? CHAT_SYSTEM_STEPS : 0));
    return r != NULL && r->nrows > 0 ? store_rows_int(r, 0, 0) : 0;
}

void chat__msg_frame(struct buf *b, const char *kind, const struct store_rows *r, int i, int col,
                     int64_t cursor)
{
    cJSON *o = chat__msg_json_at(r, i, col);
    char *json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    buf_puts(b, "{\"type\":");
    buf_json_str(b, kind);
    buf_puts(b, ",\"message\":");
    buf_puts(b, json);
    cJSON_free(json);
    buf_printf(b, ",\"cursor\":\"%lld\"}", (long long)cursor);
}

void chat__publish_msg(struct chat *chat, const char *app_id, const char *kind,
                       const struct store_rows *m, int64_t cursor, const struct store_rows *ids,
                       int col, uint64_t skip)
{
    struct buf b = BUF_INIT;
    chat__msg_frame(&b, kind, m, 0, 0, cursor);
    struct frame *f = ws_frame_text(b.data, b.len);
    f->cursor = cursor;
    buf_release(&b);
    rt_cursor_seen(chat->rt, cursor);
    chat__publish_rows(chat->rt, app_id, ids, col, NULL, f, skip);
    chat__publish_monitors(chat->rt, app_id, f);
    frame_unref(f);
}

void chat__publish_rows(struct rt *rt, const char *app_id, const struct store_rows *ids, int col,
                        const char *except, struct frame *f, uint64_t skip)
{
    struct bus *bus = rt_bus(rt);
    char topic[BUS_TOPIC_MAX + 1];
    for (int k = 0; ids != NULL && k < ids->nrows; k++) {
        const char *uid = store_rows_text(ids, k, col);
        if (uid == NULL || (except != NULL && strcmp(uid, except) == 0))
            continue;
        bus_topic_user(topic, app_id, uid);
        struct bus_event *ev = bus_event_new(BUS_KIND_FRAME, topic, frame_ref(f));
        ev->skip = skip;
        bus_publish(bus, ev);
    }
}

void chat__publish_updated(struct chat *c, const char *app_id, const cJSON *conv,
                           const struct store_rows *members, const char *notify, int64_t cursor)
{
    struct buf b = BUF_INIT;
    chat__updated_frame(&b, conv, notify, cursor);
    bool extra = notify != NULL && notify[0] != '\0';
    struct frame *f = ws_frame_text(b.data, b.len);
    f->cursor = cursor;
    buf_release(&b);
    if (cursor > 0)
        rt_cursor_seen(c->rt, cursor);
    chat__publish_rows(c->rt, app_id, members, MB_USER, extra ? notify : NULL, f, 0);
    if (extra) {
        char topic[BUS_TOPIC_MAX + 1];
        bus_topic_user(topic, app_id, notify);
        bus_publish(rt_bus(c->rt), bus_event_new(BUS_KIND_FRAME, topic, frame_ref(f)));
    }
    chat__publish_monitors(c->rt, app_id, f);
    frame_unref(f);
}

void chat__fail(struct kit_job *j, int status, const char *code, const char *message,
                const char *field)
{
    struct chctx *c = chat__ctx(j);
    if (j->req != NULL) {
        http_respond_error(j->req, status, code, message, field);
        return;
    }
    if (c->sess == NULL || c->sess->conn == NULL) /* the connection has gone */
        return;
    struct buf b = BUF_INIT;
    buf_puts(&b, "{\"type\":\"error\",\"code\":");
    buf_json_str(&b, code);
    buf_puts(&b, ",\"message\":");
    buf_json_str(&b, message);
    if (field != NULL) {
        buf_puts(&b, ",\"field\":");
        buf_json_str(&b, field);
    }
    if (c->msg.client_msg_id != NULL) {
        buf_puts(&b, ",\"client_msg_id\":");
        buf_json_str(&b, c->msg.client_msg_id);
    }
    buf_putc(&b, '}');
    ws_conn_send_text(c->sess->conn, b.data, b.len);
    buf_release(&b);
}

void chat__fail_store(struct kit_job *j)
{
    if (j->req != NULL)
        request_fail_store(j->req, j->status, "conversation", NULL);
    else if (j->status == ERR_NOTFOUND)
        chat__fail(j, 404, "not_found", "no such conversation", "conversation_id");
    else if (j->status == ERR_AGAIN || j->status == ERR_UNAVAIL)
        chat__fail(j, 503, "unavailable", "the server is busy; retry", NULL);
    else
        chat__fail(j, 500, "internal", "the change could not be stored", NULL);
}

void chat_set_event_hook(struct chat *c, const struct chat_event_hook *h)
{
    c->hook = *h;
}

void chat_set_support_capacity(struct chat *c, int capacity)
{
    c->support_capacity = capacity;
}

void chat_set_node(struct chat *c, const char *node_id)
{
    snprintf(c->node_id, sizeof(c->node_id), "%s", node_id);
}

void chat_set_cluster(struct chat *c, struct bus_redis *cluster)
{
    chat__presence_cluster(c->presence, cluster);
}

void chat__event(struct chat *ch, const char *app_id, const char *event, const char *id,
                 const struct store_rows *r, int i, bool conversation)
{
    if (ch->hook.wants == NULL || r == NULL || i >= r->nrows ||
        !ch->hook.wants(ch->hook.ud, app_id, event))
        return;
    cJSON *o = conversation ? chat__conv_json(r, i, NULL, NULL, NULL) : chat__msg_json(r, i);
    ch->hook.emit(ch->hook.ud, app_id, event, id, o);
    cJSON_Delete(o);
}

/* Writer thread, right after the commit (kit_store_committed): the events of the change, so
 * they leave in commit order. */
static void write_committed(struct kit_job *j)
{
    struct chctx *c = chat__ctx(j);
    const struct store_rows *conv = store_result_step(j->res, -2);
    const struct store_rows *members = store_result_step(j->res, -1);
    if (conv == NULL || conv->nrows == 0)
        return;
    const struct store_rows *changed =
        c->publish_step >= 0 ? store_result_step(j->res, c->publish_step) : NULL;
    if (c->publish_step < 0 || (changed != NULL && changed->changes > 0)) {
        cJSON *ev = chat__conv_json(conv, 0, members, NULL, NULL);
        chat__publish_updated(c->chat, c->app_id, ev, members, c->notify,
                              chat__event_cursor(c, j->res));
        cJSON_Delete(ev);
    }
    if (c->sys_json != NULL) { /* the system message, after the change it tells */
        const struct store_rows *m = store_result_step(j->res, -4);
        const struct store_rows *ev = store_result_step(j->res, -5);
        if (m != NULL && m->nrows > 0 && ev != NULL && ev->nrows > 0)
            chat__publish_msg(c->chat, c->app_id, "message.new", m, store_rows_int(ev, 0, 0),
                              members, MB_USER, 0);
    }
}

bool chat__write_then(struct kit_job *j, struct store_op *op, kit_fn next)
{
    return kit_store_committed(j, op, write_committed, next);
}

bool chat__write(struct kit_job *j, struct store_op *op)
{
    return chat__write_then(j, op, chat__finish_write);
}

void chat__finish_write(struct kit_job *j)
{
    struct chctx *c = chat__ctx(j);
    if (j->status == ERR_NOTFOUND) {
        /* a required row is gone: the rights or a member changed since the load */
        chat__fail(j, 409, "conflict",
                   "the conversation changed meanwhile; read it again and retry", NULL);
        return;
    }
    if (j->status != 0) {
        chat__fail_store(j);
        return;
    }
    const struct store_rows *conv = store_result_step(j->res, -2);
    const struct store_rows *members = store_result_step(j->res, -1);
    if (conv == NULL || conv->nrows == 0) {
        chat__fail(j, 404, "not_found", "no such conversation", j->req ? NULL : "conversation_id");
        return;
    }
    if (c->ok_status == 201 && j->req != NULL) /* created: the app's event webhooks */
        chat__event(c->chat, c->app_id, "conversation.created", store_rows_text(conv, 0, 0), conv,
                    0, true);
    if (j->req == NULL) /* a WebSocket join or leave: the events above are the answer */
        return;
    if (c->ok_status == 204) {
        http_respond(j->req, 204, NULL, "", 0);
        return;
    }
    cJSON *o = chat__conv_json(conv, 0, members, c->user_id, j->req);
    chat__presence_peer(c->chat, c->app_id, o);
    char *s = cJSON_PrintUnformatted(o);
    http_respond_json(j->req, c->ok_status, s, strlen(s));
    cJSON_free(s);
    cJSON_Delete(o);
}
