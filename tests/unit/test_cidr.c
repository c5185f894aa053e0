/*
 * IP addresses and CIDR blocks (core/cidr): the trusted-proxy list of
 * HERALD_TRUSTED_PROXIES is parsed, matched and printed with these.
 */
#include "test.h"

#include <stdlib.h>
#include <string.h>

#include "core/cidr.h"

static bool in_list(const char *list, const char *addr)
{
    struct cidr *v;
    char err[200];
    int n = cidr_list_parse(list, &v, NULL, err, sizeof(err));
    CHECK(n > 0);
    uint8_t a[16];
    CHECK(cidr_addr_parse(addr, strlen(addr), a));
    bool in = n > 0 && cidr_list_contains(v, (size_t)n, a);
    free(v);
    return in;
}

TEST(contains)
{
    CHECK(in_list("127.0.0.0/8,::1/128", "127.1.2.3"));
    CHECK(in_list("127.0.0.0/8,::1/128", "::1"));
    CHECK(in_list("127.0.0.0/8", "::ffff:127.0.0.1")); /* IPv4-mapped is IPv4 */
    CHECK(!in_list("127.0.0.0/8,::1/128", "128.0.0.1"));
    CHECK(!in_list("127.0.0.0/8,::1/128", "::2"));
    CHECK(in_list("10.0.0.0/9", "10.127.255.255"));
    CHECK(!in_list("10.0.0.0/9", "10.128.0.0"));
    CHECK(in_list("2001:db8::/33", "2001:db8:7fff::1"));
    CHECK(!in_list("2001:db8::/33", "2001:db8:8000::1"));
    CHECK(in_list("0.0.0.0/0", "203.0.113.9"));
    CHECK(!in_list("0.0.0.0/0", "2001:db8::1"));
    CHECK(in_list("::/0", "203.0.113.9")); /* all of IPv6 includes the mapped IPv4 range */
    CHECK(in_list("192.0.2.7", "192.0.2.7"));
    CHECK(!in_list("192.0.2.7", "192.0.2.8"));
}

static void canon(const char *list, const char *want)
{
    struct cidr *v = NULL;
    char *text = NULL, err[200] = "";
    int n = cidr_list_parse(list, &v, &text, err, sizeof(err));
    CHECK(n > 0);
    if (text)
        CHECK_STR(text, want);
    free(v);
    free(text);
}

static void refused(const char *list, const char *why)
{
    struct cidr *v = NULL;
    char *text = NULL, err[200] = "";
    CHECK_INT(cidr_list_parse(list, &v, &text, err, sizeof(err)), -1);
    CHECK(strstr(err, why) != NULL);
    CHECK(v == NULL && text == NULL);
}

TEST(parse_and_text)
{
    canon(" 10.1.2.3 , fd00::/8,192.168.0.0/16 ", "10.1.2.3/32,fd00::/8,192.168.0.0/16");
    canon("2001:DB8:0:0::/32", "2001:db8::/32");
    canon("::ffff:10.0.0.0/104", "10.0.0.0/8");
    refused("10.0.0.0/33", "prefix");
    refused("::/129", "prefix");
    refused("10.0.0.0/", "prefix");
    refused("10.0.0.0/-1", "prefix");
    refused("10.0.0.1/8", "did you mean 10.0.0.0/8?");
    refused("localhost", "invalid address \"localhost\"");
    refused("10.1", "invalid address");
    refused("10.0.0.0/8,,::1", "empty entry");
    refused("", "empty entry");
    refused("[::1]", "invalid address");
}

TEST(addr_text)
{
    uint8_t a[16];
    char out[CIDR_ADDR_TEXT];
    CHECK(cidr_addr_parse("::ffff:192.0.2.1", 16, a));
    cidr_addr_format(a, out);
    CHECK_STR(out, "192.0.2.1");
    CHECK(cidr_addr_parse("2001:DB8::0:1", 13, a));
    cidr_addr_format(a, out);
    CHECK_STR(out, "2001:db8::1");
    CHECK(!cidr_addr_parse("192.0.2.1 ", 10, a));
    CHECK(!cidr_addr_parse("", 0, a));
}

int main(void)
{
    RUN(contains);
    RUN(parse_and_text);
    RUN(addr_text);
    return test_summary();
}
