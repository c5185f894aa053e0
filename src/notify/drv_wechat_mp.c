/*
 * The `wechat_mp` channel driver (docs/providers/wechat_mp.md): WeChat official-account
 * template messages. The access token is fetched from {base_url}/cgi-bin/token
 * (grant_type=client_credential) and cached per channel until expires_in minus a margin; one
 * fetch at a time (the state's mutex), so that concurrent sends do not invalidate each
 * other's token. A send answered with an invalid or expired token (40001, 40014, 42001) drops
 * the token and tries once more with a fresh one. The template data is built from the
 * notification's parameters: {"k": {"value": "v"}}.
 */
#include "notify/http_drivers.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/xalloc.h"
#include "notify/http_out.h"
#include "notify/sign.h"

#define DEFAULT_BASE_URL "https://api.weixin.qq.com"
#define TOKEN_MAX 512
#define MARGIN_S 300

struct wechat {
    char *app_id, *app_secret, *template_id, *base_url, *link;
    cJSON *templates; /* type code -> template id, or NULL */
    int timeout_s;
    bool allow_private;
    struct http_out_pool *pool; /* keep-alive connections */
    pthread_mutex_t lock;       /* guards the token below and serializes fetches */
    char token[TOKEN_MAX];      /* "" when none */
    int64_t token_until_ms;     /* wall clock */
};

static const char *const secret_fields[] = {"app_secret", NULL};
static const char *const members[] = {"app_id",   "app_secret", "template_id", "templates",
                                      "base_url", "url",        "timeout_s",   NULL};

static int wechat_check(const cJSON *cfg, char *field, size_t fieldsz, char *msg, size_t msgsz)
{
    int rc;
    if ((rc = notify__check_object(cfg, members, field, fieldsz, msg, msgsz)) != 0 ||
        (rc = notify__check_str(cfg, "app_id", true, 64, field, fieldsz, msg, msgsz)) != 0 ||
        (rc = notify__check_str(cfg, "app_secret", true, 128, field, fieldsz, msg, msgsz)) != 0 ||
        (rc = notify__check_str(cfg, "template_id", false, 128, field, fieldsz, msg, msgsz)) != 0 ||
        (rc = notify__check_str_map(cfg, "templates", 256, 128, field, fieldsz, msg, msgsz)) != 0 ||
        (rc = notify__check_url(cfg, "base_url", false, field, fieldsz, msg, msgsz)) != 0 ||
        (rc = notify__check_url(cfg, "url", false, field, fieldsz, msg, msgsz)) != 0 ||
        (rc = notify__check_timeout(cfg, field, fieldsz, msg, msgsz)) != 0)
        return rc;
    if (!notify__cfg_str(cfg, "template_id") &&
        !cJSON_GetObjectItemCaseSensitive(cfg, "templates")) {
        snprintf(field, fieldsz, "template_id");
        snprintf(msg, msgsz, "is required when there is no templates map");
        return ERR_INVAL;
    }
    return 0;
}

static void *wechat_open(const cJSON *cfg, const struct notify_driver_env *env)
{
    const char *id = notify__cfg_str(cfg, "app_id");
    const char *secret = notify__cfg_str(cfg, "app_secret");
    if (!id || !secret)
        return NULL;
    struct wechat *w = xmalloc(sizeof *w);
    memset(w, 0, sizeof *w);
    const char *base = notify__cfg_str(cfg, "base_url");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(cfg, "templates");
    w->app_id = xstrdup(id);
    w->app_secret = xstrdup(secret);
    w->template_id = notify__dup(notify__cfg_str(cfg, "template_id"));
    w->link = notify__dup(notify__cfg_str(cfg, "url"));
    struct buf b = BUF_INIT;
    buf_puts(&b, base ? base : DEFAULT_BASE_URL);
    while (b.len > 0 && b.data[b.len - 1] == '/')
        b.data[--b.len] = '\0';
    w->base_url = buf_detach(&b, NULL);
    w->templates = cJSON_IsObject(t) ? cJSON_Duplicate(t, 1) : NULL;
    w->timeout_s = notify__cfg_timeout(cfg);
    w->allow_private = env && env->allow_private;
    w->pool = http_out_pool_new();
    pthread_mutex_init(&w->lock, NULL);
    return w;
}

static void wechat_close(void *state)
{
    struct wechat *w = state;
    if (w == NULL)
        return;
    pthread_mutex_destroy(&w->lock);
    free(w->app_id);
    free(w->app_secret);
    free(w->template_id);
    free(w->base_url);
    free(w->link);
    cJSON_Delete(w->templates);
    http_out_pool_free(w->pool);
    free(w);
}

/* Codes of an access token that is invalid or expired. */
static bool code_is_token(int c)
{
    return c == 40001 || c == 40014 || c == 42001;
}

/* Copies a valid access token to out, fetching one when the cache has none; stale: the token
 * a send was refused with, dropped unless another thread already replaced it. Returns 0, or -1
 * with r filled. */
static int token_get(struct wechat *w, const char *stale, char out[TOKEN_MAX],
                     struct notify_result *r)
{
    int ret = 0;
    pthread_mutex_lock(&w->lock);
    if (stale && strcmp(stale, w->token) == 0)
        w->token[0] = '\0';
    if (w->token[0] && clock_wall_ms() < w->token_until_ms) {
        memcpy(out, w->token, TOKEN_MAX);
        goto out;
    }
    struct buf url = BUF_INIT;
    buf_printf(&url, "%s/cgi-bin/token?grant_type=client_credential&appid=", w->base_url);
    notify_pct_encode(&url, w->app_id);
    buf_puts(&url, "&secret=");
    notify_pct_encode(&url, w->app_secret);
    struct http_out_req rq = {
        .method = "GET",
        .url = url.data,
        .timeout_s = w->timeout_s,
        .allow_private = w->allow_private,
        .pool = w->pool,
    };
    struct http_out_resp resp;
    if (http_out_request(&rq, &resp, r) != 0 || r->outcome != NOTIFY_SENT) {
        snprintf(out, TOKEN_MAX, "%s", r->detail);
        snprintf(r->detail, sizeof r->detail, "wechat token: %.200s", out);
        ret = -1;
    } else {
        cJSON *j = resp.body.data ? cJSON_ParseWithLength(resp.body.data, resp.body.len) : NULL;
        const char *tok = notify__cfg_str(j, "access_token");
        const cJSON *exp = cJSON_GetObjectItemCaseSensitive(j, "expires_in");
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(j, "errcode");
        const char *emsg = notify__cfg_str(j, "errmsg");
        if (tok && tok[0] && strlen(tok) < TOKEN_MAX && http_out_header_is_clean(tok)) {
            int64_t ttl =
                cJSON_IsNumber(exp) && exp->valuedouble > 0 ? (int64_t)exp->valuedouble : 7200;
            if (ttl > 86400)
                ttl = 86400;
            int64_t margin = ttl > 2 * MARGIN_S ? MARGIN_S : ttl / 5;
            snprintf(w->token, sizeof w->token, "%s", tok);
            w->token_until_ms = clock_wall_ms() + (ttl - margin) * 1000;
            memcpy(out, w->token, TOKEN_MAX);
        } else {
            int c = cJSON_IsNumber(code) ? code->valueint : 0;
            /* -1: system busy; 45009: API frequency limit; others (40013 bad appid, 40125
             * bad secret, 40164 IP not whitelisted...) need the operator. */
            notify__result(r, c == -1 || c == 45009 ? NOTIFY_RETRY : NOTIFY_PERMANENT, resp.status,
                           "wechat token error %d: %.120s", c, emsg ? emsg : "");
            ret = -1;
        }
        cJSON_Delete(j);
    }
    buf_release(&resp.body);
    buf_release(&url);
out:
    pthread_mutex_unlock(&w->lock);
    return ret;
}

static char *message_of(const struct wechat *w, const struct notify_msg *m, const char *tpl)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "touser", m->address);
    cJSON_AddStringToObject(root, "template_id", tpl);
    const char *link = notify__cfg_str(m->data, "url");
    if (link == NULL)
        link = w->link;
    if (link)
        cJSON_AddStringToObject(root, "url", link);
    cJSON *data = cJSON_AddObjectToObject(root, "data");
    if (cJSON_IsObject(m->params) && m->params->child) {
        const cJSON *it;
        cJSON_ArrayForEach(it, m->params)
        {
            struct buf v = BUF_INIT;
            notify__param_text(&v, it);
            cJSON *o = cJSON_AddObjectToObject(data, it->string);
            cJSON_AddStringToObject(o, "value", v.data ? v.data : "");
            buf_release(&v);
        }
    } else {
        cJSON_AddStringToObject(cJSON_AddObjectToObject(data, "title"), "value",
                                m->title ? m->title : "");
        cJSON_AddStringToObject(cJSON_AddObjectToObject(data, "content"), "value",
                                m->content ? m->content : "");
    }
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

static void wechat_send(void *state, const struct notify_msg *m, struct notify_result *r)
{
    struct wechat *w = state;
    memset(r, 0, sizeof *r);
    if (m->address == NULL || m->address[0] == '\0' || strlen(m->address) > 128 ||
        !http_out_header_is_clean(m->address)) {
        notify__result(r, NOTIFY_PERMANENT, 0, "the recipient has no valid WeChat openid");
        return;
    }
    const char *tpl = w->template_id;
    const cJSON *per_type = w->templates && m->type_code
                                ? cJSON_GetObjectItemCaseSensitive(w->templates, m->type_code)
                                : NULL;
    if (cJSON_IsString(per_type))
        tpl = per_type->valuestring;
    if (tpl == NULL) {
        notify__result(r, NOTIFY_PERMANENT, 0, "no WeChat template for message type \"%.64s\"",
                       m->type_code ? m->type_code : "");
        return;
    }
    char *body = message_of(w, m, tpl);
    char token[TOKEN_MAX];
    const char *stale = NULL;
    for (int round = 0; round < 2; round++) {
        if (token_get(w, stale, token, r) != 0)
            break;
        struct buf url = BUF_INIT;
        buf_printf(&url, "%s/cgi-bin/message/template/send?access_token=", w->base_url);
        notify_pct_encode(&url, token);
        struct http_out_req rq = {
            .url = url.data,
            .content_type = "application/json; charset=utf-8",
            .body = body,
            .body_len = strlen(body),
            .timeout_s = w->timeout_s,
            .allow_private = w->allow_private,
            .pool = w->pool,
        };
        struct http_out_resp resp;
        bool again = false;
        if (http_out_request(&rq, &resp, r) == 0 && r->outcome == NOTIFY_SENT) {
            cJSON *j = resp.body.data ? cJSON_ParseWithLength(resp.body.data, resp.body.len) : NULL;
            const cJSON *code = cJSON_GetObjectItemCaseSensitive(j, "errcode");
            const cJSON *msgid = cJSON_GetObjectItemCaseSensitive(j, "msgid");
            const char *emsg = notify__cfg_str(j, "errmsg");
            int c = cJSON_IsNumber(code) ? code->valueint : 0;
            if (!cJSON_IsNumber(code)) {
                notify__result(r, NOTIFY_PERMANENT, resp.status,
                               "wechat: the reply has no errcode");
            } else if (c == 0) {
                if (cJSON_IsNumber(msgid))
                    snprintf(r->provider_id, sizeof r->provider_id, "%.0f", msgid->valuedouble);
            } else if (code_is_token(c) && round == 0) {
                again = true;
                stale = token;
            } else {
                /* -1 busy, 45009 frequency limit: later; 43004 not a follower, 40003 bad
                 * openid, 40037 bad template: never. */
                notify__result(
                    r, c == -1 || c == 45009 || code_is_token(c) ? NOTIFY_RETRY : NOTIFY_PERMANENT,
                    resp.status, "wechat error %d: %.120s", c, emsg ? emsg : "");
            }
            cJSON_Delete(j);
        }
        buf_release(&resp.body);
        buf_release(&url);
        if (!again)
            break;
    }
    cJSON_free(body);
}

const struct notify_driver notify_driver_wechat_mp = {
    .kind = "wechat_mp",
    .secret_fields = secret_fields,
    .check = wechat_check,
    .open = wechat_open,
    .close = wechat_close,
    .send = wechat_send,
};
