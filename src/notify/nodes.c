/*
 * Instances (issue 11 S0, docs/notifications.md, "Instances"): every server process is a row
 * of nodes, registered at start with a random id, updated by a heartbeat thread every
 * NOTIFY_HEARTBEAT_MS with the open connections, and marked stopped at a graceful shutdown; a
 * node that died without one is told apart by its old heartbeat. GET /admin/instances lists
 * them for operators holding notifications:read.
 */
#include "notify/notify.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/version.h"
#include "core/xalloc.h"
#include "metrics/metrics.h"
#include "net/http.h"
#include "notify/admin_kit.h"
#include "router/router.h"
#include "store/sql.h"
#include "store/store.h"

#define NODES_FORGET_MS (7LL * 24 * 3600 * 1000) /* rows older than a week are dropped at start */

struct notify_node {
    struct store *st;
    struct metrics *m;
    char id[33];
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping, stopped;
};

static int write_op(struct store *st, struct store_op *op)
{
    struct store_result *res = NULL;
    int rc = store_write_wait(st, op, &res);
    store_result_free(res);
    return rc;
}

static void heartbeat(struct notify_node *n)
{
    int64_t ws = metrics_connections(n->m, METRICS_CONN_WS);
    int64_t all = metrics_connections(n->m, METRICS_CONN_HTTP) + ws;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_NODES_HEARTBEAT);
    store_bind_text(op, n->id);
    store_bind_int(op, clock_wall_ms());
    store_bind_int(op, all);
    store_bind_int(op, ws);
    int rc = write_op(n->st, op);
    if (rc != 0)
        log_warn("notify", "cannot write the node heartbeat: %s node=%s", err_str(rc), n->id);
}

static void *heartbeat_main(void *arg)
{
    struct notify_node *n = arg;
    pthread_mutex_lock(&n->mu);
    while (!n->stopping) {
        struct timespec ts = clock_deadline(CLOCK_MONOTONIC, NOTIFY_HEARTBEAT_MS);
        int rc = 0;
        while (!n->stopping && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&n->cv, &n->mu, &ts);
        if (n->stopping)
            break;
        pthread_mutex_unlock(&n->mu);
        heartbeat(n);
        pthread_mutex_lock(&n->mu);
    }
    pthread_mutex_unlock(&n->mu);
    return NULL;
}

struct notify_node *notify_node_start(struct store *st, struct metrics *m, const char *id,
                                      const char *address)
{
    struct notify_node *n = xcalloc(1, sizeof(*n));
    n->st = st;
    n->m = m;
    snprintf(n->id, sizeof(n->id), "%s", id);
    char host[256] = "";
    if (gethostname(host, sizeof(host) - 1) != 0)
        host[0] = '\0';
    int64_t now = clock_wall_ms();
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_NODES_PRUNE);
    store_bind_int(op, now - NODES_FORGET_MS);
    store_op_add(op, &SQL_NODES_REGISTER);
    store_bind_text(op, n->id);
    store_bind_int(op, now);
    store_bind_text(op, HERALD_VERSION);
    store_bind_text(op, host);
    store_bind_int(op, (int64_t)getpid());
    store_bind_text(op, address);
    int rc = write_op(st, op);
    if (rc != 0) {
        log_warn("notify", "cannot register the node: %s", err_str(rc));
        free(n);
        return NULL;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&n->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&n->mu, NULL);
    if (pthread_create(&n->thread, NULL, heartbeat_main, n) != 0) {
        log_warn("notify", "cannot start the node heartbeat thread");
        pthread_cond_destroy(&n->cv);
        pthread_mutex_destroy(&n->mu);
        free(n);
        return NULL;
    }
    log_info("notify", "node registered node=%s", n->id);
    return n;
}

void notify_node_stop(struct notify_node *n)
{
    if (n == NULL || n->stopped)
        return;
    pthread_mutex_lock(&n->mu);
    n->stopping = true;
    pthread_cond_signal(&n->cv);
    pthread_mutex_unlock(&n->mu);
    pthread_join(n->thread, NULL);
    n->stopped = true;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_NODES_STOP);
    store_bind_text(op, n->id);
    store_bind_int(op, clock_wall_ms());
    int rc = write_op(n->st, op);
    if (rc != 0)
        log_warn("notify", "cannot mark the node stopped: %s node=%s", err_str(rc), n->id);
}

void notify_node_free(struct notify_node *n)
{
    if (n == NULL)
        return;
    notify_node_stop(n);
    pthread_cond_destroy(&n->cv);
    pthread_mutex_destroy(&n->mu);
    free(n);
}

/* ---- GET /admin/instances */

static void instances_list(struct kit_job *j)
{
    int64_t page, size;
    if (!notify__paging(j->req, &page, &size))
        return;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_NODES_COUNT);
    store_op_add(op, &SQL_NODES_PAGE);
    store_bind_int(op, clock_wall_ms() - NOTIFY_ALIVE_MS);
    store_bind_int(op, size);
    store_bind_int(op, (page - 1) * size);
    notify__adm_list(j, op, page, size, "alive", NULL);
}

/* either permission opens it (the "|" alternatives of console_authorize) */
static struct nadm_route r_instances = {"notifications:read|stats:read", instances_list, NULL};

void notify__nodes_register(struct router *r, struct identity *id)
{
    notify__adm_add(r, id, HTTP_M_GET, "/api/v1/admin/instances", &r_instances);
}
