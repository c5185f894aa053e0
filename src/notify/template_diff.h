/*
 * A line diff of two template texts (docs/notifications.md, "Templates (console)"): the
 * edit script that keeps the longest common subsequence of lines, and its unified text
 * (`diff -u` style hunks). Pure code, bounded: the common head and tail are matched first,
 * and a middle part over NOTIFY_DIFF_MAX_CELLS (lines of one side times lines of the other)
 * is written as all its old lines removed then all its new lines added. Any thread.
 */
#ifndef HERALD_NOTIFY_TEMPLATE_DIFF_H
#define HERALD_NOTIFY_TEMPLATE_DIFF_H

#include <stddef.h>

struct buf;

#define NOTIFY_DIFF_MAX_CELLS (4u << 20) /* the LCS table's cells (2 bytes each) */

/* One line of the edit script: ' ' kept, '-' only in the old text, '+' only in the new.
 * text points into the compared strings (len bytes, no newline). */
struct notify_diff_line {
    char op;
    const char *text;
    size_t len;
};

/*
 * The edit script turning a into b (either may be NULL: no lines). Lines end at '\n'; a
 * final '\n' ends the last line without starting another. Returns the number of lines and
 * sets *out (free() it; borrows from a and b).
 */
size_t notify_diff_lines(const char *a, const char *b, struct notify_diff_line **out);

/*
 * Appends the unified text of the script to out: "--- from\n+++ to\n" then hunks
 * "@@ -l,n +l,n @@" with context lines around each change. Nothing when nothing changed.
 */
void notify_diff_unified(const struct notify_diff_line *l, size_t n, const char *from,
                         const char *to, int context, struct buf *out);

#endif
