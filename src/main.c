/*
 * The herald binary: command-line dispatch and the wiring of modules. This is
 * the only file that knows every module.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "auth/secretbox.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/version.h"
#include "identity/apps.h"
#include "console/console.h"
#include "identity/identity.h"
#include "identity/user_import.h"
#include "metrics/metrics.h"
#include "metrics/ops.h"
#include "net/server.h"
#include "net/static_files.h"
#include "router/router.h"
#include "rt/rt.h"
#include "store/store.h"

extern char **environ;

#define STATIC_MAX_TOTAL (64u << 20)
/* Shutdown: once the workers and the store have stopped, their last completions are queued
   on the loops and run in milliseconds; past this the loops end anyway (server_stop). */
#define SHUTDOWN_LOOP_GRACE_MS 2000

static void usage(FILE *f)
{
    fprintf(f,
            "usage: herald <command> [flags]\n"
            "\n"
            "Herald " HERALD_VERSION ": a self-hosted real-time messaging and notification hub.\n"
            "\n"
            "commands:\n"
            "  serve               start the server (HTTP API, WebSocket /ws, web UI)\n"
            "  migrate             apply the database migrations and exit\n"
            "  app create NAME     create an app; prints its key and secret (shown once)\n"
            "  app list            list the apps\n"
            "  app secret KEY      add a secret to an app; prints it (shown once)\n"
            "  user import FILE    create or update users from JSON lines or CSV\n"
            "  admin create NAME   create a console operator (superadmin)\n"
            "  admin passwd NAME   set an operator's password\n"
            "  check-config        check the settings; print them, secrets masked\n"
            "  version             print the version and exit\n"
            "  help [COMMAND]      show this text, or the help of a command\n"
            "\n"
            "Run 'herald help <command>' or 'herald <command> --help' for the flags of a\n"
            "command. Every flag has an environment variable (HERALD_*) and may be set in a\n"
            ".env file in the working directory; flags win over the environment, which wins\n"
            "over .env. Commands other than serve log only warnings and errors unless given\n"
            "--verbose.\n");
}

/* The settings each command uses, for its --help (check-config and serve: all of them). */
static const char *const store_flags[] = {"HERALD_DATA_DIR",   "HERALD_DATABASE_URL",
                                          "HERALD_DURABILITY", "HERALD_LOG_LEVEL",
                                          "HERALD_LOG_FORMAT", NULL};
static const char *const identity_flags[] = {
    "HERALD_DATA_DIR",       "HERALD_DATABASE_URL", "HERALD_DURABILITY", "HERALD_JWT_SECRET",
    "HERALD_ENCRYPTION_KEY", "HERALD_LOG_LEVEL",    "HERALD_LOG_FORMAT", NULL};

/* The flags part of a command's --help: its settings, then --verbose. */
static void print_flags(const char *const *only)
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
static bool take_verbose(int *argc, char **argv)
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
static void cli_log_setup(const struct config *cfg, bool verbose)
{
    int level = cfg->log_level;
    if (!verbose && level < LOG_WARN)
        level = LOG_WARN;
    log_setup((enum log_level)level, cfg->log_json);
}

static bool wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    return false;
}

/*
 * Loads the configuration. Warnings (unknown settings) are collected into
 * *warnings (caller frees) so that they can go through the logger once its
 * format is known; when warnings is NULL they go to stderr directly.
 */
static int load_config(struct config *cfg, int argc, char **argv, char **warnings)
{
    char err[512];
    size_t wlen = 0;
    FILE *w = warnings ? open_memstream(warnings, &wlen) : NULL;
    config_set_warn_stream(w);
    int rc = config_load(cfg, NULL, environ, argc, argv, err, sizeof(err));
    config_set_warn_stream(NULL);
    if (w)
        fclose(w);
    if (rc != 0) {
        fprintf(stderr, "herald: configuration error: %s\n", err);
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
static int check_settings(struct config *cfg, bool listen)
{
    char err[512];
    uint8_t key[SECRETBOX_KEY_LEN];
    int rc = 0;
    if (cfg->encryption_key != NULL && cfg->encryption_key[0] != '\0')
        rc = secretbox_key_load(cfg->encryption_key, NULL, key, err, sizeof(err));
    OPENSSL_cleanse(key, sizeof(key));
    if (rc == 0 && listen)
        rc = config_resolve_listen(cfg, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "herald: configuration error: %s\n", err);
        return -1;
    }
    return 0;
}

/*
 * One server per data folder: an exclusive flock() on DATA_DIR/herald.lock,
 * held until the process exits (the descriptor stays open; the kernel drops
 * the lock when the process dies, so a crash leaves nothing stale). The file
 * holds the pid of the holder, for the message of the next one. Returns 0, or
 * -1 after printing why.
 */
static int lock_data_dir(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/herald.lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "herald: cannot use HERALD_DATA_DIR %s: cannot create herald.lock: %s\n",
                dir, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char pid[24] = "";
        ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
        pid[n > 0 ? strcspn(pid, "\n") : 0] = '\0';
        if (e == EWOULDBLOCK)
            fprintf(stderr,
                    "herald: HERALD_DATA_DIR %s is in use by another herald serve%s%s%s; one "
                    "server per data folder\n",
                    dir, pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "");
        else
            fprintf(stderr, "herald: cannot use HERALD_DATA_DIR %s: cannot lock herald.lock: %s\n",
                    dir, strerror(e));
        close(fd);
        return -1;
    }
    char line[24];
    int len = snprintf(line, sizeof(line), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, line, (size_t)len, 0) != len)
        log_warn("main", "cannot write the pid to %s: %s", path, strerror(errno));
    return 0; /* fd stays open: the lock lives as long as the process */
}

/* Sends collected "warning: ..." lines through the logger, one event each. */
static void log_config_warnings(const char *warnings)
{
    const char *p = warnings;
    while (p && *p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        const char *msg = p;
        if (n > 9 && strncmp(msg, "warning: ", 9) == 0) {
            msg += 9;
            n -= 9;
        }
        if (n)
            log_warn("config", "%.*s", (int)n, msg);
        p = nl ? nl + 1 : p + strlen(p);
    }
}

/* mkdir -p with mode 0700 for the folders Herald creates. */
static int make_dirs(const char *path)
{
    char tmp[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof(tmp))
        return -1;
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

/*
 * Opens the store named by the configuration (creating the data folder for an
 * embedded database first) and brings its schema up to date.
 */
static struct store *open_store(const struct config *cfg)
{
    char err[512];
    struct store *st = NULL;
    int version = 0;
    if (strncmp(cfg->database_url, "sqlite:", 7) == 0 && make_dirs(cfg->data_dir) != 0) {
        fprintf(stderr, "herald: cannot create HERALD_DATA_DIR %s: %s\n", cfg->data_dir,
                strerror(errno));
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
            fprintf(stderr, "herald: cannot use HERALD_DATA_DIR %s: %s\n", cfg->data_dir, e);
        else
            fprintf(stderr, "herald: HERALD_DATABASE_URL: %s\n", e);
        return NULL;
    }
    if (store_migrate(st, 0, &version, err, sizeof(err)) != 0) {
        fprintf(stderr, "herald: cannot migrate the database: %s\n", err);
        store_close(st);
        return NULL;
    }
    log_info("store", "database ready schema=%d", version);
    return st;
}

#define JWT_KEY_FILE "jwt.key"

/*
 * Loads the keys (HERALD_JWT_SECRET or DATA_DIR/jwt.key, HERALD_ENCRYPTION_KEY
 * or DATA_DIR/encryption.key; generated at first start) and fills id.
 */
static int open_identity(const struct config *cfg, struct store *st, struct identity *id)
{
    char err[512];
    uint8_t enc[SECRETBOX_KEY_LEN], jwt[SECRETBOX_KEY_LEN];
    int rc = secretbox_key_load(cfg->encryption_key, cfg->data_dir, enc, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "herald: %s\n", err);
        return -1;
    }
    const void *jkey = jwt;
    size_t jlen = sizeof(jwt);
    if (cfg->jwt_secret != NULL && cfg->jwt_secret[0] != '\0') {
        jkey = cfg->jwt_secret;
        jlen = strlen(cfg->jwt_secret);
    } else if (secretbox_keyfile_load("HERALD_JWT_SECRET", NULL, cfg->data_dir, JWT_KEY_FILE, jwt,
                                      err, sizeof(err)) != 0) {
        fprintf(stderr, "herald: %s\n", err);
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
        fprintf(stderr, "herald: cannot set up the identity keys\n");
        return -1;
    }
    return 0;
}

static bool server_ready_cb(void *ud)
{
    struct server **s = ud;
    return server_is_ready(*s);
}

static int cmd_serve(int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        printf("usage: herald serve [flags]\n\nStarts the server. Prints the bound address "
               "(HOST:PORT) once it accepts\nconnections. Refuses to start when another process "
               "listens on the address or\nanother server uses the data folder.\n");
        print_flags(NULL);
        return 0;
    }
    struct config cfg;
    char *warnings = NULL;
    if (load_config(&cfg, argc, argv, &warnings) != 0) {
        if (warnings)
            fputs(warnings, stderr);
        free(warnings);
        return 2;
    }
    log_setup((enum log_level)cfg.log_level, cfg.log_json);
    log_config_warnings(warnings);
    free(warnings);
    /* every refusal before the data folder is touched: settings, the address, the folder */
    if (check_settings(&cfg, true) != 0) {
        config_release(&cfg);
        return 2;
    }
    char err[512];
    if (server_listen_probe(cfg.listen_host, cfg.listen_port, err, sizeof(err)) != 0) {
        fprintf(stderr, "herald: %s\n", err);
        config_release(&cfg);
        return 1;
    }
    if (make_dirs(cfg.data_dir) != 0) {
        fprintf(stderr, "herald: cannot create HERALD_DATA_DIR %s: %s\n", cfg.data_dir,
                strerror(errno));
        config_release(&cfg);
        return 1;
    }
    if (lock_data_dir(cfg.data_dir) != 0) {
        config_release(&cfg);
        return 1;
    }
    if (cfg.demo)
        log_warn("main", "DEMO MODE (HERALD_DEMO=1): anyone can act as any user of the default "
                         "app with ?user_id=, without a token. Never use this in production.");

    /* before the first thread starts (the store's): every thread inherits the mask, so a
       second SIGTERM during the shutdown stays pending instead of killing the process */
    signal(SIGPIPE, SIG_IGN);
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

    struct store *store = open_store(&cfg);
    if (store == NULL) {
        config_release(&cfg);
        return 1;
    }
    struct identity ident;
    memset(&ident, 0, sizeof(ident));
    if (open_identity(&cfg, store, &ident) != 0 || identity_apps_bootstrap(&ident) != 0 ||
        console_bootstrap(&ident, true) != 0) {
        identity_release(&ident);
        store_close(store);
        config_release(&cfg);
        return 1;
    }

    struct router *router = router_new();
    struct server *srv = NULL;
    struct ops_ctx ops = {.is_ready = server_ready_cb, .ready_ud = &srv, .store = store};
    ops_register(router, &ops);
    identity_register(router, &ident);
    console_register(router, &ident);
    struct rt *rt = rt_new(&ident, cfg.workers);
    rt_register_routes(rt, router);
    struct metrics *metrics = metrics_new(cfg.workers, router);
    ops.metrics = metrics;
    struct static_files *statics = static_files_load(cfg.static_dir, STATIC_MAX_TOTAL);

    struct server_opts opts = {
        .cfg = &cfg, .router = router, .statics = statics, .metrics = metrics};
    rt_ws_app(rt, &opts.ws);
    int port = 0;
    srv = server_start(&opts, &port);
    if (srv != NULL)
        rt_attach(rt, srv);
    if (srv == NULL) {
        rt_free(rt);
        identity_release(&ident);
        store_close(store);
        static_files_free(statics);
        metrics_free(metrics);
        router_free(router);
        config_release(&cfg);
        return 1;
    }
    if (strchr(cfg.listen_host, ':'))
        printf("listening on [%s]:%d\n", cfg.listen_host, port);
    else
        printf("listening on %s:%d\n", cfg.listen_host, port);
    fflush(stdout);
    log_info("main", "herald %s started workers=%d port=%d", HERALD_VERSION, cfg.workers, port);

    int sig = 0;
    sigwait(&stop_signals, &sig);
    log_info("main", "shutting down on %s", sig == SIGINT ? "SIGINT" : "SIGTERM");
    /*
     * The order matters (docs/ARCHITECTURE.md, "Shutdown"): every step may
     * still post completions to the loops, so the loops end only after the
     * last producer has stopped, and nothing is freed before the loops end.
     */
    server_drain(srv, cfg.shutdown_timeout_ms); /* stop accepting; answer or force */
    identity_stop(&ident); /* password workers (queued checks cancelled), pollers */
    store_stop(store);     /* queued ops finish; their callbacks post to live loops */
    server_stop(srv, SHUTDOWN_LOOP_GRACE_MS); /* loops end once no request is in flight */
    rt_attach(rt, NULL);                      /* the bus no longer wakes the loops */
    struct server *stopped = srv;
    srv = NULL; /* /health/ready (server_ready_cb) sees no server from here on */
    server_free(stopped);
    identity_release(&ident);
    store_close(store);
    rt_free(rt);
    static_files_free(statics);
    metrics_free(metrics);
    router_free(router);
    log_info("main", "stopped");
    config_release(&cfg);
    return 0;
}

static int cmd_migrate(int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        printf("usage: herald migrate [flags]\n\nApplies the pending database migrations of "
               "HERALD_DATABASE_URL (the\nserver also does this at start) and prints the schema "
               "version.\n");
        print_flags(store_flags);
        return 0;
    }
    bool verbose = take_verbose(&argc, argv);
    struct config cfg;
    if (load_config(&cfg, argc, argv, NULL) != 0)
        return 2;
    cli_log_setup(&cfg, verbose);
    struct store *st = open_store(&cfg);
    int version = 0;
    if (st)
        store_schema_version(st, &version);
    store_close(st);
    config_release(&cfg);
    if (st == NULL)
        return 1;
    printf("schema version %d\n", version);
    return 0;
}

/* herald app create NAME | herald app list */
static int cmd_app(int argc, char **argv)
{
    if (argc < 1 || wants_help(argc, argv)) {
        printf("usage: herald app create NAME [flags]\n       herald app secret KEY [flags]\n"
               "       herald app list [flags]\n\n"
               "Creates an app and prints its key and secret, adds a secret to an app\n"
               "(e.g. 'default') and prints it, or lists the apps (id key status name).\n"
               "Secrets are shown only once. Writes are recorded in the audit log\n"
               "(operator 'cli'). Uses HERALD_DATABASE_URL.\n");
        print_flags(identity_flags);
        return argc < 1 ? 2 : 0;
    }
    bool verbose = take_verbose(&argc, argv);
    bool create = strcmp(argv[0], "create") == 0, add = strcmp(argv[0], "secret") == 0;
    if (!create && !add && strcmp(argv[0], "list") != 0) {
        fprintf(stderr, "herald: unknown app command '%s' (create, secret or list)\n", argv[0]);
        return 2;
    }
    if ((create || add) && (argc < 2 || argv[1][0] == '-')) {
        fprintf(stderr, "herald: app %s needs a %s\n", argv[0], create ? "NAME" : "KEY");
        return 2;
    }
    int skip = create || add ? 2 : 1;
    struct config cfg;
    if (load_config(&cfg, argc - skip, argv + skip, NULL) != 0)
        return 2;
    cli_log_setup(&cfg, verbose);
    if (check_settings(&cfg, false) != 0) {
        config_release(&cfg);
        return 2;
    }
    struct store *st = open_store(&cfg);
    if (st == NULL) {
        config_release(&cfg);
        return 1;
    }
    struct identity ident;
    memset(&ident, 0, sizeof(ident));
    int rc = 1;
    /* the default app exists even before the first `serve` */
    if (open_identity(&cfg, st, &ident) != 0 || identity_apps_bootstrap(&ident) != 0)
        goto out;
    if (create) {
        char key[APP_KEY_MAX + 1], secret[TOKEN_LEN + 1];
        int e = console_app_create(&ident, argv[1], key, secret);
        if (e != 0) {
            fprintf(stderr, "herald: cannot create the app: %s\n",
                    e == ERR_INVAL ? "the name must be 1-128 characters" : "store error");
        } else {
            printf("key=%s\nsecret=%s\n", key, secret);
            OPENSSL_cleanse(secret, sizeof(secret));
            rc = 0;
        }
    } else if (add) {
        char secret[TOKEN_LEN + 1];
        int e = console_app_secret_add(&ident, argv[1], secret);
        if (e != 0) {
            fprintf(stderr, "herald: cannot add a secret: %s\n",
                    e == ERR_NOTFOUND ? "no app with this key" : "store error");
        } else {
            printf("key=%s\nsecret=%s\n", argv[1], secret);
            OPENSSL_cleanse(secret, sizeof(secret));
            rc = 0;
        }
    } else if (identity_apps_print(&ident, stdout) == 0) {
        rc = 0;
    }
    identity_release(&ident);
out:
    store_close(st);
    config_release(&cfg);
    return rc;
}

/*
 * A password from stdin (one line) or, on a terminal, a hidden prompt asked
 * twice. NULL after printing the one reason (none given, no terminal, the two
 * differ).
 */
static char *read_password(bool from_stdin, bool confirm)
{
    char *line = NULL;
    size_t cap = 0;
    if (from_stdin) {
        ssize_t n = getline(&line, &cap, stdin);
        if (n < 0) {
            free(line);
            fprintf(stderr, "herald: no password given on stdin\n");
            return NULL;
        }
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        return line;
    }
    FILE *tty = fopen("/dev/tty", "r+");
    if (tty == NULL) {
        fprintf(stderr, "herald: no terminal for the password prompt; use --password-stdin\n");
        return NULL;
    }
    struct termios old, quiet;
    bool have = tcgetattr(fileno(tty), &old) == 0;
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    char *first = NULL;
    for (int round = 0; round < (confirm ? 2 : 1); round++) {
        fprintf(tty, round ? "Repeat the password: " : "Password: ");
        fflush(tty);
        if (have)
            tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
        ssize_t n = getline(&line, &cap, tty);
        if (have)
            tcsetattr(fileno(tty), TCSAFLUSH, &old);
        fprintf(tty, "\n");
        if (n < 0) {
            free(line);
            free(first);
            fclose(tty);
            fprintf(stderr, "herald: no password given\n");
            return NULL;
        }
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (round == 0) {
            first = line;
            line = NULL;
            cap = 0;
        } else if (strcmp(first, line) != 0) {
            fprintf(stderr, "herald: the passwords differ\n");
            OPENSSL_cleanse(line, strlen(line));
            free(line);
            OPENSSL_cleanse(first, strlen(first));
            free(first);
            fclose(tty);
            return NULL;
        }
    }
    fclose(tty);
    if (line) {
        OPENSSL_cleanse(line, strlen(line));
        free(line);
    }
    return first;
}

/* herald admin create NAME | herald admin passwd NAME [--password-stdin] */
static int cmd_admin(int argc, char **argv)
{
    if (argc < 1 || wants_help(argc, argv)) {
        printf("usage: herald admin create NAME [--password-stdin] [flags]\n"
               "       herald admin passwd NAME [--password-stdin] [flags]\n\n"
               "Creates a console operator with the superadmin role, or sets the password of\n"
               "one (its tokens are revoked). The password (8 to 511 bytes) is asked twice on\n"
               "the terminal without echo, or read as one line from stdin with\n"
               "--password-stdin. Uses HERALD_DATABASE_URL.\n");
        print_flags(identity_flags);
        return argc < 1 ? 2 : 0;
    }
    bool verbose = take_verbose(&argc, argv);
    bool create = strcmp(argv[0], "create") == 0;
    if (!create && strcmp(argv[0], "passwd") != 0) {
        fprintf(stderr, "herald: unknown admin command '%s' (create or passwd)\n", argv[0]);
        return 2;
    }
    if (argc < 2 || argv[1][0] == '-') {
        fprintf(stderr, "herald: admin %s needs a NAME\n", argv[0]);
        return 2;
    }
    bool from_stdin = false;
    char *rest[64];
    int nrest = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--password-stdin") == 0)
            from_stdin = true;
        else if (nrest < 64)
            rest[nrest++] = argv[i];
    }
    struct config cfg;
    if (load_config(&cfg, nrest, rest, NULL) != 0)
        return 2;
    cli_log_setup(&cfg, verbose);
    if (check_settings(&cfg, false) != 0) {
        config_release(&cfg);
        return 2;
    }
    char *pw = read_password(from_stdin, create); /* says why when NULL */
    if (pw == NULL) {
        config_release(&cfg);
        return 1;
    }
    struct store *st = open_store(&cfg);
    struct identity ident;
    memset(&ident, 0, sizeof(ident));
    int rc = 1;
    if (st != NULL && open_identity(&cfg, st, &ident) == 0 &&
        identity_apps_bootstrap(&ident) == 0 && console_bootstrap(&ident, false) == 0) {
        const char *msg = NULL;
        int e = create ? console_admin_create(&ident, argv[1], pw, &msg)
                       : console_admin_passwd(&ident, argv[1], pw, &msg);
        if (e == 0) {
            printf(create ? "operator %s created (superadmin)\n" : "password of %s changed\n",
                   argv[1]);
            rc = 0;
        } else if (msg) {
            fprintf(stderr, "herald: %s\n", msg);
        } else if (e == ERR_EXISTS) {
            fprintf(stderr, "herald: an operator called %s exists\n", argv[1]);
        } else if (e == ERR_NOTFOUND) {
            fprintf(stderr, "herald: no operator called %s\n", argv[1]);
        } else {
            fprintf(stderr, "herald: failed: %s\n", err_str(e));
        }
    }
    OPENSSL_cleanse(pw, strlen(pw));
    free(pw);
    identity_release(&ident);
    store_close(st);
    config_release(&cfg);
    return rc;
}

/* herald user import FILE [--app KEY] [--format jsonl|csv] */
static int cmd_user(int argc, char **argv)
{
    if (argc < 1 || wants_help(argc, argv)) {
        printf("usage: herald user import FILE [--app KEY] [--format jsonl|csv] [flags]\n\n"
               "Creates or updates the users of an app (default: the app with key 'default')\n"
               "from JSON lines (one user object per line, as POST /api/v1/users) or CSV\n"
               "(a header row: id,name,avatar,kind,disabled,metadata,email,phone,\n"
               "wechat_openid,contacts.<name>,password_hash). Every record is checked first;\n"
               "if any is invalid, the errors are listed and nothing is imported.\n"
               "password_hash takes yescrypt ($y$) or bcrypt ($2b$) hashes from another\n"
               "system. Uses HERALD_DATABASE_URL.\n");
        print_flags(identity_flags);
        return argc < 1 ? 2 : 0;
    }
    bool verbose = take_verbose(&argc, argv);
    if (strcmp(argv[0], "import") != 0) {
        fprintf(stderr, "herald: unknown user command '%s' (import)\n", argv[0]);
        return 2;
    }
    if (argc < 2 || argv[1][0] == '-') {
        fprintf(stderr, "herald: user import needs a FILE\n");
        return 2;
    }
    const char *path = argv[1], *app = "default";
    enum user_import_format fmt = USER_IMPORT_AUTO;
    char *rest[64];
    int nrest = 0;
    for (int i = 2; i < argc; i++) {
        bool has_next = i + 1 < argc;
        if (strcmp(argv[i], "--app") == 0 && has_next) {
            app = argv[++i];
        } else if (strncmp(argv[i], "--app=", 6) == 0) {
            app = argv[i] + 6;
        } else if ((strcmp(argv[i], "--format") == 0 && has_next) ||
                   strncmp(argv[i], "--format=", 9) == 0) {
            const char *v = argv[i][8] == '=' ? argv[i] + 9 : argv[++i];
            if (strcmp(v, "jsonl") == 0) {
                fmt = USER_IMPORT_JSONL;
            } else if (strcmp(v, "csv") == 0) {
                fmt = USER_IMPORT_CSV;
            } else {
                fprintf(stderr, "herald: --format must be jsonl or csv\n");
                return 2;
            }
        } else if (nrest < 64) {
            rest[nrest++] = argv[i];
        }
    }
    struct config cfg;
    if (load_config(&cfg, nrest, rest, NULL) != 0)
        return 2;
    cli_log_setup(&cfg, verbose);
    if (check_settings(&cfg, false) != 0) {
        config_release(&cfg);
        return 2;
    }
    struct store *st = open_store(&cfg);
    if (st == NULL) {
        config_release(&cfg);
        return 1;
    }
    struct identity ident;
    memset(&ident, 0, sizeof(ident));
    int rc = 1;
    if (open_identity(&cfg, st, &ident) == 0 && identity_apps_bootstrap(&ident) == 0) {
        int64_t n = 0;
        int e = identity_users_import(&ident, app, path, fmt, stderr, &n);
        if (e == 0) {
            printf("imported %lld user%s into app %s\n", (long long)n, n == 1 ? "" : "s", app);
            rc = 0;
        } else if (e == ERR_NOTFOUND) {
            fprintf(stderr, "herald: no app with key '%s'\n", app);
        } else if (e != ERR_INVAL && e != ERR_IO) {
            fprintf(stderr, "herald: import failed: %s\n", err_str(e));
        }
    }
    identity_release(&ident);
    store_close(st);
    config_release(&cfg);
    return rc;
}

static int cmd_check_config(int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        printf("usage: herald check-config [flags]\n\nValidates the configuration from .env, "
               "the environment and flags, prints the\neffective settings (secrets masked) and "
               "exits 0, or names the bad setting and exits 2. It makes every check that\n"
               "serve makes on settings (a host name in HERALD_LISTEN is resolved).\n");
        print_flags(NULL);
        return 0;
    }
    struct config cfg;
    if (load_config(&cfg, argc, argv, NULL) != 0)
        return 2;
    if (check_settings(&cfg, true) != 0) {
        config_release(&cfg);
        return 2;
    }
    config_print(&cfg, stdout);
    config_release(&cfg);
    return 0;
}

/* herald help COMMAND: the same text as herald COMMAND --help. */
static int help_command(const char *cmd)
{
    char help[] = "--help";
    char *args[] = {help, NULL};
    if (strcmp(cmd, "serve") == 0)
        return cmd_serve(1, args);
    if (strcmp(cmd, "migrate") == 0)
        return cmd_migrate(1, args);
    if (strcmp(cmd, "app") == 0)
        return cmd_app(1, args);
    if (strcmp(cmd, "user") == 0)
        return cmd_user(1, args);
    if (strcmp(cmd, "admin") == 0)
        return cmd_admin(1, args);
    if (strcmp(cmd, "check-config") == 0)
        return cmd_check_config(1, args);
    if (strcmp(cmd, "version") == 0) {
        printf("usage: herald version\n\nPrints the version of this binary.\n");
        return 0;
    }
    if (strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "herald: no help for '%s': unknown command (see herald help)\n", cmd);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "serve") == 0)
        return cmd_serve(argc - 2, argv + 2);
    if (strcmp(cmd, "migrate") == 0)
        return cmd_migrate(argc - 2, argv + 2);
    if (strcmp(cmd, "app") == 0)
        return cmd_app(argc - 2, argv + 2);
    if (strcmp(cmd, "user") == 0)
        return cmd_user(argc - 2, argv + 2);
    if (strcmp(cmd, "admin") == 0)
        return cmd_admin(argc - 2, argv + 2);
    if (strcmp(cmd, "check-config") == 0)
        return cmd_check_config(argc - 2, argv + 2);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        if (argc > 2 && wants_help(argc - 2, argv + 2)) {
            printf("usage: herald version\n\nPrints the version of this binary.\n");
            return 0;
        }
        printf("herald %s\n", HERALD_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        if (argc > 2 && strcmp(cmd, "help") == 0)
            return help_command(argv[2]);
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "herald: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
