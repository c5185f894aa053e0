/*
 * The WebSocket sessions of one event loop, indexed by user: who is
 * connected to this loop, so that events for a user (and revocations) reach
 * every connection of that user on this loop. Each loop owns one table; no
 * locking (loop thread only).
 */
#ifndef HERALD_RT_SESSIONS_H
#define HERALD_RT_SESSIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/jwt.h"

struct ws_conn;

#define RT_DEVICE_MAX 64

struct rt_session {
    struct ws_conn *conn; /* NULL until the connection opens */
    struct rt_session *chain;
    unsigned hash;
    bool demo;
    char app_id[JWT_APP_MAX + 1];
    char user_id[65]; /* user ids are 1-64 characters (docs/identity.md) */
    char device_id[RT_DEVICE_MAX + 1];
    char session_id[33]; /* the login session of the token ("" in demo mode): logging out of
                            it closes this connection, the user's other sessions stay */
};

struct rt_sessions;

struct rt_sessions *rt_sessions_new(void);
/* Frees the table (not the sessions, which their connections own). NULL-safe. */
void rt_sessions_free(struct rt_sessions *t);

/* Adds s (its app_id and user_id set). */
void rt_sessions_add(struct rt_sessions *t, struct rt_session *s);
/* Removes s; harmless when it is not in t. */
void rt_sessions_remove(struct rt_sessions *t, struct rt_session *s);

/*
 * Calls fn(s, ud) for every session of user_id in app_id, or of every user of
 * app_id when user_id is NULL. fn may not add or remove sessions; it may start
 * a close (the session leaves the table when the connection closes).
 */
void rt_sessions_each(struct rt_sessions *t, const char *app_id, const char *user_id,
                      void (*fn)(struct rt_session *s, void *ud), void *ud);

/* Sessions held. */
size_t rt_sessions_count(const struct rt_sessions *t);

#endif
