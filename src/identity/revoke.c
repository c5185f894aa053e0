/*
 * Token revocation (see revoke.h): a chained hash table of "kind/app/subject"
 * -> revocation time behind a read-write lock, filled from the store at start,
 * by revoke_subject, and by a thread that polls the store once a second for
 * rows written by other nodes (or other processes on this database).
 */
#include "revoke.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "store/sql.h"
#include "store/store.h"

#define REVOKE_SLOTS 4096 /* hash slots (chains grow past it) */
#define REVOKE_LISTENERS 8
#define REVOKE_POLL_MS 1000
#define REVOKE_POLL_OVERLAP 10000 /* ms re-read each poll: commits may land out of time order */
#define REVOKE_KEY_MAX 200

#define KINDS 5
static const char *const kind_names[] = {"user", "operator", "app"}; /* as stored */

struct entry {
    struct entry *next;
    uint64_t hash;
    int64_t at;
    int kind;
    char key[]; /* "kind/app/subject" */
};

struct listener {
    revoke_listener_fn fn;
    void *ud;
};

struct revoke {
    struct store *st;
    int64_t keep_ms[KINDS]; /* per kind */
    pthread_rwlock_t lock;
    struct entry *slots[REVOKE_SLOTS];
    size_t count;
    size_t per_kind[KINDS]; /* a kind without entries needs no lookup */
    struct listener listeners[REVOKE_LISTENERS];
    int nlisteners;
    pthread_t thread;
    bool running;
    pthread_mutex_t mu; /* stop flag and its condition */
    pthread_cond_t cv;
    bool stop;
    int64_t seen;           /* newest revoked_at read from the store */
    _Atomic int64_t latest; /* newest revocation time held (revoke_issue_ms) */
    _Atomic int64_t issued; /* newest issue time handed out by revoke_issue_ms */
    int64_t last_prune;
};

/*
 * "kind/app/subject" (sessions: "3/app/user/session") into out; -1 when it does not fit.
 * User ids and session ids hold no '/'. On every token check: no printf.
 */
static int make_key(char *out, size_t n, enum revoke_kind kind, const char *app_id,
                    const char *subject_id, const char *session_id)
{
    size_t a = app_id ? strlen(app_id) : 0, b = strlen(subject_id);
    size_t c = session_id && kind == REVOKE_SESSION ? strlen(session_id) : 0;
    if (5 + a + b + c > n || (kind == REVOKE_SESSION && c == 0))
        return -1;
    out[0] = (char)('0' + (int)kind);
    out[1] = '/';
    if (a)
        memcpy(out + 2, app_id, a);
    out[2 + a] = '/';
    memcpy(out + 3 + a, subject_id, b + 1);
    if (c) {
        out[3 + a + b] = '/';
        memcpy(out + 4 + a + b, session_id, c + 1);
    }
    return 0;
}

static uint64_t hash_key(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a: keys are our own ids, not attacker-chosen
                                            in bulk (each needs a successful login) */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void raise_to(_Atomic int64_t *v, int64_t to)
{
    int64_t cur = atomic_load(v);
    while (to > cur && !atomic_compare_exchange_weak(v, &cur, to))
        ;
}

static void note_latest(struct revoke *r, int64_t at)
{
    raise_to(&r->latest, at);
}

/*
 * Issue and revocation times form one logical clock per process: a token gets a time after
 * every revocation held, a revocation a time at or after every token issued, so "issued at
 * or before the revocation" is exactly "issued before it" in real order, to the millisecond.
 */
int64_t revoke_issue_ms(struct revoke *r)
{
    int64_t now = clock_wall_ms();
    if (r == NULL)
        return now;
    int64_t after = atomic_load(&r->latest) + 1;
    int64_t t = now > after ? now : after;
    raise_to(&r->issued, t);
    return t;
}

/* The time of a revocation made now (see revoke_issue_ms). */
static int64_t revocation_ms(struct revoke *r)
{
    int64_t now = clock_wall_ms(), issued = atomic_load(&r->issued);
    return now > issued ? now : issued;
}

/* Records at for key; true when it is newer than what was held. Write lock held. */
static bool put_locked(struct revoke *r, int kind, const char *key, int64_t at)
{
    uint64_t h = hash_key(key);
    struct entry **slot = &r->slots[h % REVOKE_SLOTS];
    for (struct entry *e = *slot; e; e = e->next) {
        if (e->hash == h && strcmp(e->key, key) == 0) {
            if (at <= e->at)
                return false;
            e->at = at;
            note_latest(r, at);
            return true;
        }
    }
    size_t n = strlen(key) + 1;
    struct entry *e = xmalloc(sizeof(*e) + n);
    memcpy(e->key, key, n);
    e->hash = h;
    e->at = at;
    e->kind = kind;
    e->next = *slot;
    *slot = e;
    r->count++;
    r->per_kind[kind]++;
    note_latest(r, at);
    return true;
}

static void notify(struct revoke *r, enum revoke_kind kind, const char *app_id,
                   const char *subject_id, const char *session_id)
{
    for (int i = 0; i < r->nlisteners; i++)
        r->listeners[i].fn(kind, app_id ? app_id : "", subject_id, session_id ? session_id : "",
                           r->listeners[i].ud);
}

/* An operator's rights changed (REVOKE_RIGHTS): stored as an 'operator' row with this in
 * session_id (an operator's own rows have ''), so the other nodes' pollers see it too and
 * end its monitoring sockets there ("" subject: every operator's, a role changed). */
#define RIGHTS_MARK "rights"

/* The kind of a stored row: its subject_kind, REVOKE_SESSION for a user's session, or
 * REVOKE_RIGHTS for an operator's rights. */
static int kind_of(const char *name, const char *session_id)
{
    bool sid = session_id && session_id[0];
    for (int k = 0; k < 3; k++)
        if (name && strcmp(name, kind_names[k]) == 0) {
            if (k == REVOKE_OPERATOR && sid)
                return strcmp(session_id, RIGHTS_MARK) == 0 ? REVOKE_RIGHTS : -1;
            return k == REVOKE_USER && sid ? REVOKE_SESSION : k;
        }
    return -1;
}

/* Applies rows read from the store under one lock; then notifies for the ones that are news. */
static void apply_rows(struct revoke *r, const struct store_rows *rows, bool tell)
{
    int n = rows ? rows->nrows : 0;
    if (n == 0)
        return;
    bool *news = xcalloc((size_t)n, sizeof(*news));
    pthread_rwlock_wrlock(&r->lock);
    for (int i = 0; i < n; i++) {
        const char *sid = store_rows_text(rows, i, 4);
        int kind = kind_of(store_rows_text(rows, i, 0), sid);
        const char *app = store_rows_text(rows, i, 1);
        const char *sub = store_rows_text(rows, i, 2);
        int64_t at = store_rows_int(rows, i, 3);
        char key[REVOKE_KEY_MAX];
        if (kind < 0 || sub == NULL || make_key(key, sizeof(key), kind, app, sub, sid) != 0)
            continue;
        news[i] = put_locked(r, kind, key, at);
        if (at > r->seen)
            r->seen = at;
    }
    pthread_rwlock_unlock(&r->lock);
    for (int i = 0; tell && i < n; i++)
        if (news[i])
            notify(r, kind_of(store_rows_text(rows, i, 0), store_rows_text(rows, i, 4)),
                   store_rows_text(rows, i, 1), store_rows_text(rows, i, 2),
                   store_rows_text(rows, i, 4));
    free(news);
}

static int load_since(struct revoke *r, int64_t since, bool tell)
{
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_REVOCATIONS_SINCE);
    store_bind_int(op, since);
    struct store_result *res = NULL;
    int rc = store_read_wait(r->st, op, &res);
    if (rc == 0)
        apply_rows(r, store_result_step(res, 0), tell);
    store_result_free(res);
    return rc;
}

/* Drops entries no token can outlive any more. */
static void prune(struct revoke *r, int64_t now)
{
    pthread_rwlock_wrlock(&r->lock);
    for (int i = 0; i < REVOKE_SLOTS; i++) {
        struct entry **p = &r->slots[i];
        while (*p) {
            struct entry *e = *p;
            if (e->at + r->keep_ms[e->kind] < now) {
                *p = e->next;
                r->per_kind[e->kind]--;
                free(e);
                r->count--;
            } else {
                p = &e->next;
            }
        }
    }
    pthread_rwlock_unlock(&r->lock);
}

static void ignore_done(int status, struct store_result *res, void *ud)
{
    (void)ud;
    if (status != 0 && status != ERR_UNAVAIL)
        log_warn("revoke", "cannot record a revocation: %s", err_str(status));
    store_result_free(res);
}

static void *poll_main(void *arg)
{
    struct revoke *r = arg;
    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)REVOKE_POLL_MS * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
        if (r->stop)
            break;
        pthread_mutex_unlock(&r->mu);
        (void)load_since(r, r->seen - REVOKE_POLL_OVERLAP, true);
        int64_t now = clock_wall_ms();
        if (now - r->last_prune > 60 * 1000) {
            r->last_prune = now;
            prune(r, now);
            int64_t keep = r->keep_ms[REVOKE_OPERATOR] > r->keep_ms[REVOKE_USER]
                               ? r->keep_ms[REVOKE_OPERATOR]
                               : r->keep_ms[REVOKE_USER];
            struct store_op *op = store_op_new();
            store_op_add(op, &SQL_REVOCATIONS_PRUNE);
            store_bind_int(op, now - keep);
            (void)store_write(r->st, op, ignore_done, NULL);
        }
        pthread_mutex_lock(&r->mu);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

struct revoke *revoke_new(struct store *st, int64_t token_ms, int64_t operator_ms)
{
    struct revoke *r = xcalloc(1, sizeof(*r));
    r->st = st;
    r->keep_ms[REVOKE_USER] = token_ms;
    r->keep_ms[REVOKE_APP] = token_ms;
    r->keep_ms[REVOKE_SESSION] = token_ms;
    r->keep_ms[REVOKE_OPERATOR] = operator_ms;
    r->keep_ms[REVOKE_RIGHTS] = operator_ms;
    pthread_rwlock_init(&r->lock, NULL);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    int64_t now = clock_wall_ms();
    r->last_prune = now;
    int64_t keep = token_ms > operator_ms ? token_ms : operator_ms;
    int rc = load_since(r, now - keep, false);
    if (rc != 0) {
        log_error("revoke", "cannot load token revocations: %s", err_str(rc));
        revoke_free(r);
        return NULL;
    }
    if (r->seen < now)
        r->seen = now;
    if (pthread_create(&r->thread, NULL, poll_main, r) != 0) {
        log_error("revoke", "cannot start the revocation poller");
        revoke_free(r);
        return NULL;
    }
    r->running = true;
    return r;
}

void revoke_stop(struct revoke *r)
{
    if (r == NULL || !r->running)
        return;
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    r->running = false;
}

void revoke_free(struct revoke *r)
{
    if (r == NULL)
        return;
    revoke_stop(r);
    for (int i = 0; i < REVOKE_SLOTS; i++) {
        struct entry *e = r->slots[i];
        while (e) {
            struct entry *n = e->next;
            free(e);
            e = n;
        }
    }
    pthread_rwlock_destroy(&r->lock);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}

void revoke_listen(struct revoke *r, revoke_listener_fn fn, void *ud)
{
    if (r->nlisteners < REVOKE_LISTENERS)
        r->listeners[r->nlisteners++] = (struct listener){fn, ud};
}

/* Records and announces a revocation, then writes it to the store in the background. */
static void revoke_put(struct revoke *r, enum revoke_kind kind, const char *app_id,
                       const char *subject_id, const char *session_id)
{
    char key[REVOKE_KEY_MAX];
    if (make_key(key, sizeof(key), kind, app_id, subject_id, session_id) != 0)
        return;
    int64_t now = revocation_ms(r);
    pthread_rwlock_wrlock(&r->lock);
    put_locked(r, kind, key, now);
    pthread_rwlock_unlock(&r->lock);
    notify(r, kind, app_id, subject_id, session_id);
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_REVOCATIONS_UPSERT);
    store_bind_text(op, kind_names[kind == REVOKE_SESSION  ? REVOKE_USER
                                   : kind == REVOKE_RIGHTS ? REVOKE_OPERATOR
                                                           : kind]);
    store_bind_text(op, app_id ? app_id : "");
    store_bind_text(op, subject_id);
    store_bind_text(op, kind == REVOKE_SESSION  ? session_id
                        : kind == REVOKE_RIGHTS ? RIGHTS_MARK
                                                : "");
    store_bind_int(op, now);
    int rc = store_write(r->st, op, ignore_done, NULL);
    if (rc != 0)
        log_warn("revoke", "cannot record a revocation: %s", err_str(rc));
}

void revoke_subject(struct revoke *r, enum revoke_kind kind, const char *app_id,
                    const char *subject_id)
{
    if (kind != REVOKE_SESSION)
        revoke_put(r, kind, app_id, subject_id, NULL);
}

void revoke_session(struct revoke *r, const char *app_id, const char *user_id,
                    const char *session_id)
{
    size_t n = session_id ? strlen(session_id) : 0;
    if (n >= 1 && n <= REVOKE_SESSION_MAX && strchr(session_id, '/') == NULL)
        revoke_put(r, REVOKE_SESSION, app_id, user_id, session_id);
}

void revoke_rights_changed(struct revoke *r, const char *operator_id)
{
    if (r != NULL)
        revoke_put(r, REVOKE_RIGHTS, "", operator_id, NULL);
}

static bool is_revoked(struct revoke *r, enum revoke_kind kind, const char *app_id,
                       const char *subject_id, const char *session_id, int64_t iat_ms)
{
    char key[REVOKE_KEY_MAX];
    if (make_key(key, sizeof(key), kind, app_id, subject_id, session_id) != 0)
        return true;
    bool revoked = false;
    uint64_t h = hash_key(key);
    pthread_rwlock_rdlock(&r->lock);
    if (r->per_kind[kind] > 0) {
        for (struct entry *e = r->slots[h % REVOKE_SLOTS]; e; e = e->next) {
            if (e->hash == h && strcmp(e->key, key) == 0) {
                revoked = iat_ms <= e->at;
                break;
            }
        }
    }
    pthread_rwlock_unlock(&r->lock);
    return revoked;
}

bool revoke_is_revoked(struct revoke *r, enum revoke_kind kind, const char *app_id,
                       const char *subject_id, int64_t iat_ms)
{
    return kind != REVOKE_SESSION && is_revoked(r, kind, app_id, subject_id, NULL, iat_ms);
}

bool revoke_session_is_revoked(struct revoke *r, const char *app_id, const char *user_id,
                               const char *session_id)
{
    /* a session is over for good: any issue time is before its revocation */
    return is_revoked(r, REVOKE_SESSION, app_id, user_id, session_id, INT64_MIN);
}
