/*
 * Server configuration (README, "Configuration"). Sources, lowest to highest precedence:
 * built-in defaults, a `.env` file in the working directory, HERALD_*
 * environment variables, command-line flags (`--listen=…` or `--listen …`,
 * named after the variable: HERALD_MAX_BODY -> --max-body). Every setting has
 * a safe default and is validated at load time; an error names the setting.
 */
#ifndef HERALD_CORE_CONFIG_H
#define HERALD_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The file types accepted when HERALD_UPLOAD_TYPES is unset (media/sniff.h knows each). */
#define UPLOAD_TYPES_DEFAULT                                                                       \
    "image/png,image/jpeg,image/gif,image/webp,application/pdf,audio/mpeg,audio/ogg,audio/wav,"    \
    "audio/mp4,video/mp4,video/webm,text/plain,application/zip"

struct config {
    /* network */
    char *listen_host;   /* HERALD_LISTEN host part, default "0.0.0.0" */
    int listen_port;     /* HERALD_LISTEN port part, default 8080; 0 = any free port */
    int workers;         /* HERALD_WORKERS event loops, default = online CPUs (1..64) */
    int max_connections; /* HERALD_MAX_CONNECTIONS, default 60000 */
    /* HTTP limits */
    size_t max_url;          /* HERALD_MAX_URL bytes of request target, default 8192 (-> 414) */
    size_t max_header_bytes; /* HERALD_MAX_HEADER_BYTES, default 32768 (-> 431) */
    int max_headers;         /* HERALD_MAX_HEADERS count, default 100 (-> 431) */
    size_t max_body;         /* HERALD_MAX_BODY JSON request bodies, default 1 MiB (-> 413) */
    int header_timeout_ms; /* HERALD_HEADER_TIMEOUT, default 10s: request head must arrive in it */
    int idle_timeout_ms;   /* HERALD_IDLE_TIMEOUT keep-alive idle, default 60s */
    char *cors_origins;    /* HERALD_CORS_ORIGINS comma list, "*" or empty (default: none) */
    char *static_dir; /* HERALD_STATIC_DIR UI files; default NULL: the UI built into the binary */
    char *app_title;  /* HERALD_APP_TITLE product name shown by the UI, default "Herald" */
    char *app_description; /* HERALD_APP_DESCRIPTION one line under the title, default NULL */
    bool trust_proxy;      /* HERALD_TRUST_PROXY honour X-Forwarded-For, default false */
    char *trusted_proxies; /* HERALD_TRUSTED_PROXIES canonical CIDR list, default loopback */
    /* WebSocket */
    size_t ws_max_message; /* HERALD_WS_MAX_MESSAGE, default 64 KiB (-> 1009) */
    size_t ws_max_queue;   /* HERALD_WS_MAX_QUEUE output bytes per conn, default 1 MiB (-> 1008) */
    int ws_heartbeat_ms;   /* HERALD_WS_HEARTBEAT ping interval, default 30s; dead after 2 missed */
    /* storage and identity (used by the store and auth modules) */
    char *data_dir;         /* HERALD_DATA_DIR, default "./data" */
    bool demo;              /* HERALD_DEMO, default false */
    char *database_url;     /* HERALD_DATABASE_URL, default sqlite:<data_dir>/herald.db */
    char *redis_url;        /* HERALD_REDIS_URL (secret: may hold a password); NULL: one node */
    int durability;         /* HERALD_DURABILITY normal|strict (0|1), default normal */
    char *jwt_secret;       /* HERALD_JWT_SECRET (secret); NULL: DATA_DIR/jwt.key, generated */
    int access_ttl_ms;      /* HERALD_ACCESS_TTL access-token lifetime, default 15m */
    size_t refresh_ttl_ms;  /* HERALD_REFRESH_TTL end-user refresh-token lifetime, default 30d */
    size_t operator_ttl_ms; /* HERALD_OPERATOR_TTL console token lifetime, default 7d */
    char *encryption_key;   /* HERALD_ENCRYPTION_KEY (secret); NULL: DATA_DIR/encryption.key */
    /* chat */
    int max_message_chars; /* HERALD_MAX_MESSAGE_CHARS characters of a text message, 4000 */
    int history_days;      /* HERALD_HISTORY_DAYS days of chat messages and events kept, 0 all */
    int presence_grace_ms; /* HERALD_PRESENCE_GRACE: online after the last device went, 5 s */
    int recall_window_ms;  /* HERALD_RECALL_WINDOW: a sender may recall a message, 2 min */
    int support_capacity;  /* HERALD_SUPPORT_CAPACITY: open conversations routed to an agent */
    /* notifications */
    size_t idempotency_window_ms; /* HERALD_IDEMPOTENCY_WINDOW: a key is the app's this long, 24h */
    /* uploads */
    size_t max_upload;  /* HERALD_MAX_UPLOAD bytes of one uploaded file, default 10 MiB (-> 413) */
    char *upload_types; /* HERALD_UPLOAD_TYPES accepted mimes (sniffed); NULL: the default */
    int upload_rate;    /* HERALD_UPLOAD_RATE uploads per user per minute, 30 (0: no limit) */
    char *base_url;     /* HERALD_BASE_URL prefix of absolute media URLs; "": the request's Host */
    /* outbound HTTP of the notification channels */
    bool allow_private_targets; /* HERALD_ALLOW_PRIVATE_TARGETS, default false (SSRF guard) */
    /* logs */
    int log_level;           /* HERALD_LOG_LEVEL debug|info|warn|error|off, default info */
    bool log_json;           /* HERALD_LOG_FORMAT text|json, default text */
    int shutdown_timeout_ms; /* HERALD_SHUTDOWN_TIMEOUT, default 10s */
    int busy_poll_us;        /* HERALD_BUSY_POLL_US spin after I/O, default 50 */
};

/* Fills c with the defaults. c is treated as uninitialized; its strings are then
 * owned by c and freed by config_release(). */
void config_defaults(struct config *c);

/*
 * Loads defaults, then the .env file at env_path (NULL: "./.env"; a missing
 * file is fine), then the environment (envp, NULL-terminated "K=V" strings,
 * may be NULL), then argv flags (argv[0..argc-1] are flags only, no program
 * name and no subcommand). c is treated as uninitialized: release a loaded
 * config before loading into it again. Returns 0 (c then owns its strings),
 * or -1 after writing one line naming the bad setting and why to errbuf
 * (NUL-terminated, at most errlen bytes); on error c owns nothing and
 * config_release(c) is harmless. Unknown flags are errors; unknown HERALD_*
 * variables and .env keys are ignored with a line
 * "warning: unknown setting HERALD_FOO ignored" on the warning stream
 * (stderr unless config_set_warn_stream() says otherwise). A .env key that is
 * also set in envp is skipped: the environment wins. Startup only (not
 * thread-safe).
 */
int config_load(struct config *c, const char *env_path, char **envp, int argc, char **argv,
                char *errbuf, size_t errlen);

/*
 * Applies the text of a .env file (len bytes, need not be NUL-terminated) on
 * top of c, which holds defaults or a loaded config; every HERALD_* key is
 * applied (no environment check). Errors name ".env line N". Returns 0 or -1
 * with errbuf set; either way c stays valid (lines before the bad one are
 * applied) and still needs config_release(). config_load uses it; exposed
 * for the fuzzer and tests.
 */
int config_load_env_text(struct config *c, const char *text, size_t len, char *errbuf,
                         size_t errlen);

/* Frees the strings owned by c and sets them to NULL (safe to call twice). */
void config_release(struct config *c);

/*
 * Prints every setting as NAME=value lines, secrets masked, to f (check-config).
 * Values that need it are double-quoted with \n \" \\ escapes, so the output
 * (without secrets) reads back as a .env file.
 */
void config_print(const struct config *c, FILE *f);

/* What config_print shows for a secret setting: "(unset)" when NULL or empty, else "****". */
const char *config_mask_secret(const char *value);

/* Where config_load writes warning lines; NULL means stderr (the default). Startup only. */
void config_set_warn_stream(FILE *f);

/*
 * Prints the flag list with one-line help and default for each setting (for
 * --help), in aligned columns. only: NULL for every setting, else a
 * NULL-terminated list of the HERALD_* names to show (a command's own flags).
 * Returns the width of the flag column, for a caller that adds lines.
 */
int config_print_help(FILE *f, const char *const *only);

/*
 * HERALD_LISTEN may name a host ("localhost:8080"); config_load checks only
 * its form. This resolves it (IPv4 first, then IPv6) and replaces
 * c->listen_host with the numeric address; an IP literal is left alone.
 * Returns 0, or -1 with one line naming HERALD_LISTEN in errbuf. Blocking
 * (the resolver): start-up only. Every command that uses the address (serve,
 * check-config) calls it right after config_load.
 */
int config_resolve_listen(struct config *c, char *errbuf, size_t errlen);

/*
 * Parses a duration: "250ms", "10s", "5m", "2h", "7d" (a unit is required;
 * only "0" may go without). Returns 0 and sets *ms, or -1.
 */
int config_parse_duration(const char *s, int64_t *ms);
/* Parses a size: "1024", "64k"/"64KiB", "10m"/"10MiB", "1g". Returns 0 or -1. */
int config_parse_size(const char *s, uint64_t *bytes);
/* Parses a boolean: 1/0, true/false, yes/no, on/off. Returns 0 or -1. */
int config_parse_bool(const char *s, bool *out);

#endif
