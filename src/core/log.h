/*
 * Logging: one line per event to stderr, text or JSON lines.
 * Text:  2026-11-22T10:00:00.123Z warn store cannot insert msg: locked req=7f3a
 * JSON:  {"ts":"…","level":"warn","mod":"store","msg":"cannot insert msg: locked","req":"7f3a"}
 * The caller passes key=value pairs as one pre-formatted string of
 * space-separated pairs; never pass passwords, tokens, secrets or message bodies.
 *
 * Thread safety: every function may be called from any thread. A thread that
 * calls log_set_buffered(true) (the event loops) collects its lines in a
 * thread-local buffer that log_flush() writes with one write(2); other threads
 * write each line at once.
 */
#ifndef HERALD_CORE_LOG_H
#define HERALD_CORE_LOG_H

#include <stdbool.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3, LOG_OFF = 4 };

/* Parses "debug|info|warn|error|off"; returns -1 when unknown. */
int log_level_parse(const char *s);
void log_setup(enum log_level level, bool json);
bool log_enabled(enum log_level level);

/*
 * Writes one line. mod is the module name ("http", "store"); kv is a string of
 * space-separated key=value pairs or NULL; fmt is the human message.
 */
void log_msg(enum log_level level, const char *mod, const char *kv, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define log_debug(mod, ...) log_msg(LOG_DEBUG, mod, NULL, __VA_ARGS__)
#define log_info(mod, ...) log_msg(LOG_INFO, mod, NULL, __VA_ARGS__)
#define log_warn(mod, ...) log_msg(LOG_WARN, mod, NULL, __VA_ARGS__)
#define log_error(mod, ...) log_msg(LOG_ERROR, mod, NULL, __VA_ARGS__)

/* Logs at error level and returns err, for `return log_fail(ERR_IO, "net", "...")`. */
int log_fail(int err, const char *mod, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * A failure that stops a command, for the person who started it: "herald: msg"
 * on stderr in the text format, one {"level":"error","mod":"main",...} line in
 * the JSON format (as set by log_setup; text before it). Written whatever the
 * level, since the process is about to exit.
 */
void log_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * One access-log line (info level): method, path (query removed), status,
 * response bytes, duration in microseconds, peer address, request id.
 */
void log_access(const char *method, const char *path, int status, unsigned long long bytes,
                unsigned long long usec, const char *peer, const char *req_id);

void log_set_buffered(bool on);
void log_flush(void);

#endif
