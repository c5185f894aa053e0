/*
 * Escalation chains and the fair claim (docs/notifications.md, "Escalation", "Fairness between
 * apps"): the pieces the send (send.c) and the queue (queue.c) add to their store writes.
 *
 * A message type's chain [{"channel":k0},{"channel":k1,"after_s":s1},...] makes a notification
 * of that type go to k0 at once and to each later kind ki s_i seconds after its send time —
 * unless, when that delivery's job is claimed, an earlier step's delivery to the same user was
 * ACKed (`delivered`) or read: then the later one is `cancelled` and nothing is sent. Being
 * jobs of the durable queue, pending steps survive restarts.
 */
#ifndef HERALD_NOTIFY_ESCALATION_H
#define HERALD_NOTIFY_ESCALATION_H

#include <stdint.h>

#include <cjson/cJSON.h>

struct store_op;

#define NOTIFY_ESC_STEPS_MAX 8
#define NOTIFY_CLAIM_APPS_MAX 1000 /* apps whose oldest due job every claim takes */

struct notify_esc_step {
    const char *kind; /* borrowed from the parsed chain */
    int64_t after_ms;
};

/* Parses a type's stored chain (checked when saved) into steps (at most max). Returns the
 * count, 0 when text is NULL, not a chain or empty; *doc owns the kinds (cJSON_Delete it,
 * also on 0). */
int notify__esc_parse(const char *text, cJSON **doc, struct notify_esc_step *steps, int max);

/* Adds to op: the deliveries of notification nid to users on kind are step `step` of the chain,
 * pending until due_ms, and their jobs run then. In the send's write, after its jobs. */
void notify__esc_write(struct store_op *op, const char *nid, const char *kind, int step,
                       int64_t due_ms);

/* Adds to the claim's op, right after the claim: the claimed later steps whose earlier step
 * was ACKed or read become `cancelled` (their status reads so in the claimed rows). */
void notify__esc_claim_gate(struct store_op *op, const char *token, int64_t now);

#endif
