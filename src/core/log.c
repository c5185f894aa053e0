/*
 * Logging to stderr; see log.h. Lines are built in a per-thread buffer and
 * written with one write(2), so lines from different threads never interleave.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"

static enum log_level g_level = LOG_INFO;
static bool g_json;

static _Thread_local struct buf t_out; /* buffered threads only; released when unbuffered */
static _Thread_local bool t_buffered;

static const char *level_names[] = {"debug", "info", "warn", "error", "off"};

int log_level_parse(const char *s)
{
    for (int i = 0; i <= LOG_OFF; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    if (strcmp(s, "warning") == 0)
        return LOG_WARN;
    return -1;
}

void log_setup(enum log_level level, bool json)
{
    g_level = level;
    g_json = json;
}

bool log_enabled(enum log_level level)
{
    return level >= g_level && level < LOG_OFF;
}

static void put_time(struct buf *b)
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    buf_printf(b, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
               tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000));
}

static void emit(struct buf *line)
{
    buf_putc(line, '\n');
    if (t_buffered) {
        buf_append(&t_out, line->data, line->len);
        if (t_out.len >= 16384)
            log_flush();
    } else {
        ssize_t r = write(STDERR_FILENO, line->data, line->len);
        (void)r;
    }
}

/* Appends "k=v k2=v2" as JSON members (each ,"k":"v"). */
static void kv_json(struct buf *b, const char *kv)
{
    const char *p = kv;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        const char *eq = strchr(p, '=');
        const char *sp = strchr(p, ' ');
        if (sp == NULL)
            sp = p + strlen(p);
        if (eq == NULL || eq > sp) {
            p = sp;
            continue;
        }
        buf_puts(b, ",\"");
        buf_json_escape(b, p, (size_t)(eq - p));
        buf_puts(b, "\":\"");
        buf_json_escape(b, eq + 1, (size_t)(sp - eq - 1));
        buf_putc(b, '"');
        p = sp;
    }
}

static void vlog(enum log_level level, const char *mod, const char *kv, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

static void vlog(enum log_level level, const char *mod, const char *kv, const char *fmt, va_list ap)
{
    struct buf line = BUF_INIT;
    struct buf *b = &line;
    if (g_json) {
        struct buf msg = BUF_INIT;
        buf_vprintf(&msg, fmt, ap);
        buf_puts(b, "{\"ts\":\"");
        put_time(b);
        buf_printf(b, "\",\"level\":\"%s\",\"mod\":", level_names[level]);
        buf_json_str(b, mod);
        buf_puts(b, ",\"msg\":");
        buf_json_str(b, msg.data ? msg.data : "");
        if (kv)
            kv_json(b, kv);
        buf_putc(b, '}');
        buf_release(&msg);
    } else {
        put_time(b);
        buf_printf(b, " %s %s ", level_names[level], mod);
        buf_vprintf(b, fmt, ap);
        if (kv && *kv) {
            buf_putc(b, ' ');
            buf_puts(b, kv);
        }
    }
    emit(b);
    buf_release(b);
}

void log_msg(enum log_level level, const char *mod, const char *kv, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(level, mod, kv, fmt, ap);
    va_end(ap);
}

void log_fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (g_json) {
        vlog(LOG_ERROR, "main", NULL, fmt, ap);
    } else {
        struct buf line = BUF_INIT;
        buf_puts(&line, "herald: ");
        buf_vprintf(&line, fmt, ap);
        emit(&line);
        buf_release(&line);
    }
    va_end(ap);
    if (t_buffered)
        log_flush();
}

int log_fail(int err, const char *mod, const char *fmt, ...)
{
    if (log_enabled(LOG_ERROR)) {
        va_list ap;
        va_start(ap, fmt);
        vlog(LOG_ERROR, mod, NULL, fmt, ap);
        va_end(ap);
    }
    return err;
}

void log_access(const char *method, const char *path, int status, unsigned long long bytes,
                unsigned long long usec, const char *peer, const char *req_id)
{
    if (!log_enabled(LOG_INFO))
        return;
    struct buf line = BUF_INIT;
    struct buf *b = &line;
    if (g_json) {
        buf_puts(b, "{\"ts\":\"");
        put_time(b);
        buf_puts(b, "\",\"level\":\"info\",\"mod\":\"access\",\"method\":");
        buf_json_str(b, method);
        buf_puts(b, ",\"path\":");
        buf_json_str(b, path);
        buf_printf(b, ",\"status\":%d,\"bytes\":%llu,\"us\":%llu,\"peer\":", status, bytes, usec);
        buf_json_str(b, peer);
        buf_puts(b, ",\"req\":");
        buf_json_str(b, req_id);
        buf_putc(b, '}');
    } else {
        put_time(b);
        buf_printf(b, " info access %s ", method);
        /* paths are logged raw but never contain spaces or control bytes (the parser refuses them)
         */
        buf_puts(b, path);
        buf_printf(b, " status=%d bytes=%llu us=%llu peer=%s req=%s", status, bytes, usec, peer,
                   req_id);
    }
    emit(b);
    buf_release(b);
}

void log_set_buffered(bool on)
{
    if (!on) {
        log_flush();
        buf_release(&t_out);
    }
    t_buffered = on;
}

void log_flush(void)
{
    size_t off = 0;
    while (off < t_out.len) {
        ssize_t r = write(STDERR_FILENO, t_out.data + off, t_out.len - off);
        if (r <= 0)
            break;
        off += (size_t)r;
    }
    buf_clear(&t_out);
    if (t_out.cap > 65536)
        buf_release(&t_out);
}
