/*
 * `herald user import FILE` (issue 3 §4): users from JSON lines (one user
 * object per line, the fields of POST /users) or CSV (a header row naming
 * the columns id, name, avatar, kind, disabled, metadata (JSON text),
 * email / phone / wechat_openid or contacts.<name>, and password_hash for
 * hashes carried over from a source system: "$y$" yescrypt or bcrypt
 * "$2a$/$2b$/$2y$", upgraded at the next login). Each user is created or
 * updated (the /users/batch semantics).
 *
 * The file is read twice: first every record is validated (the rules of POST
 * /users; JSON lines through json_check like request bodies, CSV cells UTF-8
 * without NUL bytes; an id on two lines is refused naming both), and when any is
 * invalid the errors are printed (with line numbers) and nothing is written;
 * then the users are written in transactions of USER_BATCH_MAX. A record that
 * disables an existing user or sets its password_hash ends the user's sessions
 * as the API does (refresh tokens in the transaction, access tokens and sockets
 * by revocation). A progress line goes to the progress stream. Synchronous: CLI
 * only.
 */
#ifndef HERALD_IDENTITY_USER_IMPORT_H
#define HERALD_IDENTITY_USER_IMPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct identity;

enum user_import_format { USER_IMPORT_AUTO = 0, USER_IMPORT_JSONL, USER_IMPORT_CSV };

/*
 * Imports path into the app whose key is app_key. AUTO picks CSV for a
 * ".csv" name, JSON lines otherwise. Errors and progress go to progress.
 * Returns 0 and sets *count (may be NULL) to the users written; ERR_NOTFOUND
 * (no such app), ERR_INVAL (invalid records: nothing written), ERR_IO, or a
 * store error.
 */
int identity_users_import(struct identity *id, const char *app_key, const char *path,
                          enum user_import_format fmt, FILE *progress, int64_t *count);

/*
 * The first (validating) pass of an import over an open stream, writing nothing: 0 when
 * every record is valid, ERR_INVAL (messages on progress, *errors of them), or ERR_IO.
 * *count is the number of valid records. in stays open. For the fuzzer and tests.
 */
int identity_users_import_check(FILE *in, bool csv, FILE *progress, int64_t *count,
                                int64_t *errors);

#endif
