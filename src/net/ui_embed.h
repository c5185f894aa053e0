/*
 * The web UI built into the binary: build/ui/ui_embed.c, generated from web/dist by
 * scripts/embed_ui.py at build time (the Makefile; docs/ui.md). ui_embed_count is 0 when the
 * UI was not built (no Node.js on the build machine).
 */
#ifndef HERALD_NET_UI_EMBED_H
#define HERALD_NET_UI_EMBED_H

#include "net/static_files.h"

extern const struct static_embedded ui_embed_files[]; /* ui_embed_count rows, then {0} */
extern const size_t ui_embed_count;

#endif
