/*
 * libFuzzer target for configuration loading: each input is read three ways,
 * as the text of a .env file (config_load_env_text), as flags and as
 * environment entries (its lines become argv and envp for config_load), and
 * each line goes through the value parsers. Checked: nothing crashes or
 * leaks, an error is one NUL-terminated line that fits errbuf, and a loaded
 * configuration printed by config_print reads back as a .env file into the
 * same configuration (the printed text is identical).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"

#define MAX_ARGS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_error_line(const char *err, size_t errlen)
{
    size_t n = strnlen(err, errlen);
    if (n == errlen || n == 0 || memchr(err, '\n', n) != NULL)
        __builtin_trap();
}

static char *print_config(const struct config *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f == NULL)
        abort();
    config_print(c, f);
    fclose(f);
    return text;
}

/* config_print's output must load back into a configuration that prints the same. */
static void check_round_trip(const struct config *c)
{
    char err[256];
    char *text = print_config(c);
    struct config d;
    config_defaults(&d);
    if (config_load_env_text(&d, text, strlen(text), err, sizeof(err)) != 0) {
        fprintf(stderr, "printed config does not load: %s\n%s", err, text);
        __builtin_trap();
    }
    char *again = print_config(&d);
    if (strcmp(text, again) != 0) {
        fprintf(stderr, "round trip differs:\n%s---\n%s", text, again);
        __builtin_trap();
    }
    free(again);
    free(text);
    config_release(&d);
}

static void fuzz_env_text(const uint8_t *data, size_t size)
{
    struct config c;
    char err[200];
    config_defaults(&c);
    if (config_load_env_text(&c, (const char *)data, size, err, sizeof(err)) == 0)
        check_round_trip(&c);
    else
        check_error_line(err, sizeof(err));
    config_release(&c);
}

/* Splits a NUL-terminated copy of the input at newlines into at most MAX_ARGS strings. */
static int split_lines(char *text, char **out)
{
    int n = 0;
    for (char *p = text; n < MAX_ARGS;) {
        out[n++] = p;
        char *nl = strchr(p, '\n');
        if (nl == NULL)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    out[n] = NULL;
    return n;
}

static void fuzz_parsers(char **lines, int n)
{
    for (int i = 0; i < n; i++) {
        uint64_t bytes;
        int64_t ms;
        bool b;
        (void)config_parse_size(lines[i], &bytes);
        if (config_parse_duration(lines[i], &ms) == 0 && ms < 0)
            __builtin_trap();
        (void)config_parse_bool(lines[i], &b);
    }
}

static void fuzz_load(char **argv, int argc, char **envp)
{
    struct config c;
    char err[128];
    if (config_load(&c, "/nonexistent-herald-fuzz/.env", envp, argc, argv, err, sizeof(err)) == 0) {
        check_round_trip(&c);
    } else {
        check_error_line(err, sizeof(err));
        if (c.listen_host || c.cors_origins || c.static_dir || c.data_dir)
            __builtin_trap(); /* an error leaves nothing owned */
    }
    config_release(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *devnull;
    if (devnull == NULL) {
        devnull = fopen("/dev/null", "w");
        config_set_warn_stream(devnull); /* unknown settings warn; keep the output quiet */
    }
    if (size > 1 << 16)
        return 0;
    fuzz_env_text(data, size);

    /* the same bytes, up to the first NUL, as lines */
    char *text = strndup((const char *)data, size);
    if (text == NULL)
        abort();
    char *lines[MAX_ARGS + 1];
    int n = split_lines(text, lines);
    fuzz_parsers(lines, n);
    fuzz_load(lines, n, NULL);          /* as flags */
    fuzz_load(NULL, 0, lines);          /* as environment entries */
    fuzz_load(lines + 1, n - 1, lines); /* both: the first line only as environment */
    free(text);
    return 0;
}
