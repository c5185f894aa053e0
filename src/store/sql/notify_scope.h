/*
 * Helpers of the notification configuration's SQL (src/store/sql/notify_*.c, nodes.c): a
 * console list names the apps the operator may see as a JSON array (NULL: every app), and
 * the two dialects read a JSON array differently, so those statements are written once as a
 * macro body with P(n) for the parameter marks and SCOPE(n, col) for the app filter, and expanded
 * for each dialect with NT_DUAL.
 */
#ifndef HERALD_STORE_SQL_NOTIFY_SCOPE_H
#define HERALD_STORE_SQL_NOTIFY_SCOPE_H

#define NT_SQ(n) "?" #n
#define NT_PG(n) "$" #n
#define NT_SCOPE_SQ(n, col) "(?" #n " IS NULL OR " col " IN (SELECT value FROM json_each(?" #n ")))"
#define NT_SCOPE_PG(n, col)                                                                        \
    "($" #n "::text IS NULL OR " col " IN (SELECT json_array_elements_text($" #n "::text::json)))"

/* A statement whose body macro X(P, SCOPE) gives its text for a dialect. */
#define NT_DUAL(X)                                                                                 \
    {                                                                                              \
        .sqlite = X(NT_SQ, NT_SCOPE_SQ), .pg = X(NT_PG, NT_SCOPE_PG)                               \
    }

/* "(?n IS NULL OR col = ?n)": an optional text filter. */
#define NT_OPT(P, n, col) " (CAST(" P(n) " AS TEXT) IS NULL OR " col " = " P(n) ")"

#endif
