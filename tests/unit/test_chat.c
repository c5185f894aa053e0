/*
 * Chat's pure parts (src/chat/chat.c, send.c, messages.c): the direct-pair key that makes
 * get-or-create unique, the conversation JSON built from store rows (members picked by
 * conversation, the peer of a direct conversation, no member list for a room, no peer in an
 * event), the content check of a message (characters, not bytes; the media shape; custom
 * size) and the message JSON with its quoted reply; the direct-conversation cache and its
 * pending get-or-creates (directs.c): one send leads, the others of the pair wait and are
 * woken once it ends, with the conversation remembered or, after a failure, without.
 */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/internal.h"
#include "kit/job.h"
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
static struct store_value conv_vals[2][13];
static struct store_value member_vals[3][9];

static void fill(struct store_rows *conv, struct store_rows *members)
{
    const char *ids[2] = {"cdirect", "croom"}, *types[2] = {"direct", "room"};
    for (int i = 0; i < 2; i++) {
        struct store_value *r = conv_vals[i];
        r[0] = txt(ids[i]), r[1] = txt(types[i]), r[2] = txt(i ? "Lobby" : ""), r[3] = txt("");
        r[4] = txt(i ? "b1" : NULL), r[5] = num(7), r[6] = num(300), r[7] = num(100);
        r[8] = num(200), r[9] = num(i ? 40 : 2);
        /* the direct one is a service conversation: the merchant handles the buyer */
        r[10] = txt(i ? NULL : "open"), r[11] = txt(i ? NULL : "m1"), r[12] = txt(i ? NULL : "b1");
    }
    const char *rows[3][7] = {{"cdirect", "b1", "member", "", "Bob", "", "buyer"},
                              {"cdirect", "m1", "member", "", "Mia", "m.png", "merchant"},
                              {"cother", "x9", "owner", "", "", "", ""}};
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 7; k++)
            member_vals[i][k] = k == 3 ? num(100 + i) : txt(rows[i][k]);
    for (int i = 0; i < 3; i++) /* last_seen: Mia's known, the others never seen */
        member_vals[i][7] = i == 1 ? num(5000) : (struct store_value){.type = STORE_NULL};
    for (int i = 0; i < 3; i++) /* metadata (direct conversations): Mia's set, Bob's NULL */
        member_vals[i][8] = txt(i == 1 ? "{\"tier\":\"gold\"}" : NULL);
    *conv = (struct store_rows){.ncols = 13, .nrows = 2, .vals = &conv_vals[0][0]};
    *members = (struct store_rows){.ncols = 9, .nrows = 3, .vals = &member_vals[0][0]};
}

TEST(conversation_json_for_a_direct_one_has_its_members_and_the_peer)
{
    struct store_rows conv, members;
    fill(&conv, &members);
    cJSON *o = chat__conv_json(&conv, 0, &members, "b1", NULL);
    char *s = cJSON_PrintUnformatted(o);
    CHECK_STR(s, "{\"id\":\"cdirect\",\"type\":\"direct\",\"name\":\"\",\"avatar\":\"\","
                 "\"owner\":null,\"last_seq\":7,\"last_activity_at\":300,\"created_at\":100,"
                 "\"updated_at\":200,\"member_count\":2,\"status\":\"open\",\"assignee\":"
                 "\"m1\",\"customer\":\"b1\",\"members\":[{\"user_id\":\"b1\","
                 "\"role\":\"member\",\"joined_at\":100,\"name\":\"Bob\",\"avatar\":\"\","
                 "\"metadata\":{}},{\"user_id\":\"m1\",\"role\":\"member\",\"joined_at\":101,"
                 "\"name\":\"Mia\",\"avatar\":\"m.png\",\"metadata\":{\"tier\":\"gold\"}}],"
                 "\"peer\":{\"id\":\"m1\",\"name\":\"Mia\",\"avatar\":\"m.png\",\"kind\":"
                 "\"merchant\",\"last_seen\":5000,\"metadata\":{\"tier\":\"gold\"}}}");
    cJSON_free(s);
    cJSON_Delete(o);
    /* an event frame is the same for both members: no peer */
    o = chat__conv_json(&conv, 0, &members, NULL, NULL);
    CHECK(cJSON_GetObjectItem(o, "peer") == NULL);
    CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(o, "members")), 2);
    cJSON_Delete(o);
}

TEST(conversation_json_for_a_room_has_a_count_only)
{
    struct store_rows conv, members;
    fill(&conv, &members);
    cJSON *o = chat__conv_json(&conv, 1, &members, "b1", NULL);
    CHECK(cJSON_GetObjectItem(o, "members") == NULL);
    CHECK(cJSON_GetObjectItem(o, "peer") == NULL);
    CHECK_INT((int)cJSON_GetObjectItem(o, "member_count")->valuedouble, 40);
    CHECK_STR(cJSON_GetObjectItem(o, "owner")->valuestring, "b1");
    CHECK_STR(cJSON_GetObjectItem(o, "name")->valuestring, "Lobby");
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(o, "status"))); /* no service conversation */
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(o, "assignee")));
    cJSON_Delete(o);
}

/* Decodes text into a message and checks it; the result (owned) or NULL with err. */
static char *check_msg(const char *text, int max_chars, const char *prefix, struct kit_error *err)
{
    cJSON *o = cJSON_Parse(text);
    struct chat_msg_in in = {
        .type = cJSON_GetObjectItem(o, "type")->valuestring,
        .content = cJSON_GetObjectItem(o, "content"),
    };
    char *r = chat__msg_check(&in, max_chars, prefix, err);
    cJSON_Delete(o);
    return r;
}

TEST(message_check_counts_characters_and_knows_the_shapes)
{
    struct kit_error err;
    char *s = check_msg("{\"type\":\"text\",\"content\":\"\u6c49\u6c49\u6c49\"}", 3, "", &err);
    CHECK_STR(s, "\"汉汉汉\""); /* 9 bytes, 3 characters */
    free(s);
    CHECK(check_msg("{\"type\":\"text\",\"content\":\"汉汉汉\"}", 2, "", &err) == NULL);
    CHECK_STR(err.field, "content");
    s = check_msg("{\"type\":\"text\",\"content\":\"😀😀\"}", 2, "", &err); /* 8 bytes */
    CHECK(s != NULL);
    free(s);
    CHECK(check_msg("{\"type\":\"text\",\"content\":\"\"}", 5, "message.", &err) == NULL);
    CHECK_STR(err.field, "message.content");
    CHECK(check_msg("{\"type\":\"image\",\"content\":{\"name\":\"a\",\"size\":1,\"mime\":\"x\"}}",
                    5, "", &err) == NULL);
    CHECK_STR(err.field, "content.url");
    s = check_msg("{\"type\":\"file\",\"content\":{\"url\":\"https://x.example/u\",\"name\":"
                  "\"a\",\"size\":1,\"mime\":\"x\"}}",
                  5, "", &err);
    CHECK_STR(s, "{\"url\":\"https://x.example/u\",\"name\":\"a\",\"size\":1,\"mime\":\"x\"}");
    free(s);
    /* a media url is the avatars' KIT_MEDIA: an http(s) URL or a /media/ path, nothing else */
    static const char *const bad_urls[] = {
        "javascript:alert(1)", "data:text/html,x", "vbscript:x", "u", "/etc/passwd", "/media/../x"};
    for (size_t k = 0; k < sizeof(bad_urls) / sizeof(bad_urls[0]); k++) {
        char text[256];
        snprintf(text, sizeof(text),
                 "{\"type\":\"video\",\"content\":{\"url\":\"%s\",\"name\":\"a\",\"size\":1,"
                 "\"mime\":\"x\"}}",
                 bad_urls[k]);
        CHECK(check_msg(text, 5, "message.", &err) == NULL);
        CHECK_STR(err.field, "message.content.url");
    }
    s = check_msg("{\"type\":\"image\",\"content\":{\"url\":\"/media/a/b.png\",\"name\":\"a\","
                  "\"size\":1,\"mime\":\"x\"}}",
                  5, "", &err);
    CHECK(s != NULL);
    free(s);
    CHECK(check_msg("{\"type\":\"system\",\"content\":\"x\"}", 5, "", &err) == NULL);
    CHECK_STR(err.field, "type");
    CHECK(check_msg("{\"type\":\"poll\",\"content\":\"x\"}", 5, "", &err) == NULL);
    CHECK_STR(err.field, "type");
    s = check_msg("{\"type\":\"custom\",\"content\":[1, {\"a\": true}]}", 5, "", &err);
    CHECK_STR(s, "[1,{\"a\":true}]");
    free(s);
    char big[CHAT_CUSTOM_MAX + 64];
    snprintf(big, sizeof(big), "{\"type\":\"custom\",\"content\":\"%0*d\"}", CHAT_CUSTOM_MAX, 0);
    CHECK(check_msg(big, 5, "", &err) == NULL);
    CHECK_STR(err.field, "content");
}

/* One message row (SQL_MESSAGES_COLS) replying to a row of the given type and content. */
static struct store_value msg_vals[15];

static cJSON *msg_with_reply(const char *rtype, const char *rcontent, int64_t recalled)
{
    struct store_value *r = msg_vals;
    r[0] = txt("m1"), r[1] = txt("c1"), r[2] = num(9), r[3] = txt("b1"), r[4] = txt("text");
    r[5] = txt("\"ok\""), r[6] = txt(rtype ? "m0" : NULL), r[7] = txt(NULL), r[8] = num(5);
    r[9] = txt(NULL), r[10] = num(0), r[11] = txt(rtype ? "m1user" : NULL), r[12] = txt(rtype);
    r[13] = txt(rcontent), r[14] = rtype ? num(recalled) : txt(NULL);
    struct store_rows rows = {.ncols = 15, .nrows = 1, .vals = msg_vals};
    return chat__msg_json(&rows, 0);
}

TEST(message_json_quotes_the_first_100_characters_of_a_reply)
{
    cJSON *o = msg_with_reply(NULL, NULL, 0);
    char *s = cJSON_PrintUnformatted(o);
    CHECK_STR(s, "{\"id\":\"m1\",\"conversation_id\":\"c1\",\"seq\":9,\"sender_id\":\"b1\","
                 "\"type\":\"text\",\"content\":\"ok\",\"reply_to\":null,\"client_msg_id\":null,"
                 "\"created_at\":5,\"edited_at\":null,\"recalled\":false}");
    cJSON_free(s);
    cJSON_Delete(o);
    char quoted[600] = "\"";
    for (int i = 0; i < 120; i++)
        strcat(quoted, "é");
    strcat(quoted, "\"");
    o = msg_with_reply("text", quoted, 0);
    const cJSON *p = cJSON_GetObjectItem(o, "reply_preview");
    CHECK_STR(cJSON_GetObjectItem(o, "reply_to")->valuestring, "m0");
    CHECK_STR(cJSON_GetObjectItem(p, "sender_id")->valuestring, "m1user");
    CHECK_INT((int)kit_utf8_len(cJSON_GetObjectItem(p, "text")->valuestring), 100);
    CHECK_INT((int)strlen(cJSON_GetObjectItem(p, "text")->valuestring), 200);
    cJSON_Delete(o);
    o = msg_with_reply("file", "{\"url\":\"u\"}", 0);
    CHECK_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "reply_preview"), "text")->valuestring,
              "[file]");
    cJSON_Delete(o);
    o = msg_with_reply("text", "\"secret\"", 1);
    p = cJSON_GetObjectItem(o, "reply_preview");
    CHECK_STR(cJSON_GetObjectItem(p, "text")->valuestring, "");
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(p, "recalled")));
    cJSON_Delete(o);
}

/* An origin whose loop is this test: posts are queued and run by run_posts(). */
struct posted {
    void (*fn)(void *arg);
    void *arg;
};
static struct posted posts[16];
static int nposts;

static void origin_post(void *target, void (*fn)(void *arg), void *arg)
{
    (void)target;
    posts[nposts++] = (struct posted){fn, arg};
}

static void origin_refused(void *target, int status)
{
    (void)target;
    (void)status;
}

static const struct kit_origin test_origin = {.post = origin_post, .refused = origin_refused};
static int woken;

static void on_woken(struct kit_job *j)
{
    CHECK_INT(j->status, 0);
    woken++; /* returns without a step: the job ends */
}

static void run_posts(void)
{
    for (int i = 0; i < nposts; i++)
        posts[i].fn(posts[i].arg);
    nposts = 0;
}

/* 500 pairs (the harness's W3) all stay remembered: with one entry per hash slot, the pairs
 * whose keys collided evicted each other at every send, and each of their sends ran the
 * get-or-create write again. */
TEST(directs_remember_500_pairs_at_once)
{
    struct chat_directs *d = chat__directs_new();
    const char *apps[2] = {"a0f3c2d1e4b5a6978c1d2e3f4", "a7"};
    for (int a = 0; a < 2; a++) {
        char key[32], conv[32], want[32];
        bool service;
        for (int i = 0; i < 1000; i += 2) {
            snprintf(key, sizeof(key), "u%d u%d", i, i + 1);
            snprintf(want, sizeof(want), "c%d", i);
            chat__directs_put(d, apps[a], key, want, false);
        }
        int misses = 0;
        for (int i = 0; i < 1000; i += 2) {
            snprintf(key, sizeof(key), "u%d u%d", i, i + 1);
            snprintf(want, sizeof(want), "c%d", i);
            if (!chat__directs_get(d, apps[a], key, conv, sizeof(conv), &service) ||
                strcmp(conv, want) != 0)
                misses++;
        }
        CHECK_INT(misses, 0);
    }
    chat__directs_free(d);
}

TEST(directs_one_send_leads_the_others_wait_and_are_woken)
{
    struct chat_directs *d = chat__directs_new();
    char conv[32];
    bool service = true;
    struct kit_job *lead = kit_job_new_origin(&test_origin, NULL, NULL, NULL, NULL);
    struct kit_job *w1 = kit_job_new_origin(&test_origin, NULL, NULL, NULL, NULL);
    struct kit_job *w2 = kit_job_new_origin(&test_origin, NULL, NULL, NULL, NULL);
    struct kit_job *other = kit_job_new_origin(&test_origin, NULL, NULL, NULL, NULL);
    CHECK(chat__directs_lead(d, "a1", "b1 m1", lead));
    CHECK(!chat__directs_lead(d, "a1", "b1 m1", w1));
    kit_wait(w1, on_woken);
    CHECK(!chat__directs_lead(d, "a1", "b1 m1", w2));
    kit_wait(w2, on_woken);
    CHECK(chat__directs_lead(d, "a2", "b1 m1", other)); /* another app: another pair */
    CHECK_INT(nposts, 0);
    chat__directs_done(d, "a1", "b1 m1", "c1", false);
    CHECK_INT(nposts, 2); /* both waiters, nothing else */
    CHECK(chat__directs_get(d, "a1", "b1 m1", conv, sizeof(conv), &service));
    CHECK_STR(conv, "c1");
    CHECK(!service);
    run_posts();
    CHECK_INT(woken, 2);
    /* the pair is no longer pending: the next miss leads again; a failure wakes without a
     * conversation remembered */
    chat__directs_drop(d, "a1", "b1 m1");
    CHECK(chat__directs_lead(d, "a1", "b1 m1", lead));
    w1 = kit_job_new_origin(&test_origin, NULL, NULL, NULL, NULL);
    CHECK(!chat__directs_lead(d, "a1", "b1 m1", w1));
    kit_wait(w1, on_woken);
    chat__directs_done(d, "a1", "b1 m1", NULL, false);
    CHECK_INT(nposts, 1);
    CHECK(!chat__directs_get(d, "a1", "b1 m1", conv, sizeof(conv), &service));
    run_posts();
    CHECK_INT(woken, 3);
    chat__directs_done(d, "a2", "b1 m1", "c2", true);
    CHECK_INT(nposts, 0);
    CHECK(chat__directs_get(d, "a2", "b1 m1", conv, sizeof(conv), &service));
    CHECK(service);
    kit_job_end(lead);
    kit_job_end(other);
    chat__directs_free(d);
}

int main(void)
{
    RUN(direct_key_is_symmetric_and_refuses_a_pair_of_one);
    RUN(conversation_json_for_a_direct_one_has_its_members_and_the_peer);
    RUN(conversation_json_for_a_room_has_a_count_only);
    RUN(message_check_counts_characters_and_knows_the_shapes);
    RUN(message_json_quotes_the_first_100_characters_of_a_reply);
    RUN(directs_remember_500_pairs_at_once);
    RUN(directs_one_send_leads_the_others_wait_and_are_woken);
    return test_summary();
}
