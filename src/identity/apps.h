/*
 * Apps (tenants): creating them with a first secret, listing them,
 * and the `default` app made at the first start. These calls are synchronous
 * (store_*_wait): start-up and the CLI only, never an event loop. A secret is
 * shown once, when made, and kept only as a keyed hash (tokens.h).
 */
#ifndef HERALD_IDENTITY_APPS_H
#define HERALD_IDENTITY_APPS_H

#include <stdio.h>

#include "auth/tokens.h"

struct identity;

#define APP_NAME_MAX 128
#define APP_KEY_MAX 64

/*
 * Creates an app called name with public key key (NULL: a generated one) and
 * one new secret. Writes the key (APP_KEY_MAX + 1 bytes) and the secret
 * (TOKEN_LEN + 1 bytes) to key_out and secret_out. Returns 0, ERR_INVAL (bad
 * name or key), ERR_EXISTS (key taken) or a store error.
 */
int identity_app_create(struct identity *id, const char *name, const char *key,
                        char key_out[APP_KEY_MAX + 1], char secret_out[TOKEN_LEN + 1]);

/*
 * When the apps table is empty, creates the `default` app (key "default").
 * Its first secret is shown to nobody: serve's output is often kept in logs.
 * An operator gets a secret with identity_app_secret_add (herald app secret
 * default). Returns 0 (also when apps exist) or a negative enum err.
 */
int identity_apps_bootstrap(struct identity *id);

/*
 * Adds a new secret to the app whose key is key and writes it (TOKEN_LEN + 1
 * bytes) to secret_out. Older secrets stay valid (rotation with expiry comes
 * with the console). Returns 0, ERR_NOTFOUND (no such app) or a store error.
 */
int identity_app_secret_add(struct identity *id, const char *key, char secret_out[TOKEN_LEN + 1]);

/* Prints one line per app ("id key status name") to out. Returns 0 or a store error. */
int identity_apps_print(struct identity *id, FILE *out);

#endif
