/*
 * Token revocation (src/identity/revoke.c) on a real SQLite store: a session
 * revocation ends that session only, a subject revocation every token issued
 * at or before its millisecond, tokens minted after it (revoke_issue_ms)
 * survive it, and a second instance on the same store (another node) learns
 * both kinds from the revocations table, telling its listeners.
 */
#include "store_test.h"

#include <stdatomic.h>
#include <time.h>

#include "core/clock.h"
#include "identity/revoke.h"

#define MIN_MS (16 * 60 * 1000)

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

struct heard {
    atomic_int users, sessions;
    char session[REVOKE_SESSION_MAX + 1];
};

static void listener(enum revoke_kind kind, const char *app_id, const char *subject_id,
                     const char *session_id, void *ud)
{
    struct heard *h = ud;
    (void)app_id;
    (void)subject_id;
    if (kind == REVOKE_USER)
        atomic_fetch_add(&h->users, 1);
    if (kind == REVOKE_SESSION) {
        snprintf(h->session, sizeof(h->session), "%s", session_id);
        atomic_fetch_add(&h->sessions, 1);
    }
}

TEST(sessions_and_subjects)
{
    struct store *st = open_migrated(fresh_url());
    CHECK(st != NULL);
    if (st == NULL)
        return;
    struct revoke *r = revoke_new(st, MIN_MS, MIN_MS);
    struct revoke *other = revoke_new(st, MIN_MS, MIN_MS); /* another node */
    CHECK(r != NULL && other != NULL);
    if (r == NULL || other == NULL)
        goto out;
    struct heard h = {0};
    revoke_listen(other, listener, &h);
    int64_t before = clock_wall_ms() - 5;

    revoke_session(r, "app1", "alice", "aaaa1111");
    CHECK(revoke_session_is_revoked(r, "app1", "alice", "aaaa1111"));
    CHECK(!revoke_session_is_revoked(r, "app1", "alice", "bbbb2222")); /* her other device */
    CHECK(!revoke_session_is_revoked(r, "app1", "bob", "aaaa1111"));
    CHECK(!revoke_session_is_revoked(r, "app2", "alice", "aaaa1111"));
    CHECK(!revoke_is_revoked(r, REVOKE_USER, "app1", "alice", before)); /* not every session */
    revoke_session(r, "app1", "alice", "bad/id"); /* refused: no '/' in session ids */
    revoke_session(r, "app1", "alice", "");

    int64_t issued = revoke_issue_ms(r); /* a token minted now */
    revoke_subject(r, REVOKE_USER, "app1", "carol");
    int64_t at = clock_wall_ms();
    /* every token issued before or in the revocation's millisecond is refused */
    CHECK(revoke_is_revoked(r, REVOKE_USER, "app1", "carol", before));
    CHECK(revoke_is_revoked(r, REVOKE_USER, "app1", "carol", issued));
    /* a token minted after it survives it, even in the same millisecond */
    int64_t after = revoke_issue_ms(r);
    CHECK(after >= at);
    CHECK(!revoke_is_revoked(r, REVOKE_USER, "app1", "carol", after));

    /* the other node learns both from the store within about a second */
    for (int i = 0; i < 400 && (atomic_load(&h.sessions) < 1 || atomic_load(&h.users) < 1); i++)
        sleep_ms(10);
    CHECK_INT(atomic_load(&h.sessions), 1);
    CHECK_INT(atomic_load(&h.users), 1);
    CHECK(strcmp(h.session, "aaaa1111") == 0);
    CHECK(revoke_session_is_revoked(other, "app1", "alice", "aaaa1111"));
    CHECK(!revoke_session_is_revoked(other, "app1", "alice", "bbbb2222"));
    CHECK(revoke_is_revoked(other, REVOKE_USER, "app1", "carol", before));
    CHECK(!revoke_is_revoked(other, REVOKE_USER, "app1", "alice", before));

    /* a restart loads what is still relevant */
    revoke_free(other);
    other = revoke_new(st, MIN_MS, MIN_MS);
    CHECK(other != NULL);
    if (other != NULL) {
        CHECK(revoke_session_is_revoked(other, "app1", "alice", "aaaa1111"));
        CHECK(revoke_is_revoked(other, REVOKE_USER, "app1", "carol", before));
    }
out:
    revoke_free(other);
    revoke_free(r);
    store_close(st);
}

int main(void)
{
    log_setup(LOG_WARN, false);
    snprintf(g_dir, sizeof g_dir, "/tmp/herald-revoke-XXXXXX");
    if (mkdtemp(g_dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    RUN(sessions_and_subjects);
    rm_rf(g_dir);
    return test_summary();
}
