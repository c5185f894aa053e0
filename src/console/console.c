/*
 * The console routes (see console.h).
 */
#include "console.h"
#include "internal.h"

void console_register(struct router *r, struct identity *id)
{
    console__auth_register(r, id);
    console__operators_register(r, id);
    console__apps_register(r, id);
    console__users_register(r, id);
    console__quick_replies_register(r, id);
}
