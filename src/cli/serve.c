/*
 * herald serve: checks the settings, takes the data folder, opens the store and
 * the identity context, starts the loops, waits for SIGTERM/SIGINT and shuts
 * down in the order docs/ARCHITECTURE.md ("Shutdown") gives.
 */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "bus/bus_redis.h"
#include "chat/chat.h"
#include "cli/internal.h"
#include "console/console.h"
#include "core/config.h"
#include "core/fs.h"
#include "core/rand.h"
#include "core/log.h"
#include "core/version.h"
#include "identity/apps.h"
#include "identity/identity.h"
#include "kit/media_url.h"
#include "metrics/metrics.h"
#include "metrics/ops.h"
#include "net/server.h"
#include "net/static_files.h"
#include "net/ui_embed.h"
#include "notify/notify.h"
#include "notify/events.h"
#include "notify/sending.h"
#include "notify/channels.h"
#include "notify/driver.h"
#include "upload/upload.h"
#include "media/thumb.h"
#include "router/router.h"
#include "rt/rt.h"
#include "store/store.h"

#define STATIC_MAX_TOTAL (64u << 20)
/* Shutdown: once the workers and the store have stopped, their last completions are queued
   on the loops and run in milliseconds; past this the loops end anyway (server_stop). */
#define SHUTDOWN_LOOP_GRACE_MS 2000

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
        log_fatal("cannot use HERALD_DATA_DIR %s: cannot create herald.lock: %s", dir,
                  strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char pid[24] = "";
        ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
        pid[n > 0 ? strcspn(pid, "\n") : 0] = '\0';
        if (e == EWOULDBLOCK)
            log_fatal("HERALD_DATA_DIR %s is in use by another herald serve%s%s%s; one "
                      "server per data folder",
                      dir, pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "");
        else
            log_fatal("cannot use HERALD_DATA_DIR %s: cannot lock herald.lock: %s", dir,
                      strerror(e));
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

static bool redis_ready_cb(void *ud)
{
    return bus_redis_is_ready(ud);
}

static void cursor_heard(int64_t cursor, void *ud)
{
    rt_cursor_seen(ud, cursor);
}

static bool server_ready_cb(void *ud)
{
    struct server **s = ud;
    return server_is_ready(*s);
}

/*
 * The serve loop once everything is open: start the server, wait for a stop
 * signal, shut down in order (docs/ARCHITECTURE.md, "Shutdown"): every step
 * may still post completions to the loops, so the loops end only after the
 * last producer has stopped, and nothing is freed before they have ended.
 * Returns the exit code.
 */
/* The server's on_ready: rt reaches the loops (wakes, session holds) from the first
 * connection on. */
static void attach_rt(struct server *s, void *ud)
{
    rt_attach(ud, s);
}

static int run(struct config *cfg, struct store *store, struct identity *ident,
               const sigset_t *stop_signals)
{
    int rc = 1;
    char uerr[512];
    /* one id for this process: its row in /admin/instances and its name on the Redis bus */
    char node_id[BUS_REDIS_NODE_LEN + 1];
    rand_hex(node_id, BUS_REDIS_NODE_LEN / 2);
    if (media_thumb_init() != 0) {
        log_fatal("cannot start the image library (libvips)");
        return 1;
    }
    media_url_setup(cfg->base_url, cfg->trust_proxy); /* HERALD_BASE_URL: uploads, chat, users */
    struct upload *uploads = upload_new(cfg, ident, uerr, sizeof(uerr));
    if (uploads == NULL) {
        log_fatal("%s", uerr);
        media_thumb_shutdown();
        return 1;
    }
    /* the notification channels: the registry of opened drivers, its console routes */
    struct notify_channels *channels =
        notify_channels_new(ident->enc_key, cfg->allow_private_targets);
    struct notify_channels_api *channels_api = notify_channels_api_new(ident, channels);
    if (channels_api == NULL) {
        log_fatal("cannot start the channel test workers");
        notify_channels_free(channels);
        upload_free(uploads);
        media_thumb_shutdown();
        return 1;
    }
    struct router *router = router_new();
    struct server *srv = NULL;
    struct notify_node *node = NULL;
    struct ops_ctx ops = {.is_ready = server_ready_cb, .ready_ud = &srv, .store = store};
    struct rt *rt = rt_new(ident, cfg->workers);
    struct chat *chat = chat_new(ident, rt, cfg->max_message_chars, cfg->history_days,
                                 cfg->presence_grace_ms, cfg->recall_window_ms);
    chat_set_support_capacity(chat, cfg->support_capacity);
    chat_set_node(chat, node_id);
    /* several nodes: the bus and presence reach the others through Redis (docs/deployment.md) */
    struct bus_redis *cluster = NULL;
    if (cfg->redis_url != NULL && cfg->redis_url[0] != '\0') {
        char rerr[256];
        cluster = bus_redis_new(rt_bus(rt), cfg->redis_url, node_id, rerr, sizeof(rerr));
        if (cluster == NULL) {
            log_fatal("HERALD_REDIS_URL: %s", rerr);
            chat_free(chat);
            rt_free(rt);
            router_free(router);
            notify_channels_api_free(channels_api);
            notify_channels_free(channels);
            upload_free(uploads);
            media_thumb_shutdown();
            return 1;
        }
        chat_set_cluster(chat, cluster);
        bus_redis_on_cursor(cluster, cursor_heard, rt); /* hello's cursor: the cluster's */
        ops.redis_ready = redis_ready_cb;
        ops.redis_ud = cluster;
        log_info("main", "node %s shares events and presence through Redis",
                 bus_redis_node(cluster));
    }
    struct notify_engine *notify = notify_engine_new(ident, rt, channels);
    notify_engine_set_idem_window(notify, (int64_t)cfg->idempotency_window_ms);
    /* the apps' outgoing event webhooks: chat's and the engine's facts */
    struct notify_events *events =
        notify_events_new(ident->store, ident->enc_key, cfg->allow_private_targets);
    notify_engine_set_events(notify, events);
    chat_set_event_hook(chat, &(struct chat_event_hook){.wants = notify_events_chat_wants,
                                                        .emit = notify_events_chat_emit,
                                                        .ud = events});
    /* every module's routes, /api/docs included (cli/routes.c) */
    cli__routes_add(router, &(struct cli_routes){.ops = &ops,
                                                 .ident = ident,
                                                 .rt = rt,
                                                 .chat = chat,
                                                 .notify = notify,
                                                 .events = events,
                                                 .uploads = uploads,
                                                 .channels_api = channels_api});
    struct metrics *metrics = metrics_new(cfg->workers, router);
    ops.metrics = metrics;
    ops_metrics_sources(&ops);              /* the store's counters */
    notify_engine_metrics(notify, metrics); /* the queue's outcomes */
    /* HERALD_STATIC_DIR overrides the UI built into the binary (docs/ui.md) */
    struct static_files *statics = cfg->static_dir && cfg->static_dir[0]
                                       ? static_files_load(cfg->static_dir, STATIC_MAX_TOTAL)
                                       : static_files_embedded(ui_embed_files, ui_embed_count);
    static_files_brand(statics, cfg->app_title ? cfg->app_title : "Herald",
                       cfg->app_description ? cfg->app_description : "");

    struct server_opts opts = {.cfg = cfg,
                               .router = router,
                               .statics = statics,
                               .metrics = metrics,
                               .on_ready = attach_rt, /* before the first connection */
                               .on_ready_ud = rt};
    rt_ws_app(rt, &opts.ws);
    int port = 0;
    struct server *started = NULL;
    if (notify_engine_start(notify) != 0) { /* the queue's dispatcher */
        log_fatal("cannot start the notification queue");
        goto out_free;
    }
    if (notify_events_start(events) != 0) { /* the event webhooks' sender */
        log_fatal("cannot start the event webhooks' sender");
        goto out_free;
    }
    started = server_start(&opts, &port);
    if (started == NULL)
        goto out_free;
    char address[300];
    if (strchr(cfg->listen_host, ':'))
        snprintf(address, sizeof(address), "[%s]:%d", cfg->listen_host, port);
    else
        snprintf(address, sizeof(address), "%s:%d", cfg->listen_host, port);
    /* this process in /admin/instances, with the id it has on the Redis bus */
    node = notify_node_start(store, metrics, node_id, address);
    srv = started;
    printf("listening on %s\n", address);
    fflush(stdout);
    log_info("main", "herald %s started workers=%d port=%d", HERALD_VERSION, cfg->workers, port);

    int sig = 0;
    sigwait(stop_signals, &sig);
    log_info("main", "shutting down on %s", sig == SIGINT ? "SIGINT" : "SIGTERM");
    server_drain(srv, cfg->shutdown_timeout_ms); /* stop accepting; answer or force */
    /* the node heartbeat thread is joined, this node's row marked stopped */
    notify_node_stop(node);
    identity_stop(ident);       /* password workers (queued checks cancelled), pollers */
    chat_stop(chat);            /* retention */
    notify_engine_stop(notify); /* the queue's dispatcher: its batch under way is written */
    notify_events_stop(events); /* the event sender: posts under way end (5 s at most) */
    upload_stop(uploads); /* queued thumbnails run cancelled; their rows still go to the store */
    notify_channels_api_stop(channels_api); /* queued test sends answer 503, unsent */
    store_stop(store); /* queued ops finish; their callbacks post to live loops */
    server_stop(srv, SHUTDOWN_LOOP_GRACE_MS); /* loops end once no request is in flight */
    rt_attach(rt, NULL);                      /* the bus no longer wakes the loops */
    srv = NULL; /* /health/ready (server_ready_cb) sees no server from here on */
    rc = 0;
out_free:
    identity_stop(ident); /* the revocation poller calls into rt */
    server_free(started);
    notify_node_free(node);
    chat_free(chat);
    notify_engine_free(notify);
    notify_events_free(events);
    upload_free(uploads);
    notify_channels_api_free(channels_api);
    notify_channels_free(channels); /* no send runs: the test workers have ended */
    media_thumb_shutdown();
    bus_redis_free(cluster); /* after every publisher (chat, the queue) has stopped */
    rt_free(rt);
    static_files_free(statics);
    metrics_free(metrics);
    router_free(router);
    return rc;
}

int cli_serve(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: herald serve [flags]\n\nStarts the server. Prints the bound address "
               "(HOST:PORT) once it accepts\nconnections. Refuses to start when another process "
               "listens on the address or\nanother server uses the data folder.\n");
        cli__print_flags(NULL);
        return 0;
    }
    struct config cfg;
    char *warnings = NULL;
    if (cli__load_config(&cfg, "serve", argc, argv, &warnings) != 0) {
        if (warnings)
            fputs(warnings, stderr);
        free(warnings);
        return 2;
    }
    log_setup((enum log_level)cfg.log_level, cfg.log_json);
    log_config_warnings(warnings);
    free(warnings);

    int rc = 2;
    struct store *store = NULL;
    struct identity ident;
    memset(&ident, 0, sizeof(ident));
    char err[512];
    /* every refusal before the data folder is touched: settings, the address, the folder */
    if (cli__check_settings(&cfg, true) != 0)
        goto out;
    rc = 1;
    if (server_listen_probe(cfg.listen_host, cfg.listen_port, err, sizeof(err)) != 0) {
        log_fatal("%s", err);
        goto out;
    }
    if (fs_make_dirs(cfg.data_dir, 0700) != 0) {
        log_fatal("cannot create HERALD_DATA_DIR %s: %s", cfg.data_dir, strerror(errno));
        goto out;
    }
    if (lock_data_dir(cfg.data_dir) != 0)
        goto out;
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

    /* a group commit's completions reach each loop in one wake-up */
    store_set_batch_hooks(server_post_hold, server_post_release);
    store = cli__open_store(&cfg);
    if (store == NULL)
        goto out;
    if (cli__open_identity(&cfg, store, &ident) != 0 || identity_apps_bootstrap(&ident) != 0 ||
        console_bootstrap(&ident, true) != 0)
        goto out;
    rc = run(&cfg, store, &ident, &stop_signals);
    if (rc == 0)
        log_info("main", "stopped");
out:
    identity_release(&ident); /* after the loops: handlers borrowed it */
    store_close(store);
    config_release(&cfg);
    return rc;
}
