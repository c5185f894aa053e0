/*
 * The OpenAPI document of /api/docs (src/apidoc/openapi.json, built into the binary) against
 * the router herald serve builds: the real modules on an SQLite store in a temporary folder,
 * their routes added by cli__routes_add, the function serve.c calls. Every route the server
 * registers (each method of each pattern) must be an operation of the document, and every
 * operation of the document a registered route, with the same path parameter names; GET /ws
 * is the one exception, answered by net/http.c before the router. A route added without its
 * documentation, or documentation left behind by a route that went, fails here by name.
 * The document's own shape (OpenAPI 3, resolvable $refs, every path parameter declared) is
 * checked at build time by scripts/embed_apidoc.py; the basics are checked again here.
 */
#include "test.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "apidoc/apidoc.h"
#include "chat/chat.h"
#include "cli/internal.h"
#include "core/config.h"
#include "core/log.h"
#include "identity/apps.h"
#include "identity/identity.h"
#include "metrics/ops.h"
#include "net/http.h"
#include "notify/channels.h"
#include "notify/driver.h"
#include "notify/events.h"
#include "notify/sending.h"
#include "router/router.h"
#include "rt/rt.h"
#include "store/store.h"
#include "upload/upload.h"

/* Operations the document describes that the router does not hold: net/http.c answers them. */
static const char *const not_routed[] = {"GET /ws"};

static const struct {
    int bit;
    const char *name;  /* as in an HTTP request */
    const char *lower; /* as in an OpenAPI path item */
} methods[] = {{HTTP_M_GET, "GET", "get"},
               {HTTP_M_HEAD, "HEAD", "head"},
               {HTTP_M_POST, "POST", "post"},
               {HTTP_M_PUT, "PUT", "put"},
               {HTTP_M_PATCH, "PATCH", "patch"},
               {HTTP_M_DELETE, "DELETE", "delete"},
               {HTTP_M_OPTIONS, "OPTIONS", "options"}};
#define NMETHODS (sizeof(methods) / sizeof(methods[0]))

/* A set of "METHOD /path" strings. */
struct opset {
    char **v;
    int n, cap;
};

static bool opset_has(const struct opset *s, const char *op)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->v[i], op) == 0)
            return true;
    return false;
}

/* Adds method + path; false when it was there already. */
static bool opset_add(struct opset *s, const char *method, const char *path)
{
    size_t len = strlen(method) + 1 + strlen(path) + 1;
    char *op = malloc(len);
    snprintf(op, len, "%s %s", method, path);
    if (opset_has(s, op)) {
        free(op);
        return false;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->v = realloc(s->v, (size_t)s->cap * sizeof(char *));
    }
    s->v[s->n++] = op;
    return true;
}

static void opset_clear(struct opset *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

static bool is_not_routed(const char *op)
{
    for (size_t i = 0; i < sizeof(not_routed) / sizeof(not_routed[0]); i++)
        if (strcmp(op, not_routed[i]) == 0)
            return true;
    return false;
}

/* ---- the two sets */

static struct router *g_router;
static cJSON *g_doc;

/* The router's routes; a pattern's rest wildcard ".../ *" is written ".../{path}" in the
   document (OpenAPI has no wildcard). */
static void routes_of_router(struct opset *out)
{
    for (int id = 0; id < router_count(g_router); id++) {
        const char *pattern = router_pattern(g_router, id);
        char path[512];
        size_t pl = strlen(pattern);
        if (pl >= 2 && strcmp(pattern + pl - 2, "/*") == 0)
            snprintf(path, sizeof(path), "%.*s/{path}", (int)(pl - 2), pattern);
        else
            snprintf(path, sizeof(path), "%s", pattern);
        int bits = router_methods(g_router, id);
        for (size_t m = 0; m < NMETHODS; m++) {
            if (!(bits & methods[m].bit))
                continue;
            if (!opset_add(out, methods[m].name, path)) {
                fprintf(stderr, "FAIL route %s %s is registered twice (the second never runs)\n",
                        methods[m].name, path);
                test_cur_failed = 1;
            }
        }
    }
}

static void operations_of_document(struct opset *out)
{
    const cJSON *paths = cJSON_GetObjectItemCaseSensitive(g_doc, "paths");
    const cJSON *item;
    cJSON_ArrayForEach(item, paths)
    {
        for (size_t m = 0; m < NMETHODS; m++)
            if (cJSON_GetObjectItemCaseSensitive(item, methods[m].lower) != NULL)
                opset_add(out, methods[m].name, item->string);
        if (cJSON_GetObjectItemCaseSensitive(item, "trace") != NULL)
            opset_add(out, "TRACE", item->string); /* no route takes TRACE */
    }
}

/* ---- tests */

TEST(document_is_openapi_3)
{
    CHECK(g_doc != NULL);
    if (g_doc == NULL)
        return;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(g_doc, "openapi");
    CHECK(cJSON_IsString(v) && strncmp(v->valuestring, "3.", 2) == 0);
    const cJSON *info = cJSON_GetObjectItemCaseSensitive(g_doc, "info");
    CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(info, "title")));
    CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(info, "version")));
    CHECK(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(g_doc, "paths")));
    const cJSON *comp = cJSON_GetObjectItemCaseSensitive(g_doc, "components");
    CHECK(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(comp, "securitySchemes")));
    CHECK(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(comp, "schemas"), "Error")));
}

TEST(every_route_is_documented)
{
    struct opset routes = {0}, ops = {0};
    routes_of_router(&routes);
    operations_of_document(&ops);
    CHECK(routes.n > 100); /* the whole server, not a part of it */
    for (int i = 0; i < routes.n; i++) {
        if (!opset_has(&ops, routes.v[i])) {
            fprintf(stderr, "FAIL route %s is not in src/apidoc/openapi.json\n", routes.v[i]);
            test_cur_failed = 1;
        }
    }
    opset_clear(&routes);
    opset_clear(&ops);
}

TEST(every_operation_is_a_route)
{
    struct opset routes = {0}, ops = {0};
    routes_of_router(&routes);
    operations_of_document(&ops);
    for (int i = 0; i < ops.n; i++) {
        if (is_not_routed(ops.v[i])) {
            CHECK(!opset_has(&routes, ops.v[i])); /* else it belongs to the router's set */
            continue;
        }
        if (!opset_has(&routes, ops.v[i])) {
            fprintf(stderr,
                    "FAIL operation %s of src/apidoc/openapi.json is no route the server "
                    "registers\n",
                    ops.v[i]);
            test_cur_failed = 1;
        }
    }
    for (size_t k = 0; k < sizeof(not_routed) / sizeof(not_routed[0]); k++)
        CHECK(opset_has(&ops, not_routed[k]));
    opset_clear(&routes);
    opset_clear(&ops);
}

/* The router answers a documented path as that operation's route (a concrete path made from
   the template), so the document's path is reachable and not shadowed by an earlier route. */
TEST(documented_paths_match_their_own_route)
{
    const cJSON *paths = cJSON_GetObjectItemCaseSensitive(g_doc, "paths");
    const cJSON *item;
    int checked = 0;
    cJSON_ArrayForEach(item, paths)
    {
        const char *tmpl = item->string;
        char path[512];
        size_t o = 0;
        for (const char *p = tmpl; *p && o + 16 < sizeof(path);) {
            if (*p == '{') {
                const char *end = strchr(p, '}');
                o += (size_t)snprintf(path + o, sizeof(path) - o, "x1");
                p = end ? end + 1 : p + strlen(p);
            } else {
                path[o++] = *p++;
            }
        }
        path[o] = '\0';
        for (size_t m = 0; m < NMETHODS; m++) {
            if (cJSON_GetObjectItemCaseSensitive(item, methods[m].lower) == NULL)
                continue;
            char op[600];
            snprintf(op, sizeof(op), "%s %s", methods[m].name, tmpl);
            if (is_not_routed(op))
                continue;
            struct route_match rm;
            int rc = router_match(g_router, methods[m].bit, path, &rm);
            const char *got = rc == 0 ? router_pattern(g_router, rm.route_id) : "(none)";
            char want[512];
            size_t tl = strlen(tmpl);
            if (tl >= 7 && strcmp(tmpl + tl - 7, "/{path}") == 0)
                snprintf(want, sizeof(want), "%.*s/*", (int)(tl - 7), tmpl);
            else
                snprintf(want, sizeof(want), "%s", tmpl);
            if (rc != 0 || strcmp(got, want) != 0) {
                fprintf(stderr, "FAIL %s %s is answered by the route %s, not %s\n", methods[m].name,
                        path, got, want);
                test_cur_failed = 1;
            }
            checked++;
        }
    }
    CHECK(checked > 100);
}

/* Every operation says what it is and how it answers: a summary, a tag, responses. */
TEST(operations_have_summary_tags_and_responses)
{
    const cJSON *paths = cJSON_GetObjectItemCaseSensitive(g_doc, "paths");
    const cJSON *item;
    cJSON_ArrayForEach(item, paths)
    {
        for (size_t m = 0; m < NMETHODS; m++) {
            const cJSON *op = cJSON_GetObjectItemCaseSensitive(item, methods[m].lower);
            if (op == NULL)
                continue;
            const cJSON *summary = cJSON_GetObjectItemCaseSensitive(op, "summary");
            const cJSON *tags = cJSON_GetObjectItemCaseSensitive(op, "tags");
            const cJSON *responses = cJSON_GetObjectItemCaseSensitive(op, "responses");
            if (!cJSON_IsString(summary) || !cJSON_IsArray(tags) || cJSON_GetArraySize(tags) == 0 ||
                !cJSON_IsObject(responses) || responses->child == NULL) {
                fprintf(stderr, "FAIL %s %s: summary, tags or responses missing\n", methods[m].name,
                        item->string);
                test_cur_failed = 1;
            }
        }
    }
}

/* ---- set-up: the modules herald serve builds, on a fresh SQLite store */

int main(void)
{
    log_setup(LOG_OFF, false);
    size_t len = 0;
    const char *json = apidoc_openapi(&len);
    g_doc = cJSON_ParseWithLength(json, len);

    char dir[] = "/tmp/herald-test-apidoc-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    char url[200], err[512];
    snprintf(url, sizeof(url), "sqlite:%s/herald.db", dir);
    struct store *st = NULL;
    int version = 0;
    if (store_open(url, STORE_DURABILITY_NORMAL, &st, err, sizeof(err)) != 0 ||
        store_migrate(st, 0, &version, err, sizeof(err)) != 0) {
        fprintf(stderr, "store: %s\n", err);
        return 1;
    }
    static const char secret[] = "apidoc-unit-test-secret-0123456789abcdef";
    uint8_t enc[IDENTITY_KEY_LEN] = {1, 2, 3};
    struct identity_options o = {
        .access_ttl_s = 900, .refresh_ttl_s = 3600, .operator_ttl_s = 3600, .hash_threads = 1};
    struct identity id;
    if (identity_init(&id, st, secret, sizeof(secret) - 1, enc, &o) != 0 ||
        identity_apps_bootstrap(&id) != 0) {
        fprintf(stderr, "cannot set up the identity context\n");
        return 1;
    }
    struct config cfg;
    config_defaults(&cfg);
    free(cfg.data_dir);
    cfg.data_dir = strdup(dir);

    /* as serve.c builds them (cli/serve.c, run()) */
    struct upload *uploads = upload_new(&cfg, &id, err, sizeof(err));
    struct notify_channels *channels = notify_channels_new(id.enc_key, false);
    struct notify_channels_api *channels_api = notify_channels_api_new(&id, channels);
    if (uploads == NULL || channels_api == NULL) {
        fprintf(stderr, "cannot start the uploads or the channel workers: %s\n", err);
        return 1;
    }
    struct ops_ctx ops = {.store = st};
    struct rt *rt = rt_new(&id, 1);
    struct chat *chat = chat_new(&id, rt, cfg.max_message_chars, cfg.history_days,
                                 cfg.presence_grace_ms, cfg.recall_window_ms);
    struct notify_engine *notify = notify_engine_new(&id, rt, channels);
    struct notify_events *events = notify_events_new(id.store, id.enc_key, false);
    notify_engine_set_events(notify, events);
    g_router = router_new();
    cli__routes_add(g_router, &(struct cli_routes){.ops = &ops,
                                                   .ident = &id,
                                                   .rt = rt,
                                                   .chat = chat,
                                                   .notify = notify,
                                                   .events = events,
                                                   .uploads = uploads,
                                                   .channels_api = channels_api});

    RUN(document_is_openapi_3);
    if (g_doc != NULL) {
        RUN(every_route_is_documented);
        RUN(every_operation_is_a_route);
        RUN(documented_paths_match_their_own_route);
        RUN(operations_have_summary_tags_and_responses);
    }

    /* the shutdown order of serve.c */
    identity_stop(&id);
    chat_stop(chat);
    upload_stop(uploads);
    notify_channels_api_stop(channels_api);
    store_stop(st);
    chat_free(chat);
    notify_engine_free(notify);
    notify_events_free(events);
    upload_free(uploads);
    notify_channels_api_free(channels_api);
    notify_channels_free(channels);
    rt_free(rt);
    router_free(g_router);
    identity_release(&id);
    store_close(st);
    config_release(&cfg);
    cJSON_Delete(g_doc);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    return test_summary();
}
