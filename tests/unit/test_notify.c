/*
 * The notification module's pure parts: the e-mail message (addresses, encoded words that no
 * CR/LF survives, Message-ID, the MIME layout) and the secret members of channel configs
 * (sealed, masked, kept when the mask comes back, opened); the channel kinds every API checks
 * against.
 */
#include "test.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "auth/secretbox.h"
#include "core/buf.h"
#include "core/err.h"
#include "notify/drivers.h"
#include "notify/internal.h"

TEST(addresses)
{
    CHECK(notify__mail_addr_ok("alice@example.com"));
    CHECK(notify__mail_addr_ok("a.b+tag@sub.example.org"));
    CHECK(!notify__mail_addr_ok("alice@example.com\r\nRCPT TO:<x@y.z>"));
    CHECK(!notify__mail_addr_ok("Alice <alice@example.com>"));
    CHECK(!notify__mail_addr_ok("alice@@example.com"));
    CHECK(!notify__mail_addr_ok("@example.com"));
    CHECK(!notify__mail_addr_ok("alice@example"));
    CHECK(!notify__mail_addr_ok("alice@example."));
    CHECK(!notify__mail_addr_ok("al ice@example.com"));
    CHECK(!notify__mail_addr_ok("alice@exämple.com"));
    CHECK(!notify__mail_addr_ok(""));
    CHECK(!notify__mail_addr_ok(NULL));
}

/* The text of the encoded words in h (folded with CRLF SP), decoded and joined. */
static void decode_words(const char *h, char *out, size_t outsz)
{
    size_t n = 0;
    for (const char *p = h; (p = strstr(p, "=?UTF-8?B?")) != NULL;) {
        p += 10;
        const char *e = strstr(p, "?=");
        unsigned char tmp[128];
        int len = EVP_DecodeBlock(tmp, (const unsigned char *)p, (int)(e - p));
        len -= (e[-1] == '=') + (e[-2] == '='); /* EVP_DecodeBlock counts padding as data */
        memcpy(out + n, tmp, (size_t)len < outsz - n - 1 ? (size_t)len : outsz - n - 1);
        n += (size_t)len;
        p = e + 2;
    }
    out[n] = '\0';
}

TEST(header_text)
{
    struct buf b = BUF_INIT;
    notify__mail_header_text(&b, "Your order has shipped");
    CHECK_STR(b.data, "Your order has shipped");
    buf_clear(&b);
    notify__mail_header_text(&b, "Hi\r\nBcc: evil@example.com");
    CHECK(strstr(b.data, "Bcc:") == NULL);
    for (const char *p = b.data; (p = strstr(p, "\r\n")) != NULL; p += 2)
        CHECK(p[2] == ' '); /* only folding: every line after a CRLF goes on the same header */
    char text[512];
    decode_words(b.data, text, sizeof(text));
    CHECK_STR(text, "Hi  Bcc: evil@example.com");
    buf_clear(&b);
    /* a long UTF-8 text: words of at most 75 characters, no character cut in two */
    char long_s[400] = "";
    for (int i = 0; i < 40; i++)
        strcat(long_s, "訂單");
    notify__mail_header_text(&b, long_s);
    for (const char *p = b.data; (p = strstr(p, "=?UTF-8?B?")) != NULL;) {
        const char *e = strstr(p, "?=") + 2;
        CHECK(e - p <= 75);
        p = e;
    }
    decode_words(b.data, text, sizeof(text));
    CHECK_STR(text, long_s);
    buf_release(&b);
}

TEST(message_id)
{
    char id[NOTIFY_MSGID_MAX];
    notify__mail_message_id(id, sizeof(id), "d_42-x.y");
    CHECK_STR(id, "<d_42-x.y@herald>");
    notify__mail_message_id(id, sizeof(id), "a b<>\r\n");
    CHECK_STR(id, "<a_b____@herald>");
    notify__mail_message_id(id, sizeof(id), NULL);
    CHECK_INT(strlen(id), 32 + 9);
    char again[NOTIFY_MSGID_MAX];
    notify__mail_message_id(again, sizeof(again), "");
    CHECK(strcmp(id, again) != 0);
}

TEST(message)
{
    struct buf b = BUF_INIT;
    CHECK_INT(notify__mail_build(&b, "<a@b.example>", "x@y.example\r\nBcc: z@z.example", "s", "t",
                                 NULL, "<m@herald>", 0),
              ERR_INVAL);
    CHECK_INT(b.len, 0);
    CHECK_INT(notify__mail_build(&b, "\"Shop\" <a@b.example>", "x@y.example", "Hello", "plain",
                                 "<p>html</p>", "<m@herald>", 1796601600000),
              0);
    CHECK(strncmp(b.data, "Date: ", 6) == 0);
    CHECK(strstr(b.data, "\r\nFrom: \"Shop\" <a@b.example>\r\n") != NULL);
    CHECK(strstr(b.data, "\r\nTo: <x@y.example>\r\nSubject: Hello\r\n") != NULL);
    CHECK(strstr(b.data, "\r\nMessage-ID: <m@herald>\r\nMIME-Version: 1.0\r\n") != NULL);
    CHECK(strstr(b.data, "Content-Type: multipart/alternative; boundary=\"=_herald_") != NULL);
    CHECK(strstr(b.data, "Content-Type: text/plain; charset=utf-8") != NULL);
    CHECK(strstr(b.data, "Content-Type: text/html; charset=utf-8") != NULL);
    CHECK(strstr(b.data, "cGxhaW4=") != NULL); /* "plain" */
    buf_release(&b);
}

/* ---- secrets */

static const char *const secret_paths[] = {"accounts[].password", "token", NULL};
static const struct notify_driver test_driver = {.kind = "test", .secret_fields = secret_paths};

static const char *acc_pw(const cJSON *c, int i)
{
    return cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(c, "accounts"), i),
                               "password")
        ->valuestring;
}

TEST(secrets)
{
    uint8_t key[SECRETBOX_KEY_LEN];
    memset(key, 7, sizeof(key));
    cJSON *c = cJSON_Parse("{\"accounts\":[{\"password\":\"first-password-1234\"},{\"user\":\"u\"},"
                           "{\"password\":\"short\"}],\"token\":\"tok-abcdefghijkl\",\"n\":1}");
    CHECK_INT(notify__config_seal(key, &test_driver, c, NULL), 0);
    char *sealed = cJSON_PrintUnformatted(c);
    CHECK(strstr(sealed, "first-password") == NULL && strstr(sealed, "short") == NULL);
    CHECK(strstr(sealed, "tok-abc") == NULL && strncmp(acc_pw(c, 0), "v1:", 3) == 0);
    /* masked for reading */
    cJSON *m = cJSON_Parse(sealed);
    notify__config_mask(key, &test_driver, m);
    CHECK_STR(acc_pw(m, 0), "****1234");
    CHECK_STR(acc_pw(m, 2), "****");
    CHECK_STR(cJSON_GetObjectItem(m, "token")->valuestring, "****ijkl");
    /* sent back: the masked ones keep the stored secrets, a new one is sealed anew */
    cJSON_ReplaceItemInObject(m, "token", cJSON_CreateString("new-token-value"));
    CHECK_INT(notify__config_seal(key, &test_driver, m, c), 0);
    CHECK_STR(acc_pw(m, 0), acc_pw(c, 0));
    CHECK_STR(acc_pw(m, 2), acc_pw(c, 2));
    CHECK(strcmp(cJSON_GetObjectItem(m, "token")->valuestring,
                 cJSON_GetObjectItem(c, "token")->valuestring) != 0);
    CHECK_INT(notify__config_open(key, &test_driver, m), 0);
    CHECK_STR(acc_pw(m, 0), "first-password-1234");
    CHECK_STR(acc_pw(m, 2), "short");
    CHECK_STR(cJSON_GetObjectItem(m, "token")->valuestring, "new-token-value");
    /* another key opens nothing */
    uint8_t other[SECRETBOX_KEY_LEN];
    memset(other, 8, sizeof(other));
    CHECK_INT(notify__config_open(other, &test_driver, c), ERR_INVAL);
    cJSON_Delete(m);
    cJSON_Delete(c);
    free(sealed);
}

/* The kinds the APIs accept are "inapp" and the driver table's, and NOTIFY_KINDS_TEXT (the
 * error messages) lists exactly them (audit F4: unknown kinds were stored). */
TEST(channel_kinds)
{
    char text[] = NOTIFY_KINDS_TEXT;
    int n = 0;
    for (char *save = NULL, *k = strtok_r(text, ", ", &save); k; k = strtok_r(NULL, ", ", &save)) {
        CHECK(notify_kind_is_known(k));
        CHECK(strcmp(k, "inapp") == 0 || notify_driver_find(k) != NULL);
        n++;
    }
    /* every driver is in the text: the table has 8 and inapp has none */
    CHECK_INT(n, 9);
    const char *drivers[] = {"email",  "webhook", "dingtalk",   "wecom",
                             "feishu", "slack",   "sms_aliyun", "wechat_mp"};
    for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++)
        CHECK(strstr(NOTIFY_KINDS_TEXT, drivers[i]) != NULL && notify_driver_find(drivers[i]));
    CHECK(!notify_kind_is_known("pigeon"));
    CHECK(!notify_kind_is_known("sms"));
    CHECK(!notify_kind_is_known("Email"));
    CHECK(!notify_kind_is_known(""));
    CHECK(!notify_kind_is_known(NULL));
    CHECK(!notify_driver_kind_is_known("inapp"));
}

int main(void)
{
    RUN(addresses);
    RUN(header_text);
    RUN(message_id);
    RUN(message);
    RUN(secrets);
    RUN(channel_kinds);
    return test_summary();
}
