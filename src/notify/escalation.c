/*
 * Escalation chains and quiet-hours holds (see escalation.h; docs/notifications.md,
 * "Escalation" and "Quiet hours").
 */
#include "notify/escalation.h"

#include <string.h>

#include "notify/quiet.h"
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

void notify__quiet_claim_read(struct store_op *op, const char *token)
{
    store_op_add(op, &SQL_JOBS_CLAIMED_QUIET);
    store_bind_text(op, token);
}

int64_t notify__quiet_hold_until(const struct store_rows *quiet, const char *delivery,
                                 int64_t now)
{
    if (quiet == NULL || delivery == NULL)
        return 0;
    for (int i = 0; i < quiet->nrows; i++) {
        const char *d = store_rows_text(quiet, i, 0);
        if (d == NULL || strcmp(d, delivery) != 0)
            continue;
        int64_t until = notify_quiet_until(store_rows_text(quiet, i, 1),
                                           store_rows_text(quiet, i, 2),
                                           store_rows_text(quiet, i, 3), now);
        return until > now ? until : 0; /* a malformed window (negative) holds nothing */
    }
    return 0;
}

void notify__quiet_hold(struct store_op *op, const char *delivery, int64_t until, int64_t now)
{
    store_op_add(op, &SQL_DELIVERIES_HOLD);
    store_bind_text(op, delivery);
    store_bind_int(op, until);
    store_bind_int(op, now);
}
