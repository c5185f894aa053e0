/*
 * Herald's real-time protocol (JSON frames) on top of WebSocket connections: user
 * authentication at the handshake (token or demo id), the `hello` greeting, JSON frame dispatch by
 * "type", `ping` -> `pong`, and error frames for malformed input. Later modules (chat, notify) add
 * frame types.
 */
#ifndef HERALD_RT_RT_H
#define HERALD_RT_RT_H

#include "net/server.h"

struct rt;
struct identity;
struct server;

/*
 * The protocol's state for a server of nloops event loops: the per-loop
 * session tables. Registers a revocation listener with id, so that a revoked
 * user's sockets close with 4001 (once rt_attach has been called).
 * Start-up only.
 */
struct rt *rt_new(struct identity *id, int nloops);

/* Fills app with the protocol's callbacks (the handshake authenticates the user). */
void rt_ws_app(struct rt *rt, struct ws_app *app);

/* Tells rt the running server (for posting to its loops). Any thread, once. */
void rt_attach(struct rt *rt, struct server *srv);

/* After the server has stopped. NULL-safe. */
void rt_free(struct rt *rt);

#endif
