/*
 * Numbers of free JSON (a user's metadata, a notification's data, a custom message's content)
 * kept as the client sent them, to the last bit of the double: cJSON prints a number with 15
 * significant digits whenever that reads back within a relative epsilon, so 9007199254740991
 * (JavaScript's largest safe integer, an order id, a microsecond timestamp) would come back as
 * ...990 and 0.30000000000000004 as 0.3. After parsing such a value, json_exact turns each number
 * that 15 digits do not give back exactly into a raw item holding its 17-digit form, which cJSON
 * prints as it is. A number too large for a double is refused before (core/json_check.h).
 */
#ifndef HERALD_CORE_JSON_EXACT_H
#define HERALD_CORE_JSON_EXACT_H

#include <cjson/cJSON.h>

/* Rewrites the numbers inside v in place (NULL-safe); returns v. */
cJSON *json_exact(cJSON *v);

/* cJSON_Parse(text) followed by json_exact: stored free JSON read back. */
cJSON *json_exact_parse(const char *text);

#endif
