/*
 * The real-time protocol of SPEC §4 on top of WebSocket connections: the
 * `hello` greeting, JSON frame dispatch by "type", `ping` -> `pong`, and error
 * frames for malformed input. Later modules (chat, notify) add frame types.
 */
#ifndef HERALD_RT_RT_H
#define HERALD_RT_RT_H

#include "net/server.h"

/* Fills app with the protocol's callbacks. */
void rt_ws_app(struct ws_app *app);

#endif
