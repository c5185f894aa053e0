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

struct http_req;

#define KIT_PAGE_MAX 1000000
#define KIT_PAGE_SIZE_MAX 100
#define KIT_PAGE_SIZE_DEFAULT 20

/* Reads req's page and page_size; anything else than the rule above answers 422
 * validation_failed naming the parameter and returns false. Loop thread of req. */
bool kit_paging(struct http_req *req, int64_t *page, int64_t *page_size);

#endif
