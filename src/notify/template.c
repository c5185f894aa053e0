/*
 * The notification template engine: a mustache subset compiled once into a flat node array
 * and rendered by any thread (template.h; the syntax in docs/notifications.md, "Templates").
 * Compiling checks everything a renderer could trip on (names, nesting, closing tags), so
 * rendering never fails but for its bounds. Sections are nested at most TPL_MAX_DEPTH deep,
 * which bounds both the compile-time section stack and the renderer's recursion; the renderer
 * also counts its work (TPL_MAX_STEPS: nodes visited, section passes, object members compared
 * by lookups) so nested sections over large arrays that write nothing still stop.
 *
 * Standalone lines: a section, inverted section, closing tag or comment alone on its line
 * (only spaces or tabs around it) removes the whole line, its newline included, as mustache
 * does; variables never do.
 */
#include "notify/template.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/xalloc.h"

#define TPL_MAX_NAME 128                      /* bytes of one tag name */
#define SHOWN(n) ((int)((n) > 40 ? 40 : (n))) /* bytes of a name quoted in a message */

enum node_kind {
    NODE_TEXT,     /* src[off..off+len) copied */
    NODE_VAR,      /* {{name}}: escaped */
    NODE_RAW,      /* {{{name}}} or {{& name}} */
    NODE_SECTION,  /* {{#name}}: body is nodes (i, end) */
    NODE_INVERTED, /* {{^name}} */
};

struct tpl_node {
    uint8_t kind;
    uint32_t off, len; /* text, or the name (for every other kind) */
    uint32_t end;      /* sections: index of the first node after the body */
};

struct tpl {
    char *src; /* owned copy of the source: texts and names point into it */
    size_t src_len;
    struct tpl_node *nodes;
    size_t n, cap;
};

/* ---- compile ---- */

struct compiler {
    const char *s;
    size_t len;
    struct tpl *t;
    struct tpl_error *err;
    size_t open[TPL_MAX_DEPTH];     /* node index of each open section */
    size_t open_off[TPL_MAX_DEPTH]; /* source offset of its tag */
    int depth;
};

static int fail(struct compiler *c, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct compiler *c, size_t off, const char *fmt, ...)
{
    if (c->err == NULL)
        return ERR_INVAL;
    struct tpl_error *e = c->err;
    e->offset = off;
    e->line = 1;
    e->col = 1;
    for (size_t i = 0; i < off && i < c->len; i++) {
        unsigned char ch = (unsigned char)c->s[i];
        if (ch == '\n') {
            e->line++;
            e->col = 1;
        } else if ((ch & 0xC0) != 0x80) {
            e->col++; /* a character starts here; continuation bytes do not count */
        }
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
    return ERR_INVAL;
}

static void add_node(struct compiler *c, int kind, size_t off, size_t len)
{
    struct tpl *t = c->t;
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->nodes = xrealloc(t->nodes, t->cap * sizeof(*t->nodes));
    }
    t->nodes[t->n++] = (struct tpl_node){
        .kind = (uint8_t)kind, .off = (uint32_t)off, .len = (uint32_t)len, .end = 0};
}

static int is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

static int is_name_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '-';
}

/* Trims [*off, *off+*len) and checks it is a name: "." or parts of [A-Za-z0-9_-] joined by
 * single dots. tag is the offset of the tag for an empty name. */
static int check_name(struct compiler *c, size_t tag, size_t *off, size_t *len)
{
    size_t a = *off, b = *off + *len;
    while (a < b && is_space(c->s[a]))
        a++;
    while (b > a && is_space(c->s[b - 1]))
        b--;
    if (a == b)
        return fail(c, tag, "empty name in tag");
    if (b - a > TPL_MAX_NAME)
        return fail(c, a, "name longer than %d bytes", TPL_MAX_NAME);
    *off = a;
    *len = b - a;
    if (b - a == 1 && c->s[a] == '.')
        return 0;
    for (size_t i = a; i < b; i++) {
        char ch = c->s[i];
        if (ch != '.' && !is_name_char(ch)) {
            if (ch >= ' ' && ch < 0x7f)
                return fail(c, i, "bad character '%c' in name", ch);
            return fail(c, i, "bad character in name (names are letters, digits, _ and -)");
        }
    }
    /* only ASCII name characters from here on: safe to quote in the message */
    for (size_t i = a; i < b; i++)
        if (c->s[i] == '.' && (i == a || i + 1 == b || c->s[i + 1] == '.'))
            return fail(c, a, "empty part in dotted name \"%.*s\"", SHOWN(b - a), c->s + a);
    return 0;
}

static const char *find_close(const char *s, size_t from, size_t len)
{
    for (size_t i = from; i + 1 < len; i++)
        if (s[i] == '}' && s[i + 1] == '}')
            return s + i;
    return NULL;
}

/* For a tag at [tag, end) that may stand alone: when only spaces or tabs surround it on its
 * line, sets *line_start to the start of that line and *after past its newline. */
static int standalone(const struct compiler *c, size_t text_start, size_t tag, size_t end,
                      size_t *line_start, size_t *after)
{
    size_t a = tag;
    while (a > text_start && (c->s[a - 1] == ' ' || c->s[a - 1] == '\t'))
        a--;
    if (a != 0 && c->s[a - 1] != '\n')
        return 0; /* something else (text or a tag) precedes it on its line */
    size_t b = end;
    while (b < c->len && (c->s[b] == ' ' || c->s[b] == '\t'))
        b++;
    if (b < c->len && c->s[b] == '\r' && b + 1 < c->len && c->s[b + 1] == '\n')
        b += 2;
    else if (b < c->len && c->s[b] == '\n')
        b++;
    else if (b != c->len)
        return 0;
    *line_start = a;
    *after = b;
    return 1;
}

static int compile(struct compiler *c)
{
    const char *s = c->s;
    size_t len = c->len, text = 0, i = 0;
    while (i + 1 < len) {
        if (s[i] != '{' || s[i + 1] != '{') {
            i++;
            continue;
        }
        size_t tag = i, body = i + 2, name_off, name_len, end;
        const char *close = find_close(s, body, len);
        if (close == NULL)
            return fail(c, tag, "unclosed tag: \"{{\" without \"}}\"");
        char sigil = body < len ? s[body] : '\0';
        int kind;
        if (sigil == '{') {
            if ((size_t)(close - s) + 2 >= len || close[2] != '}')
                return fail(c, tag, "\"{{{\" closed by \"}}\" instead of \"}}}\"");
            kind = NODE_RAW;
            name_off = body + 1;
            name_len = (size_t)(close - s) - name_off;
            end = (size_t)(close - s) + 3;
        } else {
            end = (size_t)(close - s) + 2;
            name_off = body + 1;
            name_len = (size_t)(close - s) - name_off;
            switch (sigil) {
            case '&':
                kind = NODE_RAW;
                break;
            case '#':
                kind = NODE_SECTION;
                break;
            case '^':
                kind = NODE_INVERTED;
                break;
            case '/':
                kind = -1;
                break;
            case '!':
                kind = -2;
                break;
            case '>':
                return fail(c, tag, "partials ({{>name}}) are not supported");
            case '<':
            case '$':
                return fail(c, tag, "blocks and parents ({{%c…}}) are not supported", sigil);
            case '=':
                return fail(c, tag, "delimiter changes ({{=…=}}) are not supported");
            default:
                kind = NODE_VAR;
                name_off = body;
                name_len = (size_t)(close - s) - body;
                break;
            }
        }
        size_t text_end = tag, next = end, line_start, after;
        if (kind != NODE_VAR && kind != NODE_RAW &&
            standalone(c, text, tag, end, &line_start, &after)) {
            text_end = line_start;
            next = after;
        }
        if (kind != -2) {
            int rc = check_name(c, tag, &name_off, &name_len);
            if (rc != 0)
                return rc;
        }
        if (text_end > text)
            add_node(c, NODE_TEXT, text, text_end - text);
        if (kind == NODE_SECTION || kind == NODE_INVERTED) {
            if (c->depth == TPL_MAX_DEPTH)
                return fail(c, tag, "sections nested deeper than %d", TPL_MAX_DEPTH);
            c->open[c->depth] = c->t->n;
            c->open_off[c->depth++] = tag;
            add_node(c, kind, name_off, name_len);
        } else if (kind == -1) {
            if (c->depth == 0)
                return fail(c, tag, "closing tag \"%.*s\" without an open section", SHOWN(name_len),
                            s + name_off);
            struct tpl_node *open = &c->t->nodes[c->open[c->depth - 1]];
            if (open->len != name_len || memcmp(s + open->off, s + name_off, name_len) != 0)
                return fail(c, tag, "closing tag \"%.*s\" does not match open section \"%.*s\"",
                            SHOWN(name_len), s + name_off, SHOWN(open->len), s + open->off);
            open->end = (uint32_t)c->t->n;
            c->depth--;
        } else if (kind != -2) {
            add_node(c, kind, name_off, name_len);
        }
        text = i = next;
    }
    if (c->depth > 0) {
        const struct tpl_node *open = &c->t->nodes[c->open[c->depth - 1]];
        return fail(c, c->open_off[c->depth - 1], "unclosed section \"%.*s\"", SHOWN(open->len),
                    c->s + open->off);
    }
    if (len > text)
        add_node(c, NODE_TEXT, text, len - text);
    return 0;
}

int tpl_compile(const char *src, size_t len, struct tpl **out, struct tpl_error *err)
{
    if (out != NULL)
        *out = NULL;
    if (err != NULL)
        memset(err, 0, sizeof(*err));
    if (len > TPL_MAX_SOURCE) {
        if (err != NULL) {
            err->offset = TPL_MAX_SOURCE;
            err->line = err->col = 1;
            snprintf(err->message, sizeof(err->message), "template longer than %d bytes",
                     TPL_MAX_SOURCE);
        }
        return ERR_TOOBIG;
    }
    struct tpl *t = xcalloc(1, sizeof(*t));
    t->src = xmalloc(len + 1);
    if (len > 0)
        memcpy(t->src, src, len);
    t->src[len] = '\0';
    t->src_len = len;
    struct compiler c = {.s = t->src, .len = len, .t = t, .err = err};
    int rc = compile(&c);
    if (rc != 0 || out == NULL) {
        tpl_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

int tpl_check(const char *src, size_t len, struct tpl_error *err)
{
    return tpl_compile(src, len, NULL, err);
}

void tpl_free(struct tpl *t)
{
    if (t == NULL)
        return;
    free(t->nodes);
    free(t->src);
    free(t);
}

/* ---- render ---- */

struct render {
    const struct tpl *t;
    struct buf *out;
    size_t start, max;
    enum tpl_escape esc;
    size_t steps;
    const cJSON *stack[TPL_MAX_DEPTH + 1]; /* contexts: [0] the params, then one per section */
    int top;
};

static int put(struct render *r, const char *p, size_t n)
{
    if (r->out->len - r->start + n > r->max)
        return ERR_TOOBIG;
    buf_append(r->out, p, n);
    return 0;
}

static int put_html(struct render *r, const char *p, size_t n)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        const char *ent;
        switch (p[i]) {
        case '&':
            ent = "&amp;";
            break;
        case '<':
            ent = "&lt;";
            break;
        case '>':
            ent = "&gt;";
            break;
        case '"':
            ent = "&quot;";
            break;
        case '\'':
            ent = "&#39;";
            break;
        default:
            continue;
        }
        if (put(r, p + run, i - run) != 0 || put(r, ent, strlen(ent)) != 0)
            return ERR_TOOBIG;
        run = i + 1;
    }
    return put(r, p + run, n - run);
}

/* Each member compared costs a step: a lookup in a large object is work too. */
static const cJSON *member(struct render *r, const cJSON *obj, const char *name, size_t n)
{
    if (!cJSON_IsObject(obj))
        return NULL;
    for (const cJSON *m = obj->child; m != NULL; m = m->next) {
        r->steps++;
        if (m->string != NULL && strncmp(m->string, name, n) == 0 && m->string[n] == '\0')
            return m;
    }
    return NULL;
}

/* Mustache lookup: "." is the innermost context; the first part of a dotted name is searched
 * from the innermost context outwards, the other parts inside what it found. */
static const cJSON *lookup(struct render *r, const struct tpl_node *nd)
{
    const char *name = r->t->src + nd->off;
    size_t len = nd->len;
    if (len == 1 && name[0] == '.')
        return r->stack[r->top];
    size_t part = 0;
    while (part < len && name[part] != '.')
        part++;
    const cJSON *v = NULL;
    for (int i = r->top; i >= 0 && v == NULL; i--)
        v = member(r, r->stack[i], name, part);
    while (v != NULL && part < len) {
        size_t from = part + 1;
        part = from;
        while (part < len && name[part] != '.')
            part++;
        v = member(r, v, name + from, part - from);
    }
    return v;
}

static int truthy(const cJSON *v)
{
    if (v == NULL || cJSON_IsNull(v) || cJSON_IsFalse(v))
        return 0;
    if (cJSON_IsNumber(v))
        return v->valuedouble != 0;
    if (cJSON_IsString(v))
        return v->valuestring != NULL && v->valuestring[0] != '\0';
    if (cJSON_IsArray(v))
        return v->child != NULL;
    return 1;
}

static int put_value(struct render *r, const cJSON *v, int escape)
{
    int (*emit)(struct render *, const char *, size_t) =
        escape && r->esc == TPL_ESCAPE_HTML ? put_html : put;
    if (v == NULL || cJSON_IsNull(v))
        return 0;
    if (cJSON_IsString(v))
        return v->valuestring ? emit(r, v->valuestring, strlen(v->valuestring)) : 0;
    if (cJSON_IsTrue(v))
        return emit(r, "true", 4);
    if (cJSON_IsFalse(v))
        return emit(r, "false", 5);
    char *text = cJSON_PrintUnformatted(v); /* numbers, arrays, objects: their JSON text */
    if (text == NULL)
        return 0;
    int rc = emit(r, text, strlen(text));
    cJSON_free(text);
    return rc;
}

static int render_range(struct render *r, size_t from, size_t to)
{
    for (size_t i = from; i < to;) {
        if (++r->steps > TPL_MAX_STEPS)
            return ERR_TOOBIG;
        const struct tpl_node *nd = &r->t->nodes[i];
        int rc = 0;
        switch (nd->kind) {
        case NODE_TEXT:
            rc = put(r, r->t->src + nd->off, nd->len);
            break;
        case NODE_VAR:
        case NODE_RAW: {
            const cJSON *v = lookup(r, nd);
            rc = r->steps > TPL_MAX_STEPS ? ERR_TOOBIG : put_value(r, v, nd->kind == NODE_VAR);
            break;
        }
        case NODE_INVERTED:
            if (!truthy(lookup(r, nd)))
                rc = r->steps > TPL_MAX_STEPS ? ERR_TOOBIG : render_range(r, i + 1, nd->end);
            i = nd->end;
            if (rc != 0)
                return rc;
            continue;
        case NODE_SECTION: {
            const cJSON *v = lookup(r, nd);
            if (r->steps > TPL_MAX_STEPS)
                return ERR_TOOBIG;
            if (truthy(v)) {
                const cJSON *first = cJSON_IsArray(v) ? v->child : v;
                for (const cJSON *e = first; e != NULL && rc == 0;
                     e = cJSON_IsArray(v) ? e->next : NULL) {
                    if (++r->steps > TPL_MAX_STEPS)
                        return ERR_TOOBIG; /* an empty body still costs its pass */
                    r->stack[++r->top] = e;
                    rc = render_range(r, i + 1, nd->end);
                    r->top--;
                }
            }
            i = nd->end;
            if (rc != 0)
                return rc;
            continue;
        }
        }
        if (rc != 0)
            return rc;
        i++;
    }
    return 0;
}

int tpl_render(const struct tpl *t, const cJSON *params, enum tpl_escape esc, size_t max_out,
               struct buf *out)
{
    struct render r = {.t = t, .out = out, .start = out->len, .max = max_out, .esc = esc};
    r.stack[0] = params;
    return render_range(&r, 0, t->n);
}
