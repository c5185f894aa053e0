/*
 * Helpers shared inside src/chat/ only: the module's state, the context a chat request carries
 * across the steps of its kit job (kit/job.h), the conversation JSON and the event publisher.
 */
#ifndef HERALD_CHAT_INTERNAL_H
#define HERALD_CHAT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "auth/jwt.h"
#include "chat/chat.h"
#include "kit/decode.h"
#include "kit/job.h"

struct buf;
struct http_req;
struct store_result;
struct rt_session;
struct store_op;
struct store_rows;
struct frame;
struct rt;
struct user_principal;
struct router;
struct search_query;
struct store;

#define CHAT_ID_LEN 25 /* "c" and 24 hex characters */

struct chat {
    struct identity *id;  /* borrowed */
    struct rt *rt;        /* borrowed */
    int max_chars;        /* characters of a text message (HERALD_MAX_MESSAGE_CHARS) */
    int support_capacity; /* unresolved conversations an agent is routed at most (0: no limit) */
    int history_days;     /* days of events sync replays, 0 all (HERALD_HISTORY_DAYS) */
    int recall_window_ms; /* a sender may recall this long (HERALD_RECALL_WINDOW) */
    struct presence *presence;      /* owned (presence.c) */
    struct chat_directs *directs;   /* owned (directs.c) */
    struct retention *retention;    /* owned (retention.c); NULL when everything is kept */
    struct search_indexer *indexer; /* owned (search_index.c) */
    struct support *support;        /* owned (service.c) */
    char node_id[33];               /* this process's (chat_set_node): support routing's flags */
    struct chat_event_hook hook; /* the event webhooks' (chat_set_event_hook); wants NULL: none */
};

/* The hook's event (chat.h) for app: obj built by build(r, i) only when it is wanted. */
void chat__event(struct chat *ch, const char *app_id, const char *event, const char *id,
                 const struct store_rows *r, int i, bool conversation);

#define CHAT_MSG_ID_LEN 25 /* "m" and 24 hex characters */

/*
 * A new message id into out (CHAT_MSG_ID_LEN + 1 bytes): "m", the 48-bit time now_ms in 12
 * hex characters, then 12 random hex characters. Ids made later sort later, so the indexes
 * keyed by message id grow at their end instead of touching a random page per send.
 */
void chat__msg_id_new(char *out, int64_t now_ms);

/* The columns of a conversation row (SQL_CONVERSATIONS_COLS). */
enum {
    CV_ID,
    CV_TYPE,
    CV_NAME,
    CV_AVATAR,
    CV_OWNER,
    CV_SEQ,
    CV_ACT,
    CV_CREATED,
    CV_UPDATED,
    CV_N,
    CV_STATUS, /* the service workflow (service.c) */
    CV_ASSIGNEE,
    CV_CUSTOMER,
};

/* A message to send, decoded (send.c): the strings borrow from the request's JSON. */
struct chat_msg_in {
    const char *type, *reply_to, *client_msg_id;
    const cJSON *content;
};

/* What a conversation endpoint does after loading the conversation (members.c). */
enum chat_action {
    CHAT_GET,
    CHAT_PATCH,
    CHAT_ADD,
    CHAT_REMOVE,
    CHAT_ROLE,
    CHAT_LEAVE,
    CHAT_JOIN,
};

/* The state of one chat request: the context of its kit job. */
struct chctx {
    struct chat *chat;
    char app_id[JWT_APP_MAX + 1];
    char user_id[JWT_SUB_MAX + 1]; /* who asks */
    bool demo;
    bool direct_cached; /* a send with `to` whose conversation came from chat->directs */
    bool no_customer;   /* a send into a conversation known to have no customer: none reopens */
    char direct_key[2 * JWT_SUB_MAX + 2]; /* a send with `to`: chat__direct_key() */
    char conv_id[KIT_ID_MAX + 1];
    char target[JWT_SUB_MAX + 1]; /* the peer, or the member removed or given a role */
    char notify[JWT_SUB_MAX + 1]; /* a user who left or was removed ("" none): told too */
    enum chat_action action;
    int ok_status;    /* 200 or 201; 204: answer without a body */
    int publish_step; /* publish only when this step changed rows (-1: always) */
    int64_t page, page_size;
    cJSON *body;             /* owned; the strings below borrow from it */
    struct chat_msg_in msg;  /* a send */
    struct rt_session *sess; /* a send over the WebSocket: held, released with the ctx */
    struct sse *sse;         /* GET /events: the stream being opened (events_sse.c) */
    char *content_json;      /* owned: a send's content as compact JSON */
    char msg_id[CHAT_MSG_ID_LEN + 1];
    int64_t before_seq, after_seq, limit; /* history */
    int64_t seq;                          /* a read: the seq read up to */
    const char *name, *avatar, *role;
    struct kit_array ids; /* a group's members or the users to add */
    char *ids_json;       /* owned: ids as a JSON array */
    char *sys_json;       /* owned: the content of the system message the write adds, or NULL */
    bool wrapped;         /* a send's message members sit under "message." (a frame, or `to`) */
    bool operator;        /* an operator's request (a recall) */
    char *apps_json;      /* owned: an operator's apps with the right, NULL every app */
    char operator_id[JWT_SUB_MAX + 1]; /* that operator (its audit rows) */
    kit_fn support_then; /* after a support open: what runs next (a send), NULL answers it */
    kit_fn after_send;   /* after a send commits: what answers instead of the message */
    bool replayed;       /* a repeated client_msg_id: after_send answers with Idempotency-Replay */
    struct search_query *search; /* owned: a search's parsed query (search.c) */
    char *search_expr;           /* owned: its match expression */
    int64_t search_offset;       /* the page's first hit */
};

/*
 * The key that makes a direct conversation unique in its app: the two user ids sorted and
 * joined by a space (no user id holds one), so (a, b) and (b, a) give the same key. Writes
 * it into out (n bytes); false when it does not fit or a and b are the same user. Any thread.
 */
bool chat__direct_key(const char *a, const char *b, char *out, size_t n);

/*
 * The direct conversation of c->user_id and c->target, got or created: one write op ending
 * with the conversation and its members; its step c->publish_step changed a row when this
 * op created it. NULL when the two are the same user. conversations.c.
 */
struct store_op *chat__direct_op(struct chctx *c);

/*
 * The direct conversations resolved lately (directs.c): conversation ids by app and direct
 * key, a bounded cache a send with `to` reads before it gets or creates the conversation.
 * Any thread.
 */
struct chat_directs;
struct chat_directs *chat__directs_new(void);
void chat__directs_free(struct chat_directs *d);
/* Copies the conversation id of (app_id, key) into conv_id (n bytes) and whether it is a
 * service conversation (one with a customer, docs/service.md) into *service; false when not
 * held. */
bool chat__directs_get(struct chat_directs *d, const char *app_id, const char *key, char *conv_id,
                       size_t n, bool *service);
void chat__directs_put(struct chat_directs *d, const char *app_id, const char *key,
                       const char *conv_id, bool service);
/* Forgets (app_id, key): its conversation refused a send (gone, or the sender left it). */
void chat__directs_drop(struct chat_directs *d, const char *app_id, const char *key);
/*
 * A send with `to` that missed: true when j is to get or create the conversation itself (then
 * chat__directs_done must follow once, whatever the outcome); false when another send is
 * doing it: j was added to its waiters and the caller starts kit_wait(j, …), woken (status 0)
 * by that send's chat__directs_done.
 */
bool chat__directs_lead(struct chat_directs *d, const char *app_id, const char *key,
                        struct kit_job *j);
/* The leader's get-or-create of (app_id, key) ended: conv_id (NULL: it failed) is remembered
 * as chat__directs_put does, then every waiter is woken. */
void chat__directs_done(struct chat_directs *d, const char *app_id, const char *key,
                        const char *conv_id, bool service);

/* The context's free function (every chat job's). */
void chat__ctx_free(void *ctx);

/* A kit job for req on behalf of p, with a zeroed context. Loop thread. */
struct kit_job *chat__job_new(struct http_req *req, struct chat *c, const struct user_principal *p);

static inline struct chctx *chat__ctx(const struct kit_job *j)
{
    return j->ctx;
}

/* The path parameter name when it is a well-formed id, else NULL after answering 404 with
 * message. */
const char *chat__path_id(struct http_req *req, const char *name, const char *message);

/* ?page= and ?page_size= into c (1, 20; page_size capped at 100); false after answering 422. */
bool chat__paging(struct http_req *req, struct chctx *c);

/*
 * Conversation row i of conv (SQL_CONVERSATIONS_COLS) as JSON, with its members from members
 * (SQL_CONVERSATION_MEMBERS_COLS; may be NULL) unless it is a room, and for a direct one the
 * profile of the member who is not me as "peer" (me NULL: no peer, e.g. an event frame).
 * "/media/..." avatars are written absolute for req (kit/media_url.h; NULL for a frame).
 */
cJSON *chat__conv_json(const struct store_rows *conv, int i, const struct store_rows *members,
                       const char *me, struct http_req *req);

/*
 * Publishes f (the caller keeps its reference) to the user topic of every user id in column
 * col of ids, except the one named except (may be NULL); each event skips the subscriber
 * with id skip (0: none). The frame is shared, not copied. Any thread.
 */
void chat__publish_rows(struct rt *rt, const char *app_id, const struct store_rows *ids, int col,
                        const char *except, struct frame *f, uint64_t skip);

/*
 * Publishes {"type":"conversation.updated","conversation":conv} (plus "removed":[notify] when
 * notify is not NULL or "") to the user topic of every member in members and of notify; the
 * frame is encoded once. Any thread.
 */
void chat__publish_updated(struct chat *c, const char *app_id, const cJSON *conv,
                           const struct store_rows *members, const char *notify, int64_t cursor);

/*
 * Writes the conversation.updated frame into b: conv, "removed":[removed] when removed is not
 * NULL or "", and "cursor" when cursor > 0. The live event and sync's replay share it.
 */
void chat__updated_frame(struct buf *b, const cJSON *conv, const char *removed, int64_t cursor);

/*
 * Appends the two statements that log a change of a conversation in the same write op:
 * SQL_EVENTS_INSERT_CONV (kind, about user or NULL; only_new: only when the op added members)
 * and SQL_CONVERSATION_MEMBERS_SET_JOINED. The conversation is conv_id or, for a direct one
 * being created, direct_key (the other NULL). Followed by the system message's statements
 * when c->sys_json is set (chat__add_system) and by two more statements (the conversation
 * and its members): chat__event_cursor finds the event.
 */
void chat__add_event(struct store_op *op, const struct chctx *c, const char *conv_id,
                     const char *direct_key, const char *kind, const char *user, bool only_new);

/* The steps chat__add_system appends; the message row is step -4 of them, its event -5
 * counted from the end of the whole op when two steps follow (conversation and members). */
#define CHAT_SYSTEM_STEPS 5

/*
 * Appends the system message c->sys_json (type system, sender c->user_id) to c->conv_id in
 * the same write op: the next seq, the message, its message.new event, the message read
 * back, and the actor's read_seq moved to it (the actor has seen their own change).
 */
void chat__add_system(struct store_op *op, struct chctx *c);

/*
 * Appends what every membership or service change ends with: its event (kind, about user or
 * NULL; only_new: only when the op added members), the system message telling it (when
 * c->sys_json is set), then the two statements chat__finish_write reads. members.c.
 */
void chat__add_change_tail(struct store_op *op, struct chctx *c, const char *kind, const char *user,
                           bool only_new);

/* The cursor of the conversation event of a write laid out as chat__add_event says, 0 when
 * none was written. */
int64_t chat__event_cursor(const struct chctx *c, const struct store_result *res);

/*
 * Publishes {"type":kind,"message":…,"cursor"} (message.new or message.updated) for message
 * row 0 of m (SQL_MESSAGES_COLS) to the user topic of every user id in column col of ids,
 * skipping the subscriber skip (0: none); encoded once. Any thread.
 */
void chat__publish_msg(struct chat *chat, const char *app_id, const char *kind,
                       const struct store_rows *m, int64_t cursor, const struct store_rows *ids,
                       int col, uint64_t skip);

/* The message frame {"type":kind,"message":…,"cursor"} of message row i of r (its columns
 * from col on), as the live event and sync's replay write it. */
void chat__msg_frame(struct buf *b, const char *kind, const struct store_rows *r, int i, int col,
                     int64_t cursor);

/*
 * Answers a write that ended with SQL_CONVERSATIONS_GET and SQL_CONVERSATION_MEMBERS_OF:
 * the conversation (c->ok_status; 204 without a body).
 */
void chat__finish_write(struct kit_job *j);

/*
 * Submits such a write (kit_store_committed): right after its commit, on the writer thread,
 * the event to its members (when c->publish_step is -1 or that step changed rows) and the
 * system message; then chat__finish_write answers. Returns kit_store's result.
 */
bool chat__write(struct kit_job *j, struct store_op *op);

/* chat__write with another continuation (a get-or-create that goes on with a send). */
bool chat__write_then(struct kit_job *j, struct store_op *op, kit_fn next);

/* Answers a failed store step: 404 no such conversation, 503 on back-pressure, ... (over
 * HTTP, or as an `error` frame to a WebSocket command's connection). */
void chat__fail_store(struct kit_job *j);

/*
 * Refuses the job's request: over HTTP with status and the error body; for a WebSocket
 * command (j->req NULL) with {"type":"error","code","message","field"?,"client_msg_id"?} on
 * the session's connection, when it is still open. Loop thread.
 */
void chat__fail(struct kit_job *j, int status, const char *code, const char *message,
                const char *field);

/*
 * The ids of a decoded list as a JSON array (owned), without me (may be NULL); NULL after
 * answering 422 naming a repeated id (field "<name>[i]"). conversations.c.
 */
char *chat__ids_json(struct http_req *req, const struct kit_array *a, const char *name,
                     const char *me);

/*
 * After SQL_USERS_EXISTING on c->ids: the first listed id (other than the asker) that is no
 * user of the app is answered 404 naming it (field "<list>[i]"); true when all exist.
 */
bool chat__users_exist(struct kit_job *j, const struct store_rows *r, const char *list);

/*
 * Checks a decoded message against its type's content shape (docs/chat.md): text of 1 to
 * max_chars characters, a media object, custom JSON of at most CHAT_CUSTOM_MAX bytes; system
 * is refused. prefix names where the message sits ("" for a body, "message." in a frame).
 * Returns the content as compact JSON (owned), or NULL with err filled. send.c.
 */
char *chat__msg_check(const struct chat_msg_in *in, int max_chars, const char *prefix,
                      struct kit_error *err);

/*
 * Message row i of r (SQL_MESSAGES_COLS) as JSON, with a quoted preview of the message it
 * replies to. messages.c.
 */
cJSON *chat__msg_json(const struct store_rows *r, int i);

/* The same, from the row's columns at, at + 1, ... (SQL_MESSAGES_COLS after other columns). */
cJSON *chat__msg_json_at(const struct store_rows *r, int i, int at);

/*
 * The preview of a message (a new cJSON string): the first CHAT_PREVIEW_CHARS characters of a
 * text message (content is its JSON text), "[image]" and the like for the other types, ""
 * once recalled; never a URL. messages.c.
 */
cJSON *chat__preview_text(const char *type, const char *content, bool recalled);

/*
 * Adds the asker's read state to the conversation object o: "read_seq", "unread_count" and
 * "last_message" ({"id","seq","sender_id","type","preview","created_at","recalled"}, or null),
 * from row i of r, whose columns from col on are SQL_CONVERSATION_STATE_COLS. read.c.
 */
void chat__conv_add_state(cJSON *o, const struct store_rows *r, int i, int col);

/* Adds "last_message" (as chat__conv_add_state) from row i of r, whose columns from col on are
 * the newest message's id, seq, sender, type, content, created_at, recalled. read.c. */
void chat__last_message_add(cJSON *o, const struct store_rows *r, int i, int col);

/* ?before_seq=, ?after_seq=, ?limit= of a history read into c; false after answering 422.
 * messages.c. */
bool chat__history_query(struct http_req *req, struct chctx *c);

/* Answers one history page of c->conv_id (c's query) from after seq joined. messages.c. */
void chat__history_read(struct kit_job *j, int64_t joined);

/* ---- the customer context (context.c, docs/service.md "Customer context") */

#define CHAT_PROFILE_FANOUT_MAX 200 /* direct conversations told of one profile change */

/* Adds "metadata" (the user's free JSON, as stored; {} when NULL) from column col of row i of
 * r to o. */
void chat__metadata_add(cJSON *o, const struct store_rows *r, int i, int col);

/* Installs the profile hook (identity.h) that logs and publishes member.updated. */
void chat__context_init(struct chat *c);

/* ---- the live monitor (monitor.c, docs/service.md "Live monitor") */

#define CHAT_MONITOR_PERM "conversations:monitor"

/* Publishes f (the caller keeps its reference) to the monitors of app_id: the app's monitor
 * topic and the every-app one. Every chat event the members get (message.new,
 * message.updated, conversation.updated, read) goes through here too. Any thread. */
void chat__publish_monitors(struct rt *rt, const char *app_id, struct frame *f);

/* GET /admin/conversations, /admin/conversations/{id}, /admin/conversations/{id}/messages;
 * the operator authenticator of /ws. */
void chat__monitor_register(struct chat *c, struct router *r);

/* The origin of a WebSocket command's kit job: the rt session (held by the context). send.c. */
extern const struct kit_origin chat__sess_origin;

/*
 * A kit job for a WebSocket command of session s (held until the job ends), with a zeroed
 * context naming the session's app and user, and conv_id when not NULL; publish_step -1.
 * Loop thread of the session. send.c.
 */
struct kit_job *chat__ws_job(struct rt_session *s, struct chat *chat, const char *conv_id);

/* Handlers (conversations.c, members.c, send.c, messages.c, read.c). */
void chat_conv_create(struct http_req *req, void *ud);
void chat_conv_list(struct http_req *req, void *ud);
void chat_rooms_list(struct http_req *req, void *ud);
void chat_conv_get(struct http_req *req, void *ud);
void chat_conv_patch(struct http_req *req, void *ud);
void chat_members_add(struct http_req *req, void *ud);
void chat_members_remove(struct http_req *req, void *ud);
void chat_members_role(struct http_req *req, void *ud);
void chat_conv_leave(struct http_req *req, void *ud);
void chat_rooms_join(struct http_req *req, void *ud);
void chat_msg_send(struct http_req *req, void *ud);
void chat_msg_send_to(struct http_req *req, void *ud);
void chat_msg_edit(struct http_req *req, void *ud);
void chat_msg_recall(struct http_req *req, void *ud);
void chat_msg_history(struct http_req *req, void *ud);
void chat_read(struct http_req *req, void *ud);
void chat_sync(struct http_req *req, void *ud);
/* quick_replies.c: GET, POST /quick-replies; GET, PATCH, DELETE /quick-replies/{id} */
void chat_qr_list(struct http_req *req, void *ud);
void chat_qr_create(struct http_req *req, void *ud);
void chat_qr_get(struct http_req *req, void *ud);
void chat_qr_patch(struct http_req *req, void *ud);
void chat_qr_delete(struct http_req *req, void *ud);

/* Whether app is in the JSON array apps (NULL: every app): an operator's grant. chat.c. */
bool chat__app_granted(const char *apps, const char *app);

/* ---- search (search.c) */

/* GET /api/v1/search/messages (end users; operators holding conversations:monitor). */
void chat_search(struct http_req *req, void *ud);

/*
 * Appends to op the index row of message msg_id (SQL_MESSAGE_SEARCH_PUT) when type is "text",
 * made from the JSON string content; nothing for the other types. A send and an edit, in
 * their own write op; st names the backend. Any thread.
 */
void chat__search_put(struct store_op *op, struct store *st, const char *msg_id, const char *type,
                      const cJSON *content);

/*
 * Appends to op the listing of message msg_id for the search indexer with its terms (made
 * from the JSON string content, as chat__search_put does) when type is "text"; nothing for
 * the other types. A send, in its own write op; st names the backend.
 */
void chat__search_queue(struct store_op *op, struct store *st, const char *msg_id, const char *type,
                        const cJSON *content);

/*
 * The search indexer's work: moves the listed sends' terms into the index, in writes of up to
 * 1,000, until the list holds no more. Returns 0 or a store error (logged). Synchronous.
 */
int chat__search_move(struct store *st);

/*
 * Start-up: indexes the listed messages that have no terms yet (written before migration
 * 013), in batches, with the same terms as a send, logged when announce and there were any;
 * then chat__search_move. Returns 0 or a store error (logged). Synchronous.
 */
int chat__search_backfill(struct store *st, bool announce);

/* ---- the search indexer thread (search_index.c) */

struct search_indexer;
/* Starts the thread; NULL when it cannot (logged): sends are then indexed at the next start. */
struct search_indexer *chat__search_indexer_new(struct store *st);
/* After a send's commit (any thread): the indexer indexes it within a moment. NULL-safe. */
void chat__search_kick(struct search_indexer *ix);
/* Stops and joins the thread (a batch under way finishes). NULL-safe. */
void chat__search_indexer_free(struct search_indexer *ix);

/* The WebSocket `send` frame (rt_register "send"; ud the struct chat). send.c. */
void chat__ws_send(struct rt_session *s, const cJSON *msg, void *ud);

/* The WebSocket `sync` frame (rt_register "sync"; ud the struct chat). sync.c. */
void chat__ws_sync(struct rt_session *s, const cJSON *msg, void *ud);

/* The WebSocket `read` frame (rt_register "read"; ud the struct chat). read.c. */
void chat__ws_read(struct rt_session *s, const cJSON *msg, void *ud);
/* The WebSocket `join` (a room) and `leave` frames {"conversation_id"} (members.c). */
void chat__ws_join(struct rt_session *s, const cJSON *msg, void *ud);
void chat__ws_leave(struct rt_session *s, const cJSON *msg, void *ud);

/* ---- the service workflow (service.c, support.c, docs/service.md) */

#define CHAT_SUPPORT_TO "support" /* a send's `to` that means the app's support */

struct support;

/* The routing's state; resets the agents' online flags (start-up: it waits on the store). */
struct support *chat__support_new(struct store *st);
/* Waits for the sweeps under way, then frees s. NULL-safe. */
void chat__support_free(struct support *s);

/* Presence's hook (ud the struct chat): user, of kind agent, is online; the app's queued
 * support conversations are routed, the oldest first. Any thread. */
void chat__support_agent_online(void *ud, const char *app, const char *user);
/* Adds to op the statements that flag user (when of kind agent) connected to this node, for
 * the routing (nothing for other users). */
void chat__support_add_here(struct store_op *op, const struct chat *chat, const char *app,
                            const char *user);

/* An agent's load went down (a conversation resolved or transferred): with a capacity, the
 * app's queue is swept again. Loop thread, after the change's commit. */
void chat__support_room_freed(struct chat *chat, const char *app);

/* Gets or creates (and routes) the asker's support conversation into c->conv_id, then runs
 * then(j) (a send), or answers the conversation when then is NULL. */
void chat__support_open(struct kit_job *j, kit_fn then);

/* The one send path's write (send.c): the message of the context into c->conv_id. */
void chat__send_write(struct kit_job *j);

/* Whether id is an active user of kind agent in r (SQL_SERVICE_KINDS). service.c. */
bool chat__is_agent(const struct store_rows *r, const char *id);

/* Answers c->conv_id as it is now (c->ok_status), read again. support.c. */
void chat__conv_reread(struct kit_job *j);

/* GET /conversations with status= or assignee=: true when it took the request (answered or
 * under way), false when the query has neither. */
bool chat__service_list(struct kit_job *j);

/* POST /support/conversations; POST /conversations/{id}/status and /transfer. */
void chat_support_open(struct http_req *req, void *ud);
void chat_conv_status(struct http_req *req, void *ud);
void chat_conv_transfer(struct http_req *req, void *ud);
/* GET /support/agents: the app's agents, whether online, and their unresolved counts. */
void chat_support_agents(struct http_req *req, void *ud);

/* ---- retention (retention.c) */

struct retention;

/*
 * Starts the housekeeping thread that deletes the messages and events of st older than days
 * days (> 0), now and then every 10 minutes. NULL when the thread cannot start (logged).
 * Start-up only.
 */
struct retention *chat__retention_new(struct store *st, int days);

/* Stops the thread (a batch under way finishes) and frees r. NULL-safe. Before the store
 * stops. */
void chat__retention_free(struct retention *r);

/* ---- presence and typing (presence.c, typing.c) */

struct presence;
struct store;

#define PRESENCE_AUDIENCE_MAX 10000  /* users told of one user's presence change */
#define PRESENCE_IDS_MAX 100         /* user ids of one GET /presence */
#define CHAT_TYPING_INTERVAL_MS 2000 /* one typing forwarded per connection and conversation */

/*
 * Sync's read and rendering for other transports (events_sse.c): chat__sync_read starts the
 * read of the page after c->after_seq (c->limit events); chat__sync_render emits each event's
 * frame JSON (as the live one) with its cursor, appends the closing sync.done frame JSON to
 * done and returns its has_more.
 * chat__sync_cursor parses a cursor (-1 when malformed). chat__sync_ahead, after the read:
 * the newest cursor of the store when the page's cursor is past it (a cursor this store never
 * gave: a gap is never skipped silently), else -1; chat__sync_ahead_message words the refusal.
 */
typedef void (*chat_sync_emit_fn)(const char *json, size_t len, int64_t cursor, void *arg);
bool chat__sync_read(struct kit_job *j, kit_fn next); /* false: refused, answered */
bool chat__sync_render(struct kit_job *j, chat_sync_emit_fn emit, void *arg, struct buf *done);
int64_t chat__sync_cursor(const char *s);
int64_t chat__sync_ahead(const struct kit_job *j);
void chat__sync_ahead_message(char *out, size_t n, int64_t head);

/* GET /api/v1/events: the event stream over Server-Sent Events (events_sse.c). */
void chat_events_sse(struct http_req *req, void *ud);

/*
 * The process-wide presence table, watching rt's sessions; offline after grace_ms without a
 * device. Start-up only. Freed after the server (and the store) have stopped. NULL-safe.
 */
struct presence *chat__presence_new(struct store *store, struct rt *rt, int grace_ms);
void chat__presence_free(struct presence *p);

/* At shutdown, once the server has closed its connections and before the store stops: the
 * grace ends (0 from now on) and the offlines it held go out, waited for up to wait_ms. */
#define PRESENCE_FLUSH_MS 3000
void chat__presence_flush(struct presence *p, int wait_ms);

/* True while (app, user) has a device connected, or lost its last one within the grace, here or
 * (with a cluster) on another node. */
bool chat__presence_online(struct presence *p, const char *app, const char *user);

/* Shares presence with the other nodes through cluster (borrowed; outlives p). Start-up only. */
struct bus_redis;
void chat__presence_cluster(struct presence *p, struct bus_redis *cluster);

/* Calls fn(ud, app, user) when a user of kind agent comes online (after its presence event),
 * and when a user of any kind already online on another node connects here (fn's statements
 * flag agents only). node_id (borrowed, filled before serving) names this node in the flags
 * that the user's last departure from here clears. Start-up only. */
void chat__presence_on_agent(struct presence *p, void (*fn)(void *, const char *, const char *),
                             void *ud, const char *node_id);

/* Adds "online" to the "peer" of a conversation object (if any). Any thread. */
void chat__presence_peer(struct chat *c, const char *app, cJSON *conv);

/* GET /api/v1/presence and GET /api/v1/users/online; the `typing` frame. */
void chat_presence_get(struct http_req *req, void *ud);
void chat_users_online(struct http_req *req, void *ud);
void chat__ws_typing(struct rt_session *s, const cJSON *msg, void *ud);

#endif
