/*
 * Core helpers: the byte buffer and its JSON string escaping, percent-decoding
 * and query lookup, the mapping of errors to HTTP statuses and error codes.
 */
#include "test.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/rand.h"
#include "core/url.h"

TEST(buf_basics)
{
    struct buf b = BUF_INIT;
    buf_puts(&b, "abc");
    buf_printf(&b, "-%d-%s", 42, "x");
    CHECK_STR(b.data, "abc-42-x");
    CHECK_INT(b.len, 8);
    buf_clear(&b);
    CHECK_INT(b.len, 0);
    CHECK_STR(b.data, "");
    for (int i = 0; i < 1000; i++)
        buf_printf(&b, "%04d", i);
    CHECK_INT(b.len, 4000);
    size_t len;
    char *d = buf_detach(&b, &len);
    CHECK_INT(len, 4000);
    CHECK(b.data == NULL && b.len == 0);
    free(d);
    d = buf_detach(&b, &len);
    CHECK(d != NULL && len == 0 && d[0] == '\0');
    free(d);
    buf_release(&b);
}

TEST(json_escape_roundtrip)
{
    const char *inputs[] = {"plain", "quote\" back\\slash", "ctl\x01\x1f\n\r\t\b\f", "你好 🎉", ""};
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        struct buf b = BUF_INIT;
        buf_json_str(&b, inputs[i]);
        cJSON *j = cJSON_Parse(b.data);
        CHECK(j != NULL && cJSON_IsString(j));
        if (j)
            CHECK_STR(j->valuestring, inputs[i]);
        cJSON_Delete(j);
        buf_release(&b);
    }
    struct buf b = BUF_INIT;
    buf_json_str(&b, "\x01");
    CHECK_STR(b.data, "\"\\u0001\"");
    buf_release(&b);
}

TEST(url_decode_cases)
{
    char out[64];
    CHECK_INT(url_decode("a%20b", 5, out, false), 3);
    CHECK_STR(out, "a b");
    CHECK_INT(url_decode("a+b", 3, out, true), 3);
    CHECK_STR(out, "a b");
    CHECK_INT(url_decode("a+b", 3, out, false), 3);
    CHECK_STR(out, "a+b");
    CHECK_INT(url_decode("%e4%BD%a0", 9, out, false), 3);
    CHECK_STR(out, "你");
    CHECK_INT(url_decode("%", 1, out, false), -1);
    CHECK_INT(url_decode("%2", 2, out, false), -1);
    CHECK_INT(url_decode("%zz", 3, out, false), -1);
    CHECK_INT(url_decode("%00", 3, out, false), -1);
    CHECK_INT(url_decode("ab%41", 5, out, false), 3);
    CHECK_STR(out, "abA");
}

TEST(query_lookup)
{
    char out[16];
    CHECK_INT(url_query_get("a=1&token=x%2By&b", "token", out, sizeof(out)), 3);
    CHECK_STR(out, "x+y");
    CHECK_INT(url_query_get("a=1&token=x%2By&b", "b", out, sizeof(out)), 0);
    CHECK_STR(out, "");
    CHECK_INT(url_query_get("a=1", "tok", out, sizeof(out)), -1);
    CHECK_INT(url_query_get("", "a", out, sizeof(out)), -1);
    CHECK_INT(url_query_get("a=0123456789abcdefghij", "a", out, sizeof(out)), -1);
    CHECK_INT(url_query_get("aa=1&a=2", "a", out, sizeof(out)), 1);
    CHECK_STR(out, "2");
}

TEST(err_mapping)
{
    CHECK_INT(err_http_status(ERR_NOTFOUND), 404);
    CHECK_STR(err_code(ERR_NOTFOUND), "not_found");
    CHECK_INT(err_http_status(ERR_INVAL), 422);
    CHECK_STR(err_code(ERR_INVAL), "validation_failed");
    CHECK_INT(err_http_status(ERR_JSON), 400);
    CHECK_STR(err_code(ERR_JSON), "invalid_json");
    /* back-pressure is the server's state, not the client's fault nor a rate limit */
    CHECK_INT(err_http_status(ERR_AGAIN), 503);
    CHECK_STR(err_code(ERR_AGAIN), "unavailable");
    CHECK_INT(err_retry_after(ERR_AGAIN), 1);
    CHECK_INT(err_retry_after(ERR_UNAVAIL), 0);
    CHECK_INT(err_retry_after(ERR_INVAL), 0);
    CHECK_INT(err_http_status(ERR_BACKEND), 500);
    CHECK_INT(err_http_status(ERR_TOOBIG), 413);
    CHECK_INT(err_http_status(ERR_UNAUTH), 401);
    CHECK_INT(err_http_status(ERR_DENIED), 403);
    CHECK_INT(err_http_status(ERR_EXISTS), 409);
    CHECK_INT(err_http_status(ERR_UNAVAIL), 503);
    CHECK_INT(err_http_status(ERR_IO), 500);
}

TEST(rand_hex_ids)
{
    char a[33], b[33];
    rand_hex(a, 16);
    rand_hex(b, 16);
    CHECK_INT(strlen(a), 32);
    CHECK(strcmp(a, b) != 0);
    for (int i = 0; i < 32; i++)
        CHECK((a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'f'));
}

int main(void)
{
    RUN(buf_basics);
    RUN(json_escape_roundtrip);
    RUN(url_decode_cases);
    RUN(query_lookup);
    RUN(err_mapping);
    RUN(rand_hex_ids);
    return test_summary();
}
