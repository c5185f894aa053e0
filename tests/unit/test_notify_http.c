/*
 * Unit tests of the pure parts of the HTTP channel drivers: the SSRF guard's address
 * classifier and its refusals, URL and header checks, RFC 3986 percent-encoding, and the
 * request signatures against the providers' documented algorithms (Aliyun's published SendSms
 * example; DingTalk's and Feishu's reference code, recomputed with Python's hmac), and the
 * drivers' config checks.
 */
#include "test.h"

#include <string.h>

#include "core/cidr.h"
#include "core/err.h"
#include "notify/http_drivers.h"
#include "notify/http_out.h"
#include "notify/sign.h"

static bool public(const char *s)
{
    uint8_t a[16];
    if (!cidr_addr_parse(s, strlen(s), a)) {
        fprintf(stderr, "bad test address %s\n", s);
        return true;
    }
    return http_out_addr_is_public(a);
}

TEST(classifier)
{
    const char *blocked[] = {"0.0.0.0",
                             "10.1.2.3",
                             "100.64.0.1",
                             "100.127.255.254",
                             "127.0.0.1",
                             "127.255.0.1",
                             "169.254.169.254",
                             "172.16.0.1",
                             "172.31.255.255",
                             "192.168.1.1",
                             "192.0.0.8",
                             "198.18.0.1",
                             "224.0.0.1",
                             "239.1.1.1",
                             "240.0.0.1",
                             "255.255.255.255",
                             "::",
                             "::1",
                             "fe80::1",
                             "fc00::1",
                             "fd12:3456::1",
                             "ff02::1",
                             "fec0::1",
                             "::ffff:127.0.0.1",
                             "::ffff:10.0.0.1",
                             "::ffff:169.254.169.254",
                             "64:ff9b::7f00:1",
                             "2002:7f00:1::1",
                             "::127.0.0.1",
                             "2001:db8::1"};
    for (size_t i = 0; i < sizeof blocked / sizeof blocked[0]; i++)
        if (public(blocked[i])) {
            fprintf(stderr, "  %s classified public\n", blocked[i]);
            CHECK(!public(blocked[i]));
        }
    const char *open[] = {"8.8.8.8",        "1.1.1.1",          "100.63.255.255",
                          "100.128.0.1",    "172.15.255.255",   "172.32.0.1",
                          "192.169.0.1",    "223.255.255.255",  "2606:4700::1111",
                          "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1",
                          "2a00:1450::1"};
    for (size_t i = 0; i < sizeof open / sizeof open[0]; i++)
        if (!public(open[i])) {
            fprintf(stderr, "  %s classified private\n", open[i]);
            CHECK(public(open[i]));
        }
}

TEST(url_and_header_checks)
{
    char msg[128];
    CHECK(http_out_url_check("https://example.com/hook?x=1", msg, sizeof msg));
    CHECK(http_out_url_check("http://[2001:db8::1]:8080/h", msg, sizeof msg));
    CHECK(!http_out_url_check("ftp://example.com/", msg, sizeof msg));
    CHECK(!http_out_url_check("file:///etc/passwd", msg, sizeof msg));
    CHECK(!http_out_url_check("gopher://x/", msg, sizeof msg));
    CHECK(!http_out_url_check("https://user:pw@example.com/", msg, sizeof msg));
    CHECK(!http_out_url_check("https://example.com/a b", msg, sizeof msg));
    CHECK(!http_out_url_check("https://example.com/\r\nX: y", msg, sizeof msg));
    CHECK(!http_out_url_check("https://example.com/#frag", msg, sizeof msg));
    CHECK(!http_out_url_check("https://", msg, sizeof msg));
    CHECK(!http_out_url_check("", msg, sizeof msg));
    CHECK(http_out_header_is_clean("X-A: b\tc"));
    CHECK(!http_out_header_is_clean("X-A: b\r\nX-B: c"));
    CHECK(!http_out_header_is_clean("X-A: b\n"));
}

TEST(guard_refuses_private_targets)
{
    const char *targets[] = {"http://127.0.0.1:1/", "http://localhost:1/",
                             "http://[::1]:1/",     "http://169.254.169.254/latest/meta-data/",
                             "http://10.0.0.1:1/",  "http://0.0.0.0:1/"};
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        struct http_out_req rq = {.url = targets[i], .body = "{}", .body_len = 2, .timeout_s = 2};
        struct http_out_resp resp;
        struct notify_result r;
        CHECK_INT(http_out_request(&rq, &resp, &r), -1);
        CHECK_INT(r.outcome, NOTIFY_PERMANENT);
        CHECK(strstr(r.detail, "target refused") != NULL);
        CHECK_INT(resp.status, 0);
        buf_release(&resp.body);
    }
    /* allowed: the connection is tried (and fails: nothing listens on port 1), a retry */
    struct http_out_req rq = {.url = "http://127.0.0.1:1/", .timeout_s = 2, .allow_private = true};
    struct http_out_resp resp;
    struct notify_result r;
    CHECK_INT(http_out_request(&rq, &resp, &r), -1);
    CHECK_INT(r.outcome, NOTIFY_RETRY);
    CHECK(strstr(r.detail, "target refused") == NULL);
    buf_release(&resp.body);
    /* other schemes and injected headers never leave */
    const char *bad_hdr[] = {"X-A: 1\r\nX-Injected: 2", NULL};
    struct http_out_req rq2 = {
        .url = "http://127.0.0.1:1/", .headers = bad_hdr, .allow_private = true};
    CHECK_INT(http_out_request(&rq2, &resp, &r), -1);
    CHECK_INT(r.outcome, NOTIFY_PERMANENT);
    buf_release(&resp.body);
    struct http_out_req rq3 = {.url = "file:///etc/passwd", .allow_private = true};
    CHECK_INT(http_out_request(&rq3, &resp, &r), -1);
    CHECK_INT(r.outcome, NOTIFY_PERMANENT);
    buf_release(&resp.body);
}

TEST(status_mapping)
{
    struct notify_result r;
    int cases[][2] = {{200, NOTIFY_SENT},      {204, NOTIFY_SENT},      {301, NOTIFY_PERMANENT},
                      {302, NOTIFY_PERMANENT}, {400, NOTIFY_PERMANENT}, {404, NOTIFY_PERMANENT},
                      {408, NOTIFY_RETRY},     {410, NOTIFY_PERMANENT}, {429, NOTIFY_RETRY},
                      {500, NOTIFY_RETRY},     {503, NOTIFY_RETRY}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        http_out_result_from_status(cases[i][0], 7, &r);
        CHECK_INT(r.outcome, cases[i][1]);
        CHECK_INT(r.code, cases[i][0]);
        CHECK_INT(r.retry_after_s, cases[i][1] == NOTIFY_RETRY ? 7 : 0);
    }
}

TEST(pct_encode)
{
    struct buf b = BUF_INIT;
    notify_pct_encode(&b, "a-z_A.Z~0 9*+/=&\xe4\xb8\xad");
    CHECK_STR(b.data, "a-z_A.Z~0%209%2A%2B%2F%3D%26%E4%B8%AD");
    buf_release(&b);
}

TEST(signatures)
{
    char out[NOTIFY_SIGN_HEX256];
    notify_sign_webhook("whsec", 1700000000000LL, "{\"a\":1}", 7, out);
    CHECK_STR(out, "e396dba269569843ec61b16bf9a0e70c598b534678cf1863562e0699c7685c8d");
    char b64[NOTIFY_SIGN_B64_256];
    notify_sign_dingtalk("this is secret", 1577000000000LL, b64);
    CHECK_STR(b64, "CzDRc7aXg4jxIWuAPgoMjyJ+zMUH7WEqwmgz3Z94Mrk=");
    notify_sign_feishu("mysecret", 1599360473LL, b64);
    CHECK_STR(b64, "X2mMGxWdDhSMjkSUiC38doUsNK2hm1xXRvcgXwNlD+E=");
}

/* Aliyun's own SendSms signature example (GET, secret "testSecret"). */
TEST(aliyun_published_example)
{
    const char *kv[] = {"Version",
                        "2017-05-25",
                        "Timestamp",
                        "2017-07-12T02:42:19Z",
                        "TemplateParam",
                        "{\"customer\":\"test\"}",
                        "TemplateCode",
                        "SMS_71390007",
                        "SignatureVersion",
                        "1.0",
                        "SignatureNonce",
                        "45e25e9b-0a6f-4070-8c85-2956eda1b466",
                        "SignatureMethod",
                        "HMAC-SHA1",
                        "SignName",
                        "\xe9\x98\xbf\xe9\x87\x8c\xe4\xba\x91\xe7\x9f\xad\xe4"
                        "\xbf\xa1\xe6\xb5\x8b\xe8\xaf\x95\xe4\xb8\x93\xe7\x94"
                        "\xa8",
                        "RegionId",
                        "cn-hangzhou",
                        "PhoneNumbers",
                        "15300000001",
                        "OutId",
                        "123",
                        "Format",
                        "XML",
                        "Action",
                        "SendSms",
                        "AccessKeyId",
                        "testId"};
    struct buf q = BUF_INIT;
    char sig[NOTIFY_SIGN_B64_1];
    notify_sign_aliyun("GET", "testSecret", kv, sizeof kv / sizeof kv[0] / 2, &q, sig);
    CHECK_STR(sig, "zJDF+Lrzhj/ThnlvIToysFRq6t4=");
    const char *head = "AccessKeyId=testId&Action=SendSms&Format=XML&OutId=123&";
    CHECK(strncmp(q.data, head, strlen(head)) == 0);
    CHECK(strstr(q.data, "TemplateParam=%7B%22customer%22%3A%22test%22%7D&") != NULL);
    buf_release(&q);
}

static int check(const struct notify_driver *d, const char *json, char *field)
{
    cJSON *c = cJSON_Parse(json);
    char msg[128];
    field[0] = '\0';
    int rc = d->check(c, field, 64, msg, sizeof msg);
    cJSON_Delete(c);
    return rc;
}

TEST(config_checks)
{
    char f[64];
    CHECK_INT(
        check(&notify_driver_webhook, "{\"url\":\"https://x.example/h\",\"secret\":\"s\"}", f), 0);
    CHECK_INT(check(&notify_driver_webhook, "{\"secret\":\"s\"}", f), 0);
    CHECK_INT(check(&notify_driver_webhook, "{\"url\":\"https://x.example/h\"}", f), ERR_INVAL);
    CHECK_STR(f, "secret");
    CHECK_INT(check(&notify_driver_webhook, "{\"url\":\"ftp://x/\",\"secret\":\"s\"}", f),
              ERR_INVAL);
    CHECK_STR(f, "url");
    CHECK_INT(check(&notify_driver_webhook, "{\"secret\":\"s\",\"timeout_s\":99}", f), ERR_INVAL);
    CHECK_STR(f, "timeout_s");
    CHECK_INT(check(&notify_driver_webhook, "{\"secret\":\"s\",\"bogus\":1}", f), ERR_INVAL);
    CHECK_STR(f, "bogus");
    CHECK_INT(check(&notify_driver_dingtalk,
                    "{\"url\":\"https://oapi.dingtalk.com/robot/send?access_token=t\","
                    "\"secret\":\"SEC1\",\"msgtype\":\"markdown\"}",
                    f),
              0);
    CHECK_INT(check(&notify_driver_dingtalk, "{\"url\":\"https://a/\",\"msgtype\":\"post\"}", f),
              ERR_INVAL);
    CHECK_STR(f, "msgtype");
    CHECK_INT(check(&notify_driver_wecom, "{\"webhook_url\":\"https://a/\",\"secret\":\"x\"}", f),
              ERR_INVAL);
    CHECK_STR(f, "secret");
    CHECK_INT(check(&notify_driver_slack, "{}", f), ERR_INVAL);
    CHECK_STR(f, "url");
    CHECK_INT(check(&notify_driver_feishu, "{\"url\":\"https://a/\",\"msgtype\":\"post\"}", f), 0);
    CHECK_INT(check(&notify_driver_sms_aliyun,
                    "{\"access_key_id\":\"k\",\"access_key_secret\":\"s\",\"sign_name\":\"n\","
                    "\"template_code\":\"SMS_1\"}",
                    f),
              0);
    CHECK_INT(check(&notify_driver_sms_aliyun,
                    "{\"access_key_id\":\"k\",\"access_key_secret\":\"s\",\"sign_name\":\"n\"}", f),
              ERR_INVAL);
    CHECK_STR(f, "template_code");
    CHECK_INT(check(&notify_driver_sms_aliyun,
                    "{\"access_key_id\":\"k\",\"access_key_secret\":\"s\",\"sign_name\":\"n\","
                    "\"templates\":{\"a\":5}}",
                    f),
              ERR_INVAL);
    CHECK_STR(f, "templates.a");
    CHECK_INT(check(&notify_driver_wechat_mp,
                    "{\"app_id\":\"wx1\",\"app_secret\":\"s\",\"template_id\":\"T\","
                    "\"base_url\":\"http://127.0.0.1:9/\"}",
                    f),
              0);
    CHECK_INT(check(&notify_driver_wechat_mp, "{\"app_id\":\"wx1\",\"template_id\":\"T\"}", f),
              ERR_INVAL);
    CHECK_STR(f, "app_secret");
}

TEST(cut_utf8)
{
    struct buf b = BUF_INIT;
    buf_puts(&b, "abcdefghij");
    notify__cut_utf8(&b, 10);
    CHECK_STR(b.data, "abcdefghij");
    notify__cut_utf8(&b, 8);
    CHECK_STR(b.data, "abcde...");
    buf_clear(&b);
    buf_puts(&b, "\xe9\x95\xbf\xe9\x95\xbf\xe9\x95\xbf"); /* three 3-byte characters */
    notify__cut_utf8(&b, 8);                              /* room for one and "..." */
    CHECK_STR(b.data, "\xe9\x95\xbf...");
    CHECK_INT(b.len, 6);
    buf_release(&b);
}

int main(void)
{
    RUN(classifier);
    RUN(url_and_header_checks);
    RUN(guard_refuses_private_targets);
    RUN(status_mapping);
    RUN(pct_encode);
    RUN(signatures);
    RUN(aliyun_published_example);
    RUN(config_checks);
    RUN(cut_utf8);
    return test_summary();
}
