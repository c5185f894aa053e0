/*
 * Escalation chains (see escalation.h; docs/notifications.md, "Escalation").
 */
#include "notify/escalation.h"

#include <string.h>

#include "store/sql.h"
#include "store/store.h"

int notify__esc_parse(const char *text, cJSON **doc, struct notify_esc_step *steps, int max)
{
    *doc = text != NULL ? cJSON_Parse(text) : NULL;
    if (!cJSON_IsArray(*doc))
        return 0;
    int n = 0;
    const cJSON *step;
    cJSON_ArrayForEach(step, *doc)
    {
        const cJSON *ch = cJSON_GetObjectItemCaseSensitive(step, "channel");
        const cJSON *after = cJSON_GetObjectItemCaseSensitive(step, "after_s");
        if (!cJSON_IsString(ch) || n == max)
            continue;
        double s = cJSON_IsNumber(after) && after->valuedouble > 0 ? after->valuedouble : 0;
        steps[n].kind = ch->valuestring;
        steps[n].after_ms = (int64_t)s * 1000;
        n++;
    }
    return n;
}

void notify__esc_write(struct store_op *op, const char *nid, const char *kind, int step,
                       int64_t due_ms)
{
    store_op_add(op, &SQL_DELIVERIES_ESCALATE);
    store_bind_text(op, nid);
    store_bind_text(op, kind);
    store_bind_int(op, step);
    store_bind_int(op, due_ms);
    store_op_add(op, &SQL_JOBS_ESCALATE);
    store_bind_text(op, nid);
    store_bind_text(op, kind);
    store_bind_int(op, due_ms);
}

void notify__esc_claim_gate(struct store_op *op, const char *token, int64_t now)
{
    store_op_add(op, &SQL_DELIVERIES_ESCALATION_CANCEL);
    store_bind_text(op, token);
    store_bind_int(op, now);
}
