/*
 * The notification template engine (notify/template): every tag kind, HTML and no escaping,
 * sections over objects, arrays and scalars, mustache lookup through the context stack,
 * standalone lines, value formatting, every compile error with its exact position and
 * message, template injection through values, the output and step bounds, UTF-8.
 */
#include "test.h"

#include <stdlib.h>

#include "core/buf.h"
#include "core/err.h"
#include "notify/template.h"

static struct tpl_error terr;
static int last_rc;

/* Renders src with the JSON params (NULL for none); returns the output (static until the
 * next call) or NULL when compiling or rendering failed (last_rc, terr tell why). */
static const char *render_max(const char *src, const char *json, enum tpl_escape esc, size_t max)
{
    static struct buf out = BUF_INIT;
    struct tpl *t = NULL;
    buf_clear(&out);
    last_rc = tpl_compile(src, strlen(src), &t, &terr);
    if (last_rc != 0)
        return NULL;
    cJSON *params = json ? cJSON_Parse(json) : NULL;
    if (json != NULL && params == NULL) {
        fprintf(stderr, "  bad test JSON: %s\n", json);
        tpl_free(t);
        last_rc = 99;
        return NULL;
    }
    last_rc = tpl_render(t, params, esc, max, &out);
    cJSON_Delete(params);
    tpl_free(t);
    if (last_rc != 0)
        return NULL;
    return out.data ? out.data : "";
}

static const char *render(const char *src, const char *json)
{
    return render_max(src, json, TPL_ESCAPE_NONE, TPL_MAX_OUTPUT);
}

static const char *render_html(const char *src, const char *json)
{
    return render_max(src, json, TPL_ESCAPE_HTML, TPL_MAX_OUTPUT);
}

TEST(plain_text_and_variables)
{
    CHECK_STR(render("", NULL), "");
    CHECK_STR(render("hello", NULL), "hello");
    CHECK_STR(render("Hi {{name}}!", "{\"name\":\"Ann\"}"), "Hi Ann!");
    CHECK_STR(render("Hi {{ name }}!", "{\"name\":\"Ann\"}"), "Hi Ann!");
    CHECK_STR(render("{{a}}{{b}}", "{\"a\":\"x\",\"b\":\"y\"}"), "xy");
    CHECK_STR(render("{{name}}", "{\"Name\":\"x\"}"), ""); /* case-sensitive */
    CHECK_STR(render("a } b }} c {", NULL), "a } b }} c {");
    CHECK_STR(render("{{x}}}", "{\"x\":1}"), "1}");
}

TEST(values_formatting)
{
    const char *p = "{\"i\":42,\"neg\":-7,\"f\":1.5,\"big\":1e20,\"t\":true,\"f2\":false,"
                    "\"n\":null,\"o\":{\"a\":1,\"b\":\"<\"},\"arr\":[1,\"x\"],\"e\":\"\"}";
    CHECK_STR(render("{{i}} {{neg}} {{f}} {{big}}", p), "42 -7 1.5 1e+20");
    CHECK_STR(render("[{{t}}|{{f2}}|{{n}}|{{missing}}|{{e}}]", p), "[true|false|||]");
    CHECK_STR(render("{{o}} {{arr}}", p), "{\"a\":1,\"b\":\"<\"} [1,\"x\"]");
    CHECK_STR(render_html("{{o}}", p), "{&quot;a&quot;:1,&quot;b&quot;:&quot;&lt;&quot;}");
    CHECK_STR(render("{{x}}", NULL), "");
    CHECK_STR(render("{{x}}", "[1,2]"), ""); /* params not an object: nothing found */
}

TEST(escaping_both_modes)
{
    const char *p = "{\"v\":\"a&b<c>d\\\"e'f\"}";
    CHECK_STR(render_html("{{v}}", p), "a&amp;b&lt;c&gt;d&quot;e&#39;f");
    CHECK_STR(render_html("{{{v}}}", p), "a&b<c>d\"e'f");
    CHECK_STR(render_html("{{& v}}", p), "a&b<c>d\"e'f");
    CHECK_STR(render_html("{{&v}}", p), "a&b<c>d\"e'f");
    CHECK_STR(render("{{v}}", p), "a&b<c>d\"e'f");
    CHECK_STR(render("{{{v}}}", p), "a&b<c>d\"e'f");
    /* the template's own text is never escaped */
    CHECK_STR(render_html("<b>{{v}}</b> & co", "{\"v\":\"<i>\"}"), "<b>&lt;i&gt;</b> & co");
    CHECK_STR(render_html("{{v}}", "{\"v\":\"&&\"}"), "&amp;&amp;");
    CHECK_STR(render_html("{{v}}", "{\"v\":\"plain\"}"), "plain");
}

TEST(sections_truthy_and_falsy)
{
    CHECK_STR(render("{{#t}}yes{{/t}}", "{\"t\":true}"), "yes");
    CHECK_STR(render("{{#t}}yes{{/t}}", "{\"t\":1}"), "yes");
    CHECK_STR(render("{{#t}}yes{{/t}}", "{\"t\":\"s\"}"), "yes");
    CHECK_STR(render("{{#t}}yes{{/t}}", "{\"t\":{}}"), "yes");
    static const char *const falsy[] = {"{\"t\":false}", "{\"t\":null}", "{}", "{\"t\":\"\"}",
                                        "{\"t\":0}",     "{\"t\":[]}",   NULL};
    for (int i = 0; falsy[i]; i++) {
        CHECK_STR(render("a{{#t}}yes{{/t}}b", falsy[i]), "ab");
        CHECK_STR(render("a{{^t}}no{{/t}}b", falsy[i]), "anob");
    }
    CHECK_STR(render("a{{^t}}no{{/t}}b", "{\"t\":true}"), "ab");
    CHECK_STR(render("a{{^t}}no{{/t}}b", "{\"t\":[0]}"), "ab");
    CHECK_STR(render("{{#t}}[{{.}}]{{/t}}", "{\"t\":\"v\"}"), "[v]"); /* scalar pushed */
}

TEST(sections_objects_and_arrays)
{
    const char *p = "{\"user\":{\"name\":\"Ann\",\"age\":30},\"name\":\"outer\","
                    "\"items\":[{\"name\":\"a\",\"qty\":1},{\"qty\":2}],\"tags\":[\"x\",\"y\",3]}";
    CHECK_STR(render("{{#user}}{{name}} is {{age}}{{/user}}", p), "Ann is 30");
    /* a name missing in the element is found outwards */
    CHECK_STR(render("{{#items}}{{name}}:{{qty}};{{/items}}", p), "a:1;outer:2;");
    CHECK_STR(render("{{#tags}}<{{.}}>{{/tags}}", p), "<x><y><3>");
    CHECK_STR(render_html("{{#tags}}<{{.}}>{{/tags}}", "{\"tags\":[\"&\"]}"), "<&amp;>");
    /* nested: arrays inside arrays */
    CHECK_STR(render("{{#rows}}[{{#cells}}{{.}},{{/cells}}]{{/rows}}",
                     "{\"rows\":[{\"cells\":[1,2]},{\"cells\":[]},{\"cells\":[3]}]}"),
              "[1,2,][][3,]");
    CHECK_STR(render("{{#a}}{{#b}}{{#c}}{{x}}{{/c}}{{/b}}{{/a}}",
                     "{\"x\":\"top\",\"a\":{\"b\":{\"c\":true}}}"),
              "top");
    CHECK_STR(render("{{#a}}{{^b}}no b{{/b}}{{/a}}", "{\"a\":{\"c\":1}}"), "no b");
    /* a section named like an outer one inside it */
    CHECK_STR(render("{{#a}}{{#a}}{{v}}{{/a}}{{/a}}", "{\"a\":{\"a\":{\"v\":\"in\"}}}"), "in");
}

TEST(dotted_names)
{
    const char *p = "{\"a\":{\"b\":{\"c\":\"deep\"},\"n\":5},\"x\":{\"y\":\"xy\"}}";
    CHECK_STR(render("{{a.b.c}} {{a.n}} {{x.y}}", p), "deep 5 xy");
    CHECK_STR(render("[{{a.b.missing}}][{{a.missing.c}}][{{nope.b}}]", p), "[][][]");
    CHECK_STR(render("{{#a.b}}{{c}}{{/a.b}}", p), "deep");
    /* mustache: the first part resolves outwards, the rest only inside what it found */
    CHECK_STR(render("{{#a}}{{x.y}}{{/a}}", p), "xy");
    CHECK_STR(render("{{#a}}{{b.y}}{{/a}}", "{\"a\":{\"b\":{}},\"b\":{\"y\":\"outer\"}}"), "");
    CHECK_STR(render("{{a.0}}", "{\"a\":[\"first\"]}"), ""); /* no array indexing */
    CHECK_STR(render("{{user-id}} {{_x}}", "{\"user-id\":7,\"_x\":8}"), "7 8");
}

TEST(comments_and_standalone_lines)
{
    CHECK_STR(render("a{{! a comment with {{ and } }}b", NULL), "ab");
    CHECK_STR(render("a{{!}}b", NULL), "ab");
    CHECK_STR(render("Hello\n{{#items}}\n- {{.}}\n{{/items}}\nBye\n", "{\"items\":[\"a\",\"b\"]}"),
              "Hello\n- a\n- b\nBye\n");
    CHECK_STR(render("  {{#t}}  \r\nx\n  {{/t}}\n", "{\"t\":true}"), "x\n");
    CHECK_STR(render("{{! note }}\nline\n", NULL), "line\n");
    CHECK_STR(render("line\n{{^t}}\nnone\n{{/t}}", "{}"), "line\nnone\n");
    /* not standalone: other text or a variable on the line */
    CHECK_STR(render("a {{#t}}\nx{{/t}} b\n", "{\"t\":true}"), "a \nx b\n");
    CHECK_STR(render("{{v}}\n", "{\"v\":\"1\"}"), "1\n");
    CHECK_STR(render("{{v}} {{#t}}\n{{/t}}", "{\"v\":\"1\",\"t\":true}"), "1 \n");
    /* the example of docs/notifications.md */
    const char *doc = "Your order:\n{{#items}}\n- {{qty}} × {{name}}\n{{/items}}\n"
                      "{{^items}}\n(empty)\n{{/items}}\n";
    CHECK_STR(
        render(doc, "{\"items\":[{\"qty\":2,\"name\":\"tea\"},{\"qty\":1,\"name\":\"cake\"}]}"),
        "Your order:\n- 2 × tea\n- 1 × cake\n");
    CHECK_STR(render(doc, "{\"items\":[]}"), "Your order:\n(empty)\n");
}

TEST(injection_renders_literally)
{
    const char *p = "{\"v\":\"{{x}}{{#s}}boom{{/s}}{{{x}}}{{>p}}\",\"x\":\"SECRET\",\"s\":true}";
    CHECK_STR(render("{{v}}", p), "{{x}}{{#s}}boom{{/s}}{{{x}}}{{>p}}");
    CHECK_STR(render("{{{v}}}", p), "{{x}}{{#s}}boom{{/s}}{{{x}}}{{>p}}");
    CHECK_STR(render_html("{{v}}", "{\"v\":\"<script>alert('x')</script>\"}"),
              "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;");
}

TEST(utf8_passes_through)
{
    CHECK_STR(render("你好，{{name}} 🎉 é", "{\"name\":\"王小明 😀\"}"), "你好，王小明 😀 🎉 é");
    CHECK_STR(render_html("{{name}}", "{\"name\":\"Zoë <ü>\"}"), "Zoë &lt;ü&gt;");
}

TEST(output_limit)
{
    const char *p = "{\"v\":\"abcdef\",\"amp\":\"&&&\"}";
    CHECK_STR(render_max("{{v}}", p, TPL_ESCAPE_NONE, 6), "abcdef");
    CHECK(render_max("{{v}}", p, TPL_ESCAPE_NONE, 5) == NULL);
    CHECK_INT(last_rc, ERR_TOOBIG);
    CHECK(render_max("xyz", NULL, TPL_ESCAPE_NONE, 2) == NULL);
    CHECK_INT(last_rc, ERR_TOOBIG);
    CHECK_STR(render_max("{{amp}}", p, TPL_ESCAPE_HTML, 15), "&amp;&amp;&amp;");
    CHECK(render_max("{{amp}}", p, TPL_ESCAPE_HTML, 14) == NULL);
    CHECK_INT(last_rc, ERR_TOOBIG);
    CHECK_STR(render_max("", NULL, TPL_ESCAPE_NONE, 0), "");

    /* the bound counts from out's length at the call */
    struct tpl *t = NULL;
    CHECK_INT(tpl_compile("12345", 5, &t, NULL), 0);
    struct buf out = BUF_INIT;
    buf_puts(&out, "prefix");
    CHECK_INT(tpl_render(t, NULL, TPL_ESCAPE_NONE, 5, &out), 0);
    CHECK_STR(out.data, "prefix12345");
    CHECK_INT(tpl_render(t, NULL, TPL_ESCAPE_NONE, 4, &out), ERR_TOOBIG);
    CHECK(out.len <= strlen("prefix12345") + 4);
    buf_release(&out);
    tpl_free(t);

    /* a big array multiplies the body: still bounded */
    struct buf big = BUF_INIT;
    buf_puts(&big, "{\"a\":[");
    for (int i = 0; i < 1000; i++)
        buf_puts(&big, i ? ",1" : "1");
    buf_puts(&big, "]}");
    CHECK(render_max("{{#a}}0123456789{{/a}}", big.data, TPL_ESCAPE_NONE, 9999) == NULL);
    CHECK_INT(last_rc, ERR_TOOBIG);
    const char *ok = render_max("{{#a}}0123456789{{/a}}", big.data, TPL_ESCAPE_NONE, 10000);
    CHECK(ok != NULL && strlen(ok) == 10000);
    /* nested loops writing nothing stop at the step bound */
    CHECK(render_max("{{#a}}{{#a}}{{#a}}{{#a}}{{/a}}{{/a}}{{/a}}{{/a}}", big.data, TPL_ESCAPE_NONE,
                     10) == NULL);
    CHECK_INT(last_rc, ERR_TOOBIG);
    buf_release(&big);

    /* lookups in a large object are work too: 1000 passes x 20001 members compared */
    struct buf wide = BUF_INIT;
    buf_puts(&wide, "{\"a\":[");
    for (int i = 0; i < 1000; i++)
        buf_puts(&wide, i ? ",1" : "1");
    buf_puts(&wide, "]");
    for (int i = 0; i < 20000; i++)
        buf_printf(&wide, ",\"k%d\":%d", i, i);
    buf_puts(&wide, "}");
    CHECK_STR(render_max("{{k19999}}", wide.data, TPL_ESCAPE_NONE, 10), "19999");
    CHECK(render_max("{{#a}}{{missing}}{{/a}}", wide.data, TPL_ESCAPE_NONE, 10) == NULL);
    CHECK_INT(last_rc, ERR_TOOBIG);
    buf_release(&wide);
}

static void expect_error(const char *src, size_t off, unsigned line, unsigned col, const char *msg)
{
    struct tpl *t = (struct tpl *)1;
    int rc = tpl_compile(src, strlen(src), &t, &terr);
    if (rc != ERR_INVAL)
        fprintf(stderr, "  template: %s\n", src);
    CHECK_INT(rc, ERR_INVAL);
    CHECK(t == NULL);
    CHECK_INT(terr.offset, off);
    CHECK_INT(terr.line, line);
    CHECK_INT(terr.col, col);
    CHECK_STR(terr.message, msg);
    struct tpl_error e2;
    CHECK_INT(tpl_check(src, strlen(src), &e2), ERR_INVAL);
    CHECK_INT(e2.offset, off);
    CHECK_INT(tpl_check(src, strlen(src), NULL), ERR_INVAL);
}

TEST(errors_with_positions)
{
    expect_error("Hi {{name", 3, 1, 4, "unclosed tag: \"{{\" without \"}}\"");
    expect_error("a\nb\n  {{", 6, 3, 3, "unclosed tag: \"{{\" without \"}}\"");
    expect_error("x\n{{#items}}\n{{.}}\n", 2, 2, 1, "unclosed section \"items\"");
    expect_error("{{#a}}{{#b}}{{/b}}", 0, 1, 1, "unclosed section \"a\"");
    expect_error("{{#a}}x{{/b}}", 7, 1, 8, "closing tag \"b\" does not match open section \"a\"");
    expect_error("ab\n {{/a}}", 4, 2, 2, "closing tag \"a\" without an open section");
    expect_error("Hi {{}}", 3, 1, 4, "empty name in tag");
    expect_error("Hi {{  }}", 3, 1, 4, "empty name in tag");
    expect_error("{{#}}{{/}}", 0, 1, 1, "empty name in tag");
    expect_error("{{{ }}}", 0, 1, 1, "empty name in tag");
    expect_error("{{& }}", 0, 1, 1, "empty name in tag");
    expect_error("é {{na me}}", 7, 1, 7, "bad character ' ' in name");
    expect_error("{{a}}\n{{b!c}}", 9, 2, 4, "bad character '!' in name");
    expect_error("{{ nom\xc3\xa9 }}", 6, 1, 7,
                 "bad character in name (names are letters, digits, _ and -)");
    expect_error("{{a..b}}", 2, 1, 3, "empty part in dotted name \"a..b\"");
    expect_error("{{.a}}", 2, 1, 3, "empty part in dotted name \".a\"");
    expect_error("{{#a.}}{{/a.}}", 3, 1, 4, "empty part in dotted name \"a.\"");
    expect_error("x {{{v}} y", 2, 1, 3, "\"{{{\" closed by \"}}\" instead of \"}}}\"");
    expect_error("{{{v}}", 0, 1, 1, "\"{{{\" closed by \"}}\" instead of \"}}}\"");
    expect_error("a {{>footer}}", 2, 1, 3, "partials ({{>name}}) are not supported");
    expect_error("{{=<% %>=}}", 0, 1, 1, "delimiter changes ({{=…=}}) are not supported");
    expect_error("{{<parent}}{{/parent}}", 0, 1, 1,
                 "blocks and parents ({{<…}}) are not supported");
    expect_error("{{$block}}{{/block}}", 0, 1, 1, "blocks and parents ({{$…}}) are not supported");

    /* depth: TPL_MAX_DEPTH nested sections compile, one more does not */
    struct buf s = BUF_INIT;
    for (int i = 0; i < TPL_MAX_DEPTH; i++)
        buf_puts(&s, "{{#a}}");
    for (int i = 0; i < TPL_MAX_DEPTH; i++)
        buf_puts(&s, "{{/a}}");
    CHECK_INT(tpl_check(s.data, s.len, NULL), 0);
    CHECK_STR(render(s.data, "{\"a\":{\"v\":1}}"), "");
    buf_clear(&s);
    for (int i = 0; i <= TPL_MAX_DEPTH; i++)
        buf_puts(&s, "{{#a}}");
    expect_error(s.data, 6 * TPL_MAX_DEPTH, 1, 6 * TPL_MAX_DEPTH + 1,
                 "sections nested deeper than 16");
    buf_release(&s);

    /* a name of 128 bytes is fine, 129 is not */
    char name[160];
    memset(name, 'n', sizeof(name));
    char src[200];
    snprintf(src, sizeof(src), "{{%.*s}}", 128, name);
    CHECK_INT(tpl_check(src, strlen(src), NULL), 0);
    snprintf(src, sizeof(src), "{{%.*s}}", 129, name);
    expect_error(src, 2, 1, 3, "name longer than 128 bytes");
}

TEST(source_limit)
{
    size_t n = TPL_MAX_SOURCE + 1;
    char *s = malloc(n);
    memset(s, 'x', n);
    struct tpl *t = NULL;
    CHECK_INT(tpl_compile(s, n, &t, &terr), ERR_TOOBIG);
    CHECK(t == NULL);
    CHECK_STR(terr.message, "template longer than 65536 bytes");
    CHECK_INT(tpl_compile(s, n - 1, &t, &terr), 0);
    CHECK(t != NULL);
    tpl_free(t);
    tpl_free(NULL);
    free(s);
}

TEST(compiled_template_is_reusable)
{
    const char *src = "{{#u}}{{n}} {{/u}}";
    struct tpl *t = NULL;
    CHECK_INT(tpl_compile(src, strlen(src), &t, NULL), 0);
    cJSON *a = cJSON_Parse("{\"u\":[{\"n\":\"a\"},{\"n\":\"b\"}]}");
    cJSON *b = cJSON_Parse("{\"u\":{\"n\":\"<c>\"}}");
    struct buf out = BUF_INIT;
    CHECK_INT(tpl_render(t, a, TPL_ESCAPE_NONE, 100, &out), 0);
    CHECK_INT(tpl_render(t, b, TPL_ESCAPE_HTML, 100, &out), 0);
    CHECK_INT(tpl_render(t, NULL, TPL_ESCAPE_HTML, 100, &out), 0);
    CHECK_STR(out.data, "a b &lt;c&gt; ");
    buf_release(&out);
    cJSON_Delete(a);
    cJSON_Delete(b);
    tpl_free(t);
}

int main(void)
{
    RUN(plain_text_and_variables);
    RUN(values_formatting);
    RUN(escaping_both_modes);
    RUN(sections_truthy_and_falsy);
    RUN(sections_objects_and_arrays);
    RUN(dotted_names);
    RUN(comments_and_standalone_lines);
    RUN(injection_renders_literally);
    RUN(utf8_passes_through);
    RUN(output_limit);
    RUN(errors_with_positions);
    RUN(source_limit);
    RUN(compiled_template_is_reusable);
    return test_summary();
}
