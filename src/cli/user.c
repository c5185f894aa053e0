/*
 * herald user import FILE: creates or updates the users of an app from JSON
 * lines or CSV (identity/user_import.c does the work).
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/internal.h"
#include "core/config.h"
#include "core/err.h"
#include "identity/apps.h"
#include "identity/identity.h"
#include "identity/user_import.h"
#include "kit/media_url.h"
#include "store/store.h"

/* herald user import FILE [--app KEY] [--format jsonl|csv] */
int cli_user(int argc, char **argv)
{
    if (argc < 1 || cli_wants_help(argc, argv)) {
        printf("usage: herald user import FILE [--app KEY] [--format jsonl|csv] [flags]\n\n"
               "Creates or updates the users of an app (default: the app with key 'default')\n"
               "from JSON lines (one user object per line, as POST /api/v1/users) or CSV\n"
               "(a header row: id,name,avatar,kind,disabled,metadata,email,phone,\n"
               "wechat_openid,contacts.<name>,password_hash). Every record is checked first;\n"
               "if any is invalid, the errors are listed and nothing is imported.\n"
               "password_hash takes yescrypt ($y$) or bcrypt ($2b$) hashes from another\n"
               "system. Uses HERALD_DATABASE_URL.\n");
        cli__print_flags(cli__identity_flags);
        return argc < 1 ? 2 : 0;
    }
    bool verbose = cli__take_verbose(&argc, argv);
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
    if (cli__load_config(&cfg, "user", nrest, rest, NULL) != 0)
        return 2;
    cli__log_setup(&cfg, verbose);
    struct store *st = NULL;
    struct identity ident;
    memset(&ident, 0, sizeof(ident));
    int rc = 2;
    if (cli__check_settings(&cfg, false) != 0)
        goto out;
    rc = 1;
    if (access(path, R_OK) != 0) { /* before the store is created */
        fprintf(stderr, "herald: cannot read %s: %s\n", path, strerror(errno));
        goto out;
    }
    media_url_setup(cfg.base_url, cfg.trust_proxy); /* avatars under it are stored relative */
    st = cli__open_store(&cfg);
    if (st != NULL && cli__open_identity(&cfg, st, &ident) == 0 &&
        identity_apps_bootstrap(&ident) == 0) {
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
out:
    identity_release(&ident);
    store_close(st);
    config_release(&cfg);
    return rc;
}
