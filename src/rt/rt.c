/*
 * SPEC §4 frame dispatch; see rt.h. Frames are parsed with cJSON (a ping is
 * a few dozen bytes, parsed in about a microsecond) and answers are written
 * with the escaping writer in core/buf.
 */
#include "rt/rt.h"

#include <cjson/cJSON.h>
#include <string.h>

#include "core/buf.h"

static void send_error(struct ws_conn *c, const char *code, const char *message, const char *field)
{
    struct buf b = BUF_INIT;
    buf_puts(&b, "{\"type\":\"error\",\"code\":");
    buf_json_str(&b, code);
    buf_puts(&b, ",\"message\":");
    buf_json_str(&b, message);
    if (field) {
        buf_puts(&b, ",\"field\":");
        buf_json_str(&b, field);
    }
    buf_putc(&b, '}');
    ws_conn_send_text(c, b.data, b.len);
    buf_release(&b);
}

static void on_open(struct ws_conn *c, void *ud)
{
    (void)ud;
    struct buf b = BUF_INIT;
    buf_puts(&b, "{\"type\":\"hello\",\"session_id\":");
    buf_json_str(&b, ws_conn_session_id(c));
    buf_printf(&b, ",\"heartbeat_ms\":%d}", ws_conn_heartbeat_ms(c));
    ws_conn_send_text(c, b.data, b.len);
    buf_release(&b);
}

static void on_ping(struct ws_conn *c, const cJSON *msg)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
    struct buf b = BUF_INIT;
    buf_puts(&b, "{\"type\":\"pong\"");
    if (id && (cJSON_IsString(id) || cJSON_IsNumber(id))) {
        char *s = cJSON_PrintUnformatted(id);
        if (s) {
            buf_puts(&b, ",\"id\":");
            buf_puts(&b, s);
            cJSON_free(s);
        }
    } else if (id && !cJSON_IsNull(id)) {
        buf_release(&b);
        send_error(c, "validation_failed", "id must be a string or a number", "id");
        return;
    }
    buf_putc(&b, '}');
    ws_conn_send_text(c, b.data, b.len);
    buf_release(&b);
}

static void on_text(struct ws_conn *c, const char *data, size_t len, void *ud)
{
    (void)ud;
    cJSON *msg = cJSON_ParseWithLength(data, len);
    if (msg == NULL) {
        send_error(c, "invalid_json", "frame is not valid JSON", NULL);
        return;
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(msg, "type");
    if (!cJSON_IsObject(msg)) {
        send_error(c, "validation_failed", "frame must be a JSON object", NULL);
    } else if (!cJSON_IsString(type)) {
        send_error(c, "validation_failed", "type is required and must be a string", "type");
    } else if (strcmp(type->valuestring, "ping") == 0) {
        on_ping(c, msg);
    } else {
        send_error(c, "unknown_type", "unknown frame type", "type");
    }
    cJSON_Delete(msg);
}

static void on_close(struct ws_conn *c, void *ud)
{
    (void)c;
    (void)ud;
}

void rt_ws_app(struct ws_app *app)
{
    app->on_open = on_open;
    app->on_text = on_text;
    app->on_close = on_close;
    app->ud = NULL;
}
