/*
 * herald migrate (apply the schema migrations and print the version) and
 * herald check-config (validate and print the settings, secrets masked).
 */
#include "cli/cli.h"

#include <stdio.h>

#include "cli/internal.h"
#include "core/config.h"
#include "store/store.h"

int cli_migrate(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: herald migrate [flags]\n\nApplies the pending database migrations of "
               "HERALD_DATABASE_URL (the\nserver also does this at start) and prints the schema "
               "version.\n");
        cli__print_flags(cli__store_flags);
        return 0;
    }
    bool verbose = cli__take_verbose(&argc, argv);
    struct config cfg;
    if (cli__load_config(&cfg, "migrate", argc, argv, NULL) != 0)
        return 2;
    cli__log_setup(&cfg, verbose);
    struct store *st = cli__open_store(&cfg);
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

int cli_check_config(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: herald check-config [flags]\n\nValidates the configuration from .env, "
               "the environment and flags, prints the\neffective settings (secrets masked) and "
               "exits 0, or names the bad setting and exits 2. It makes every check that\n"
               "serve makes on settings (a host name in HERALD_LISTEN is resolved).\n");
        cli__print_flags(NULL);
        return 0;
    }
    struct config cfg;
    if (cli__load_config(&cfg, "check-config", argc, argv, NULL) != 0)
        return 2;
    int rc = 2;
    if (cli__check_settings(&cfg, true) == 0) {
        config_print(&cfg, stdout);
        rc = 0;
    }
    config_release(&cfg);
    return rc;
}
