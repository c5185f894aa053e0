/*
 * Exact numbers in free JSON; see json_exact.h.
 */
#include "core/json_exact.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/xalloc.h"

static void exact_number(cJSON *n)
{
    double d = n->valuedouble;
    if (!isfinite(d))
        return;
    char b[32];
    snprintf(b, sizeof(b), "%1.15g", d);
    if (strtod(b, NULL) == d)
        return; /* cJSON prints these digits, and they are exact */
    snprintf(b, sizeof(b), "%1.17g", d);
    n->type = cJSON_Raw;
    n->valuestring = xstrdup(b); /* freed by cJSON_Delete (the hooks are xalloc's) */
}

cJSON *json_exact(cJSON *v)
{
    if (v == NULL)
        return v;
    if (cJSON_IsNumber(v)) {
        exact_number(v);
        return v;
    }
    for (cJSON *c = v->child; c != NULL; c = c->next)
        json_exact(c);
    return v;
}

cJSON *json_exact_parse(const char *text)
{
    return json_exact(cJSON_Parse(text));
}
