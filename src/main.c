/*
 * The herald binary: command-line dispatch. The commands, and the wiring of
 * the modules they use, live in src/cli (one file per command group).
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/version.h"
#include "core/xalloc.h"

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

/* herald help COMMAND: the same text as herald COMMAND --help. */
static int help_command(const char *cmd)
{
    char help[] = "--help";
    char *args[] = {help, NULL};
    if (strcmp(cmd, "serve") == 0)
        return cli_serve(1, args);
    if (strcmp(cmd, "migrate") == 0)
        return cli_migrate(1, args);
    if (strcmp(cmd, "app") == 0)
        return cli_app(1, args);
    if (strcmp(cmd, "user") == 0)
        return cli_user(1, args);
    if (strcmp(cmd, "admin") == 0)
        return cli_admin(1, args);
    if (strcmp(cmd, "check-config") == 0)
        return cli_check_config(1, args);
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
    xalloc_json_hooks(); /* before anything parses or prints JSON */
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "serve") == 0)
        return cli_serve(argc - 2, argv + 2);
    if (strcmp(cmd, "migrate") == 0)
        return cli_migrate(argc - 2, argv + 2);
    if (strcmp(cmd, "app") == 0)
        return cli_app(argc - 2, argv + 2);
    if (strcmp(cmd, "user") == 0)
        return cli_user(argc - 2, argv + 2);
    if (strcmp(cmd, "admin") == 0)
        return cli_admin(argc - 2, argv + 2);
    if (strcmp(cmd, "check-config") == 0)
        return cli_check_config(argc - 2, argv + 2);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        if (argc > 2 && cli_wants_help(argc - 2, argv + 2)) {
            printf("usage: herald version\n\nPrints the version of this binary.\n");
            return 0;
        }
        if (argc > 2) {
            fprintf(stderr,
                    "herald: version takes no arguments ('%s'; see herald version --help)\n",
                    argv[2]);
            return 2;
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
