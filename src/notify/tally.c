/*
 * Delivery outcomes for /metrics; see tally.h.
 */
#include "notify/tally.h"

#include <string.h>

#include "core/buf.h"
#include "notify/driver.h"

static const char kinds_text[] = NOTIFY_KINDS_TEXT;
static const char *const outcome_names[NOTIFY_OUTS] = {"sent", "failed", "dead", "expired",
                                                       "skipped"};

/* Walks NOTIFY_KINDS_TEXT: the i-th kind's start and length, false past the last. */
static bool kind_at(int i, const char **at, size_t *len)
{
    const char *p = kinds_text;
    for (int k = 0; *p != '\0'; k++) {
        size_t n = strcspn(p, ", ");
        if (k == i) {
            *at = p;
            *len = n;
            return true;
        }
        p += n;
        p += strspn(p, ", ");
    }
    return false;
}

static int kind_slot(const char *kind)
{
    const char *at;
    size_t len;
    int i = 0;
    for (; i < NOTIFY_TALLY_KINDS - 1 && kind_at(i, &at, &len); i++)
        if (kind != NULL && strlen(kind) == len && memcmp(kind, at, len) == 0)
            return i;
    return NOTIFY_TALLY_KINDS - 1; /* other */
}

void notify__tally_add(struct notify_tally_batch *b, const char *kind, const char *outcome)
{
    for (int o = 0; o < NOTIFY_OUTS; o++)
        if (outcome != NULL && strcmp(outcome, outcome_names[o]) == 0) {
            b->n[kind_slot(kind)][o]++;
            return;
        }
}

void notify__tally_commit(struct notify_tally *t, const struct notify_tally_batch *b)
{
    for (int k = 0; k < NOTIFY_TALLY_KINDS; k++)
        for (int o = 0; o < NOTIFY_OUTS; o++)
            if (b->n[k][o] != 0)
                __atomic_add_fetch(&t->n[k][o], b->n[k][o], __ATOMIC_RELAXED);
}

static void sample(struct buf *out, const struct notify_tally *t, int k, const char *kind,
                   size_t len)
{
    for (int o = 0; o < NOTIFY_OUTS; o++)
        buf_printf(out, "herald_notify_deliveries_total{kind=\"%.*s\",outcome=\"%s\"} %llu\n",
                   (int)len, kind, outcome_names[o],
                   (unsigned long long)__atomic_load_n(&t->n[k][o], __ATOMIC_RELAXED));
}

void notify__tally_render(struct buf *out, void *ud)
{
    const struct notify_tally *t = ud;
    buf_puts(out, "# HELP herald_notify_deliveries_total Delivery outcomes this node's queue "
                  "recorded, by channel kind.\n"
                  "# TYPE herald_notify_deliveries_total counter\n");
    const char *at;
    size_t len;
    int k = 0;
    for (; k < NOTIFY_TALLY_KINDS - 1 && kind_at(k, &at, &len); k++)
        sample(out, t, k, at, len);
    sample(out, t, NOTIFY_TALLY_KINDS - 1, "other", 5);
}
