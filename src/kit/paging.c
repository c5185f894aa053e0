/*
 * The paging of every list (see paging.h).
 */
#include "kit/paging.h"

#include <stdlib.h>

#include <cjson/cJSON.h>

#include "net/http.h"

/* 1 and *out set, 0 absent or empty, -1 not a whole number from 1 to max (max 0: no bound). */
static int query_whole(struct http_req *req, const char *name, int64_t max, int64_t *out)
{
    char buf[32];
    int n = http_req_query_param(req, name, buf, sizeof(buf));
    if (n == 0 || (n < 0 && !http_req_has_query_param(req, name)))
        return 0;
    if (n < 0)
        return -1; /* too long, or badly encoded */
    char *end = NULL;
    long long v = strtoll(buf, &end, 10);
    if (buf[0] < '0' || buf[0] > '9' || *end != '\0' || v < 1 || (max > 0 && v > max))
        return -1;
    *out = v;
    return 1;
}

bool kit_paging(struct http_req *req, int64_t *page, int64_t *page_size)
{
    *page = 1;
    *page_size = KIT_PAGE_SIZE_DEFAULT;
    if (query_whole(req, "page", KIT_PAGE_MAX, page) < 0) {
        http_respond_error(req, 422, "validation_failed", "must be a whole number from 1", "page");
        return false;
    }
    if (query_whole(req, "page_size", 0, page_size) < 0) {
        http_respond_error(req, 422, "validation_failed",
                           "must be a whole number from 1 (above 100 counts as 100)", "page_size");
        return false;
    }
    if (*page_size > KIT_PAGE_SIZE_MAX)
        *page_size = KIT_PAGE_SIZE_MAX;
    return true;
}

cJSON *kit_page_envelope(cJSON *o, int64_t count, int64_t page, int64_t page_size)
{
    cJSON_AddNumberToObject(o, "count", (double)count);
    cJSON *results = cJSON_AddArrayToObject(o, "results");
    cJSON_AddNumberToObject(o, "page", (double)page);
    cJSON_AddNumberToObject(o, "page_size", (double)page_size);
    return results;
}

void kit_page_slice(int64_t total, int64_t page, int64_t page_size, int *from, int *to)
{
    int64_t first = (page - 1) * page_size;
    int64_t last = first + page_size;
    *from = (int)(first < total ? first : total);
    *to = (int)(last < total ? last : total);
}
