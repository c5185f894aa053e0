/*
 * The `sms_aliyun` channel driver (docs/providers/sms_aliyun.md): Aliyun SMS SendSms
 * (API version 2017-05-25) as an RPC-style POST signed with the documented signature
 * version 1.0 (HMAC-SHA1 over "POST&%2F&" + the percent-encoded sorted parameters, with
 * key secret + "&"; sign.h). The template code comes from the channel config, per message
 * type or one for all; the template parameters are the notification's parameters. The reply's
 * Code "OK" means sent; throttling and system-busy codes are retried; any other code is
 * permanent.
 */
#include "notify/http_drivers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/rand.h"
#include "core/xalloc.h"
#include "notify/http_out.h"
#include "notify/sign.h"

#define DEFAULT_BASE_URL "https://dysmsapi.aliyuncs.com/"
#define DEFAULT_REGION "cn-hangzhou"
#define PHONE_MAX 32

struct aliyun {
    char *key_id, *key_secret, *sign_name, *template_code, *base_url, *region;
    cJSON *templates; /* type code -> template code, or NULL */
    int timeout_s;
    bool allow_private;
    struct http_out_pool *pool; /* keep-alive connections */
};

static const char *const secret_fields[] = {"access_key_secret", NULL};
static const char *const members[] = {"access_key_id", "access_key_secret", "sign_name",
                                      "template_code", "templates",         "base_url",
                                      "region_id",     "timeout_s",         NULL};

static int aliyun_check(const cJSON *cfg, char *field, size_t fieldsz, char *msg, size_t msgsz)
{
    int rc;
    if ((rc = notify__check_object(cfg, members, field, fieldsz, msg, msgsz)) != 0 ||
        (rc = notify__check_str(cfg, "access_key_id", true, 128, field, fieldsz, msg, msgsz)) !=
            0 ||
        (rc = notify__check_str(cfg, "access_key_secret", true, 256, field, fieldsz, msg, msgsz)) !=
            0 ||
        (rc = notify__check_str(cfg, "sign_name", true, 64, field, fieldsz, msg, msgsz)) != 0 ||
        (rc = notify__check_str(cfg, "template_code", false, 64, field, fieldsz, msg, msgsz)) !=
            0 ||
        (rc = notify__check_str_map(cfg, "templates", 256, 64, field, fieldsz, msg, msgsz)) != 0 ||
        (rc = notify__check_url(cfg, "base_url", false, field, fieldsz, msg, msgsz)) != 0 ||
        (rc = notify__check_str(cfg, "region_id", false, 64, field, fieldsz, msg, msgsz)) != 0 ||
        (rc = notify__check_timeout(cfg, field, fieldsz, msg, msgsz)) != 0)
        return rc;
    if (!notify__cfg_str(cfg, "template_code") &&
        !cJSON_GetObjectItemCaseSensitive(cfg, "templates")) {
        snprintf(field, fieldsz, "template_code");
        snprintf(msg, msgsz, "is required when there is no templates map");
        return ERR_INVAL;
    }
    return 0;
}

static void *aliyun_open(const cJSON *cfg, const struct notify_driver_env *env)
{
    const char *id = notify__cfg_str(cfg, "access_key_id");
    const char *secret = notify__cfg_str(cfg, "access_key_secret");
    const char *sign = notify__cfg_str(cfg, "sign_name");
    if (!id || !secret || !sign)
        return NULL;
    struct aliyun *a = xmalloc(sizeof *a);
    const char *base = notify__cfg_str(cfg, "base_url");
    const char *region = notify__cfg_str(cfg, "region_id");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(cfg, "templates");
    a->key_id = xstrdup(id);
    a->key_secret = xstrdup(secret);
    a->sign_name = xstrdup(sign);
    a->template_code = notify__dup(notify__cfg_str(cfg, "template_code"));
    a->base_url = xstrdup(base ? base : DEFAULT_BASE_URL);
    a->region = xstrdup(region ? region : DEFAULT_REGION);
    a->templates = cJSON_IsObject(t) ? cJSON_Duplicate(t, 1) : NULL;
    a->timeout_s = notify__cfg_timeout(cfg);
    a->allow_private = env && env->allow_private;
    a->pool = http_out_pool_new();
    return a;
}

static void aliyun_close(void *state)
{
    struct aliyun *a = state;
    if (a == NULL)
        return;
    free(a->key_id);
    free(a->key_secret);
    free(a->sign_name);
    free(a->template_code);
    free(a->base_url);
    free(a->region);
    cJSON_Delete(a->templates);
    http_out_pool_free(a->pool);
    free(a);
}

static bool phone_is_valid(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || n > PHONE_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(p[i] >= '0' && p[i] <= '9') && !(i == 0 && p[i] == '+'))
            return false;
    return true;
}

/* Codes worth another attempt: flow control and the provider's own failures. */
static bool code_is_temporary(const char *code)
{
    return strncmp(code, "Throttling", 10) == 0 ||
           strcmp(code, "isv.BUSINESS_LIMIT_CONTROL") == 0 ||
           strcmp(code, "isp.SYSTEM_ERROR") == 0 || strcmp(code, "ServiceUnavailable") == 0 ||
           strcmp(code, "InternalError") == 0 || strcmp(code, "SignatureNonceUsed") == 0;
}

/* TemplateParam: the parameters as a JSON object of strings (the API takes string values). */
static char *template_param(const cJSON *params)
{
    if (!cJSON_IsObject(params) || params->child == NULL)
        return NULL;
    cJSON *o = cJSON_CreateObject();
    const cJSON *it;
    cJSON_ArrayForEach(it, params)
    {
        struct buf v = BUF_INIT;
        notify__param_text(&v, it);
        cJSON_AddStringToObject(o, it->string, v.data ? v.data : "");
        buf_release(&v);
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static void aliyun_send(void *state, const struct notify_msg *m, struct notify_result *r)
{
    struct aliyun *a = state;
    memset(r, 0, sizeof *r);
    if (m->address == NULL || !phone_is_valid(m->address)) {
        notify__result(r, NOTIFY_PERMANENT, 0, "the recipient has no valid phone number");
        return;
    }
    const char *tpl = a->template_code;
    const cJSON *per_type = a->templates && m->type_code
                                ? cJSON_GetObjectItemCaseSensitive(a->templates, m->type_code)
                                : NULL;
    if (cJSON_IsString(per_type))
        tpl = per_type->valuestring;
    if (tpl == NULL) {
        notify__result(r, NOTIFY_PERMANENT, 0, "no SMS template code for message type \"%.64s\"",
                       m->type_code ? m->type_code : "");
        return;
    }

    char nonce[33], stamp[32];
    rand_hex(nonce, 16);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char *tparam = template_param(m->params);
    const char *kv[32];
    size_t n = 0;
#define KV(k, v) (kv[2 * n] = (k), kv[2 * n + 1] = (v), n++)
    KV("AccessKeyId", a->key_id);
    KV("Action", "SendSms");
    KV("Format", "JSON");
    KV("PhoneNumbers", m->address);
    KV("RegionId", a->region);
    KV("SignName", a->sign_name);
    KV("SignatureMethod", "HMAC-SHA1");
    KV("SignatureNonce", nonce);
    KV("SignatureVersion", "1.0");
    KV("TemplateCode", tpl);
    KV("Timestamp", stamp);
    KV("Version", "2017-05-25");
    if (tparam)
        KV("TemplateParam", tparam);
    if (m->delivery_id)
        KV("OutId", m->delivery_id);
#undef KV

    struct buf query = BUF_INIT, body = BUF_INIT;
    char sig[NOTIFY_SIGN_B64_1];
    notify_sign_aliyun("POST", a->key_secret, kv, n, &query, sig);
    buf_puts(&body, "Signature=");
    notify_pct_encode(&body, sig);
    buf_putc(&body, '&');
    buf_append(&body, query.data, query.len);

    struct http_out_req rq = {
        .url = a->base_url,
        .content_type = "application/x-www-form-urlencoded",
        .body = body.data,
        .body_len = body.len,
        .timeout_s = a->timeout_s,
        .allow_private = a->allow_private,
        .pool = a->pool,
    };
    struct http_out_resp resp;
    if (http_out_request(&rq, &resp, r) == 0) {
        cJSON *j = resp.body.data ? cJSON_ParseWithLength(resp.body.data, resp.body.len) : NULL;
        const char *code = notify__cfg_str(j, "Code");
        const char *text = notify__cfg_str(j, "Message");
        const char *biz = notify__cfg_str(j, "BizId");
        if (code && strcmp(code, "OK") == 0 && r->outcome == NOTIFY_SENT) {
            snprintf(r->provider_id, sizeof r->provider_id, "%s", biz ? biz : "");
        } else if (code) {
            notify__result(r, code_is_temporary(code) ? NOTIFY_RETRY : NOTIFY_PERMANENT,
                           resp.status, "aliyun %.64s: %.120s", code, text ? text : "");
        } else if (r->outcome == NOTIFY_SENT) {
            notify__result(r, NOTIFY_PERMANENT, resp.status, "aliyun: the reply has no Code");
        }
        cJSON_Delete(j);
    }
    buf_release(&resp.body);
    buf_release(&query);
    buf_release(&body);
    cJSON_free(tparam);
}

const struct notify_driver notify_driver_sms_aliyun = {
    .kind = "sms_aliyun",
    .secret_fields = secret_fields,
    .check = aliyun_check,
    .open = aliyun_open,
    .close = aliyun_close,
    .send = aliyun_send,
};
