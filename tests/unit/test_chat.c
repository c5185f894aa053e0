/*
 * Chat's pure parts (src/chat/chat.c): the direct-pair key that makes get-or-create unique,
 * and the conversation JSON built from store rows (members picked by conversation, the peer
 * of a direct conversation, no member list for a room, no peer in an event).
 */
#include "test.h"

#include <stdlib.h>

#include "chat/internal.h"
#include "store/store.h"

TEST(direct_key_is_symmetric_and_refuses_a_pair_of_one)
{
    char k1[64], k2[64];
    CHECK(chat__direct_key("m1", "b1", k1, sizeof(k1)));
    CHECK(chat__direct_key("b1", "m1", k2, sizeof(k2)));
    CHECK_STR(k1, "b1 m1");
    CHECK_STR(k2, "b1 m1");
    CHECK(!chat__direct_key("b1", "b1", k1, sizeof(k1)));
    /* "a b"+"c" and "a"+"b c" cannot meet: ids hold no space, so the key splits one way */
    CHECK(chat__direct_key("ab", "c", k1, sizeof(k1)));
    CHECK(chat__direct_key("a", "bc", k2, sizeof(k2)));
    CHECK(strcmp(k1, k2) != 0);
    char small[5];
    CHECK(!chat__direct_key("abc", "def", small, sizeof(small)));
}

static struct store_value txt(const char *s)
{
    struct store_value v = {.type = s ? STORE_TEXT : STORE_NULL, .len = s ? strlen(s) : 0};
    v.v.s = s;
    return v;
}

static struct store_value num(int64_t i)
{
    struct store_value v = {.type = STORE_INT};
    v.v.i = i;
    return v;
}

/* Two conversations (a direct one and a room) and the member rows of both queries. */
static struct store_value conv_vals[2][10];
static struct store_value member_vals[3][7];

static void fill(struct store_rows *conv, struct store_rows *members)
{
    const char *ids[2] = {"cdirect", "croom"}, *types[2] = {"direct", "room"};
    for (int i = 0; i < 2; i++) {
        struct store_value *r = conv_vals[i];
        r[0] = txt(ids[i]), r[1] = txt(types[i]), r[2] = txt(i ? "Lobby" : ""), r[3] = txt("");
        r[4] = txt(i ? "b1" : NULL), r[5] = num(7), r[6] = num(300), r[7] = num(100);
        r[8] = num(200), r[9] = num(i ? 40 : 2);
    }
    const char *rows[3][7] = {{"cdirect", "b1", "member", "", "Bob", "", "buyer"},
                              {"cdirect", "m1", "member", "", "Mia", "m.png", "merchant"},
                              {"cother", "x9", "owner", "", "", "", ""}};
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 7; k++)
            member_vals[i][k] = k == 3 ? num(100 + i) : txt(rows[i][k]);
    *conv = (struct store_rows){.ncols = 10, .nrows = 2, .vals = &conv_vals[0][0]};
    *members = (struct store_rows){.ncols = 7, .nrows = 3, .vals = &member_vals[0][0]};
}

TEST(conversation_json_for_a_direct_one_has_its_members_and_the_peer)
{
    struct store_rows conv, members;
    fill(&conv, &members);
    cJSON *o = chat__conv_json(&conv, 0, &members, "b1");
    char *s = cJSON_PrintUnformatted(o);
    CHECK_STR(s, "{\"id\":\"cdirect\",\"type\":\"direct\",\"name\":\"\",\"avatar\":\"\","
                 "\"owner\":null,\"last_seq\":7,\"last_activity_at\":300,\"created_at\":100,"
                 "\"updated_at\":200,\"member_count\":2,\"members\":[{\"user_id\":\"b1\","
                 "\"role\":\"member\",\"joined_at\":100,\"name\":\"Bob\",\"avatar\":\"\"},"
                 "{\"user_id\":\"m1\",\"role\":\"member\",\"joined_at\":101,\"name\":\"Mia\","
                 "\"avatar\":\"m.png\"}],\"peer\":{\"id\":\"m1\",\"name\":\"Mia\",\"avatar\":"
                 "\"m.png\",\"kind\":\"merchant\"}}");
    cJSON_free(s);
    cJSON_Delete(o);
    /* an event frame is the same for both members: no peer */
    o = chat__conv_json(&conv, 0, &members, NULL);
    CHECK(cJSON_GetObjectItem(o, "peer") == NULL);
    CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(o, "members")), 2);
    cJSON_Delete(o);
}

TEST(conversation_json_for_a_room_has_a_count_only)
{
    struct store_rows conv, members;
    fill(&conv, &members);
    cJSON *o = chat__conv_json(&conv, 1, &members, "b1");
    CHECK(cJSON_GetObjectItem(o, "members") == NULL);
    CHECK(cJSON_GetObjectItem(o, "peer") == NULL);
    CHECK_INT((int)cJSON_GetObjectItem(o, "member_count")->valuedouble, 40);
    CHECK_STR(cJSON_GetObjectItem(o, "owner")->valuestring, "b1");
    CHECK_STR(cJSON_GetObjectItem(o, "name")->valuestring, "Lobby");
    cJSON_Delete(o);
}

int main(void)
{
    RUN(direct_key_is_symmetric_and_refuses_a_pair_of_one);
    RUN(conversation_json_for_a_direct_one_has_its_members_and_the_peer);
    RUN(conversation_json_for_a_room_has_a_count_only);
    return test_summary();
}
