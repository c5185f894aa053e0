/*
 * The strict JSON check (core/json_check): the RFC 8259 grammar, UTF-8 (overlongs, surrogates,
 * out of range), raw control characters, repeated keys (also through escapes, also in large
 * objects), the depth limit, and \u0000 reported with the path of its value.
 */
#include "test.h"

#include <stdlib.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/json_check.h"

static struct json_check_result res;

static int check(const char *s)
{
    return json_check(s, strlen(s), 0, &res);
}

static int check_n(const char *s, size_t n)
{
    return json_check(s, n, 0, &res);
}

TEST(valid_texts)
{
    static const char *const ok[] = {
        "{}",
        "[]",
        " {\"a\": [1, -0, 0.5, -1.25e+10, 3E-2, true, false, null, \"x\"]} \r\n",
        "\"just a string\"",
        "0",
        "-12",
        "{\"a\":{\"a\":{\"a\":1}},\"b\":{\"a\":2}}",
        "{\"e\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\"}",
        "{\"\xc3\xa9\":\"\xe2\x82\xac\xf0\x9f\x98\x80\xef\xbf\xbf\xf4\x8f\xbf\xbf\"}",
        "[{\"a\":1},{\"a\":1}]", /* the same key in two objects */
        NULL,
    };
    for (int i = 0; ok[i]; i++) {
        int rc = check(ok[i]);
        if (rc != 0)
            fprintf(stderr, "  case %d: %s (%s)\n", i, ok[i], res.message);
        CHECK_INT(rc, 0);
        CHECK_INT(res.kind, JSON_CHECK_OK);
    }
}

TEST(syntax_errors)
{
    static const char *const bad[] = {
        "",
        "   ",
        "{",
        "{\"a\"}",
        "{\"a\":}",
        "{\"a\":1,}",
        "[1,]",
        "[1 2]",
        "{a:1}",
        "{'a':1}",
        "01",
        "1.",
        ".5",
        "1e",
        "+1",
        "-",
        "NaN",
        "Infinity",
        "tru",
        "nul",
        "{\"a\":1} x",
        "{\"a\":1}{}",
        "\"\\x\"",
        "\"\\u12\"",
        "\"\\u12g4\"",
        "\"abc",
        "\xef\xbb\xbf{}", /* a byte order mark */
        "/* c */ {}",
        NULL,
    };
    for (int i = 0; bad[i]; i++) {
        int rc = check(bad[i]);
        if (rc != ERR_JSON)
            fprintf(stderr, "  case %d: %s\n", i, bad[i]);
        CHECK_INT(rc, ERR_JSON);
        CHECK_INT(res.kind, JSON_CHECK_SYNTAX);
        CHECK(res.message[0] != '\0');
    }
    CHECK_INT(check("{\"a\":1} x"), ERR_JSON);
    CHECK_INT(res.offset, 8);
    CHECK_STR(res.message, "text after the value at byte 8");
}

TEST(raw_control_and_nul_bytes)
{
    CHECK_INT(check_n("{\"id\":\"a\0b\"}", 12), ERR_JSON);
    CHECK_INT(res.kind, JSON_CHECK_CONTROL);
    CHECK_STR(res.path, "id");
    CHECK_INT(res.offset, 8);
    CHECK_INT(check("[\"a\tb\"]"), ERR_JSON);
    CHECK_INT(res.kind, JSON_CHECK_CONTROL);
    CHECK_STR(res.path, "[0]");
    CHECK_INT(check("{\"a\nb\":1}"), ERR_JSON);
    CHECK_INT(res.kind, JSON_CHECK_CONTROL);
    CHECK_INT(check("\"\x1f\""), ERR_JSON);
    CHECK_INT(check("\"\x7f\""), 0); /* DEL is not a control character in JSON */
    CHECK_INT(check_n("{}\0", 3), ERR_JSON);
    CHECK_INT(res.kind, JSON_CHECK_SYNTAX);
}

TEST(utf8)
{
    static const char *const bad[] = {
        "\"\xff\"",
        "\"\x80\"",             /* a lone continuation byte */
        "\"\xc3\"",             /* cut short */
        "\"\xc3x\"",            /* not continued */
        "\"\xc0\xaf\"",         /* overlong '/' */
        "\"\xc1\xbf\"",         /* overlong */
        "\"\xe0\x80\xaf\"",     /* overlong, 3 bytes */
        "\"\xe0\x9f\xbf\"",     /* overlong U+07FF */
        "\"\xf0\x80\x80\xaf\"", /* overlong, 4 bytes */
        "\"\xf0\x8f\xbf\xbf\"", /* overlong U+FFFF */
        "\"\xed\xa0\x80\"",     /* U+D800 encoded */
        "\"\xed\xbf\xbf\"",     /* U+DFFF encoded */
        "\"\xf4\x90\x80\x80\"", /* U+110000 */
        "\"\xf5\x80\x80\x80\"",
        "\"\\ud800\"",        /* a lone high surrogate escape */
        "\"\\udc00\"",        /* a lone low surrogate escape */
        "\"\\ud800\\u0041\"", /* high + not low */
        "\"\\ud800x\"",
        "{\"\xff\":1}", /* in a key */
        NULL,
    };
    for (int i = 0; bad[i]; i++) {
        int rc = check(bad[i]);
        if (rc != ERR_JSON || res.kind != JSON_CHECK_UTF8)
            fprintf(stderr, "  case %d: kind %d\n", i, res.kind);
        CHECK_INT(rc, ERR_JSON);
        CHECK_INT(res.kind, JSON_CHECK_UTF8);
    }
    CHECK_INT(check("{\"name\":\"ok\",\"x\":[1,\"\xc0\xaf\"]}"), ERR_JSON);
    CHECK_STR(res.path, "x[1]");
    CHECK(json_utf8_is_valid("caf\xc3\xa9 \xf0\x9f\x98\x80", 10));
    CHECK(!json_utf8_is_valid("\xc0\xaf", 2));
    CHECK(!json_utf8_is_valid("\xed\xa0\x80", 3));
    CHECK(!json_utf8_is_valid("a\0b", 3));
    CHECK(json_utf8_is_valid("", 0));
}

TEST(duplicate_keys)
{
    CHECK_INT(check("{\"contacts\":{\"email\":\"a@b.co\",\"email\":\"<script>\"}}"), ERR_JSON);
    CHECK_INT(res.kind, JSON_CHECK_DUPLICATE);
    CHECK_STR(res.path, "contacts.email");
    CHECK_STR(res.message, "duplicate key \"email\"");
    CHECK_INT(res.offset, 30);
    /* through escapes: "\u0061" is "a" */
    CHECK_INT(check("{\"a\":1,\"\\u0061\":2}"), ERR_JSON);
    CHECK_INT(res.kind, JSON_CHECK_DUPLICATE);
    CHECK_STR(res.path, "a");
    /* in an array element */
    CHECK_INT(check("{\"users\":[{\"id\":\"x\"},{\"id\":\"y\",\"id\":\"z\"}]}"), ERR_JSON);
    CHECK_STR(res.path, "users[1].id");
    /* a prefix is not a repeat; nested objects do not clash with their parents */
    CHECK_INT(check("{\"a\":1,\"ab\":2,\"b\":{\"a\":1,\"b\":2},\"c\":{\"a\":{}}}"), 0);
    /* the first repeat in the text is the one reported */
    CHECK_INT(check("{\"z\":1,\"a\":1,\"z\":2,\"a\":2}"), ERR_JSON);
    CHECK_STR(res.path, "z");
    /* the same past the small-object path (more than 8 members) */
    CHECK_INT(check("{\"k1\":1,\"k2\":1,\"z\":1,\"k3\":1,\"a\":1,\"k4\":1,\"k5\":1,\"k6\":1,"
                    "\"k7\":1,\"z\":2,\"a\":2}"),
              ERR_JSON);
    CHECK_STR(res.path, "z");
    CHECK_INT(res.offset, 62);
    /* a large object: keys past the inline buffers */
    struct buf b = BUF_INIT;
    buf_putc(&b, '{');
    for (int i = 0; i < 5000; i++)
        buf_printf(&b, "%s\"key-%d-with-some-length\":%d", i ? "," : "", i, i);
    buf_puts(&b, "}");
    CHECK_INT(check_n(b.data, b.len), 0);
    b.len--;
    buf_puts(&b, ",\"key-4321-with-some-length\":1}");
    CHECK_INT(check_n(b.data, b.len), ERR_JSON);
    CHECK_INT(res.kind, JSON_CHECK_DUPLICATE);
    CHECK_STR(res.path, "key-4321-with-some-length");
    buf_release(&b);
}

TEST(escaped_nul_reports_path)
{
    CHECK_INT(check("{\"id\":\"x\",\"name\":\"a\\u0000b\"}"), ERR_INVAL);
    CHECK_INT(res.kind, JSON_CHECK_NUL);
    CHECK_STR(res.path, "name");
    CHECK_STR(res.message, "must not contain \\u0000");
    CHECK_INT(check("{\"contacts\":{\"email\":\"\\u0000\"}}"), ERR_INVAL);
    CHECK_STR(res.path, "contacts.email");
    CHECK_INT(check("[{\"id\":\"a\"},{\"metadata\":{\"k\":[\"\\u0000\"]}}]"), ERR_INVAL);
    CHECK_STR(res.path, "[1].metadata.k[0]");
    /* in a key: the object holding it */
    CHECK_INT(check("{\"m\":{\"a\\u0000\":1}}"), ERR_INVAL);
    CHECK_STR(res.path, "m");
    /* a syntax error after it wins: the text is not JSON at all */
    CHECK_INT(check("{\"a\":\"\\u0000\",}"), ERR_JSON);
    CHECK_INT(res.kind, JSON_CHECK_SYNTAX);
    /* so does a repeated key */
    CHECK_INT(check("{\"a\":\"\\u0000\",\"a\":1}"), ERR_JSON);
    CHECK_INT(res.kind, JSON_CHECK_DUPLICATE);
    /* \u0001 and friends are fine once escaped */
    CHECK_INT(check("\"\\u0001\\u001f\""), 0);
}

TEST(numbers_too_large_for_a_double_report_path)
{
    CHECK_INT(check("{\"metadata\":{\"a\":[1,1e999]}}"), ERR_INVAL);
    CHECK_INT(res.kind, JSON_CHECK_RANGE);
    CHECK_STR(res.path, "metadata.a[1]");
    CHECK_STR(res.message, "is a number too large to store");
    CHECK_INT(check("-1E+400"), ERR_INVAL);
    CHECK_INT(check("1e308"), 0);
    CHECK_INT(check("1e-999"), 0); /* underflows to 0: nothing is lost a client would notice */
    CHECK_INT(check("123456789012345678901234567890"), 0);
    struct buf b = BUF_INIT; /* 400 digits without an exponent: more than a double holds */
    for (int i = 0; i < 400; i++)
        buf_putc(&b, '9');
    CHECK_INT(check(b.data), ERR_INVAL);
    CHECK_INT(res.kind, JSON_CHECK_RANGE);
    buf_release(&b);
    /* a syntax error after it wins */
    CHECK_INT(check("[1e999,]"), ERR_JSON);
}

TEST(depth_limit)
{
    char deep[300];
    for (int d = 1; d <= 130; d++) {
        size_t n = 0;
        for (int i = 0; i < d; i++)
            deep[n++] = '[';
        for (int i = 0; i < d; i++)
            deep[n++] = ']';
        int rc = json_check(deep, n, 0, &res);
        CHECK_INT(rc, d <= JSON_CHECK_DEPTH ? 0 : ERR_JSON);
        if (d > JSON_CHECK_DEPTH)
            CHECK_INT(res.kind, JSON_CHECK_DEPTH_HIT);
        rc = json_check(deep, n, 3, &res);
        CHECK_INT(rc, d <= 3 ? 0 : ERR_JSON);
        rc = json_check(deep, n, 1000, &res); /* capped at JSON_CHECK_DEPTH_MAX */
        CHECK_INT(rc, d <= JSON_CHECK_DEPTH_MAX ? 0 : ERR_JSON);
    }
    CHECK_INT(json_check("{\"a\":{\"b\":[{}]}}", 16, 3, &res), ERR_JSON);
    CHECK_STR(res.path, "a.b[0]");
}

TEST(long_paths_are_cut_on_characters)
{
    struct buf b = BUF_INIT;
    buf_putc(&b, '{');
    buf_putc(&b, '"');
    for (int i = 0; i < 100; i++)
        buf_puts(&b, "\xe2\x82\xac"); /* 300 bytes of euro signs */
    buf_puts(&b, "\":\"\\u0000\"}");
    CHECK_INT(check_n(b.data, b.len), ERR_INVAL);
    size_t n = strlen(res.path);
    CHECK(n <= JSON_CHECK_PATH_MAX - 1);
    CHECK(n % 3 == 0);
    CHECK(json_utf8_is_valid(res.path, n));
    buf_release(&b);
    /* a repeated long key: the message quotes 64 bytes of it, cut on a character */
    struct buf k = BUF_INIT;
    buf_puts(&k, "{\"");
    for (int i = 0; i < 30; i++)
        buf_puts(&k, "ab\xe2\x82\xac"); /* 5 bytes a time: byte 64 falls inside a euro sign */
    buf_puts(&k, "\":1,\"");
    for (int i = 0; i < 30; i++)
        buf_puts(&k, "ab\xe2\x82\xac");
    buf_puts(&k, "\":2}");
    CHECK_INT(check_n(k.data, k.len), ERR_JSON);
    CHECK_INT(res.kind, JSON_CHECK_DUPLICATE);
    CHECK(json_utf8_is_valid(res.message, strlen(res.message)));
    CHECK(json_utf8_is_valid(res.path, strlen(res.path)));
    buf_release(&k);
    CHECK_INT(json_check("{}", 2, 0, NULL), 0); /* out may be NULL */
}

int main(void)
{
    RUN(valid_texts);
    RUN(syntax_errors);
    RUN(raw_control_and_nul_bytes);
    RUN(utf8);
    RUN(duplicate_keys);
    RUN(escaped_nul_reports_path);
    RUN(numbers_too_large_for_a_double_report_path);
    RUN(depth_limit);
    RUN(long_paths_are_cut_on_characters);
    return test_summary();
}
