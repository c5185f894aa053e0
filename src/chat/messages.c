/*
 * Reading messages (docs/chat.md): the message JSON every answer and event uses, with the
 * quoted preview of the message it replies to, and GET /conversations/{id}/messages, the
 * history by seq cursor: newest first before a seq (or from the newest), oldest first after
 * one, members only, from the seq the reader joined at.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/internal.h"
#include "core/err.h"
#include "core/rand.h"
#include "core/xalloc.h"
#include "identity/identity.h"
#include "identity/user_auth.h"
#include "kit/media_url.h"
#include "net/http.h"
#include "router/request.h"
#include "store/sql.h"
#include "store/store.h"

/* Message columns (SQL_MESSAGES_COLS): the message, then the one it replies to (r.). */
enum {
    MS_ID,
    MS_CONV,
    MS_SEQ,
    MS_SENDER,
    MS_TYPE,
    MS_CONTENT,
    MS_REPLY_TO,
    MS_CLIENT_ID,
    MS_CREATED,
    MS_EDITED,
    MS_RECALLED,
    MS_R_SENDER,
    MS_R_TYPE,
    MS_R_CONTENT,
    MS_R_RECALLED,
};

static void add_text_or_null(cJSON *o, const char *key, const char *s)
{
    if (s == NULL)
        cJSON_AddNullToObject(o, key);
    else
        cJSON_AddStringToObject(o, key, s);
}

/* The first n characters (UTF-8 code points) of s, as a new cJSON string. */
static cJSON *first_chars(const char *s, size_t n)
{
    size_t i = 0, chars = 0;
    for (; s[i] != '\0'; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80 && chars++ == n)
            break;
    }
    char *cut = strndup(s, i);
    cJSON *r = cJSON_CreateString(cut != NULL ? cut : "");
    free(cut);
    return r;
}

/* {"sender_id","type","text","recalled"}: text is the first CHAT_PREVIEW_CHARS characters
 * of a text message, "[image]" and the like for the other types, "" once recalled. */
static cJSON *preview_json(const struct store_rows *r, int i, int at)
{
    const char *type = store_rows_text(r, i, at + MS_R_TYPE);
    bool recalled = store_rows_int(r, i, at + MS_R_RECALLED) != 0;
    cJSON *p = cJSON_CreateObject();
    add_text_or_null(p, "sender_id", store_rows_text(r, i, at + MS_R_SENDER));
    add_text_or_null(p, "type", type);
    cJSON_AddItemToObject(
        p, "text", chat__preview_text(type, store_rows_text(r, i, at + MS_R_CONTENT), recalled));
    cJSON_AddBoolToObject(p, "recalled", recalled);
    return p;
}

void chat__msg_id_new(char *out, int64_t now_ms)
{
    snprintf(out, 14, "m%012llx", (unsigned long long)now_ms & 0xffffffffffffULL);
    rand_hex(out + 13, (CHAT_MSG_ID_LEN - 13) / 2);
}

cJSON *chat__preview_text(const char *type, const char *content, bool recalled)
{
    cJSON *text = NULL;
    if (!recalled && type != NULL && strcmp(type, "text") == 0) {
        cJSON *v = content != NULL ? cJSON_Parse(content) : NULL;
        if (cJSON_IsString(v))
            text = first_chars(v->valuestring, CHAT_PREVIEW_CHARS);
        cJSON_Delete(v);
    } else if (!recalled && type != NULL) {
        char label[24];
        snprintf(label, sizeof(label), "[%s]", type);
        text = cJSON_CreateString(label);
    }
    return text != NULL ? text : cJSON_CreateString("");
}

static bool is_media_type(const char *t)
{
    return t != NULL && (strcmp(t, "image") == 0 || strcmp(t, "file") == 0 ||
                         strcmp(t, "audio") == 0 || strcmp(t, "video") == 0);
}

/* The stored content of a message, with a relative "/media/..." url made absolute
 * (media_url_out; no request: the same for an answer as for a frame). */
static cJSON *content_json(const char *type, const char *content)
{
    if (content == NULL)
        return cJSON_CreateNull();
    if (media_url_base()[0] == '\0' || !is_media_type(type) || strstr(content, "\"/media/") == NULL)
        return cJSON_CreateRaw(content); /* stored by the send as compact JSON: as it is */
    cJSON *v = cJSON_Parse(content);
    cJSON *url = cJSON_GetObjectItemCaseSensitive(v, "url");
    if (!cJSON_IsString(url) || strncmp(url->valuestring, "/media/", 7) != 0) {
        cJSON_Delete(v);
        return cJSON_CreateRaw(content);
    }
    char *abs = media_url_out(NULL, url->valuestring);
    cJSON_ReplaceItemInObjectCaseSensitive(v, "url", cJSON_CreateString(abs));
    free(abs);
    return v;
}

cJSON *chat__msg_json(const struct store_rows *r, int i)
{
    return chat__msg_json_at(r, i, 0);
}

cJSON *chat__msg_json_at(const struct store_rows *r, int i, int at)
{
    cJSON *o = cJSON_CreateObject();
    add_text_or_null(o, "id", store_rows_text(r, i, at + MS_ID));
    add_text_or_null(o, "conversation_id", store_rows_text(r, i, at + MS_CONV));
    cJSON_AddNumberToObject(o, "seq", (double)store_rows_int(r, i, at + MS_SEQ));
    add_text_or_null(o, "sender_id", store_rows_text(r, i, at + MS_SENDER));
    add_text_or_null(o, "type", store_rows_text(r, i, at + MS_TYPE));
    cJSON_AddItemToObject(
        o, "content",
        content_json(store_rows_text(r, i, at + MS_TYPE), store_rows_text(r, i, at + MS_CONTENT)));
    const char *reply = store_rows_text(r, i, at + MS_REPLY_TO);
    add_text_or_null(o, "reply_to", reply);
    if (reply != NULL && store_rows_text(r, i, at + MS_R_TYPE) != NULL)
        cJSON_AddItemToObject(o, "reply_preview", preview_json(r, i, at));
    add_text_or_null(o, "client_msg_id", store_rows_text(r, i, at + MS_CLIENT_ID));
    cJSON_AddNumberToObject(o, "created_at", (double)store_rows_int(r, i, at + MS_CREATED));
    if (store_rows_is_null(r, i, at + MS_EDITED))
        cJSON_AddNullToObject(o, "edited_at");
    else
        cJSON_AddNumberToObject(o, "edited_at", (double)store_rows_int(r, i, at + MS_EDITED));
    cJSON_AddBoolToObject(o, "recalled", store_rows_int(r, i, at + MS_RECALLED) != 0);
    return o;
}

/* ---- GET /conversations/{id}/messages?before_seq=&after_seq=&limit= */

/* A non-negative integer query parameter; def when absent or empty; -1 when malformed. */
static int64_t query_seq(struct http_req *req, const char *name, int64_t def)
{
    char buf[32];
    int n = http_req_query_param(req, name, buf, sizeof(buf));
    if (n < 0 && http_req_has_query_param(req, name))
        return -1; /* longer than any seq */
    if (n <= 0)
        return def;
    char *end = NULL;
    long long v = strtoll(buf, &end, 10);
    if (*end != '\0' || v < 0 || v > 9007199254740992LL)
        return -1;
    return v;
}

static void history_done(struct kit_job *j)
{
    struct chctx *c = chat__ctx(j);
    if (j->status != 0) {
        chat__fail_store(j);
        return;
    }
    const struct store_rows *r = store_result_step(j->res, 0);
    int n = r != NULL ? r->nrows : 0;
    bool more = n > c->limit;
    if (more)
        n = (int)c->limit;
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(o, "results");
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, chat__msg_json(r, i));
    cJSON_AddBoolToObject(o, "has_more", more);
    char *s = cJSON_PrintUnformatted(o);
    http_respond_json(j->req, 200, s, strlen(s));
    cJSON_free(s);
    cJSON_Delete(o);
}

void chat__history_read(struct kit_job *j, int64_t joined)
{
    struct chctx *c = chat__ctx(j);
    struct store_op *op = store_op_new();
    if (c->after_seq >= 0) {
        store_op_add(op, &SQL_MESSAGES_AFTER);
        store_bind_text(op, c->conv_id);
        store_bind_int(op, c->after_seq > joined ? c->after_seq : joined);
        store_bind_int(op, c->limit + 1);
    } else {
        store_op_add(op, &SQL_MESSAGES_BEFORE);
        store_bind_text(op, c->conv_id);
        store_bind_int(op, c->before_seq);
        store_bind_int(op, joined);
        store_bind_int(op, c->limit + 1);
    }
    kit_store(j, op, KIT_READ, history_done);
}

/* The reader is a member: one page from after the seq they joined at, one row more than
 * the limit to know whether there is more. */
static void history_member(struct kit_job *j)
{
    if (j->status != 0) {
        chat__fail_store(j);
        return;
    }
    const struct store_rows *m = store_result_step(j->res, 0);
    if (m == NULL || m->nrows == 0) {
        http_respond_err(j->req, ERR_NOTFOUND, "no such conversation", NULL);
        return;
    }
    chat__history_read(j, store_rows_int(m, 0, 0));
}

bool chat__history_query(struct http_req *req, struct chctx *c)
{
    int64_t before = query_seq(req, "before_seq", INT64_MAX);
    int64_t after = query_seq(req, "after_seq", -2);
    int64_t limit = query_seq(req, "limit", 50);
    const char *field = before < 0 ? "before_seq" : after == -1 ? "after_seq" : NULL;
    if (field != NULL) {
        http_respond_error(req, 422, "validation_failed", "must be a whole number, 0 or more",
                           field);
        return false;
    }
    if (limit < 1) {
        http_respond_error(req, 422, "validation_failed", "must be an integer from 1 to 100",
                           "limit");
        return false;
    }
    if (after >= 0 && before != INT64_MAX) {
        http_respond_error(req, 422, "validation_failed", "give before_seq or after_seq, not both",
                           "after_seq");
        return false;
    }
    c->before_seq = before;
    c->after_seq = after;
    c->limit = limit > CHAT_HISTORY_MAX ? CHAT_HISTORY_MAX : limit;
    return true;
}

static void history_authed(struct http_req *req, const struct user_principal *p, void *ud)
{
    const char *id = chat__path_id(req, "id", "no such conversation");
    if (id == NULL)
        return;
    struct kit_job *j = chat__job_new(req, ud, p);
    struct chctx *c = chat__ctx(j);
    if (!chat__history_query(req, c)) {
        kit_job_end(j);
        return;
    }
    snprintf(c->conv_id, sizeof(c->conv_id), "%s", id);
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_CONVERSATION_MEMBERS_JOINED_SEQ);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->conv_id);
    store_bind_text(op, c->user_id);
    kit_store(j, op, KIT_READ, history_member);
}

void chat_msg_history(struct http_req *req, void *ud)
{
    struct chat *c = ud;
    identity_user_auth(c->id, req, history_authed, c);
}
