/*
 * The request kit's JSON input decoder: binds the members of a JSON object to a C struct from
 * a table of field descriptors, so that every handler checks its input the same way. A table
 * lists each accepted member with its kind, its limits and where it goes in the target struct;
 * nested objects and arrays have tables of their own. The first bad member (in the order of
 * the JSON text) stops the decoding with its exact JSON path ("users[3].contacts.email") and
 * a message; handlers answer it as 422 validation_failed with the path in the error's field.
 * Members not in a table are refused ("unknown field") or ignored, as the table says; each
 * API keeps the behaviour it documents.
 *
 * The id, name and e-mail rules of the SPEC live here once (kit_id_is_valid,
 * kit_name_is_valid, kit_email_is_valid), and every module uses them.
 *
 * Strings are borrowed from the cJSON value, which must outlive the target. Any thread.
 */
#ifndef HERALD_KIT_DECODE_H
#define HERALD_KIT_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct http_req;

#define KIT_PATH_MAX 160         /* bytes of an error path, NUL included; longer paths are cut */
#define KIT_ID_MAX 64            /* characters of a user id (SPEC: 1-64 of [A-Za-z0-9_.@:-]) */
#define KIT_INT_ABSENT INT64_MIN /* an int member that was not given */

/* ---- the rules (SPEC) */

/* A user id: 1-64 characters of [A-Za-z0-9_.@:-] (SPEC, "User"). */
bool kit_id_is_valid(const char *s);

/*
 * A user id no user may take: the last segment of a literal route beside /users/{id}
 * ("online", "batch"), which that route would always shadow.
 */
bool kit_id_is_reserved(const char *s);

/* A console name or server id: 1..max characters of [A-Za-z0-9_.@-]. */
bool kit_name_is_valid(const char *s, size_t max);

/*
 * An e-mail address (contacts.email wherever a user is written, register, operators): 3-254
 * bytes, one '@' with text on both sides, a dot inside the domain, no spaces or controls.
 */
bool kit_email_is_valid(const char *s);

/* s holds no control character (U+0000-U+001F, U+007F). */
bool kit_is_one_line(const char *s);

/* Characters (UTF-8 code points) of s, which is valid UTF-8. */
size_t kit_utf8_len(const char *s);

/* ---- the table */

enum kit_kind {
    KIT_STRING, /* const char *: a string of min..max characters (bytes with KIT_BYTES) */
    KIT_ID,     /* const char *: a user id (kit_id_is_valid) */
    KIT_NAME,   /* const char *: a name of 1..max (64 when 0) characters (kit_name_is_valid) */
    KIT_EMAIL,  /* const char *: an e-mail address (kit_email_is_valid) */
    KIT_MEDIA,  /* const char *: a string of min..max characters where a URL or a media path
                   may be given (an avatar, a media message's url): "", an http:// or https://
                   URL, or a clean "/media/..." path (any other scheme, javascript: and data:
                   among them, and any other '/' path are refused); bound in its stored form
                   (media_url_stored, kit/media_url.h: HERALD_BASE_URL + "/media/..." relative) */
    KIT_INT,    /* int64_t: a whole number in min..max; KIT_INT_ABSENT when not given */
    KIT_BOOL,   /* int: 0 or 1; -1 when not given */
    KIT_OBJECT, /* const cJSON *: an object; decoded with sub into the same target when set;
                   max: bytes of its compact JSON (0: no bound) */
    KIT_ARRAY,  /* struct kit_array: min..max elements, each checked against elem */
    KIT_JSON,   /* const cJSON *: any JSON value */
};

enum {
    KIT_REQUIRED = 1 << 0, /* absent: "is required" */
    KIT_BYTES = 1 << 1,    /* min/max of a string count bytes, not characters */
    KIT_REFUSED = 1 << 2,  /* present: refused ("cannot be set through this endpoint") */
    KIT_NULLABLE = 1 << 3, /* null is taken as absent */
    KIT_LINE = 1 << 4,     /* a string: one line of text, no control character (U+0000-U+001F,
                              U+007F): a display name that lists and logs show on one line */
};

struct kit_table;

struct kit_field {
    const char *name; /* the JSON member; NULL ends a table */
    enum kit_kind kind;
    unsigned flags;               /* KIT_REQUIRED ... */
    int64_t min, max;             /* see the kinds; max 0: no upper bound */
    size_t at;                    /* KIT_AT(struct, member) of the target; 0: checked only */
    const struct kit_table *sub;  /* KIT_OBJECT: its members */
    const struct kit_field *elem; /* KIT_ARRAY: each element (its name is not used) */
    const char *message;          /* replaces the kind's message when the value is refused */
};

struct kit_table {
    const struct kit_field *fields; /* ends with a {.name = NULL} entry */
    bool open;                      /* members not listed are accepted */
    const struct kit_field *rest;   /* open: each unlisted member must match this (NULL: any) */
    size_t key_max;                 /* open: bytes of an unlisted member's name (0: any) */
    const char *unknown;            /* the message for an unlisted member ("unknown field") */
};

/* Where a KIT_ARRAY lands: the array value and its size. */
struct kit_array {
    const cJSON *json; /* NULL when not given */
    int n;
};

/* The first refused member. */
struct kit_error {
    char field[KIT_PATH_MAX]; /* its JSON path: "" for the value itself */
    const char *message;      /* a static text or buf */
    char buf[160];
};

/* Where a field lands in the target struct (0, the default, stores nothing). */
#define KIT_AT(type, member) (offsetof(type, member) + 1)

/*
 * Decodes obj, which must be an object, against t into out (members not given keep the
 * "absent" value the decoder sets first: NULL, KIT_INT_ABSENT, -1, {NULL, 0}). prefix
 * (may be NULL) is the path of obj ("users[3]"). Returns 0, or ERR_INVAL with err filled.
 */
int kit_decode(const cJSON *obj, const struct kit_table *t, void *out, const char *prefix,
               struct kit_error *err);

/*
 * Checks one value v against field f alone (an array element, a member of an open object),
 * writing nothing. path is v's path. Returns 0 or ERR_INVAL with err filled.
 */
int kit_check(const cJSON *v, const struct kit_field *f, const char *path, struct kit_error *err);

/*
 * Parses text[0..len) as strict JSON (core/json_check, then cJSON) and decodes it against t.
 * Returns 0 with *root set (the caller frees it with cJSON_Delete; out borrows from it),
 * ERR_JSON when it is not JSON, or ERR_INVAL (a \u0000 inside a string, or a refused member)
 * with err filled and *root NULL.
 */
int kit_decode_text(const char *text, size_t len, const struct kit_table *t, void *out,
                    struct kit_error *err, cJSON **root);

/*
 * The one body reader with the decoder: reads req's JSON body (request_body_json: 415, 400,
 * 422 for \u0000) and decodes it against t into out. Returns the parsed body (the caller frees
 * it; out borrows from it), or NULL after answering (422 validation_failed with the path).
 * Loop thread.
 */
cJSON *kit_body(struct http_req *req, const struct kit_table *t, void *out);

/*
 * Wipes the string member name of obj (a password the job now holds as a secret) and removes
 * it; nothing when obj has no such string member. Members bound from it before are gone.
 */
void kit_wipe_member(cJSON *obj, const char *name);

/* Answers err as 422 validation_failed with its path in the error's field. Loop thread. */
void kit_fail_decode(struct http_req *req, const struct kit_error *err);

#endif
