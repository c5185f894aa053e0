/*
 * The SQL of uploads (issue 10, docs/uploads.md), each statement written once (docs/adr/0007).
 * A row belongs to an app and the user who uploaded; media URLs are capability URLs, so the
 * lookup by path that GET /media/... makes names no app.
 */
#include "store/sql.h"

/* ?1 id, ?2 app, ?3 user, ?4 path, ?5 name, ?6 size, ?7 mime, ?8 width or NULL, ?9 height or
 * NULL, ?10 thumbnail path or NULL, ?11 now */
const struct store_sql SQL_UPLOADS_INSERT =
    STORE_SQL("INSERT INTO uploads (id, app_id, user_id, path, name, size, mime, width, height,"
              " thumb_path, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");

/* ?1 a path under media/ ("uploads/..."): the row whose file or thumbnail it is, with
 * whether it is the thumbnail */
const struct store_sql SQL_UPLOADS_BY_PATH =
    STORE_SQL("SELECT name, mime, CASE WHEN path = ?1 THEN 0 ELSE 1 END FROM uploads"
              " WHERE path = ?1 OR thumb_path = ?1");
