/*
 * The group-robot channel drivers (docs/providers/{dingtalk,wecom,feishu,slack}.md): one
 * incoming-webhook URL per channel, the provider's documented message format, DingTalk's and
 * Feishu's optional signing, and the provider's success code read from the reply (HTTP 200
 * with a non-zero errcode is a failure): DingTalk and WeCom answer {"errcode":0}, Feishu
 * {"code":0} (older bots {"StatusCode":0}), Slack the text "ok".
 */
#include "notify/http_drivers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/xalloc.h"
#include "notify/http_out.h"
#include "notify/sign.h"

#define SECRET_MAX 256
#define WECOM_TEXT_MAX 2048     /* bytes of a WeCom text message */
#define WECOM_MARKDOWN_MAX 4096 /* bytes of a WeCom markdown message */
#define SLACK_SECTION_MAX 3000  /* characters of a Slack section's text (bytes here: fewer) */
#define SLACK_TEXT_MAX 40000    /* Slack truncates a message's text there */

enum robot_kind { ROBOT_DINGTALK, ROBOT_WECOM, ROBOT_FEISHU, ROBOT_SLACK };

struct robot {
    enum robot_kind kind;
    char *url;
    char *secret;  /* NULL: unsigned */
    char *msgtype; /* NULL: by message (markdown / post / blocks when there is a title) */
    int timeout_s;
    bool allow_private;
    struct http_out_pool *pool; /* keep-alive connections */
};

/* The URL of a robot is its credential (DingTalk's access_token, WeCom's key, Slack's and
 * Feishu's hook path): sealed and masked like the signing secret. */
static const char *const signed_secrets[] = {"url", "webhook_url", "secret", NULL};
static const char *const url_secrets[] = {"url", "webhook_url", NULL};
static const char *const signed_members[] = {"url",     "webhook_url", "secret",
                                             "msgtype", "timeout_s",   NULL};
static const char *const plain_members[] = {"url", "webhook_url", "msgtype", "timeout_s", NULL};

/* The msgtype values each provider takes; the first is the plain one. */
static const char *const dingtalk_types[] = {"text", "markdown", NULL};
static const char *const wecom_types[] = {"text", "markdown", NULL};
static const char *const feishu_types[] = {"text", "post", NULL};
static const char *const slack_types[] = {"text", "blocks", NULL};

static const char *const *types_of(enum robot_kind k)
{
    switch (k) {
    case ROBOT_DINGTALK:
        return dingtalk_types;
    case ROBOT_WECOM:
        return wecom_types;
    case ROBOT_FEISHU:
        return feishu_types;
    default:
        return slack_types;
    }
}

static bool kind_signs(enum robot_kind k)
{
    return k == ROBOT_DINGTALK || k == ROBOT_FEISHU;
}

static int robot_check(enum robot_kind kind, const cJSON *cfg, char *field, size_t fieldsz,
                       char *msg, size_t msgsz)
{
    int rc;
    if ((rc = notify__check_object(cfg, kind_signs(kind) ? signed_members : plain_members, field,
                                   fieldsz, msg, msgsz)) != 0)
        return rc;
    bool has_url = cJSON_GetObjectItemCaseSensitive(cfg, "url") != NULL;
    bool has_wh = cJSON_GetObjectItemCaseSensitive(cfg, "webhook_url") != NULL;
    if (has_url && has_wh) {
        snprintf(field, fieldsz, "webhook_url");
        snprintf(msg, msgsz, "give either url or webhook_url, not both");
        return ERR_INVAL;
    }
    if ((rc = notify__check_url(cfg, has_wh ? "webhook_url" : "url", true, field, fieldsz, msg,
                                msgsz)) != 0 ||
        (rc = notify__check_str(cfg, "secret", false, SECRET_MAX, field, fieldsz, msg, msgsz)) !=
            0 ||
        (rc = notify__check_str(cfg, "msgtype", false, 16, field, fieldsz, msg, msgsz)) != 0 ||
        (rc = notify__check_timeout(cfg, field, fieldsz, msg, msgsz)) != 0)
        return rc;
    const char *t = notify__cfg_str(cfg, "msgtype");
    if (t) {
        const char *const *types = types_of(kind);
        bool ok = false;
        for (const char *const *p = types; *p && !ok; p++)
            ok = strcmp(*p, t) == 0;
        if (!ok) {
            snprintf(field, fieldsz, "msgtype");
            snprintf(msg, msgsz, "must be \"%s\" or \"%s\"", types[0], types[1]);
            return ERR_INVAL;
        }
    }
    return 0;
}

static void *robot_open(enum robot_kind kind, const cJSON *cfg, const struct notify_driver_env *env)
{
    const char *url = notify__cfg_str(cfg, "url");
    if (url == NULL)
        url = notify__cfg_str(cfg, "webhook_url");
    if (url == NULL)
        return NULL;
    struct robot *b = xmalloc(sizeof *b);
    b->kind = kind;
    b->url = xstrdup(url);
    b->secret = kind_signs(kind) ? notify__dup(notify__cfg_str(cfg, "secret")) : NULL;
    b->msgtype = notify__dup(notify__cfg_str(cfg, "msgtype"));
    b->timeout_s = notify__cfg_timeout(cfg);
    b->allow_private = env && env->allow_private;
    b->pool = http_out_pool_new();
    return b;
}

static void robot_close(void *state)
{
    struct robot *b = state;
    if (b == NULL)
        return;
    free(b->url);
    free(b->secret);
    free(b->msgtype);
    http_out_pool_free(b->pool);
    free(b);
}

/* The msgtype for m: the configured one, else the rich one when m has a title. */
static const char *msgtype_for(const struct robot *b, const struct notify_msg *m)
{
    if (b->msgtype)
        return b->msgtype;
    const char *const *types = types_of(b->kind);
    return m->title && m->title[0] ? types[1] : types[0];
}

static char *text_of(const struct notify_msg *m)
{
    struct buf t = BUF_INIT;
    notify__msg_text(&t, m);
    return buf_detach(&t, NULL);
}

/* Slack's text escaping: &, < and > only (its "Formatting text" page). */
static void slack_escape(struct buf *b, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '&')
            buf_puts(b, "&amp;");
        else if (*s == '<')
            buf_puts(b, "&lt;");
        else if (*s == '>')
            buf_puts(b, "&gt;");
        else
            buf_putc(b, *s);
    }
}

static cJSON *body_of(const struct robot *b, const struct notify_msg *m, long long ts)
{
    const char *type = msgtype_for(b, m);
    bool rich = strcmp(type, types_of(b->kind)[1]) == 0;
    const char *title = m->title && m->title[0] ? m->title : NULL;
    const char *content = m->content ? m->content : "";
    cJSON *root = cJSON_CreateObject(), *o;
    char *text = text_of(m);
    struct buf md = BUF_INIT;

    switch (b->kind) {
    case ROBOT_DINGTALK:
        cJSON_AddStringToObject(root, "msgtype", type);
        if (rich) {
            o = cJSON_AddObjectToObject(root, "markdown");
            cJSON_AddStringToObject(o, "title", title ? title : "Notification");
            if (title)
                buf_printf(&md, "### %s\n\n", title);
            buf_puts(&md, content);
            cJSON_AddStringToObject(o, "text", md.data ? md.data : "");
        } else {
            o = cJSON_AddObjectToObject(root, "text");
            cJSON_AddStringToObject(o, "content", text);
        }
        break;
    case ROBOT_WECOM: /* WeCom refuses (40058) a markdown over 4096 bytes, a text over 2048 */
        cJSON_AddStringToObject(root, "msgtype", type);
        if (rich) {
            o = cJSON_AddObjectToObject(root, "markdown");
            if (title)
                buf_printf(&md, "### %s\n", title);
            buf_puts(&md, content);
            notify__cut_utf8(&md, WECOM_MARKDOWN_MAX);
        } else {
            o = cJSON_AddObjectToObject(root, "text");
            buf_puts(&md, text);
            notify__cut_utf8(&md, WECOM_TEXT_MAX);
        }
        cJSON_AddStringToObject(o, "content", md.data ? md.data : "");
        break;
    case ROBOT_FEISHU:
        if (b->secret) {
            char ts_s[24], sig[NOTIFY_SIGN_B64_256];
            snprintf(ts_s, sizeof ts_s, "%lld", ts / 1000);
            notify_sign_feishu(b->secret, ts / 1000, sig);
            cJSON_AddStringToObject(root, "timestamp", ts_s);
            cJSON_AddStringToObject(root, "sign", sig);
        }
        cJSON_AddStringToObject(root, "msg_type", type);
        o = cJSON_AddObjectToObject(root, "content");
        if (rich) {
            cJSON *lang = cJSON_AddObjectToObject(cJSON_AddObjectToObject(o, "post"), "zh_cn");
            cJSON_AddStringToObject(lang, "title", title ? title : "");
            cJSON *para = cJSON_CreateArray(), *run = cJSON_CreateObject();
            cJSON_AddStringToObject(run, "tag", "text");
            cJSON_AddStringToObject(run, "text", content);
            cJSON_AddItemToArray(para, run);
            cJSON *paras = cJSON_AddArrayToObject(lang, "content");
            cJSON_AddItemToArray(paras, para);
        } else {
            cJSON_AddStringToObject(o, "text", text);
        }
        break;
    case ROBOT_SLACK: {
        struct buf t = BUF_INIT;
        if (title) {
            buf_putc(&t, '*');
            slack_escape(&t, title);
            buf_puts(&t, "*\n");
        }
        slack_escape(&t, content);
        notify__cut_utf8(&t, SLACK_TEXT_MAX);
        cJSON_AddStringToObject(root, "text", t.data ? t.data : "");
        if (rich) {
            cJSON *blocks = cJSON_AddArrayToObject(root, "blocks");
            if (title) {
                struct buf h = BUF_INIT;
                buf_putc(&h, '*');
                slack_escape(&h, title);
                buf_putc(&h, '*');
                notify__cut_utf8(&h, SLACK_SECTION_MAX);
                cJSON *s = cJSON_CreateObject();
                cJSON_AddStringToObject(s, "type", "section");
                o = cJSON_AddObjectToObject(s, "text");
                cJSON_AddStringToObject(o, "type", "mrkdwn");
                cJSON_AddStringToObject(o, "text", h.data);
                cJSON_AddItemToArray(blocks, s);
                buf_release(&h);
            }
            struct buf c = BUF_INIT;
            slack_escape(&c, content);
            notify__cut_utf8(&c, SLACK_SECTION_MAX);
            cJSON *s = cJSON_CreateObject();
            cJSON_AddStringToObject(s, "type", "section");
            o = cJSON_AddObjectToObject(s, "text");
            cJSON_AddStringToObject(o, "type", "mrkdwn");
            cJSON_AddStringToObject(o, "text", c.data ? c.data : " ");
            cJSON_AddItemToArray(blocks, s);
            buf_release(&c);
        }
        buf_release(&t);
        break;
    }
    }
    buf_release(&md);
    free(text);
    return root;
}

/* The URL to post to: DingTalk's signed URL gets &timestamp=&sign= (URL-encoded sign). */
static char *url_of(const struct robot *b, long long ts)
{
    struct buf u = BUF_INIT;
    buf_puts(&u, b->url);
    if (b->kind == ROBOT_DINGTALK && b->secret) {
        char sig[NOTIFY_SIGN_B64_256];
        notify_sign_dingtalk(b->secret, ts, sig);
        buf_printf(&u, "%ctimestamp=%lld&sign=", strchr(b->url, '?') ? '&' : '?', ts);
        notify_pct_encode(&u, sig);
    }
    return buf_detach(&u, NULL);
}

/* Reads the provider's code from a 2xx reply and refines r. */
static void judge_reply(const struct robot *b, const struct http_out_resp *resp,
                        struct notify_result *r)
{
    static const char *const names[] = {"dingtalk", "wecom", "feishu", "slack"};
    const char *name = names[b->kind];
    if (b->kind == ROBOT_SLACK) {
        if (resp->body.len == 2 && memcmp(resp->body.data, "ok", 2) == 0)
            return;
        notify__result(r, NOTIFY_PERMANENT, resp->status, "slack answered %.*s",
                       (int)(resp->body.len > 120 ? 120 : resp->body.len),
                       resp->body.data ? resp->body.data : "");
        return;
    }
    cJSON *j = resp->body.data ? cJSON_ParseWithLength(resp->body.data, resp->body.len) : NULL;
    const cJSON *code =
        cJSON_GetObjectItemCaseSensitive(j, b->kind == ROBOT_FEISHU ? "code" : "errcode");
    if (code == NULL && b->kind == ROBOT_FEISHU)
        code = cJSON_GetObjectItemCaseSensitive(j, "StatusCode");
    const cJSON *emsg =
        cJSON_GetObjectItemCaseSensitive(j, b->kind == ROBOT_FEISHU ? "msg" : "errmsg");
    if (!cJSON_IsNumber(code)) {
        notify__result(r, NOTIFY_PERMANENT, resp->status, "%s: the reply has no result code", name);
    } else if (code->valueint != 0) {
        int c = code->valueint;
        /* Busy and rate-limit codes: DingTalk -1 (system busy), 130101 (sending too fast);
         * WeCom -1, 45009 (API frequency limit); Feishu 11232 (frequency limited). */
        bool temporary = c == -1 || (b->kind == ROBOT_DINGTALK && c == 130101) ||
                         (b->kind == ROBOT_WECOM && c == 45009) ||
                         (b->kind == ROBOT_FEISHU && c == 11232);
        notify__result(r, temporary ? NOTIFY_RETRY : NOTIFY_PERMANENT, resp->status,
                       "%s error %d: %.120s", name, c,
                       cJSON_IsString(emsg) ? emsg->valuestring : "");
    }
    cJSON_Delete(j);
}

static void robot_send(void *state, const struct notify_msg *m, struct notify_result *r)
{
    struct robot *b = state;
    memset(r, 0, sizeof *r);
    long long ts = (long long)clock_wall_ms();
    cJSON *body = body_of(b, m, ts);
    char *json = cJSON_PrintUnformatted(body);
    char *url = url_of(b, ts);
    struct http_out_req rq = {
        .url = url,
        .content_type = "application/json; charset=utf-8",
        .body = json,
        .body_len = strlen(json),
        .timeout_s = b->timeout_s,
        .allow_private = b->allow_private,
        .pool = b->pool,
    };
    struct http_out_resp resp;
    if (http_out_request(&rq, &resp, r) == 0 && r->outcome == NOTIFY_SENT)
        judge_reply(b, &resp, r);
    buf_release(&resp.body);
    free(url);
    cJSON_free(json);
    cJSON_Delete(body);
}

#define ROBOT_DRIVER(name, KIND, secrets)                                                          \
    static int name##_check(const cJSON *cfg, char *field, size_t fieldsz, char *msg,              \
                            size_t msgsz)                                                          \
    {                                                                                              \
        return robot_check(KIND, cfg, field, fieldsz, msg, msgsz);                                 \
    }                                                                                              \
    static void *name##_open(const cJSON *cfg, const struct notify_driver_env *env)                \
    {                                                                                              \
        return robot_open(KIND, cfg, env);                                                         \
    }                                                                                              \
    const struct notify_driver notify_driver_##name = {                                            \
        .kind = #name,                                                                             \
        .secret_fields = secrets,                                                                  \
        .check = name##_check,                                                                     \
        .open = name##_open,                                                                       \
        .close = robot_close,                                                                      \
        .send = robot_send,                                                                        \
    };

ROBOT_DRIVER(dingtalk, ROBOT_DINGTALK, signed_secrets)
ROBOT_DRIVER(wecom, ROBOT_WECOM, url_secrets)
ROBOT_DRIVER(feishu, ROBOT_FEISHU, signed_secrets)
ROBOT_DRIVER(slack, ROBOT_SLACK, url_secrets)
