/*
 * Channel drivers: how one rendered notification leaves Herald through one channel
 * (docs/notifications.md, "Channels"). A driver is blocking code run on the notification
 * workers, never on a loop thread. Channel rows (`channels` table) hold the driver kind and
 * its JSON config, whose secret members are sealed with the server's key (auth/secretbox.h);
 * the registry below opens a driver state per channel and reuses it (SMTP connections, access
 * tokens, per-account cool-down and rate state) until the channel's row changes.
 */
#ifndef HERALD_NOTIFY_DRIVER_H
#define HERALD_NOTIFY_DRIVER_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* One message for one address, already rendered. Borrowed for the call. */
struct notify_msg {
    const char *app_id;
    const char *notification_id; /* stable across retries */
    const char *delivery_id;     /* stable across retries: Message-ID, event ids, dedup keys */
    const char *type_code;       /* message type code, e.g. "order.shipped"; may be "" */
    const char *title;           /* rendered subject / title; "" when none */
    const char *content;         /* rendered plain body */
    const char *html;            /* rendered HTML body, or NULL (e-mail sends plain only) */
    const cJSON *data;           /* the notification's data object, or NULL */
    const cJSON *params; /* template parameters (provider templates: SMS, WeChat), or NULL */
    const char *address; /* e-mail address, phone, webhook URL, WeChat openid; NULL for
                            channels whose target is in their config (robots) */
    int attempt;         /* 1 for the first try */
};

enum notify_outcome {
    NOTIFY_SENT,      /* accepted by the provider */
    NOTIFY_RETRY,     /* temporary failure (SMTP 4xx, HTTP 408/429/5xx, timeout, connect) */
    NOTIFY_PERMANENT, /* never retried (SMTP 5xx, other HTTP 4xx, refused target, bad address) */
};

struct notify_result {
    enum notify_outcome outcome;
    int code;              /* SMTP or HTTP status of the last reply, 0 when none */
    int retry_after_s;     /* from the provider (Retry-After), 0 when none */
    char detail[256];      /* short reason for the attempt log; never a secret */
    char provider_id[128]; /* the provider's message id when it gives one, else "" */
};

/* A channel as the queue reads it from the `channels` table. Borrowed for the call. */
struct notify_channel_row {
    const char *id;
    const char *app_id;
    const char *kind;   /* "email", "webhook", "dingtalk", "wecom", "feishu", "slack",
                           "sms_aliyun", "wechat_mp" */
    const char *config; /* the stored JSON text, secret members sealed */
    int64_t updated_at; /* a newer value reopens the driver state */
};

struct notify_channels;

/* The registry of opened channels. key: the secretbox key (borrowed, outlives the registry);
 * allow_private: HERALD_ALLOW_PRIVATE_TARGETS. Any thread. */
struct notify_channels *notify_channels_new(const uint8_t *key, bool allow_private);
void notify_channels_free(struct notify_channels *chs); /* NULL-safe; no send may be running */

/* Sends m through the channel described by row: opens the driver state for row->id (or reuses
 * it while row->updated_at is unchanged) and calls the driver. Blocking, bounded by the
 * driver's timeouts; safe to call from several worker threads at once, also for the same
 * channel. Always fills r. */
void notify_channel_send(struct notify_channels *chs, const struct notify_channel_row *row,
                         const struct notify_msg *m, struct notify_result *r);

/* true for the kinds above (not "inapp", which the queue delivers itself). */
bool notify_driver_kind_is_known(const char *kind);

/* true for every channel kind a send, a message type (channels, escalation), a channel pair's
 * template, a subscription or a list filter may name: "inapp" and the driver kinds (SPEC §2).
 * Any thread. */
bool notify_kind_is_known(const char *kind);

/* The same kinds, for error messages ("must be a channel kind: " NOTIFY_KINDS_TEXT); a unit test
 * checks it against notify_kind_is_known. */
#define NOTIFY_KINDS_TEXT                                                                          \
    "inapp, email, webhook, dingtalk, wecom, feishu, slack, sms_aliyun, wechat_mp"

#endif
