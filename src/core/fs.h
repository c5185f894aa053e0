/*
 * File-system helpers shared by the CLI (the data folder) and uploads (the media folders).
 */
#ifndef HERALD_CORE_FS_H
#define HERALD_CORE_FS_H

#include <sys/types.h>

/* mkdir -p of an absolute or relative path, mode for the folders it creates;
   0, or -1 with errno (ENAMETOOLONG past 4,095 bytes). */
int fs_make_dirs(const char *path, mode_t mode);

#endif
