/*
 * The streaming multipart parser (upload/multipart.c) and the upload name rules
 * (upload/name.c): parts and their data whatever the split of the input, delimiters across
 * pieces, header parameters, limits, malformed bodies; names without paths or controls.
 */
#include "test.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "upload/multipart.h"
#include "upload/name.h"

struct rec {
    struct buf log;  /* "B<name>|<filename>|<type>;" "E;" per part */
    struct buf data; /* every part's data, parts separated by '#' */
    int stop_at;     /* stop in on_part_begin of this part (1-based), 0 never */
    int nbegin;
};

static int rec_begin(const struct multipart_part *p, void *ud)
{
    struct rec *r = ud;
    r->nbegin++;
    buf_printf(&r->log, "B%s|", p->name);
    if (p->filename)
        buf_append(&r->log, p->filename, p->filename_len);
    else
        buf_puts(&r->log, "-");
    buf_printf(&r->log, "|%s;", p->content_type ? p->content_type : "-");
    return r->stop_at == r->nbegin ? 1 : 0;
}

static int rec_data(const uint8_t *d, size_t n, void *ud)
{
    struct rec *r = ud;
    buf_append(&r->data, d, n);
    return 0;
}

static int rec_end(void *ud)
{
    struct rec *r = ud;
    buf_puts(&r->log, "E;");
    buf_putc(&r->data, '#');
    return 0;
}

static const struct multipart_cb cb = {rec_begin, rec_data, rec_end};
static const struct multipart_limits lim = {.max_parts = 4, .max_header_bytes = 256};

/* Parses body in pieces of step bytes (0: whole); returns the result of finish. */
static int parse(const char *body, size_t len, size_t step, struct rec *r)
{
    buf_init(&r->log);
    buf_init(&r->data);
    r->nbegin = 0;
    struct multipart *m = multipart_new("XyZ", &lim, &cb, r);
    int rc = 0;
    if (step == 0)
        step = len ? len : 1;
    for (size_t i = 0; i < len && rc == 0; i += step)
        rc = multipart_feed(m, (const uint8_t *)body + i, len - i < step ? len - i : step);
    if (rc == 0)
        rc = multipart_finish(m);
    buf_putc(&r->log, '\0');
    buf_putc(&r->data, '\0');
    multipart_free(m);
    return rc;
}

static void rec_release(struct rec *r)
{
    buf_release(&r->log);
    buf_release(&r->data);
}

#define BODY                                                                                       \
    "preamble\r\n--XyZ\r\n"                                                                        \
    "Content-Disposition: form-data; name=\"note\"\r\n\r\n"                                        \
    "hi\r\n--XyZ\r\n"                                                                              \
    "Content-Disposition: form-data; name=\"file\"; filename=\"a b.png\"\r\n"                      \
    "Content-Type: image/png\r\n\r\n"                                                              \
    "\r\n--XyX\r\r\n-\r\n--Xy\r\n--XyZ--\r\nepilogue"

TEST(parts_and_data_whatever_the_split)
{
    for (size_t step = 0; step < 40; step++) {
        struct rec r = {0};
        CHECK_INT(parse(BODY, sizeof(BODY) - 1, step, &r), 0);
        CHECK_STR(r.log.data, "Bnote|-|-;E;Bfile|a b.png|image/png;E;");
        /* CRs and delimiter prefixes inside the data stay data */
        CHECK_STR(r.data.data, "hi#\r\n--XyX\r\r\n-\r\n--Xy#");
        rec_release(&r);
    }
}

TEST(a_delimiter_followed_by_other_bytes_is_refused)
{
    /* after "--XyZ" only "--", blanks + CRLF may follow: "Z" is a malformed delimiter line */
    static const char body[] = "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n"
                               "x\r\n--XyZZ\r\n--XyZ--";
    struct rec r = {0};
    CHECK_INT(parse(body, sizeof(body) - 1, 0, &r), MULTIPART_SYNTAX);
    rec_release(&r);
}

TEST(data_that_looks_like_a_delimiter_start)
{
    static const char body[] = "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n"
                               "\r\n--Xy\r\n-\r\r\n--XyZ--\r\n";
    for (size_t step = 0; step < 8; step++) {
        struct rec r = {0};
        CHECK_INT(parse(body, sizeof(body) - 1, step, &r), 0);
        CHECK_STR(r.data.data, "\r\n--Xy\r\n-\r#");
        rec_release(&r);
    }
}

TEST(filename_star_wins_and_is_decoded)
{
    static const char body[] =
        "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"plain.txt\"; "
        "filename*=UTF-8''%e2%82%ac%00.txt\r\n\r\nx\r\n--XyZ--";
    struct rec r = {0};
    CHECK_INT(parse(body, sizeof(body) - 1, 0, &r), 0);
    CHECK(memcmp(r.log.data, "Bfile|\xe2\x82\xac\0.txt|-;", 17) == 0);
    rec_release(&r);
}

TEST(quoted_string_escapes_only_quote_and_backslash)
{
    static const char body[] =
        "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"C:\\dir\\a\\\"b\"\r\n"
        "\r\nx\r\n--XyZ--";
    struct rec r = {0};
    CHECK_INT(parse(body, sizeof(body) - 1, 0, &r), 0);
    CHECK_STR(r.log.data, "Bf|C:\\dir\\a\"b|-;E;");
    rec_release(&r);
}

TEST(limits_and_malformed_bodies)
{
    struct rec r = {0};
    static const char five[] = "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n"
                               "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n2\r\n"
                               "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n3\r\n"
                               "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n4\r\n"
                               "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n5\r\n"
                               "--XyZ--";
    CHECK_INT(parse(five, sizeof(five) - 1, 0, &r), MULTIPART_PARTS);
    rec_release(&r);

    char big[600];
    int n = snprintf(big, sizeof(big),
                     "--XyZ\r\nContent-Disposition: form-data; name=\"%0300d\"\r\n\r\n", 0);
    CHECK_INT(parse(big, (size_t)n, 0, &r), MULTIPART_HEADERS);
    rec_release(&r);

    static const char truncated[] = "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nabc";
    CHECK_INT(parse(truncated, sizeof(truncated) - 1, 0, &r), MULTIPART_TRUNCATED);
    rec_release(&r);

    static const char no_cd[] = "--XyZ\r\nContent-Type: text/plain\r\n\r\nabc\r\n--XyZ--";
    CHECK_INT(parse(no_cd, sizeof(no_cd) - 1, 0, &r), MULTIPART_SYNTAX);
    rec_release(&r);

    static const char nul[] = "--XyZ\r\nContent-Disposition: form-data; name=\"a\0\"\r\n\r\n";
    CHECK_INT(parse(nul, sizeof(nul) - 1, 0, &r), MULTIPART_SYNTAX);
    rec_release(&r);

    static const char bare_lf[] = "--XyZ\r\nContent-Disposition: form-data; name=a\nX: y\r\n\r\n"
                                  "v\r\n--XyZ--";
    CHECK_INT(parse(bare_lf, sizeof(bare_lf) - 1, 0, &r), MULTIPART_SYNTAX);
    rec_release(&r);

    static const char stop[] =
        "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--XyZ--";
    r.stop_at = 1;
    CHECK_INT(parse(stop, sizeof(stop) - 1, 0, &r), MULTIPART_STOPPED);
    rec_release(&r);
}

TEST(boundary_from_content_type)
{
    char b[MULTIPART_BOUNDARY_MAX + 1];
    CHECK_INT(multipart_boundary("multipart/form-data; boundary=abc", b), 0);
    CHECK_STR(b, "abc");
    CHECK_INT(multipart_boundary("Multipart/Form-Data; charset=x; boundary=\"a b:c\"", b), 0);
    CHECK_STR(b, "a b:c");
    CHECK_INT(multipart_boundary("multipart/form-data", b), -1);
    CHECK_INT(multipart_boundary("multipart/mixed; boundary=abc", b), -1);
    CHECK_INT(multipart_boundary("multipart/form-data; boundary=\"a\r\nb\"", b), -1);
    CHECK_INT(multipart_boundary("multipart/form-data; boundary=a; boundary=b", b), -1);
    char long_one[120];
    snprintf(long_one, sizeof(long_one), "multipart/form-data; boundary=%071d", 0);
    CHECK_INT(multipart_boundary(long_one, b), -1);
    CHECK_INT(multipart_boundary(NULL, b), -1);
    char long_name[300]; /* a parameter name longer than any boundary (found by fuzz_multipart) */
    snprintf(long_name, sizeof(long_name), "multipart/form-data; %0200d=1; boundary=a", 0);
    CHECK_INT(multipart_boundary(long_name, b), -1);
}

TEST(names_are_sanitized)
{
    char out[UPLOAD_NAME_MAX + 1];
    upload_name_sanitize("../../etc/passwd", 16, out);
    CHECK_STR(out, "passwd");
    upload_name_sanitize("C:\\x\\y.png", 10, out);
    CHECK_STR(out, "y.png");
    upload_name_sanitize("a\r\nb\0c.txt", 10, out);
    CHECK_STR(out, "abc.txt");
    upload_name_sanitize("x\xe2\x80\xaegnp.exe", 12, out); /* U+202E */
    CHECK_STR(out, "xgnp.exe");
    upload_name_sanitize("\xff\xfe ok", 5, out); /* not UTF-8 */
    CHECK_STR(out, "ok");
    upload_name_sanitize("...", 3, out);
    CHECK_STR(out, "file");
    upload_name_sanitize(NULL, 0, out);
    CHECK_STR(out, "file");
    char big[700];
    for (int i = 0; i < 350; i++)
        memcpy(big + 2 * i, "\xc3\xa9", 2);
    upload_name_sanitize(big, 700, out);
    CHECK_INT((int)strlen(out), 254);
}

TEST(extensions_follow_the_sniffed_type)
{
    char ext[16];
    upload_name_ext("photo.JPEG", "jpg", ext);
    CHECK_STR(ext, "jpeg");
    upload_name_ext("photo.png", "jpg", ext);
    CHECK_STR(ext, "jpg");
    upload_name_ext("x.html", "png", ext);
    CHECK_STR(ext, "png");
    upload_name_ext("noext", "pdf", ext);
    CHECK_STR(ext, "pdf");
    char enc[64];
    CHECK_INT(upload_name_pct("a b\xc3\xa9\"", enc, sizeof(enc)), 14);
    CHECK_STR(enc, "a%20b%C3%A9%22");
}

int main(void)
{
    RUN(parts_and_data_whatever_the_split);
    RUN(a_delimiter_followed_by_other_bytes_is_refused);
    RUN(data_that_looks_like_a_delimiter_start);
    RUN(filename_star_wins_and_is_decoded);
    RUN(quoted_string_escapes_only_quote_and_backslash);
    RUN(limits_and_malformed_bodies);
    RUN(boundary_from_content_type);
    RUN(names_are_sanitized);
    RUN(extensions_follow_the_sniffed_type);
    return test_summary();
}
