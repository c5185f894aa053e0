/*
 * The template version diff (src/notify/template_diff.c): the edit script keeps the longest
 * common subsequence of lines, the unified text has diff -u's hunks, and a middle part too
 * big for the table falls back to remove-all/add-all.
 */
#include "test.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "notify/template_diff.h"

/* The script as "op text|op text|..." */
static char *script(const char *a, const char *b)
{
    struct notify_diff_line *l = NULL;
    size_t n = notify_diff_lines(a, b, &l);
    struct buf o;
    buf_init(&o);
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf_putc(&o, '|');
        buf_putc(&o, l[i].op);
        buf_append(&o, l[i].text, l[i].len);
    }
    buf_putc(&o, '\0');
    free(l);
    return buf_detach(&o, NULL);
}

static char *unified(const char *a, const char *b, int ctx)
{
    struct notify_diff_line *l = NULL;
    size_t n = notify_diff_lines(a, b, &l);
    struct buf o;
    buf_init(&o);
    notify_diff_unified(l, n, "v1", "v2", ctx, &o);
    buf_putc(&o, '\0');
    free(l);
    return buf_detach(&o, NULL);
}

#define CHECK_SCRIPT(a, b, want)                                                                   \
    do {                                                                                           \
        char *got_ = script(a, b);                                                                 \
        CHECK_STR(got_, want);                                                                     \
        free(got_);                                                                                \
    } while (0)

TEST(scripts)
{
    CHECK_SCRIPT("", "", "");
    CHECK_SCRIPT(NULL, "a\nb", "+a|+b");
    CHECK_SCRIPT("a\nb\n", NULL, "-a|-b");
    CHECK_SCRIPT("a\nb\nc", "a\nb\nc", " a| b| c");
    CHECK_SCRIPT("a\nb\nc", "a\nx\nc", " a|-b|+x| c");
    CHECK_SCRIPT("a\nb\nc\nd", "b\nc\nd\ne", "-a| b| c| d|+e");
    CHECK_SCRIPT("x\na\ny\nb\nz", "a\nq\nb", "-x| a|-y|+q| b|-z");
    CHECK_SCRIPT("Hello {{name}}\n", "Hello {{name}}!\n", "-Hello {{name}}|+Hello {{name}}!");
    CHECK_SCRIPT("a\n\nb", "a\nb", " a|-| b");
}

TEST(unified_hunks)
{
    char *u = unified("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12",
                      "1\n2\n3\nfour\n5\n6\n7\n8\n9\n10\n11\ntwelve", 2);
    CHECK_STR(u, "--- v1\n+++ v2\n@@ -2,5 +2,5 @@\n 2\n 3\n-4\n+four\n 5\n 6\n"
                 "@@ -10,3 +10,3 @@\n 10\n 11\n-12\n+twelve\n");
    free(u);
    u = unified("a\nb", "a\nb", 3);
    CHECK_STR(u, "");
    free(u);
    u = unified("", "x", 3);
    CHECK_STR(u, "--- v1\n+++ v2\n@@ -0,0 +1,1 @@\n+x\n");
    free(u);
    /* changes close together make one hunk */
    u = unified("1\n2\n3\n4\n5", "1\nb\n3\nd\n5", 1);
    CHECK_STR(u, "--- v1\n+++ v2\n@@ -1,5 +1,5 @@\n 1\n-2\n+b\n 3\n-4\n+d\n 5\n");
    free(u);
}

TEST(big_middle_falls_back)
{
    /* 3000 x 3000 different lines: over the table's bound */
    struct buf a, b;
    buf_init(&a);
    buf_init(&b);
    for (int i = 0; i < 3000; i++) {
        buf_printf(&a, "a%d\n", i);
        buf_printf(&b, "b%d\n", i);
    }
    buf_putc(&a, '\0');
    buf_putc(&b, '\0');
    struct notify_diff_line *l = NULL;
    size_t n = notify_diff_lines(a.data, b.data, &l);
    CHECK_INT(n, 6000);
    CHECK_INT(l[0].op, '-');
    CHECK_INT(l[2999].op, '-');
    CHECK_INT(l[3000].op, '+');
    free(l);
    buf_release(&a);
    buf_release(&b);
}

int main(void)
{
    RUN(scripts);
    RUN(unified_hunks);
    RUN(big_middle_falls_back);
    return test_summary();
}
