/*
 * Configuration: defaults, the precedence .env < environment <
 * flags, every value parser with its overflow, negative and garbage cases,
 * the listen forms, range errors that name the setting as the user wrote it,
 * .env quoting, comments and line numbers, flag forms, warnings for unknown
 * settings, masking of secrets, and config_print reading back as a .env file.
 */
#include "test.h"

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"

#define NO_ENV_FILE "/nonexistent-herald-dir/.env"
#define LIST(...) ((const char *[]){__VA_ARGS__, NULL})
#define NARGS(a) ((int)(sizeof(a) / sizeof((a)[0])) - 1)

static char g_err[512];
static char g_tmpdir[64];

static int load(struct config *c, const char *env_path, const char **envp, int argc,
                const char **argv)
{
    g_err[0] = '\0';
    return config_load(c, env_path, (char **)envp, argc, (char **)argv, g_err, sizeof(g_err));
}

/* The error of loading with one flag (and nothing else), or "" when it loads. */
static const char *flag_err(const char *flag)
{
    struct config c;
    const char *argv[] = {flag, NULL};
    if (load(&c, NO_ENV_FILE, NULL, 1, argv) == 0) {
        config_release(&c);
        return "";
    }
    config_release(&c);
    return g_err;
}

/* The error of loading with one "K=V" environment entry, or "". */
static const char *env_err(const char *kv)
{
    struct config c;
    const char *envp[] = {kv, NULL};
    if (load(&c, NO_ENV_FILE, envp, 0, NULL) == 0) {
        config_release(&c);
        return "";
    }
    config_release(&c);
    return g_err;
}

/* Whether err starts with prefix; says which input failed when not. */
static bool has_prefix(const char *err, const char *prefix, const char *input)
{
    if (strncmp(err, prefix, strlen(prefix)) == 0)
        return true;
    fprintf(stderr, "input \"%s\" gave \"%s\"\n", input, err);
    return false;
}

/* Applies .env text over the defaults; returns config_load_env_text's result. */
static int env_text(struct config *c, const char *text)
{
    config_defaults(c);
    g_err[0] = '\0';
    return config_load_env_text(c, text, strlen(text), g_err, sizeof(g_err));
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        perror(path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
}

static char *tmp_path(const char *name)
{
    static char path[128];
    snprintf(path, sizeof(path), "%s/%s", g_tmpdir, name);
    return path;
}

/* Reads what was written to f since it was opened. */
static const char *slurp(FILE *f)
{
    static char text[4096];
    fflush(f);
    rewind(f);
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = '\0';
    return text;
}

TEST(defaults)
{
    struct config c;
    config_defaults(&c);
    CHECK_STR(c.listen_host, "0.0.0.0");
    CHECK_INT(c.listen_port, 8080);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    CHECK_INT(c.workers, cpus < 1 ? 1 : cpus > 64 ? 64 : cpus);
    CHECK_INT(c.max_connections, 60000);
    CHECK_INT(c.max_url, 8192);
    CHECK_INT(c.max_header_bytes, 32768);
    CHECK_INT(c.max_headers, 100);
    CHECK_INT(c.max_body, 1 << 20);
    CHECK_INT(c.header_timeout_ms, 10000);
    CHECK_INT(c.idle_timeout_ms, 60000);
    CHECK_STR(c.cors_origins, "");
    CHECK(c.static_dir == NULL);
    CHECK_STR(c.app_title, "Herald");
    CHECK(c.app_description == NULL);
    CHECK(!c.trust_proxy);
    CHECK_INT(c.ws_max_message, 64 * 1024);
    CHECK_INT(c.ws_max_queue, 1 << 20);
    CHECK_INT(c.ws_heartbeat_ms, 30000);
    CHECK_STR(c.data_dir, "./data");
    CHECK(!c.demo);
    CHECK_INT(c.log_level, LOG_INFO);
    CHECK(!c.log_json);
    CHECK_INT(c.shutdown_timeout_ms, 10000);
    config_release(&c);
    CHECK(c.listen_host == NULL && c.cors_origins == NULL && c.static_dir == NULL &&
          c.data_dir == NULL);
    config_release(&c); /* twice is harmless */

    /* loading from nothing gives the defaults */
    struct config d;
    config_defaults(&c);
    CHECK_INT(load(&d, NO_ENV_FILE, NULL, 0, NULL), 0);
    CHECK_STR(d.listen_host, c.listen_host);
    CHECK_INT(d.listen_port, c.listen_port);
    CHECK_INT(d.workers, c.workers);
    CHECK_INT(d.max_body, c.max_body);
    CHECK_STR(d.cors_origins, c.cors_origins);
    config_release(&c);
    config_release(&d);
}

TEST(parse_size)
{
    static const struct {
        const char *in;
        uint64_t out;
    } ok[] = {
        {"0", 0},
        {"1024", 1024},
        {"5b", 5},
        {"64k", 64 << 10},
        {"64K", 64 << 10},
        {"64KiB", 64 << 10},
        {"64kb", 64 << 10},
        {"64KB", 64 << 10},
        {"10m", 10 << 20},
        {"10M", 10 << 20},
        {"10MiB", 10 << 20},
        {"10mb", 10 << 20},
        {"1g", 1ull << 30},
        {"1G", 1ull << 30},
        {"1GiB", 1ull << 30},
        {"007", 7},
        {"18446744073709551615", UINT64_MAX},
        {"17179869183g", 17179869183ull << 30},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        uint64_t v = 12345;
        CHECK_INT(config_parse_size(ok[i].in, &v), 0);
        CHECK(v == ok[i].out);
    }
    static const char *const bad[] = {
        "",
        "-1",
        "-0",
        "+1",
        "12xb",
        " 1",
        "1 ",
        "1 k",
        "k",
        "1.5k",
        "1kk",
        "1t",
        "0x10",
        "1KiBs",
        "1e3",
        "ki",
        "1\n",
        "18446744073709551616", /* 2^64 */
        "17179869184g",         /* 2^64 bytes */
        "99999999999999999999999999",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t v = 777;
        if (config_parse_size(bad[i], &v) != -1)
            fprintf(stderr, "accepted size \"%s\"\n", bad[i]);
        CHECK_INT(config_parse_size(bad[i], &v), -1);
        CHECK_INT(v, 777);
    }
    uint64_t v;
    CHECK_INT(config_parse_size(NULL, &v), -1);
}

TEST(parse_duration)
{
    static const struct {
        const char *in;
        int64_t ms;
    } ok[] = {
        {"250ms", 250},
        {"10s", 10000},
        {"5m", 300000},
        {"2h", 7200000},
        {"7d", 604800000},
        {"0", 0},
        {"0ms", 0},
        {"10S", 10000},
        {"9223372036854775807ms", INT64_MAX},
        {"9223372036854775s", 9223372036854775000},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        int64_t ms = -5;
        CHECK_INT(config_parse_duration(ok[i].in, &ms), 0);
        CHECK_INT(ms, ok[i].ms);
    }
    static const char *const bad[] = {
        "",
        "7", /* a unit is required (is it seconds or milliseconds?) */
        "10",
        "00",
        "-1",
        "-5s",
        "+5s",
        "10x",
        "1.5s",
        "s",
        "ms",
        "10 s",
        " 10s",
        "10s ",
        "5w",
        "10sec",
        "1h1m",
        "0x1",
        "1e3",
        "10mss",
        "h",
        "9223372036854775808ms", /* 2^63 */
        "9223372036854775807s",  /* overflows in ms */
        "9223372036854776h",
        "99999999999999999999999",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t ms = 99;
        if (config_parse_duration(bad[i], &ms) != -1)
            fprintf(stderr, "accepted duration \"%s\"\n", bad[i]);
        CHECK_INT(config_parse_duration(bad[i], &ms), -1);
        CHECK_INT(ms, 99);
    }
    int64_t ms;
    CHECK_INT(config_parse_duration(NULL, &ms), -1);
}

TEST(parse_bool)
{
    static const char *const yes[] = {"1", "true", "TRUE", "True", "yes", "YES", "on", "On"};
    static const char *const no[] = {"0", "false", "FALSE", "no", "No", "off", "OFF"};
    static const char *const bad[] = {"",      "2", "maybe", "tru", "truee", " true",
                                      "true ", "y", "n",     "-1",  "01",    "enable"};
    bool b;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        b = false;
        CHECK_INT(config_parse_bool(yes[i], &b), 0);
        CHECK(b);
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        b = true;
        CHECK_INT(config_parse_bool(no[i], &b), 0);
        CHECK(!b);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        b = true;
        CHECK_INT(config_parse_bool(bad[i], &b), -1);
        CHECK(b);
    }
    CHECK_INT(config_parse_bool(NULL, &b), -1);
}

TEST(listen_forms)
{
    static const struct {
        const char *in, *host;
        int port;
    } ok[] = {
        {"0.0.0.0:8080", "0.0.0.0", 8080},
        {"127.0.0.1:0", "127.0.0.1", 0},
        {":8080", "0.0.0.0", 8080},
        {"[::1]:8080", "::1", 8080},
        {"[::]:443", "::", 443},
        {"8080", "0.0.0.0", 8080},
        {"0", "0.0.0.0", 0},
        {"65535", "0.0.0.0", 65535},
        {"10.1.2.3:65535", "10.1.2.3", 65535},
        {"[fe80::1%eth0]:80", "fe80::1%eth0", 80},
        {" 127.0.0.1:9 ", "127.0.0.1", 9}, /* blanks around a value are ignored */
        {"localhost:80", "localhost", 80}, /* a name: resolved by config_resolve_listen */
        {"api-1.example.com:8080", "api-1.example.com", 8080},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        struct config c;
        const char *envp[] = {"HERALD_LISTEN=1.1.1.1:1", NULL};
        char flag[64];
        snprintf(flag, sizeof(flag), "--listen=%s", ok[i].in);
        const char *argv[] = {flag, NULL};
        CHECK_INT(load(&c, NO_ENV_FILE, envp, 1, argv), 0);
        CHECK_STR(c.listen_host, ok[i].host);
        CHECK_INT(c.listen_port, ok[i].port);
        config_release(&c);
    }
    static const char *const bad[] = {
        "",         "::1:8080", "-bad:80",       "bad-:80",    "a..b:80",        "a_b:80",
        "host.:80", "1.2.3.4:", "1.2.3.4:65536", "1.2.3.4:-1", "[::1]8080",      "[::1]",
        "[zz]:80",  "99999",    "1.2.3.4:80x",   "1.2.3:80",   "256.1.1.1:80",   "1.2.3.4:+80",
        "[::1]:",   "[]:80",    "[fe80::1%]:80", "a:b:c",      "1.2.3.4:080000", ":",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char kv[64];
        snprintf(kv, sizeof(kv), "HERALD_LISTEN=%s", bad[i]);
        CHECK(has_prefix(env_err(kv), "HERALD_LISTEN: invalid address \"", bad[i]));
    }
    CHECK_STR(flag_err("--listen=1.2.3.4:70000"),
              "--listen: invalid address \"1.2.3.4:70000\" (the port must be a number from 0 to "
              "65535)");
    CHECK_STR(env_err("HERALD_LISTEN=::1:80"),
              "HERALD_LISTEN: invalid address \"::1:80\" (put an IPv6 address in brackets, e.g. "
              "[::1]:8080)");
    CHECK_STR(env_err("HERALD_LISTEN=exa mple:80"),
              "HERALD_LISTEN: invalid address \"exa mple:80\" (the host must be an IP address or a "
              "host name)");
}

TEST(listen_host_name_resolved)
{
    struct config c;
    const char *argv[] = {"--listen=localhost:8080", NULL};
    CHECK_INT(load(&c, NO_ENV_FILE, NULL, 1, argv), 0);
    char err[256] = "";
    CHECK_INT(config_resolve_listen(&c, err, sizeof(err)), 0);
    CHECK(strcmp(c.listen_host, "127.0.0.1") == 0 || strcmp(c.listen_host, "::1") == 0);
    CHECK_INT(c.listen_port, 8080);
    CHECK_INT(config_resolve_listen(&c, err, sizeof(err)), 0); /* an address stays */
    config_release(&c);
    const char *bad[] = {"--listen=no-such-host.invalid:80", NULL};
    CHECK_INT(load(&c, NO_ENV_FILE, NULL, 1, bad), 0);
    CHECK_INT(config_resolve_listen(&c, err, sizeof(err)), -1);
    CHECK(has_prefix(err, "HERALD_LISTEN: cannot resolve host \"no-such-host.invalid\"", ""));
    config_release(&c);
}

TEST(range_errors_name_the_setting)
{
    static const struct {
        const char *arg, *err;
    } cases[] = {
        {"--workers=0", "--workers: must be between 1 and 64, got 0"},
        {"--workers=65", "--workers: must be between 1 and 64, got 65"},
        {"--workers=-3", "--workers: must be between 1 and 64, got -3"},
        {"--workers=99999999999999999999", "--workers: must be between 1 and 64, got "
                                           "99999999999999999999"},
        {"--workers=4x", "--workers: invalid integer \"4x\""},
        {"--workers=", "--workers: invalid integer \"\""},
        {"--max-connections=1000001",
         "--max-connections: must be between 1 and 1000000, got 1000001"},
        {"--max-url=255", "--max-url: must be between 256 and 1MiB, got 255"},
        {"--max-url=2m", "--max-url: must be between 256 and 1MiB, got 2m"},
        {"--max-header-bytes=1023", "--max-header-bytes: must be between 1KiB and 1MiB, got 1023"},
        {"--max-headers=7", "--max-headers: must be between 8 and 1000, got 7"},
        {"--max-headers=1001", "--max-headers: must be between 8 and 1000, got 1001"},
        {"--max-body=1073741825", "--max-body: must be between 1KiB and 1GiB, got 1073741825"},
        {"--max-body=12xb", "--max-body: invalid size \"12xb\" (use bytes or k/m/g suffixes)"},
        {"--max-body=-1k", "--max-body: invalid size \"-1k\" (use bytes or k/m/g suffixes)"},
        {"--header-timeout=99ms", "--header-timeout: must be between 100ms and 10m, got 99ms"},
        {"--header-timeout=601s", "--header-timeout: must be between 100ms and 10m, got 601s"},
        {"--header-timeout=10",
         "--header-timeout: \"10\" needs a unit (ms, s, m, h or d, e.g. 10s)"},
        {"--header-timeout=-1s",
         "--header-timeout: invalid duration \"-1s\" (use ms, s, m, h or d, "
         "e.g. 250ms or 10s)"},
        {"--idle-timeout=2h", "--idle-timeout: must be between 100ms and 1h, got 2h"},
        {"--ws-max-message=124", "--ws-max-message: must be between 125 and 64MiB, got 124"},
        {"--ws-max-message=65m", "--ws-max-message: must be between 125 and 64MiB, got 65m"},
        {"--ws-max-queue=4095", "--ws-max-queue: must be between 4KiB and 1GiB, got 4095"},
        {"--ws-heartbeat=0", "--ws-heartbeat: must be between 100ms and 1h, got 0"},
        {"--shutdown-timeout=11m", "--shutdown-timeout: must be between 100ms and 10m, got 11m"},
        {"--idempotency-window=999ms",
         "--idempotency-window: must be between 1s and 30d, got 999ms"},
        {"--idempotency-window=31d", "--idempotency-window: must be between 1s and 30d, got 31d"},
        {"--demo=maybe", "--demo: invalid boolean \"maybe\" (1/0, true/false, yes/no, on/off)"},
        {"--trust-proxy=2", "--trust-proxy: invalid boolean \"2\" (1/0, true/false, yes/no, "
                            "on/off)"},
        {"--log-level=loud", "--log-level: unknown level \"loud\" (debug|info|warn|error|off)"},
        {"--log-format=xml", "--log-format: unknown format \"xml\" (text|json)"},
        {"--static-dir=", "--static-dir: must not be empty"},
        {"--data-dir=", "--data-dir: must not be empty"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        CHECK_STR(flag_err(cases[i].arg), cases[i].err);

    /* the same setting from the environment is named as a variable */
    CHECK_STR(env_err("HERALD_MAX_BODY=12xb"),
              "HERALD_MAX_BODY: invalid size \"12xb\" (use bytes or k/m/g suffixes)");
    CHECK_STR(env_err("HERALD_WORKERS=0"), "HERALD_WORKERS: must be between 1 and 64, got 0");
    CHECK_STR(env_err("HERALD_IDEMPOTENCY_WINDOW=0"),
              "HERALD_IDEMPOTENCY_WINDOW: must be between 1s and 30d, got 0");

    /* both ends of every range are accepted */
    static const char *const edges[] = {
        "--workers=1",
        "--workers=64",
        "--max-connections=1",
        "--idempotency-window=1s",
        "--idempotency-window=30d",
        "--max-connections=1000000",
        "--max-url=256",
        "--max-url=1MiB",
        "--max-header-bytes=1k",
        "--max-header-bytes=1m",
        "--max-headers=8",
        "--max-headers=1000",
        "--max-body=1KiB",
        "--max-body=1g",
        "--header-timeout=100ms",
        "--header-timeout=10m",
        "--idle-timeout=100ms",
        "--idle-timeout=1h",
        "--ws-max-message=125",
        "--ws-max-message=64m",
        "--ws-max-queue=4k",
        "--ws-max-queue=1g",
        "--ws-heartbeat=100ms",
        "--ws-heartbeat=3600s",
        "--shutdown-timeout=100ms",
        "--shutdown-timeout=600s",
    };
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
        if (flag_err(edges[i])[0])
            fprintf(stderr, "%s: %s\n", edges[i], g_err);
        CHECK_STR(flag_err(edges[i]), "");
    }
}

TEST(values_are_stored)
{
    struct config c;
    const char **argv =
        LIST("--workers=3", "--max-connections", "10", "--max-url=1k", "--max-header-bytes=2KiB",
             "--max-headers=9", "--max-body=2m", "--header-timeout=250ms", "--idle-timeout=2m",
             "--ws-max-message=1000", "--ws-max-queue=8k", "--ws-heartbeat=5s", "--data-dir=/var/h",
             "--static-dir", "ui", "--log-level=DEBUG", "--log-format=json",
             "--shutdown-timeout=10m", "--trust-proxy=on", "--demo=yes");
    int argc = 0;
    while (argv[argc])
        argc++;
    CHECK_INT(load(&c, NO_ENV_FILE, NULL, argc, argv), 0);
    CHECK_STR(g_err, "");
    CHECK_INT(c.workers, 3);
    CHECK_INT(c.max_connections, 10);
    CHECK_INT(c.max_url, 1024);
    CHECK_INT(c.max_header_bytes, 2048);
    CHECK_INT(c.max_headers, 9);
    CHECK_INT(c.max_body, 2 << 20);
    CHECK_INT(c.header_timeout_ms, 250);
    CHECK_INT(c.idle_timeout_ms, 120000);
    CHECK_INT(c.ws_max_message, 1000);
    CHECK_INT(c.ws_max_queue, 8192);
    CHECK_INT(c.ws_heartbeat_ms, 5000);
    CHECK_STR(c.data_dir, "/var/h");
    CHECK_STR(c.static_dir, "ui");
    CHECK_INT(c.log_level, LOG_DEBUG);
    CHECK(c.log_json);
    CHECK_INT(c.shutdown_timeout_ms, 600000);
    CHECK(c.trust_proxy);
    CHECK(c.demo);
    config_release(&c);

    static const struct {
        const char *in;
        int level;
    } levels[] = {{"debug", LOG_DEBUG},  {"info", LOG_INFO},   {"warn", LOG_WARN},
                  {"warning", LOG_WARN}, {"error", LOG_ERROR}, {"off", LOG_OFF}};
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
        char kv[64];
        snprintf(kv, sizeof(kv), "HERALD_LOG_LEVEL=%s", levels[i].in);
        const char *envp[] = {kv, NULL};
        CHECK_INT(load(&c, NO_ENV_FILE, envp, 0, NULL), 0);
        CHECK_INT(c.log_level, levels[i].level);
        config_release(&c);
    }
}

TEST(cors_origins)
{
    static const struct {
        const char *in, *out;
    } ok[] = {
        {"", ""},
        {"*", "*"},
        {" * ", "*"},
        {"https://a.example", "https://a.example"},
        {" https://A.Example:443 , http://b.example:8080 ",
         "https://a.example,http://b.example:8080"},
        {"HTTP://x.y:80,https://x.y:8443", "http://x.y,https://x.y:8443"},
        {"http://[::1]:3000", "http://[::1]:3000"},
        {"http://127.0.0.1:5173,", "http://127.0.0.1:5173"},
        {" , ", ""},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        struct config c;
        const char *argv[] = {"--cors-origins", ok[i].in, NULL};
        CHECK_INT(load(&c, NO_ENV_FILE, NULL, 2, argv), 0);
        CHECK_STR(c.cors_origins, ok[i].out);
        config_release(&c);
    }
    static const char *const bad[] = {
        "https://a.com/",
        "https://a.com/path",
        "ftp://a.com",
        "a.com",
        "https://",
        "https://a.com:0",
        "https://a.com:65536",
        "https://user@a.com",
        "https://a.com?x",
        "https://a.com#f",
        "//a.com",
        "https://a .com",
        "http://[zz]:80",
        "https://a.com:",
        "https://a.com,b.com",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char kv[128];
        snprintf(kv, sizeof(kv), "HERALD_CORS_ORIGINS=%s", bad[i]);
        CHECK(has_prefix(env_err(kv), "HERALD_CORS_ORIGINS: invalid origin \"", bad[i]));
    }
    CHECK_STR(env_err("HERALD_CORS_ORIGINS=https://ok.com, https://a.com/x"),
              "HERALD_CORS_ORIGINS: invalid origin \"https://a.com/x\" (use scheme://host[:port] "
              "with http or https, no path)");
    CHECK_STR(flag_err("--cors-origins=*,https://a.com"),
              "--cors-origins: \"*\" cannot be combined with other origins");
}

TEST(precedence_env_file_env_flags)
{
    const char *path = tmp_path("prec.env");
    write_file(path, "HERALD_MAX_HEADERS=10\n"
                     "HERALD_WORKERS=3\n"
                     "HERALD_DEMO=yes\n"
                     "HERALD_LOG_LEVEL=debug\n"
                     "HERALD_LISTEN=not-an-address\n" /* skipped: the environment sets it */
                     "HERALD_MAX_BODY=4k\n");
    const char *envp[] = {"PATH=/bin", "HERALD_WORKERS=5", "HERALD_LOG_LEVEL=warn",
                          "HERALD_LISTEN=:9000", NULL};
    const char *argv[] = {"--log-level=error", "--max-body", "8k", NULL};
    struct config c;
    CHECK_INT(load(&c, path, envp, 3, argv), 0);
    CHECK_STR(g_err, "");
    CHECK_INT(c.max_headers, 10);        /* .env */
    CHECK(c.demo);                       /* .env */
    CHECK_INT(c.workers, 5);             /* env over .env */
    CHECK_INT(c.listen_port, 9000);      /* env; the bad .env line is not even parsed */
    CHECK_INT(c.log_level, LOG_ERROR);   /* flag over env over .env */
    CHECK_INT(c.max_body, 8192);         /* flag over .env */
    CHECK_INT(c.max_connections, 60000); /* default */
    config_release(&c);

    /* without the environment, the bad .env line is reported with its number and file */
    CHECK_INT(load(&c, path, NULL, 0, NULL), -1);
    char want[256];
    snprintf(want, sizeof(want),
             "%s line 5: HERALD_LISTEN: invalid address \"not-an-address\" (the port must be a "
             "number from 0 to 65535)",
             path);
    CHECK_STR(g_err, want);
    CHECK(c.listen_host == NULL && c.static_dir == NULL); /* nothing left to free */
    config_release(&c);

    /* NULL env_path reads ./.env */
    char cwd[4096];
    CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
    write_file(tmp_path(".env"), "HERALD_MAX_HEADERS=42\nHERALD_LOG_LEVEL=loud\n");
    CHECK_INT(chdir(g_tmpdir), 0);
    CHECK_INT(load(&c, NULL, NULL, 0, NULL), -1);
    CHECK_STR(g_err,
              ".env line 2: HERALD_LOG_LEVEL: unknown level \"loud\" (debug|info|warn|error|off)");
    const char *envp2[] = {"HERALD_LOG_LEVEL=off", NULL};
    CHECK_INT(load(&c, NULL, envp2, 0, NULL), 0);
    CHECK_INT(c.max_headers, 42);
    CHECK_INT(c.log_level, LOG_OFF);
    config_release(&c);
    CHECK_INT(chdir(cwd), 0);
    unlink(tmp_path(".env"));
    unlink(path);
}

TEST(env_file_errors)
{
    struct config c;
    /* a missing file is fine; a directory or an oversized file is not */
    CHECK_INT(load(&c, tmp_path("missing.env"), NULL, 0, NULL), 0);
    config_release(&c);
    CHECK_INT(load(&c, g_tmpdir, NULL, 0, NULL), -1);
    CHECK(strncmp(g_err, g_tmpdir, strlen(g_tmpdir)) == 0 && strstr(g_err, "cannot read"));
    config_release(&c);

    const char *big = tmp_path("big.env");
    FILE *f = fopen(big, "w");
    CHECK(f != NULL);
    if (f) {
        for (int i = 0; i < 20000; i++)
            fputs("# a comment line that pads the file out to over a mebibyte........\n", f);
        fclose(f);
    }
    CHECK_INT(load(&c, big, NULL, 0, NULL), -1);
    CHECK(strstr(g_err, "larger than 1 MiB") != NULL);
    config_release(&c);
    unlink(big);
}

TEST(env_file_syntax)
{
    struct config c;
    CHECK_INT(env_text(&c, "\xEF\xBB\xBF# comment\n"
                           "\n"
                           "   \t\n"
                           "  # indented comment\n"
                           "export HERALD_STATIC_DIR='/srv/my ui'   # single quotes: literal\n"
                           "HERALD_DATA_DIR=\"/data/a \\\"b\\\" \\\\ c\\nd\\q\" # escapes\n"
                           "HERALD_CORS_ORIGINS = https://a.com   \r\n"
                           "export\tHERALD_LOG_FORMAT=json # inline comment\n"
                           "HERALD_MAX_BODY=2k # a comment\n"
                           "OTHER_KEY=$(whatever) ignored\n"
                           "PATH='/bin'\n"
                           "lower_key=1\n"
                           "HERALD_DEMO=\n"),
              -1);
    /* the last line is an empty bool: reported with its number */
    CHECK_STR(g_err,
              ".env line 13: HERALD_DEMO: invalid boolean \"\" (1/0, true/false, yes/no, on/off)");
    CHECK_STR(c.static_dir, "/srv/my ui");
    CHECK_STR(c.data_dir, "/data/a \"b\" \\ c\nd\\q");
    CHECK_STR(c.cors_origins, "https://a.com");
    CHECK(c.log_json);
    CHECK_INT(c.max_body, 2048);
    config_release(&c);

    CHECK_INT(env_text(&c, "HERALD_MAX_BODY=2k#x\n"), -1);
    CHECK_STR(g_err,
              ".env line 1: HERALD_MAX_BODY: invalid size \"2k#x\" (use bytes or k/m/g suffixes)");
    config_release(&c);

    CHECK_INT(env_text(&c, "HERALD_STATIC_DIR=a#b\nHERALD_DATA_DIR=x # y\n"
                           "HERALD_LISTEN=\"[::1]:1\"#c\nHERALD_DEMO=on"),
              0); /* no newline at the end */
    CHECK_STR(c.static_dir, "a#b");
    CHECK_STR(c.data_dir, "x");
    CHECK_STR(c.listen_host, "::1");
    CHECK(c.demo);
    config_release(&c);

    CHECK_INT(env_text(&c, "HERALD_STATIC_DIR='it''s'\n"), -1);
    CHECK_STR(g_err, ".env line 1: unexpected text after the closing quote");
    config_release(&c);

    static const struct {
        const char *text, *err;
    } bad[] = {
        {"HERALD_DEMO=1\nJUSTAKEY\n", ".env line 2: expected KEY=VALUE"},
        {"\n\n=1\n", ".env line 3: expected KEY=VALUE"},
        {"9X=1\n", ".env line 1: expected KEY=VALUE"},
        {"HERALD-DEMO=1\n", ".env line 1: expected KEY=VALUE"},
        {"export\n", ".env line 1: expected KEY=VALUE"},
        {"export HERALD_DEMO\n", ".env line 1: expected KEY=VALUE"},
        {"A=1\nB=\"open\n", ".env line 2: unterminated double quote"},
        {"B=\"ends with backslash\\\"\n", ".env line 1: unterminated double quote"},
        {"C='open\n", ".env line 1: unterminated single quote"},
        {"D=\"x\" y\n", ".env line 1: unexpected text after the closing quote"},
        {"# ok\r\nHERALD_LOG_LEVEL=loud\r\n",
         ".env line 2: HERALD_LOG_LEVEL: unknown level \"loud\" (debug|info|warn|error|off)"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_INT(env_text(&c, bad[i].text), -1);
        CHECK_STR(g_err, bad[i].err);
        config_release(&c);
    }

    /* a NUL byte in the text is an error on its line */
    config_defaults(&c);
    static const char nul[] = "HERALD_DEMO=1\nHERALD_DATA_DIR=a\0b\n";
    CHECK_INT(config_load_env_text(&c, nul, sizeof(nul) - 1, g_err, sizeof(g_err)), -1);
    CHECK_STR(g_err, ".env line 2: contains a NUL byte");
    CHECK(c.demo); /* line 1 applied */
    config_release(&c);
}

TEST(flags)
{
    struct config c;
    CHECK_INT(load(&c, NO_ENV_FILE, NULL, 1, LIST("--demo")), 0);
    CHECK(c.demo);
    config_release(&c);
    CHECK_INT(load(&c, NO_ENV_FILE, NULL, 2, LIST("--demo", "--trust-proxy")), 0);
    CHECK(c.demo && c.trust_proxy);
    config_release(&c);
    CHECK_INT(load(&c, NO_ENV_FILE, NULL, 3, LIST("--demo", "false", "--trust-proxy")), 0);
    CHECK(!c.demo && c.trust_proxy);
    config_release(&c);
    const char *envp[] = {"HERALD_DEMO=1", NULL};
    CHECK_INT(load(&c, NO_ENV_FILE, envp, 1, LIST("--demo=no")), 0);
    CHECK(!c.demo);
    config_release(&c);
    CHECK_INT(load(&c, NO_ENV_FILE, NULL, 2, LIST("--listen", "127.0.0.1:0")), 0);
    CHECK_STR(c.listen_host, "127.0.0.1");
    CHECK_INT(c.listen_port, 0);
    config_release(&c);
    /* the last of repeated flags wins */
    CHECK_INT(load(&c, NO_ENV_FILE, NULL, 2, LIST("--workers=2", "--workers=4")), 0);
    CHECK_INT(c.workers, 4);
    config_release(&c);

    CHECK_STR(flag_err("--foo"), "unknown flag --foo");
    CHECK_STR(flag_err("--foo=bar"), "unknown flag --foo");
    CHECK_STR(flag_err("--LISTEN=:1"), "unknown flag --LISTEN");
    CHECK_STR(flag_err("--max_body=1m"), "unknown flag --max_body");
    CHECK_STR(flag_err("-x"), "unknown flag -x");
    CHECK_STR(flag_err("--"), "unknown flag --");
    CHECK_STR(flag_err("serve"), "unexpected argument \"serve\" (flags look like --name=value)");
    CHECK_STR(flag_err("--listen"), "--listen: missing value");
    CHECK_INT(load(&c, NO_ENV_FILE, NULL, 2, LIST("--listen", "--demo")), -1);
    CHECK_STR(g_err, "--listen: missing value");
    config_release(&c);
    /* a word after a boolean flag that is not a boolean is not its value */
    CHECK_INT(load(&c, NO_ENV_FILE, NULL, 2, LIST("--demo", "maybe")), -1);
    CHECK_STR(g_err, "unexpected argument \"maybe\" (flags look like --name=value)");
    config_release(&c);
}

TEST(unknown_settings_warn)
{
    FILE *w = tmpfile();
    CHECK(w != NULL);
    if (w == NULL)
        return;
    config_set_warn_stream(w);
    const char *path = tmp_path("warn.env");
    write_file(path, "HERALD_DEMO=1\nHERALD_FROM_FILE=x\nNOT_OURS=1\n");
    const char *envp[] = {"HERALD_FOO=1", "HOME=/root", "HERALD_DEMO=0", "HERALD_NOEQUALS", NULL};
    struct config c;
    CHECK_INT(load(&c, path, envp, 0, NULL), 0);
    CHECK(!c.demo);
    config_release(&c);
    char want[256];
    snprintf(want, sizeof(want),
             "warning: unknown setting HERALD_FROM_FILE ignored (%s line 2)\n"
             "warning: unknown setting HERALD_FOO ignored\n",
             path);
    CHECK_STR(slurp(w), want);
    config_set_warn_stream(NULL);
    fclose(w);
    unlink(path);
}

TEST(error_paths_do_not_leak)
{
    /* strings set by earlier layers are freed when a later one fails; ASan checks */
    const char *path = tmp_path("leak.env");
    write_file(path, "HERALD_STATIC_DIR=/from/file\nHERALD_CORS_ORIGINS=https://a.b\n");
    const char *envp[] = {"HERALD_DATA_DIR=/from/env", "HERALD_LISTEN=[::1]:1", NULL};
    struct config c;
    CHECK_INT(load(&c, path, envp, 3, LIST("--cors-origins=http://x.y", "--data-dir=/f", "--bad")),
              -1);
    CHECK_STR(g_err, "unknown flag --bad");
    CHECK(c.listen_host == NULL && c.cors_origins == NULL && c.static_dir == NULL &&
          c.data_dir == NULL);
    config_release(&c);
    /* the struct is reusable */
    CHECK_INT(load(&c, path, envp, 0, NULL), 0);
    CHECK_STR(c.static_dir, "/from/file");
    CHECK_STR(c.data_dir, "/from/env");
    CHECK_STR(c.listen_host, "::1");
    config_release(&c);
    /* a failing value does not replace the previous one */
    config_defaults(&c);
    CHECK_INT(config_load_env_text(&c, "HERALD_CORS_ORIGINS=https://a.b/c", 33, NULL, 0), -1);
    CHECK_STR(c.cors_origins, "");
    config_release(&c);
    unlink(path);
}

TEST(error_text_is_one_bounded_line)
{
    char big[600];
    memset(big, 'x', sizeof(big));
    memcpy(big, "HERALD_LOG_LEVEL=a\nb\x01", 21);
    big[sizeof(big) - 1] = '\0';
    const char *e = env_err(big);
    CHECK(strchr(e, '\n') == NULL);
    CHECK(strstr(e, "\"a\\x0ab\\x01xxx") != NULL);
    CHECK(strstr(e, "...\" (debug|info|warn|error|off)") != NULL);
    CHECK(strlen(e) < 200);

    /* errbuf is truncated, always terminated, and may be absent */
    struct config c;
    char small[8];
    const char *argv[] = {"--workers=0", NULL};
    CHECK_INT(config_load(&c, NO_ENV_FILE, NULL, 1, (char **)argv, small, sizeof(small)), -1);
    CHECK_STR(small, "--worke");
    config_release(&c);
    CHECK_INT(config_load(&c, NO_ENV_FILE, NULL, 1, (char **)argv, NULL, 0), -1);
    config_release(&c);
}

TEST(mask_secret)
{
    CHECK_STR(config_mask_secret(NULL), "(unset)");
    CHECK_STR(config_mask_secret(""), "(unset)");
    CHECK_STR(config_mask_secret("hunter2"), "****");
    CHECK_STR(config_mask_secret("a"), "****");
}

TEST(print_reads_back)
{
    struct config c;
    const char **argv =
        LIST("--listen=[::1]:8443", "--static-dir= a \"b\" #c\\d\ne\tf\rg ", "--data-dir=/d#x",
             "--cors-origins=https://a.com,http://b.com:81", "--max-body=1536",
             "--header-timeout=1500ms", "--log-format=json", "--log-level=off", "--demo");
    int argc = 0;
    while (argv[argc])
        argc++;
    CHECK_INT(load(&c, NO_ENV_FILE, NULL, argc, argv), 0);
    CHECK_STR(g_err, "");

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    config_print(&c, f);
    fclose(f);
    CHECK(strstr(text, "HERALD_LISTEN=[::1]:8443\n") != NULL);
    CHECK(strstr(text, "HERALD_MAX_BODY=1536\n") != NULL);
    CHECK(strstr(text, "HERALD_MAX_URL=8KiB\n") != NULL);
    CHECK(strstr(text, "HERALD_HEADER_TIMEOUT=1500ms\n") != NULL);
    CHECK(strstr(text, "HERALD_IDLE_TIMEOUT=1m\n") != NULL);
    CHECK(strstr(text, "HERALD_CORS_ORIGINS=https://a.com,http://b.com:81\n") != NULL);
    CHECK(strstr(text, "HERALD_STATIC_DIR=\" a \\\"b\\\" #c\\\\d\\ne\\tf\\rg \"\n") != NULL);
    CHECK(strstr(text, "HERALD_LOG_LEVEL=off\nHERALD_LOG_FORMAT=json\n") != NULL);
    CHECK(strstr(text, "HERALD_DEMO=true\n") != NULL);
    int lines = 0;
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    CHECK(strstr(text, "HERALD_MAX_MESSAGE_CHARS=4000\n") != NULL);
    CHECK(strstr(text, "HERALD_HISTORY_DAYS=0\n") != NULL);
    CHECK(strstr(text, "HERALD_PRESENCE_GRACE=5s\n") != NULL);
    CHECK(strstr(text, "HERALD_IDEMPOTENCY_WINDOW=1d\n") != NULL); /* the default, 24h */
    CHECK(strstr(text, "HERALD_SUPPORT_CAPACITY=0\n") != NULL);
    CHECK_INT(lines, 43); /* one line per setting */

    /* the output is a .env file that gives back the same configuration */
    struct config d;
    CHECK_INT(env_text(&d, text), 0);
    CHECK_STR(g_err, "");
    CHECK_STR(d.listen_host, c.listen_host);
    CHECK_INT(d.listen_port, c.listen_port);
    CHECK_STR(d.static_dir, c.static_dir);
    CHECK_STR(d.data_dir, c.data_dir);
    CHECK_STR(d.cors_origins, c.cors_origins);
    CHECK_INT(d.max_body, c.max_body);
    CHECK_INT(d.header_timeout_ms, c.header_timeout_ms);
    CHECK_INT(d.log_level, c.log_level);
    CHECK(d.log_json && d.demo);
    char *text2 = NULL;
    size_t len2 = 0;
    f = open_memstream(&text2, &len2);
    config_print(&d, f);
    fclose(f);
    CHECK_STR(text2, text);
    free(text);
    free(text2);
    config_release(&c);
    config_release(&d);
}

TEST(help_lists_every_flag)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    config_print_help(f, NULL);
    fclose(f);
    static const char *const want[] = {
        "--listen=ADDR",
        "[HERALD_LISTEN; default 0.0.0.0:8080]",
        "--workers=N",
        "[HERALD_WORKERS; 1..64; default online CPUs",
        "--max-body=SIZE",
        "[HERALD_MAX_BODY; 1KiB..1GiB; default 1MiB]",
        "--header-timeout=DURATION",
        "[HERALD_HEADER_TIMEOUT; 100ms..10m; default 10s]",
        "--demo[=BOOL]",
        "--trust-proxy[=BOOL]",
        "--cors-origins=ORIGINS",
        "--log-level=LEVEL",
        "[HERALD_LOG_LEVEL; debug|info|warn|error|off; default info]",
        "--log-format=FORMAT",
        "--max-connections=N",
        "--max-url=SIZE",
        "--max-header-bytes=SIZE",
        "--max-headers=N",
        "--idle-timeout=DURATION",
        "--static-dir=DIR",
        "--ws-max-message=SIZE",
        "--ws-max-queue=SIZE",
        "--ws-heartbeat=DURATION",
        "--data-dir=DIR",
        "--shutdown-timeout=DURATION",
        "--idempotency-window=DURATION",
        "[HERALD_IDEMPOTENCY_WINDOW; 1s..30d; default 24h]",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        if (strstr(text, want[i]) == NULL)
            fprintf(stderr, "help lacks %s\n", want[i]);
        CHECK(strstr(text, want[i]) != NULL);
    }
    /* every line fits the 100 columns of a terminal */
    size_t col = 0, widest = 0, lines = 0;
    for (const char *p = text; *p; p++) {
        if (*p == '\n') {
            lines++;
            col = 0;
        } else if (++col > widest) {
            widest = col;
        }
    }
    CHECK(widest <= 100);
    CHECK_INT(lines, 86); /* two lines per setting */
    free(text);
}

int main(void)
{
    snprintf(g_tmpdir, sizeof(g_tmpdir), "/tmp/herald-test-config-XXXXXX");
    if (mkdtemp(g_tmpdir) == NULL) {
        perror("mkdtemp");
        return 2;
    }
    RUN(defaults);
    RUN(parse_size);
    RUN(parse_duration);
    RUN(parse_bool);
    RUN(listen_forms);
    RUN(listen_host_name_resolved);
    RUN(range_errors_name_the_setting);
    RUN(values_are_stored);
    RUN(cors_origins);
    RUN(precedence_env_file_env_flags);
    RUN(env_file_errors);
    RUN(env_file_syntax);
    RUN(flags);
    RUN(unknown_settings_warn);
    RUN(error_paths_do_not_leak);
    RUN(error_text_is_one_bounded_line);
    RUN(mask_secret);
    RUN(print_reads_back);
    RUN(help_lists_every_flag);
    rmdir(g_tmpdir);
    return test_summary();
}
