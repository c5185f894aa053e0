/*
 * Quick replies (docs/service.md): what the end users' endpoints (chat/quick_replies.c) and
 * the operators' endpoints for the app-shared ones (console/quick_replies.c) share — the
 * limits and the body decoder tables, written once in chat/quick_replies.c.
 */
#ifndef HERALD_CHAT_QUICK_REPLY_H
#define HERALD_CHAT_QUICK_REPLY_H

#include <stdint.h>

#include "kit/decode.h"

#define QUICK_REPLIES_MAX 200        /* replies of one user, and shared replies of one app */
#define QUICK_REPLY_TITLE_MAX 64     /* characters of a title */
#define QUICK_REPLY_CONTENT_MAX 1000 /* characters of a content */
#define QUICK_REPLY_POSITION_MAX 1000000
#define QUICK_REPLY_ID_LEN 25 /* "q" and 24 hex characters */

/* A decoded body: the strings borrow from its JSON; position KIT_INT_ABSENT when absent. */
struct quick_reply_in {
    const char *title, *content;
    int64_t position;
};

/* POST bodies (content required) and PATCH bodies (every member optional). */
extern const struct kit_table quick_reply_create_table;
extern const struct kit_table quick_reply_patch_table;

#endif
