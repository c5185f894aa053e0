/*
 * The SQL of templates and template_versions (issue 11, docs/notifications.md, "Templates
 * (console)"), each statement written once (docs/adr/0007; the console list with NT_DUAL,
 * notify_scope.h). A template is keyed by app, code, channel kind and locale; every save adds
 * the version latest_version + 1 (SQL_TEMPLATES_BUMP, then SQL_TEMPLATE_VERSIONS_ADD in the
 * same transaction) and the active one is what deliveries render (SQL_TEMPLATES_RESOLVE).
 */
#include "store/sql.h"
#include "store/sql/notify_scope.h"

#define TPL_COLS                                                                                   \
    "t.id, t.app_id, t.code, t.channel_kind, t.locale, t.active_version, t.latest_version,"        \
    " t.created_at, t.updated_at"

/* ?1 scope, ?2 app, ?3 code, ?4 channel kind, ?5 locale */
#define TPL_WHERE(P, SCOPE)                                                                        \
    " FROM templates t WHERE " SCOPE(1, "t.app_id") " AND" NT_OPT(P, 2, "t.app_id") " AND" NT_OPT( \
        P, 3, "t.code") " AND" NT_OPT(P, 4, "t.channel_kind") " AND" NT_OPT(P, 5, "t.locale")
#define TPL_COUNT(P, SCOPE) "SELECT count(*)" TPL_WHERE(P, SCOPE)
#define TPL_PAGE(P, SCOPE)                                                                         \
    "SELECT " TPL_COLS TPL_WHERE(P, SCOPE) " ORDER BY t.app_id, t.code, t.channel_kind, t.locale"  \
                                           " LIMIT " P(6) " OFFSET " P(7)
const struct store_sql SQL_TEMPLATES_COUNT = NT_DUAL(TPL_COUNT);
const struct store_sql SQL_TEMPLATES_PAGE = NT_DUAL(TPL_PAGE);

/* ?1 id: the template with its active version's texts (NULL when none is active) */
const struct store_sql SQL_TEMPLATES_GET =
    STORE_SQL("SELECT " TPL_COLS ", v.subject, v.body, v.html FROM templates t LEFT JOIN"
              " template_versions v ON v.template_id = t.id AND v.version = t.active_version"
              " WHERE t.id = ?1");

/* ?1 id, ?2 app, ?3 code, ?4 channel kind, ?5 locale, ?6 now, ?7 the most templates an app may
 * have: no version yet (BUMP follows); nothing when there is no such app or it has that many */
const struct store_sql SQL_TEMPLATES_INSERT = STORE_SQL(
    "INSERT INTO templates (id, app_id, code, channel_kind, locale, active_version,"
    " latest_version, created_at, updated_at) SELECT ?1, ?2, ?3, ?4, ?5, 0, 0, ?6, ?6 WHERE"
    " EXISTS (SELECT 1 FROM apps WHERE id = ?2) AND (SELECT count(*) FROM templates WHERE"
    " app_id = ?2) < ?7");

/* ?1 app, ?2 id, ?3 1: the new version becomes the active one, ?4 now */
const struct store_sql SQL_TEMPLATES_BUMP = STORE_SQL(
    "UPDATE templates SET latest_version = latest_version + 1, active_version = CASE WHEN ?3 = 1"
    " THEN latest_version + 1 ELSE active_version END, updated_at = ?4 WHERE app_id = ?1 AND"
    " id = ?2");

/* ?1 template id, ?2 subject or NULL, ?3 body or NULL, ?4 html, ?5 now, ?6 operator, ?7 1: set
 * html to ?4 (NULL: none): the version SQL_TEMPLATES_BUMP just counted; what is not given
 * (NULL, or html with ?7 0) is taken from the version before it */
const struct store_sql SQL_TEMPLATE_VERSIONS_ADD = STORE_SQL(
    "INSERT INTO template_versions (template_id, version, subject, body, html, created_at,"
    " operator_id) SELECT t.id, t.latest_version, coalesce(?2, p.subject, ''), coalesce(?3,"
    " p.body, ''), CASE WHEN ?7 = 1 THEN ?4 ELSE p.html END, ?5, ?6 FROM templates t LEFT JOIN"
    " template_versions p ON p.template_id = t.id AND p.version = t.latest_version - 1 WHERE"
    " t.id = ?1");

/* ?1 app, ?2 id, ?3 version, ?4 now: nothing when there is no such version */
const struct store_sql SQL_TEMPLATES_ACTIVATE = STORE_SQL(
    "UPDATE templates SET active_version = ?3, updated_at = ?4 WHERE app_id = ?1 AND id = ?2 AND"
    " EXISTS (SELECT 1 FROM template_versions WHERE template_id = ?2 AND version = ?3)");

/* ?1 app, ?2 id */
const struct store_sql SQL_TEMPLATES_DELETE =
    STORE_SQL("DELETE FROM templates WHERE app_id = ?1 AND id = ?2");

#define VERSION_COLS "version, subject, body, html, created_at, operator_id"

/* ?1 template id */
const struct store_sql SQL_TEMPLATE_VERSIONS_COUNT =
    STORE_SQL("SELECT count(*) FROM template_versions WHERE template_id = ?1");

/* ?1 template id, ?2 limit, ?3 offset: newest first */
const struct store_sql SQL_TEMPLATE_VERSIONS_PAGE =
    STORE_SQL("SELECT " VERSION_COLS " FROM template_versions WHERE template_id = ?1 ORDER BY"
              " version DESC LIMIT ?2 OFFSET ?3");

/* ?1 template id, ?2 version */
const struct store_sql SQL_TEMPLATE_VERSIONS_GET = STORE_SQL(
    "SELECT " VERSION_COLS " FROM template_versions WHERE template_id = ?1 AND version = ?2");

/* ?1 template id, ?2 version, ?3 the other version: both (the diff) */
const struct store_sql SQL_TEMPLATE_VERSIONS_PAIR =
    STORE_SQL("SELECT " VERSION_COLS " FROM template_versions WHERE template_id = ?1 AND"
              " version IN (?2, ?3)");

/* ?1 app, ?2 code, ?3 channel kind, ?4 locale, ?5 its language ("zh" for "zh-CN"): the active
 * version of the best variant, exact locale first, then the language, then the default ('').
 * Columns: template id, locale, version, subject, body, html. For the sender (deliveries). */
const struct store_sql SQL_TEMPLATES_RESOLVE = STORE_SQL(
    "SELECT t.id, t.locale, v.version, v.subject, v.body, v.html FROM templates t JOIN"
    " template_versions v ON v.template_id = t.id AND v.version = t.active_version WHERE"
    " t.app_id = ?1 AND t.code = ?2 AND t.channel_kind = ?3 AND t.locale IN (?4, ?5, '') ORDER"
    " BY CASE WHEN t.locale = ?4 THEN 0 WHEN t.locale = ?5 THEN 1 ELSE 2 END LIMIT 1");
