/*
 * The `webhook` channel driver (docs/providers/webhook.md): a JSON POST of the rendered
 * notification to the channel's URL, or to the recipient's own URL for ad-hoc
 * `{"webhook": url}` recipients, signed with HMAC-SHA256 over "<timestamp>.<body>"
 * (X-Herald-Signature: t=<ms>,v1=<hex>) and carrying the delivery id as X-Herald-Event-Id, the
 * same on every retry, so that a receiver can drop duplicates.
 */
#include "notify/http_drivers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/xalloc.h"
#include "notify/http_out.h"
#include "notify/sign.h"

#define SECRET_MAX 256

struct webhook {
    char *url; /* NULL: only ad-hoc recipients */
    char *secret;
    int timeout_s;
    bool allow_private;
    struct http_out_pool *pool; /* keep-alive connections */
};

static const char *const secret_fields[] = {"secret", NULL};
static const char *const members[] = {"url", "secret", "timeout_s", NULL};

static int webhook_check(const cJSON *cfg, char *field, size_t fieldsz, char *msg, size_t msgsz)
{
    int rc;
    if ((rc = notify__check_object(cfg, members, field, fieldsz, msg, msgsz)) != 0 ||
        (rc = notify__check_url(cfg, "url", false, field, fieldsz, msg, msgsz)) != 0 ||
        (rc = notify__check_str(cfg, "secret", true, SECRET_MAX, field, fieldsz, msg, msgsz)) !=
            0 ||
        (rc = notify__check_timeout(cfg, field, fieldsz, msg, msgsz)) != 0)
        return rc;
    return 0;
}

static void *webhook_open(const cJSON *cfg, const struct notify_driver_env *env)
{
    const char *secret = notify__cfg_str(cfg, "secret");
    if (secret == NULL)
        return NULL;
    struct webhook *w = xmalloc(sizeof *w);
    w->url = notify__dup(notify__cfg_str(cfg, "url"));
    w->secret = xstrdup(secret);
    w->timeout_s = notify__cfg_timeout(cfg);
    w->allow_private = env && env->allow_private;
    w->pool = http_out_pool_new();
    return w;
}

static void webhook_close(void *state)
{
    struct webhook *w = state;
    if (w == NULL)
        return;
    free(w->url);
    free(w->secret);
    http_out_pool_free(w->pool);
    free(w);
}

static void put_member(struct buf *b, const char *name, const char *value)
{
    buf_json_str(b, name);
    buf_putc(b, ':');
    if (value)
        buf_json_str(b, value);
    else
        buf_puts(b, "null");
    buf_putc(b, ',');
}

static void webhook_send(void *state, const struct notify_msg *m, struct notify_result *r)
{
    struct webhook *w = state;
    memset(r, 0, sizeof *r);
    const char *url = m->address && m->address[0] ? m->address : w->url;
    if (url == NULL) {
        notify__result(r, NOTIFY_PERMANENT, 0,
                       "no target URL: the channel has none and the "
                       "recipient gave none");
        return;
    }
    long long ts = (long long)clock_wall_ms();

    struct buf body = BUF_INIT;
    buf_putc(&body, '{');
    put_member(&body, "id", m->delivery_id);
    put_member(&body, "notification_id", m->notification_id);
    put_member(&body, "type", m->type_code);
    put_member(&body, "title", m->title);
    put_member(&body, "content", m->content);
    buf_puts(&body, "\"data\":");
    if (m->data) {
        char *d = cJSON_PrintUnformatted(m->data);
        buf_puts(&body, d);
        cJSON_free(d);
    } else {
        buf_puts(&body, "null");
    }
    buf_printf(&body, ",\"timestamp\":%lld}", ts);

    char sig[NOTIFY_SIGN_HEX256];
    notify_sign_webhook(w->secret, ts, body.data, body.len, sig);
    char h_sig[128], h_id[200];
    snprintf(h_sig, sizeof h_sig, "X-Herald-Signature: t=%lld,v1=%s", ts, sig);
    snprintf(h_id, sizeof h_id, "X-Herald-Event-Id: %s", m->delivery_id ? m->delivery_id : "");
    const char *headers[] = {h_sig, h_id, NULL};

    struct http_out_req rq = {
        .url = url,
        .content_type = "application/json",
        .headers = headers,
        .body = body.data,
        .body_len = body.len,
        .timeout_s = w->timeout_s,
        .allow_private = w->allow_private,
        .pool = w->pool,
    };
    struct http_out_resp resp;
    http_out_request(&rq, &resp, r);
    buf_release(&resp.body);
    buf_release(&body);
}

const struct notify_driver notify_driver_webhook = {
    .kind = "webhook",
    .secret_fields = secret_fields,
    .check = webhook_check,
    .open = webhook_open,
    .close = webhook_close,
    .send = webhook_send,
};
