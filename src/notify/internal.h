/*
 * Shared inside src/notify/: the secret members of a channel config (sealed at rest, masked
 * when read, plain only inside a driver state) and the channel limits of the console API.
 */
#ifndef HERALD_NOTIFY_INTERNAL_H
#define HERALD_NOTIFY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "notify/drivers.h"

#define NOTIFY_CONFIG_MAX 16384 /* bytes of a channel's config JSON */
#define NOTIFY_CHANNELS_MAX 100 /* channels per app */

/*
 * Seals, in config (being saved), every secret member d names: a string equal to the mask of
 * the same member of stored (the config saved before, sealed; NULL on create) keeps the stored
 * sealed value; any other string is sealed under key. Returns 0 or an enum err (ERR_BACKEND
 * when sealing fails); config is then partly sealed and must not be saved.
 */
int notify__config_seal(const uint8_t *key, const struct notify_driver *d, cJSON *config,
                        const cJSON *stored);

/* Replaces every sealed secret member of config by its mask (secret_mask of the plain value;
 * "****" when it cannot be opened). */
void notify__config_mask(const uint8_t *key, const struct notify_driver *d, cJSON *config);

/* Replaces every sealed secret member of config by its plain value. Returns 0 or ERR_INVAL
 * (a member that does not open under key: another key, altered). */
int notify__config_open(const uint8_t *key, const struct notify_driver *d, cJSON *config);

struct notify_channels;

/* Drops the opened state of channel id (deleted or changed): closed once no send holds it,
 * so its connections end. Any thread. */
void notify__channels_forget(struct notify_channels *chs, const char *id);

/* ---- the email driver's message (email_mime.c) */

#define NOTIFY_MSGID_MAX 80 /* bytes of a Message-ID, NUL included */

struct buf;

/* Whether a is a bare e-mail address that may appear in a header and an SMTP command: 3-254
 * printable ASCII bytes, one '@', a dot in the domain, none of <>()[],;:\" or space. */
bool notify__mail_addr_ok(const char *a);

/* Appends s as a header value: raw when printable ASCII, else RFC 2047 encoded words (UTF-8,
 * base64), folded; controls (CR, LF) never reach the header. */
void notify__mail_header_text(struct buf *out, const char *s);

/* "<delivery_id@herald>" with every byte outside [A-Za-z0-9._-] replaced: the same for every
 * attempt of a delivery; a random id when delivery_id is NULL or empty. */
void notify__mail_message_id(char *out, size_t outsz, const char *delivery_id);

/* Appends the whole message (headers, CRLF line ends) to out: from_hdr the ready From value,
 * to a bare address (notify__mail_addr_ok), html NULL for text only. Returns 0 or ERR_INVAL
 * (to refused). */
int notify__mail_build(struct buf *out, const char *from_hdr, const char *to, const char *subject,
                       const char *text, const char *html, const char *message_id, int64_t now_ms);

#endif
