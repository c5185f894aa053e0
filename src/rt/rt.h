/*
 * The real-time protocol on top of WebSocket connections: user
 * authentication at the handshake (token or demo id), the `hello` greeting,
 * JSON frame dispatch by "type" through a table that feature modules
 * register into, `ping` -> `pong`, error frames for malformed input, and the
 * link to the event bus: every connection subscribes to its user's topic and
 * its app's topic on its own loop, so an event published to a user reaches
 * every device of that user, once encoded, and a revocation closes exactly
 * the connections it names (close code 4001).
 */
#ifndef HERALD_RT_RT_H
#define HERALD_RT_RT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/jwt.h"
#include "bus/bus.h"
#include "identity/revoke.h"
#include "net/server.h"

struct rt;
struct rt_operator;
struct rt_replay;
struct identity;
struct server;
struct router;

#define RT_DEVICE_MAX 64
#define RT_USER_MAX 64        /* user ids are 1-64 characters (docs/identity.md) */
#define RT_CLOSE_REVOKED 4001 /* the user's tokens (or this session's) were revoked */

/*
 * One authenticated WebSocket connection, owned by its connection (freed
 * when it closes). Feature modules read it in their command handlers; loop
 * thread of the connection only. Sized to its strings (one allocation, about
 * 200 bytes for a user: an idle connection's memory is mostly this and the
 * connection), an operator's own state apart (op).
 */
struct rt_session {
    struct ws_conn *conn; /* NULL until the connection opens */
    struct rt *rt;
    struct bus_sub user_sub; /* topic "u:<app>/<user>" */
    struct bus_sub app_sub;  /* topic "a:<app>" */
    uint64_t id;             /* unique in this process: an event's skip names it */
    int loop;                /* index of the loop that owns the connection */
    int holds;               /* rt_session_hold minus rt_session_release */
    bool closed;             /* the connection has gone (conn is NULL); freed at the last
                                release */
    bool demo;
    bool spoke;    /* the client has sent a frame (replay.c: the hold after hello ends) */
    bool operator; /* a monitoring operator (docs/protocol.md, "Operator connections"): no user,
                      read-only; user_sub is its "o:<operator>" topic, app_sub "o:*" */
    struct rt_operator *op;   /* owned: the operator's state (rt.c); NULL for a user */
    struct rt_replay *replay; /* owned: replay state around a sync (replay.c), else NULL */
    uint64_t opened_ms;       /* clock_mono_ms() when the session was made */
    int64_t hello_cursor;     /* the cursor its hello named: older events are not sent live */
    /* NUL-terminated, in the session's own allocation (text); "" when not set. At most
     * JWT_APP_MAX, RT_USER_MAX, RT_DEVICE_MAX and REVOKE_SESSION_MAX characters. */
    const char *app_id;
    const char *user_id;
    const char *device_id;
    const char *session_id; /* the login session of the token ("" in demo mode): logging out of
                               it closes this connection, the user's other sessions stay */
    char text[];            /* the four strings above, one after the other */
};

/*
 * A command handler: msg is the parsed frame (an object with a string
 * "type"), borrowed for the call. It answers on s->conn (rt_send_error,
 * ws_conn_send_text) now or later. Loop thread of the connection.
 */
typedef void (*rt_cmd_fn)(struct rt_session *s, const cJSON *msg, void *ud);

/*
 * The protocol's state for a server of nloops event loops, with its bus.
 * Registers a revocation listener with id, so that a revoked user's or
 * session's sockets close with 4001 (once rt_attach has been called).
 * Start-up only.
 */
struct rt *rt_new(struct identity *id, int nloops);

/*
 * Adds the handler of frames whose "type" is type (static storage). A type
 * registered twice is a programming error (abort). Start-up only, before the
 * server starts.
 */
void rt_register(struct rt *rt, const char *type, rt_cmd_fn fn, void *ud);

/*
 * Called on the connection's loop thread when an authenticated session opens (open true, after
 * its subscriptions) and when that session's connection closes (open false; s is still
 * valid). Up to RT_WATCH_MAX watchers (presence, notifications' re-sends), called in the
 * order they were added. Start-up only.
 */
#define RT_WATCH_MAX 4
typedef void (*rt_watch_fn)(struct rt_session *s, bool open, void *ud);
void rt_watch(struct rt *rt, rt_watch_fn fn, void *ud);

/*
 * The authenticator of operator connections (docs/protocol.md, "Operator connections"): a
 * handshake whose token (Authorization, ?token= or Sec-WebSocket-Protocol bearer.<t>) is an
 * operator token is handed to fn with it (tok[0..len), borrowed for the call), which answers
 * 401/403 itself or calls rt_operator_accept. Unset: operator tokens are refused as bad user
 * tokens. Start-up only.
 */
typedef void (*rt_operator_auth_fn)(struct http_req *req, const char *tok, size_t len, void *ud);
void rt_operator_auth(struct rt *rt, rt_operator_auth_fn fn, void *ud);

/*
 * Accepts req's handshake as operator operator_id monitoring the apps of apps_json (a JSON
 * array of app ids; NULL: every app): the session subscribes to each app's monitor topic
 * (bus_topic_monitor) and to its operator topics (a REVOKE there closes it with 4001), sends
 * no command but ping, is no user's device (no presence). Loop thread of req.
 */
void rt_operator_accept(struct rt *rt, struct http_req *req, const char *operator_id,
                        const char *apps_json);

/*
 * Sync on a socket: replay, then live, each event once, in commit order (docs/protocol.md,
 * "Sync"). A user's live frames of logged events also wait from hello until the client's first
 * frame, at most half a second (replay.c): a sync sent right after hello comes first. A sync
 * command calls rt_sync_begin before its read: from then on the live frames of logged events
 * (frame->cursor > 0) wait. Each replayed event is passed to rt_sync_replayed first: false means
 * the socket had it already (live before the sync, or on an earlier page), so it is not sent again.
 * rt_sync_end after the page's frames (and after a failed read, with more false): more true keeps
 * the live frames waiting for the next page; otherwise, once no other sync of the socket is under
 * way, the waiting frames the replay did not cover go out, and from then on live frames flow (a
 * cursor sent by the replay is not sent again live). A client that asks for no next page within 10
 * s gets the waiting frames at the loop's next sweep or with the next live event; more than 10,000
 * waiting (or 4 MiB) close the socket with 1013: it reconnects and syncs from its cursor. Loop
 * thread of s.
 */
void rt_sync_begin(struct rt_session *s);
bool rt_sync_replayed(struct rt_session *s, int64_t cursor);
void rt_sync_end(struct rt_session *s, bool more);

/* Fills app with the protocol's callbacks (the handshake authenticates the user). */
void rt_ws_app(struct rt *rt, struct ws_app *app);

/* Tells rt the running server (for waking its loops) and wakes each loop, so that events
 * published before (no loop to wake then) are delivered; NULL detaches. Any thread. */
void rt_attach(struct rt *rt, struct server *srv);

/* The bus; feature modules publish to it. Borrowed for rt's lifetime. */
struct bus *rt_bus(struct rt *rt);
/* Whether a monitoring operator's session may be open: one on this node, or any node when the
 * bus is bridged to others (their monitors get only what this node publishes). The members'
 * fan-out skips the monitor topics when none is (a session opening meanwhile sees what
 * follows its hello). */
bool rt_has_monitors(struct rt *rt);

/*
 * Publishes the JSON text json[0..len) to every connection subscribed to
 * topic (e.g. bus_topic_user()), except the session whose id is skip (0 =
 * none): the WebSocket frame is encoded once and shared. cursor: the event's
 * (0: not a logged event). Any thread.
 */
void rt_publish(struct rt *rt, const char *topic, const char *json, size_t len, uint64_t skip,
                int64_t cursor);

/*
 * Records that the event with this cursor has been committed (the newest one wins): hello
 * tells new connections the newest cursor known, so it never names an event that could still
 * be missed live. Any thread.
 */
void rt_cursor_seen(struct rt *rt, int64_t cursor);

/*
 * Keeps s alive across asynchronous work (a store step of a command): when its connection
 * closes meanwhile, s->conn becomes NULL and s->closed true, and s is freed by the last
 * rt_session_release. The work counts as a request in flight on the session's loop
 * (server_work_begin), so shutdown waits for it. Loop thread of s.
 */
void rt_session_hold(struct rt_session *s);
void rt_session_release(struct rt_session *s);

/*
 * Runs fn(arg) on the loop of s (held by the caller). Any thread. While the server stops,
 * a post after its loops have ended is dropped (server_post).
 */
void rt_session_post(struct rt_session *s, void (*fn)(void *arg), void *arg);

/* Sends an `error` frame {code, message, field?}. Loop thread of c. */
void rt_send_error(struct ws_conn *c, const char *code, const char *message, const char *field);

/*
 * Adds POST /api/v1/publish (app authentication): {"to": "*" | [user ids],
 * "event": any JSON} pushes {"type":"event","event":…} to the connected
 * devices of those users (live only, not stored); 202 {"published": n}.
 * Start-up only.
 */
void rt_register_routes(struct rt *rt, struct router *r);

/* The identity rt authenticates with (for rt's own handlers). */
struct identity *rt__identity(struct rt *rt);

/* After the server has stopped. NULL-safe. */
void rt_free(struct rt *rt);

#endif
