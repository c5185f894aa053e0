/*
 * Notification templates: a mustache subset (docs/notifications.md, "Templates").
 * {{name}} writes a value escaped for the channel, {{{name}}} and {{& name}} write it raw,
 * {{#name}}…{{/name}} is a section (once for a true value or an object, once per element of
 * an array, with the element as the innermost context), {{^name}}…{{/name}} an inverted
 * section (false, null, missing, "" , 0 or an empty array), {{! comment}} is dropped, dotted
 * names (a.b.c) look up nested members, "." is the current element. Names are resolved from
 * the innermost context outwards. Values are never re-read as template syntax. No partials,
 * no delimiter changes, no lambdas. Names are "." or parts of [A-Za-z0-9_-] joined by dots.
 * A section, inverted section, closing tag or comment alone on its line removes that line.
 *
 * A compiled template is immutable: any thread may render it, and several at once.
 */
#ifndef HERALD_NOTIFY_TEMPLATE_H
#define HERALD_NOTIFY_TEMPLATE_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "core/buf.h"

#define TPL_MAX_SOURCE (64 * 1024)  /* bytes of one template text */
#define TPL_MAX_DEPTH 16            /* nested sections */
#define TPL_MAX_OUTPUT (256 * 1024) /* default bound of one rendering */
#define TPL_MAX_STEPS (1 << 22)     /* work of one rendering: nodes, passes, lookup compares */

enum tpl_escape {
    TPL_ESCAPE_NONE, /* SMS, plain text bodies, titles */
    TPL_ESCAPE_HTML, /* e-mail HTML bodies: & < > " ' escaped */
};

struct tpl;

struct tpl_error {
    size_t offset;      /* byte offset of the error in the source */
    unsigned line, col; /* 1-based; col counts characters */
    char message[128];  /* e.g. "unclosed section \"items\"" */
};

/* Compiles src[0..len). On success *out owns a new template (tpl_free) and 0 is returned.
 * A syntax error returns ERR_INVAL with err filled (err may be NULL): unclosed tag, unclosed
 * section, closing tag without or not matching its section, empty name, bad character in a
 * name, sections deeper than TPL_MAX_DEPTH, "{{{" closed by "}}", and the unsupported tags
 * (partials, delimiter changes, blocks). The message is ASCII/UTF-8, at most 127 bytes. A
 * source over TPL_MAX_SOURCE returns ERR_TOOBIG (err filled too). Any thread. */
int tpl_compile(const char *src, size_t len, struct tpl **out, struct tpl_error *err);

/* Checks src without keeping the result; same returns as tpl_compile. */
int tpl_check(const char *src, size_t len, struct tpl_error *err);

/* NULL-safe. */
void tpl_free(struct tpl *t);

/* Appends the rendering of t with params (a JSON object, or NULL for none) to out, escaping
 * {{x}} values with esc. Numbers are written as JSON writes them, true/false as "true" and
 * "false", null and missing names as nothing; an object or array in {{x}} is written as its
 * JSON text. Returns 0, or ERR_TOOBIG when the output would pass max_out bytes (counted from
 * out's length at the call) or the rendering would take more than TPL_MAX_STEPS steps of work
 * (out then holds a partial rendering the caller discards). Any thread. */
int tpl_render(const struct tpl *t, const cJSON *params, enum tpl_escape esc, size_t max_out,
               struct buf *out);

#endif
