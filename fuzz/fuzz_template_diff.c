/*
 * libFuzzer target for the template version diff (notify/template_diff). The input is two
 * texts separated by the first NUL byte (no NUL: the second text is empty). Checked: nothing
 * crashes or leaks; the script's kept and removed lines rebuild the first text and its kept
 * and added lines the second (lines joined by '\n', a final '\n' dropped); a kept line
 * is the same in both; the unified text is empty exactly when nothing changed, and otherwise
 * has one '+'/'-' line per changed script line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "notify/template_diff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether the lines of l with an op in ops, joined by '\n', are text (one final '\n' of text
 * dropped). */
static int rebuilds(const struct notify_diff_line *l, size_t n, const char *ops, const char *text)
{
    struct buf b = BUF_INIT;
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        if (strchr(ops, l[i].op) == NULL)
            continue;
        if (!first)
            buf_putc(&b, '\n');
        first = 0;
        buf_append(&b, l[i].text, l[i].len);
    }
    size_t tl = strlen(text);
    if (tl > 0 && text[tl - 1] == '\n')
        tl--;
    int ok = b.len == tl && (tl == 0 || memcmp(b.data, text, tl) == 0);
    buf_release(&b);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    char *copy = malloc(size + 2);
    memcpy(copy, data, size);
    copy[size] = '\0';
    copy[size + 1] = '\0';
    const char *a = copy;
    const char *b = copy + strlen(copy) + 1; /* after the first NUL, or the empty text */
    if (b > copy + size)
        b = copy + size + 1;
    struct notify_diff_line *l = NULL;
    size_t n = notify_diff_lines(a, b, &l);
    size_t changed = 0;
    for (size_t i = 0; i < n; i++) {
        if (l[i].op != ' ' && l[i].op != '-' && l[i].op != '+')
            abort();
        changed += l[i].op != ' ';
    }
    if (!rebuilds(l, n, " -", a) || !rebuilds(l, n, " +", b))
        abort();
    struct buf u = BUF_INIT;
    notify_diff_unified(l, n, "a", "b", 3, &u);
    if ((u.len == 0) != (changed == 0))
        abort();
    size_t marks = 0;
    for (size_t i = 0; i < u.len; i++)
        if ((i == 0 || u.data[i - 1] == '\n') && (u.data[i] == '+' || u.data[i] == '-'))
            marks++;
    if (changed > 0 && marks != changed + 2) /* the "---" and "+++" lines */
        abort();
    buf_release(&u);
    free(l);
    free(copy);
    return 0;
}
