/*
 * Uploads and media (docs/uploads.md): POST /api/v1/uploads takes one file in a
 * multipart/form-data body (field "file") from an end user, streamed to disk as it arrives
 * (never held whole in memory), sniffed from its first bytes against HERALD_UPLOAD_TYPES,
 * stored under DATA_DIR/media/uploads/YYYY/MM/DD/<128-bit random name>.<ext> and recorded in
 * the uploads table; images get their size and a thumbnail. GET/HEAD /media/... serves what
 * is stored there, streamed, with ranges, to anyone holding the URL (capability URLs).
 */
#ifndef HERALD_UPLOAD_UPLOAD_H
#define HERALD_UPLOAD_UPLOAD_H

#include <stddef.h>

struct config;
struct identity;
struct router;
struct upload;

/*
 * Checks the upload settings of cfg (HERALD_UPLOAD_TYPES: every type known to media/sniff.h).
 * Returns 0, or -1 with one line naming the setting in err.
 */
int upload_settings_check(const struct config *cfg, char *err, size_t errlen);

/*
 * The module: borrows cfg and id (both outlive it); starts the thumbnail worker. NULL on a
 * bad setting (err filled). Main thread.
 */
struct upload *upload_new(const struct config *cfg, struct identity *id, char *err, size_t errlen);
/* Adds POST /api/v1/uploads and GET/HEAD /media/... to r. */
void upload_register(struct upload *u, struct router *r);
/* Shutdown: the thumbnail worker runs what is queued cancelled (no thumbnail) and stops. */
void upload_stop(struct upload *u);
void upload_free(struct upload *u); /* NULL-safe; after the loops have ended */

#endif
