/*
 * libFuzzer target for the notification request decoder (POST /api/v1/notifications and the
 * console's POST /admin/notifications): each input is parsed as JSON and checked as an app's
 * and as the console's body. Checked: nothing crashes or leaks; a refusal has a message; an
 * accepted body has a valid type code, a known priority, 0 (subscribers) or 1-1000 distinct
 * recipients, each a valid user id or an address with its kind, and distinct known channel
 * kinds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/err.h"
#include "kit/decode.h"
#include "notify/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const known[] = {"inapp",  "email", "webhook",    "dingtalk", "wecom",
                                    "feishu", "slack", "sms_aliyun", "wechat_mp"};

static void check(const cJSON *body, bool console)
{
    struct notify_send_req in;
    struct kit_error err;
    memset(&err, 0, sizeof(err));
    if (notify__send_parse(body, console, &in, &err) != 0) {
        if (err.message == NULL || err.message[0] == '\0')
            abort();
        return;
    }
    if (in.type == NULL || in.type[0] == '\0' || strlen(in.type) > 64)
        abort();
    if (console && in.app_id == NULL)
        abort();
    if (in.priority != NULL && strcmp(in.priority, "normal") != 0 &&
        strcmp(in.priority, "high") != 0 && strcmp(in.priority, "urgent") != 0)
        abort();
    if (in.subscribers ? in.nrecips != 0 : (in.nrecips < 1 || in.nrecips > 1000))
        abort();
    for (int i = 0; i < in.nrecips; i++) {
        if (in.recips[i].kind == NULL && !kit_id_is_valid(in.recips[i].val))
            abort();
        for (int k = 0; k < i; k++)
            if (strcmp(in.recips[k].val, in.recips[i].val) == 0 &&
                (in.recips[k].kind == NULL) == (in.recips[i].kind == NULL) &&
                (in.recips[i].kind == NULL || strcmp(in.recips[k].kind, in.recips[i].kind) == 0))
                abort();
    }
    for (int i = 0; i < in.nover; i++) {
        bool ok = false;
        for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
            ok = ok || strcmp(known[k], in.over[i]) == 0;
        for (int k = 0; k < i; k++)
            ok = ok && strcmp(in.over[k], in.over[i]) != 0;
        if (!ok)
            abort();
    }
    notify__send_req_release(&in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *body = cJSON_ParseWithLength((const char *)data, size);
    if (cJSON_IsObject(body)) {
        check(body, false);
        check(body, true);
    }
    cJSON_Delete(body);
    return 0;
}
