/*
 * The notification configuration's statements the sender reads (src/store/sql/notify_*.c) on
 * both backends: the template of the best locale variant (exact, then the language, then ""),
 * only active versions; a new version takes what it does not give from the one before; a
 * type's enabled channel pairs; the subscription choices' per-user bound; the idempotency keys'
 * scope (per app and sender) across migration 21. PostgreSQL runs when
 * HERALD_TEST_PG_URL names a server (scripts/pg-test.sh).
 */
#include "test.h"
#include "store_test.h"

#include "store/sql.h"

/* Adds a template (id, code, kind, locale) of app "a1" with one version whose body is body,
 * active when active. */
static void add_template_of(struct store *st, const char *id, const char *code, const char *kind,
                            const char *locale, const char *body, bool active)
{
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_TEMPLATES_INSERT);
    store_bind_text(op, id);
    store_bind_text(op, "a1");
    store_bind_text(op, code);
    store_bind_text(op, kind);
    store_bind_text(op, locale);
    store_bind_int(op, 1);
    store_bind_int(op, 100);
    store_op_require_row(op);
    store_op_add(op, &SQL_TEMPLATES_BUMP);
    store_bind_text(op, "a1");
    store_bind_text(op, id);
    store_bind_int(op, active);
    store_bind_int(op, 1);
    store_op_add(op, &SQL_TEMPLATE_VERSIONS_ADD);
    store_bind_text(op, id);
    store_bind_text(op, "S");
    store_bind_text(op, body);
    store_bind_text(op, NULL);
    store_bind_int(op, 1);
    store_bind_text(op, "op");
    store_bind_int(op, 0);
    CHECK_INT(store_write_wait(st, op, NULL), 0);
}

/* The same of code "c", kind "email". */
static void add_template(struct store *st, const char *id, const char *locale, const char *body,
                         bool active)
{
    add_template_of(st, id, "c", "email", locale, body, active);
}

/* The body SQL_TEMPLATES_RESOLVE picks for locale (language lang), or "" when none. */
static char *resolve(struct store *st, const char *locale, const char *lang)
{
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_TEMPLATES_RESOLVE);
    store_bind_text(op, "a1");
    store_bind_text(op, "c");
    store_bind_text(op, "email");
    store_bind_text(op, locale);
    store_bind_text(op, lang);
    struct store_result *res = NULL;
    char *out = NULL;
    if (store_read_wait(st, op, &res) == 0) {
        const struct store_rows *r = store_result_step(res, 0);
        out = strdup(r->nrows ? store_rows_text(r, 0, 4) : "");
    }
    store_result_free(res);
    return out ? out : strdup("(error)");
}

#define CHECK_RESOLVE(st, locale, lang, want)                                                      \
    do {                                                                                           \
        char *got_ = resolve(st, locale, lang);                                                    \
        CHECK_STR(got_, want);                                                                     \
        free(got_);                                                                                \
    } while (0)

TEST(template_locale_fallback)
{
    struct store *st = open_migrated(fresh_url());
    CHECK(st != NULL);
    if (st == NULL)
        return;
    CHECK_INT(exec_w(st, "INSERT INTO apps (id, name, key, created_at, updated_at) VALUES"
                         " ('a1', 'A', 'k1', 1, 1)"),
              0);
    CHECK_RESOLVE(st, "zh-CN", "zh", "");
    add_template(st, "t0", "", "default", true);
    CHECK_RESOLVE(st, "zh-CN", "zh", "default");
    add_template(st, "t1", "zh", "chinese", true);
    CHECK_RESOLVE(st, "zh-CN", "zh", "chinese");
    CHECK_RESOLVE(st, "en", "en", "default");
    add_template(st, "t2", "zh-CN", "simplified", false); /* no active version yet */
    CHECK_RESOLVE(st, "zh-CN", "zh", "chinese");
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_TEMPLATES_ACTIVATE);
    store_bind_text(op, "a1");
    store_bind_text(op, "t2");
    store_bind_int(op, 1);
    store_bind_int(op, 2);
    store_op_require_row(op);
    CHECK_INT(store_write_wait(st, op, NULL), 0);
    CHECK_RESOLVE(st, "zh-CN", "zh", "simplified");
    CHECK_RESOLVE(st, "zh-TW", "zh", "chinese");
    /* a second version that gives only the subject keeps the body of the first */
    op = store_op_new();
    store_op_add(op, &SQL_TEMPLATES_BUMP);
    store_bind_text(op, "a1");
    store_bind_text(op, "t0");
    store_bind_int(op, 1);
    store_bind_int(op, 3);
    store_op_add(op, &SQL_TEMPLATE_VERSIONS_ADD);
    store_bind_text(op, "t0");
    store_bind_text(op, "S2");
    store_bind_text(op, NULL);
    store_bind_text(op, NULL);
    store_bind_int(op, 3);
    store_bind_text(op, "op");
    store_bind_int(op, 0);
    CHECK_INT(store_write_wait(st, op, NULL), 0);
    CHECK_INT(query_int(st, "SELECT count(*) FROM template_versions WHERE template_id = 't0'"
                            " AND version = 2 AND subject = 'S2' AND body = 'default'"),
              1);
    CHECK_RESOLVE(st, "", "", "default");
    store_close(st);
}

TEST(pairs_and_subscription_bound)
{
    struct store *st = open_migrated(fresh_url());
    CHECK(st != NULL);
    if (st == NULL)
        return;
    CHECK_INT(exec_w(st, "INSERT INTO apps (id, name, key, created_at, updated_at) VALUES"
                         " ('a1', 'A', 'k1', 1, 1)"),
              0);
    CHECK_INT(exec_w(st, "INSERT INTO message_types (id, app_id, code, name, channels,"
                         " created_at, updated_at) VALUES ('t1', 'a1', 'news', 'N', '[]', 1, 1)"),
              0);
    CHECK_INT(exec_w(st, "INSERT INTO channel_message_types (id, app_id, type_id, channel,"
                         " template_code, enabled, created_at, updated_at) VALUES ('x1', 'a1',"
                         " 't1', 'inapp', NULL, 1, 1, 1), ('x2', 'a1', 't1', 'c9', 'news.mail',"
                         " 1, 1, 1), ('x3', 'a1', 't1', 'c8', NULL, 0, 1, 1)"),
              0);
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_CHANNEL_MESSAGE_TYPES_OF_TYPE);
    store_bind_text(op, "a1");
    store_bind_text(op, "news");
    struct store_result *res = NULL;
    CHECK_INT(store_read_wait(st, op, &res), 0);
    const struct store_rows *r = store_result_step(res, 0);
    CHECK(r != NULL && r->nrows == 2);
    if (r != NULL && r->nrows == 2) {
        CHECK_STR(store_rows_text(r, 0, 0), "c9");
        CHECK_STR(store_rows_text(r, 0, 1), "news.mail");
        CHECK_STR(store_rows_text(r, 1, 0), "inapp");
        CHECK(store_rows_is_null(r, 1, 1));
    }
    store_result_free(res);
    /* at most 2 choices: a third new one is refused, changing one of the two is not */
    const char *chans[] = {"email", "sms", "slack", "email"};
    const int want[] = {0, 0, ERR_NOTFOUND, 0};
    for (int i = 0; i < 4; i++) {
        op = store_op_new();
        store_op_add(op, &SQL_SUBSCRIPTIONS_SET);
        store_bind_text(op, "a1");
        store_bind_text(op, "u1");
        store_bind_text(op, "news");
        store_bind_text(op, chans[i]);
        store_bind_int(op, i == 3);
        store_bind_int(op, 10 + i);
        store_bind_int(op, 2);
        store_op_require_row(op);
        CHECK_INT(store_write_wait(st, op, NULL), want[i]);
    }
    CHECK_INT(query_int(st, "SELECT count(*) FROM subscriptions WHERE user_id = 'u1'"), 2);
    CHECK_INT(query_int(st, "SELECT enabled FROM subscriptions WHERE channel = 'email'"), 1);
    store_close(st);
}

/* What the sender reads of a type's pairs and templates (SQL_NOTIFY_SEND_PAIRS, _TEMPLATES): a
 * pair whose template_code is NULL names the type's own code (audit F2), a disabled pair none. */
TEST(send_reads_a_null_template_code_as_the_types_code)
{
    struct store *st = open_migrated(fresh_url());
    CHECK(st != NULL);
    if (st == NULL)
        return;
    CHECK_INT(exec_w(st, "INSERT INTO apps (id, name, key, created_at, updated_at) VALUES"
                         " ('a1', 'A', 'k1', 1, 1)"),
              0);
    CHECK_INT(exec_w(st, "INSERT INTO message_types (id, app_id, code, name, channels,"
                         " created_at, updated_at) VALUES ('t1', 'a1', 'news', 'N', '[]', 1, 1)"),
              0);
    CHECK_INT(exec_w(st, "INSERT INTO channel_message_types (id, app_id, type_id, channel,"
                         " template_code, enabled, created_at, updated_at) VALUES ('x1', 'a1',"
                         " 't1', 'inapp', NULL, 1, 1, 1), ('x2', 'a1', 't1', 'c9', 'news.mail',"
                         " 1, 1, 1), ('x3', 'a1', 't1', 'c8', 'off.code', 0, 1, 1)"),
              0);
    add_template_of(st, "m1", "news", "inapp", "", "in-app news", true);
    add_template_of(st, "m2", "news.mail", "email", "", "mail news", true);
    add_template_of(st, "m3", "off.code", "email", "", "not paired", true);
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_NOTIFY_SEND_PAIRS);
    store_bind_text(op, "a1");
    store_bind_text(op, "news");
    store_op_add(op, &SQL_NOTIFY_SEND_TEMPLATES);
    store_bind_text(op, "a1");
    store_bind_text(op, "news");
    struct store_result *res = NULL;
    CHECK_INT(store_read_wait(st, op, &res), 0);
    const struct store_rows *p = store_result_step(res, 0);
    CHECK(p != NULL && p->nrows == 2);
    for (int i = 0; p != NULL && i < p->nrows; i++)
        CHECK_STR(store_rows_text(p, i, 1),
                  strcmp(store_rows_text(p, i, 0), "inapp") == 0 ? "news" : "news.mail");
    const struct store_rows *t = store_result_step(res, 1);
    CHECK(t != NULL && t->nrows == 2);
    for (int i = 0; t != NULL && i < t->nrows; i++)
        CHECK_STR(store_rows_text(t, i, 4),
                  strcmp(store_rows_text(t, i, 0), "news") == 0 ? "in-app news" : "mail news");
    store_result_free(res);
    store_close(st);
}

/* Claims key for app "a1" and sender (SQL_IDEMPOTENCY_KEYS_CLAIM, notification nid, now 100,
 * window to 1000): 0 when it was taken, ERR_NOTFOUND when a live record holds it. */
static int claim(struct store *st, const char *sender, const char *key, const char *nid)
{
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_IDEMPOTENCY_KEYS_CLAIM);
    store_bind_text(op, "a1");
    store_bind_text(op, sender);
    store_bind_text(op, key);
    store_bind_text(op, "hash");
    store_bind_text(op, nid);
    store_bind_int(op, 100);
    store_bind_int(op, 1000);
    store_op_require_row(op);
    return store_write_wait(st, op, NULL);
}

/* SPEC §4a: an idempotency key is scoped per app and sender (audit F3). Migration 21 gives the
 * records written before it the sender of their notification ('' the app, else the operator);
 * after it the app and each operator claim the same key apart. */
TEST(idempotency_keys_per_app_and_sender)
{
    const char *url = fresh_url();
    char err[256];
    int v = -1;
    struct store *st = open_opts(url, NULL);
    CHECK(st != NULL);
    if (st == NULL)
        return;
    CHECK_INT(store_migrate(st, 20, &v, err, sizeof err), 0);
    CHECK_INT(exec_w(st, "INSERT INTO apps (id, name, key, created_at, updated_at) VALUES"
                         " ('a1', 'A', 'k1', 1, 1)"),
              0);
    CHECK_INT(exec_w(st, "INSERT INTO notifications (id, app_id, type_code, recipients, send_at,"
                         " status, source, operator_id, created_at, updated_at) VALUES ('n1', 'a1',"
                         " 't', '[]', 1, 'queued', 'api', NULL, 1, 1), ('n2', 'a1', 't', '[]', 1,"
                         " 'queued', 'console', 'o1', 1, 1)"),
              0);
    CHECK_INT(exec_w(st, "INSERT INTO idempotency_keys (app_id, idem_key, request_hash,"
                         " notification_id, created_at, expires_at) VALUES ('a1', 'by-app', 'h',"
                         " 'n1', 1, 1000), ('a1', 'by-op', 'h', 'n2', 1, 1000)"),
              0);
    CHECK_INT(store_migrate(st, 0, &v, err, sizeof err), 0);
    CHECK(v >= 21);
    CHECK_INT(query_int(st, "SELECT count(*) FROM idempotency_keys WHERE idem_key = 'by-app' AND"
                            " sender = '' AND notification_id = 'n1'"),
              1);
    CHECK_INT(query_int(st, "SELECT count(*) FROM idempotency_keys WHERE idem_key = 'by-op' AND"
                            " sender = 'o1' AND notification_id = 'n2'"),
              1);
    /* the records kept their senders: a live key is the same sender's only */
    CHECK_INT(claim(st, "", "by-app", "n3"), ERR_NOTFOUND);
    CHECK_INT(claim(st, "o1", "by-op", "n3"), ERR_NOTFOUND);
    CHECK_INT(claim(st, "o1", "by-app", "n3"), 0);
    CHECK_INT(claim(st, "", "by-op", "n4"), 0);
    CHECK_INT(claim(st, "o2", "by-op", "n5"), 0);
    CHECK_INT(claim(st, "o2", "by-op", "n6"), ERR_NOTFOUND);
    CHECK_INT(query_int(st, "SELECT count(*) FROM idempotency_keys"), 5);
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_IDEMPOTENCY_KEYS_GET);
    store_bind_text(op, "a1");
    store_bind_text(op, "o1");
    store_bind_text(op, "by-op");
    store_bind_int(op, 100);
    struct store_result *res = NULL;
    CHECK_INT(store_read_wait(st, op, &res), 0);
    const struct store_rows *r = store_result_step(res, 0);
    CHECK(r != NULL && r->nrows == 1);
    if (r != NULL && r->nrows == 1)
        CHECK_STR(store_rows_text(r, 0, 1), "n2");
    store_result_free(res);
    store_close(st);
}

int main(void)
{
    log_setup(LOG_WARN, false);
    snprintf(g_dir, sizeof g_dir, "/tmp/herald-nsql-XXXXXX");
    if (mkdtemp(g_dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    RUN(template_locale_fallback);
    RUN(pairs_and_subscription_bound);
    RUN(send_reads_a_null_template_code_as_the_types_code);
    RUN(idempotency_keys_per_app_and_sender);
    g_pg_url = getenv("HERALD_TEST_PG_URL");
    if (g_pg_url && *g_pg_url) {
        g_pg = true;
        RUN_PG(template_locale_fallback);
        RUN_PG(pairs_and_subscription_bound);
        RUN_PG(send_reads_a_null_template_code_as_the_types_code);
        RUN_PG(idempotency_keys_per_app_and_sender);
    }
    rm_rf(g_dir);
    return test_summary();
}
