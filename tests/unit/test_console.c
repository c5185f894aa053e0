/*
 * Unit tests of the console permission checks (src/console/common.c): whether
 * an operator's roles grant a permission on one app or on every app
 * (console__can), the apps a permission reaches (console__apps_json), and the
 * escalation guard — an operator may hand out a role only when holding every
 * permission of it on every app it covers (console__covers).
 */
#include "test.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "console/internal.h"

/* A role: perms and apps are comma lists ("" for none); apps NULL means every app. */
static void role(struct console_op *op, const char *perms, const char *apps)
{
    struct console_role *r = &op->roles[op->nroles++];
    memset(r, 0, sizeof(*r));
    r->perms = cJSON_CreateArray();
    r->all_apps = apps == NULL;
    r->apps = cJSON_CreateArray();
    char buf[256];
    const char *lists[2] = {perms, apps};
    cJSON *arrs[2] = {r->perms, r->apps};
    for (int k = 0; k < 2; k++) {
        if (lists[k] == NULL)
            continue;
        snprintf(buf, sizeof(buf), "%s", lists[k]);
        for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
            cJSON_AddItemToArray(arrs[k], cJSON_CreateString(t));
    }
}

static void op_clear(struct console_op *op)
{
    for (int i = 0; i < op->nroles; i++)
        console__role_release(&op->roles[i]);
    memset(op, 0, sizeof(*op));
}

/* console__apps_json as a string compared with want (NULL: every app). */
static bool apps_are(const struct console_op *op, const char *perm, const char *want)
{
    char *s = console__apps_json(op, perm);
    bool ok = (s == NULL && want == NULL) || (s && want && strcmp(s, want) == 0);
    if (!ok)
        printf("  apps_json(%s) = %s, want %s\n", perm, s ? s : "NULL", want ? want : "NULL");
    cJSON_free(s);
    return ok;
}

TEST(no_roles_grant_nothing)
{
    struct console_op op = {0};
    CHECK(!console__can(&op, "apps:read", NULL));
    CHECK(!console__can(&op, "apps:read", "a1"));
    CHECK(apps_are(&op, "apps:read", "[]"));
}

TEST(all_apps_role_grants_globally_and_per_app)
{
    struct console_op op = {0};
    role(&op, "apps:read,users:read", NULL);
    CHECK(console__can(&op, "apps:read", NULL));
    CHECK(console__can(&op, "users:read", "a1"));
    CHECK(!console__can(&op, "apps:write", NULL));
    CHECK(!console__can(&op, "apps:write", "a1"));
    CHECK(!console__can(&op, NULL, NULL)); /* NULL asks for "*" */
    CHECK(apps_are(&op, "users:read", NULL));
    CHECK(apps_are(&op, "users:write", "[]"));
    op_clear(&op);
}

TEST(app_scoped_role_grants_only_its_apps_never_globally)
{
    struct console_op op = {0};
    role(&op, "users:read", "a1,a2");
    CHECK(console__can(&op, "users:read", "a1"));
    CHECK(console__can(&op, "users:read", "a2"));
    CHECK(!console__can(&op, "users:read", "a3"));
    CHECK(!console__can(&op, "users:read", NULL)); /* a global right needs every app */
    CHECK(!console__can(&op, "users:write", "a1"));
    CHECK(apps_are(&op, "users:read", "[\"a1\",\"a2\"]"));
    op_clear(&op);
}

TEST(roles_add_up)
{
    struct console_op op = {0};
    role(&op, "users:read", "a1");
    role(&op, "users:read,users:write", "a2");
    CHECK(console__can(&op, "users:read", "a1"));
    CHECK(!console__can(&op, "users:write", "a1"));
    CHECK(console__can(&op, "users:write", "a2"));
    CHECK(apps_are(&op, "users:read", "[\"a1\",\"a2\"]"));
    CHECK(apps_are(&op, "users:write", "[\"a2\"]"));
    role(&op, "users:read", NULL); /* one role on every app makes the list "every app" */
    CHECK(apps_are(&op, "users:read", NULL));
    CHECK(console__can(&op, "users:read", NULL));
    op_clear(&op);
}

TEST(star_grants_everything_where_the_role_reaches)
{
    struct console_op op = {0};
    role(&op, "*", "a1");
    CHECK(console__can(&op, "operators:write", "a1"));
    CHECK(!console__can(&op, "operators:write", "a2"));
    CHECK(!console__can(&op, "operators:write", NULL));
    op_clear(&op);
    role(&op, "*", NULL);
    CHECK(console__can(&op, "operators:write", NULL));
    CHECK(console__can(&op, "some:future-permission", "a9"));
    CHECK(console__can(&op, NULL, NULL));
    op_clear(&op);
}

TEST(entries_that_are_not_strings_grant_nothing)
{
    struct console_op op = {0};
    role(&op, "", NULL);
    cJSON_AddItemToArray(op.roles[0].perms, cJSON_CreateNumber(1));
    cJSON_AddItemToArray(op.roles[0].perms, cJSON_CreateNull());
    role(&op, "users:read", "");
    cJSON_AddItemToArray(op.roles[1].apps, cJSON_CreateNumber(7));
    CHECK(!console__can(&op, "users:read", NULL));
    CHECK(!console__can(&op, "users:read", "7"));
    CHECK(!console__can(&op, "apps:read", "a1"));
    op_clear(&op);
}

TEST(covers_only_what_the_granter_holds)
{
    struct console_op who = {0}, target = {0};
    role(&who, "users:read", "a1");
    role(&who, "users:read,users:write", "a2");
    role(&target, "users:read", "a1,a2"); /* held on a1 by one role, on a2 by another */
    CHECK(console__covers(&who, &target.roles[0]));
    role(&target, "users:write", "a1,a2"); /* users:write only on a2 */
    CHECK(!console__covers(&who, &target.roles[1]));
    role(&target, "users:read", NULL); /* every app: more than a1 and a2 */
    CHECK(!console__covers(&who, &target.roles[2]));
    role(&target, "users:read", "a3");
    CHECK(!console__covers(&who, &target.roles[3]));
    role(&target, "", "a1"); /* no permission at all: nothing to escalate */
    CHECK(console__covers(&who, &target.roles[4]));
    op_clear(&target);
    op_clear(&who);
}

TEST(covers_star_needs_star_on_every_app)
{
    struct console_op who = {0}, target = {0};
    role(&target, "*", "a1");
    /* every named permission on a1 is not enough: "*" also grants those added later */
    role(&who,
         "apps:read,apps:write,operators:read,operators:write,roles:write,users:read,"
         "users:write,templates:write",
         NULL);
    CHECK(!console__covers(&who, &target.roles[0]));
    op_clear(&who);
    role(&who, "*", "a1"); /* star, but not on every app */
    CHECK(!console__covers(&who, &target.roles[0]));
    op_clear(&who);
    role(&who, "*", NULL);
    CHECK(console__covers(&who, &target.roles[0]));
    role(&target, "*", NULL);
    CHECK(console__covers(&who, &target.roles[1]));
    role(&target, "users:write", "a7,a8");
    CHECK(console__covers(&who, &target.roles[2]));
    op_clear(&target);
    op_clear(&who);
}

int main(void)
{
    RUN(no_roles_grant_nothing);
    RUN(all_apps_role_grants_globally_and_per_app);
    RUN(app_scoped_role_grants_only_its_apps_never_globally);
    RUN(roles_add_up);
    RUN(star_grants_everything_where_the_role_reaches);
    RUN(entries_that_are_not_strings_grant_nothing);
    RUN(covers_only_what_the_granter_holds);
    RUN(covers_star_needs_star_on_every_app);
    return test_summary();
}
