/*
 * The HTTP routes of herald serve in one place: serve.c builds the modules and adds their
 * routes here, and tests/unit/test_apidoc.c builds the same router to check that the OpenAPI
 * document (/api/docs) names every route and nothing else. The order is the order of
 * matching: the first route that matches wins.
 */
#include "cli/internal.h"

#include "apidoc/apidoc.h"
#include "chat/chat.h"
#include "console/console.h"
#include "identity/identity.h"
#include "metrics/ops.h"
#include "notify/channels.h"
#include "notify/events.h"
#include "notify/notify.h"
#include "notify/sending.h"
#include "router/router.h"
#include "rt/rt.h"
#include "upload/upload.h"

void cli__routes_add(struct router *r, const struct cli_routes *m)
{
    ops_register(r, m->ops);
    apidoc_register(r);
    chat_register(m->chat, r); /* first: the first match wins, /users/online before /users/{id} */
    notify_engine_register(m->notify, r); /* after chat: presence watches sessions first */
    notify_events_register(m->events, r, m->ident);
    identity_register(r, m->ident);
    console_register(r, m->ident);
    notify_register(r, m->ident);
    rt_register_routes(m->rt, r);
    upload_register(m->uploads, r);
    notify_channels_register(m->channels_api, r);
}
