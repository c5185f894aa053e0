/*
 * POST /api/v1/publish: a business backend (app authentication) pushes an
 * event to the connected devices of some of its users, or of all of them,
 * in one request — the one-line publish for scripts. The event is live only:
 * it is not stored, and a device that is offline does not get it later
 * (durable per-recipient delivery is what notifications are for). The frame
 * {"type":"event","event":…} is encoded once and shared by every recipient
 * connection through the bus.
 */
#include "rt/rt.h"

#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/frame.h"
#include "identity/app_auth.h"
#include "identity/identity.h"
#include "kit/decode.h"
#include "net/http.h"
#include "router/router.h"

#define PUBLISH_TO_MAX 1000
#define PUBLISH_FRAME_MAX (64 * 1024)

/* The body (the kit decoder's target): "to" is "*" or a list of user ids, checked after. */
struct publish_in {
    const cJSON *to, *event;
};
static const struct kit_field publish_fields[] = {
    {.name = "to", .kind = KIT_JSON, .flags = KIT_REQUIRED, .at = KIT_AT(struct publish_in, to)},
    {.name = "event",
     .kind = KIT_JSON,
     .flags = KIT_REQUIRED,
     .at = KIT_AT(struct publish_in, event)},
    {.name = NULL},
};
static const struct kit_table publish_table = {.fields = publish_fields};

static const struct kit_field to_elem = {
    .kind = KIT_ID, .message = "must be a user id: 1-64 characters of A-Z a-z 0-9 _ . @ : -"};
static const struct kit_field to_list = {
    .kind = KIT_ARRAY,
    .min = 1,
    .max = PUBLISH_TO_MAX,
    .elem = &to_elem,
    .message = "must be \"*\" (every user of the app) or an array of 1-1000 user ids"};

/* The "to" member: "*" or an array of distinct user ids. Answers 422 and returns -1. */
static int check_to(struct http_req *req, const cJSON *to, int *n)
{
    if (cJSON_IsString(to) && strcmp(to->valuestring, "*") == 0) {
        *n = 0;
        return 0;
    }
    struct kit_error err;
    if (kit_check(to, &to_list, "to", &err) != 0) {
        kit_fail_decode(req, &err);
        return -1;
    }
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, to)
    {
        for (const cJSON *f = to->child; f != e; f = f->next) {
            if (strcmp(f->valuestring, e->valuestring) == 0) {
                char field[32];
                snprintf(field, sizeof(field), "to[%d]", i);
                http_respond_error(req, 422, "validation_failed", "this user id is listed twice",
                                   field);
                return -1;
            }
        }
        i++;
    }
    *n = i;
    return 0;
}

static void publish_authed(struct http_req *req, const char *app_id, void *ud)
{
    struct rt *rt = ud;
    struct publish_in in;
    cJSON *body = kit_body(req, &publish_table, &in);
    if (body == NULL)
        return;
    const cJSON *to = in.to, *event = in.event, *m;
    int n = 0;
    if (check_to(req, to, &n) != 0)
        goto out;

    char *json = cJSON_PrintUnformatted(event);
    struct buf b = BUF_INIT;
    buf_puts(&b, "{\"type\":\"event\",\"event\":");
    buf_puts(&b, json);
    buf_putc(&b, '}');
    cJSON_free(json);
    if (b.len > PUBLISH_FRAME_MAX) {
        buf_release(&b);
        http_respond_error(req, 413, "payload_too_large", "the event frame would exceed 64 KiB",
                           "event");
        goto out;
    }
    struct frame *f = ws_frame_text(b.data, b.len);
    buf_release(&b);
    char topic[BUS_TOPIC_MAX + 1];
    if (n == 0) {
        bus_topic_app(topic, app_id);
        bus_publish(rt_bus(rt), bus_event_new(BUS_KIND_FRAME, topic, frame_ref(f)));
    } else {
        cJSON_ArrayForEach(m, to)
        {
            bus_topic_user(topic, app_id, m->valuestring);
            bus_publish(rt_bus(rt), bus_event_new(BUS_KIND_FRAME, topic, frame_ref(f)));
        }
    }
    frame_unref(f);
    char out[48];
    int ol = snprintf(out, sizeof(out), "{\"published\":%d}", n == 0 ? 1 : n);
    http_respond_json(req, 202, out, (size_t)ol);
out:
    cJSON_Delete(body);
}

static void publish_handler(struct http_req *req, void *ud)
{
    struct rt *rt = ud;
    identity_app_auth(rt__identity(rt), req, publish_authed, rt);
}

void rt_register_routes(struct rt *rt, struct router *r)
{
    router_add(r, HTTP_M_POST, "/api/v1/publish", publish_handler, rt);
}
