/*
 * The request kit's job: the one continuation machine every handler uses to carry a request
 * across blocking work. A job holds the http_req, a typed context with its free function, and
 * the result of its last step. A step is either a store op (store_read/store_write, completed
 * on a store thread) or a worker-pool function (password hashing, core/workpool.h); either way
 * the completion hops back to the loop that owns the request with http_req_post, and the
 * step's continuation runs there. A continuation chains by starting the next step; when it
 * returns without starting one, the request is answered and the job ends: registered secrets
 * are wiped, the context freed, the job freed.
 *
 * The kit keeps no counter of its own: the net layer counts a request in flight until it is
 * answered, and http_req_post is the only way back to a loop, so a job never answers or frees
 * a request after its loop is gone. Loop thread, except where a function says otherwise.
 */
#ifndef HERALD_KIT_JOB_H
#define HERALD_KIT_JOB_H

#include <stdbool.h>
#include <stddef.h>

#include "core/workpool.h"

struct http_req;
struct store;
struct store_op;
struct store_result;
struct kit_job;

/* A continuation: runs on the request's loop thread after a step. */
typedef void (*kit_fn)(struct kit_job *j);
/* A worker step: runs on a worker thread; returns 0 or a negative enum err (j->status). */
typedef int (*kit_work_fn)(struct kit_job *j);

#define KIT_SECRETS_MAX 6

enum kit_store_kind {
    KIT_READ,  /* store_read: a read connection */
    KIT_WRITE, /* store_write: the writer, answered after its group commits */
};

/*
 * Where a job that answers no HTTP request (a WebSocket command) runs and answers: post runs
 * fn(arg) on target's loop (any thread; it must run it, also after target's connection has
 * gone), refused answers a store step refused at once (status ERR_AGAIN, ERR_UNAVAIL; loop
 * thread). The job's context keeps target alive until it is freed.
 */
struct kit_origin {
    void (*post)(void *target, void (*fn)(void *arg), void *arg);
    void (*refused)(void *target, int status);
};

struct kit_job {
    struct http_req *req;            /* answered by the last continuation (or by a refused step);
                                        NULL for a job of an origin */
    const struct kit_origin *origin; /* req NULL: where the job runs and answers */
    void *target;                    /* the origin's, e.g. a WebSocket session */
    struct store *store;             /* borrowed; outlives the server */
    struct workpool *work;           /* borrowed; NULL when the handler hashes nothing */
    int status;                      /* of the last step: 0 or a negative enum err */
    struct store_result *res;        /* owned: the last store step's result, NULL unless status 0 */
    void *ctx; /* the handler's state, freed with ctx_free when the job ends */
    void (*ctx_free)(void *ctx);
    /* private to job.c */
    kit_fn next;
    kit_fn committed; /* kit_store_committed's hook for the step under way, or NULL */
    kit_work_fn work_fn;
    bool running; /* a continuation is on the stack: it frees the job when it returns */
    int nsecrets;
    struct {
        void *p;
        size_t n; /* 0: a NUL-terminated heap string, wiped to its length and freed */
    } secrets[KIT_SECRETS_MAX];
};

/*
 * A new job for req. ctx (may be NULL) is owned by the job from now on and freed with
 * ctx_free (NULL: free) when the job ends. work may be NULL.
 */
struct kit_job *kit_job_new(struct http_req *req, struct store *store, struct workpool *work,
                            void *ctx, void (*ctx_free)(void *ctx));

/*
 * A new job that answers no HTTP request but target through origin (a WebSocket command):
 * store steps only (kit_work and kit_fail_store need a request). ctx as kit_job_new.
 */
struct kit_job *kit_job_new_origin(const struct kit_origin *origin, void *target,
                                   struct store *store, void *ctx, void (*ctx_free)(void *ctx));

/*
 * Ends a job whose request is answered (or will be by the caller) without another step:
 * wipes its secrets, frees its result, context and itself. Inside a continuation it only
 * marks nothing (the continuation's return ends the job), so it is always safe to call once
 * at the point where a handler gives up before its first step. NULL-safe.
 */
void kit_job_end(struct kit_job *j);

/*
 * Runs first(j) now, on the loop thread of the request, as a continuation: a handler's first
 * code runs like every later step, so a step refused inside it leaves j alive until first
 * returns, and the job ends when first returns without starting a step.
 */
void kit_run(struct kit_job *j, kit_fn first);

/*
 * Registers n bytes at p (inside the context, or the job's lifetime) to be wiped with
 * explicit_bzero when the job ends, before ctx_free runs.
 */
void kit_secret(struct kit_job *j, void *p, size_t n);

/* A copy of s (owned by the job) that is wiped and freed when the job ends. */
char *kit_secret_dup(struct kit_job *j, const char *s);

/*
 * Starts a store step: frees the previous result (bind what op needs from it first), submits
 * op (ownership taken) as a read or a write; next runs on the request's loop with j->status
 * and j->res set. When the store refuses the op at once, answers through request_fail_store
 * (503 + Retry-After on back-pressure) and ends the job; returns false. The caller must not
 * touch j after this call unless it is a continuation (then j lives until it returns); and
 * once a step has started it may complete at any time, so a continuation touches nothing of
 * j after starting one, except after a refusal (false).
 */
bool kit_store(struct kit_job *j, struct store_op *op, enum kit_store_kind kind, kit_fn next);

/*
 * kit_store for a write whose events must leave in commit order: committed(j) runs ON THE
 * WRITER THREAD right after the group commit that holds op, in commit order with every other
 * write's hook, with j->status 0 and j->res set, before next is posted to the loop (a failed
 * op skips it). The hook may read j->res and the context, build frames and publish them on
 * the bus (any thread may); it must not answer, start a step, or touch loop-owned state.
 * This is how two events committed one after the other reach every loop in that order
 * whatever loops their requests came from (docs/chat.md, "Order").
 */
bool kit_store_committed(struct kit_job *j, struct store_op *op, kit_fn committed, kit_fn next);
/*
 * Starts a worker step: fn(j) runs on j->work at priority prio on behalf of the client's
 * address, at most per_tag waiting items per address (0: no per-address bound); its return
 * value goes to j->status and next runs on the request's loop. When the pool refuses, answers
 * 429 rate_limited (this address's share is full) or 503 unavailable, both with Retry-After:
 * 1, and ends the job; returns false. The last store result stays (fn may read it). Same
 * ownership rule as kit_store.
 */
bool kit_work(struct kit_job *j, enum workpool_prio prio, size_t per_tag, kit_work_fn fn,
              kit_fn next);

/*
 * Starts a wait step: the job waits for another job's step (a send waiting for the get or
 * create of the same direct conversation, chat/directs.c); next runs on the job's loop after
 * kit_wake. Frees the last result. Same ownership rule as kit_store: whoever will call
 * kit_wake must hold j before this call, and must call it exactly once.
 */
void kit_wait(struct kit_job *j, kit_fn next);

/* Ends j's wait step: next runs on j's loop with j->status = status. Any thread. */
void kit_wake(struct kit_job *j, int status);

/*
 * Answers the failed last step (j->status) through the one mapper, request_fail_store: what
 * names the object ("user"), conflict_field the field of a 409 (may be NULL).
 */
void kit_fail_store(struct kit_job *j, const char *what, const char *conflict_field);

#endif
