/*
 * The request kit's JSON decoder (kit/decode.h): members bound to a struct from a table, the
 * exact JSON path of the first refused member through nested objects and arrays, unknown
 * members refused or accepted as the table says, sizes in characters or bytes, wrong types,
 * \u0000 inside strings, and the SPEC's id, name and e-mail rules.
 */
#include "test.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/err.h"
#include "kit/decode.h"

struct person {
    const char *id, *name, *nick, *email, *code;
    int64_t age;
    int admin;
    const cJSON *contacts, *meta, *any;
    struct kit_array tags, friends;
};

static const struct kit_field contact_rest = {.name = "", .kind = KIT_STRING, .max = 8};
static const struct kit_field contact_fields[] = {
    {.name = "email", .kind = KIT_EMAIL, .at = KIT_AT(struct person, email)},
    {.name = NULL},
};
static const struct kit_table contact_table = {
    .fields = contact_fields, .open = true, .rest = &contact_rest, .key_max = 6};

static const struct kit_field friend_fields[] = {
    {.name = "id", .kind = KIT_ID, .flags = KIT_REQUIRED},
    {.name = "contacts", .kind = KIT_OBJECT, .sub = &contact_table},
    {.name = NULL},
};
static const struct kit_table friend_table = {.fields = friend_fields, .open = false};
static const struct kit_field friend_elem = {.name = "", .kind = KIT_OBJECT, .sub = &friend_table};
static const struct kit_field tag_elem = {.name = "", .kind = KIT_NAME, .max = 16};

static const struct kit_field person_fields[] = {
    {.name = "id", .kind = KIT_ID, .flags = KIT_REQUIRED, .at = KIT_AT(struct person, id)},
    {.name = "name", .kind = KIT_STRING, .max = 4, .at = KIT_AT(struct person, name)},
    {.name = "nick",
     .kind = KIT_STRING,
     .flags = KIT_BYTES,
     .min = 1,
     .max = 4,
     .at = KIT_AT(struct person, nick)},
    {.name = "age", .kind = KIT_INT, .max = 150, .at = KIT_AT(struct person, age)},
    {.name = "admin", .kind = KIT_BOOL, .at = KIT_AT(struct person, admin)},
    {.name = "contacts",
     .kind = KIT_OBJECT,
     .at = KIT_AT(struct person, contacts),
     .sub = &contact_table},
    {.name = "meta", .kind = KIT_OBJECT, .max = 20, .at = KIT_AT(struct person, meta)},
    {.name = "any", .kind = KIT_JSON, .flags = KIT_NULLABLE, .at = KIT_AT(struct person, any)},
    {.name = "tags",
     .kind = KIT_ARRAY,
     .max = 3,
     .at = KIT_AT(struct person, tags),
     .elem = &tag_elem},
    {.name = "friends",
     .kind = KIT_ARRAY,
     .max = 10,
     .at = KIT_AT(struct person, friends),
     .elem = &friend_elem},
    {.name = "role", .kind = KIT_STRING, .flags = KIT_REFUSED},
    {.name = NULL},
};
static const struct kit_table person_table = {.fields = person_fields, .open = false};
static const struct kit_table person_open = {.fields = person_fields, .open = true};
static const struct kit_table person_fixed = {.fields = person_fields,
                                              .unknown = "unknown or fixed field"};

/* Decodes text; returns the status, the path in field and the message in *msg. */
static int decode(const char *text, const struct kit_table *t, struct person *p, char *field,
                  const char **msg)
{
    struct kit_error err;
    cJSON *root = NULL;
    memset(p, 0x5a, sizeof(*p));
    int rc = kit_decode_text(text, strlen(text), t, p, &err, &root);
    snprintf(field, KIT_PATH_MAX, "%s", rc == ERR_INVAL ? err.field : "");
    static char m[160];
    snprintf(m, sizeof(m), "%s", rc == ERR_INVAL && err.message ? err.message : "");
    *msg = m;
    cJSON_Delete(root);
    return rc;
}

TEST(binds_fields)
{
    struct person p;
    struct kit_error err;
    cJSON *root = NULL;
    const char *t = "{\"id\":\"u-1\",\"name\":\"\xc3\xa9t\xc3\xa9\",\"age\":42,\"admin\":true,"
                    "\"contacts\":{\"email\":\"a@b.io\",\"tel\":\"12\"},\"tags\":[\"x\",\"y\"]}";
    CHECK_INT(kit_decode_text(t, strlen(t), &person_table, &p, &err, &root), 0);
    CHECK_STR(p.id, "u-1");
    CHECK_STR(p.name, "\xc3\xa9t\xc3\xa9");
    CHECK_INT(p.age, 42);
    CHECK_INT(p.admin, 1);
    CHECK_STR(p.email, "a@b.io");
    CHECK(cJSON_IsObject(p.contacts));
    CHECK_INT(p.tags.n, 2);
    CHECK(cJSON_IsArray(p.tags.json));
    /* absent members hold their "absent" value, never the old bytes */
    CHECK(p.nick == NULL && p.meta == NULL && p.any == NULL && p.friends.json == NULL);
    CHECK_INT(p.friends.n, 0);
    cJSON_Delete(root);
    CHECK_INT(kit_decode_text("{\"id\":\"a\"}", 10, &person_table, &p, &err, &root), 0);
    CHECK_INT(p.age, KIT_INT_ABSENT);
    CHECK_INT(p.admin, -1);
    CHECK(p.email == NULL && p.contacts == NULL);
    cJSON_Delete(root);
}

TEST(paths_nested)
{
    struct person p;
    char f[KIT_PATH_MAX];
    const char *m;
    CHECK_INT(decode("{\"id\":\"a\",\"contacts\":{\"email\":\"nope\"}}", &person_table, &p, f, &m),
              ERR_INVAL);
    CHECK_STR(f, "contacts.email");
    CHECK_STR(m, "must be an e-mail address");
    CHECK_INT(decode("{\"id\":\"a\",\"friends\":[{\"id\":\"b\"},{\"id\":\"c\"},{\"id\":\"d\"},"
                     "{\"id\":\"e\",\"contacts\":{\"email\":\"x\"}}]}",
                     &person_table, &p, f, &m),
              ERR_INVAL);
    CHECK_STR(f, "friends[3].contacts.email");
    CHECK_INT(decode("{\"id\":\"a\",\"friends\":[{\"id\":\"b\"},{\"name\":\"c\"}]}", &person_table,
                     &p, f, &m),
              ERR_INVAL);
    CHECK_STR(f, "friends[1].name");
    CHECK_STR(m, "unknown field");
    CHECK_INT(decode("{\"id\":\"a\",\"friends\":[{\"id\":\"b\"},{}]}", &person_table, &p, f, &m),
              ERR_INVAL);
    CHECK_STR(f, "friends[1].id");
    CHECK_STR(m, "is required");
    CHECK_INT(decode("{\"id\":\"a\",\"friends\":[{\"id\":\"b\"},7]}", &person_table, &p, f, &m),
              ERR_INVAL);
    CHECK_STR(f, "friends[1]");
    CHECK_INT(decode("{\"id\":\"a\",\"tags\":[\"ok\",\"no way\"]}", &person_table, &p, f, &m),
              ERR_INVAL);
    CHECK_STR(f, "tags[1]");
    /* the open contacts object: every other member must match its rest rule */
    CHECK_INT(
        decode("{\"id\":\"a\",\"contacts\":{\"tel\":\"123456789\"}}", &person_table, &p, f, &m),
        ERR_INVAL);
    CHECK_STR(f, "contacts.tel");
    CHECK_INT(decode("{\"id\":\"a\",\"contacts\":{\"tel\":5}}", &person_table, &p, f, &m),
              ERR_INVAL);
    CHECK_STR(f, "contacts.tel");
    CHECK_STR(m, "must be a string");
}

TEST(first_bad_member_in_text_order)
{
    struct person p;
    char f[KIT_PATH_MAX];
    const char *m;
    CHECK_INT(decode("{\"age\":\"x\",\"name\":7,\"id\":\"a\"}", &person_table, &p, f, &m),
              ERR_INVAL);
    CHECK_STR(f, "age");
    CHECK_INT(decode("{\"name\":7,\"age\":\"x\",\"id\":\"a\"}", &person_table, &p, f, &m),
              ERR_INVAL);
    CHECK_STR(f, "name");
    /* a missing required member is reported after every given one passed */
    CHECK_INT(decode("{\"name\":\"n\"}", &person_table, &p, f, &m), ERR_INVAL);
    CHECK_STR(f, "id");
    CHECK_STR(m, "is required");
}

TEST(unknown_fields)
{
    struct person p;
    char f[KIT_PATH_MAX];
    const char *m;
    CHECK_INT(decode("{\"id\":\"a\",\"extra\":1}", &person_table, &p, f, &m), ERR_INVAL);
    CHECK_STR(f, "extra");
    CHECK_STR(m, "unknown field");
    CHECK_INT(decode("{\"id\":\"a\",\"extra\":1}", &person_open, &p, f, &m), 0);
    CHECK_INT(decode("{\"id\":\"a\",\"extra\":1}", &person_fixed, &p, f, &m), ERR_INVAL);
    CHECK_STR(m, "unknown or fixed field");
    /* an open object's member names have a bound too */
    CHECK_INT(decode("{\"id\":\"a\",\"contacts\":{\"abcdef\":\"x\"}}", &person_table, &p, f, &m),
              0);
    CHECK_INT(decode("{\"id\":\"a\",\"contacts\":{\"abcdefg\":\"x\"}}", &person_table, &p, f, &m),
              ERR_INVAL);
    CHECK_STR(f, "contacts.abcdefg");
    /* a refused member is refused even in an open table */
    CHECK_INT(decode("{\"id\":\"a\",\"role\":\"x\"}", &person_open, &p, f, &m), ERR_INVAL);
    CHECK_STR(f, "role");
    CHECK_STR(m, "cannot be set through this endpoint");
    CHECK_INT(decode("[1]", &person_table, &p, f, &m), ERR_INVAL);
    CHECK_STR(f, "");
    CHECK_STR(m, "must be a JSON object");
}

TEST(sizes_bytes_and_characters)
{
    struct person p;
    char f[KIT_PATH_MAX];
    const char *m;
    /* name: 4 characters; 4 two-byte characters pass, 5 do not */
    CHECK_INT(decode("{\"id\":\"a\",\"name\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}", &person_table,
                     &p, f, &m),
              0);
    CHECK_INT(decode("{\"id\":\"a\",\"name\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}",
                     &person_table, &p, f, &m),
              ERR_INVAL);
    CHECK_STR(f, "name");
    CHECK_STR(m, "must be at most 4 characters");
    /* nick: 1-4 bytes; two two-byte characters pass, three do not */
    CHECK_INT(decode("{\"id\":\"a\",\"nick\":\"\xc3\xa9\xc3\xa9\"}", &person_table, &p, f, &m), 0);
    CHECK_INT(
        decode("{\"id\":\"a\",\"nick\":\"\xc3\xa9\xc3\xa9\xc3\xa9\"}", &person_table, &p, f, &m),
        ERR_INVAL);
    CHECK_STR(m, "must be 1 to 4 bytes");
    CHECK_INT(decode("{\"id\":\"a\",\"nick\":\"\"}", &person_table, &p, f, &m), ERR_INVAL);
    CHECK_STR(f, "nick");
    /* arrays: element count; objects: bytes of compact JSON (20: {"k":"0123456789abc"} is 21) */
    CHECK_INT(decode("{\"id\":\"a\",\"tags\":[\"a\",\"b\",\"c\",\"d\"]}", &person_table, &p, f, &m),
              ERR_INVAL);
    CHECK_STR(f, "tags");
    CHECK_INT(decode("{\"id\":\"a\",\"meta\":{\"k\":\"0123456789abc\"}}", &person_table, &p, f, &m),
              ERR_INVAL);
    CHECK_STR(f, "meta");
    CHECK_INT(decode("{\"id\":\"a\",\"meta\":{\"k\":\"01234\"}}", &person_table, &p, f, &m), 0);
    /* ints: range and wholeness */
    CHECK_INT(decode("{\"id\":\"a\",\"age\":151}", &person_table, &p, f, &m), ERR_INVAL);
    CHECK_INT(decode("{\"id\":\"a\",\"age\":1.5}", &person_table, &p, f, &m), ERR_INVAL);
    CHECK_INT(decode("{\"id\":\"a\",\"age\":-1}", &person_table, &p, f, &m), ERR_INVAL);
    CHECK_INT(decode("{\"id\":\"a\",\"age\":1e300}", &person_table, &p, f, &m), ERR_INVAL);
    CHECK_STR(f, "age");
    CHECK_INT(decode("{\"id\":\"a\",\"age\":150}", &person_table, &p, f, &m), 0);
}

TEST(wrong_types)
{
    struct person p;
    char f[KIT_PATH_MAX];
    const char *m;
    CHECK_INT(decode("{\"id\":5}", &person_table, &p, f, &m), ERR_INVAL);
    CHECK_STR(f, "id");
    CHECK_INT(decode("{\"id\":\"a\",\"admin\":1}", &person_table, &p, f, &m), ERR_INVAL);
    CHECK_STR(m, "must be true or false");
    CHECK_INT(decode("{\"id\":\"a\",\"contacts\":[]}", &person_table, &p, f, &m), ERR_INVAL);
    CHECK_STR(m, "must be a JSON object");
    CHECK_INT(decode("{\"id\":\"a\",\"tags\":{}}", &person_table, &p, f, &m), ERR_INVAL);
    CHECK_STR(f, "tags");
    CHECK_INT(decode("{\"id\":\"a\",\"name\":null}", &person_table, &p, f, &m), ERR_INVAL);
    CHECK_STR(f, "name");
    /* KIT_NULLABLE: null is absent */
    CHECK_INT(decode("{\"id\":\"a\",\"any\":null}", &person_table, &p, f, &m), 0);
    CHECK_INT(decode("{\"id\":\"a\",\"any\":[1,{\"x\":2}]}", &person_table, &p, f, &m), 0);
}

TEST(nul_escapes_and_bad_json)
{
    struct person p;
    char f[KIT_PATH_MAX];
    const char *m;
    CHECK_INT(
        decode("{\"id\":\"a\",\"friends\":[{\"id\":\"b\\u0000c\"}]}", &person_table, &p, f, &m),
        ERR_INVAL);
    CHECK_STR(f, "friends[0].id");
    CHECK(m[0] != '\0');
    CHECK_INT(decode("{\"id\":\"a\",\"contacts\":{\"email\":\"x@y.z\\u0000\"}}", &person_table, &p,
                     f, &m),
              ERR_INVAL);
    CHECK_STR(f, "contacts.email");
    CHECK_INT(decode("{\"id\":\"a\",", &person_table, &p, f, &m), ERR_JSON);
    CHECK_INT(decode("{\"id\":\"a\",\"id\":\"b\"}", &person_table, &p, f, &m), ERR_JSON);
}

TEST(long_paths_are_cut_not_overrun)
{
    struct person p;
    char f[KIT_PATH_MAX];
    const char *m;
    char text[600];
    char key[300];
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    snprintf(text, sizeof(text), "{\"id\":\"a\",\"contacts\":{\"%s\":1}}", key);
    CHECK_INT(decode(text, &person_table, &p, f, &m), ERR_INVAL);
    CHECK(strncmp(f, "contacts.kkk", 12) == 0);
    CHECK_INT(strlen(f), KIT_PATH_MAX - 1);
}

TEST(rules)
{
    CHECK(kit_id_is_valid("a"));
    CHECK(kit_id_is_valid("user_1.x@y:z-w"));
    CHECK(!kit_id_is_valid(""));
    CHECK(!kit_id_is_valid("a b"));
    CHECK(!kit_id_is_valid("\xc3\xa9"));
    char id[66];
    memset(id, 'x', 65);
    id[64] = '\0';
    CHECK(kit_id_is_valid(id));
    id[64] = 'x';
    id[65] = '\0';
    CHECK(!kit_id_is_valid(id));
    CHECK(kit_name_is_valid("ops-team.1@x", 64));
    CHECK(!kit_name_is_valid("a:b", 64)); /* ':' is a user id character only */
    CHECK(!kit_name_is_valid("abcd", 3));
    CHECK(!kit_name_is_valid("", 3));
    CHECK(kit_email_is_valid("a@b.c"));
    CHECK(!kit_email_is_valid("a@b"));
    CHECK(!kit_email_is_valid("@b.c"));
    CHECK(!kit_email_is_valid("a@@b.c"));
    CHECK(!kit_email_is_valid("a b@c.d"));
    CHECK(!kit_email_is_valid("a@b."));
    CHECK(!kit_email_is_valid("a@.b"));
    CHECK_INT(kit_utf8_len("\xc3\xa9t\xe2\x82\xac"), 3);
}

int main(void)
{
    RUN(binds_fields);
    RUN(paths_nested);
    RUN(first_bad_member_in_text_order);
    RUN(unknown_fields);
    RUN(sizes_bytes_and_characters);
    RUN(wrong_types);
    RUN(nul_escapes_and_bad_json);
    RUN(long_paths_are_cut_not_overrun);
    RUN(rules);
    return test_summary();
}
