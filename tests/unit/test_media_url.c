/*
 * Media URLs (kit/media_url.h): the /media/ path rule GET /media/... and avatars share, the
 * stored form of a URL under HERALD_BASE_URL, the absolute form written out without a
 * request, and KIT_MEDIA fields binding the stored form.
 */
#include "test.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "kit/decode.h"
#include "kit/media_url.h"

TEST(path_rule)
{
    char rel[MEDIA_REL_MAX + 1];
    CHECK(media_path_check("/media/uploads/2026/12/07/ab_c-1.png", rel));
    CHECK_STR(rel, "uploads/2026/12/07/ab_c-1.png");
    CHECK(media_path_check("/media/%61.png", rel)); /* decoded once */
    CHECK_STR(rel, "a.png");
    CHECK(!media_path_check("/media/", rel));
    CHECK(!media_path_check("/media/../etc/passwd", rel));
    CHECK(!media_path_check("/media/%2e%2e/x", rel));
    CHECK(!media_path_check("/media/a/.part", rel));
    CHECK(!media_path_check("/media/a//b", rel));
    CHECK(!media_path_check("/media/a/", rel));
    CHECK(!media_path_check("/media/a%00b", rel));
    CHECK(!media_path_check("/media/a\\b", rel));
    CHECK(!media_path_check("/media/a.png?x=1", rel));
    CHECK(!media_path_check("/etc/passwd", rel));
    CHECK(!media_path_check("/mediax/a.png", NULL));
    char long_path[7 + MEDIA_REL_MAX + 2];
    memcpy(long_path, "/media/", 7);
    memset(long_path + 7, 'a', MEDIA_REL_MAX + 1);
    long_path[7 + MEDIA_REL_MAX + 1] = '\0';
    CHECK(!media_path_check(long_path, NULL));
    long_path[7 + MEDIA_REL_MAX] = '\0';
    CHECK(media_path_check(long_path, NULL));
}

TEST(stored_form)
{
    media_url_setup("https://cdn.example.com/h", false);
    const char *s = "https://cdn.example.com/h/media/a/b.png";
    CHECK(media_url_stored(s) == s + strlen("https://cdn.example.com/h"));
    CHECK_STR(media_url_under_base(s), "/media/a/b.png");
    CHECK_STR(media_url_stored("/media/a/b.png"), "/media/a/b.png");
    const char *ext = "https://cdn.example.com/hx/media/a.png";
    CHECK(media_url_stored(ext) == ext);
    CHECK(media_url_under_base(ext) == NULL);
    CHECK_STR(media_url_stored("https://elsewhere.example/a.png"),
              "https://elsewhere.example/a.png");
    CHECK_STR(media_url_stored(""), "");
    CHECK(media_url_stored("https://cdn.example.com/h/media/../x") == NULL);
    CHECK(media_url_stored("/media/../x") == NULL);
    CHECK(media_url_stored("/etc/passwd") == NULL);
    CHECK(media_url_stored("//evil.example/media/a.png") == NULL);
    media_url_setup("", false);
    CHECK(media_url_under_base("https://cdn.example.com/h/media/a.png") == NULL);
    CHECK_STR(media_url_stored("https://cdn.example.com/h/media/a.png"),
              "https://cdn.example.com/h/media/a.png");
}

TEST(absolute_form)
{
    char out[64];
    media_url_setup("https://cdn.example.com", false);
    CHECK_INT(media_url_abs(NULL, "/media/a.png", out, sizeof(out)), 0);
    CHECK_STR(out, "https://cdn.example.com/media/a.png");
    CHECK_INT(media_url_abs(NULL, "https://x.example/a.png", out, sizeof(out)), 0);
    CHECK_STR(out, "https://x.example/a.png");
    CHECK_INT(media_url_abs(NULL, "/media/a.png", out, 10), -1);
    char *o = media_url_out(NULL, "/media/a.png");
    CHECK_STR(o, "https://cdn.example.com/media/a.png");
    free(o);
    CHECK(media_url_out(NULL, NULL) == NULL);
    media_url_setup(NULL, false); /* no base, no request (a frame): as stored */
    o = media_url_out(NULL, "/media/a.png");
    CHECK_STR(o, "/media/a.png");
    free(o);
}

struct av {
    const char *avatar;
};
static const struct kit_field av_fields[] = {
    {.name = "avatar", .kind = KIT_MEDIA, .max = 64, .at = KIT_AT(struct av, avatar)},
    {.name = NULL},
};
static const struct kit_table av_table = {.fields = av_fields};

TEST(kit_media_field)
{
    media_url_setup("https://cdn.example.com", false);
    struct av a;
    struct kit_error err;
    cJSON *root = NULL;
    const char *t = "{\"avatar\":\"https://cdn.example.com/media/a.png\"}";
    CHECK_INT(kit_decode_text(t, strlen(t), &av_table, &a, &err, &root), 0);
    CHECK_STR(a.avatar, "/media/a.png");
    cJSON_Delete(root);
    t = "{\"avatar\":\"/media/../a.png\"}";
    CHECK_INT(kit_decode_text(t, strlen(t), &av_table, &a, &err, &root), ERR_INVAL);
    CHECK_STR(err.field, "avatar");
    t = "{\"avatar\":\"https://x.example/"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}";
    CHECK_INT(kit_decode_text(t, strlen(t), &av_table, &a, &err, &root), ERR_INVAL); /* > 64 */
    CHECK_STR(err.field, "avatar");
    media_url_setup(NULL, false);
}

int main(void)
{
    RUN(path_rule);
    RUN(stored_form);
    RUN(absolute_form);
    RUN(kit_media_field);
    return test_summary();
}
