/*
 * herald app create NAME | app secret KEY | app list: apps from the command
 * line, on the store the server uses (writes are audited as operator 'cli').
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "auth/tokens.h"
#include "cli/internal.h"
#include "console/console.h"
#include "core/config.h"
#include "core/err.h"
#include "identity/apps.h"
#include "identity/identity.h"
#include "store/store.h"

/* herald app create NAME | herald app list */
int cli_app(int argc, char **argv)
{
    if (argc < 1 || cli_wants_help(argc, argv)) {
        printf("usage: herald app create NAME [flags]\n       herald app secret KEY [flags]\n"
               "       herald app list [flags]\n\n"
               "Creates an app and prints its key and secret, adds a secret to an app\n"
               "(e.g. 'default') and prints it, or lists the apps (id key status name).\n"
               "Secrets are shown only once. Writes are recorded in the audit log\n"
               "(operator 'cli'). Uses HERALD_DATABASE_URL.\n");
        cli__print_flags(cli__identity_flags);
        return argc < 1 ? 2 : 0;
    }
    bool verbose = cli__take_verbose(&argc, argv);
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
    if (cli__load_config(&cfg, "app", argc - skip, argv + skip, NULL) != 0)
        return 2;
    cli__log_setup(&cfg, verbose);
    struct store *st = NULL;
    struct identity ident;
    memset(&ident, 0, sizeof(ident));
    int rc = 2;
    if (cli__check_settings(&cfg, false) != 0)
        goto out;
    rc = 1;
    st = cli__open_store(&cfg);
    /* the default app exists even before the first `serve` */
    if (st == NULL || cli__open_identity(&cfg, st, &ident) != 0 ||
        identity_apps_bootstrap(&ident) != 0)
        goto out;
    if (create) {
        char key[APP_KEY_MAX + 1], secret[TOKEN_LEN + 1];
        int e = console_app_create(&ident, argv[1], key, secret);
        if (e != 0) {
            fprintf(stderr, "herald: cannot create the app: %s\n",
                    e == ERR_INVAL ? "the name must be 1-128 characters of UTF-8 on one line"
                                   : "store error");
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
out:
    identity_release(&ident);
    store_close(st);
    config_release(&cfg);
    return rc;
}
