/*
 * Helpers shared by the commands of src/cli: loading and checking the
 * configuration, the --help flag lists, CLI logging, and opening the store and
 * the identity context the way every command does (see internal.h).
 */
#include "cli/internal.h"

#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "auth/secretbox.h"
#include "core/config.h"
#include "core/fs.h"
#include "core/log.h"
#include "identity/identity.h"
#include "store/store.h"
#include "upload/upload.h"

extern char **environ;

#define JWT_KEY_FILE "jwt.key"

/* The settings each command uses, for its --help (check-config and serve: all of them). */
const char *const cli__store_flags[] = {"HERALD_DATA_DIR",   "HERALD_DATABASE_URL",
                                        "HERALD_DURABILITY", "HERALD_LOG_LEVEL",
                                        "HERALD_LOG_FORMAT", NULL};
const char *const cli__identity_flags[] = {
    "HERALD_DATA_DIR",       "HERALD_DATABASE_URL", "HERALD_DURABILITY", "HERALD_JWT_SECRET",
    "HERALD_ENCRYPTION_KEY", "HERALD_LOG_LEVEL",    "HERALD_LOG_FORMAT", NULL};

/* The flags part of a command's --help: its settings, then --verbose. */
void cli__print_flags(const char *const *only)
{
    printf("\nflags (and environment variables):\n");
    int width = config_print_help(stdout, only);
    if (only != NULL)
        printf("  %-*s  log info lines too (default: warnings and errors only)\n", width,
               "--verbose, -v");
}

/*
 * Removes --verbose / -v from argv (a CLI switch, not a setting); true when
 * it was there.
 */
bool cli__take_verbose(int *argc, char **argv)
{
    bool seen = false;
    int o = 0;
    for (int i = 0; i < *argc; i++) {
        if (strcmp(argv[i], "--verbose") == 0 || strcmp(argv[i], "-v") == 0)
            seen = true;
        else
            argv[o++] = argv[i];
    }
    *argc = o;
    return seen;
}

/* Logging for a CLI command: warnings and errors only, unless --verbose. */
void cli__log_setup(const struct config *cfg, bool verbose)
{
    int level = cfg->log_level;
    if (!verbose && level < LOG_WARN)
        level = LOG_WARN;
    log_setup((enum log_level)level, cfg->log_json);
}

bool cli_wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    return false;
}

/*
 * Loads the configuration. Warnings (unknown settings) are collected into
 * *warnings (caller frees) so that they can go through the logger once its
 * format is known; when warnings is NULL they go to stderr directly. cmd names the
 * command ("serve", "app", ...) for the hint of an unknown flag.
 */
int cli__load_config(struct config *cfg, const char *cmd, int argc, char **argv, char **warnings)
{
    char err[512];
    size_t wlen = 0;
    FILE *w = warnings ? open_memstream(warnings, &wlen) : NULL;
    config_set_warn_stream(w);
    int rc = config_load(cfg, NULL, environ, argc, argv, err, sizeof(err));
    config_set_warn_stream(NULL);
    if (w)
        fclose(w);
    if (rc != 0 && strncmp(err, "unknown flag ", 13) == 0) {
        log_fatal("configuration error: %s (see herald %s --help)", err, cmd);
        config_release(cfg);
        return -1;
    }
    if (rc != 0) {
        log_fatal("configuration error: %s", err);
        config_release(cfg);
        return -1;
    }
    return 0;
}

/*
 * The checks on settings that need more than the configuration loader (the
 * key format, the host name of HERALD_LISTEN when listen is set). serve runs
 * them before it touches the data folder, check-config runs the same, so a
 * configuration that check-config passes does not fail at start.
 */
int cli__check_settings(struct config *cfg, bool listen)
{
    char err[512];
    uint8_t key[SECRETBOX_KEY_LEN];
    int rc = 0;
    if (cfg->encryption_key != NULL && cfg->encryption_key[0] != '\0')
        rc = secretbox_key_load(cfg->encryption_key, NULL, key, err, sizeof(err));
    OPENSSL_cleanse(key, sizeof(key));
    if (rc == 0)
        rc = upload_settings_check(cfg, err, sizeof(err));
    if (rc == 0 && listen)
        rc = config_resolve_listen(cfg, err, sizeof(err));
    if (rc != 0) {
        log_fatal("configuration error: %s", err);
        return -1;
    }
    return 0;
}

/*
 * Opens the store named by the configuration (creating the data folder for an
 * embedded database first) and brings its schema up to date.
 */
struct store *cli__open_store(const struct config *cfg)
{
    char err[512];
    struct store *st = NULL;
    int version = 0;
    if (strncmp(cfg->database_url, "sqlite:", 7) == 0 && fs_make_dirs(cfg->data_dir, 0700) != 0) {
        log_fatal("cannot create HERALD_DATA_DIR %s: %s", cfg->data_dir, strerror(errno));
        return NULL;
    }
    enum store_durability d = cfg->durability ? STORE_DURABILITY_STRICT : STORE_DURABILITY_NORMAL;
    if (store_open(cfg->database_url, d, &st, err, sizeof(err)) != 0) {
        /* name the setting the user wrote, once: the store's text may start with it */
        const char *e = err;
        if (strncmp(e, "HERALD_DATABASE_URL: ", 21) == 0)
            e += 21;
        else if (strncmp(e, "store: ", 7) == 0)
            e += 7;
        char derived[4200];
        snprintf(derived, sizeof(derived), "sqlite:%s/herald.db", cfg->data_dir);
        if (strcmp(cfg->database_url, derived) == 0)
            log_fatal("cannot use HERALD_DATA_DIR %s: %s", cfg->data_dir, e);
        else
            log_fatal("HERALD_DATABASE_URL: %s", e);
        return NULL;
    }
    if (store_migrate(st, 0, &version, err, sizeof(err)) != 0) {
        log_fatal("cannot migrate the database: %s", err);
        store_close(st);
        return NULL;
    }
    log_info("store", "database ready schema=%d", version);
    return st;
}

/*
 * Loads the keys (HERALD_JWT_SECRET or DATA_DIR/jwt.key, HERALD_ENCRYPTION_KEY
 * or DATA_DIR/encryption.key; generated at first start) and fills id.
 */
int cli__open_identity(const struct config *cfg, struct store *st, struct identity *id)
{
    char err[512];
    uint8_t enc[SECRETBOX_KEY_LEN], jwt[SECRETBOX_KEY_LEN];
    int rc = secretbox_key_load(cfg->encryption_key, cfg->data_dir, enc, err, sizeof(err));
    if (rc != 0) {
        log_fatal("%s", err);
        return -1;
    }
    const void *jkey = jwt;
    size_t jlen = sizeof(jwt);
    if (cfg->jwt_secret != NULL && cfg->jwt_secret[0] != '\0') {
        jkey = cfg->jwt_secret;
        jlen = strlen(cfg->jwt_secret);
    } else if (secretbox_keyfile_load("HERALD_JWT_SECRET", NULL, cfg->data_dir, JWT_KEY_FILE, jwt,
                                      err, sizeof(err)) != 0) {
        log_fatal("%s", err);
        OPENSSL_cleanse(enc, sizeof(enc));
        return -1;
    }
    struct identity_options o = {.access_ttl_s = cfg->access_ttl_ms / 1000,
                                 .refresh_ttl_s = (int64_t)(cfg->refresh_ttl_ms / 1000),
                                 .operator_ttl_s = (int64_t)(cfg->operator_ttl_ms / 1000),
                                 .demo = cfg->demo};
    rc = identity_init(id, st, jkey, jlen, enc, &o);
    OPENSSL_cleanse(enc, sizeof(enc));
    OPENSSL_cleanse(jwt, sizeof(jwt));
    if (rc != 0) {
        identity_release(id);
        log_fatal("cannot set up the identity keys");
        return -1;
    }
    return 0;
}
