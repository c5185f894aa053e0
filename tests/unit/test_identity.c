/*
 * Unit tests of src/identity/: user id rules and user body validation (the
 * JSON path named in each error), without a server or a store.
 */
#include "test.h"

#include <string.h>

#include <cjson/cJSON.h>

#include "core/err.h"
#include "identity/internal.h"

/* Parses json in mode with path prefix; returns the rc and copies the error field to field. */
static int parse(const char *json, enum user_mode mode, const char *prefix, char *field,
                 size_t fieldlen)
{
    cJSON *v = cJSON_Parse(json);
    struct user_fields f;
    struct kit_error err;
    field[0] = '\0';
    int rc = identity__user_fields_parse(v, mode, prefix, &f, &err);
    if (rc != 0)
        snprintf(field, fieldlen, "%s", err.field);
    if (rc != 0 && err.message == NULL)
        rc = 999;
    identity__user_fields_release(&f);
    cJSON_Delete(v);
    return rc;
}

TEST(user_ids)
{
    CHECK(kit_id_is_valid("b1"));
    CHECK(kit_id_is_valid("A-z_0.9@x:y"));
    char max[65];
    memset(max, 'a', 64);
    max[64] = '\0';
    CHECK(kit_id_is_valid(max));
    char over[66];
    memset(over, 'a', 65);
    over[65] = '\0';
    CHECK(!kit_id_is_valid(over));
    CHECK(!kit_id_is_valid(""));
    CHECK(!kit_id_is_valid("a b"));
    CHECK(!kit_id_is_valid("a/b"));
    CHECK(!kit_id_is_valid("é"));
}

TEST(fields)
{
    char field[160];
    CHECK_INT(parse("{\"id\":\"b1\",\"name\":\"Bob\",\"contacts\":{\"email\":\"a@b.co\"},"
                    "\"metadata\":{\"x\":[1]},\"disabled\":true}",
                    USER_CREATE, "", field, sizeof(field)),
              0);
    CHECK_INT(parse("{\"name\":\"x\"}", USER_CREATE, "", field, sizeof(field)), ERR_INVAL);
    CHECK_STR(field, "id");
    CHECK_INT(parse("{\"name\":\"x\"}", USER_PATCH, "", field, sizeof(field)), 0);
    CHECK_INT(parse("{\"id\":\"x\"}", USER_PATCH, "", field, sizeof(field)), ERR_INVAL);
    CHECK_STR(field, "id");
    CHECK_INT(parse("{\"password_hash\":\"x\"}", USER_PATCH, "", field, sizeof(field)), ERR_INVAL);
    CHECK_STR(field, "password_hash");
    CHECK_INT(parse("{\"id\":\"a\",\"contacts\":{\"phone\":1}}", USER_CREATE, "users[3]", field,
                    sizeof(field)),
              ERR_INVAL);
    CHECK_STR(field, "users[3].contacts.phone");
    CHECK_INT(parse("[1]", USER_CREATE, "", field, sizeof(field)), ERR_INVAL);
    CHECK_INT(parse("{\"id\":\"a\",\"kind\":\"123456789012345678901234567890123\"}", USER_CREATE,
                    "", field, sizeof(field)),
              ERR_INVAL);
    CHECK_STR(field, "kind");
    /* the one e-mail rule */
    CHECK_INT(parse("{\"id\":\"a\",\"contacts\":{\"phone\":\"1\",\"email\":\"a@b\"}}", USER_CREATE,
                    "users[2]", field, sizeof(field)),
              ERR_INVAL);
    CHECK_STR(field, "users[2].contacts.email");
    CHECK_INT(
        parse("{\"contacts\":{\"email\":\"x y@b.co\"}}", USER_PATCH, "", field, sizeof(field)),
        ERR_INVAL);
    CHECK_STR(field, "contacts.email");
    /* 128 two-byte characters are within the name limit */
    char big[600];
    strcpy(big, "{\"id\":\"a\",\"name\":\"");
    for (int i = 0; i < 128; i++)
        strcat(big, "\xc3\xa9");
    strcat(big, "\"}");
    CHECK_INT(parse(big, USER_CREATE, "", field, sizeof(field)), 0);
}

TEST(email_rule)
{
    static const char *const good[] = {"a@b.co", "first.last+tag@sub.example.org",
                                       "\xe7\x94\xa8@\xe4\xbe\x8b.\xe4\xb8\xad", NULL};
    static const char *const bad[] = {"",         "a@b",        "@b.co", "a@.co",
                                      "a b@c.co", "a@b.",       "ab",    "a@b.co@d.co",
                                      "a\t@b.co", "a@b\x7f.co", NULL};
    for (int i = 0; good[i]; i++)
        CHECK(kit_email_is_valid(good[i]));
    for (int i = 0; bad[i]; i++)
        CHECK(!kit_email_is_valid(bad[i]));
    char longest[300];
    memset(longest, 'x', 254);
    memcpy(longest + 254 - 5, "@b.co", 6);
    CHECK(kit_email_is_valid(longest));
    memset(longest, 'x', 255);
    memcpy(longest + 255 - 5, "@b.co", 6);
    CHECK(!kit_email_is_valid(longest));
}

int main(void)
{
    RUN(user_ids);
    RUN(fields);
    RUN(email_rule);
    return test_summary();
}
