/*
 * The event bus: how an event reaches every connection that wants it, on
 * every event loop (and, with a multi-node implementation behind this same
 * header, on every node). Feature code publishes an event to a topic — a
 * user ("u:<app>/<user>"), a conversation, an app, or any other name — and
 * connections subscribe to topics on their own loop.
 *
 * An event is built once and shared: publishing takes a reference, every
 * loop receives the same struct bus_event, and a subscriber that forwards the
 * event's frame to its socket queues a reference to the same bytes. Each loop
 * is woken at most once per batch: publishers append to the loop's inbox
 * under one short lock and call the loop's waker only when the inbox was
 * empty.
 *
 * This is the in-process implementation; with HERALD_REDIS_URL, bus_redis.h bridges it to the
 * other nodes (a bridge sees every frame event published here and publishes what the other
 * nodes send as remote events).
 */
#ifndef HERALD_BUS_BUS_H
#define HERALD_BUS_BUS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct frame;
struct bus;
struct bus_topic;

#define BUS_TOPIC_MAX 160

/*
 * What travels on the bus. kind is the publisher's (each feature defines its
 * kinds; BUS_KIND_* below are the shared ones), frame the encoded bytes to
 * forward (may be NULL for control events), skip the id of one subscriber
 * that must not get it (e.g. the connection that sent a message; 0 = none),
 * arg a short string for control events (e.g. a session id). Immutable once
 * published; freed when the last loop is done with it.
 */
struct bus_event {
    atomic_uint refs;
    int kind;
    uint64_t skip;
    bool remote;         /* came from another node (bus_redis.c): not bridged back */
    struct frame *frame; /* owned reference */
    char arg[72];
    char topic[BUS_TOPIC_MAX + 1];
};

enum {
    BUS_KIND_FRAME = 1, /* forward the frame to the subscriber's socket */
    BUS_KIND_REVOKE,    /* close the subscriber's socket: arg = "" (all) or a session id */
};

/*
 * A subscription, embedded in the subscriber's own struct (no allocation per
 * subscription beyond the topic's entry). fn runs on the subscriber's loop
 * for every event published to the topic; it may unsubscribe s itself, but
 * no other subscription of the same topic. id is compared with an event's
 * skip.
 */
struct bus_sub {
    struct bus_sub *next, *prev;
    struct bus_topic *topic;
    void (*fn)(struct bus_sub *s, const struct bus_event *ev);
    uint64_t id;
};

/*
 * A bus for nloops event loops. wake(idx, ud) is called (from the
 * publishing thread) when loop idx's inbox goes from empty to non-empty; it
 * must arrange for bus_loop_run(b, idx) to run on that loop soon.
 */
struct bus *bus_new(int nloops, void (*wake)(int idx, void *ud), void *ud);

/* Frees the bus and any undelivered events. Loops must be stopped. NULL-safe. */
void bus_free(struct bus *b);

/*
 * A new event with one reference owned by the caller. frame: a reference
 * the event takes over (may be NULL). topic is truncated at BUS_TOPIC_MAX.
 */
struct bus_event *bus_event_new(int kind, const char *topic, struct frame *frame);

/* Drops one reference; the last frees the event and its frame. NULL-safe. */
void bus_event_unref(struct bus_event *ev);

/*
 * Publishes ev (the caller's reference is consumed) to every loop. Any
 * thread. Never blocks beyond a short lock; never allocates in the steady
 * state (inboxes keep their capacity; after a burst of thousands of events
 * they give it back and grow again from a small size).
 */
void bus_publish(struct bus *b, struct bus_event *ev);

/*
 * Sets the bridge to other nodes: fn(ev, ud) runs inside bus_publish, on the publishing thread,
 * for every BUS_KIND_FRAME event with a frame that is not remote, before it is delivered here; it
 * must not block (bus_redis.c queues the event for its own thread). Set once, before any thread
 * publishes; NULL: none.
 */
void bus_set_bridge(struct bus *b, void (*fn)(const struct bus_event *ev, void *ud), void *ud);

/* Whether a bridge to other nodes is set (what this node publishes may have readers there). */
bool bus_bridged(const struct bus *b);

/* Subscribes s (fn and id set by the caller) to topic on loop idx. Loop idx's thread. */
void bus_subscribe(struct bus *b, int idx, const char *topic, struct bus_sub *s);

/* Removes s from its topic (no-op when not subscribed). Loop thread of the subscription. */
void bus_unsubscribe(struct bus *b, int idx, struct bus_sub *s);

/* Delivers the events queued for loop idx. Loop idx's thread (called after a wake). */
void bus_loop_run(struct bus *b, int idx);

/* Subscriptions on loop idx (for tests and metrics). Loop idx's thread. */
size_t bus_loop_subscriptions(struct bus *b, int idx);

/* Topic helpers: writes "u:<app>/<user>" or "a:<app>" into out (BUS_TOPIC_MAX + 1). */
void bus_topic_user(char *out, const char *app_id, const char *user_id);
void bus_topic_app(char *out, const char *app_id);
/* "m:<app>": an app's chat events for monitoring operators ("m:*": every app's); "o:<operator>":
 * an operator's sockets ("o:*": every operator's). */
void bus_topic_monitor(char *out, const char *app_id);
void bus_topic_operator(char *out, const char *operator_id);

#endif
