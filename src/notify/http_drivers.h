/*
 * Inside the notification module: the channel drivers that speak HTTP (docs/providers/), each
 * a `struct notify_driver` (drivers.h) for the registry's driver table, and the config and
 * result helpers they share (drv_common.c). Every request goes through http_out.h.
 */
#ifndef HERALD_NOTIFY_HTTP_DRIVERS_H
#define HERALD_NOTIFY_HTTP_DRIVERS_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "notify/drivers.h"

extern const struct notify_driver notify_driver_webhook;    /* drv_webhook.c */
extern const struct notify_driver notify_driver_dingtalk;   /* drv_robots.c */
extern const struct notify_driver notify_driver_wecom;      /* drv_robots.c */
extern const struct notify_driver notify_driver_feishu;     /* drv_robots.c */
extern const struct notify_driver notify_driver_slack;      /* drv_robots.c */
extern const struct notify_driver notify_driver_sms_aliyun; /* drv_sms_aliyun.c */
extern const struct notify_driver notify_driver_wechat_mp;  /* drv_wechat_mp.c */

/* The string member name of cfg, or NULL when absent or not a string. */
const char *notify__cfg_str(const cJSON *cfg, const char *name);

/* The checks of a config being saved; each returns 0 or ERR_INVAL with field and msg set
 * (drivers.h, check). */
int notify__check_object(const cJSON *cfg, const char *const *allowed, char *field, size_t fieldsz,
                         char *msg, size_t msgsz);
int notify__check_str(const cJSON *cfg, const char *name, bool required, size_t maxlen, char *field,
                      size_t fieldsz, char *msg, size_t msgsz);
int notify__check_url(const cJSON *cfg, const char *name, bool required, char *field,
                      size_t fieldsz, char *msg, size_t msgsz);
/* "timeout_s": optional integer, 1..HTTP_OUT_TIMEOUT_MAX_S. */
int notify__check_timeout(const cJSON *cfg, char *field, size_t fieldsz, char *msg, size_t msgsz);
/* An optional object of strings (e.g. "templates": {"order.shipped": "SMS_1"}), at most
 * max members of at most maxlen bytes. */
int notify__check_str_map(const cJSON *cfg, const char *name, size_t max, size_t maxlen,
                          char *field, size_t fieldsz, char *msg, size_t msgsz);

/* The timeout of cfg ("timeout_s"), 0 when absent (http_out's default). */
int notify__cfg_timeout(const cJSON *cfg);

/* Sets r to outcome o with code and a formatted detail. */
void notify__result(struct notify_result *r, enum notify_outcome o, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The text of a message for channels with one text field: "title\ncontent", or content. */
void notify__msg_text(struct buf *b, const struct notify_msg *m);

/* A template parameter value as text: a string as is, a number or bool printed, other JSON
 * values serialized. Appends to b. */
void notify__param_text(struct buf *b, const cJSON *v);

/* Shortens b to at most max bytes (max >= 8) at a UTF-8 character boundary, ending in "..."
 * when cut: for providers that refuse a longer text instead of cutting it. */
void notify__cut_utf8(struct buf *b, size_t max);

/* xstrdup of s, or NULL when s is NULL. */
char *notify__dup(const char *s);

#endif
