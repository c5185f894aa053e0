/*
 * Helpers shared by the command files of src/cli (cli.c). Nothing outside
 * src/cli includes this.
 */
#ifndef HERALD_CLI_INTERNAL_H
#define HERALD_CLI_INTERNAL_H

#include <stdbool.h>

struct chat;
struct config;
struct identity;
struct notify_channels_api;
struct notify_engine;
struct notify_events;
struct ops_ctx;
struct router;
struct rt;
struct store;
struct upload;

/* The settings of the store commands and of the identity commands, for their --help. */
extern const char *const cli__store_flags[];
extern const char *const cli__identity_flags[];

/* The flags part of a command's --help: its settings (NULL: all), then --verbose. */
void cli__print_flags(const char *const *only);
/* Removes --verbose / -v from argv; true when it was there. */
bool cli__take_verbose(int *argc, char **argv);
/* Logging for a CLI command: warnings and errors only, unless verbose. */
void cli__log_setup(const struct config *cfg, bool verbose);
/*
 * Loads the configuration into cfg (released again on failure). Warnings go to
 * *warnings (caller frees) or, when warnings is NULL, to stderr. 0 or -1 after
 * printing why.
 */
int cli__load_config(struct config *cfg, const char *cmd, int argc, char **argv, char **warnings);
/* The checks serve and check-config make beyond the loader; 0 or -1 after printing why. */
int cli__check_settings(struct config *cfg, bool listen);
/* Opens and migrates the configured store; NULL after printing why. Caller closes. */
struct store *cli__open_store(const struct config *cfg);
/*
 * Loads the keys (generated at first start) and fills id on st; 0 or -1 after
 * printing why (id released). Caller releases id.
 */
int cli__open_identity(const struct config *cfg, struct store *st, struct identity *id);

/* The modules whose routes herald serve's router holds (routes.c); all borrowed. */
struct cli_routes {
    struct ops_ctx *ops;
    struct identity *ident;
    struct rt *rt;
    struct chat *chat;
    struct notify_engine *notify;
    struct notify_events *events;
    struct upload *uploads;
    struct notify_channels_api *channels_api;
};
/*
 * Adds every HTTP route of herald serve to r, in the order of matching, /api/docs included.
 * The modules must outlive r. Main thread, before the loops start.
 */
void cli__routes_add(struct router *r, const struct cli_routes *m);

#endif
