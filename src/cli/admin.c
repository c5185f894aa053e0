/*
 * herald admin create NAME | admin passwd NAME: console operators from the
 * command line, the password asked twice on the terminal or read from stdin.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>

#include <openssl/crypto.h>

#include "cli/internal.h"
#include "console/console.h"
#include "core/config.h"
#include "core/err.h"
#include "identity/apps.h"
#include "identity/identity.h"
#include "store/store.h"

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
int cli_admin(int argc, char **argv)
{
    if (argc < 1 || cli_wants_help(argc, argv)) {
        printf("usage: herald admin create NAME [--password-stdin] [flags]\n"
               "       herald admin passwd NAME [--password-stdin] [flags]\n\n"
               "Creates a console operator with the superadmin role, or sets the password of\n"
               "one (its tokens are revoked). The password (8 to 511 bytes) is asked twice on\n"
               "the terminal without echo, or read as one line from stdin with\n"
               "--password-stdin. Uses HERALD_DATABASE_URL.\n");
        cli__print_flags(cli__identity_flags);
        return argc < 1 ? 2 : 0;
    }
    bool verbose = cli__take_verbose(&argc, argv);
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
    if (cli__load_config(&cfg, "admin", nrest, rest, NULL) != 0)
        return 2;
    cli__log_setup(&cfg, verbose);
    char *pw = NULL;
    struct store *st = NULL;
    struct identity ident;
    memset(&ident, 0, sizeof(ident));
    int rc = 2;
    if (cli__check_settings(&cfg, false) != 0)
        goto out;
    rc = 1;
    pw = read_password(from_stdin, create); /* says why when NULL */
    if (pw == NULL)
        goto out;
    st = cli__open_store(&cfg);
    if (st != NULL && cli__open_identity(&cfg, st, &ident) == 0 &&
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
out:
    if (pw) {
        OPENSSL_cleanse(pw, strlen(pw));
        free(pw);
    }
    identity_release(&ident);
    store_close(st);
    config_release(&cfg);
    return rc;
}
