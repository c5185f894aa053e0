/*
 * The `herald` commands. Each takes the arguments after its name (argc/argv
 * without "herald" and the command word), prints its own --help, and returns
 * the process exit code: 0 done, 1 failed (the reason printed), 2 bad usage or
 * settings. main.c only dispatches to them. Main thread, once per process.
 */
#ifndef HERALD_CLI_CLI_H
#define HERALD_CLI_CLI_H

#include <stdbool.h>

/* herald serve: runs the server until SIGTERM/SIGINT (serve.c). */
int cli_serve(int argc, char **argv);
/* herald migrate: applies the migrations, prints the schema version (migrate.c). */
int cli_migrate(int argc, char **argv);
/* herald check-config: validates and prints the settings (migrate.c). */
int cli_check_config(int argc, char **argv);
/* herald app create NAME | app secret KEY | app list (app.c). */
int cli_app(int argc, char **argv);
/* herald admin create NAME | admin passwd NAME (admin.c). */
int cli_admin(int argc, char **argv);
/* herald user import FILE (user.c). */
int cli_user(int argc, char **argv);

/* True when argv[0..argc) holds --help or -h. */
bool cli_wants_help(int argc, char **argv);

#endif
