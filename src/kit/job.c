/*
 * The request kit's job (see job.h): one continuation machine for store and worker steps.
 */
#include "job.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/xalloc.h"
#include "net/http.h"
#include "router/request.h"
#include "store/store.h"

struct kit_job *kit_job_new(struct http_req *req, struct store *store, struct workpool *work,
                            void *ctx, void (*ctx_free)(void *ctx))
{
    struct kit_job *j = xcalloc(1, sizeof(*j));
    j->req = req;
    j->store = store;
    j->work = work;
    j->ctx = ctx;
    j->ctx_free = ctx_free;
    return j;
}

struct kit_job *kit_job_new_origin(const struct kit_origin *origin, void *target,
                                   struct store *store, void *ctx, void (*ctx_free)(void *ctx))
{
    struct kit_job *j = kit_job_new(NULL, store, NULL, ctx, ctx_free);
    j->origin = origin;
    j->target = target;
    return j;
}

/* Runs fn(j) on the loop the job answers on. Any thread. */
static void post(struct kit_job *j, void (*fn)(void *arg))
{
    if (j->req != NULL)
        http_req_post(j->req, fn, j);
    else
        j->origin->post(j->target, fn, j);
}

static void job_free(struct kit_job *j)
{
    for (int i = 0; i < j->nsecrets; i++) {
        if (j->secrets[i].n > 0) {
            explicit_bzero(j->secrets[i].p, j->secrets[i].n);
        } else {
            char *s = j->secrets[i].p;
            explicit_bzero(s, strlen(s));
            free(s);
        }
    }
    store_result_free(j->res);
    if (j->ctx != NULL)
        (j->ctx_free ? j->ctx_free : free)(j->ctx);
    free(j);
}

void kit_job_end(struct kit_job *j)
{
    if (j == NULL || j->running)
        return;
    job_free(j);
}

static void add_secret(struct kit_job *j, void *p, size_t n)
{
    if (j->nsecrets == KIT_SECRETS_MAX)
        abort(); /* a handler bug, not an input: each handler registers a fixed number */
    j->secrets[j->nsecrets].p = p;
    j->secrets[j->nsecrets].n = n;
    j->nsecrets++;
}

void kit_secret(struct kit_job *j, void *p, size_t n)
{
    if (n > 0)
        add_secret(j, p, n);
}

char *kit_secret_dup(struct kit_job *j, const char *s)
{
    char *c = xstrdup(s);
    add_secret(j, c, 0);
    return c;
}

/* Loop thread: run the continuation; it answers or starts the next step. */
static void job_on_loop(void *arg)
{
    struct kit_job *j = arg;
    kit_fn next = j->next;
    j->next = NULL;
    j->running = true;
    next(j);
    j->running = false;
    if (j->next == NULL) /* no further step: the request is answered */
        job_free(j);
}

void kit_run(struct kit_job *j, kit_fn first)
{
    j->next = first;
    job_on_loop(j);
}

/* Store thread: keep the result and hop back to the request's loop. */
static void store_done(int status, struct store_result *res, void *ud)
{
    struct kit_job *j = ud;
    j->status = status;
    j->res = status == 0 ? res : NULL; /* the previous one was freed when the step started */
    if (status != 0)
        store_result_free(res);
    kit_fn committed = j->committed;
    j->committed = NULL;
    if (status == 0 && committed != NULL)
        committed(j); /* the writer thread, in commit order (kit_store_committed) */
    post(j, job_on_loop);
}

/* A step was refused at once: the request is answered; end the job unless a continuation
 * is on the stack (its return ends it). */
static bool refused(struct kit_job *j)
{
    j->next = NULL;
    kit_job_end(j);
    return false;
}

bool kit_store(struct kit_job *j, struct store_op *op, enum kit_store_kind kind, kit_fn next)
{
    /* freed here, on the loop, never by the store thread while the continuation runs */
    store_result_free(j->res);
    j->res = NULL;
    j->next = next;
    j->committed = NULL;
    int rc = kind == KIT_WRITE ? store_write(j->store, op, store_done, j)
                               : store_read(j->store, op, store_done, j);
    if (rc == 0)
        return true;
    if (j->req != NULL)
        request_fail_store(j->req, rc, "object", NULL);
    else
        j->origin->refused(j->target, rc);
    return refused(j);
}

bool kit_store_committed(struct kit_job *j, struct store_op *op, kit_fn committed, kit_fn next)
{
    store_result_free(j->res);
    j->res = NULL;
    j->next = next;
    j->committed = committed;
    int rc = store_write(j->store, op, store_done, j);
    if (rc == 0)
        return true;
    j->committed = NULL;
    if (j->req != NULL)
        request_fail_store(j->req, rc, "object", NULL);
    else
        j->origin->refused(j->target, rc);
    return refused(j);
}

void kit_wait(struct kit_job *j, kit_fn next)
{
    store_result_free(j->res);
    j->res = NULL;
    j->next = next;
}

void kit_wake(struct kit_job *j, int status)
{
    j->status = status;
    post(j, job_on_loop);
}

/* Worker thread: run the step and hop back. */
static void work_run(void *arg)
{
    struct kit_job *j = arg;
    j->status = j->work_fn(j);
    post(j, job_on_loop);
}

bool kit_work(struct kit_job *j, enum workpool_prio prio, size_t per_tag, kit_work_fn fn,
              kit_fn next)
{
    j->next = next;
    j->work_fn = fn;
    int rc = per_tag > 0
                 ? workpool_submit_ex(j->work, prio, http_req_peer(j->req), per_tag, work_run, j)
                 : workpool_submit_ex(j->work, prio, NULL, 1, work_run, j);
    if (rc == 0)
        return true;
    http_res_header(j->req, "Retry-After", "1");
    if (rc == ERR_DENIED)
        http_respond_error(j->req, 429, "rate_limited",
                           "too many password checks from this address; retry", NULL);
    else
        http_respond_error(j->req, 503, "unavailable", "too many password checks; retry", NULL);
    return refused(j);
}

void kit_fail_store(struct kit_job *j, const char *what, const char *conflict_field)
{
    request_fail_store(j->req, j->status, what, conflict_field);
}
