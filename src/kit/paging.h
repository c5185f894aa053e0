/*
 * The paging of every list (docs/admin.md, "Lists"): `?page=&page_size=`, one rule for
 * all: page a whole number from 1 to KIT_PAGE_MAX (default 1), page_size a whole number from 1
 * (default 20), one above KIT_PAGE_SIZE_MAX served as KIT_PAGE_SIZE_MAX (the answer's
 * page_size says so). Absent or empty: the default.
 */
#ifndef HERALD_KIT_PAGING_H
#define HERALD_KIT_PAGING_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct http_req;

#define KIT_PAGE_MAX 1000000
#define KIT_PAGE_SIZE_MAX 100
#define KIT_PAGE_SIZE_DEFAULT 20

/* Reads req's page and page_size; anything else than the rule above answers 422
 * validation_failed naming the parameter and returns false. Loop thread of req. */
bool kit_paging(struct http_req *req, int64_t *page, int64_t *page_size);

/* A page's answer: adds count, an empty results array, page and page_size to o (in the order
 * of SPEC §3) and returns the array for the caller to fill. */
cJSON *kit_page_envelope(cJSON *o, int64_t count, int64_t page, int64_t page_size);

/* The rows [*from, *to) of page (page_size rows each) among total rows held in memory. */
void kit_page_slice(int64_t total, int64_t page, int64_t page_size, int *from, int *to);

#endif
